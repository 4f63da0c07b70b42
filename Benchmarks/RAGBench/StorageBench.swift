import Foundation
import RAGCore

#if canImport(Glibc)
import Glibc
#endif

/// `RAGBench storage`: the SQLite store against the collection file of earlier releases (the baseline, measured in
/// the same run, on the same collection), for a collection of `--chunks` chunks (default 1M) whose vectors come from
/// `--vectors` (bench-data/vectors-1m-384.f32) and whose texts are made up (about 800 characters of words drawn from
/// a 20,000-word vocabulary with Zipf frequencies, like a chunk of prose), in documents of 30 chunks:
///
/// - `add`: the storage work of adding a 10-page document (30 chunks): one `SQLiteCollectionStore.add` transaction,
///   against what the old store did for every document added, encode the whole collection and write it to a
///   temporary file, fsync, rename (`LegacyCollectionFile.encode` and the same system calls as its `save`);
/// - `open`: loading the collection, vectors and BM25 index ready to search: `loadSnapshot()` from the database,
///   against `LegacyCollectionFile.load()` (both files in the page cache, as a restarted server finds them);
/// - `bm25_rebuild`: building the BM25 index from the chunk texts (what opening would cost without stored statistics);
/// - `search`: single-query vector and hybrid search on the snapshot each opened (the same in-memory index);
/// - `apply_add`, `apply_remove`: the in-memory side of a write, applying a 10-page document's addition (in place) and
///   its removal to the snapshot.
///
/// With `--database-url URL` (an empty PostgreSQL database, on this machine), the same collection is also written to
/// a `PostgresCollectionStore` while it is built (one `add` per document: `postgres_populate_s`), and every round
/// measures it beside SQLite: `open_postgres_s` (a new store: connect, `loadSnapshot()`) and `add_postgres_s` (one
/// `add` transaction of the same 10-page document, the pool's connection already open).
///
/// Rounds interleave the stores. Prints one JSON object with the medians and every round's figures.
enum StorageBench {
    static let chunksPerDocument = 30

    /// A made-up chunk text: Zipf-distributed words of a fixed vocabulary, seeded, about `characters` long.
    struct Prose {
        var state: UInt64
        let vocabulary: [String]
        let cumulative: [Double]

        init(seed: UInt64) {
            state = seed | 1
            var words: [String] = []
            var generator = SplitMix(state: 42)
            let letters = Array("abcdefghijklmnopqrstuvwxyz")
            for _ in 0..<20_000 {
                let length = 3 + Int(generator.next() % 8)
                words.append(String((0..<length).map { _ in letters[Int(generator.next() % 26)] }))
            }
            vocabulary = words
            var total = 0.0
            cumulative = (1...words.count).map { rank in
                total += 1 / Double(rank)
                return total
            }
        }

        mutating func text(characters: Int) -> String {
            var out = ""
            out.reserveCapacity(characters + 16)
            var generator = SplitMix(state: state)
            while out.utf8.count < characters {
                let target = Double(generator.next() % 1_000_000) / 1_000_000 * cumulative.last!
                var low = 0
                var high = cumulative.count - 1
                while low < high {
                    let middle = (low + high) / 2
                    if cumulative[middle] < target { low = middle + 1 } else { high = middle }
                }
                out += vocabulary[low]
                out += generator.next() % 12 == 0 ? ". " : " "
            }
            state = generator.state
            return out
        }
    }

    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A document of `chunks` chunks with the given vectors (already normalised), its texts from `prose`.
    static func document(number: Int, chunks count: Int, vectors: ArraySlice<Float>, prose: inout Prose) -> StoredDocument {
        let contentHash = SHA256.hex("bench document \(number)")
        let id = DocumentID(contentHash: contentHash)
        let fileName = "document-\(number).pdf"
        var chunks: [Chunk] = []
        for ordinal in 0..<count {
            chunks.append(
                Chunk(
                    id: ChunkID(rawValue: String(format: "%016x", number * 1000 + ordinal)), documentID: id, fileName: fileName,
                    pageStart: ordinal / 3 + 1, pageEnd: ordinal / 3 + 1, ordinal: ordinal, text: prose.text(characters: 800)))
        }
        let source = Document(
            fileName: fileName, kind: .pdf, title: "Document \(number)", author: nil, pageCount: count / 3 + 1,
            pages: [], warnings: [], contentHash: contentHash, byteCount: 100_000)
        var record = DocumentRecord(document: source, chunkCount: count, sourcePath: "/bench/\(fileName)")
        record.indexedPages = count / 3 + 1
        return StoredDocument(record: record, chunks: chunks, vectors: Array(vectors), terms: DocumentTerms(texts: chunks.map(\.text)))
    }

