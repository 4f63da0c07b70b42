import Foundation
import RAGTesting
import Testing

@testable import RAGCore

@Suite struct PorterStemmerTests {
    /// Examples from Porter's paper and the reference implementation's vocabulary/output files.
    @Test(arguments: [
        ("caresses", "caress"), ("ponies", "poni"), ("ties", "ti"), ("caress", "caress"), ("cats", "cat"),
        ("feed", "feed"), ("agreed", "agre"), ("plastered", "plaster"), ("bled", "bled"), ("motoring", "motor"),
        ("sing", "sing"), ("conflated", "conflat"), ("troubled", "troubl"), ("sized", "size"), ("hopping", "hop"),
        ("tanned", "tan"), ("falling", "fall"), ("hissing", "hiss"), ("fizzed", "fizz"), ("failing", "fail"),
        ("filing", "file"), ("happy", "happi"), ("sky", "sky"), ("relational", "relat"), ("conditional", "condit"),
        ("rational", "ration"), ("valenci", "valenc"), ("digitizer", "digit"), ("conformabli", "conform"),
        ("radicalli", "radic"), ("differentli", "differ"), ("vileli", "vile"), ("analogousli", "analog"),
        ("vietnamization", "vietnam"), ("predication", "predic"), ("operator", "oper"), ("feudalism", "feudal"),
        ("decisiveness", "decis"), ("hopefulness", "hope"), ("callousness", "callous"), ("formaliti", "formal"),
        ("sensitiviti", "sensit"), ("sensibiliti", "sensibl"), ("triplicate", "triplic"), ("formative", "form"),
        ("formalize", "formal"), ("electriciti", "electr"), ("electrical", "electr"), ("hopeful", "hope"),
        ("goodness", "good"), ("revival", "reviv"), ("allowance", "allow"), ("inference", "infer"), ("airliner", "airlin"),
        ("gyroscopic", "gyroscop"), ("adjustable", "adjust"), ("defensible", "defens"), ("irritant", "irrit"),
        ("replacement", "replac"), ("adjustment", "adjust"), ("dependent", "depend"), ("adoption", "adopt"),
        ("homologou", "homolog"), ("communism", "commun"), ("activate", "activ"), ("angulariti", "angular"),
        ("homologous", "homolog"), ("effective", "effect"), ("bowdlerize", "bowdler"), ("probate", "probat"),
        ("rate", "rate"), ("cease", "ceas"), ("controll", "control"), ("roll", "roll"), ("generalizations", "gener"),
        ("running", "run"), ("configuration", "configur"), ("configuring", "configur"), ("configured", "configur"),
        ("a", "a"), ("is", "is"), ("matrix", "matrix"), ("x11", "x11"), ("café", "café"),
    ])
    func stemsLikeTheReference(word: String, stem: String) {
        #expect(PorterStemmer.stem(word) == stem)
    }
}

@Suite struct TextAnalyzerTests {
    @Test func lowercasesFoldsAccentsDropsStopWordsAndStems() {
        #expect(TextAnalyzer().terms(in: "Configuring the PRINTERS, café-Crème!") == ["configur", "printer", "cafe", "creme"])
    }

    @Test func splitsIdeographsAndKeepsNumbersAndIdentifiers() {
        #expect(TextAnalyzer().terms(in: "東京は2024年 x86_64 ε-δ") == ["東", "京", "は", "2024", "年", "x86", "64", "ε", "δ"])
    }

    @Test func skipsOverlongRuns() {
        #expect(TextAnalyzer().terms(in: String(repeating: "a", count: 41) + " matrix") == ["matrix"])
    }
}

@Suite struct LexicalIndexTests {
    static let texts = [
        "The printer queue is managed with lpadmin; printers are configured there.",
        "Paper sizes: A4 is the default paper size, Letter in the United States.",
        "Printers, printers everywhere, and a long paragraph about nothing in particular that goes on and on.",
        "Vacation days: employees receive 25 days of paid vacation per year.",
    ]

