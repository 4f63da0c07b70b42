import Foundation
import RAGCore
import RAGTesting
import Testing

/// Damaged PDFs that MuPDF alone cannot read (issue #12): cut off, concatenated, mangled by a text-mode transfer.
@Suite struct DocumentRecoveryTests {
    /// Twenty pages of thirty lines of varied words, every line naming its page: about 1 KB per page compressed, so
    /// that the page tree and cross-reference table at the end are a small part of the file, as in a real manual.
    static let pages: [String] = {
        let words = [
            "manual", "printer", "reset", "button", "cable", "power", "network", "driver", "paper", "tray", "toner",
            "install", "remove", "press", "hold", "light", "error", "status", "update", "firmware", "settings", "menu",
            "screen", "display", "signal", "warranty", "service", "contact", "model", "serial",
        ]
        var state: UInt64 = 12_345
        return (1...20).map { page in
            (1...30).map { line in
                let picked = (0..<8).map { _ in
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return words[Int(state >> 33) % words.count]
                }
                return "Page \(page) line \(line): " + picked.joined(separator: " ")
            }.joined(separator: "\n")
        }
    }()

    private func load(_ data: Data, limits: ExtractionLimits = .init()) throws -> Document {
        try DocumentLoader(limits: limits).load(data: data, fileName: "damaged.pdf")
    }

