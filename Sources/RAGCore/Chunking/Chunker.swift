/// Cuts documents into overlapping, page-aware chunks at paragraph and sentence boundaries.
///
/// Text is normalised first: runs of white space become one space, single line breaks inside a paragraph
/// are joined, a blank line ends a paragraph, and a word hyphenated across a line break is joined
/// ("infor-\nmation" becomes "information"). Chunks hold whole sentences where they fit; a sentence longer than
/// a chunk is cut between words. Each chunk repeats up to `overlapCharacters` of the end of the chunk before it.
/// By default chunks do not cross pages, so every citation names one page (`respectPageBreaks`).
///
/// ```swift
/// let chunker = Chunker(options: ChunkingOptions(maxCharacters: 800, overlapCharacters: 150))
/// let chunks = chunker.chunks(of: document)   // each knows its document and page range
/// ```
public struct Chunker: Sendable {
    public var options: ChunkingOptions

    public init(options: ChunkingOptions = ChunkingOptions()) {
        self.options = options
    }

    /// The chunks of a loaded document; with ``ChunkingOptions/sectionContext``, each carries the document's
    /// title and the sections it falls in (from its outline or its detected headings, as
    /// ``ChunkingOptions/sectionSource`` says).
    public func chunks(of document: Document) -> [Chunk] {
        chunks(
            pages: document.pages, documentID: document.id, fileName: document.fileName,
            title: options.sectionContext ? document.title : nil,
            outline: options.sectionContext ? options.sectionSource.sections(of: document) : [])
    }

    /// The chunks of the given pages, attributed to `documentID` and `fileName`. A chunk's context is `title` and
    /// the path of `outline` sections its text falls in (see ``Chunk/context``).
    public func chunks(
        pages: [Page], documentID: DocumentID, fileName: String, title: String? = nil, outline: [OutlineEntry] = []
    ) -> [Chunk] {
        var splitter = Splitter(maxBytes: options.maxCharacters)
        for page in pages {
            var text = page.text
            text.withUTF8 { splitter.addPage($0, page: page.number) }
        }
        let pieces = splitter.pack(overlap: options.overlapCharacters, breakAtPages: options.respectPageBreaks)
        let sections = splitter.sections(of: outline)
        let title = title.map(Chunker.normalize) ?? ""
        var next = 0  // the first section not yet known to start before the current piece
        return pieces.enumerated().map { ordinal, piece in
            let text = piece.text
            // A piece belongs to the section in force at its middle: one that starts under a heading (after the
            // overlap it repeats) is about that heading's section.
            let middle = (piece.start + piece.end) / 2
            while next < sections.count && sections[next].offset <= middle { next += 1 }
            let path = next > 0 ? sections[next - 1].path : []
            let id = ChunkID(rawValue: Chunker.fingerprint(documentID: documentID, ordinal: ordinal, text: text))
            return Chunk(
                id: id, documentID: documentID, fileName: fileName, pageStart: piece.pageStart,
                pageEnd: piece.pageEnd, ordinal: ordinal, text: text,
                context: Chunker.context(title: title, path: path, innermost: options.contextSections)
            )
        }
    }

    /// With `innermost` nil, "Title › Section › Subsection", at most ``ChunkingOptions/maxContextBytes``: the
    /// outermost sections under the title are left out first (the innermost say most about the passage), then the
    /// rest is cut at a word. With `innermost` n, the n innermost sections ("Subsection" for 1), or the title when
    /// there are none, at most ``ChunkingOptions/maxSectionContextBytes``, cut at a word.
    static func context(title: String, path: [String], innermost: Int? = nil) -> String {
        var path = path
        if let first = path.first, first.lowercased() == title.lowercased() { path.removeFirst() }
        let separator = " › "
        var limit = ChunkingOptions.maxContextBytes
        var title = title
        if let innermost {
            path = Array(path.suffix(innermost))
            if !path.isEmpty { title = "" }
            limit = ChunkingOptions.maxSectionContextBytes
        }
        func joined() -> String { ([title].filter { !$0.isEmpty } + path).joined(separator: separator) }
        var text = joined()
        while text.utf8.count > limit && path.count > 1 {
            path.removeFirst()
            text = joined()
        }
        guard text.utf8.count > limit else { return text }
        var prefix = ""
        var bytes = 0
        for scalar in text.unicodeScalars {
            bytes += scalar.utf8.count
            if bytes > limit { break }
            prefix.unicodeScalars.append(scalar)
        }
        return String(prefix.lastIndex(of: " ").map { prefix[..<$0] } ?? prefix[...])
    }