    @Test func ranksByBM25() throws {
        let index = LexicalIndex(texts: Self.texts)
        let hits = index.search("how do I configure the printer queue", k: 4)
        #expect(hits.map(\.row) == [0, 2])  // rows without a query term are never returned
        // Exactly BM25 for row 0: terms configur (df 1), printer (df 2: rows 0 and 2), queue (df 1).
        let lengths = Self.texts.map { Float(TextAnalyzer().terms(in: $0).count) }
        let average = lengths.reduce(0, +) / 4
        func weight(tf: Float, df: Float, length: Float) -> Float {
            let idf = logf(1 + (4 - df + 0.5) / (df + 0.5))
            return idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average))
        }
        let expected = weight(tf: 1, df: 1, length: lengths[0]) + weight(tf: 2, df: 2, length: lengths[0]) + weight(tf: 1, df: 1, length: lengths[0])
        #expect(abs(hits[0].score - expected) < 1e-5)
    }

    @Test func filtersRowsAndRespectsK() {
        let index = LexicalIndex(texts: Self.texts)
        #expect(index.search("printers paper", k: 1).count == 1)
        #expect(index.search("printers", k: 5, allowed: { $0 != 0 }).map(\.row) == [2])
        #expect(index.search("the and of", k: 5).isEmpty)  // stop words only
        #expect(LexicalIndex().search("printer", k: 5).isEmpty)
    }

    @Test func removingRowsMatchesAFreshIndexOfTheRest() {
        var index = LexicalIndex(texts: Self.texts)
        index.removeRows { $0 == 0 || $0 == 2 }
        let fresh = LexicalIndex(texts: [Self.texts[1], Self.texts[3]])
        for query in ["paper size", "vacation days per year", "printer", "letter"] {
            #expect(index.search(query, k: 5) == fresh.search(query, k: 5), "\(query)")
        }
        #expect(index.termCount == fresh.termCount)
    }

    @Test func roundTripsThroughBytesAndRebuildsForAnotherAnalyzerVersion() throws {
        let index = LexicalIndex(texts: Self.texts)
        var writer = BinaryWriter()
        index.encode(into: &writer)
        var reader = BinaryReader(Data(writer.buffer))
        let decoded = try #require(try LexicalIndex.decode(from: &reader, rows: Self.texts.count))
        #expect(reader.offset == writer.buffer.count)
        for query in ["printer queue", "paper", "vacation"] { #expect(decoded.search(query, k: 5) == index.search(query, k: 5)) }
        // Another analyzer version: read past, but the caller must rebuild.
        var other = writer.buffer
        other[0] = 0xEE
        var otherReader = BinaryReader(Data(other))
        #expect(try LexicalIndex.decode(from: &otherReader, rows: Self.texts.count) == nil)
        // A row count that does not match the chunks is damage.
        var wrongReader = BinaryReader(Data(writer.buffer))
        #expect(throws: (any Error).self) { try LexicalIndex.decode(from: &wrongReader, rows: 3) }
    }
}

@Suite struct HybridRetrievalTests {
    @Test func reciprocalRankFusionAddsOneOverKPlusRank() {
        let vector = [VectorIndex.Hit(row: 7, score: 0.9), VectorIndex.Hit(row: 3, score: 0.8)]
        let lexical = [VectorIndex.Hit(row: 3, score: 12), VectorIndex.Hit(row: 9, score: 4)]
        let fused = RankFusion.fuse(vector: vector, lexical: lexical, fusion: .reciprocalRank(k: 60))
        #expect(fused.map(\.row) == [3, 7, 9])
        #expect(abs(fused[0].score - (1 / 62 + 1 / 61)) < 1e-7)
        #expect(abs(fused[1].score - 1 / 61) < 1e-7)
    }

