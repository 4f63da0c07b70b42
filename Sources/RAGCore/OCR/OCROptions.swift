import Foundation

/// When and how scanned pages are read by OCR (Tesseract), and the limits on that work.
///
/// OCR is slow (one to a few seconds per page per core), so it has its own bounds: at most
/// ``maxPagesPerDocument`` pages per document and ``pageTimeout`` per page. A document past them is indexed with
/// the pages it has, and a warning says which were not read.
///
/// ```swift
/// var configuration = EngineConfiguration()
/// configuration.ocr.languages = "eng+deu"
/// configuration.ocr.maxPagesPerDocument = 500
/// ```
public struct OCROptions: Sendable, Hashable {
    /// Which pages are read by OCR.
    public enum Mode: String, Sendable, Hashable, Codable, CaseIterable {
        /// Pages whose text layer is empty, mostly unmappable (U+FFFD), or covers far less of the page than its
        /// images do (a scan under a thin text layer of junk), when Tesseract is installed; without it, such pages
        /// keep today's warnings, which say how to enable OCR.
        case auto
        /// No OCR.
        case never
        /// Every page, whatever its text layer (an engine without Tesseract does not start).
        case always
    }

    public var mode: Mode
    /// Tesseract's language codes joined by `+` (`eng+deu`); each needs its data file (Debian: `tesseract-ocr-LANG`).
    public var languages: String
    /// The resolution pages are rendered at for OCR, in dots per inch (72...600). 300 reads body text well.
    public var dpi: Int
    /// Most pages of one document read by OCR (1...100,000); the rest are indexed without, with a warning.
    public var maxPagesPerDocument: Int
    /// Longest OCR of one page (1 s ... 1 h): a page past it is `failed`, with a warning.
    public var pageTimeout: Duration
    /// Pages read with a lower mean word confidence (0...100) get a warning. They are indexed all the same.
    public var minimumConfidence: Int
    /// The folder holding Tesseract's `.traineddata` files; `nil` for Tesseract's own choice (`TESSDATA_PREFIX`,
    /// else the folder it was built with: `/usr/share/tesseract-ocr/5/tessdata` on Debian).
    public var dataPath: String?
    /// Whether pages are segmented with orientation detection (Tesseract's `osd.traineddata`), so that a page
    /// scanned sideways or upside down is read.
    public var detectOrientation: Bool
    /// Most pixels one page may be rendered to for OCR (a hostile media box): past it the page is `failed`.
    /// Default 100 million, an A0 sheet at 300 dpi; each OCR thread holds one such page at a time.
    public var maxPixelsPerPage: Int

    public init(
        mode: Mode = .auto, languages: String = "eng", dpi: Int = 300, maxPagesPerDocument: Int = 100,
        pageTimeout: Duration = .seconds(60), minimumConfidence: Int = 60, dataPath: String? = nil,
        detectOrientation: Bool = true, maxPixelsPerPage: Int = 100_000_000
    ) {
        self.mode = mode
        self.languages = languages
        self.dpi = dpi
        self.maxPagesPerDocument = maxPagesPerDocument
        self.pageTimeout = pageTimeout
        self.minimumConfidence = minimumConfidence
        self.dataPath = dataPath
        self.detectOrientation = detectOrientation
        self.maxPixelsPerPage = maxPixelsPerPage
    }

    /// The languages as a list (`["eng", "deu"]`).
    public var languageList: [String] { languages.split(separator: "+").map(String.init) }

    /// Whether `languages` is one to eight codes of 3 to 16 letters or underscores, joined by `+`.
    public static func isValidLanguages(_ languages: String) -> Bool {
        let codes = languages.split(separator: "+", omittingEmptySubsequences: false)
        return (1...8).contains(codes.count)
            && codes.allSatisfy { code in
                (3...16).contains(code.count) && code.allSatisfy { $0 == "_" || ($0.isASCII && $0.isLetter) }
            }
    }

    /// Checks every bound; the error names the field (`maxPagesPerDocument`).
    public func validate() throws(InvalidLimit) {
        func check(_ ok: Bool, _ field: String, _ rule: String) throws(InvalidLimit) {
            if !ok { throw InvalidLimit(field: field, rule: rule) }
        }
        try check(Self.isValidLanguages(languages), "languages",
                  "must be 1 to 8 Tesseract language codes (3 to 16 letters or _) joined by + (eng+deu)")
        try check((72...600).contains(dpi), "dpi", "must be between 72 and 600")
        try check((1...100_000).contains(maxPagesPerDocument), "maxPagesPerDocument", "must be between 1 and 100000")
        try check(pageTimeout >= .seconds(1) && pageTimeout <= .seconds(3600), "pageTimeout",
                  "must be between 1 and 3600 seconds")
        try check((0...100).contains(minimumConfidence), "minimumConfidence", "must be between 0 and 100")
        try check(maxPixelsPerPage > 0, "maxPixelsPerPage", "must be more than 0")
    }
}
