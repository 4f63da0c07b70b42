import Foundation

/// One line of a page's text with the style most of its characters are set in: what ``HeadingDetector`` reads.
public struct TextLine: Sendable, Hashable {
    /// The line's text.
    public var text: String
    /// The 1-based page it is on.
    public var page: Int
    /// The font size most of its characters have, in points as drawn.
    public var fontSize: Double
    /// Whether most of its characters are set in a bold font.
    public var isBold: Bool
    /// The text block of the page it is in (0-based), and how many lines that block has.
    public var block: Int
    public var blockLines: Int
    /// Its place among the page's lines (0-based).
    public var line: Int

    public init(
        text: String, page: Int, fontSize: Double, isBold: Bool = false, block: Int = 0, blockLines: Int = 1,
        line: Int = 0
    ) {
        self.text = text
        self.page = page
        self.fontSize = fontSize
        self.isBold = isBold
        self.block = block
        self.blockLines = blockLines
        self.line = line
    }
}

/// Finds a PDF's headings from its font sizes and weights, for section context where the PDF has no outline.
///
/// The body size is the font size most characters of the document are set in. A heading is a short line worded
/// like one (``isHeadingText(_:)``: at most ``maxLineBytes`` bytes and ``maxWords`` words, at least two letters and
/// no more digits than letters, not ending like a sentence or a list item, no dot leaders of a table of contents)
/// that is either
/// - set at least ``minimumSizeRatio`` times the body size, in a size most of whose text is in such lines (a size
///   that is mostly running text, a larger font for code, say, is not a heading size), or
/// - bold, at about the body size, and alone in its text block.
///
/// A line whose text (digits aside) appears in the same style on more than ``maxRepeatedPages`` pages is a running
/// header or footer, not a heading. Consecutive heading lines of one block in one style are one heading (a title
/// that wraps). Levels: the heading sizes ranked from the largest, then bold at body size; only the first
/// ``maxLevels`` are kept. The result has the shape of a PDF outline, so the chunker uses it the same way.
///
/// ```swift
/// let lines = [
///     TextLine(text: "Installing", page: 1, fontSize: 16),
///     TextLine(text: "Run the installer.", page: 1, fontSize: 10),
/// ]
/// let headings = HeadingDetector().headings(in: lines, bodySize: 10, maxEntries: 100)  // "Installing", depth 0
/// ```
public struct HeadingDetector: Sendable, Hashable {
    /// The longest heading line, in UTF-8 bytes; longer lines are text.
    public static let maxLineBytes = 100
    /// The most words a heading line has.
    public static let maxWords = 12

    /// How much larger than the body size a line's font must be to make it a heading. Default 1.15.
    public var minimumSizeRatio: Double
    /// Heading levels kept, from the largest size. Default 4.
    public var maxLevels: Int
    /// A line found in one style on more pages than this is a running header or footer. Default 3.
    public var maxRepeatedPages: Int

    public init(minimumSizeRatio: Double = 1.15, maxLevels: Int = 4, maxRepeatedPages: Int = 3) {
        self.minimumSizeRatio = minimumSizeRatio
        self.maxLevels = maxLevels
        self.maxRepeatedPages = maxRepeatedPages
    }

    /// The font size most characters are set in, from characters by size in tenths of a point; `nil` without any.
    public static func bodySize(_ characters: [Int: Int]) -> Double? {
        characters.max { ($0.value, $1.key) < ($1.value, $0.key) }.map { Double($0.key) / 10 }
    }

    /// Whether `text` is worded like a heading, whatever its style: see ``HeadingDetector``.
    ///
    /// Called for every short line of a document the loader reads headings of, so ASCII is decided without Unicode
    /// property look-ups (Foundation's string search and those look-ups cost a third of the extraction time).
    public static func isHeadingText(_ text: String) -> Bool {
        guard text.utf8.count <= maxLineBytes else { return false }
        var letters = 0
        var digits = 0
        var words = 0
        var inWord = false
        var last: Unicode.Scalar = " "
        var dots = 0  // the run of "." and ". " just seen, for dot leaders
        var previous: Unicode.Scalar = " "
        for scalar in text.unicodeScalars {
            let space: Bool
            if scalar.isASCII {
                let value = scalar.value
                space = value == 0x20 || value == 0x09
                if (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value) {
                    letters += 1
                } else if (0x30...0x39).contains(value) {
                    digits += 1
                }
            } else {
                if scalar == "…" { return false }
                space = scalar.properties.isWhitespace
                if scalar.properties.isAlphabetic { letters += 1 }
            }
            if scalar == "." {
                dots += 1
                if dots >= 3 && (previous == "." || previous == " ") { return false }  // "...." or ". . ."
            } else if scalar != " " {
                dots = 0
            }
            if !space && !inWord { words += 1 }
            inWord = !space
            if !space { last = scalar }
            previous = scalar
        }
        guard words > 0, !".,;:".unicodeScalars.contains(last) else { return false }
        return letters >= 2 && digits <= letters && words <= maxWords
    }