    @Test func weightedFusionNormalisesEachRanking() {
        let vector = [VectorIndex.Hit(row: 1, score: 0.9), VectorIndex.Hit(row: 2, score: 0.5)]
        let lexical = [VectorIndex.Hit(row: 2, score: 10), VectorIndex.Hit(row: 3, score: 2)]
        let fused = RankFusion.fuse(vector: vector, lexical: lexical, fusion: .weighted(vectorWeight: 0.7))
        #expect(fused.map(\.row) == [1, 2, 3])  // 0.7, 0.3, 0
        #expect(abs(fused[0].score - 0.7) < 1e-6 && abs(fused[1].score - 0.3) < 1e-6)
    }

    @Test func parsesFusionSpellings() {
        #expect(RetrievalOptions.Fusion("auto") == .automatic)
        #expect(RetrievalOptions.Fusion("rrf") == .reciprocalRank(k: 60))
        #expect(RetrievalOptions.Fusion("RRF:10") == .reciprocalRank(k: 10))
        #expect(RetrievalOptions.Fusion("weighted:0.3") == .weighted(vectorWeight: 0.3))
        #expect(RetrievalOptions.Fusion("weighted:2") == nil)
        #expect(RetrievalOptions.Fusion("max") == nil)
    }

    /// A mock embedder whose vectors say nothing about meaning: only BM25 can find the page by its words.
    @Test func hybridFindsWhatTheWordsSayAndReportsCosineScores() async throws {
        let engine = try await Engine(embedder: MockEmbedder(dimension: 16))
        let pages = (1...30).map { "Page \($0) talks about topic number \($0) in general terms." }
            + ["The lpadmin command adds a printer queue to CUPS."]
        _ = try await engine.ingest(data: Data(pages.joined(separator: "\u{0C}").utf8), fileName: "manual.txt")
        let lexical = try await engine.search("lpadmin printer queue", k: 3, retrieval: RetrievalOptions(mode: .lexical))
        #expect(lexical.first?.chunk.pageStart == 31)
        let hybrid = try await engine.search("lpadmin printer queue", k: 3)
        #expect(hybrid.contains { $0.chunk.pageStart == 31 })
        let hit = try #require(hybrid.first { $0.chunk.pageStart == 31 })
        #expect(hit.lexicalScore != nil)
        // The score is the chunk's cosine similarity, whichever ranking brought it.
        let query = try await MockEmbedder(dimension: 16).embed(["lpadmin printer queue"])[0]
        let row = try #require(engine.collection.chunks.firstIndex { $0.id == hit.chunk.id })
        #expect(abs(hit.score - engine.collection.vectors.similarity(VectorIndex.normalized(query), row: row)) < 1e-6)
    }
}

/// BM25 matches a chunk with the chunks around it on its page: a question's words split over two small chunks still
/// meet, and never across a page break or a document.
@Suite struct LexicalWindowTests {
    static func chunk(_ ordinal: Int, page: Int, _ text: String, document: String = "d") -> Chunk {
        Chunk(id: ChunkID(rawValue: "\(document)\(ordinal)"), documentID: DocumentID(rawValue: document), fileName: "f.pdf",
              pageStart: page, pageEnd: page, ordinal: ordinal, text: text)
    }

    @Test func eachChunkIsIndexedWithItsNeighboursOnItsPage() {
        let chunks = [
            Self.chunk(0, page: 1, "Run lpadmin as root."), Self.chunk(1, page: 1, "It adds a printer queue."),
            Self.chunk(2, page: 2, "Page two text."), Self.chunk(0, page: 1, "Other document.", document: "e"),
        ]
        #expect(Chunk.lexicalTexts(chunks) == [
            "Run lpadmin as root.\nIt adds a printer queue.", "Run lpadmin as root.\nIt adds a printer queue.",
            "Page two text.", "Other document.",
        ])
        // Either chunk now holds all three words, as the passage an answer is given does.
        let index = LexicalIndex(texts: Chunk.lexicalTexts(chunks))
        #expect(index.search("lpadmin printer queue", k: 4).map(\.row).sorted() == [0, 1])
    }
}

