#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// One PDF within a file's bytes, opened, and how its pages are found.
struct PDFPart {
    /// Where the PDF lies in ``PDFPlan/bytes``.
    var range: Range<Int>
    /// The part opened (and unlocked) once; extraction worker 0 reads it.
    var document: MuPDFDocument
    var pageCount: Int
    /// The page objects a scan found when the page tree was lost, in page order; `nil` when the page tree is read.
    var scannedPages: [Int32]?
}

/// The PDFs a file holds and how each is read, plus what recovery did to read them.
struct PDFPlan {
    /// The bytes the parts lie in: the file's, or a repaired copy.
    var bytes: SourceBytes
    var parts: [PDFPart]
    /// What recovery found and did, one clause each, for the `recovered` warning; empty for an intact file.
    var notes: [String]
}

/// Damaged PDFs: what MuPDF cannot repair by itself, and how the loader gets the readable pages back.
///
/// MuPDF repairs a file whose cross-reference table is missing or wrong by scanning it for `N 0 obj` and rebuilding
/// the table from the objects it finds. It stops short of three common kinds of damage, measured on 108 damaged
/// copies of 24 TeX-made manuals from Debian's documentation packages (each cut off at 10, 50 and 90 % of its
/// bytes, mangled from LF to CR LF, and concatenated in pairs): MuPDF alone read no page of any of them.
///
/// - **Cut off** (an interrupted download): TeX, like most writers that stream pages out as they finish them,
///   writes the page tree and the catalog last, so they are lost with the end of the file, and MuPDF's repair finds
///   no root: "no pages". The page objects and their content streams are in the part that remains, so when the page
///   tree is unusable the loader scans the repaired document's objects for `/Type /Page` dictionaries
///   (``MuPDFDocument/scanPageObjects(maxObjects:maxPages:)``) and reads them in object-number order, which was page
///   order in all 72 cut-off copies. Of the 385 pages with text, that read 170 at 10 %, 339 at 50 % and 356 at
///   90 %; the rest lie in the lost part, or are pages whose page objects TeX keeps in the last object stream,
///   written at the end. A cut inside a dictionary can make MuPDF's repair fail as a whole ("invalid key in
///   dict"), so a cut-off file is read up to the end of its last whole object.
///   Pages whose fonts were cut off are read with MuPDF's fallback font: legible for fonts with a standard encoding,
///   mostly U+FFFD otherwise, and then left out by ``ExtractionLimits/maxUnmappableFraction``.
/// - **Two PDFs concatenated** (`cat a.pdf b.pdf`): the second file's cross-reference offsets are counted from its
///   own start, and MuPDF's repair mixes the objects of both (same object numbers): no pages, garbled pages, or no
///   document at all. Whoever concatenates two PDFs wants both, so the file is split where a `%PDF-` header follows
///   an `%%EOF`, and each part is read as the PDF it is, pages in file order: all 12 pairs read exactly as their
///   two files are.
/// - **LF turned into CR LF** (a text-mode transfer): every compressed stream is corrupt, object streams included,
///   so a scan finds almost nothing (text on 1 page of 385). The change is reversible when every LF in the file
///   follows a CR (in a real PDF with any compressed stream, some LF does not), so the loader undoes it: all 24 read
///   exactly as the originals.
///
/// `qpdf --recover` was measured as a second opinion on the same 108 files and read none: its reconstruction needs
/// a `trailer` dictionary, which files with cross-reference streams (all of these) do not have. It is not used.
///
/// Recovery runs only for a file MuPDF had to repair or could not open; an intact file costs one
/// `pdf_was_repaired` check more. Its work is bounded by the file's size: undoing CR LF and finding parts are one
/// pass over the bytes; at most ``maxParts`` parts are opened; a scan loads at most
/// ``scanObjectBudget(byteCount:)`` objects, an object of an object stream that MuPDF has not cached counting as all
/// of the stream's objects (MuPDF parses the whole stream to load it). A document read this way carries a
/// `recovered` warning saying what was done; pages that could not be read get their usual `pageFailed` or
/// `unmappableText` warnings.
extension DocumentLoader {
    /// Most PDFs one file is split into; the bytes after the last split are read as one PDF, as MuPDF reads them.
    static let maxParts = 64

    /// Most objects a scan for page objects loads in a file of `byteCount` bytes: one per 8 bytes, and at least
    /// 10,000. The densest of 321 real PDFs measured (Debian's documentation) has one object per 58 bytes.
    static func scanObjectBudget(byteCount: Int) -> Int { max(10_000, byteCount / 8) }

