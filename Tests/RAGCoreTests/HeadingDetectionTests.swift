import Foundation
import RAGCore
import RAGTesting
import Testing

/// Section context from headings found by font size and weight (issue #14), for PDFs without an outline.
@Suite struct HeadingDetectionTests {
    // MARK: The detector's rules, on synthetic lines

    @Test(arguments: [
        ("Installing packages", true),
        ("2.3 Shell builtins", true),
        ("What is a widget?", true),
        ("12", false),  // a page number
        ("iv", true),  // two letters: roman page numbers are caught as running text by their repeats, not here
        ("2023-10-01", false),  // mostly digits
        ("This line ends like a sentence.", false),
        ("the first item of a list,", false),
        ("Introduction . . . . . . . 5", false),  // a table of contents' dot leaders
        ("Introduction.......5", false),
        (String(repeating: "word ", count: 13), false),  // too many words
        (String(repeating: "x", count: 101), false),  // too long
        ("", false),
    ])
    func aHeadingIsWordedLikeOne(text: String, expected: Bool) {
        #expect(HeadingDetector.isHeadingText(text) == expected)
    }

    static func body(_ text: String, page: Int, block: Int = 9, line: Int = 5) -> TextLine {
        TextLine(text: text, page: page, fontSize: 10, block: block, blockLines: 4, line: line)
    }

    static let filler = String(repeating: "Body text that runs on like a paragraph does, ", count: 3)

    @Test func headingSizesRankLargestFirstAndBoldAtBodySizeIsTheLowestLevel() {
        let lines = [
            TextLine(text: "Chapter One", page: 1, fontSize: 18, block: 0, line: 0),
            Self.body(Self.filler, page: 1),
            TextLine(text: "A section", page: 1, fontSize: 13, block: 1, line: 1),
            Self.body(Self.filler, page: 1),
            TextLine(text: "A paragraph heading", page: 2, fontSize: 10, isBold: true, block: 0, blockLines: 1),
            TextLine(text: "Bold words in a paragraph", page: 2, fontSize: 10, isBold: true, block: 1, blockLines: 3),
            Self.body(Self.filler, page: 2),
            TextLine(text: "Chapter Two", page: 3, fontSize: 18),
            Self.body(Self.filler + Self.filler, page: 3),
        ]
        let headings = HeadingDetector().headings(in: lines)
        #expect(headings.map(\.title) == ["Chapter One", "A section", "A paragraph heading", "Chapter Two"])
        #expect(headings.map(\.depth) == [0, 1, 2, 0])
        #expect(headings.map(\.page) == [1, 1, 2, 3])
    }

    /// The same text in the same style on many pages is a running header or footer; page numbers are no headings.
    @Test func runningHeadersAndPageNumbersAreNotHeadings() {
        var lines: [TextLine] = []
        for page in 1...6 {
            lines.append(TextLine(text: "Widget Manual", page: page, fontSize: 12, isBold: true, block: 0))
            lines.append(TextLine(text: "Chapter \(page)", page: page, fontSize: 12, isBold: true, block: 1))
            if page == 2 { lines.append(TextLine(text: "Installing", page: page, fontSize: 16, block: 2, line: 2)) }
            lines.append(Self.body(Self.filler, page: page))
            lines.append(TextLine(text: "\(page)", page: page, fontSize: 16, block: 4, line: 6))
        }
        #expect(HeadingDetector().headings(in: lines).map(\.title) == ["Installing"])
    }

    /// A size most of whose text is running text (a larger font for code or a lead paragraph) is not a heading size.
    @Test func aSizeOfRunningTextIsNoHeadingSize() {
        var lines = (0..<30).map { Self.body(Self.filler, page: $0 / 10 + 1, line: $0) }
        lines += (0..<6).map { TextLine(text: Self.filler, page: 1, fontSize: 14, block: 3, blockLines: 7, line: 40 + $0) }
        lines.append(TextLine(text: "short line", page: 1, fontSize: 14, block: 3, blockLines: 7, line: 46))
        #expect(HeadingDetector().headings(in: lines).isEmpty)
    }

    @Test func aWrappedTitleIsOneHeading() {
        let lines = [
            TextLine(text: "Configuring the widget for", page: 1, fontSize: 16, block: 0, blockLines: 2, line: 0),
            TextLine(text: "networks behind a relay", page: 1, fontSize: 16, block: 0, blockLines: 2, line: 1),
            Self.body(Self.filler, page: 1, block: 1, line: 2),
        ]
        #expect(HeadingDetector().headings(in: lines).map(\.title) == ["Configuring the widget for networks behind a relay"])
    }

    @Test func levelsAndEntriesAreBounded() {
        let sizes: [Double] = [30, 26, 22, 18, 14]
        var lines = sizes.enumerated().map { TextLine(text: "Level \($0.offset)", page: 1, fontSize: $0.element, block: $0.offset, line: $0.offset) }
        lines.append(Self.body(Self.filler + Self.filler, page: 1))
        let detector = HeadingDetector(maxLevels: 3)
        #expect(detector.headings(in: lines).map(\.title) == ["Level 0", "Level 1", "Level 2"])
        #expect(detector.headings(in: lines, maxEntries: 2).map(\.title) == ["Level 0", "Level 1"])
    }