/// Citations are per page: a page takes one place in the results, ranked by its best chunk and, a little, by its others.
@Suite struct PageFusionTests {
    @Test func aPageIsRankedByItsBestChunkPlusAShareOfItsOthers() {
        let ranked = [
            VectorIndex.Hit(row: 0, score: 0.9), VectorIndex.Hit(row: 1, score: 0.85), VectorIndex.Hit(row: 2, score: 0.8),
            VectorIndex.Hit(row: 3, score: -0.5),
        ]
        let page = [1, 2, 2, 1]  // rows 1 and 2 are on page 2, rows 0 and 3 on page 1
        // Page 2: 0.85 + 0.3 · 0.8 = 1.09 beats page 1: 0.9 (+ nothing for a negative score).
        let fused = RankFusion.fusePages(ranked, weight: 0.3) { page[$0] }
        #expect(fused.map(\.row) == [1, 0])
        #expect(abs(fused[0].score - 1.09) < 1e-6 && abs(fused[1].score - 0.9) < 1e-6)
        // With no weight, each page is its best chunk.
        #expect(RankFusion.fusePages(ranked, weight: 0) { page[$0] }.map(\.row) == [0, 1])
    }

    @Test func parsesOffOrAWeight() {
        #expect(RetrievalOptions.PageFusion("off") == .off)
        #expect(RetrievalOptions.PageFusion("OFF") == .off)
        #expect(RetrievalOptions.PageFusion("0.3") == .weighted(0.3))
        #expect(RetrievalOptions.PageFusion("1.5") == nil)
        #expect(RetrievalOptions.PageFusion("nan") == nil)
        #expect(RetrievalOptions().pageFusion == .weighted(0.3))
    }

    /// Page 1 mentions the printer queue in every chunk; page 2 once. Chunk by chunk, page 1 fills the results;
    /// by page, each page is there once, with its best chunk's own score.
    @Test func eachPageAppearsOnceWithItsBestChunksScore() async throws {
        let engine = try await Engine(
            configuration: EngineConfiguration(chunking: ChunkingOptions(maxCharacters: 80, overlapCharacters: 0)),
            embedder: MockEmbedder(dimension: 16))
        let page1 = (1...6).map { "Step \($0): the printer queue holds job \($0) until the spooler sends it." }.joined(separator: " ")
        let page2 = "Use lpadmin to add a printer queue."
        let page3 = "Nothing here is about printing at all."
        _ = try await engine.ingest(data: Data([page1, page2, page3].joined(separator: "\u{0C}").utf8), fileName: "manual.txt")
        for mode in [RetrievalOptions.Mode.lexical, .vector, .hybrid] {
            let chunks = try await engine.search("printer queue", k: 4, retrieval: RetrievalOptions(mode: mode, pageFusion: .off))
            let pages = try await engine.search("printer queue", k: 4, retrieval: RetrievalOptions(mode: mode))
            let pageNumbers = pages.map(\.chunk.pageStart)
            #expect(Set(pageNumbers).count == pageNumbers.count, "\(mode): a page appears twice: \(pageNumbers)")
            #expect(pages.map(\.rank) == Array(1...pages.count))
            if mode != .vector {  // the mock's vectors mean nothing, so only words order the pages
                #expect(chunks.filter { $0.chunk.pageStart == 1 }.count > 1, "\(mode): \(chunks.map(\.chunk.pageStart))")
                #expect(pageNumbers.prefix(2).sorted() == [1, 2], "\(mode): \(pageNumbers)")
            }
            // Each hit keeps its chunk's own score: BM25 in lexical mode, else its cosine similarity.
            let own = try await engine.search("printer queue", k: 50, retrieval: RetrievalOptions(mode: mode, candidates: 50, pageFusion: .off))
            for hit in pages {
                let chunk = try #require(own.first { $0.chunk.id == hit.chunk.id })
                #expect(abs(hit.score - chunk.score) < 1e-6)
            }
        }
    }
}

