import Foundation
import RAGCore
import RAGTesting
import Testing

/// Issue #12, item 2: a small PDF must not become a lot of text, chunks and embedding work. A page object named
/// many times in the page tree is indexed once; text is bounded per byte of the file; the collection has a quota.
@Suite struct AmplificationTests {
    /// One page of prose, about 4,000 characters (50 wrapped lines).
    static let pageText = (1...60).map { "Line \($0) of the shared page says something about topic \($0 % 7)." }
        .joined(separator: " ")

    /// `count` pages of different prose, as a long report has.
    static func prose(pages count: Int) -> [String] {
        let words = [
            "the", "engine", "reads", "every", "page", "of", "a", "report", "and", "splits", "its", "text", "into",
            "chunks", "that", "are", "embedded", "searched", "cited", "by", "number", "with", "file", "name",
            "quarterly", "revenue", "grew", "while", "costs", "fell", "in", "most", "regions", "after", "audit",
        ]
        var seed: UInt64 = 12
        return (1...count).map { page in
            (0..<520).map { _ in
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return words[Int(seed >> 33) % words.count]
            }.joined(separator: " ") + " (page \(page))"
        }
    }

    private func load(_ data: Data, _ name: String = "test.pdf", limits: ExtractionLimits = .init()) throws -> Document {
        try DocumentLoader(limits: limits).load(data: data, fileName: name)
    }

