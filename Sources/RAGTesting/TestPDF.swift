import CZlib
import Foundation

/// A small PDF writer for tests: valid PDFs with known text, plus deliberately broken variants.
///
/// Every PDF uses Helvetica (WinAnsi encoding), one text line per line of the page's text, long lines wrapped
/// at ``wrapWidth`` characters, at most ``linesPerPage`` lines per page.
///
/// ```swift
/// let pdf = TestPDF.make(pages: ["First page\nsecond line", "Second page"], title: "Manual", author: "Ada")
/// let document = try DocumentLoader().load(data: pdf, fileName: "manual.pdf")
/// ```
public enum TestPDF {
    /// Characters per line before a line is wrapped.
    public static let wrapWidth = 90
    /// Lines that fit on one page; more are cut off.
    public static let linesPerPage = 50

    /// A valid PDF with one page per element of `pages` and optional Info title and author. With `compressed`,
    /// page contents are Flate-compressed as real PDF writers do (the densest text per byte a plain PDF has: no
    /// embedded fonts, every byte of content is text).
    ///
    /// `outline` gives the PDF bookmarks, in reading order: each item points at the top of its 1-based page, and an
    /// item of depth d + 1 is a child of the nearest item of depth d before it.
    public static func make(
        pages: [String], title: String? = nil, author: String? = nil, compressed: Bool = false,
        outline: [OutlineItem] = []
    ) -> Data {
        var writer = Writer()
        writer.compressed = compressed
        writer.standardDocument(
            pages: pages.map { .text($0) }, declaredCount: nil, title: title, author: author, outline: outline)
        return writer.finish()
    }

    /// A valid PDF like ``make(pages:title:author:compressed:outline:)`` whose pages have the media box `mediaBox` (in points,
    /// `[x0 y0 x1 y1]`; US Letter by default) and whose catalog carries `pageLabels`, a raw `/PageLabels` number tree
    /// such as `<< /Nums [0 << /S /r >> 2 << /S /D >>] >>` (pages i, ii, then 1, 2, ...).
    public static func make(pages: [String], mediaBox: [Double] = [0, 0, 612, 792], pageLabels: String? = nil) -> Data {
        var writer = Writer()
        writer.mediaBox = mediaBox.map { $0 == $0.rounded() ? String(Int($0)) : String($0) }.joined(separator: " ")
        writer.catalogEntries = pageLabels.map { " /PageLabels \($0)" } ?? ""
        writer.standardDocument(pages: pages.map { .text($0) }, declaredCount: nil, title: nil, author: nil)
        return writer.finish()
    }

    /// A valid PDF whose pages show their ``StyledLine``s one below the other, each in Helvetica or Helvetica-Bold at
    /// its size; an empty line leaves a gap, so that the lines after it are a new text block. With `outline`, the
    /// PDF has bookmarks as in ``make(pages:title:author:compressed:outline:)``.
    ///
    /// ```swift
    /// let pdf = TestPDF.styled(pages: [[.init("Installing", size: 18, bold: true), .init("Run the installer.")]])
    /// ```
    public static func styled(pages: [[StyledLine]], title: String? = nil, outline: [OutlineItem] = []) -> Data {
        var writer = Writer()
        writer.standardDocument(
            pages: pages.map { .styled($0) }, declaredCount: nil, title: title, author: nil, outline: outline)
        return writer.finish()
    }

    /// A line of ``styled(pages:title:outline:)``: its text, font size in points and weight.
    public struct StyledLine: Sendable {
        public var text: String
        public var size: Double
        public var bold: Bool

        public init(_ text: String, size: Double = 11, bold: Bool = false) {
            self.text = text
            self.size = size
            self.bold = bold
        }
    }

    /// A bookmark for ``make(pages:title:author:compressed:outline:)``.
    public struct OutlineItem: Sendable {
        public var title: String
        public var depth: Int
        public var page: Int

        public init(_ title: String, depth: Int = 0, page: Int) {
            self.title = title
            self.depth = depth
            self.page = page
        }
    }