    /// The headings among `lines` (the document's lines in page order; lines not worded like headings may be left
    /// out beforehand), as outline entries: title, depth (0 for the top level) and page. `sizes` gives the
    /// characters of the whole document by font size in tenths of a point, for telling a heading size from a size
    /// of running text; without it, the lines given are all the text. At most `maxEntries` are returned, the first.
    public func headings(
        in lines: [TextLine], bodySize: Double, sizes: [Int: Int]? = nil, maxEntries: Int = .max
    ) -> [OutlineEntry] {
        guard bodySize > 0, maxEntries > 0 else { return [] }
        // A size class is half a point wide; bold at body size is class -1, below every size.
        func sizeClass(_ size: Double) -> Int { Int((size * 2).rounded()) }
        func styleClass(_ line: TextLine) -> Int? {
            if line.fontSize >= bodySize * minimumSizeRatio { return sizeClass(line.fontSize) }
            if line.isBold && line.fontSize >= bodySize * 0.97 && line.blockLines == 1 { return -1 }
            return nil
        }
        func key(_ text: String) -> String {
            String(text.lowercased().unicodeScalars.filter { !("0"..."9").contains($0) && !$0.properties.isWhitespace })
        }
        var candidates: [(line: TextLine, style: Int)] = []
        var pagesOf: [String: Set<Int>] = [:]
        for line in lines where Self.isHeadingText(line.text) {
            guard let style = styleClass(line) else { continue }
            candidates.append((line, style))
            pagesOf["\(style) \(key(line.text))", default: []].insert(line.page)
        }
        candidates.removeAll { pagesOf["\($0.style) \(key($0.line.text))"]!.count > maxRepeatedPages }

        // A size is a heading size when most of the text set in it is in heading lines.
        var allBySize: [Int: Int] = [:]
        for (tenths, count) in sizes ?? [:] { allBySize[sizeClass(Double(tenths) / 10), default: 0] += count }
        if sizes == nil { for line in lines { allBySize[sizeClass(line.fontSize), default: 0] += line.text.count } }
        var headingBySize: [Int: Int] = [:]
        for (line, style) in candidates { headingBySize[style, default: 0] += line.text.count }
        let styles = Set(candidates.map(\.style)).filter { style in
            style < 0 || headingBySize[style, default: 0] * 2 >= allBySize[style, default: 0]
        }
        let ranked = styles.sorted(by: >).prefix(max(0, maxLevels))
        let depth = Dictionary(uniqueKeysWithValues: ranked.enumerated().map { ($0.element, $0.offset) })

        var entries: [OutlineEntry] = []
        var previous: (line: TextLine, style: Int)?
        for (line, style) in candidates {
            guard let level = depth[style] else { continue }
            let title = line.text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            if let before = previous, before.style == style, before.line.page == line.page,
                before.line.block == line.block, before.line.line + 1 == line.line, var last = entries.popLast()
            {
                // The next line of a title that wraps.
                let joined = last.title + " " + title
                if joined.utf8.count <= Self.maxLineBytes * 2 { last.title = joined }
                entries.append(last)
            } else {
                if entries.count == maxEntries { break }
                entries.append(OutlineEntry(title: title, depth: level, page: line.page))
            }
            previous = (line, style)
        }
        return entries
    }

    /// The headings among `lines`, the body size being the size most of their characters have: for lines that are
    /// all of a document's text.
    public func headings(in lines: [TextLine], maxEntries: Int = .max) -> [OutlineEntry] {
        var sizes: [Int: Int] = [:]
        for line in lines { sizes[Int((line.fontSize * 10).rounded()), default: 0] += line.text.count }
        guard let body = Self.bodySize(sizes) else { return [] }
        return headings(in: lines, bodySize: body, sizes: sizes, maxEntries: maxEntries)
    }
}