    /// A chunk id: 64-bit FNV-1a of the document id, the ordinal and the text, as 16 hex digits. Deterministic
    /// across runs and machines; not a cryptographic hash (document ids, from file bytes, are SHA-256).
    static func fingerprint(documentID: DocumentID, ordinal: Int, text: String) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        }
        mix(documentID.rawValue.utf8)
        mix(CollectionOfOne(0))
        mix(String(ordinal).utf8)
        mix(CollectionOfOne(0))
        var text = text
        text.withUTF8 { mix($0) }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The text as the chunker sees it: white space folded, lines joined, hyphenation undone, paragraphs kept.
    public static func normalize(_ text: String) -> String {
        var splitter = Splitter(maxBytes: Int.max)
        var copy = text
        copy.withUTF8 { splitter.addPage($0, page: 1) }
        var out = [UInt8]()
        out.reserveCapacity(splitter.buffer.count)
        for unit in splitter.units {
            if !out.isEmpty { out.append(contentsOf: unit.startsParagraph ? [0x0A, 0x0A] : [0x20]) }
            out.append(contentsOf: splitter.buffer[unit.start..<unit.end])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The byte-level machinery behind `Chunker`: normalised text in one buffer, sentence units as ranges into it.
struct Splitter {
    struct Unit {
        var start: Int
        var end: Int
        var page: Int
        var startsParagraph: Bool
        var length: Int { end - start }
    }

    struct Piece {
        var text: String
        var pageStart: Int
        var pageEnd: Int
        /// Where the piece's first unit starts and its last unit ends in the buffer.
        var start: Int
        var end: Int
    }

    let maxBytes: Int
    var buffer: [UInt8] = []
    var units: [Unit] = []
    /// Each page's normalised text in the buffer, in the order added.
    var pageRanges: [(page: Int, range: Range<Int>)] = []

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    private static let space: UInt8 = 0x20
    private static let newline: UInt8 = 0x0A
    private static let hyphen: UInt8 = 0x2D

    @inline(__always) private static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A || byte >= 0x80
    }

    /// `"`, `'`, `)` or `]`: may follow a sentence's final punctuation.
    @inline(__always) private static func isClosing(_ byte: UInt8) -> Bool {
        byte == 0x22 || byte == 0x27 || byte == 0x29 || byte == 0x5D
    }

    @inline(__always) private static func isLowercase(_ byte: UInt8) -> Bool { byte >= 0x61 && byte <= 0x7A }

    /// Normalises one page into the buffer and records its sentence units.
    mutating func addPage(_ bytes: UnsafeBufferPointer<UInt8>, page: Int) {
        // Normalising never lengthens the text (a space is written only for white space read), so the output
        // fits in `bytes.count` more bytes: write through a pointer, then trim.
        let base = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: bytes.count))
        var paragraphs: [Range<Int>] = []
        let end = buffer.withUnsafeMutableBufferPointer { out -> Int in
            var cursor = base
            var paragraphStart = base
            var pendingSpace = false
            var newlines = 0
            var index = 0
            let count = bytes.count
            while index < count {
                let byte = bytes[index]
                index += 1
                if byte <= Splitter.space || byte == 0x7F {
                    if byte == Splitter.newline || byte == 0x0C || (byte == 0x0D && (index == count || bytes[index] != Splitter.newline)) {
                        newlines += 1
                    }
                    pendingSpace = true
                    continue
                }
                if newlines >= 2 {
                    if cursor > paragraphStart { paragraphs.append(paragraphStart..<cursor) }
                    paragraphStart = cursor
                } else if pendingSpace && cursor > paragraphStart {
                    if newlines == 1 && out[cursor - 1] == Splitter.hyphen && cursor - paragraphStart >= 2
                        && Splitter.isLetter(out[cursor - 2]) && Splitter.isLetter(byte)
                    {
                        // A word hyphenated across a line break: join it, dropping the hyphen before a lower-case letter.
                        if Splitter.isLowercase(byte) { cursor -= 1 }
                    } else {
                        out[cursor] = Splitter.space
                        cursor += 1
                    }
                }
                newlines = 0
                pendingSpace = false
                out[cursor] = byte
                cursor += 1
            }
            if cursor > paragraphStart { paragraphs.append(paragraphStart..<cursor) }
            return cursor
        }
        buffer.removeSubrange(end...)
        pageRanges.append((page, base..<end))
        for paragraph in paragraphs { addParagraph(paragraph, page: page) }
    }

    /// Splits the paragraph `buffer[range]` into sentence units no longer than `maxBytes`.
    private mutating func addParagraph(_ range: Range<Int>, page: Int) {
        var sentences: [Range<Int>] = []
        buffer.withUnsafeBufferPointer { text in
            let end = range.upperBound
            var sentenceStart = range.lowerBound
            var index = range.lowerBound
            while index < end {
                let byte = text[index]
                index += 1
                guard byte == 0x2E || byte == 0x21 || byte == 0x3F else { continue }  // . ! ?
                var boundary = index
                while boundary < end, Splitter.isClosing(text[boundary]) { boundary += 1 }
                guard boundary + 1 < end, text[boundary] == Splitter.space, !Splitter.isLowercase(text[boundary + 1])
                else { continue }
                sentences.append(sentenceStart..<boundary)
                sentenceStart = boundary + 1
                index = sentenceStart
            }
            sentences.append(sentenceStart..<end)
        }
        for (position, sentence) in sentences.enumerated() {
            addSentence(sentence.lowerBound, sentence.upperBound, page: page, startsParagraph: position == 0)
        }
    }

    /// Adds a sentence, cutting it between words (or, for one enormous word, between characters) to fit.
    private mutating func addSentence(_ start: Int, _ end: Int, page: Int, startsParagraph: Bool) {
        var from = start
        var first = startsParagraph
        while end - from > maxBytes {
            var cut = from + maxBytes
            while cut > from && buffer[cut] != Splitter.space { cut -= 1 }
            var next = cut + 1
            if cut == from {  // no space: cut at a UTF-8 character boundary
                cut = from + maxBytes
                while cut > from + 1 && buffer[cut] & 0xC0 == 0x80 { cut -= 1 }
                next = cut
            }
            units.append(Unit(start: from, end: cut, page: page, startsParagraph: first))
            first = false
            from = next
        }
        if end > from { units.append(Unit(start: from, end: end, page: page, startsParagraph: first)) }
    }

    /// Packs the units greedily into pieces of at most `maxBytes`, each repeating up to `overlap` bytes of the last.
    func pack(overlap: Int, breakAtPages: Bool) -> [Piece] {
        var pieces: [Piece] = []
        var current: [Unit] = []
        var length = 0

        func separator(_ unit: Unit, isFirst: Bool) -> Int { isFirst ? 0 : (unit.startsParagraph ? 2 : 1) }

        func emit() {
            var bytes = [UInt8]()
            bytes.reserveCapacity(length)
            var pageStart = Int.max
            var pageEnd = 0
            for (offset, unit) in current.enumerated() {
                if offset > 0 {
                    if unit.startsParagraph { bytes.append(Splitter.newline); bytes.append(Splitter.newline) }
                    else { bytes.append(Splitter.space) }
                }
                bytes.append(contentsOf: buffer[unit.start..<unit.end])
                pageStart = min(pageStart, unit.page)
                pageEnd = max(pageEnd, unit.page)
            }
            pieces.append(
                Piece(
                    text: String(decoding: bytes, as: UTF8.self), pageStart: pageStart, pageEnd: pageEnd,
                    start: current.first!.start, end: current.last!.end))
        }

        /// The tail of `current` to carry into the next piece: whole units, or the last words of the last unit.
        func overlapTail() -> [Unit] {
            guard overlap > 0, let last = current.last else { return [] }
            var tail: [Unit] = []
            var total = 0
            for unit in current.reversed().dropLast() {
                let added = unit.length + (tail.isEmpty ? 0 : 1)
                if total + added > overlap { break }
                tail.insert(unit, at: 0)
                total += added
            }
            if tail.isEmpty && last.length > overlap {
                var cut = last.end - overlap
                while cut < last.end && buffer[cut] != Splitter.space { cut += 1 }
                if cut + 1 < last.end { tail = [Unit(start: cut + 1, end: last.end, page: last.page, startsParagraph: false)] }
            }
            if var first = tail.first {
                first.startsParagraph = false
                tail[0] = first
            }
            return tail
        }

        for unit in units {
            if breakAtPages, let last = current.last, last.page != unit.page {
                emit()
                current = []
                length = 0
            }
            if !current.isEmpty && length + separator(unit, isFirst: false) + unit.length > maxBytes {
                emit()
                current = overlapTail()
                length = current.enumerated().reduce(0) { $0 + $1.element.length + ($1.offset == 0 ? 0 : 1) }
                while !current.isEmpty && length + separator(unit, isFirst: false) + unit.length > maxBytes {
                    length -= current.removeFirst().length + (current.isEmpty ? 0 : 1)
                }
            }
            length += separator(unit, isFirst: current.isEmpty) + unit.length
            current.append(unit)
        }
        if !current.isEmpty { emit() }
        return pieces
    }
}

