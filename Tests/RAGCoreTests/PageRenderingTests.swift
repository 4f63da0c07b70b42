import Foundation
@testable import RAGCore
import RAGTesting
import Testing

/// Page images for citations: the page drawn from the bytes the store keeps, with the cited passage highlighted.
@Suite struct PageRenderingTests {
    /// Twenty numbered sentences, one line each: small chunks split the page into several passages, one above another.
    static let lines = (1...20).map { "Sentence number \($0) talks about topic \($0 * 7) and the pump of valve \($0 * 3)." }
    static let pdf = TestPDF.make(pages: [lines.joined(separator: "\n"), "The second page says nothing of note."])

    /// Where TestPDF draws line `index` (0-based): its baseline in points from the top (72 740 Td, 14 points apart).
    static func baseline(ofLine index: Int) -> Double { 792 - 740 + 14 * Double(index) }

    static func engine(metrics: RAGMetrics = RAGMetrics(), limits: PageRenderLimits = PageRenderLimits()) async throws -> Engine {
        var configuration = EngineConfiguration(chunking: ChunkingOptions(maxCharacters: 300, overlapCharacters: 0))
        configuration.pageRendering = limits
        return try await Engine(configuration: configuration, metrics: metrics)
    }

    @Test func aCitedPassageIsHighlightedOverItsOwnLinesAndNowhereElse() async throws {
        let engine = try await Self.engine()
        let record = try await engine.ingest(data: Self.pdf, fileName: "pump.pdf")
        let chunks = engine.collection.chunks.filter { $0.documentID == record.id && $0.pageStart == 1 }
        #expect(chunks.count >= 3, "the page is split into several passages")
        for chunk in chunks {
            let rendered = try await engine.renderPage(document: record.id, page: 1, width: 612, chunk: chunk.ordinal)
            let image = try PNGImage(data: rendered.png)
            #expect(image.width == 612 && image.height == 792, "612 pixels wide: one pixel per point")
            #expect(rendered.width == 612 && rendered.height == 792)
            #expect(!rendered.highlights.isEmpty)
            let rows = Set(image.highlightedRows)
            for (index, line) in Self.lines.enumerated() {
                // A point just above the baseline, inside the line's letters.
                let y = Int(Self.baseline(ofLine: index) - 3)
                if chunk.text.contains(line) {
                    #expect(rows.contains(y), "line \(index + 1) of passage \(chunk.ordinal) is highlighted")
                } else if !chunk.text.contains("number \(index + 1) ") {
                    #expect(!rows.contains(y), "line \(index + 1) is not in passage \(chunk.ordinal), so not highlighted")
                }
            }
            // The text itself stays dark (the highlight multiplies): some pixels of a highlighted row are dark.
            let row = try #require(rows.min())
            #expect((0..<image.width).contains { x in image.pixel(x: x, y: row + 1).r < 100 } || rows.count > 1)
        }
    }

    @Test func aPageWithoutAPassageHasNoHighlightAndTheWidthSetsTheSize() async throws {
        let engine = try await Self.engine()
        let record = try await engine.ingest(data: Self.pdf, fileName: "pump.pdf")
        let rendered = try await engine.renderPage(document: record.id, page: 2, width: 306)
        let image = try PNGImage(data: rendered.png)
        #expect(image.width == 306 && image.height == 396)
        #expect(image.highlightedRows.isEmpty && rendered.highlights.isEmpty)
        #expect(rendered.pageLabel == nil, "the PDF defines no page labels")
        let byDefault = try await engine.renderPage(document: record.id, page: 2)
        #expect(byDefault.width == PageRenderLimits().defaultWidth)
    }

    @Test func aPassageIsFoundDespiteHyphenationWhitespaceAndCase() {
        // The page as MuPDF reads it: "a well-" at a line's end, "known fact," on the next, odd spacing.
        let lines = ["Here is a well-", "known   FACT, indeed.", "Unrelated words follow here."]
        var characters: [PageCharacter] = []
        for (line, text) in lines.enumerated() {
            for (column, scalar) in text.unicodeScalars.enumerated() {
                let x = Float(column * 6), y = Float(line * 14)
                characters.append(PageCharacter(scalar: scalar, line: line, box: PageRect(x0: x, y0: y, x1: x + 6, y1: y + 10)))
            }
        }
        let rects = PassageLocator.highlights(of: "is a wellknown fact, indeed", in: characters)
        #expect(rects.count == 2, "one rectangle per line of the passage: \(rects)")
        #expect(rects.allSatisfy { $0.y0 < 28 }, "nothing on the third line")
        #expect(rects.first?.x0 == 30, "it starts at 'is'")
        #expect(PassageLocator.highlights(of: "nothing like this appears", in: characters).isEmpty)
    }