    /// Opens the PDF and decides how to read it: as it is when MuPDF opens it without repairing it, else recovered.
    func planPDF(bytes: SourceBytes, fileName: String) throws(DocumentError) -> PDFPlan {
        var opened: MuPDFDocument?
        var failure: DocumentError
        do {
            let document = try openPDF(bytes: bytes, fileName: fileName)
            let count = try document.pageCount()
            if try !document.wasRepaired() {
                let part = PDFPart(range: 0..<bytes.count, document: document, pageCount: count, scannedPages: nil)
                return PDFPlan(bytes: bytes, parts: [part], notes: [])
            }
            opened = document
            failure = DocumentError(code: .damaged, fileName: fileName, message: "no page could be found")
        } catch where error.code == .encrypted || error.code == .wrongPassword {
            throw error
        } catch {
            failure = DocumentError(code: .damaged, fileName: fileName, message: error.message, underlying: error)
        }
        return try recoverPDF(bytes: bytes, fileName: fileName, opened: opened, failure: failure)
    }

    /// Reads a damaged PDF: undoes a text-mode transfer, splits concatenated PDFs, and scans for page objects where
    /// a page tree is lost. `opened` is the whole file as MuPDF repaired it, if it opened; `failure` is thrown when
    /// no page at all can be found.
    private func recoverPDF(
        bytes: SourceBytes, fileName: String, opened: MuPDFDocument?, failure: DocumentError
    ) throws(DocumentError) -> PDFPlan {
        var notes: [String] = []
        var source = bytes
        if let restored = Self.undoingTextModeTransfer(bytes) {
            source = restored
            notes.append(
                "every line feed in it had become CR LF, as a text-mode transfer does, and was turned back")
        }
        var ranges = Self.parts(of: source.buffer, limit: Self.maxParts)
        // A cut-off file usually ends inside an object, which can make MuPDF's repair fail as a whole ("invalid key
        // in dict"): read it up to the end of its last whole object.
        let cutOff = !Self.endsWithEOF(source.buffer, before: source.count)
        if cutOff, let last = ranges.last, let end = Self.endOfLastObject(source.buffer, in: last) {
            ranges[ranges.count - 1] = last.lowerBound..<end
        }
        var parts: [PDFPart] = []
        var names: [String] = []  // of the parts read
        var unreadable: [String] = []
        let several = ranges.count > 1
        for (index, range) in ranges.enumerated() {
            let name = several ? "the \(Self.ordinal(index + 1)) PDF" : "the PDF"
            do throws(DocumentError) {
                let document: MuPDFDocument
                if !several, source === bytes, range == 0..<bytes.count, let opened {
                    document = opened
                } else {
                    document = try openPDF(bytes: source, range: range, fileName: fileName)
                }
                var count = (try? document.pageCount()) ?? 0
                var scanned: [Int32]?
                if count <= 0 {
                    let found = try document.scanPageObjects(
                        maxObjects: Self.scanObjectBudget(byteCount: range.count), maxPages: limits.maxPages)
                    if found.count > limits.maxPages {
                        throw DocumentError(
                            code: .tooManyPages, fileName: fileName,
                            message: "\(name) holds more than \(limits.maxPages) page objects; the limit is "
                                + "\(limits.maxPages)")
                    }
                    if !found.isEmpty {
                        try document.usePages(found)
                        scanned = found
                        count = found.count
                    }
                }
                if count <= 0 {
                    unreadable.append("\(name) has no page that could be found")
                    continue
                }
                parts.append(PDFPart(range: range, document: document, pageCount: count, scannedPages: scanned))
                names.append(name)
            } catch where [.encrypted, .wrongPassword, .tooManyPages].contains(error.code) {
                throw error
            } catch {
                unreadable.append("\(name) could not be read (\(error.message))")
            }
        }
        // Which pages each part became, as a reader numbers them.
        var spans: [String] = []
        var first = 1
        for part in parts {
            spans.append(part.pageCount == 1 ? "page \(first)" : "pages \(first)–\(first + part.pageCount - 1)")
            first += part.pageCount
        }
        if several {
            let atLeast = ranges.count == Self.maxParts ? "at least " : ""
            let rest =
                atLeast.isEmpty ? "" : " (the bytes after the \(Self.ordinal(ranges.count - 1)) were read as one)"
            let read = zip(spans, names).map { "\($0) from \($1)" }
            notes.append(
                "it holds \(atLeast)\(ranges.count) PDFs one after another, as `cat a.pdf b.pdf` makes\(rest), read in "
                    + "file order" + (read.isEmpty ? "" : ": " + read.joined(separator: ", ")))
        }
        if cutOff {
            notes.append("it ends early, after \(bytes.count) bytes with no %%EOF, as a cut-off download does")
        }
        for (index, part) in parts.enumerated() where part.scannedPages != nil {
            let whose = several ? "\(names[index])'s" : "its"
            var note =
                "\(whose) page tree was lost, so its \(spans[index]) were found by scanning its objects and read in "
                + "file order"
            if part.pageCount == 1 { note = note.replacingOccurrences(of: " were found", with: " was found") }
            if cutOff && index == parts.count - 1 {
                note += "; any pages after page \(first - 1) were lost with the end of the file"
            }
            notes.append(note)
        }
        if unreadable.count > 3 {
            notes.append("\(unreadable.count) of the PDFs could not be read (\(unreadable[0]), …)")
        } else {
            notes += unreadable
        }
        if parts.isEmpty {
            var error = failure
            if !notes.isEmpty { error.message += "; " + notes.joined(separator: "; ") }
            throw error
        }
        // A file MuPDF merely repaired has no notes: its failed pages have their own warnings.
        return PDFPlan(bytes: source, parts: parts, notes: notes)
    }

