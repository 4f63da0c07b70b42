import Foundation
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import PostgresNIO

/// Adding and removing documents: one transaction each, serialised by the lock on the `collection` row, with the
/// same semantics as `SQLiteCollectionStore`.
extension PostgresCollectionStore {
    package func add(_ document: StoredDocument, header: CollectionHeader, maxChunks: Int) async throws(CollectionError) -> AddOutcome {
        let json = try encodeRecord(document.record)
        return try await transaction(failure: "the collection could not be saved") { [self] connection async throws -> AddOutcome in
            let existingHeader = try await lockCollection(connection)
            return try await add(document, json: json, header: header, existingHeader: existingHeader, maxChunks: maxChunks, connection)
        }
    }

    /// The document's record as stored (JSON).
    func encodeRecord(_ record: DocumentRecord) throws(CollectionError) -> String {
        do {
            return String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        } catch {
            throw CollectionError(.io, "the collection could not be saved: the document's record cannot be encoded", path: location)
        }
    }

    /// Adds a document in the caller's transaction, which holds the `collection` lock (`existingHeader` is what
    /// `lockCollection` returned): the body of `add`, shared with the ingestion queue's `completeJob`.
    func add(
        _ document: StoredDocument, json: String, header: CollectionHeader, existingHeader: CollectionHeader?, maxChunks: Int,
        _ connection: PostgresConnection
    ) async throws -> AddOutcome {
        let record = document.record
        precondition(document.chunks.count == record.chunkCount && document.vectors.count == record.chunkCount * header.dimension)
        let logger = self.logger
        if let existingHeader, !existingHeader.sameEmbedder(as: header) {
            throw CollectionError(
                .embedderMismatch,
                "the collection was built with embedder \(existingHeader.embedderID) (\(existingHeader.dimension) dimensions), not \(header.embedderID) (\(header.dimension) dimensions)",
                path: location)
        }
        for row in try await connection.rows("SELECT record FROM documents WHERE content_hash = \(record.contentHash)", logger: logger) {
            return .unchanged(try decodeRecord(try row.decode(String.self)))
        }
        var replaced: [(seq: Int64, id: DocumentID, chunks: Int)] = []
        if let sourcePath = record.sourcePath {
            let rows = try await connection.query(
                "SELECT seq, id, chunk_count FROM documents WHERE source_path = \(sourcePath) ORDER BY seq", logger: logger)
            for try await (seq, id, chunks) in rows.decode((Int64, String, Int).self) {
                replaced.append((seq, DocumentID(rawValue: id), chunks))
            }
        }
        var total = 0
        for try await (sum) in try await connection.query("SELECT coalesce(sum(chunk_count), 0)::bigint FROM documents", logger: logger)
            .decode(Int.self)
        {
            total = sum
        }
        let kept = total - replaced.reduce(0) { $0 + $1.chunks }
        if maxChunks > 0, kept + document.chunks.count > maxChunks { return .overQuota(chunks: kept) }
        if existingHeader == nil {
            try await connection.run(
                "UPDATE collection SET embedder_id = \(header.embedderID), dimension = \(header.dimension), vector_storage = \(header.vectorStorage.rawValue) WHERE id = 1",
                logger: logger)
        }
        let storage = existingHeader?.vectorStorage ?? header.vectorStorage  // the collection's own, once it has one
        var next = try await version(connection) + 1
        let first = next
        for earlier in replaced {
            try await connection.run("DELETE FROM documents WHERE seq = \(earlier.seq)", logger: logger)
            try await connection.run("DELETE FROM ingest_jobs WHERE id = \(earlier.id.rawValue)", logger: logger)
            try await appendChange(seq: next, "remove", earlier.id, connection)
            next += 1
        }
        try await appendChange(seq: next, "add", record.id, connection)
        try await insert(document, seq: Int64(next), json: json, storage: storage, dimension: header.dimension, connection)
        try await notify(version: next, connection)
        return .added(replaced: replaced.map(\.id), firstChange: UInt64(first), version: UInt64(next))
    }

