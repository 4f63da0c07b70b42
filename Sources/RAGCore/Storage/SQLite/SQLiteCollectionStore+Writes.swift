import Foundation

/// Adding and removing documents, each in the caller's `BEGIN IMMEDIATE` transaction.
extension SQLiteCollectionStore {
    static func add(_ document: StoredDocument, header: CollectionHeader, maxChunks: Int, _ db: SQLiteConnection) throws(CollectionError)
        -> AddOutcome
    {
        let record = document.record
        precondition(document.chunks.count == record.chunkCount && document.vectors.count == record.chunkCount * header.dimension)
        let storage: VectorFormat
        if let existing = try self.header(db) {
            guard existing.sameEmbedder(as: header) else {
                throw CollectionError(
                    .embedderMismatch,
                    "the collection was built with embedder \(existing.embedderID) (\(existing.dimension) dimensions), not \(header.embedderID) (\(header.dimension) dimensions)",
                    path: db.path)
            }
            storage = existing.vectorStorage  // the collection's own, whatever the writer would have chosen
        } else {
            try db.run(
                "INSERT INTO collection (key, value) VALUES ('embedder_id', ?), ('dimension', ?), ('vector_storage', ?)",
                [.text(header.embedderID), .text(String(header.dimension)), .text(header.vectorStorage.rawValue)])
            storage = header.vectorStorage
        }
        var existing: DocumentRecord? = nil
        try db.query("SELECT record FROM documents WHERE content_hash = ?", [.text(record.contentHash)]) { (row: SQLiteStatement) throws(CollectionError) in
            existing = try decodeRecord(row.text(0), db)
        }
        if let existing { return .unchanged(existing) }
        var replaced: [(seq: Int64, id: DocumentID, chunks: Int64)] = []
        if let sourcePath = record.sourcePath {
            try db.query("SELECT seq, id, chunk_count FROM documents WHERE source_path = ? ORDER BY seq", [.text(sourcePath)]) { (row: SQLiteStatement) throws(CollectionError) in
                replaced.append((row.int64(0), DocumentID(rawValue: row.text(1) ?? ""), row.int64(2)))
            }
        }
        let total = try db.queryInt("SELECT total(chunk_count) FROM documents") ?? 0
        let kept = Int(clamping: total - replaced.reduce(0) { $0 + $1.chunks })
        if maxChunks > 0, kept + document.chunks.count > maxChunks { return .overQuota(chunks: kept) }

        var first: UInt64? = nil
        for earlier in replaced {
            try deleteDocument(seq: earlier.seq, db)
            try db.run("DELETE FROM ingest_jobs WHERE id = ?", [.text(earlier.id.rawValue)])
            let seq = try appendChange("remove", earlier.id, db)
            first = first ?? seq
        }
        let seq = try appendChange("add", record.id, db)
        try insert(document, seq: Int64(seq), storage: storage, dimension: header.dimension, db, termIDs: nil)
        return .added(replaced: replaced.map(\.id), firstChange: first ?? seq, version: seq)
    }

    static func remove(_ id: DocumentID, _ db: SQLiteConnection) throws(CollectionError) -> RemoveOutcome? {
        var found: (seq: Int64, record: DocumentRecord)? = nil
        try db.query("SELECT seq, record FROM documents WHERE id = ?", [.text(id.rawValue)]) { (row: SQLiteStatement) throws(CollectionError) in
            found = (row.int64(0), try decodeRecord(row.text(1), db))
        }
        guard let found else { return nil }
        try deleteDocument(seq: found.seq, db)
        try db.run("DELETE FROM ingest_jobs WHERE id = ?", [.text(id.rawValue)])  // and the upload's bytes
        return RemoveOutcome(record: found.record, version: try appendChange("remove", id, db))
    }