    /// What the old store's `save` did: encode the whole collection, write it to a temporary file, fsync, rename over
    /// the collection file, fsync the directory.
    static func legacySave(_ collection: DocumentCollection, in directory: URL) {
        let bytes = LegacyCollectionFile.encode(collection)
        let temporary = directory.appendingPathComponent(".collection.rag.\(getpid()).tmp").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fail("cannot create \(temporary)") }
        var written = 0
        bytes.withUnsafeBytes { raw in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                guard n > 0 else { fail("cannot write \(temporary)") }
                written += n
            }
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, LegacyCollectionFile(directory: directory).fileURL.path) == 0 else { fail("cannot rename") }
        let directoryFD = open(directory.path, O_RDONLY)
        fsync(directoryFD)
        close(directoryFD)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    static func run(_ arguments: Arguments, repeats: Int) async throws -> [String: Any] {
        guard let vectorsPath = arguments.options["vectors"] else { fail("storage needs --vectors FILE") }
        let dimension = arguments.int("dimension", 384)
        let root = URL(fileURLWithPath: arguments.options["dir"] ?? NSTemporaryDirectory()).appendingPathComponent("rag-storage-bench-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        let legacyDirectory = root.appendingPathComponent("legacy")
        let sqlDirectory = root.appendingPathComponent("sqlite")
        for directory in [legacyDirectory, sqlDirectory] { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }

        // The collection: the file's vectors, normalised, in documents of 30 chunks.
        let raw = readFloats(vectorsPath)
        let rows = min(arguments.int("chunks", 1_000_000), raw.count / dimension)
        let vectors = VectorIndex(dimension: dimension, storage: Array(raw[0..<rows * dimension])).storage
        var prose = Prose(seed: 7)
        var collection = DocumentCollection(embedderID: "bench-d\(dimension)", dimension: dimension)
        var texts: [String] = []
        texts.reserveCapacity(rows)
        var number = 0
        var start = 0
        let header = CollectionHeader(embedderID: collection.embedderID, dimension: dimension)
        let databaseURL = try arguments.options["database-url"].map { try DatabaseURL($0) }
        var postgres: PostgresCollectionStore? = nil
        if let databaseURL { postgres = try await PostgresCollectionStore(url: databaseURL, maxConnections: 2) }
        if let postgres, try await postgres.currentVersion() != 0 { fail("--database-url must name an empty database") }
        var populate = Duration.zero
        while start < rows {
            let count = min(chunksPerDocument, rows - start)
            let document = document(
                number: number, chunks: count, vectors: vectors[start * dimension..<(start + count) * dimension], prose: &prose)
            if let postgres {
                let started = ContinuousClock.now
                _ = try await postgres.add(document, header: header, maxChunks: 0)
                populate += ContinuousClock.now - started
            }
            collection.add(document.record, chunks: document.chunks, normalizedVectors: document.vectors, terms: document.terms)
            texts += document.chunks.map(\.text)
            start += count
            number += 1
        }
        let textBytes = texts.reduce(0) { $0 + $1.utf8.count }
        let rebuild = RAGBench.seconds { _ = LexicalIndex(texts: texts) }
        texts = []

        // The baseline file, and the database migrated from it.
        let firstSave = RAGBench.seconds { legacySave(collection, in: legacyDirectory) }
        try FileManager.default.copyItem(
            at: LegacyCollectionFile(directory: legacyDirectory).fileURL, to: LegacyCollectionFile(directory: sqlDirectory).fileURL)
        let migrating = SQLiteCollectionStore(directory: sqlDirectory)
        let migration = try RAGBench.seconds { try migrating.createIfMissing() }
        migrating.closeConnection()
        func size(_ url: URL) -> Int { (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0 }
        let legacyBytes = size(LegacyCollectionFile(directory: legacyDirectory).fileURL)
        let databaseBytes = size(sqlDirectory.appendingPathComponent(SQLiteCollectionStore.fileName))

        // Queries: the bench's query vectors when given, else rows of the collection; a made-up text for BM25.
        let queries: [[Float]] = arguments.options["queries"].map { path in
            let flat = readFloats(path)
            return stride(from: 0, to: flat.count, by: dimension).map { Array(flat[$0..<$0 + dimension]) }
        } ?? (0..<64).map { Array(vectors[($0 * 997 % rows) * dimension..<($0 * 997 % rows + 1) * dimension]) }
        var queryProse = Prose(seed: 99)
        let queryTexts = (0..<queries.count).map { _ in queryProse.text(characters: 40) }

        var rounds: [[String: Double]] = []
        for round in 0..<repeats {
            var figures: [String: Double] = [:]
            // Open, both ways; then search what each opened.
            var legacyOpened: DocumentCollection? = nil
            figures["open_legacy_s"] = try RAGBench.seconds { legacyOpened = try LegacyCollectionFile(directory: legacyDirectory).load() }
            var sqlOpened: CollectionSnapshot? = nil
            let reader = SQLiteCollectionStore(directory: sqlDirectory, readOnly: true)
            let started = ContinuousClock.now
            sqlOpened = try await reader.loadSnapshot()
            figures["open_sqlite_s"] = Double((ContinuousClock.now - started).components.attoseconds) * 1e-18
                + Double((ContinuousClock.now - started).components.seconds)
            reader.closeConnection()
            do {
                guard let legacy = legacyOpened, let sql = sqlOpened?.collection, legacy.chunks.count == sql.chunks.count else {
                    fail("the two collections differ")
                }
                func searchMedian(_ collection: DocumentCollection, hybrid: Bool) -> Double {
                    var times: [Double] = []
                    for (query, text) in zip(queries, queryTexts) {
                        times.append(RAGBench.seconds {
                            if hybrid {
                                _ = collection.search(query: text, vector: query, k: 10, options: RetrievalOptions())
                            } else {
                                _ = collection.search(vector: query, k: 10)
                            }
                        })
                    }
                    return median(times)
                }
                _ = legacy.search(vector: queries[0], k: 10)
                _ = sql.search(vector: queries[0], k: 10)
                figures["search_vector_legacy_s"] = searchMedian(legacy, hybrid: false)
                figures["search_vector_sqlite_s"] = searchMedian(sql, hybrid: false)
                figures["search_hybrid_legacy_s"] = searchMedian(legacy, hybrid: true)
                figures["search_hybrid_sqlite_s"] = searchMedian(sql, hybrid: true)
            }
            legacyOpened = nil
            var inMemory = sqlOpened!.collection
            sqlOpened = nil

            // The in-memory side of a write, on the snapshot the database opened (held by nothing else, as an engine's
            // is between searches): appending a 10-page document in place, and removing it again (which rebuilds the
            // indexes' rows).
            var spare = SplitMix(state: UInt64(100 + round))
            let spareVectors = VectorIndex(
                dimension: dimension,
                storage: (0..<chunksPerDocument * dimension).map { _ in Float(Int(spare.next() % 2001) - 1000) / 1000 }).storage
            let extra = document(number: 2_000_000 + round, chunks: chunksPerDocument, vectors: spareVectors[...], prose: &prose)
            figures["apply_add_s"] = RAGBench.seconds {
                inMemory.add(extra.record, chunks: extra.chunks, normalizedVectors: extra.vectors, terms: extra.terms)
            }
            figures["apply_remove_s"] = RAGBench.seconds { inMemory.remove(extra.record.id) }

            // Add a 10-page document, both ways: the old store saved the whole collection with it.
            var random = SplitMix(state: UInt64(round + 1))
            let added = (0..<chunksPerDocument * dimension).map { _ in Float(Int(random.next() % 2001) - 1000) / 1000 }
            let document = document(
                number: 1_000_000 + round, chunks: chunksPerDocument,
                vectors: VectorIndex(dimension: dimension, storage: added).storage[...], prose: &prose)
            var grown = collection
            grown.add(document.record, chunks: document.chunks, normalizedVectors: document.vectors, terms: document.terms)
            figures["add_legacy_s"] = RAGBench.seconds { legacySave(grown, in: legacyDirectory) }
            grown = collection
            let writer = SQLiteCollectionStore(directory: sqlDirectory)
            _ = try await writer.currentVersion()  // open the connection outside the measurement, as a running engine has it
            let header = CollectionHeader(embedderID: collection.embedderID, dimension: dimension)
            let addStarted = ContinuousClock.now
            _ = try await writer.add(document, header: header, maxChunks: 0)
            let addElapsed = ContinuousClock.now - addStarted
            figures["add_sqlite_s"] = Double(addElapsed.components.seconds) + Double(addElapsed.components.attoseconds) * 1e-18
            _ = try await writer.remove(document.record.id)
            writer.closeConnection()
            if let databaseURL, let postgres {
                let openStarted = ContinuousClock.now
                let reader = try await PostgresCollectionStore(url: databaseURL, maxConnections: 2)
                let opened = try await reader.loadSnapshot()
                figures["open_postgres_s"] = seconds(since: openStarted)
                await reader.shutdown()
                guard opened?.collection.chunks.count == collection.chunks.count else { fail("the PostgreSQL collection differs") }
                _ = try await postgres.currentVersion()  // the pool's connection is open, as a running engine's is
                let addStarted = ContinuousClock.now
                _ = try await postgres.add(document, header: header, maxChunks: 0)
                figures["add_postgres_s"] = seconds(since: addStarted)
                _ = try await postgres.remove(document.record.id)
            }
            legacySave(collection, in: legacyDirectory)
            rounds.append(figures)
            FileHandle.standardError.write(Data("round \(round + 1): \(figures)\n".utf8))
        }
        var result: [String: Any] = [
            "bench": "storage", "chunks": rows, "documents": number, "dimension": dimension, "text_bytes": textBytes,
            "legacy_file_bytes": legacyBytes, "database_bytes": databaseBytes, "bm25_rebuild_s": rebuild,
            "legacy_first_save_s": firstSave, "migration_s": migration, "rounds": rounds,
        ]
        if let postgres {
            result["postgres_populate_s"] = Double(populate.components.seconds) + Double(populate.components.attoseconds) * 1e-18
            await postgres.shutdown()
        }
        for key in rounds.first?.keys.sorted() ?? [] {
            result[String(key.dropLast(2)) + "_median_s"] = median(rounds.compactMap { $0[key] })
        }
        result["median_s"] = result["add_sqlite_median_s"]
        return result
    }
}