    package func remove(_ id: DocumentID) async throws(CollectionError) -> RemoveOutcome? {
        let logger = self.logger
        return try await transaction(failure: "the collection could not be saved") { [self] connection async throws -> RemoveOutcome? in
            _ = try await lockCollection(connection)
            var found: (seq: Int64, record: DocumentRecord)? = nil
            for try await (seq, json) in try await connection.query("SELECT seq, record FROM documents WHERE id = \(id.rawValue)", logger: logger)
                .decode((Int64, String).self)
            {
                found = (seq, try decodeRecord(json))
            }
            guard let found else { return nil }
            try await connection.run("DELETE FROM documents WHERE seq = \(found.seq)", logger: logger)
            try await connection.run("DELETE FROM ingest_jobs WHERE id = \(id.rawValue)", logger: logger)  // and the upload's bytes
            let seq = try await version(connection) + 1
            try await appendChange(seq: seq, "remove", id, connection)
            try await notify(version: seq, connection)
            return RemoveOutcome(record: found.record, version: UInt64(seq))
        }
    }

    /// Locks the `collection` row for the rest of the transaction (every writer does, first: this is what serialises
    /// them) and returns the collection's embedder, `nil` before the first document.
    func lockCollection(_ connection: PostgresConnection) async throws -> CollectionHeader? {
        try await readHeader(connection, forUpdate: true)
    }

    /// Re-encodes every document's vectors in `format` under the `collection` lock (see
    /// `CollectionStore.convertVectors(to:)`), a document at a time.
    package func convertVectors(to format: VectorFormat) async throws(CollectionError) -> UInt64? {
        let logger = self.logger
        return try await transaction(failure: "the collection could not be saved") { [self] connection async throws -> UInt64? in
            guard let header = try await lockCollection(connection), header.vectorStorage != format else { return nil }
            var documents: [(seq: Int64, chunks: Int)] = []
            for try await (seq, chunks) in try await connection.query("SELECT seq, chunk_count FROM documents ORDER BY seq", logger: logger)
                .decode((Int64, Int).self)
            {
                documents.append((seq, chunks))
            }
            for document in documents {
                let rows = try await readVectors(seq: document.seq, rows: document.chunks, header, connection)
                var data = ByteBuffer()
                data.writeBytes(rows.withUnsafeBufferPointer { format.encode(normalizedRows: $0, dimension: header.dimension) })
                try await connection.run("UPDATE vectors SET data = \(data) WHERE document_seq = \(document.seq)", logger: logger)
            }
            try await connection.run("UPDATE collection SET vector_storage = \(format.rawValue) WHERE id = 1", logger: logger)
            let seq = try await version(connection) + 1
            try await appendChange(seq: seq, "storage", DocumentID(rawValue: format.rawValue), connection)
            try await notify(version: seq, connection)
            return UInt64(seq)
        }
    }

    /// The sequence number of the last change, 0 before the first. Under the `collection` lock, `+ 1` is the next.
    func version(_ connection: PostgresConnection) async throws -> Int64 {
        var version: Int64 = 0
        for try await (seq) in try await connection.query("SELECT coalesce(max(seq), 0)::bigint FROM changes", logger: logger).decode(Int64.self) {
            version = seq
        }
        return version
    }

    func appendChange(seq: Int64, _ kind: String, _ id: DocumentID, _ connection: PostgresConnection) async throws {
        try await connection.run("INSERT INTO changes (seq, kind, document_id) VALUES (\(seq), \(kind), \(id.rawValue))", logger: logger)
    }

    /// Tells listeners the new version; delivered when the transaction commits, dropped when it rolls back.
    func notify(version: Int64, _ connection: PostgresConnection) async throws {
        try await connection.run("SELECT pg_notify(\(Self.channel), \(String(version)))", logger: logger)
    }

