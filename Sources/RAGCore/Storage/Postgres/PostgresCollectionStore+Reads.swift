import Foundation
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import PostgresNIO

/// Reading the collection: the whole snapshot when an engine opens it, and single documents for the change log, each
/// in one `REPEATABLE READ` transaction (one consistent view, never waiting for writers). Everything read is checked
/// before it is used, as `SQLiteCollectionStore` checks it.
extension PostgresCollectionStore {
    /// One document's row of `documents`.
    struct DocumentRow {
        var seq: Int64
        var record: DocumentRecord
        var chunkCount: Int
    }

    static let documentColumns: PostgresQuery = "SELECT seq, id, content_hash, chunk_count, record FROM documents"

    func documentRow(_ row: PostgresRow) throws -> DocumentRow {
        let (seq, id, contentHash, chunkCount, json) = try row.decode((Int64, String, String, Int, String).self)
        let record = try decodeRecord(json)
        guard chunkCount >= 0, chunkCount <= Int(UInt32.max) else { throw damaged("a document's chunk count is out of range") }
        guard record.id.rawValue == id, record.contentHash == contentHash, record.chunkCount == chunkCount else {
            throw damaged("a document's record differs from its row")
        }
        return DocumentRow(seq: seq, record: record, chunkCount: chunkCount)
    }

    /// A chunk row (document_seq, ordinal, chunk_id, page_start, page_end, text, context) of `document`, which must
    /// be its chunk `ordinal`.
    func chunk(_ row: PostgresRow, of document: DocumentRow, ordinal: Int) throws -> Chunk {
        let (seq, stored, id, pageStart, pageEnd, text, context) = try row.decode(
            (Int64, Int, String, Int, Int, String, String).self)
        guard seq == document.seq, stored == ordinal else { throw damaged("the chunk rows do not match their documents") }
        guard pageStart >= 0, pageEnd >= pageStart else { throw damaged("a chunk's pages are out of range") }
        return Chunk(
            id: ChunkID(rawValue: id), documentID: document.record.id, fileName: document.record.fileName, pageStart: pageStart,
            pageEnd: pageEnd, ordinal: ordinal, text: text, context: context)
    }

    static let chunkColumns = "SELECT document_seq, ordinal, chunk_id, page_start, page_end, text, context FROM chunks"

    // MARK: CollectionStore reads

    package func header() async throws(CollectionError) -> CollectionHeader? {
        try await withConnection(failure: "cannot read the collection") { [self] connection async throws -> CollectionHeader? in
            try await readHeader(connection)
        }
    }

    package func currentVersion() async throws(CollectionError) -> UInt64 {
        try await withConnection(failure: "cannot read the collection") { [self] connection async throws -> UInt64 in
            UInt64(try await version(connection))
        }
    }

    package func source(of id: DocumentID) async throws(CollectionError) -> Data? {
        try await withConnection(failure: "cannot read the collection") { [self] connection async throws -> Data? in
            var source: Data? = nil
            let rows = try await connection.query(
                "SELECT s.byte_count, s.bytes FROM documents d JOIN document_sources s ON s.document_seq = d.seq WHERE d.id = \(id.rawValue)",
                logger: logger)
            for try await (expected, bytes) in rows.decode((Int64, ByteBuffer).self) {
                guard Int64(bytes.readableBytes) == expected else { throw damaged("a document's source has the wrong length") }
                source = Data(buffer: bytes)
            }
            return source
        }
    }

    func readHeader(_ connection: PostgresConnection, forUpdate: Bool = false) async throws -> CollectionHeader? {
        var header: CollectionHeader? = nil
        var seen = false
        for try await (embedderID, dimension, storage) in try await connection.query(
            "SELECT embedder_id, dimension, vector_storage FROM collection WHERE id = 1\(unescaped: forUpdate ? " FOR UPDATE" : "")", logger: logger
        ).decode((String?, Int?, String).self) {
            seen = true
            if let embedderID, let dimension {
                guard !embedderID.isEmpty, (1...65_536).contains(dimension) else { throw damaged("the collection's dimension is not valid") }
                guard let storage = VectorFormat(rawValue: storage) else {
                    throw damaged("the collection's vector storage is not a format this build knows")
                }
                header = CollectionHeader(embedderID: embedderID, dimension: dimension, vectorStorage: storage)
            }
        }
        guard seen else { throw damaged("the collection row is missing") }
        return header
    }