    /// A valid PDF whose page tree names the page objects of `pages` in the order `kids` gives (indexes into
    /// `pages`), so a page object may appear many times: `sharedPages(["Hello"], kids: Array(repeating: 0, count: 500))`
    /// is issue #12's amplifier, 500 pages that are all one page. `/Count` is `kids.count`.
    public static func sharedPages(_ pages: [String], kids: [Int]) -> Data {
        var writer = Writer()
        let catalog = writer.reserve()
        let tree = writer.reserve()
        let helvetica = writer.reserve()
        let numbers = pages.map { _ in (page: writer.reserve(), content: writer.reserve()) }
        writer.write(catalog, "<< /Type /Catalog /Pages \(tree) 0 R >>")
        let references = kids.map { "\(numbers[$0].page) 0 R" }.joined(separator: " ")
        writer.write(tree, "<< /Type /Pages /Kids [\(references)] /Count \(kids.count) >>")
        writer.write(helvetica, Writer.helvetica)
        for (text, number) in zip(pages, numbers) {
            writer.write(
                number.page,
                "<< /Type /Page /Parent \(tree) 0 R /MediaBox [0 0 612 792] /Contents \(number.content) 0 R"
                    + " /Resources << /Font << /F1 \(helvetica) 0 R >> >> >>")
            writer.writeStream(number.content, Writer.textContent(text))
        }
        writer.trailer(root: catalog, info: nil)
        return writer.finish()
    }

    /// A valid PDF of `pages` distinct pages that each draw the one Form XObject holding `text` (as one page shows
    /// it): many pages of text from a file not much larger than one page's worth, with no page object repeated.
    public static func sharedFormXObject(pages: Int, text: String) -> Data {
        var writer = Writer()
        let catalog = writer.reserve()
        let tree = writer.reserve()
        let helvetica = writer.reserve()
        let form = writer.reserve()
        let content = writer.reserve()
        let numbers = (0..<pages).map { _ in writer.reserve() }
        writer.write(catalog, "<< /Type /Catalog /Pages \(tree) 0 R >>")
        writer.write(
            tree, "<< /Type /Pages /Kids [\(numbers.map { "\($0) 0 R" }.joined(separator: " "))] /Count \(pages) >>")
        writer.write(helvetica, Writer.helvetica)
        writer.writeStream(
            form, Writer.textContent(text),
            dictionary: "/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 \(helvetica) 0 R >> >>")
        writer.writeStream(content, "/X1 Do")
        for number in numbers {
            writer.write(
                number,
                "<< /Type /Page /Parent \(tree) 0 R /MediaBox [0 0 612 792] /Contents \(content) 0 R"
                    + " /Resources << /XObject << /X1 \(form) 0 R >> >> >>")
        }
        writer.trailer(root: catalog, info: nil)
        return writer.finish()
    }

    /// A valid PDF laid out as TeX, and most writers that stream pages out as they finish them, lay it out: each
    /// page's content stream and then its page object, in page order, and only at the end the font, the page tree
    /// and the catalog. Cut off anywhere before its end, it loses its page tree and catalog but keeps the pages
    /// before the cut (see ``truncated(_:to:)``).
    public static func streamed(pages: [String], compressed: Bool = false) -> Data {
        var writer = Writer()
        writer.compressed = compressed
        let numbers = pages.map { _ in (content: writer.reserve(), page: writer.reserve()) }
        let helvetica = writer.reserve()
        let tree = writer.reserve()
        let catalog = writer.reserve()
        for (text, number) in zip(pages, numbers) {
            writer.writeStream(number.content, Writer.textContent(text))
            writer.write(
                number.page,
                "<< /Type /Page /Parent \(tree) 0 R /MediaBox [0 0 612 792] /Contents \(number.content) 0 R"
                    + " /Resources << /Font << /F1 \(helvetica) 0 R >> >> >>")
        }
        writer.write(helvetica, Writer.helvetica)
        let kids = numbers.map { "\($0.page) 0 R" }.joined(separator: " ")
        writer.write(tree, "<< /Type /Pages /Kids [\(kids)] /Count \(pages.count) >>")
        writer.write(catalog, "<< /Type /Catalog /Pages \(tree) 0 R >>")
        writer.trailer(root: catalog, info: nil)
        return writer.finish()
    }

    /// `pdf` after a text-mode transfer (FTP in ASCII mode, a mail gateway): every LF turned into CR LF, binary
    /// streams included.
    public static func textModeTransfer(_ pdf: Data) -> Data {
        var out = Data(capacity: pdf.count + pdf.count / 16)
        for byte in pdf {
            if byte == 0x0A { out.append(0x0D) }
            out.append(byte)
        }
        return out
    }