extension Splitter {
    /// How many bytes of page text ``sections(of:)`` may compare in all, whatever the outline: a hostile one can
    /// name thousands of titles that appear nowhere on a long page.
    static let sectionSearchBudget = 64 << 20

    /// Where each section of `outline` starts in the buffer, with its path of titles (outermost first), in buffer
    /// order. A section starts where its title is found on its page (ASCII case and white space aside), at or
    /// after the section before it on that page; where it is not found, there. A section on a page without text
    /// starts at the next page with text; entries without a page, or past the last page with text, are left out.
    func sections(of outline: [OutlineEntry]) -> [(offset: Int, path: [String])] {
        guard !outline.isEmpty, !pageRanges.isEmpty else { return [] }
        var found: [(offset: Int, path: [String])] = []
        var path: [String] = []
        var lastOnPage: [Int: Int] = [:]
        var budget = Splitter.sectionSearchBudget
        for entry in outline {
            let title = Chunker.normalize(entry.title)
            path = Array(path.prefix(max(0, entry.depth))) + [title]
            guard !title.isEmpty, let page = entry.page, let index = firstPageRange(atOrAfter: page) else { continue }
            let (rangePage, range) = pageRanges[index]
            var offset = range.lowerBound
            if rangePage == page {
                let from = max(range.lowerBound, lastOnPage[page] ?? range.lowerBound)
                offset = find(title, in: from..<range.upperBound, budget: &budget) ?? from
                lastOnPage[page] = offset
            }
            found.append((offset, path.filter { !$0.isEmpty }))
        }
        return found.enumerated()
            .sorted { ($0.element.offset, $0.offset) < ($1.element.offset, $1.offset) }
            .map(\.element)
    }

