import CMuPDF
import Foundation

/// Swift wrappers over the `ragpdf` C shim. ``MuPDF/call(_:fileName:_:)`` is the one place a C status becomes a
/// ``DocumentError``.
enum MuPDF {
    static let messageCapacity = 512

    /// Runs one shim call with a message buffer and turns a failure status into a ``DocumentError`` that names the
    /// operation and carries MuPDF's message.
    static func call(
        _ operation: String, fileName: String,
        _ body: (UnsafeMutablePointer<CChar>, Int) -> ragpdf_status
    ) throws(DocumentError) {
        var message = [CChar](repeating: 0, count: messageCapacity)
        let status = message.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        if status == RAGPDF_OK { return }
        let detail = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let code: DocumentError.Code
        let summary: String
        switch status {
        case RAGPDF_ERROR_TEXT_LIMIT:
            code = .tooMuchText
            summary = "\(operation): the text exceeds the character limit"
        case RAGPDF_ERROR_MEMORY:
            code = .damaged
            summary = "\(operation): out of memory"
        case RAGPDF_ERROR_LIMIT:
            code = .damaged
            summary = "\(operation): a work limit was reached"
        default:
            code = .damaged
            summary = "\(operation) failed"
        }
        throw DocumentError(
            code: code, fileName: fileName, message: detail.isEmpty ? summary : "\(summary): \(detail)",
            underlying: MuPDFError(status: Int(status.rawValue), operation: operation, message: detail))
    }
}

/// The raw failure reported by the shim, kept as ``DocumentError/underlying``.
struct MuPDFError: Error, Sendable, Hashable {
    var status: Int
    var operation: String
    var message: String

    /// Whether a work bound passed to the shim was reached (an image larger than its pixel limit, for example).
    var isLimit: Bool { status == Int(RAGPDF_ERROR_LIMIT.rawValue) }
}

/// Owns one MuPDF context.
///
/// Not `Sendable`: a context, and every document opened with it, is used by one thread at a time. Each
/// extraction worker creates its own.
final class MuPDFContext {
    let handle: OpaquePointer
    let fileName: String

    init(cacheBytes: Int, fileName: String) throws(DocumentError) {
        var handle: OpaquePointer?
        try MuPDF.call("creating a MuPDF context", fileName: fileName) {
            ragpdf_context_new(max(0, cacheBytes), &handle, $0, $1)
        }
        self.handle = handle!
        self.fileName = fileName
    }

    deinit { ragpdf_context_drop(handle) }
}

/// A stop switch for one long MuPDF run: ``abort()`` from any thread makes the run using it stop at its next check,
/// with a `RAGPDF_ERROR_LIMIT` status.
final class MuPDFCookie: @unchecked Sendable {
    // @unchecked Sendable: the only operation from other threads is ragpdf_cookie_abort, an atomic store made for
    // exactly that; the cookie is freed in deinit, when no run and no watchdog can hold it any more.
    let handle: OpaquePointer

    init?() {
        guard let handle = ragpdf_cookie_new() else { return nil }
        self.handle = handle
    }

    func abort() { ragpdf_cookie_abort(handle) }

    deinit { ragpdf_cookie_drop(handle) }
}

/// One page's extracted text and the counts the loader judges it by.
struct PageText: Sendable {
    var text: String
    /// Unicode scalars in `text`.
    var characters: Int
    /// Non-blank characters on the page, unmappable ones included.
    var glyphs: Int
    /// Characters without a Unicode mapping (left out of `text`).
    var unmappable: Int
    /// The page's font sizes and its lines that may be headings, when asked for.
    var styles: PageStyles?
    /// The fractions of the page's area its text lines and its images cover (each 0...1): a scan is nearly all
    /// image, and an OCR layer of junk on it covers little.
    var textCoverage: Double = 0
    var imageCoverage: Double = 0
}

/// A page rendered in 8-bit grayscale for OCR (0 black, 255 white). Owns its pixels.
final class GrayImage: @unchecked Sendable {
    // @unchecked Sendable: the pixels are written once, by the shim, before init returns, and only read afterwards.
    let pixels: UnsafeMutablePointer<UInt8>
    let width: Int
    let height: Int
    /// Bytes per row.
    let stride: Int

    init(pixels: UnsafeMutablePointer<UInt8>, width: Int, height: Int, stride: Int) {
        self.pixels = pixels
        self.width = width
        self.height = height
        self.stride = stride
    }

    deinit { ragpdf_free(pixels) }
}

