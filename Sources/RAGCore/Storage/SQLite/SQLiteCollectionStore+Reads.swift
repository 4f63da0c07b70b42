import Foundation

/// Reading the collection: the whole snapshot when a process opens it, and single documents for the change log.
/// Everything read is checked before it is used or allocated for (see the type's documentation).
extension SQLiteCollectionStore {
    /// One document's row of `documents`.
    struct DocumentRow {
        var seq: Int64
        var record: DocumentRecord
        var chunkCount: Int
    }

    static func documentRow(_ row: SQLiteStatement, _ db: SQLiteConnection) throws(CollectionError) -> DocumentRow {
        // Columns: seq, id, content_hash, chunk_count, record.
        let record = try decodeRecord(row.text(4), db)
        let chunkCount = row.int64(3)
        guard chunkCount >= 0, chunkCount <= Int64(UInt32.max) else { throw damaged("a document's chunk count is out of range", db) }
        guard record.id.rawValue == row.text(1), record.contentHash == row.text(2), record.chunkCount == Int(chunkCount) else {
            throw damaged("a document's record differs from its row", db)
        }
        return DocumentRow(seq: row.int64(0), record: record, chunkCount: Int(chunkCount))
    }

    static let documentColumns = "seq, id, content_hash, chunk_count, record"

    /// A chunk row (columns: document_seq, ordinal, chunk_id, page_start, page_end, text, context) of `document`,
    /// which must be its chunk `ordinal`.
    static func chunk(_ row: SQLiteStatement, of document: DocumentRow, ordinal: Int, _ db: SQLiteConnection) throws(CollectionError) -> Chunk {
        guard row.int64(0) == document.seq, row.int64(1) == Int64(ordinal) else {
            throw damaged("the chunk rows do not match their documents", db)
        }
        let pageStart = row.int64(3)
        let pageEnd = row.int64(4)
        guard (0...Int64(Int32.max)).contains(pageStart), (pageStart...Int64(Int32.max)).contains(pageEnd) else {
            throw damaged("a chunk's pages are out of range", db)
        }
        return Chunk(
            id: ChunkID(rawValue: row.text(2) ?? ""), documentID: document.record.id, fileName: document.record.fileName,
            pageStart: Int(pageStart), pageEnd: Int(pageEnd), ordinal: ordinal, text: row.text(5) ?? "",
            context: row.text(6) ?? "")
    }

    // MARK: Snapshot

    static func loadSnapshot(_ db: SQLiteConnection) throws(CollectionError) -> CollectionSnapshot? {
        try db.transaction(.deferred) { () throws(CollectionError) -> CollectionSnapshot? in
            guard let header = try header(db) else {
                guard try db.queryInt("SELECT count(*) FROM documents") == 0 else { throw damaged("documents without an embedder", db) }
                return nil
            }
            let version = try version(db)
            var documents: [DocumentRow] = []
            var ids = Set<DocumentID>()
            var total = 0
            try db.query("SELECT \(documentColumns) FROM documents ORDER BY seq") { (row: SQLiteStatement) throws(CollectionError) in
                let document = try documentRow(row, db)
                guard ids.insert(document.record.id).inserted else { throw damaged("two documents share an id", db) }
                total += document.chunkCount  // at most 2^32 documents of < 2^32 chunks each: no overflow
                documents.append(document)
            }
            // count(*) counts rows that exist: what a crafted count says is checked against it before allocating.
            guard try db.queryInt("SELECT count(*) FROM chunks") == Int64(total) else {
                throw damaged("the documents' chunk counts differ from the chunk rows", db)
            }
            var chunks: [Chunk] = []
            chunks.reserveCapacity(total)
            var position = 0
            var ordinal = 0
            try db.query("SELECT document_seq, ordinal, chunk_id, page_start, page_end, text, context FROM chunks ORDER BY document_seq, ordinal") { (row: SQLiteStatement) throws(CollectionError) in
                while position < documents.count && ordinal == documents[position].chunkCount {
                    position += 1
                    ordinal = 0
                }
                guard position < documents.count else { throw damaged("the chunk rows do not match their documents", db) }
                chunks.append(try chunk(row, of: documents[position], ordinal: ordinal, db))
                ordinal += 1
            }
            let vectors = try loadVectors(documents, total: total, header, db)
            let lexicalIndex = try loadTerms(documents, db)
            let collection = DocumentCollection(
                embedderID: header.embedderID, documents: documents.map(\.record), chunks: chunks, vectors: vectors,
                lexicalIndex: lexicalIndex, generation: version)
            return CollectionSnapshot(collection: collection, version: version)
        }
    }