    /// A one-page PDF that draws each of `lines` glyph by glyph, in the order given: each glyph to the right of the
    /// one before (as PDF writers draw right-to-left text, in visual order: pass the line reversed), or with
    /// `leftwards`, each to the left of the one before (right-to-left text drawn in reading order). Each element of a
    /// line is one glyph's text, usually one character (a ligature's may be more).
    ///
    /// Any Unicode text works without a font file: the font is a non-embedded CID font (Identity-H) whose
    /// `/ToUnicode` map gives each glyph's text, which is what text extraction reads; a viewer draws stand-in shapes.
    public static func drawnText(_ lines: [[String]], leftwards: Bool = false) -> Data {
        var glyphs: [String: Int] = [:]
        for glyph in lines.joined() where glyphs[glyph] == nil { glyphs[glyph] = glyphs.count + 1 }
        var writer = Writer()
        let catalog = writer.reserve()
        let tree = writer.reserve()
        let page = writer.reserve()
        let content = writer.reserve()
        let font = writer.reserve()
        let descendant = writer.reserve()
        let descriptor = writer.reserve()
        let toUnicode = writer.reserve()
        writer.write(catalog, "<< /Type /Catalog /Pages \(tree) 0 R >>")
        writer.write(tree, "<< /Type /Pages /Kids [\(page) 0 R] /Count 1 >>")
        writer.write(
            page,
            "<< /Type /Page /Parent \(tree) 0 R /MediaBox [0 0 612 792] /Contents \(content) 0 R"
                + " /Resources << /Font << /F1 \(font) 0 R >> >> >>")
        var stream = ""
        for (index, line) in lines.enumerated() {
            let y = 740 - 30 * index
            let codes = line.map { String(format: "<%04X>", glyphs[$0]!) }
            if leftwards {
                // Each glyph advances 0.6 em to the right; a TJ adjustment of 1200 moves 1.2 em back: 0.6 em left.
                stream += "BT /F1 20 Tf \(72 + 12 * line.count) \(y) Td [\(codes.joined(separator: " 1200 "))] TJ ET\n"
            } else {
                stream += "BT /F1 20 Tf 72 \(y) Td [\(codes.joined(separator: " "))] TJ ET\n"
            }
        }
        writer.writeStream(content, stream)
        writer.write(
            font,
            "<< /Type /Font /Subtype /Type0 /BaseFont /StandIn /Encoding /Identity-H"
                + " /DescendantFonts [\(descendant) 0 R] /ToUnicode \(toUnicode) 0 R >>")
        writer.write(
            descendant,
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /StandIn /CIDSystemInfo << /Registry (Adobe)"
                + " /Ordering (Identity) /Supplement 0 >> /DW 600 /FontDescriptor \(descriptor) 0 R >>")
        writer.write(
            descriptor,
            "<< /Type /FontDescriptor /FontName /StandIn /Flags 4 /FontBBox [0 -200 1000 900] /ItalicAngle 0"
                + " /Ascent 900 /Descent -200 /CapHeight 700 /StemV 80 >>")
        let entries = glyphs.sorted { $0.value < $1.value }.map { glyph, code in
            String(format: "<%04X> <", code) + glyph.utf16.map { String(format: "%04X", $0) }.joined() + ">"
        }
        writer.writeStream(
            toUnicode,
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CIDSystemInfo << /Registry (Adobe)"
                + " /Ordering (UCS) /Supplement 0 >> def /CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
                + "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
                + stride(from: 0, to: entries.count, by: 100).map { start in  // at most 100 entries per block
                    let block = entries[start..<min(start + 100, entries.count)]
                    return "\(block.count) beginbfchar\n\(block.joined(separator: "\n"))\nendbfchar\n"
                }.joined()
                + "endcmap CMapName currentdict /CMap defineresource pop end end")
        writer.trailer(root: catalog, info: nil)
        return writer.finish()
    }

    /// ``drawnText(_:leftwards:)`` with one glyph per character.
    public static func drawnText(_ lines: [String], leftwards: Bool = false) -> Data {
        drawnText(lines.map { $0.unicodeScalars.map { String($0) } }, leftwards: leftwards)
    }

    /// A file holding nothing but one compressed object stream of `objects` empty arrays (numbered from 100), and
    /// one object numbered past them, which makes MuPDF's repair accept their numbers: no catalog, no page, no
    /// cross-reference table.
    public static func objectStreamOnly(objects: Int) -> Data {
        let header = (0..<objects).map { "\(100 + $0) \($0 * 3)" }.joined(separator: " ") + "\n"
        let stream = Writer.deflate(Data(header.utf8) + Data(String(repeating: "[] ", count: objects).utf8))
        var pdf = Data("%PDF-1.7\n1 0 obj\n<< /Type /ObjStm /N \(objects) /First \(header.utf8.count)".utf8)
        pdf += Data(" /Filter /FlateDecode /Length \(stream.count) >>\nstream\n".utf8) + stream
        return pdf + Data("\nendstream\nendobj\n\(100 + objects) 0 obj\nnull\nendobj\n".utf8)
    }

