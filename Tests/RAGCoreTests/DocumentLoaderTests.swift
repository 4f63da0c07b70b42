import Foundation
import RAGCore
import RAGTesting
import Testing

@Suite struct DocumentLoaderTests {
    let loader = DocumentLoader()

    private func load(_ data: Data, _ name: String = "test.pdf", limits: ExtractionLimits = .init(),
                      password: String? = nil) throws -> Document {
        try DocumentLoader(limits: limits, password: password).load(data: data, fileName: name)
    }

    private func code(of body: () throws -> Document) -> DocumentError.Code? {
        do {
            _ = try body()
            return nil
        } catch let error as DocumentError {
            return error.code
        } catch {
            return nil
        }
    }

    // MARK: Round trips

    @Test func textAndMetadataRoundTripWithPageNumbers() throws {
        let pdf = TestPDF.make(
            pages: ["Hello world\nSecond line with (parens) and a backslash \\", "Café crème on page two"],
            title: "The Manual", author: "Ada Lovelace")
        let document = try load(pdf, "manual.pdf")
        #expect(document.kind == .pdf)
        #expect(document.fileName == "manual.pdf")
        #expect(document.title == "The Manual")
        #expect(document.author == "Ada Lovelace")
        #expect(document.pageCount == 2)
        #expect(document.pages.map(\.number) == [1, 2])
        #expect(document.pages[0].text == "Hello world\nSecond line with (parens) and a backslash \\")
        #expect(document.pages[1].text == "Café crème on page two")
        #expect(document.warnings.isEmpty)
        #expect(document.byteCount == pdf.count)
        #expect(document.contentHash == SHA256.hex(pdf))
    }

    @Test func missingMetadataIsNil() throws {
        let document = try load(TestPDF.make(pages: ["x"]))
        #expect(document.title == nil)
        #expect(document.author == nil)
    }

    @Test func manyPagesStayInOrder() throws {
        let texts = (1...120).map { "This is page number \($0)." }
        let document = try load(TestPDF.make(pages: texts))
        #expect(document.pageCount == 120)
        #expect(document.pages.map(\.text) == texts)
        #expect(document.pages.map(\.number) == Array(1...120))
    }

    @Test func longLinesWrap() throws {
        let words = (1...40).map { "word\($0)" }.joined(separator: " ")
        let document = try load(TestPDF.make(pages: [words]))
        let text = try #require(document.pages.first?.text)
        #expect(text.split(separator: "\n").count == TestPDF.lines(of: words).count)
        #expect(text.split(whereSeparator: \.isWhitespace).map(String.init) == words.split(separator: " ").map(String.init))
    }

    @Test(arguments: [2, 3, 4])
    func parallelEqualsSerial(threads: Int) throws {
        let texts = (1...200).map { "Page \($0): " + String(repeating: "lorem ipsum ", count: $0 % 17 + 1) }
        let pdf = TestPDF.withBrokenPages(pages: texts, brokenPages: [5, 77, 150])
        var serial = ExtractionLimits()
        serial.threads = 1
        var parallel = ExtractionLimits()
        parallel.threads = threads
        let one = try load(pdf, limits: serial)
        let many = try load(pdf, limits: parallel)
        #expect(one == many)
        #expect(one.pages.count == 197)
    }

    @Test func identicalResultsForAFailureRunAcrossThreads() throws {
        let pdf = TestPDF.lyingPageCount(claimedPages: 400, pages: (1...30).map { "Real page \($0)" })
        var limits = ExtractionLimits(maxConsecutivePageFailures: 10)
        limits.threads = 1
        let serial = try load(pdf, limits: limits)
        limits.threads = 3
        let parallel = try load(pdf, limits: limits)
        #expect(serial == parallel)
    }

    // MARK: Text and Markdown

    @Test func textFileIsOnePage() throws {
        let document = try load(Data("Line one\r\nLine two\0\r\n".utf8), "notes.txt")
        #expect(document.kind == .text)
        #expect(document.pageCount == 1)
        #expect(document.pages == [Page(number: 1, text: "Line one\nLine two\n")])
    }

    @Test func formFeedsSplitPages() throws {
        let document = try load(Data("# Title\nintro\u{0C}second page\u{0C}\u{0C}fourth\u{0C}".utf8), "README.md")
        #expect(document.kind == .markdown)
        #expect(document.pageCount == 4)
        #expect(document.pages.map(\.number) == [1, 2, 4])
        #expect(document.pages.map(\.text) == ["# Title\nintro", "second page", "fourth"])
    }