    package func loadSnapshot() async throws(CollectionError) -> CollectionSnapshot? {
        try await transaction(readOnly: true, failure: "cannot read the collection") { [self] connection async throws -> CollectionSnapshot? in
            let logger = self.logger
            guard let header = try await readHeader(connection) else {
                for try await (count) in try await connection.query("SELECT count(*) FROM documents", logger: logger).decode(Int.self) where count != 0 {
                    throw damaged("documents without an embedder")
                }
                return nil
            }
            let version = try await version(connection)
            var documents: [DocumentRow] = []
            var ids = Set<DocumentID>()
            var total = 0
            for try await row in try await connection.query("\(unescaped: Self.documentColumns.sql) ORDER BY seq", logger: logger) {
                let document = try documentRow(row)
                guard ids.insert(document.record.id).inserted else { throw damaged("two documents share an id") }
                total += document.chunkCount
                documents.append(document)
            }
            for try await (count) in try await connection.query("SELECT count(*) FROM chunks", logger: logger).decode(Int.self) where count != total {
                throw damaged("the documents' chunk counts differ from the chunk rows")
            }
            var chunks: [Chunk] = []
            chunks.reserveCapacity(total)
            var position = 0
            var ordinal = 0
            for try await row in try await connection.query("\(unescaped: Self.chunkColumns) ORDER BY document_seq, ordinal", logger: logger) {
                while position < documents.count && ordinal == documents[position].chunkCount {
                    position += 1
                    ordinal = 0
                }
                guard position < documents.count else { throw damaged("the chunk rows do not match their documents") }
                chunks.append(try chunk(row, of: documents[position], ordinal: ordinal))
                ordinal += 1
            }
            let vectors = try await loadVectors(documents, total: total, header, connection)
            let lexicalIndex = try await loadTerms(documents, connection)
            let collection = DocumentCollection(
                embedderID: header.embedderID, documents: documents.map(\.record), chunks: chunks, vectors: vectors,
                lexicalIndex: lexicalIndex, generation: UInt64(version))
            return CollectionSnapshot(collection: collection, version: UInt64(version))
        }
    }

    /// Reads every document's vectors (checking each blob's length) and copies them into the stored vectors' memory,
    /// in the collection's storage format.
    func loadVectors(_ documents: [DocumentRow], total: Int, _ header: CollectionHeader, _ connection: PostgresConnection) async throws -> StoredVectors {
        let dimension = header.dimension
        var blobs: [ByteBuffer] = []
        blobs.reserveCapacity(documents.count)
        var position = 0
        for try await (seq, data) in try await connection.query("SELECT document_seq, data FROM vectors ORDER BY document_seq", logger: logger)
            .decode((Int64, ByteBuffer).self)
        {
            while position < documents.count && documents[position].seq < seq && documents[position].chunkCount == 0 {
                position += 1
                blobs.append(ByteBuffer())
            }
            guard position < documents.count, documents[position].seq == seq else { throw damaged("the vectors do not match the documents") }
            let expected = documents[position].chunkCount * header.vectorStorage.storedBytesPerVector(dimension: dimension)
            guard data.readableBytes == expected else {
                throw damaged("a document's vectors have \(data.readableBytes) bytes, not \(expected)")
            }
            blobs.append(data)
            position += 1
        }
        while position < documents.count && documents[position].chunkCount == 0 {
            position += 1
            blobs.append(ByteBuffer())
        }
        guard position == documents.count else { throw damaged("a document has no vectors") }
        guard header.vectorStorage != .f32 else {
            return StoredVectors(VectorIndex(dimension: dimension, rows: total) { storage in
                let raw = UnsafeMutableRawBufferPointer(storage)
                var offset = 0
                for blob in blobs {
                    blob.withUnsafeReadableBytes { bytes in
                        UnsafeMutableRawBufferPointer(rebasing: raw[offset..<offset + bytes.count]).copyMemory(from: bytes)
                        offset += bytes.count
                    }
                }
            })
        }
        var compact = CompactVectorIndex(format: header.vectorStorage, dimension: dimension, reservingRows: total)
        for blob in blobs {
            guard blob.withUnsafeReadableBytes({ compact.add(stored: $0) }) else { throw damaged("a document's vectors hold values no writer makes") }
        }
        return StoredVectors(compact)
    }