    /// The index of the first page range whose page is `page` or later (pages are added in order).
    private func firstPageRange(atOrAfter page: Int) -> Int? {
        var low = 0
        var high = pageRanges.count
        while low < high {
            let middle = (low + high) / 2
            if pageRanges[middle].page < page { low = middle + 1 } else { high = middle }
        }
        return low < pageRanges.count ? low : nil
    }

    /// The offset of the first occurrence of `needle` in `buffer[range]`, ASCII letters compared without case;
    /// `nil` when absent or when `budget` (bytes compared, shared across calls) runs out.
    private func find(_ needle: String, in range: Range<Int>, budget: inout Int) -> Int? {
        let pattern = Array(needle.utf8).map(Splitter.folded)
        guard let first = pattern.first, range.count >= pattern.count else { return nil }
        var start = range.lowerBound
        let last = range.upperBound - pattern.count
        while start <= last {
            guard budget > 0 else { return nil }
            budget -= 1
            if Splitter.folded(buffer[start]) == first {
                var matched = 1
                while matched < pattern.count && Splitter.folded(buffer[start + matched]) == pattern[matched] {
                    matched += 1
                }
                budget -= matched
                if matched == pattern.count { return start }
            }
            start += 1
        }
        return nil
    }

    @inline(__always) private static func folded(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }
}
