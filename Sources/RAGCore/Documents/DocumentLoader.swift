import Dispatch
import Foundation
import Synchronization

/// Loads PDF, text and Markdown files into ``Document``s: page text in order, metadata, warnings for the parts
/// that could not be read, and typed errors for documents that cannot be loaded at all.
///
/// PDF pages are extracted with MuPDF on ``ExtractionLimits/threads`` worker threads, each with its own MuPDF
/// context and its own parse of the same in-memory bytes; the result is identical to a single-threaded load.
/// The work is blocking C work: call the loader from a thread pool, not from Swift's cooperative executor.
///
/// ```swift
/// let loader = DocumentLoader(password: "secret")
/// let document = try loader.load(contentsOf: URL(fileURLWithPath: "manual.pdf"))
/// for page in document.pages { print(page.number, page.text.prefix(80)) }
/// for warning in document.warnings { print(warning) }
/// ```
///
/// Sources are told apart by extension and content: `.txt`/`.text` are UTF-8 text and `.md`/`.markdown` are
/// Markdown (both one page, or pages separated by form feeds `\f`); `.pdf`, or any file with `%PDF-` in its first
/// 1024 bytes, is a PDF; anything else is ``DocumentError/Code/unsupportedType``.
public struct DocumentLoader: Sendable {
    /// Bounds on the work and memory spent per document.
    public var limits: ExtractionLimits
    /// The password tried on encrypted PDFs.
    public var password: String?
    /// Which sections the chunker will take (``ChunkingOptions/sectionSource``), so that a PDF's headings are found
    /// (``Document/headings``) only when they will be used: always for ``SectionSource/headings``, for
    /// ``SectionSource/automatic`` when the PDF has no usable outline, never for ``SectionSource/outline`` or `nil`
    /// (the default). Finding them reads each line's font size and weight in the pass that extracts the text.
    public var headingDetection: SectionSource?
    /// When scanned pages are read by OCR, and its limits (``OCROptions``): by default, pages without a usable text
    /// layer, when Tesseract is installed.
    public var ocr: OCROptions
    /// Called from the worker threads as each page read by OCR is done, with the pages done and the pages to read
    /// in the document (for a progress bar: OCR takes seconds per page).
    public var ocrProgress: (@Sendable (_ done: Int, _ total: Int) -> Void)?

    public init(
        limits: ExtractionLimits = .init(), password: String? = nil, headingDetection: SectionSource? = nil,
        ocr: OCROptions = OCROptions()
    ) {
        self.limits = limits
        self.password = password
        self.headingDetection = headingDetection
        self.ocr = ocr
    }

    /// Loads the file at `url`. Its size is checked against ``ExtractionLimits/maxBytes`` before it is read.
    public func load(contentsOf url: URL) throws(DocumentError) -> Document {
        let fileName = url.lastPathComponent
        let kind = try Self.kind(fileName: fileName, prefix: nil)
        if kind == nil {
            // Unknown extension: only the first bytes decide, so do not read a huge file to reject it.
            let prefix = try Self.readPrefix(url)
            guard Self.hasPDFHeader(prefix) else { throw Self.unsupported(fileName) }
        }
        let bytes = try SourceBytes(contentsOf: url, maxBytes: limits.maxBytes)
        var document = try load(bytes: bytes, fileName: fileName)
        if document.kind == .pdf { document.source = Data(bytes.buffer) }
        return document
    }

    /// Loads a document from memory; `fileName` decides the type (with the content) and names it in citations.
    public func load(data: Data, fileName: String) throws(DocumentError) -> Document {
        guard data.count <= limits.maxBytes else {
            throw DocumentError(
                code: .tooLarge, fileName: fileName,
                message: "the file has \(data.count) bytes; the limit is \(limits.maxBytes)")
        }
        var document = try load(bytes: SourceBytes(copying: data), fileName: fileName)
        if document.kind == .pdf { document.source = data }
        return document
    }

    /// Loads many files using all ``ExtractionLimits/threads``: documents run in parallel, and each document's
    /// pages get its share of the threads. Results are in the order of `urls`.
    public func loadAll(_ urls: [URL]) -> [Result<Document, DocumentError>] {
        let threads = max(1, limits.threads)
        guard urls.count > 1, threads > 1 else {
            return urls.map { url in Result { () throws(DocumentError) in try load(contentsOf: url) } }
        }
        let concurrentDocuments = min(urls.count, threads)
        var perDocument = self
        perDocument.limits.threads = max(1, threads / concurrentDocuments)
        let inner = perDocument
        let results = Mutex<[Result<Document, DocumentError>?]>(Array(repeating: nil, count: urls.count))
        let next = Atomic<Int>(0)
        BlockingPool.shared.forkJoin(concurrentDocuments) { _ in
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if index >= urls.count { return }
                let result = Result { () throws(DocumentError) in try inner.load(contentsOf: urls[index]) }
                results.withLock { $0[index] = result }
            }
        }
        return results.withLock { $0.map { $0! } }
    }

    // MARK: - Dispatch by type

    func load(bytes: SourceBytes, fileName: String) throws(DocumentError) -> Document {
        guard bytes.count <= limits.maxBytes else {
            throw DocumentError(
                code: .tooLarge, fileName: fileName,
                message: "the file has \(bytes.count) bytes; the limit is \(limits.maxBytes)")
        }
        let prefix = UnsafeRawBufferPointer(rebasing: bytes.buffer[0..<min(1024, bytes.count)])
        switch try Self.kind(fileName: fileName, prefix: prefix) {
        case .pdf: return try loadPDF(bytes: bytes, fileName: fileName)
        case .text: return try loadText(bytes: bytes, fileName: fileName, kind: .text)
        case .markdown: return try loadText(bytes: bytes, fileName: fileName, kind: .markdown)
        case nil: throw Self.unsupported(fileName)
        }
    }

    /// The kind a file name and (if known) its first bytes say; `nil` when unknown.
    static func kind(fileName: String, prefix: UnsafeRawBufferPointer?) throws(DocumentError) -> DocumentKind? {
        let dot = fileName.lastIndex(of: ".")
        let ext = dot.map { fileName[fileName.index(after: $0)...].lowercased() } ?? ""
        switch ext {
        case "txt", "text": return .text
        case "md", "markdown": return .markdown
        case "pdf":
            if let prefix, !hasPDFHeader(prefix) {
                throw DocumentError(code: .notAPDF, fileName: fileName, message: "no %PDF- header in the first 1024 bytes")
            }
            return .pdf
        default:
            if let prefix { return hasPDFHeader(prefix) ? .pdf : nil }
            return nil
        }
    }

    /// Whether `%PDF-` occurs within the first 1024 bytes.
    static func hasPDFHeader(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let magic: [UInt8] = Array("%PDF-".utf8)
        let end = min(bytes.count, 1024) - magic.count
        guard end >= 0 else { return false }
        for start in 0...end where bytes[start] == magic[0] {
            if (1..<magic.count).allSatisfy({ bytes[start + $0] == magic[$0] }) { return true }
        }
        return false
    }

    private static func readPrefix(_ url: URL) throws(DocumentError) -> [UInt8] {
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            return Array(try handle.read(upToCount: 1024) ?? Data())
        } catch {
            throw DocumentError(
                code: .unreadable, fileName: url.lastPathComponent, message: "cannot read the file: \(error)")
        }
    }

    private static func hasPDFHeader(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { hasPDFHeader($0) }
    }

    private static func unsupported(_ fileName: String) -> DocumentError {
        DocumentError(code: .unsupportedType, fileName: fileName, message: "not a PDF, text or Markdown file")
    }
}