    /// Merges the documents' BM25 statistics into one index, or returns `nil` when some were written by another
    /// `TextAnalyzer.version` (the caller then analyses the chunk texts again).
    func loadTerms(_ documents: [DocumentRow], _ connection: PostgresConnection) async throws -> LexicalIndex? {
        var terms: [String] = []
        for try await (id, term) in try await connection.query("SELECT id, term FROM terms ORDER BY id", logger: logger).decode((Int64, String).self) {
            guard id == Int64(terms.count) + 1 else { throw damaged("the term table has gaps") }
            terms.append(term)
        }
        var builder: LexicalIndex.Builder
        do {
            builder = try LexicalIndex.Builder(terms: terms)
        } catch {
            throw damaged("lexical index: \(error)")
        }
        var position = 0
        var stale = false
        for try await (seq, analyzer, data) in try await connection.query(
            "SELECT document_seq, analyzer_version, data FROM document_terms ORDER BY document_seq", logger: logger
        ).decode((Int64, Int, ByteBuffer).self) {
            guard position < documents.count, seq == documents[position].seq else {
                throw damaged("the term statistics do not match the documents")
            }
            let rows = documents[position].chunkCount
            position += 1
            guard analyzer == TextAnalyzer.version else {
                stale = true
                continue
            }
            try data.withUnsafeReadableBytes { (blob) throws in
                try decodeTerms(blob, rows: rows) { lengths, postings in
                    do {
                        try builder.appendDocument(lengths: lengths) { next throws(LexicalIndex.Builder.Malformed) in
                            try postings.forEach { (term, ordinal, frequency) throws(LexicalIndex.Builder.Malformed) in
                                try next(Int(term) - 1, ordinal, frequency)
                            }
                        }
                    } catch {
                        throw damaged("lexical index: \(error)")
                    }
                }
            }
        }
        guard position == documents.count else { throw damaged("a document has no term statistics") }
        return stale ? nil : builder.index
    }

    /// Checks a document's term blob against its `rows` and calls `body` with its row lengths and its postings.
    func decodeTerms(
        _ blob: UnsafeRawBufferPointer, rows: Int,
        _ body: (UnsafeBufferPointer<UInt32>, SQLiteCollectionStore.TermTriples) throws -> Void
    ) throws {
        guard blob.count >= 4, blob.count % 4 == 0 else { throw damaged("a document's term statistics are truncated") }
        let stored = UInt32(littleEndian: blob.loadUnaligned(as: UInt32.self))
        guard stored == rows, (rows + 1) * 4 <= blob.count, (blob.count - (rows + 1) * 4) % 12 == 0 else {
            throw damaged("a document's term statistics do not fit its chunks")
        }
        let lengths = (0..<rows).map { UInt32(littleEndian: blob.loadUnaligned(fromByteOffset: 4 + 4 * $0, as: UInt32.self)) }
        let postings = SQLiteCollectionStore.TermTriples(bytes: UnsafeRawBufferPointer(rebasing: blob[((rows + 1) * 4)...]))
        try lengths.withUnsafeBufferPointer { lengths in try body(lengths, postings) }
    }

    // MARK: Change log

    package func changes(after version: UInt64, limit: Int) async throws(CollectionError) -> [CollectionChange] {
        try await transaction(readOnly: true, failure: "cannot read the collection's changes") { [self] connection async throws -> [CollectionChange] in
            var entries: [(seq: Int64, kind: String, id: String)] = []
            for try await entry in try await connection.query(
                "SELECT seq, kind, document_id FROM changes WHERE seq > \(Int64(clamping: version)) ORDER BY seq LIMIT \(Int64(max(0, limit)))",
                logger: logger
            ).decode((Int64, String, String).self) {
                entries.append(entry)
            }
            guard !entries.isEmpty else { return [] }
            let header = try await readHeader(connection)
            var changes: [CollectionChange] = []
            for entry in entries {
                let id = DocumentID(rawValue: entry.id)
                switch entry.kind {
                case "remove":
                    changes.append(CollectionChange(version: UInt64(entry.seq), documentID: id, kind: .removed))
                case "add":
                    guard let header else { throw damaged("an addition without an embedder") }
                    let document = try await loadDocument(seq: entry.seq, header, connection)
                    guard document.map({ $0.record.id == id }) ?? true else { throw damaged("a change names another document") }
                    changes.append(CollectionChange(version: UInt64(entry.seq), documentID: id, kind: .added(document)))
                case "storage":
                    guard let format = VectorFormat(rawValue: entry.id) else { throw damaged("a change of storage to an unknown format") }
                    changes.append(CollectionChange(version: UInt64(entry.seq), documentID: id, kind: .storage(format)))
                default:
                    throw damaged("a change of unknown kind")
                }
            }
            return changes
        }
    }