    @Test func thePrintedPageLabelComesFromThePDF() async throws {
        let pdf = TestPDF.make(
            pages: ["Preface text.", "More preface.", "Chapter one text.", "Chapter one goes on."],
            pageLabels: "<< /Nums [0 << /S /r >> 2 << /S /D /P (A-) /St 5 >>] >>")
        let engine = try await Self.engine()
        let record = try await engine.ingest(data: pdf, fileName: "labels.pdf")
        var labels: [String?] = []
        for page in 1...4 { labels.append(try await engine.renderPage(document: record.id, page: page, width: 100).pageLabel) }
        #expect(labels == ["i", "ii", "A-5", "A-6"])
    }

    /// An encrypted PDF ingested with the engine's password is drawn with it too.
    @Test func anEncryptedPDFIsDrawnWithTheEnginesPassword() async throws {
        let locked = try TestPDF.encrypted(TestPDF.make(pages: ["The vault code is written on page one."]), userPassword: "pw")
        var configuration = EngineConfiguration()
        configuration.pdfPassword = "pw"
        let engine = try await Engine(configuration: configuration)
        let record = try await engine.ingest(data: locked, fileName: "vault.pdf")
        let rendered = try await engine.renderPage(document: record.id, page: 1, width: 300, chunk: 0)
        #expect(try PNGImage(data: rendered.png).width == 300)
        #expect(!rendered.highlights.isEmpty, "the passage is found in the decrypted text")
    }

    @Test func aHugePageIsRefusedByThePixelLimitNotDrawn() async throws {
        let tall = TestPDF.make(pages: ["A very tall page."], mediaBox: [0, 0, 100, 14_000_000])
        let engine = try await Self.engine(limits: PageRenderLimits(maxPixels: 4_000_000))
        let record = try await engine.ingest(data: tall, fileName: "tall.pdf")
        let error = await #expect(throws: EngineError.self) { try await engine.renderPage(document: record.id, page: 1, width: 1000) }
        #expect(error?.code == .invalidPageRequest)
        #expect(error?.message.contains("limit of 4000000") == true, "it names the limit: \(String(describing: error))")
    }