    /// Inserts a document's rows under `seq`, the change that adds it: one statement per table (the chunks as arrays).
    func insert(
        _ document: StoredDocument, seq: Int64, json: String, storage: VectorFormat, dimension: Int, _ connection: PostgresConnection
    ) async throws {
        let record = document.record
        try await connection.run(
            """
            INSERT INTO documents (seq, id, content_hash, source_path, chunk_count, record)
            VALUES (\(seq), \(record.id.rawValue), \(record.contentHash), \(record.sourcePath), \(Int32(document.chunks.count)), \(json))
            """, logger: logger)
        let chunks = document.chunks
        try await connection.run(
            """
            INSERT INTO chunks (document_seq, ordinal, chunk_id, page_start, page_end, text, context)
            SELECT \(seq), * FROM unnest(\(chunks.indices.map { Int32($0) })::integer[], \(chunks.map(\.id.rawValue))::text[],
                \(chunks.map { Int32(clamping: $0.pageStart) })::integer[], \(chunks.map { Int32(clamping: $0.pageEnd) })::integer[],
                \(chunks.map(\.text))::text[], \(chunks.map(\.context))::text[])
            """, logger: logger)
        // In the collection's storage format (`VectorFormat.encode`), little-endian as the hosts this builds for
        // (x86_64, arm64) keep them in memory.
        var vectors = ByteBuffer()
        if storage == .f32 {
            vectors.reserveCapacity(document.vectors.count * 4)
            document.vectors.withUnsafeBytes { _ = vectors.writeBytes($0) }
        } else {
            vectors.writeBytes(document.vectors.withUnsafeBufferPointer { storage.encode(normalizedRows: $0, dimension: dimension) })
        }
        try await connection.run("INSERT INTO vectors (document_seq, data) VALUES (\(seq), \(vectors))", logger: logger)
        let encoded = try await encodeTerms(document.terms, connection)
        var terms = ByteBuffer()
        terms.reserveCapacity(encoded.count * 4)
        encoded.withUnsafeBytes { _ = terms.writeBytes($0) }
        try await connection.run(
            "INSERT INTO document_terms (document_seq, analyzer_version, data) VALUES (\(seq), \(Int32(TextAnalyzer.version)), \(terms))",
            logger: logger)
        if let source = document.source {
            try await connection.run(
                "INSERT INTO document_sources (document_seq, byte_count, bytes) VALUES (\(seq), \(Int64(source.count)), \(ByteBuffer(data: source)))",
                logger: logger)
        }
    }

    /// A document's BM25 statistics as stored (`DocumentTerms.stored(numbers:)`, as SQLite keeps them). Terms the
    /// collection does not have get the next numbers (gapless: writers are serialised).
    func encodeTerms(_ terms: DocumentTerms, _ connection: PostgresConnection) async throws -> [UInt32] {
        var ids: [String: Int64] = [:]
        ids.reserveCapacity(terms.terms.count)
        if !terms.terms.isEmpty {
            let rows = try await connection.query("SELECT id, term FROM terms WHERE term = ANY(\(terms.terms)::text[])", logger: logger)
            for try await (id, term) in rows.decode((Int64, String).self) { ids[term] = id }
        }
        let missing = terms.terms.filter { ids[$0] == nil }
        if !missing.isEmpty {
            var last: Int64 = 0
            for try await (max) in try await connection.query("SELECT coalesce(max(id), 0)::bigint FROM terms", logger: logger).decode(Int64.self) {
                last = max
            }
            let numbers = missing.indices.map { last + 1 + Int64($0) }
            guard let top = numbers.last, top <= Int64(UInt32.max) else { throw damaged("a term number out of range") }
            try await connection.run(
                "INSERT INTO terms (id, term) SELECT * FROM unnest(\(numbers.map { Int32(truncatingIfNeeded: $0) })::integer[], \(missing)::text[])",
                logger: logger)
            for (term, number) in zip(missing, numbers) { ids[term] = number }
        }
        var numbers: [UInt32] = []
        numbers.reserveCapacity(terms.terms.count)
        for term in terms.terms {
            guard let id = ids[term], let number = UInt32(exactly: id) else { throw damaged("a term number out of range") }
            numbers.append(number)
        }
        return terms.stored(numbers: numbers)
    }

    func decodeRecord(_ json: String) throws(CollectionError) -> DocumentRecord {
        guard let record = try? JSONDecoder().decode(DocumentRecord.self, from: Data(json.utf8)) else {
            throw damaged("a document record does not parse")
        }
        return record
    }
}