@Suite struct NeighbourPassageTests {
    static func collection() -> DocumentCollection {
        var collection = DocumentCollection(embedderID: "mock", dimension: 2)
        let texts = [
            "Alpha one two three. The overlap sentence is here.", "The overlap sentence is here. Beta four five.",
            "Gamma six seven eight.", "Delta nine ten.",
        ]
        let pages = [(1, 1), (1, 1), (1, 2), (3, 3)]
        let document0 = Document(fileName: "m.pdf", kind: .pdf, pageCount: 3, pages: [], contentHash: SHA256.hex("m"), byteCount: 1)
        let chunks = texts.enumerated().map { ordinal, text in
            Chunk(id: ChunkID(rawValue: "c\(ordinal)"), documentID: document0.id, fileName: "m.pdf", pageStart: pages[ordinal].0,
                  pageEnd: pages[ordinal].1, ordinal: ordinal, text: text)
        }
        let record = DocumentRecord(document: document0, chunkCount: 4, sourcePath: nil)
        collection.add(record, chunks: chunks, vectors: chunks.map { _ in [1, 0] })
        return collection
    }

    @Test func widensHitsOnTheirPagesAndMergesWithoutRepeatingTheOverlap() throws {
        let collection = Self.collection()
        let hit = SearchHit(chunk: collection.chunks[0], score: 0.9, rank: 1)
        let merged = collection.passages(for: [hit], neighbours: 1)
        #expect(merged.count == 1)
        #expect(merged[0].chunk.text == "Alpha one two three. The overlap sentence is here. Beta four five.")
        #expect(merged[0].chunk.pageLabel == "p. 1")
        #expect(merged[0].score == 0.9)
        // The passage keeps its hit's identity: a citation names the chunk that matched.
        let around = collection.passages(for: [SearchHit(chunk: collection.chunks[1], score: 0.9, rank: 1)], neighbours: 1)
        #expect(around.map(\.chunk.id) == [collection.chunks[1].id] && around[0].chunk.ordinal == 1)
        #expect(around[0].chunk.text.hasPrefix("Alpha one") && around[0].chunk.pageLabel == "pp. 1–2")
        // Chunk 3 is on page 3 only: chunk 2 (pp. 1–2) shares no page with it, so it stays alone.
        let last = collection.passages(for: [SearchHit(chunk: collection.chunks[3], score: 0.5, rank: 1)], neighbours: 2)
        #expect(last.map(\.chunk.text) == ["Delta nine ten."])
    }

    @Test func mergesHitsThatTouchKeepingTheBetterRank() throws {
        let collection = Self.collection()
        let hits = [
            SearchHit(chunk: collection.chunks[2], score: 0.8, rank: 1), SearchHit(chunk: collection.chunks[3], score: 0.7, rank: 2),
            SearchHit(chunk: collection.chunks[1], score: 0.6, rank: 3),
        ]
        let passages = collection.passages(for: hits, neighbours: 1)
        try #require(passages.map(\.rank) == [1, 2])
        #expect(passages[0].chunk.pageLabel == "pp. 1–2")
        #expect(passages[0].chunk.text.hasPrefix("Alpha one"))
        #expect(passages[0].chunk.text.hasSuffix("Gamma six seven eight."))
        #expect(passages[1].chunk.text == "Delta nine ten.")
        #expect(collection.passages(for: hits, neighbours: 0) == hits)
    }
}

/// The collection file of earlier releases, read to migrate it: format 2 keeps the lexical index, format 1 files have
/// it rebuilt from the chunk texts.
@Suite struct CollectionFormatTests {
    @Test func readsTheLexicalIndexAndReadsVersionOneFilesByRebuildingIt() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = LegacyCollectionFile(directory: directory)
        let collection = NeighbourPassageTests.collection()
        try Data(LegacyCollectionFile.encode(collection)).write(to: file.fileURL)
        let loaded = try #require(try file.load())
        #expect(loaded.lexicalSearch("overlap sentence", k: 4) == collection.lexicalSearch("overlap sentence", k: 4))
        #expect(loaded.lexicalIndex.termCount == collection.lexicalIndex.termCount)