/// What heading detection needs of one page: how many characters each font size has, and the lines short enough
/// and worded like a heading (``HeadingDetector/isHeadingText(_:)``), with their styles.
struct PageStyles: Sendable {
    /// Characters by font size in tenths of a point.
    var sizes: [Int: Int] = [:]
    /// The lines that may be headings; their ``TextLine/page`` is set by the loader.
    var lines: [TextLine] = []
}

/// An open PDF. Keeps its context and its source bytes alive, and is dropped before either.
final class MuPDFDocument {
    let context: MuPDFContext
    let bytes: SourceBytes
    let handle: OpaquePointer
    var fileName: String { context.fileName }

    /// Opens the PDF held by `range` of `bytes` (all of them by default: a part when a file holds several PDFs).
    init(context: MuPDFContext, bytes: SourceBytes, range: Range<Int>? = nil) throws(DocumentError) {
        var handle: OpaquePointer?
        let range = range ?? 0..<bytes.count
        try MuPDF.call("opening the PDF", fileName: context.fileName) {
            ragpdf_document_open(
                context.handle, bytes.buffer.baseAddress! + range.lowerBound, range.count, &handle, $0, $1)
        }
        self.context = context
        self.bytes = bytes
        self.handle = handle!
    }

    deinit { ragpdf_document_drop(context.handle, handle) }

    func needsPassword() throws(DocumentError) -> Bool {
        var needs: Int32 = 0
        try MuPDF.call("checking encryption", fileName: fileName) {
            ragpdf_document_needs_password(context.handle, handle, &needs, $0, $1)
        }
        return needs != 0
    }

    func authenticate(password: String) throws(DocumentError) -> Bool {
        var ok: Int32 = 0
        try MuPDF.call("checking the password", fileName: fileName) { message, capacity in
            password.withCString { ragpdf_document_authenticate(context.handle, handle, $0, &ok, message, capacity) }
        }
        return ok != 0
    }

    func pageCount() throws(DocumentError) -> Int {
        var count: Int32 = 0
        try MuPDF.call("counting pages", fileName: fileName) {
            ragpdf_document_page_count(context.handle, handle, &count, $0, $1)
        }
        return Int(count)
    }

    /// Whether MuPDF had to rebuild the cross-reference table by scanning the file: the file is damaged.
    func wasRepaired() throws(DocumentError) -> Bool {
        var repaired: Int32 = 0
        try MuPDF.call("checking for repairs", fileName: fileName) {
            ragpdf_document_repaired(context.handle, handle, &repaired, $0, $1)
        }
        return repaired != 0
    }

    /// The object numbers of the document's page objects, in object-number order, found by loading at most
    /// `maxObjects` objects (a `damaged` error past that); at most `maxPages` + 1 are returned.
    func scanPageObjects(maxObjects: Int, maxPages: Int) throws(DocumentError) -> [Int32] {
        let capacity = max(0, min(maxPages, Int(Int32.max) - 1)) + 1
        var numbers = [Int32](repeating: 0, count: capacity)
        var found: Int32 = 0
        try numbers.withUnsafeMutableBufferPointer { (buffer) throws(DocumentError) in
            try MuPDF.call("scanning for page objects", fileName: fileName) {
                ragpdf_scan_page_objects(
                    context.handle, handle, Int64(maxObjects), Int32(capacity - 1), buffer.baseAddress!, &found, $0,
                    $1)
            }
        }
        return Array(numbers.prefix(Int(found)))
    }

    /// Reads the page objects `numbers` as the document's pages, in that order, instead of its page tree.
    func usePages(_ numbers: [Int32]) throws(DocumentError) {
        try numbers.withUnsafeBufferPointer { (buffer) throws(DocumentError) in
            try MuPDF.call("setting the recovered pages", fileName: fileName) { message, capacity in
                // An empty array may have no storage; the shim reads none of it then.
                withUnsafePointer(to: Int32(0)) { empty in
                    ragpdf_document_use_pages(
                        context.handle, handle, buffer.baseAddress ?? empty, Int32(buffer.count), message, capacity)
                }
            }
        }
    }