    @Test(arguments: ["a.markdown", "b.MD", "c.TXT"])
    func textExtensionsAreCaseInsensitive(name: String) throws {
        let document = try load(Data("hi".utf8), name)
        #expect(document.pages.map(\.text) == ["hi"])
    }

    @Test func loadsFromAFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loader-\(UUID().uuidString).pdf")
        try TestPDF.make(pages: ["From disk"]).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let document = try loader.load(contentsOf: url)
        #expect(document.fileName == url.lastPathComponent)
        #expect(document.pages.map(\.text) == ["From disk"])
    }

    @Test func pdfWithAnUnknownExtensionIsDetectedByContent() throws {
        let document = try load(TestPDF.make(pages: ["magic"]), "download.bin")
        #expect(document.kind == .pdf)
    }

    @Test func loadAllKeepsOrderAndReportsEachFailure() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("all-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var urls: [URL] = []
        for index in 0..<6 {
            let url = directory.appendingPathComponent("doc\(index).pdf")
            try TestPDF.make(pages: (0..<20).map { "doc \(index) page \($0)" }).write(to: url)
            urls.append(url)
        }
        urls.insert(directory.appendingPathComponent("missing.pdf"), at: 2)
        let results = DocumentLoader().loadAll(urls)
        #expect(results.count == 7)
        for (url, result) in zip(urls, results) {
            switch result {
            case .success(let document):
                #expect(document.fileName == url.lastPathComponent)
                #expect(document.pages.count == 20)
                #expect(document.pages[3].text == "doc \(url.deletingPathExtension().lastPathComponent.dropFirst(3)) page 3")
            case .failure(let error):
                #expect(url.lastPathComponent == "missing.pdf")
                #expect(error.code == .unreadable)
            }
        }
    }

    // MARK: Errors

    @Test func unsupportedType() {
        #expect(code { try load(Data("PK\u{3}\u{4}zip".utf8), "archive.zip") } == .unsupportedType)
        #expect(code { try load(Data("hello".utf8), "no-extension") } == .unsupportedType)
    }

    @Test func pdfExtensionWithoutHeaderIsNotAPDF() {
        #expect(code { try load(TestPDF.garbage(count: 2000), "scan.pdf") } == .notAPDF)
    }

    @Test func headerAfterJunkIsStillAPDF() throws {
        let document = try load(Data("junk\n".utf8) + TestPDF.make(pages: ["after junk"]))
        #expect(document.pages.map(\.text) == ["after junk"])
    }

    @Test func encryptedWithoutPasswordFails() throws {
        let pdf = try TestPDF.encrypted(TestPDF.make(pages: ["secret text"]), userPassword: "s3cret")
        #expect(code { try load(pdf) } == .encrypted)
        #expect(code { try load(pdf, password: "wrong") } == .wrongPassword)
        let document = try load(pdf, password: "s3cret")
        #expect(document.pages.map(\.text) == ["secret text"])
    }

    @Test func encryptedAcrossThreads() throws {
        let texts = (1...64).map { "secret page \($0)" }
        let pdf = try TestPDF.encrypted(TestPDF.make(pages: texts), userPassword: "pw")
        var limits = ExtractionLimits()
        limits.threads = 4
        #expect(try load(pdf, limits: limits, password: "pw").pages.map(\.text) == texts)
    }

    @Test func zeroPagesFails() {
        #expect(code { try load(TestPDF.zeroPages()) } == .noPages)
    }

    @Test func garbageAfterHeaderIsDamaged() {
        #expect(code { try load(TestPDF.headerThenGarbage()) } == .damaged)
    }

    @Test func truncatedPDFLoadsWhatRemainsOrFailsTyped() throws {
        let pdf = TestPDF.make(pages: (1...10).map { "page \($0) text" })
        // Without its cross-reference table MuPDF repairs the file and finds every page.
        let document = try load(TestPDF.truncated(pdf, to: pdf.count - 200))
        #expect(document.pages.count == 10)
        // Cut in the middle of the objects, the later pages are gone.
        let half = try load(TestPDF.truncated(pdf, to: pdf.count / 2))
        #expect(half.pages.count < 10)
        // Nothing but the header: typed error, no crash.
        #expect(code { try load(TestPDF.truncated(pdf, to: 12)) } != nil)
    }

    @Test func errorDescriptionIsOneActionableLine() {
        let error = DocumentError(code: .encrypted, fileName: "a.pdf", message: "the PDF needs a password")
        #expect(error.description == "a.pdf: the PDF is encrypted; supply its password to load it (the PDF needs a password)")
        #expect(!error.description.contains("\n"))
    }

    // MARK: Warnings

    @Test func failedPagesAreWarningsAndTheRestLoads() throws {
        let pdf = TestPDF.withBrokenPages(pages: ["one", "two", "three", "four"], brokenPages: [1, 2])
        let document = try load(pdf)
        #expect(document.pageCount == 4)
        #expect(document.pages == [Page(number: 1, text: "one"), Page(number: 4, text: "four")])
        #expect(document.warnings.map(\.kind) == [.pageFailed, .pageFailed])
        #expect(document.warnings.map(\.page) == [2, 3])
    }

    @Test func unmappablePagesAreLeftOut() throws {
        let pdf = TestPDF.unmappableGlyphs(pageCount: 3, readablePages: [1], text: "Readable page")
        let document = try load(pdf)
        #expect(document.pages == [Page(number: 2, text: "Readable page")])
        #expect(document.warnings.map(\.kind) == [.unmappableText, .unmappableText])
        #expect(document.warnings.map(\.page) == [1, 3])
    }

    @Test func noTextAtAllWarns() throws {
        let document = try load(TestPDF.make(pages: ["", ""]))
        #expect(document.pages.isEmpty)
        #expect(document.pageCount == 2)
        #expect(document.warnings.map(\.kind) == [.noText])
        let blank = try load(Data(" \n\n".utf8), "blank.txt")
        #expect(blank.warnings.map(\.kind) == [.noText])
    }

    @Test func invalidUTF8TextIsUnmappable() throws {
        let document = try load(Data([0xFF, 0xFE, 0xFD, 0xC0, 0xC1, 0x41]), "binary.txt")
        #expect(document.pages.isEmpty)
        #expect(document.warnings.map(\.kind) == [.unmappableText, .noText])
    }

    // MARK: Limits

    @Test func bytesLimit() throws {
        let pdf = TestPDF.make(pages: ["x"])
        var limits = ExtractionLimits()
        limits.maxBytes = pdf.count - 1
        #expect(code { try load(pdf, limits: limits) } == .tooLarge)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID().uuidString).txt")
        try Data(count: 10_000).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        limits.maxBytes = 9_999
        #expect(code { try DocumentLoader(limits: limits).load(contentsOf: url) } == .tooLarge)
    }

    @Test func pagesLimit() {
        var limits = ExtractionLimits()
        limits.maxPages = 3
        #expect(code { try load(TestPDF.make(pages: ["1", "2", "3", "4"]), limits: limits) } == .tooManyPages)
        #expect(code { try load(Data("1\u{0C}2\u{0C}3\u{0C}4".utf8), "a.txt", limits: limits) } == .tooManyPages)
    }

    @Test func lyingPageCountFailsFast() throws {
        // Refused from the declared count, before any page is read (no timing: the outcome shows it).
        let pdf = TestPDF.lyingPageCount(claimedPages: 1_000_000)
        #expect(code { try load(pdf) } == .tooManyPages)
    }

    @Test func lyingPageCountUnderTheLimitStopsAfterAFailureRun() throws {
        let pdf = TestPDF.lyingPageCount(claimedPages: 9_000, pages: ["real one", "real two"])
        // The failure run stops the load: one warning per page tried plus one summary, not 8,998 failed loads.
        let loaded = try load(pdf)
        #expect(loaded.pages.map(\.text) == ["real one", "real two"])
        #expect(loaded.pageCount == 9_000)
        let failures = loaded.warnings.filter { $0.kind == .pageFailed }
        #expect(failures.count == ExtractionLimits().maxConsecutivePageFailures + 1)
        #expect(failures.last?.page == nil)
        #expect(failures.last?.message.contains("53–9000") == true)
    }

    @Test func charactersLimit() throws {
        let texts = (1...40).map { _ in String(repeating: "abcdefghij", count: 5) }
        let pdf = TestPDF.make(pages: texts)
        var limits = ExtractionLimits()
        limits.maxCharacters = 500
        #expect(code { try load(pdf, limits: limits) } == .tooMuchText)
        limits.threads = 1
        #expect(code { try load(pdf, limits: limits) } == .tooMuchText)
        limits.maxCharacters = 40 * 50
        #expect(try load(pdf, limits: limits).pages.count == 40)
        limits.maxCharacters = 10
        #expect(code { try load(Data(String(repeating: "x", count: 11).utf8), "a.txt", limits: limits) } == .tooMuchText)
    }
}