        try Data(LegacyCollectionFile.encode(collection, version: 1)).write(to: file.fileURL)
        let old = try #require(try file.load())
        // Rebuilt with each chunk's neighbours on its page: c1 shares page 1 with c2, whose words it now matches.
        #expect(Set(old.lexicalSearch("gamma delta", k: 4).map(\.chunk.id.rawValue)) == ["c1", "c2", "c3"])
    }

    @Test func refusesADamagedLexicalSection() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = LegacyCollectionFile(directory: directory)
        let collection = NeighbourPassageTests.collection()
        var bytes = LegacyCollectionFile.encode(collection)
        // Claim more rows in the lexical section than there are chunks, and fix the checksum so only that is wrong.
        let vectorsEnd = bytes.count - 4 - { var w = BinaryWriter(); collection.lexicalIndex.encode(into: &w); return w.buffer.count }()
        bytes[vectorsEnd + 12] = 99
        bytes.removeLast(4)
        withUnsafeBytes(of: LegacyCollectionFile.checksum(bytes).littleEndian) { bytes.append(contentsOf: $0) }
        try Data(bytes).write(to: file.fileURL)
        let error = #expect(throws: CollectionError.self) { try file.load() }
        #expect(error?.code == .corrupt)
        #expect(error?.description.contains("lexical index") == true)
    }
}

@Suite struct RelevanceThresholdTests {
    @Test func refusesWithoutCallingTheModelWhenNothingIsSimilarEnough() async throws {
        let llm = MockLLMClient(replies: ["Paris [1]."])
        let metrics = RAGMetrics()
        var configuration = EngineConfiguration()
        configuration.retrieval.minimumScore = .value(0.3)
        let engine = try await Engine(configuration: configuration, llm: llm, metrics: metrics)
        _ = try await engine.ingest(data: Data(EngineTests.facts.utf8), fileName: "facts.txt")
        var events: [AnswerEvent] = []
        for try await event in engine.askStreaming("How do I replace a bicycle chain?") { events.append(event) }
        guard case .done(let answer) = events.last else { Issue.record("no answer"); return }
        #expect(!answer.isAnswered)
        #expect(answer.citations.isEmpty && answer.passages.isEmpty)
        #expect(answer.text.hasPrefix("The documents do not seem to answer this question."))
        #expect(answer.text.contains("facts.txt p. 1"))
        #expect(events.first == .passages([]))
        #expect(llm.requests.isEmpty)
        #expect(metrics.render().contains("rag_questions_unanswered_total 1"))

        let answered = try await engine.ask("What is the capital of France?")
        #expect(answered.isAnswered && answered.text == "Paris [1].")
        #expect(llm.requests.count == 1)
    }

    @Test func automaticUsesTheEmbeddersMeasuredSettingsAndLexicalModeHasNoThreshold() async throws {
        let engine = try await Engine(embedder: MockEmbedder())
        #expect(engine.minimumScore(for: RetrievalOptions()) == nil)
        let measured = RetrievalCalibration(minimumScore: 0.3, vectorWeight: 0.7)
        #expect(RetrievalOptions().resolved(for: measured) == RetrievalOptions(fusion: .weighted(vectorWeight: 0.7), minimumScore: .value(0.3)))
        #expect(RetrievalOptions().resolved(for: nil) == RetrievalOptions(fusion: .weighted(vectorWeight: 0.5), minimumScore: .disabled))
        #expect(RetrievalOptions(fusion: .reciprocalRank(k: 60)).resolved(for: measured).fusion == .reciprocalRank(k: 60))
        #expect(HashingEmbedder().calibration?.minimumScore == nil)
        #expect(engine.minimumScore(for: RetrievalOptions(minimumScore: .value(0.4))) == 0.4)
        #expect(engine.minimumScore(for: RetrievalOptions(mode: .lexical, minimumScore: .value(0.4))) == nil)
        #expect(engine.minimumScore(for: RetrievalOptions(minimumScore: .disabled)) == nil)
    }
}