    /// A metadata entry such as `info:Title`, or `nil` when absent.
    func metadata(_ key: String) throws(DocumentError) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        try MuPDF.call("reading metadata \(key)", fileName: fileName) { message, capacity in
            key.withCString { ragpdf_document_metadata(context.handle, handle, $0, &value, message, capacity) }
        }
        guard let value else { return nil }
        defer { ragpdf_free(value) }
        return String(cString: value)
    }

    /// The document's outline in reading order, at most `maxEntries` entries no deeper than `maxDepth`.
    func outline(maxEntries: Int, maxDepth: Int) throws(DocumentError) -> [OutlineEntry] {
        var entries: UnsafeMutablePointer<ragpdf_outline_entry>?
        var count: Int32 = 0
        try MuPDF.call("reading the outline", fileName: fileName) {
            ragpdf_document_outline(
                context.handle, handle, Int32(clamping: maxEntries), Int32(clamping: maxDepth), &entries, &count, $0, $1)
        }
        guard let entries else { return [] }
        defer { ragpdf_outline_free(entries, count) }
        return UnsafeBufferPointer(start: entries, count: Int(count)).map { entry in
            OutlineEntry(
                title: entry.title.map { String(cString: $0) } ?? "", depth: Int(entry.depth),
                page: entry.page_index >= 0 ? Int(entry.page_index) + 1 : nil,
                y: entry.y >= 0 ? Double(entry.y) : nil)
        }
    }

    /// The object number of each of the first `count` pages, in page order; equal numbers are the same page
    /// object, and 0 is unknown (a missing page, for example). Reads the page tree only, no page contents.
    func pageObjectNumbers(count: Int) throws(DocumentError) -> [Int32] {
        guard count > 0 else { return [] }
        var numbers = [Int32](repeating: 0, count: count)
        try numbers.withUnsafeMutableBufferPointer { (buffer) throws(DocumentError) in
            try MuPDF.call("reading the page tree", fileName: fileName) {
                ragpdf_page_object_numbers(context.handle, handle, Int32(buffer.count), buffer.baseAddress!, $0, $1)
            }
        }
        return numbers
    }

    /// The text of the page at 0-based `index`; throws `tooMuchText` past `maxCharacters`. With `styles`, also
    /// the page's font sizes and the lines that may be headings, read in the same pass.
    func pageText(at index: Int, maxCharacters: Int, styles: Bool = false) throws(DocumentError) -> PageText {
        var result = ragpdf_page_text_result()
        try MuPDF.call("extracting page \(index + 1)", fileName: fileName) {
            ragpdf_page_text(
                context.handle, handle, Int32(index), Int64(maxCharacters), styles ? 1 : 0, &result, $0, $1)
        }
        let text: String
        var pageStyles: PageStyles?
        if let utf8 = result.utf8, result.length > 0 {
            let raw = UnsafeRawPointer(utf8).assumingMemoryBound(to: UInt8.self)
            text = String(decoding: UnsafeBufferPointer(start: raw, count: result.length), as: UTF8.self)
            if styles, let lines = result.lines {
                pageStyles = Self.styles(UnsafeBufferPointer(start: lines, count: Int(result.line_count)), text: raw)
            }
        } else {
            text = ""
        }
        return PageText(
            text: text, characters: Int(result.characters), glyphs: Int(result.glyphs),
            unmappable: Int(result.unmappable), styles: pageStyles, textCoverage: Double(result.text_coverage),
            imageCoverage: Double(result.image_coverage))
    }

    /// The page at 0-based `index` in grayscale at `dpi`, for OCR; throws `damaged` with a `MuPDFError` of status
    /// `RAGPDF_ERROR_LIMIT` when it would take more than `maxPixels`, and `damaged` when an image on it cannot be
    /// decoded.
    func renderGray(at index: Int, dpi: Int, maxPixels: Int, cookie: MuPDFCookie? = nil) throws(DocumentError)
        -> GrayImage
    {
        var gray = ragpdf_gray()
        try MuPDF.call("rendering page \(index + 1) for OCR", fileName: fileName) {
            ragpdf_render_gray(
                context.handle, handle, Int32(clamping: index), Float(dpi), Int64(maxPixels), cookie?.handle, &gray,
                $0, $1)
        }
        return GrayImage(
            pixels: gray.pixels!, width: Int(gray.width), height: Int(gray.height), stride: Int(gray.stride))
    }

    /// Sums the characters of each font size and keeps the lines worded like a heading. A line's text is only
    /// decoded when it is short enough to be one.
    private static func styles(_ lines: UnsafeBufferPointer<ragpdf_line>, text: UnsafePointer<UInt8>) -> PageStyles {
        var styles = PageStyles()
        for (index, line) in lines.enumerated() {
            let size = Double(line.size)
            guard size.isFinite, size > 0 else { continue }
            styles.sizes[Int((size * 10).rounded()), default: 0] += Int(line.characters)
            guard line.length <= HeadingDetector.maxLineBytes else { continue }
            let title = String(
                decoding: UnsafeBufferPointer(start: text + Int(line.start), count: Int(line.length)), as: UTF8.self)
            guard HeadingDetector.isHeadingText(title) else { continue }
            styles.lines.append(
                TextLine(
                    text: title, page: 0, fontSize: size, isBold: line.bold_characters * 2 > line.characters,
                    block: Int(line.block), blockLines: Int(line.block_lines), line: index))
        }
        return styles
    }

    /// The characters of the page at 0-based `index` with their boxes (page space, top-left origin), and the page's
    /// size in points; throws `tooMuchText` past `maxCharacters`.
    func pageCharacters(at index: Int, maxCharacters: Int, cookie: MuPDFCookie? = nil) throws(DocumentError)
        -> (characters: [PageCharacter], width: Float, height: Float)
    {
        var chars: UnsafeMutablePointer<ragpdf_char>?
        var count: Int64 = 0
        var width: Float = 0
        var height: Float = 0
        try MuPDF.call("reading the characters of page \(index + 1)", fileName: fileName) {
            ragpdf_page_chars(
                context.handle, handle, Int32(clamping: index), Int64(maxCharacters), cookie?.handle, &chars, &count, &width,
                &height, $0, $1)
        }
        defer { ragpdf_free(chars) }
        guard let chars, count > 0 else { return ([], width, height) }
        let characters = UnsafeBufferPointer(start: chars, count: Int(count)).map { char in
            PageCharacter(
                scalar: Unicode.Scalar(char.c) ?? "\u{FFFD}", line: Int(char.line),
                box: PageRect(x0: char.x0, y0: char.y0, x1: char.x1, y1: char.y1))
        }
        return (characters, width, height)
    }

    /// The page at 0-based `index` as a PNG `width` pixels wide, with `highlights` (page space) tinted; throws
    /// `damaged` with a `MuPDFError` of status `RAGPDF_ERROR_LIMIT` when it would take more than `maxPixels`.
    func renderPNG(at index: Int, width: Int, maxPixels: Int, highlights: [PageRect], cookie: MuPDFCookie? = nil) throws(DocumentError)
        -> (png: Data, width: Int, height: Int)
    {
        var rendered = ragpdf_rendered()
        let rects = highlights.map { ragpdf_rect(x0: $0.x0, y0: $0.y0, x1: $0.x1, y1: $0.y1) }
        try rects.withUnsafeBufferPointer { (buffer) throws(DocumentError) in
            try MuPDF.call("rendering page \(index + 1)", fileName: fileName) {
                ragpdf_render_page(
                    context.handle, handle, Int32(clamping: index), Int32(clamping: width), Int64(maxPixels), cookie?.handle,
                    buffer.baseAddress, Int32(clamping: buffer.count), &rendered, $0, $1)
            }
        }
        defer { ragpdf_free(rendered.png) }
        guard let png = rendered.png else { return (Data(), 0, 0) }
        return (Data(bytes: png, count: rendered.length), Int(rendered.width), Int(rendered.height))
    }

    /// The printed label of the page at 0-based `index` when the PDF defines page labels, else `nil`.
    func pageLabel(at index: Int) throws(DocumentError) -> String? {
        var label = [CChar](repeating: 0, count: 128)
        try label.withUnsafeMutableBufferPointer { (buffer) throws(DocumentError) in
            try MuPDF.call("reading the label of page \(index + 1)", fileName: fileName) {
                ragpdf_page_label(context.handle, handle, Int32(clamping: index), 10_000, buffer.baseAddress!, buffer.count, $0, $1)
            }
        }
        let text = label.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return text.isEmpty ? nil : text
    }
}

/// A rectangle on a page, in points from its top-left corner (y down).
public struct PageRect: Sendable, Hashable {
    public var x0: Float, y0: Float, x1: Float, y1: Float

    public init(x0: Float, y0: Float, x1: Float, y1: Float) {
        self.x0 = x0
        self.y0 = y0
        self.x1 = x1
        self.y1 = y1
    }
}

/// One character of a page's structured text and where it is.
struct PageCharacter: Sendable, Hashable {
    var scalar: Unicode.Scalar
    /// The line it is on, counted over the page.
    var line: Int
    var box: PageRect
}