    /// Reads every document's vector blob straight into the stored vectors' memory (fp32, fp16) or through a buffer of
    /// one document (int8, whose rows go into blocks), checking each blob's length first.
    static func loadVectors(_ documents: [DocumentRow], total: Int, _ header: CollectionHeader, _ db: SQLiteConnection) throws(CollectionError)
        -> StoredVectors
    {
        let reader = db.blobReader(table: "vectors", column: "data")
        let dimension = header.dimension
        let rowBytes = header.vectorStorage.storedBytesPerVector(dimension: dimension)
        /// Calls `body` with each document's blob length, after checking it, and the reader moved to that blob.
        func forEachBlob(_ body: (Int) throws(CollectionError) -> Void) throws(CollectionError) {
            for document in documents where document.chunkCount > 0 {
                let expected = document.chunkCount * rowBytes
                let bytes: Int
                do {
                    bytes = try reader.open(row: document.seq)
                } catch {
                    throw damaged("a document has no vectors", db)
                }
                guard bytes == expected else {
                    throw damaged("a document's vectors have \(bytes) bytes, not \(expected)", db)
                }
                try body(bytes)
            }
        }
        guard header.vectorStorage != .f32 else {
            var failure: CollectionError? = nil
            let index = VectorIndex(dimension: dimension, rows: total) { storage in
                let raw = UnsafeMutableRawBufferPointer(storage)
                var offset = 0
                do throws(CollectionError) {
                    try forEachBlob { (bytes) throws(CollectionError) in
                        try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[offset..<offset + bytes]))
                        offset += bytes
                    }
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            return StoredVectors(index)
        }
        var compact = CompactVectorIndex(format: header.vectorStorage, dimension: dimension, reservingRows: total)
        // One document's blob at a time, in a buffer kept for the largest so far.
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 16)
        defer { buffer.deallocate() }
        try forEachBlob { (bytes) throws(CollectionError) in
            if buffer.count < bytes {
                buffer.deallocate()
                buffer = .allocate(byteCount: bytes, alignment: 16)
            }
            let blob = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes])
            try reader.read(into: blob)
            guard compact.add(stored: UnsafeRawBufferPointer(blob)) else { throw damaged("a document's vectors hold values no writer makes", db) }
        }
        return StoredVectors(compact)
    }

    /// A document's vectors as fp32 rows, from their blob in the collection's storage format, checked: `rows` whole
    /// rows, and (int8) rows a writer makes.
    static func decodeVectors(_ bytes: UnsafeRawBufferPointer, rows: Int, _ header: CollectionHeader, _ db: SQLiteConnection) throws(CollectionError) -> [Float] {
        let expected = rows * header.vectorStorage.storedBytesPerVector(dimension: header.dimension)
        guard bytes.count == expected else { throw damaged("a document's vectors have \(bytes.count) bytes, not \(expected)", db) }
        guard let vectors = header.vectorStorage.decodeChecked(stored: bytes, rows: rows, dimension: header.dimension) else {
            throw damaged("a document's vectors hold values no writer makes", db)
        }
        return vectors
    }

    /// Merges the documents' BM25 statistics into one index, or returns `nil` when some were written by another
    /// `TextAnalyzer.version` (the caller then analyses the chunk texts again).
    static func loadTerms(_ documents: [DocumentRow], _ db: SQLiteConnection) throws(CollectionError) -> LexicalIndex? {
        var terms: [String] = []
        try db.query("SELECT id, term FROM terms ORDER BY id") { (row: SQLiteStatement) throws(CollectionError) in
            guard row.int64(0) == Int64(terms.count) + 1 else { throw damaged("the term table has gaps", db) }
            terms.append(row.text(1) ?? "")
        }
        var builder: LexicalIndex.Builder
        do {
            builder = try LexicalIndex.Builder(terms: terms)
        } catch {
            throw damaged("lexical index: \(error)", db)
        }
        var position = 0
        var stale = false
        try db.query("SELECT document_seq, analyzer_version, data FROM document_terms ORDER BY document_seq") { (row: SQLiteStatement) throws(CollectionError) in
            guard position < documents.count, row.int64(0) == documents[position].seq else {
                throw damaged("the term statistics do not match the documents", db)
            }
            let rows = documents[position].chunkCount
            position += 1
            guard row.int64(1) == Int64(TextAnalyzer.version) else {
                stale = true
                return
            }
            try row.blob(2) { (blob: UnsafeRawBufferPointer) throws(CollectionError) in
                try decodeTerms(blob, rows: rows, db) { lengths, postings throws(CollectionError) in
                    do {
                        try builder.appendDocument(lengths: lengths) { next throws(LexicalIndex.Builder.Malformed) in
                            try postings.forEach { (term, ordinal, frequency) throws(LexicalIndex.Builder.Malformed) in
                                try next(Int(term) - 1, ordinal, frequency)
                            }
                        }
                    } catch {
                        throw damaged("lexical index: \(error)", db)
                    }
                }
            }
        }
        guard position == documents.count else { throw damaged("a document has no term statistics", db) }
        return stale ? nil : builder.index
    }

    /// Checks a document's term blob (see `encodeTerms`) against its `rows` and calls `body` with its row lengths and
    /// its postings (term number, ordinal, frequency).
    static func decodeTerms(
        _ blob: UnsafeRawBufferPointer, rows: Int, _ db: SQLiteConnection,
        _ body: (UnsafeBufferPointer<UInt32>, TermTriples) throws(CollectionError) -> Void
    ) throws(CollectionError) {
        guard blob.count >= 4, blob.count % 4 == 0 else { throw damaged("a document's term statistics are truncated", db) }
        let stored = UInt32(littleEndian: blob.loadUnaligned(as: UInt32.self))
        guard stored == rows, (rows + 1) * 4 <= blob.count, (blob.count - (rows + 1) * 4) % 12 == 0 else {
            throw damaged("a document's term statistics do not fit its chunks", db)
        }
        let lengths = (0..<rows).map { UInt32(littleEndian: blob.loadUnaligned(fromByteOffset: 4 + 4 * $0, as: UInt32.self)) }
        let postings = TermTriples(bytes: UnsafeRawBufferPointer(rebasing: blob[((rows + 1) * 4)...]))
        try lengths.withUnsafeBufferPointer { (lengths) throws(CollectionError) in try body(lengths, postings) }
    }

    /// The (term number, ordinal, frequency) triples of a term blob, read in place.
    struct TermTriples {
        let bytes: UnsafeRawBufferPointer

        func forEach<E: Error>(_ body: (UInt32, UInt32, UInt32) throws(E) -> Void) throws(E) {
            var offset = 0
            while offset + 12 <= bytes.count {
                try body(
                    UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)),
                    UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)),
                    UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)))
                offset += 12
            }
        }
    }

    // MARK: Change log

    static func changes(after version: UInt64, limit: Int, _ db: SQLiteConnection) throws(CollectionError) -> [CollectionChange] {
        try db.transaction(.deferred) { () throws(CollectionError) -> [CollectionChange] in
            var entries: [(seq: Int64, kind: String, id: String)] = []
            try db.query(
                "SELECT seq, kind, document_id FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                [.integer(Int64(clamping: version)), .integer(Int64(max(0, limit)))]
            ) { (row: SQLiteStatement) throws(CollectionError) in
                entries.append((row.int64(0), row.text(1) ?? "", row.text(2) ?? ""))
            }
            guard !entries.isEmpty else { return [] }
            let header = try header(db)
            var changes: [CollectionChange] = []
            for entry in entries {
                guard entry.seq > 0 else { throw damaged("a change number is not positive", db) }
                let id = DocumentID(rawValue: entry.id)
                switch entry.kind {
                case "remove":
                    changes.append(CollectionChange(version: UInt64(entry.seq), documentID: id, kind: .removed))
                case "add":
                    guard let header else { throw damaged("an addition without an embedder", db) }
                    let document = try loadDocument(seq: entry.seq, header, db)
                    guard document.map({ $0.record.id == id }) ?? true else { throw damaged("a change names another document", db) }
                    changes.append(CollectionChange(version: UInt64(entry.seq), documentID: id, kind: .added(document)))
                case "storage":
                    guard let format = VectorFormat(rawValue: entry.id) else { throw damaged("a change of storage to an unknown format", db) }
                    changes.append(CollectionChange(version: UInt64(entry.seq), documentID: id, kind: .storage(format)))
                default:
                    throw damaged("a change of unknown kind", db)
                }
            }
            return changes
        }
    }

    /// The document added by change `seq`, or `nil` when it has been removed since.
    static func loadDocument(seq: Int64, _ header: CollectionHeader, _ db: SQLiteConnection) throws(CollectionError) -> StoredDocument? {
        var found: DocumentRow? = nil
        try db.query("SELECT \(documentColumns) FROM documents WHERE seq = ?", [.integer(seq)]) { (row: SQLiteStatement) throws(CollectionError) in
            found = try documentRow(row, db)
        }
        guard let document = found else { return nil }
        var chunks: [Chunk] = []
        try db.query(
            "SELECT document_seq, ordinal, chunk_id, page_start, page_end, text, context FROM chunks WHERE document_seq = ? ORDER BY ordinal",
            [.integer(seq)]
        ) { (row: SQLiteStatement) throws(CollectionError) in
            guard chunks.count < document.chunkCount else { throw damaged("the documents' chunk counts differ from the chunk rows", db) }
            chunks.append(try chunk(row, of: document, ordinal: chunks.count, db))
        }
        guard chunks.count == document.chunkCount else { throw damaged("the documents' chunk counts differ from the chunk rows", db) }
        var vectors: [Float] = []
        var seen = false
        try db.query("SELECT data FROM vectors WHERE document_seq = ?", [.integer(seq)]) { (row: SQLiteStatement) throws(CollectionError) in
            seen = true
            vectors = try row.blob(0) { (bytes: UnsafeRawBufferPointer) throws(CollectionError) in
                try decodeVectors(bytes, rows: document.chunkCount, header, db)
            }
        }
        guard seen || document.chunkCount == 0 else { throw damaged("a document has no vectors", db) }
        var terms: DocumentTerms? = nil
        try db.query("SELECT analyzer_version, data FROM document_terms WHERE document_seq = ?", [.integer(seq)]) { (row: SQLiteStatement) throws(CollectionError) in
            guard row.int64(0) == Int64(TextAnalyzer.version) else { return }
            try row.blob(1) { (blob: UnsafeRawBufferPointer) throws(CollectionError) in
                try decodeTerms(blob, rows: document.chunkCount, db) { lengths, postings throws(CollectionError) in
                    terms = try documentTerms(lengths: Array(lengths), postings: postings, db)
                }
            }
        }
        return StoredDocument(
            record: document.record, chunks: chunks, vectors: vectors,
            terms: terms ?? DocumentTerms(texts: Chunk.lexicalTexts(chunks)))
    }

    /// A document's statistics with their terms' text, looked up by number.
    static func documentTerms(lengths: [UInt32], postings: TermTriples, _ db: SQLiteConnection) throws(CollectionError) -> DocumentTerms {
        let find = try db.prepare("SELECT term FROM terms WHERE id = ?")
        var names: [String] = []
        var lists: [[DocumentTerms.Posting]] = []
        var previous: (term: UInt32, ordinal: UInt32)? = nil
        try postings.forEach { (term: UInt32, ordinal: UInt32, frequency: UInt32) throws(CollectionError) in
            guard Int(ordinal) < lengths.count else { throw damaged("lexical index: a posting refers to a missing row", db) }
            if let previous, (previous.term, previous.ordinal) >= (term, ordinal) {
                throw damaged("lexical index: postings out of order", db)
            }
            if previous?.term != term {
                find.reset()
                try find.bind(1, .integer(Int64(term)))
                guard try find.step(), let name = find.text(0) else { throw damaged("lexical index: a posting names a missing term", db) }
                names.append(name)
                lists.append([])
            }
            lists[lists.count - 1].append(DocumentTerms.Posting(ordinal: ordinal, frequency: frequency))
            previous = (term, ordinal)
        }
        return DocumentTerms(lengths: lengths, terms: names, postings: lists)
    }
}