    /// Re-encodes every document's vectors from the collection's storage format into `format`, in the caller's
    /// transaction, and records the change (see `CollectionStore.convertVectors(to:)`).
    static func convertVectors(to format: VectorFormat, _ db: SQLiteConnection) throws(CollectionError) -> UInt64? {
        guard let header = try header(db), header.vectorStorage != format else { return nil }
        let dimension = header.dimension
        var documents: [(seq: Int64, chunks: Int)] = []
        try db.query("SELECT seq, chunk_count FROM documents ORDER BY seq") { (row: SQLiteStatement) throws(CollectionError) in
            documents.append((row.int64(0), Int(clamping: row.int64(1))))
        }
        let update = try db.prepare("UPDATE vectors SET data = ? WHERE document_seq = ?")
        for document in documents {
            var rows: [Float] = []
            try db.query("SELECT data FROM vectors WHERE document_seq = ?", [.integer(document.seq)]) { (row: SQLiteStatement) throws(CollectionError) in
                rows = try row.blob(0) { (bytes: UnsafeRawBufferPointer) throws(CollectionError) in
                    try decodeVectors(bytes, rows: document.chunks, header, db)
                }
            }
            update.reset()
            try update.bind(2, .integer(document.seq))
            try update.run(binding: rows.withUnsafeBufferPointer { format.encode(normalizedRows: $0, dimension: dimension) }, at: 1)
        }
        try db.run(
            "INSERT INTO collection (key, value) VALUES ('vector_storage', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [.text(format.rawValue)])
        return try appendChange("storage", DocumentID(rawValue: format.rawValue), db)
    }

    /// Appends a change to the log and returns its sequence number.
    static func appendChange(_ kind: String, _ id: DocumentID, _ db: SQLiteConnection) throws(CollectionError) -> UInt64 {
        try db.run("INSERT INTO changes (kind, document_id) VALUES (?, ?)", [.text(kind), .text(id.rawValue)])
        return UInt64(db.lastInsertRowID)
    }

    static func deleteDocument(seq: Int64, _ db: SQLiteConnection) throws(CollectionError) {
        for table in ["chunks", "vectors", "document_terms", "document_sources"] {
            try db.run("DELETE FROM \(table) WHERE document_seq = ?", [.integer(seq)])
        }
        try db.run("DELETE FROM documents WHERE seq = ?", [.integer(seq)])
    }

    /// Inserts a document's rows under `seq`, the change that adds it. `termIDs` caches term numbers across the
    /// documents of one transaction (a migration); without it each term is looked up.
    static func insert(
        _ document: StoredDocument, seq: Int64, storage: VectorFormat, dimension: Int, _ db: SQLiteConnection,
        termIDs: UnsafeMutablePointer<[String: Int64]>?
    ) throws(CollectionError) {
        let record = document.record
        let json: String
        do {
            json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        } catch {
            throw CollectionError(.io, "the collection could not be saved: the document's record cannot be encoded", path: db.path)
        }
        try db.run(
            "INSERT INTO documents (seq, id, content_hash, source_path, chunk_count, record) VALUES (?, ?, ?, ?, ?, ?)",
            [
                .integer(seq), .text(record.id.rawValue), .text(record.contentHash),
                record.sourcePath.map { .text($0) } ?? .null, .integer(Int64(document.chunks.count)), .text(json),
            ])
        let chunk = try db.prepare(
            "INSERT INTO chunks (document_seq, ordinal, chunk_id, page_start, page_end, text, context) VALUES (?, ?, ?, ?, ?, ?, ?)")
        for (ordinal, value) in document.chunks.enumerated() {
            chunk.reset()
            try chunk.bind([
                .integer(seq), .integer(Int64(ordinal)), .text(value.id.rawValue), .integer(Int64(value.pageStart)),
                .integer(Int64(value.pageEnd)), .text(value.text), .text(value.context),
            ])
            while try chunk.step() {}
        }
        // In the collection's storage format (`VectorFormat.encode`), little-endian as the hosts this builds for
        // (x86_64, arm64) keep them in memory.
        let vectors = try db.prepare("INSERT INTO vectors (document_seq, data) VALUES (?, ?)")
        try vectors.bind(1, .integer(seq))
        if storage == .f32 {
            try vectors.run(binding: document.vectors, at: 2)
        } else {
            try vectors.run(binding: document.vectors.withUnsafeBufferPointer { storage.encode(normalizedRows: $0, dimension: dimension) }, at: 2)
        }
        let encoded = try encodeTerms(document.terms, db, cache: termIDs)
        let terms = try db.prepare("INSERT INTO document_terms (document_seq, analyzer_version, data) VALUES (?, ?, ?)")
        try terms.bind([.integer(seq), .integer(Int64(TextAnalyzer.version))])
        try terms.run(binding: encoded, at: 3)
        if let source = document.source {
            let bytes = try db.prepare("INSERT INTO document_sources (document_seq, byte_count, bytes) VALUES (?, ?, ?)")
            try bytes.bind([.integer(seq), .integer(Int64(source.count))])
            try bytes.run(binding: [UInt8](source), at: 3)
        }
    }

    /// A document's BM25 statistics as stored (`DocumentTerms.stored(numbers:)`), with its terms numbered by the rows
    /// of `terms`, added for terms the collection did not have.
    static func encodeTerms(_ terms: DocumentTerms, _ db: SQLiteConnection, cache: UnsafeMutablePointer<[String: Int64]>?)
        throws(CollectionError) -> [UInt32]
    {
        let find = try db.prepare("SELECT id FROM terms WHERE term = ?")
        let add = try db.prepare("INSERT INTO terms (term) VALUES (?)")
        var numbers: [UInt32] = []
        numbers.reserveCapacity(terms.terms.count)
        for term in terms.terms {
            var id = cache?.pointee[term]
            if id == nil {
                find.reset()
                try find.bind(1, .text(term))
                if try find.step() { id = find.int64(0) }
                if id == nil {
                    add.reset()
                    try add.bind(1, .text(term))
                    while try add.step() {}
                    id = db.lastInsertRowID
                }
                cache?.pointee[term] = id
            }
            guard let id, let number = UInt32(exactly: id) else { throw damaged("a term number out of range", db) }
            numbers.append(number)
        }
        return terms.stored(numbers: numbers)
    }

    static func decodeRecord(_ json: String?, _ db: SQLiteConnection) throws(CollectionError) -> DocumentRecord {
        guard let json, let record = try? JSONDecoder().decode(DocumentRecord.self, from: Data(json.utf8)) else {
            throw damaged("a document record does not parse", db)
        }
        return record
    }
}