    /// The `recovered` warning for a document read by recovery, or `nil` for an intact one.
    static func recoveredWarning(_ plan: PDFPlan) -> DocumentWarning? {
        guard !plan.notes.isEmpty else { return nil }
        return DocumentWarning(
            kind: .recovered, page: nil,
            message: "the file is damaged, and what could be read was recovered: " + plan.notes.joined(separator: "; "))
    }

    /// A copy of `bytes` with every CR LF turned back into LF, when every LF in them follows a CR (what a text-mode
    /// transfer leaves); otherwise `nil`. Exact: a transfer that turned each LF into CR LF is undone byte for byte.
    static func undoingTextModeTransfer(_ bytes: SourceBytes) -> SourceBytes? {
        let buffer = bytes.buffer
        var lineFeeds = 0
        var index = 0
        while let found = memchr(buffer.baseAddress! + index, 0x0A, buffer.count - index) {
            let at = buffer.baseAddress!.distance(to: UnsafeRawPointer(found))
            if at == 0 || buffer[at - 1] != 0x0D { return nil }
            lineFeeds += 1
            index = at + 1
            if index >= buffer.count { break }
        }
        guard lineFeeds > 0 else { return nil }
        return SourceBytes(capacity: buffer.count - lineFeeds) { output in
            var written = 0
            for (offset, byte) in buffer.enumerated()
            where !(byte == 0x0D && offset + 1 < buffer.count && buffer[offset + 1] == 0x0A) {
                output[written] = byte
                written += 1
            }
            return written
        }
    }

    /// The byte ranges of the PDFs in `bytes`: a new one starts wherever a `%PDF-` header follows an `%%EOF` (with
    /// only white space between), as in `cat a.pdf b.pdf`; at most `limit` ranges.
    static func parts(of bytes: UnsafeRawBufferPointer, limit: Int) -> [Range<Int>] {
        var starts = [0]
        let eof = Array("%%EOF".utf8), header = Array("%PDF-".utf8)
        var index = 0
        while starts.count < limit, let at = find(eof, in: bytes, from: index) {
            var next = at + eof.count
            while next < bytes.count, [0x20, 0x09, 0x0D, 0x0A, 0x0C, 0x00].contains(bytes[next]) { next += 1 }
            if next + header.count <= bytes.count, (0..<header.count).allSatisfy({ bytes[next + $0] == header[$0] }) {
                starts.append(next)
            }
            index = next
        }
        return starts.indices.map { starts[$0]..<(($0 + 1 < starts.count) ? starts[$0 + 1] : bytes.count) }
    }

    /// Whether `%%EOF` occurs in the last 1,024 bytes before `end`: a PDF that ends where its writer ended it.
    static func endsWithEOF(_ bytes: UnsafeRawBufferPointer, before end: Int) -> Bool {
        let start = max(0, end - 1024)
        let tail = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        return find(Array("%%EOF".utf8), in: tail, from: 0) != nil
    }

    /// The offset just past the last `endobj` in `range` of `bytes`, or `nil` when there is none.
    static func endOfLastObject(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>) -> Int? {
        let needle = Array("endobj".utf8)
        var index = range.upperBound - needle.count
        while index >= range.lowerBound {
            if bytes[index] == needle[0], (1..<needle.count).allSatisfy({ bytes[index + $0] == needle[$0] }) {
                return index + needle.count
            }
            index -= 1
        }
        return nil
    }

    /// The offset of the first `needle` in `bytes` at or after `from`.
    private static func find(_ needle: [UInt8], in bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard !needle.isEmpty, let base = bytes.baseAddress else { return nil }
        var index = from
        while index + needle.count <= bytes.count,
            let found = memchr(base + index, Int32(needle[0]), bytes.count - index - needle.count + 1)
        {
            let at = base.distance(to: UnsafeRawPointer(found))
            if needle.withUnsafeBytes({ memcmp(base + at, $0.baseAddress!, $0.count) }) == 0 { return at }
            index = at + 1
        }
        return nil
    }

    private static func ordinal(_ n: Int) -> String {
        let suffix = (11...13).contains(n % 100) ? "th" : [1: "st", 2: "nd", 3: "rd"][n % 10] ?? "th"
        return "\(n)\(suffix)"
    }

    private static func pageCountText(_ count: Int) -> String { count == 1 ? "1 page" : "\(count) pages" }
}