    private func error(_ body: () throws -> Document) -> DocumentError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? DocumentError
        }
    }

    // MARK: Repeated page objects

    @Test(arguments: [1, 4])
    func aPageTreeNamingOnePageManyTimesIsIndexedOnce(threads: Int) throws {
        let pdf = TestPDF.sharedPages([Self.pageText], kids: Array(repeating: 0, count: 500))
        var limits = ExtractionLimits()
        limits.threads = threads
        let document = try load(pdf, "amplifier.pdf", limits: limits)
        #expect(document.pageCount == 500)
        #expect(document.pages.map(\.number) == [1])
        #expect(document.warnings.map(\.kind) == [.repeatedPages])
        let message = try #require(document.warnings.first?.message)
        #expect(message.hasPrefix("499 of 500 pages are the same page object as an earlier page (page 2 is page 1)"))
    }

    @Test(arguments: [1, 3])
    func repeatedPagesAreLeftOutWhereverTheyAre(threads: Int) throws {
        // Kids: A B A C B A C D  -> pages 1 (A), 2 (B), 4 (C), 8 (D) are indexed; 3, 5, 6, 7 repeat them.
        let texts = ["Alpha page text.", "Bravo page text.", "Charlie page text.", "Delta page text."]
        let pdf = TestPDF.sharedPages(texts, kids: [0, 1, 0, 2, 1, 0, 2, 3])
        var limits = ExtractionLimits()
        limits.threads = threads
        let document = try load(pdf, limits: limits)
        #expect(document.pages.map(\.number) == [1, 2, 4, 8])
        #expect(document.pages.map(\.text) == texts)
        #expect(document.warnings.count == 1)
        #expect(document.warnings.first?.message.hasPrefix("4 of 8 pages") == true)
        #expect(document.warnings.first?.message.contains("(page 3 is page 1)") == true)
    }

    @Test func distinctPagesWithTheSameTextAreNotRepeats() throws {
        // Same text, different page objects: a real document may repeat a page's text; only the object counts.
        let document = try load(TestPDF.make(pages: ["Same text.", "Same text.", "Same text."]))
        #expect(document.pages.map(\.number) == [1, 2, 3])
        #expect(document.warnings.isEmpty)
    }

    @Test func theIssueAmplifierBecomesAHandfulOfChunks() async throws {
        // The shape of issue #12's file: 9,999 page-tree entries naming one page. It was 49,995 chunks.
        let pdf = TestPDF.sharedPages([Self.pageText], kids: Array(repeating: 0, count: 9_999))
        #expect(pdf.count < 80_000)
        let embedder = MockEmbedder()
        let engine = try await Engine(embedder: embedder)
        let record = try await engine.ingest(data: pdf, fileName: "amplifier.pdf")
        #expect(record.pageCount == 9_999)
        #expect(record.indexedPages == 1)
        // One page's chunks (chunks end at a sentence or a word, so a page takes at most about twice its size's worth).
        #expect(record.chunkCount <= 2 * (Self.pageText.utf8.count / ChunkingOptions().maxCharacters + 1))
        #expect(record.warnings.map(\.kind) == [.repeatedPages])
        #expect(embedder.batches.joined().count == record.chunkCount)
        let hits = try await engine.search("shared page topic", k: 50)
        #expect(Set(hits.map(\.chunk.pageStart)) == [1])
    }

    // MARK: Characters per byte

    @Test(arguments: [1, 4])
    func manyPagesDrawingOneFormOfTextAreRefusedForTheirSize(threads: Int) throws {
        // 600 distinct pages, each drawing the same Form XObject: about 2.4 million characters from a ~90 KB file.
        let pdf = TestPDF.sharedFormXObject(pages: 600, text: Self.pageText)
        var limits = ExtractionLimits()
        limits.threads = threads
        let refused = try #require(error { try load(pdf, "forms.pdf", limits: limits) })
        #expect(refused.code == .tooMuchTextForSize)
        #expect(refused.message.contains("the \(pdf.count)-byte file yields more than"))
        #expect(refused.message.contains("maxCharactersPerByte"))
        #expect(refused.description.hasPrefix("forms.pdf: the document yields far more text than a file of its size holds"))
        // It is the per-byte rule: without it the same file loads, all 600 pages.
        limits.maxCharactersPerByte = 0
        #expect(try load(pdf, limits: limits).pages.count == 600)
    }

    @Test func aDenseRealSizedPDFIsUnaffected() throws {
        // 300 pages of different prose, compressed as real writers do and with no embedded fonts: more text per
        // byte than any PDF measured on this machine (see ExtractionLimits.maxCharactersPerByte).
        let texts = Self.prose(pages: 300)
        let pdf = TestPDF.make(pages: texts, compressed: true)
        let document = try load(pdf, "report.pdf")
        #expect(document.pages.count == 300)
        #expect(document.warnings.isEmpty)
        let characters = document.pages.reduce(0) { $0 + $1.text.unicodeScalars.count }
        let ratio = Double(characters) / Double(pdf.count)
        #expect(ratio > 1, "the fixture is denser than a plain-text file")
        #expect(ratio * 2 < ExtractionLimits().maxCharactersPerByte, "the default leaves at least twice this ratio")
    }

    @Test func smallFilesAreNeverRefusedForTheirSize() throws {
        var limits = ExtractionLimits()
        limits.maxCharactersPerByte = 0.01
        // Under the allowance, a file may hold any amount of text per byte.
        let document = try load(TestPDF.make(pages: ["A small memo.", "Its second page."]), limits: limits)
        #expect(document.pages.count == 2)
        #expect(try load(Data("A short note.".utf8), "note.txt", limits: limits).pages.count == 1)
    }

    @Test func textFilesFollowTheSameRule() throws {
        // A text file is at most one character per byte, so only a ratio under 1 can refuse one.
        let text = Data(String(repeating: "plain words ", count: 20_000).utf8)
        #expect(try load(text, "notes.txt").pages.count == 1)
        var limits = ExtractionLimits()
        limits.maxCharactersPerByte = 0.5
        limits.minimumCharacterAllowance = 1_000
        #expect(error { try load(text, "notes.txt", limits: limits) }?.code == .tooMuchTextForSize)
    }

    @Test(arguments: [
        (bytes: 0, perByte: 8.0, allowance: 100_000, expected: 100_000),
        (bytes: 10_000, perByte: 8.0, allowance: 100_000, expected: 100_000),
        (bytes: 1_000_000, perByte: 8.0, allowance: 100_000, expected: 8_000_000),
        (bytes: 100_000_000, perByte: 8.0, allowance: 100_000, expected: 50_000_000),
        (bytes: 1_000_000, perByte: 0.0, allowance: 100_000, expected: 50_000_000),
        (bytes: 1_000, perByte: 2.5, allowance: 0, expected: 2_500),
    ])
    func characterBudget(bytes: Int, perByte: Double, allowance: Int, expected: Int) {
        let limits = ExtractionLimits(maxCharactersPerByte: perByte, minimumCharacterAllowance: allowance)
        #expect(limits.characterBudget(forBytes: bytes) == expected)
    }

    @Test(arguments: [
        (ExtractionLimits(maxCharactersPerByte: .nan), "maxCharactersPerByte"),
        (ExtractionLimits(maxCharactersPerByte: .infinity), "maxCharactersPerByte"),
        (ExtractionLimits(maxCharactersPerByte: -1), "maxCharactersPerByte"),
        (ExtractionLimits(minimumCharacterAllowance: -1), "minimumCharacterAllowance"),
        (ExtractionLimits(maxCharacters: 0), "maxCharacters"),
        (ExtractionLimits(maxPages: 0), "maxPages"),
    ])
    func unusableLimitsAreNamed(limits: ExtractionLimits, field: String) {
        #expect(throws: InvalidLimit.self) { try limits.validate() }
        do {
            try limits.validate()
        } catch {
            #expect(error.field == field)
        }
    }

    @Test func theDefaultsAreValid() throws {
        try ExtractionLimits().validate()
    }

    // MARK: Collection quota

    @Test func theQuotaRefusesAnIngestThatWouldPassItAndChangesNothing() async throws {
        let metrics = RAGMetrics()
        let embedder = MockEmbedder()
        let engine = try await Engine(configuration: EngineConfiguration(maxCollectionChunks: 10), embedder: embedder, metrics: metrics)
        let first = try await engine.ingest(data: TestPDF.make(pages: Self.prose(pages: 1)), fileName: "first.pdf")
        #expect(first.chunkCount > 0 && first.chunkCount < 10)
        let batches = embedder.batches.count
        let before = engine.collection

        let big = TestPDF.make(pages: Self.prose(pages: 3))
        let refused = await #expect(throws: EngineError.self) { try await engine.ingest(data: big, fileName: "big.pdf") }
        #expect(refused?.code == .collectionQuotaExceeded)
        #expect(refused?.message.contains("big.pdf") == true)
        #expect(refused?.message.contains("limit of 10 chunks (maxCollectionChunks)") == true)
        #expect(engine.collection.documents == before.documents)
        #expect(engine.collection.chunks.count == before.chunks.count)
        #expect(embedder.batches.count == batches, "nothing was embedded for the refused document")
        let text = metrics.render()
        #expect(text.contains(#"rag_documents_refused_total{reason="collection_quota"} 1"#))
        #expect(text.contains(#"rag_ingest_errors_total{reason="collection_quota"} 1"#))

        // With no quota (0) the same document goes in.
        let unlimited = try await Engine(configuration: EngineConfiguration(maxCollectionChunks: 0))
        _ = try await unlimited.ingest(data: TestPDF.make(pages: Self.prose(pages: 1)), fileName: "first.pdf")
        _ = try await unlimited.ingest(data: big, fileName: "big.pdf")
        #expect(unlimited.collection.chunks.count > 10)
    }

    @Test func aChangedFileCountsOnlyTheDifferenceAgainstTheQuota() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quota-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("report.pdf")
        try TestPDF.make(pages: Self.prose(pages: 2)).write(to: file)
        let engine = try await Engine()
        let first = await engine.ingest(paths: [file.path])
        let chunks = try #require(first.added.first?.chunkCount)

        var configuration = EngineConfiguration()
        configuration.maxCollectionChunks = chunks + 3
        let limited = try await Engine(configuration: configuration)
        _ = await limited.ingest(paths: [file.path])
        // A new version of the same file replaces the old one: within the quota although both together are not.
        try TestPDF.make(pages: Self.prose(pages: 2).map { $0 + " revised" }).write(to: file)
        let second = await limited.ingest(paths: [file.path])
        #expect(second.failed.isEmpty)
        #expect(limited.collection.documents.count == 1)
        // Another file does not fit.
        let other = directory.appendingPathComponent("other.pdf")
        try TestPDF.make(pages: Self.prose(pages: 2)).write(to: other)
        let third = await limited.ingest(paths: [other.path])
        #expect(third.failed.map(\.reason) == ["collection_quota"])
        #expect(limited.collection.documents.map(\.fileName) == ["report.pdf"])
    }

    // MARK: Metrics

    @Test func refusedDocumentsAreCountedByReason() async throws {
        let metrics = RAGMetrics()
        let engine = try await Engine(metrics: metrics)
        let pdf = TestPDF.sharedFormXObject(pages: 600, text: Self.pageText)
        let error = await #expect(throws: DocumentError.self) { try await engine.ingest(data: pdf, fileName: "forms.pdf") }
        #expect(error?.code == .tooMuchTextForSize)
        _ = try await engine.ingest(
            data: TestPDF.sharedPages([Self.pageText], kids: Array(repeating: 0, count: 50)), fileName: "repeats.pdf")
        let text = metrics.render()
        #expect(text.contains(#"rag_documents_refused_total{reason="too_much_text_for_size"} 1"#))
        #expect(text.contains(#"rag_ingest_errors_total{reason="too_much_text_for_size"} 1"#))
        // Repeated pages are not failures.
        #expect(text.contains(#"rag_ingest_errors_total{reason="unmappable_text"} 0"#))
        #expect(text.contains(#"rag_ingest_errors_total{reason="page_failed"} 0"#))
    }
}
