import CTesseract
import Foundation
import Synchronization

/// Why OCR could not run, or could not read a page.
public struct OCRError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// libtesseract is not installed (or too old).
        case unavailable
        /// A language's data file is missing or unreadable.
        case language
        /// Memory ran out.
        case memory
        /// A page image or setting out of range.
        case argument
        /// A page took longer than ``OCROptions/pageTimeout``.
        case timeout
        /// Tesseract could not read the page.
        case recognition
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// How to make OCR available on Debian, for messages.
    public static let installHint =
        "install Tesseract to read scanned pages (Debian: apt-get install libtesseract5 tesseract-ocr-eng "
        + "tesseract-ocr-osd)"
}

/// Tesseract, loaded at run time through the `ragocr` shim. ``call(_:_:)`` is the one place a shim status becomes
/// an ``OCRError``.
public enum Tesseract {
    static let messageCapacity = 512

    /// Tesseract's version when libtesseract loads, else the error saying why it does not.
    public static let availability: Result<String, OCRError> = {
        do throws(OCRError) {
            try call { ragocr_load($0, $1) }
            return .success(ragocr_version().map { String(cString: $0) } ?? "unknown")
        } catch {
            return .failure(OCRError(.unavailable, "\(error.message); \(OCRError.installHint)"))
        }
    }()

    /// Whether libtesseract loads on this machine.
    public static var isAvailable: Bool {
        if case .success = availability { return true }
        return false
    }

    static func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> ragocr_status) throws(OCRError) {
        var message = [CChar](repeating: 0, count: messageCapacity)
        let status = message.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        if status == RAGOCR_OK { return }
        let detail = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let code: OCRError.Code =
            switch status {
            case RAGOCR_ERROR_UNAVAILABLE: .unavailable
            case RAGOCR_ERROR_LANGUAGE: .language
            case RAGOCR_ERROR_MEMORY: .memory
            case RAGOCR_ERROR_ARGUMENT: .argument
            case RAGOCR_ERROR_TIMEOUT: .timeout
            default: .recognition
            }
        throw OCRError(code, detail.isEmpty ? "OCR failed (\(code.rawValue))" : detail)
    }
}

/// One initialised Tesseract (its languages loaded: tens of megabytes). Used by one thread at a time.
final class TesseractEngine {
    let handle: OpaquePointer

    init(options: OCROptions) throws(OCRError) {
        var handle: OpaquePointer?
        try Tesseract.call { message, capacity in
            let create = { (path: UnsafePointer<CChar>?) in
                ragocr_engine_new(path, options.languages, options.detectOrientation ? 1 : 0, &handle, message, capacity)
            }
            if let dataPath = options.dataPath { return dataPath.withCString { create($0) } }
            return create(nil)
        }
        self.handle = handle!
    }

    deinit { ragocr_engine_drop(handle) }

    /// The text on `image` and Tesseract's mean word confidence (0...100).
    func recognize(_ image: GrayImage, dpi: Int, timeout: Duration) throws(OCRError) -> (text: String, confidence: Int) {
        var result = ragocr_result()
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        try Tesseract.call {
            ragocr_recognize(
                handle, image.pixels, Int32(clamping: image.width), Int32(clamping: image.height),
                Int32(clamping: image.stride), Int32(clamping: dpi), max(1, milliseconds), &result, $0, $1)
        }
        defer { ragocr_free(result.utf8) }
        guard let utf8 = result.utf8 else { return ("", Int(result.confidence)) }
        let bytes = UnsafeRawPointer(utf8).assumingMemoryBound(to: UInt8.self)
        let text = String(decoding: UnsafeBufferPointer(start: bytes, count: result.length), as: UTF8.self)
        return (text, Int(result.confidence))
    }
}

/// Reads page images with Tesseract on any number of threads: each call takes an idle engine (or makes one) and
/// gives it back, so engines are reused across pages and documents, and at most `maxIdle` stay loaded.
///
/// Get one with ``shared(for:maxIdle:)``: readers are kept per language set and data folder, so the engines'
/// start-up (loading the language models) is paid once per thread, not once per page.
public final class OCRReader: Sendable {
    public let options: OCROptions
    private let idle: Mutex<[EngineBox]>
    private let maxIdle: Int

    /// Wraps an engine that is in no thread's hands while it sits in the idle list.
    private struct EngineBox: @unchecked Sendable {
        // @unchecked Sendable: an engine is either idle here, touched by no thread, or checked out by one thread.
        let engine: TesseractEngine
    }

    private init(options: OCROptions, maxIdle: Int) throws(OCRError) {
        self.options = options
        self.maxIdle = max(1, maxIdle)
        self.shared = nil
        // One engine now: a missing language fails here, at start, rather than on the first scanned page.
        idle = Mutex([EngineBox(engine: try TesseractEngine(options: options))])
    }

    private struct Key: Hashable {
        var languages: String
        var dataPath: String?
        var detectOrientation: Bool
    }

    private static let readers = Mutex<[Key: OCRReader]>([:])

    /// The reader for `options`' languages and data folder, made (and its first engine loaded) on first use.
    ///
    /// - Throws: ``OCRError/Code/unavailable`` without libtesseract, ``OCRError/Code/language`` when a language's
    ///   data is missing (the message names the Debian package).
    public static func shared(for options: OCROptions, maxIdle: Int = ProcessInfo.processInfo.activeProcessorCount)
        throws(OCRError) -> OCRReader
    {
        if case .failure(let error) = Tesseract.availability { throw error }
        let key = Key(languages: options.languages, dataPath: options.dataPath, detectOrientation: options.detectOrientation)
        if let reader = readers.withLock({ $0[key] }) { return reader.with(options) }
        let reader: OCRReader
        do {
            reader = try OCRReader(options: options, maxIdle: maxIdle)
        } catch where error.code == .language {
            let packages = options.languageList.map { "tesseract-ocr-\($0.lowercased().replacingOccurrences(of: "_", with: "-"))" }
            throw OCRError(.language, "\(error.message); install the language data (Debian: apt-get install \(packages.joined(separator: " ")))")
        }
        return readers.withLock { readers in
            if let existing = readers[key] { return existing.with(options) }
            readers[key] = reader
            return reader
        }.with(options)
    }

    /// The same engines, with `options`' per-page settings (dpi, timeout) when they differ.
    private func with(_ options: OCROptions) -> OCRReader {
        options == self.options ? self : OCRReader(sharing: self, options: options)
    }

    /// The reader whose engines this one uses (same languages, other per-page settings), or `nil`.
    private let shared: OCRReader?

    private init(sharing reader: OCRReader, options: OCROptions) {
        self.options = options
        self.maxIdle = reader.maxIdle
        self.idle = Mutex([])
        self.shared = reader
    }

    /// The text of `image` and its mean word confidence, within `timeout`. Blocking: call it from a worker thread.
    func recognize(_ image: GrayImage, timeout: Duration) throws(OCRError) -> (text: String, confidence: Int) {
        let pool = shared ?? self
        let engine = try pool.checkOut()
        defer { pool.checkIn(engine) }
        return try engine.recognize(image, dpi: options.dpi, timeout: timeout)
    }

    private func checkOut() throws(OCRError) -> TesseractEngine {
        if let box = idle.withLock({ $0.popLast() }) { return box.engine }
        return try TesseractEngine(options: options)
    }

    private func checkIn(_ engine: TesseractEngine) {
        let box = EngineBox(engine: engine)
        idle.withLock { if $0.count < maxIdle { $0.append(box) } }
    }
}