    private func error(_ body: () throws -> Document) -> DocumentError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? DocumentError
        }
    }

    /// How many page objects of `pdf` end (`endobj`) within its first `count` bytes.
    private func pageObjects(in pdf: Data, endingBefore count: Int) -> Int {
        var pages = 0
        var from = pdf.startIndex
        while let marker = pdf.range(of: Data("/Type /Page ".utf8), in: from..<pdf.endIndex),
            let end = pdf.range(of: Data("endobj".utf8), in: marker.upperBound..<pdf.endIndex)
        {
            if end.upperBound <= count { pages += 1 }
            from = end.upperBound
        }
        return pages
    }

    // MARK: Cut off

    @Test(arguments: [10, 50, 90], [false, true])
    func aCutOffDownloadKeepsThePagesBeforeTheCut(percent: Int, compressed: Bool) throws {
        let pdf = TestPDF.streamed(pages: Self.pages, compressed: compressed)
        let cut = pdf.count * percent / 100
        let kept = pageObjects(in: pdf, endingBefore: cut)
        #expect(kept > 0 && kept < Self.pages.count)
        let document = try load(TestPDF.truncated(pdf, to: cut))
        #expect(document.pages.map(\.text) == Array(Self.pages.prefix(kept)))
        #expect(document.pages.map(\.number) == Array(1...kept))
        #expect(document.pageCount == kept)
        let warning = try #require(document.warnings.first)
        #expect(warning.kind == .recovered && warning.page == nil)
        #expect(warning.message.contains("ends early, after \(cut) bytes with no %%EOF"))
        #expect(warning.message.contains("its pages 1–\(kept) were found by scanning its objects"))
        #expect(warning.message.contains("any pages after page \(kept) were lost with the end of the file"))
    }

    @Test func aCutOffFileWhosePageTreeSurvivesNamesTheMissingPages() throws {
        // Page tree first (TestPDF.make): MuPDF's repair finds it, and the pages past the cut fail one by one.
        let pdf = TestPDF.make(pages: Array(Self.pages.prefix(10)))
        let document = try load(TestPDF.truncated(pdf, to: pdf.count / 2))
        let kept = document.pages.count
        #expect(kept > 0 && kept < 10)
        #expect(document.pages.map(\.text) == Array(Self.pages.prefix(kept)))
        #expect(document.warnings.first?.kind == .recovered)
        #expect(document.warnings.first?.message.contains("ends early") == true)
        let failed = document.warnings.filter { $0.kind == .pageFailed }
        #expect(failed.map(\.page) == (kept + 1...10).map { Optional($0) })
    }

    @Test func aFileCutBeforeAnyPageIsDamagedNotEmpty() {
        let pdf = TestPDF.streamed(pages: Self.pages)
        let failure = error { try load(TestPDF.truncated(pdf, to: 200)) }
        #expect(failure?.code == .damaged)
        #expect(failure?.message.contains("ends early") == true)
    }

    @Test func aScanFindingMorePagesThanTheLimitIsRefused() throws {
        let pdf = TestPDF.streamed(pages: Array(Self.pages.prefix(5)))
        let tree = try #require(pdf.range(of: Data("/Type /Pages".utf8)))
        var limits = ExtractionLimits()
        limits.maxPages = 3
        #expect(error { try load(TestPDF.truncated(pdf, to: tree.lowerBound), limits: limits) }?.code == .tooManyPages)
        limits.maxPages = 5
        #expect(try load(TestPDF.truncated(pdf, to: tree.lowerBound), limits: limits).pages.count == 5)
    }

    @Test func theScanForPageObjectsStopsAtItsObjectBudget() {
        // One object stream of 30,000 tiny objects, and nothing else: no catalog, no page. The scan may load at most
        // max(10,000, bytes / 8) objects; it stops there with an error that says so instead of loading them all.
        let pdf = TestPDF.objectStreamOnly(objects: 30_000)
        let budget = max(10_000, pdf.count / 8)
        #expect(budget < 30_000)
        let failure = error { try load(pdf) }
        #expect(failure?.code == .damaged)
        let message = "the scan for page objects stopped at its limit of \(budget) objects"
        #expect(failure?.message.contains(message) == true)
    }

    // MARK: Concatenated

    @Test func concatenatedPDFsAreAllReadInFileOrder() throws {
        let first = TestPDF.make(pages: ["First one", "First two", "First three"], title: "The First")
        let second = TestPDF.streamed(
            pages: ["Second one", "Second two", "Second three", "Second four"], compressed: true)
        let third = TestPDF.make(pages: ["Third one"], compressed: true)
        let document = try load(first + second + third)
        #expect(document.pages.map(\.text) == [
            "First one", "First two", "First three", "Second one", "Second two", "Second three", "Second four",
            "Third one",
        ])
        #expect(document.pageCount == 8)
        #expect(document.title == "The First")
        #expect(document.warnings.map(\.kind) == [.recovered])
        #expect(
            document.warnings.first?.message.contains(
                "it holds 3 PDFs one after another, as `cat a.pdf b.pdf` makes, read in file order: pages 1–3 from "
                    + "the 1st PDF, pages 4–7 from the 2nd PDF, page 8 from the 3rd PDF") == true)
    }

    @Test func aConcatenatedPDFWhoseSecondPartIsCutOffKeepsWhatRemains() throws {
        let first = TestPDF.make(pages: ["First one", "First two"])
        let second = TestPDF.streamed(pages: Self.pages)
        let cut = second.count / 2
        let kept = pageObjects(in: second, endingBefore: cut)
        let document = try load(first + TestPDF.truncated(second, to: cut))
        #expect(document.pages.map(\.text) == ["First one", "First two"] + Self.pages.prefix(kept))
        let message = try #require(document.warnings.first { $0.kind == .recovered }?.message)
        #expect(message.contains("2 PDFs one after another"))
        #expect(message.contains("the 2nd PDF's page tree was lost, so its pages 3–\(kept + 2) were found"))
    }

    @Test func manyConcatenatedHeadersAreBoundedByTheMaximumParts() throws {
        // 10,000 empty "PDFs" before a real one: at most maxParts parts are opened, the rest is read as one.
        let empty = Data(String(repeating: "%PDF-1.7\n%%EOF\n", count: 10_000).utf8)
        let document = try load(empty + TestPDF.make(pages: ["The real page"]))
        #expect(document.pages.map(\.text) == ["The real page"])
        let message = try #require(document.warnings.first?.message)
        #expect(message.contains("at least 64 PDFs one after another"))
        #expect(message.contains("63 of the PDFs could not be read"))
    }

    // MARK: Text-mode transfer

    @Test(arguments: [false, true])
    func aTextModeTransferIsUndone(compressed: Bool) throws {
        let pdf = TestPDF.make(pages: Array(Self.pages.prefix(5)), title: "Manual", compressed: compressed)
        let document = try load(TestPDF.textModeTransfer(pdf))
        #expect(document.pages.map(\.text) == Array(Self.pages.prefix(5)))
        #expect(document.title == "Manual")
        #expect(document.warnings.map(\.kind) == [.recovered])
        #expect(document.warnings.first?.message.contains("every line feed in it had become CR LF") == true)
        // The identity is the file's: the same mangled bytes are the same document.
        #expect(document.byteCount == TestPDF.textModeTransfer(pdf).count)
    }

    @Test func intactFilesCarryNoRecoveredWarning() throws {
        let document = try load(TestPDF.make(pages: ["one", "two"], compressed: true))
        #expect(document.warnings.isEmpty)
    }

    // MARK: Metrics

    @Test func recoveredDocumentsAreCounted() async throws {
        let metrics = RAGMetrics()
        #expect(metrics.render().contains("rag_documents_recovered_total 0"))
        let engine = try await Engine(metrics: metrics)
        let pdf = TestPDF.streamed(pages: Self.pages)
        let record = try await engine.ingest(data: TestPDF.truncated(pdf, to: pdf.count / 2), fileName: "cut.pdf")
        #expect(record.warnings.first?.kind == .recovered)
        _ = try await engine.ingest(data: TestPDF.make(pages: ["intact"]), fileName: "intact.pdf")
        #expect(metrics.render().contains("rag_documents_recovered_total 1"))
    }
}
