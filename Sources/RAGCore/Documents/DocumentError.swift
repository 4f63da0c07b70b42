/// Why a document could not be loaded.
///
/// An extensible error: compare ``code`` against the `static` members of ``Code``; new codes may be added later.
///
/// ```swift
/// do {
///     let document = try DocumentLoader().load(contentsOf: url)
/// } catch let error where error.code == .encrypted {
///     print(error) // "report.pdf: the PDF is encrypted; supply its password to load it"
/// }
/// ```
public struct DocumentError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. Extensible: switch with a `default` case.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case notAPDF, unsupportedType, encrypted, wrongPassword, noPages, damaged
            case tooLarge, tooManyPages, tooMuchText, tooMuchTextForSize, unreadable
        }

        fileprivate let base: Base
        private init(_ base: Base) { self.base = base }

        /// The file is named `.pdf` but its bytes are not a PDF (no `%PDF-` header in the first 1024 bytes).
        public static let notAPDF = Code(.notAPDF)
        /// The file is neither a PDF nor a text or Markdown file.
        public static let unsupportedType = Code(.unsupportedType)
        /// The PDF is encrypted and needs a password, and none was given.
        public static let encrypted = Code(.encrypted)
        /// The PDF is encrypted and the password given does not open it.
        public static let wrongPassword = Code(.wrongPassword)
        /// The PDF has no pages.
        public static let noPages = Code(.noPages)
        /// The PDF is damaged beyond repair: it cannot be opened at all, or neither MuPDF's repair nor the loader's
        /// recovery (see ``DocumentWarning/Kind/recovered``) finds a page in it.
        public static let damaged = Code(.damaged)
        /// The file is larger than ``ExtractionLimits/maxBytes``.
        public static let tooLarge = Code(.tooLarge)
        /// The document has more pages than ``ExtractionLimits/maxPages``.
        public static let tooManyPages = Code(.tooManyPages)
        /// The document has more text than ``ExtractionLimits/maxCharacters``.
        public static let tooMuchText = Code(.tooMuchText)
        /// The document yields more text for the size of its file than ``ExtractionLimits/maxCharactersPerByte``
        /// allows (beyond ``ExtractionLimits/minimumCharacterAllowance``): a small file that expands into a lot
        /// of text, for example by drawing the same compressed text on many pages.
        public static let tooMuchTextForSize = Code(.tooMuchTextForSize)
        /// The file could not be read (missing, a directory, no permission, an I/O error).
        public static let unreadable = Code(.unreadable)

        public var description: String { base.rawValue }

        /// The code as a snake_case metric label value (`wrong_password`, `not_a_pdf`).
        public var metricLabel: String {
            switch base {
            case .notAPDF: "not_a_pdf"
            case .unsupportedType: "unsupported_type"
            case .encrypted: "encrypted"
            case .wrongPassword: "wrong_password"
            case .noPages: "no_pages"
            case .damaged: "damaged"
            case .tooLarge: "too_large"
            case .tooManyPages: "too_many_pages"
            case .tooMuchText: "too_much_text"
            case .tooMuchTextForSize: "too_much_text_for_size"
            case .unreadable: "unreadable"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// The file name of the document (the last path component), as shown to a person.
    public var fileName: String
    /// What exactly went wrong, including any message from MuPDF or the operating system.
    public var message: String
    /// The error that caused this one, if any.
    public var underlying: (any Error & Sendable)?

    public init(code: Code, fileName: String, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.fileName = fileName
        self.message = message
        self.underlying = underlying
    }

    /// What a person can do about the error.
    public var advice: String {
        switch code.base {
        case .notAPDF: "the file is named .pdf but is not a PDF; check that it was saved or downloaded completely"
        case .unsupportedType: "only PDF, text (.txt) and Markdown (.md) files can be loaded; convert it to one of those"
        case .encrypted: "the PDF is encrypted; supply its password to load it"
        case .wrongPassword: "the password does not open this PDF; check the password"
        case .noPages: "the PDF has no pages; there is nothing to load"
        case .damaged: "the PDF is damaged and cannot be opened; re-export or re-download it"
        case .tooLarge: "the file is larger than the size limit; split it or raise the maxBytes limit"
        case .tooManyPages: "the document has more pages than the page limit; split it or raise the maxPages limit"
        case .tooMuchText: "the document has more text than the character limit; split it or raise the maxCharacters limit"
        case .tooMuchTextForSize:
            "the document yields far more text than a file of its size holds (repeated or generated content); split it or raise the maxCharactersPerByte limit"
        case .unreadable: "the file cannot be read; check that it exists and is readable"
        }
    }

    /// One line: the file, what to do, and the detail.
    public var description: String {
        message.isEmpty ? "\(fileName): \(advice)" : "\(fileName): \(advice) (\(message))"
    }
}