    // MARK: Through the loader and the chunker, on PDFs

    /// Two chapters, each with a section, in large Helvetica-Bold over 11-point body text; a running header and a
    /// page number on every page; no outline.
    static func manual(outline: [TestPDF.OutlineItem] = []) -> Data {
        let body = "Every setting of the widget lives in one file in your home folder, read when it starts."
        func page(_ number: Int, _ lines: [TestPDF.StyledLine]) -> [TestPDF.StyledLine] {
            [.init("Widget Manual", size: 9), .init("")] + lines + [.init(""), .init("\(number)", size: 9)]
        }
        return TestPDF.styled(
            pages: [
                page(1, [
                    .init("Getting started", size: 20, bold: true), .init(""), .init(body), .init(body), .init(""),
                    .init("Fetching the archive", size: 15, bold: true), .init(""),
                    .init("The archive comes from the download page of the project."), .init(body),
                ]),
                page(2, [.init(body), .init(body), .init(body)]),
                page(3, [
                    .init("Settings", size: 20, bold: true), .init(""), .init(body), .init(""),
                    .init("Proxies", size: 15, bold: true), .init(""),
                    .init("When your network needs a relay, set its address and port in that file."), .init(body),
                ]),
            ],
            title: "Widget Manual", outline: outline)
    }

    static func chunks(of pdf: Data, source: SectionSource) throws -> [Chunk] {
        let options = ChunkingOptions(maxCharacters: 120, overlapCharacters: 0, sectionContext: true, sectionSource: source, contextSections: nil)
        let document = try DocumentLoader(headingDetection: options.sectionSource).load(data: pdf, fileName: "manual.pdf")
        return Chunker(options: options).chunks(of: document)
    }

    @Test func aPDFWithoutAnOutlineGetsItsHeadingsAsSections() throws {
        let document = try DocumentLoader(headingDetection: .automatic).load(data: Self.manual(), fileName: "manual.pdf")
        #expect(document.outline.isEmpty)
        #expect(document.headings.map(\.title) == ["Getting started", "Fetching the archive", "Settings", "Proxies"])
        #expect(document.headings.map(\.depth) == [0, 1, 0, 1])
        #expect(document.headings.map(\.page) == [1, 1, 3, 3])

        let chunks = try Self.chunks(of: Self.manual(), source: .automatic)
        func context(of text: String) -> String? { chunks.first { $0.text.contains(text) }?.context }
        #expect(context(of: "download page") == "Widget Manual › Getting started › Fetching the archive")
        #expect(context(of: "relay") == "Widget Manual › Settings › Proxies")
        #expect(chunks.allSatisfy { !$0.context.contains("› 1") && !$0.context.contains("Widget Manual › Widget Manual") })
    }

    /// The loader reads font sizes only when the chunker will use them.
    @Test func headingsAreFoundOnlyWhenAsked() throws {
        #expect(try DocumentLoader().load(data: Self.manual(), fileName: "m.pdf").headings.isEmpty)
        #expect(try DocumentLoader(headingDetection: .outline).load(data: Self.manual(), fileName: "m.pdf").headings.isEmpty)
        let chunks = try Self.chunks(of: Self.manual(), source: .outline)
        #expect(chunks.allSatisfy { $0.context == "Widget Manual" })
    }

    /// With an outline, `.automatic` keeps to it; `.headings` ignores it.
    @Test func anOutlineWinsUnlessHeadingsAreAskedFor() throws {
        let pdf = Self.manual(outline: [.init("Part A", page: 1), .init("Part B", page: 3)])
        let automatic = try Self.chunks(of: pdf, source: .automatic)
        #expect(automatic.first { $0.text.contains("relay") }?.context == "Widget Manual › Part B")
        let headings = try Self.chunks(of: pdf, source: .headings)
        #expect(headings.first { $0.text.contains("relay") }?.context == "Widget Manual › Settings › Proxies")
    }

    @Test func detectedHeadingsAreBoundedByTheOutlineLimit() throws {
        var limits = ExtractionLimits()
        limits.maxOutlineEntries = 3
        let loader = DocumentLoader(limits: limits, headingDetection: .headings)
        #expect(try loader.load(data: Self.manual(), fileName: "m.pdf").headings.map(\.title) == ["Getting started", "Fetching the archive", "Settings"])
    }

    /// More than ten times ``ExtractionLimits/maxOutlineEntries`` lines that may be headings: the document is too
    /// irregular to trust, and its lines are not kept.
    @Test func tooManyCandidateLinesGiveNoHeadings() throws {
        let list = (1...12).map { TestPDF.StyledLine("list item number \($0)") }
        let pdf = TestPDF.styled(pages: [[.init("Shopping", size: 20)] + list + [.init(Self.filler)]])
        func headings(maxOutlineEntries: Int) throws -> [String] {
            var limits = ExtractionLimits()
            limits.maxOutlineEntries = maxOutlineEntries
            let loader = DocumentLoader(limits: limits, headingDetection: .headings)
            return try loader.load(data: pdf, fileName: "list.pdf").headings.map(\.title)
        }
        #expect(try headings(maxOutlineEntries: 2) == ["Shopping"])
        #expect(try headings(maxOutlineEntries: 1).isEmpty)
    }
}