    /// The fp32 rows of document `seq`'s vectors, decoded from the collection's storage format and checked.
    func readVectors(seq: Int64, rows: Int, _ header: CollectionHeader, _ connection: PostgresConnection) async throws -> [Float] {
        let expected = rows * header.vectorStorage.storedBytesPerVector(dimension: header.dimension)
        var vectors: [Float]? = nil
        for try await (data) in try await connection.query("SELECT data FROM vectors WHERE document_seq = \(seq)", logger: logger).decode(ByteBuffer.self) {
            guard data.readableBytes == expected else { throw damaged("a document's vectors have \(data.readableBytes) bytes, not \(expected)") }
            vectors = data.withUnsafeReadableBytes { header.vectorStorage.decodeChecked(stored: $0, rows: rows, dimension: header.dimension) }
            guard vectors != nil else { throw damaged("a document's vectors hold values no writer makes") }
        }
        guard let vectors = vectors ?? (expected == 0 ? [] : nil) else { throw damaged("a document has no vectors") }
        return vectors
    }

    /// The document added by change `seq`, or `nil` when it has been removed since.
    func loadDocument(seq: Int64, _ header: CollectionHeader, _ connection: PostgresConnection) async throws -> StoredDocument? {
        var found: DocumentRow? = nil
        for try await row in try await connection.query("\(unescaped: Self.documentColumns.sql) WHERE seq = \(seq)", logger: logger) {
            found = try documentRow(row)
        }
        guard let document = found else { return nil }
        var chunks: [Chunk] = []
        for try await row in try await connection.query("\(unescaped: Self.chunkColumns) WHERE document_seq = \(seq) ORDER BY ordinal", logger: logger) {
            guard chunks.count < document.chunkCount else { throw damaged("the documents' chunk counts differ from the chunk rows") }
            chunks.append(try chunk(row, of: document, ordinal: chunks.count))
        }
        guard chunks.count == document.chunkCount else { throw damaged("the documents' chunk counts differ from the chunk rows") }
        let vectors = try await readVectors(seq: seq, rows: document.chunkCount, header, connection)
        var terms: DocumentTerms? = nil
        for try await (analyzer, data) in try await connection.query(
            "SELECT analyzer_version, data FROM document_terms WHERE document_seq = \(seq)", logger: logger
        ).decode((Int, ByteBuffer).self) where analyzer == TextAnalyzer.version {
            var lengths: [UInt32] = []
            var triples: [(UInt32, UInt32, UInt32)] = []
            try data.withUnsafeReadableBytes { blob in
                try decodeTerms(blob, rows: document.chunkCount) { decodedLengths, postings in
                    lengths = Array(decodedLengths)
                    postings.forEach { triples.append(($0, $1, $2)) }
                }
            }
            terms = try await documentTerms(lengths: lengths, postings: triples, connection)
        }
        return StoredDocument(
            record: document.record, chunks: chunks, vectors: vectors, terms: terms ?? DocumentTerms(texts: Chunk.lexicalTexts(chunks)))
    }

    /// A document's statistics with their terms' text, looked up by number (one query for all of them).
    func documentTerms(lengths: [UInt32], postings: [(UInt32, UInt32, UInt32)], _ connection: PostgresConnection) async throws -> DocumentTerms {
        var numbers: [Int32] = []
        var previous: (term: UInt32, ordinal: UInt32)? = nil
        for (term, ordinal, _) in postings {
            guard Int(ordinal) < lengths.count else { throw damaged("lexical index: a posting refers to a missing row") }
            if let previous, (previous.term, previous.ordinal) >= (term, ordinal) { throw damaged("lexical index: postings out of order") }
            if previous?.term != term {
                guard let number = Int32(exactly: term) else { throw damaged("lexical index: a posting names a missing term") }
                numbers.append(number)
            }
            previous = (term, ordinal)
        }
        var names: [Int64: String] = [:]
        if !numbers.isEmpty {
            for try await (id, term) in try await connection.query("SELECT id, term FROM terms WHERE id = ANY(\(numbers)::integer[])", logger: logger)
                .decode((Int64, String).self)
            {
                names[id] = term
            }
        }
        var terms: [String] = []
        var lists: [[DocumentTerms.Posting]] = []
        var current: UInt32? = nil
        for (term, ordinal, frequency) in postings {
            if current != term {
                guard let name = names[Int64(term)] else { throw damaged("lexical index: a posting names a missing term") }
                terms.append(name)
                lists.append([])
                current = term
            }
            lists[lists.count - 1].append(DocumentTerms.Posting(ordinal: ordinal, frequency: frequency))
        }
        return DocumentTerms(lengths: lengths, terms: terms, postings: lists)
    }
}