    /// The first `count` bytes of `pdf`: a download that stopped early.
    public static func truncated(_ pdf: Data, to count: Int) -> Data { pdf.prefix(count) }

    /// `count` pseudo-random bytes (deterministic for a `seed`) that are not a PDF at all.
    public static func garbage(count: Int, seed: UInt64 = 1) -> Data {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return Data((0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state >> 24) | 0x80  // high bytes: never "%PDF-"
        })
    }

    /// A `%PDF-` header followed by garbage: no objects, no trailer, nothing MuPDF can repair.
    public static func headerThenGarbage(count: Int = 4096) -> Data {
        Data("%PDF-1.7\n".utf8) + garbage(count: count)
    }

    /// A PDF whose page tree declares `claimedPages` pages but holds only `pages`.
    public static func lyingPageCount(claimedPages: Int, pages: [String] = ["The only real page."]) -> Data {
        var writer = Writer()
        writer.standardDocument(pages: pages.map { .text($0) }, declaredCount: claimedPages, title: nil, author: nil)
        return writer.finish()
    }

    /// A PDF whose page tree is empty (`/Count 0`, no kids).
    public static func zeroPages() -> Data {
        var writer = Writer()
        writer.standardDocument(pages: [], declaredCount: nil, title: nil, author: nil)
        return writer.finish()
    }

    /// A PDF whose pages at the (0-based) `brokenPages` indexes are missing: the page tree points at objects that
    /// do not exist, so those pages fail to load while the others load.
    public static func withBrokenPages(pages: [String], brokenPages: Set<Int>) -> Data {
        var writer = Writer()
        writer.standardDocument(
            pages: pages.enumerated().map { brokenPages.contains($0.offset) ? .missing : .text($0.element) },
            declaredCount: nil, title: nil, author: nil)
        return writer.finish()
    }

    /// A PDF whose pages are drawn only with a Type 3 font whose glyph names have no Unicode meaning and that has
    /// no `/ToUnicode` map, so every character extracts as U+FFFD. Pages in `readablePages` (0-based) use
    /// Helvetica instead, with `text`.
    public static func unmappableGlyphs(pageCount: Int = 1, readablePages: Set<Int> = [], text: String = "Readable")
        -> Data
    {
        var writer = Writer()
        writer.standardDocument(
            pages: (0..<pageCount).map { readablePages.contains($0) ? .text(text) : .unmappable(40) },
            declaredCount: nil, title: nil, author: nil)
        return writer.finish()
    }

    /// `pdf` encrypted with AES-256 by `qpdf --encrypt` (the `qpdf` Debian package must be installed).
    public static func encrypted(_ pdf: Data, userPassword: String, ownerPassword: String = "owner") throws -> Data {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("testpdf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.pdf")
        let output = directory.appendingPathComponent("out.pdf")
        try pdf.write(to: input)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/qpdf")
        process.arguments = ["--encrypt", userPassword, ownerPassword, "256", "--", input.path, output.path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw QPDFFailed(status: process.terminationStatus) }
        return try Data(contentsOf: output)
    }

    /// `qpdf` exited with a failure status.
    public struct QPDFFailed: Error, Sendable { public var status: Int32 }

    /// Splits `text` into the lines one page shows: explicit lines, each wrapped at ``wrapWidth``.
    public static func lines(of text: String) -> [String] {
        var result: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var rest = Substring(line)
            while rest.count > wrapWidth {
                let limit = rest.index(rest.startIndex, offsetBy: wrapWidth)
                let cut = rest[..<limit].lastIndex(of: " ") ?? limit
                result.append(String(rest[..<cut]))
                rest = rest[cut...].drop { $0 == " " }
            }
            result.append(String(rest))
        }
        return Array(result.prefix(linesPerPage))
    }

    enum PageSpec {
        case text(String)
        case styled([StyledLine])
        case missing
        case unmappable(Int)
    }

    /// Writes numbered objects and the cross-reference table.
    struct Writer {
        var body = Data("%PDF-1.7\n%\u{E2}\u{E3}\u{CF}\u{D3}\n".utf8)
        var offsets: [Int: Int] = [:]
        var nextObject = 1
        /// Whether ``writeStream(_:_:dictionary:)`` Flate-compresses streams.
        var compressed = false
        /// The pages' media box of ``standardDocument(pages:declaredCount:title:author:)``.
        var mediaBox = "0 0 612 792"
        /// More entries of its catalog (each with a leading space).
        var catalogEntries = ""

        static let helvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"

        /// A content stream showing `text` in font /F1 as ``TestPDF/lines(of:)`` lays it out.
        static func textContent(_ text: String) -> String {
            let shown = TestPDF.lines(of: text).map { "(\(escape($0))) Tj T*" }
            return "BT /F1 11 Tf 14 TL 72 740 Td\n" + shown.joined(separator: "\n") + "\nET"
        }

        mutating func reserve() -> Int {
            defer { nextObject += 1 }
            return nextObject
        }

        mutating func write(_ number: Int, _ content: String) {
            offsets[number] = body.count
            body.append(Data("\(number) 0 obj\n\(content)\nendobj\n".utf8))
        }

        /// Writes the outline items under the /Outlines dictionary `root`, each pointing at the top of its page.
        mutating func writeOutline(_ items: [OutlineItem], root: Int, pages: [Int]) {
            let numbers = items.map { _ in reserve() }
            var parents = [Int](repeating: -1, count: items.count)  // index of the parent item, -1 for the root
            var open: [Int] = []  // the last item at each depth
            for (index, item) in items.enumerated() {
                let depth = min(max(0, item.depth), open.count)
                open = Array(open.prefix(depth))
                parents[index] = open.last ?? -1
                open.append(index)
            }
            func children(of parent: Int) -> [Int] { items.indices.filter { parents[$0] == parent } }
            let top = children(of: -1)
            write(root, "<< /Type /Outlines /First \(numbers[top.first!]) 0 R /Last \(numbers[top.last!]) 0 R /Count \(top.count) >>")
            for index in items.indices {
                let siblings = children(of: parents[index])
                let position = siblings.firstIndex(of: index)!
                let kids = children(of: index)
                var entries = [
                    "/Title \(Self.textString(items[index].title))",
                    "/Parent \(parents[index] < 0 ? root : numbers[parents[index]]) 0 R",
                    "/Dest [\(pages[max(0, min(pages.count - 1, items[index].page - 1))]) 0 R /XYZ 0 792 0]",
                ]
                if position > 0 { entries.append("/Prev \(numbers[siblings[position - 1]]) 0 R") }
                if position + 1 < siblings.count { entries.append("/Next \(numbers[siblings[position + 1]]) 0 R") }
                if let first = kids.first, let last = kids.last {
                    entries.append("/First \(numbers[first]) 0 R /Last \(numbers[last]) 0 R /Count \(kids.count)")
                }
                write(numbers[index], "<< \(entries.joined(separator: " ")) >>")
            }
        }

        mutating func writeStream(_ number: Int, _ stream: String, dictionary: String = "") {
            var bytes = Data(stream.utf8)
            var entries = dictionary.isEmpty ? "" : dictionary + " "
            if compressed {
                bytes = Self.deflate(bytes)
                entries += "/Filter /FlateDecode "
            }
            offsets[number] = body.count
            body.append(Data("\(number) 0 obj\n<< \(entries)/Length \(bytes.count) >>\nstream\n".utf8))
            body.append(bytes)
            body.append(Data("\nendstream\nendobj\n".utf8))
        }

        mutating func standardDocument(
            pages: [PageSpec], declaredCount: Int?, title: String?, author: String?, outline: [OutlineItem] = []
        ) {
            let catalog = reserve()
            let tree = reserve()
            let helvetica = reserve()
            let type3 = reserve()
            let glyph = reserve()
            var info: Int?
            if title != nil || author != nil { info = reserve() }
            let styled = pages.contains { if case .styled = $0 { true } else { false } }
            let bold = styled ? reserve() : nil
            let pageNumbers = pages.map { _ in (page: reserve(), content: reserve()) }
            let outlines = outline.isEmpty ? nil : reserve()
            write(
                catalog,
                "<< /Type /Catalog /Pages \(tree) 0 R\(catalogEntries)" + (outlines.map { " /Outlines \($0) 0 R" } ?? "") + " >>")
            let kids = pageNumbers.map { "\($0.page) 0 R" }.joined(separator: " ")
            write(tree, "<< /Type /Pages /Kids [\(kids)] /Count \(declaredCount ?? pages.count) >>")
            if let outlines { writeOutline(outline, root: outlines, pages: pageNumbers.map(\.page)) }
            write(helvetica, Self.helvetica)
            if let bold { write(bold, Self.helvetica.replacingOccurrences(of: "/Helvetica", with: "/Helvetica-Bold")) }
            write(
                type3,
                "<< /Type /Font /Subtype /Type3 /FontBBox [0 0 600 700] /FontMatrix [0.001 0 0 0.001 0 0]"
                    + " /CharProcs << /qzxglyph \(glyph) 0 R >> /Encoding << /Type /Encoding /Differences [1 /qzxglyph] >>"
                    + " /FirstChar 1 /LastChar 1 /Widths [600] /Resources << >> >>")
            writeStream(glyph, "600 0 0 0 500 700 d1\n0 0 500 700 re f")
            if let info {
                var entries: [String] = []
                if let title { entries.append("/Title \(Self.textString(title))") }
                if let author { entries.append("/Author \(Self.textString(author))") }
                write(info, "<< \(entries.joined(separator: " ")) >>")
            }
            for (spec, numbers) in zip(pages, pageNumbers) {
                let content: String
                switch spec {
                case .missing:
                    continue  // neither the page nor its content is written
                case .text(let text):
                    content = Self.textContent(text)
                case .styled(let lines):
                    var y = 740.0
                    var shown: [String] = []
                    for line in lines {
                        guard !line.text.isEmpty else {
                            y -= 24
                            continue
                        }
                        shown.append("\(line.bold ? "/F3" : "/F1") \(line.size) Tf 1 0 0 1 72 \(y) Tm (\(Self.escape(line.text))) Tj")
                        y -= line.size * 1.3
                    }
                    content = "BT\n" + shown.joined(separator: "\n") + "\nET"
                case .unmappable(let count):
                    content = "BT /F2 12 Tf 14 TL 72 740 Td\n" + (0..<8).map { _ in
                        "<\(String(repeating: "01", count: count / 8))> Tj T*"
                    }.joined(separator: "\n") + "\nET"
                }
                write(
                    numbers.page,
                    "<< /Type /Page /Parent \(tree) 0 R /MediaBox [\(mediaBox)] /Contents \(numbers.content) 0 R"
                        + " /Resources << /Font << /F1 \(helvetica) 0 R /F2 \(type3) 0 R"
                        + (bold.map { " /F3 \($0) 0 R" } ?? "") + " >> >> >>")
                writeStream(numbers.content, content)
            }
            trailer(root: catalog, info: info)
        }

        mutating func trailer(root: Int, info: Int?) {
            let xref = body.count
            var table = "xref\n0 \(nextObject)\n0000000000 65535 f \n"
            for number in 1..<nextObject {
                if let offset = offsets[number] {
                    table += String(repeating: "0", count: 10 - String(offset).count) + "\(offset) 00000 n \n"
                } else {
                    table += "0000000000 65535 f \n"
                }
            }
            let infoEntry = info.map { " /Info \($0) 0 R" } ?? ""
            table += "trailer\n<< /Size \(nextObject) /Root \(root) 0 R\(infoEntry) >>\nstartxref\n\(xref)\n%%EOF\n"
            body.append(Data(table.utf8))
        }

        func finish() -> Data { body }

        /// `data` in the zlib format that /FlateDecode reads, at the best compression.
        static func deflate(_ data: Data) -> Data {
            var capacity = compressBound(uLong(data.count))
            var output = [UInt8](repeating: 0, count: Int(capacity))
            let status = data.withUnsafeBytes { input in
                compress2(&output, &capacity, input.bindMemory(to: Bytef.self).baseAddress, uLong(data.count), 9)
            }
            precondition(status == Z_OK, "zlib compress2 failed with status \(status)")
            return Data(output.prefix(Int(capacity)))
        }

        /// A PDF literal string in WinAnsi (Latin-1 for the printable range); other characters become `?`.
        static func escape(_ text: String) -> String {
            var out = ""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\\", "(", ")": out += "\\" + String(scalar)
                case " "..."~": out.unicodeScalars.append(scalar)
                case "\u{A0}"..."\u{FF}": out += "\\" + String(scalar.value, radix: 8)
                default: out += "?"
                }
            }
            return out
        }

        /// A text string for the Info dictionary: UTF-16BE with a byte-order mark, as hex.
        static func textString(_ text: String) -> String {
            "<FEFF" + text.utf16.map { String(format: "%04X", $0) }.joined() + ">"
        }
    }
}