    /// The watchdog's switch: a run whose cookie is aborted stops with a limit error, which the engine reports as a
    /// page that cannot be drawn within the limits. (A cookie aborted before the run makes this independent of time.)
    @Test func aRunStoppedByItsCookieIsALimitError() throws {
        let cookie = try #require(MuPDFCookie())
        cookie.abort()
        let key = PageRenderer.Key(document: DocumentID(rawValue: "d"), page: 1, width: 300, passage: "Sentence number 1")
        let error = #expect(throws: DocumentError.self) {
            try PageRenderer.render(key, source: Self.pdf, fileName: "pump.pdf", password: nil, limits: PageRenderLimits(), cookie: cookie)
        }
        #expect((error?.underlying as? MuPDFError)?.isLimit == true)
        #expect(error?.message.contains("time limit") == true, "\(String(describing: error))")
    }

    @Test func badRequestsAreTypedErrors() async throws {
        let engine = try await Self.engine()
        let record = try await engine.ingest(data: Self.pdf, fileName: "pump.pdf")
        let text = try await engine.ingest(data: Data("Plain text.".utf8), fileName: "notes.txt")
        let cases: [(DocumentID, Int, Int?, Int?, EngineError.Code)] = [
            (DocumentID(rawValue: "0000000000000000"), 1, nil, nil, .documentNotFound),
            (record.id, 3, nil, nil, .pageNotFound),
            (record.id, 0, nil, nil, .pageNotFound),
            (record.id, 1, 50, nil, .invalidPageRequest),
            (record.id, 1, 100_000, nil, .invalidPageRequest),
            (record.id, 2, nil, 0, .pageNotFound),  // passage 0 is on page 1
            (record.id, 1, nil, 9999, .pageNotFound),
            (text.id, 1, nil, nil, .noPageImage),
        ]
        for (id, page, width, chunk, code) in cases {
            let error = await #expect(throws: EngineError.self) { try await engine.renderPage(document: id, page: page, width: width, chunk: chunk) }
            #expect(error?.code == code, "page \(page) width \(String(describing: width)) chunk \(String(describing: chunk))")
        }
    }

    @Test func aDocumentIngestedBeforeSourcesWereKeptSaysToIngestItAgain() async throws {
        let store = MemoryCollectionStore()
        let embedder = HashingEmbedder()
        let document = try DocumentLoader().load(data: Self.pdf, fileName: "old.pdf")
        let chunks = Chunker().chunks(of: document)
        var vectors = VectorIndex(dimension: embedder.dimension)
        vectors.add(try await embedder.embed(chunks.map(\.text)))
        // Stored as an earlier release stored it: without its bytes.
        let stored = StoredDocument(
            record: DocumentRecord(document: document, chunkCount: chunks.count, sourcePath: nil), chunks: chunks,
            vectors: vectors.storage, terms: DocumentTerms(texts: chunks.map(\.text)))
        _ = try await store.add(stored, header: CollectionHeader(embedderID: embedder.identifier, dimension: embedder.dimension), maxChunks: 0)
        let engine = try await Engine(configuration: EngineConfiguration(), store: store, embedder: embedder)
        let error = await #expect(throws: EngineError.self) { try await engine.renderPage(document: document.id, page: 1) }
        #expect(error?.code == .sourceNotKept)
        #expect(error?.message.contains("ingest it again") == true)
    }

    /// Any process draws any page: the one that did not ingest the PDF reads its bytes from the shared store.
    @Test(arguments: StoreFactory.all)
    func anotherProcessOnTheSameCollectionDrawsThePage(factory: StoreFactory) async throws {
        guard factory.isAvailable else { return }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let embedder = HashingEmbedder()
        let configuration = EngineConfiguration(chunking: ChunkingOptions(maxCharacters: 300, overlapCharacters: 0))
        let writer = try await Engine(configuration: configuration, store: try await factory.make(directory), embedder: embedder)
        let record = try await writer.ingest(data: Self.pdf, fileName: "pump.pdf")
        let reader = try await Engine(configuration: configuration, store: try await factory.make(directory), embedder: embedder)
        let rendered = try await reader.renderPage(document: record.id, page: 1, width: 400, chunk: 1)
        #expect(try PNGImage(data: rendered.png).width == 400)
        #expect(!rendered.highlights.isEmpty)
        await writer.close()
        await reader.close()
    }

    @Test func aSecondRequestIsServedFromTheCacheAndCounted() async throws {
        let metrics = RAGMetrics()
        let engine = try await Self.engine(metrics: metrics)
        let record = try await engine.ingest(data: Self.pdf, fileName: "pump.pdf")
        let first = try await engine.renderPage(document: record.id, page: 1, width: 300, chunk: 0)
        let second = try await engine.renderPage(document: record.id, page: 1, width: 300, chunk: 0)
        #expect(first == second)
        _ = try? await engine.renderPage(document: record.id, page: 1, width: 5)
        let text = metrics.render()
        #expect(text.contains(#"rag_page_renders_total{outcome="rendered"} 1"#))
        #expect(text.contains(#"rag_page_renders_total{outcome="cached"} 1"#))
        #expect(text.contains(#"rag_page_renders_total{outcome="refused"} 1"#))
        #expect(text.contains(#"rag_page_renders_total{outcome="error"} 0"#))
    }

    @Test func theCacheKeepsWithinItsBytesDroppingTheLeastRecentlyUsed() {
        func page(_ bytes: Int) -> RenderedPage {
            RenderedPage(png: Data(count: bytes), width: 1, height: 1, page: 1, pageLabel: nil, highlights: [])
        }
        func key(_ page: Int) -> PageRenderer.Key { PageRenderer.Key(document: DocumentID(rawValue: "d"), page: page, width: 1, passage: "") }
        var cache = PNGCache(capacity: 100)
        cache.put(key(1), page(40))
        cache.put(key(2), page(40))
        _ = cache.get(key(1))  // 2 is now the least recently used
        cache.put(key(3), page(40))
        #expect(cache.get(key(2)) == nil && cache.get(key(1)) != nil && cache.get(key(3)) != nil)
        #expect(cache.bytes == 80)
        cache.put(key(4), page(101))  // larger than the whole cache: not kept, nothing dropped
        #expect(cache.get(key(4)) == nil && cache.count == 2)
    }

    @Test func limitsAreValidated() {
        #expect(throws: InvalidLimit.self) { try PageRenderLimits(defaultWidth: 50).validate() }
        #expect(throws: InvalidLimit.self) { try PageRenderLimits(minWidth: 500, maxWidth: 400).validate() }
        #expect(throws: InvalidLimit.self) { try PageRenderLimits(concurrency: 0).validate() }
        #expect(throws: InvalidLimit.self) { try PageRenderLimits(maxPixels: 10).validate() }
        #expect(throws: InvalidLimit.self) { try PageRenderLimits(timeout: .zero).validate() }
        #expect(throws: Never.self) { try PageRenderLimits().validate() }
    }
}
