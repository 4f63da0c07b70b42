import Foundation

/// What kind of source a document came from.
public enum DocumentKind: String, Sendable, Codable, Hashable {
    case pdf
    case text
    case markdown
}

/// One page of extracted text. Page numbers are 1-based, as a reader sees them.
public struct Page: Sendable, Hashable, Codable {
    /// The 1-based page number.
    public var number: Int
    /// The page's text as UTF-8, in reading order, lines separated by `\n` and blocks by `\n\n`.
    public var text: String

    public init(number: Int, text: String) {
        self.number = number
        self.text = text
    }
}

/// One entry of a PDF's outline: the bookmarks, or table of contents, a viewer shows beside the pages.
public struct OutlineEntry: Sendable, Hashable, Codable {
    /// The entry's title as the PDF gives it ("2.3 Installing packages").
    public var title: String
    /// 0 for a top-level entry (a chapter), 1 for its children (its sections), and so on.
    public var depth: Int
    /// The 1-based page the entry points to, or `nil` when it points outside the document or nowhere.
    public var page: Int?
    /// Where on that page it points, in points from the page's top, when the PDF says.
    public var y: Double?

    public init(title: String, depth: Int, page: Int?, y: Double? = nil) {
        self.title = title
        self.depth = depth
        self.page = page
        self.y = y
    }
}

/// A problem with part of a document that did not stop the rest of it from loading.
public struct DocumentWarning: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A page could not be loaded or its text could not be extracted; the other pages were.
        case pageFailed
        /// Most of a page's characters are unmappable glyphs (U+FFFD): the page was left out of the text.
        case unmappableText
        /// The document has no extractable text at all (a scanned PDF without OCR, for example).
        case noText
        /// Pages that are the same page object as an earlier page (a page tree that names one page many times)
        /// were indexed once, at the earlier page. One warning for the whole document says how many.
        case repeatedPages
        /// The file is damaged (cut off, two PDFs concatenated, line feeds turned into CR LF) and was read by the
        /// loader's recovery: the message says what was found and done, and which pages are missing. Pages that
        /// could still not be read have their own `pageFailed` or `unmappableText` warnings.
        case recovered
        /// A page read by OCR has a mean word confidence under ``OCROptions/minimumConfidence``: its text may be
        /// poor. It is indexed all the same.
        case ocrLowConfidence
        /// Pages that needed OCR (no usable text layer) were not read by it: OCR is not installed, or the document
        /// passed ``OCROptions/maxPagesPerDocument``. The message says which pages, and how to enable OCR.
        case ocrSkipped
    }

    public var kind: Kind
    /// The 1-based page the warning is about, or `nil` for the whole document.
    public var page: Int?
    /// A one-line explanation for a person.
    public var message: String

    public init(kind: Kind, page: Int?, message: String) {
        self.kind = kind
        self.page = page
        self.message = message
    }

    public var description: String {
        if let page { return "page \(page): \(message)" }
        return message
    }
}

/// A loaded document: its pages' text plus metadata.
public struct Document: Sendable, Hashable {
    /// The file name shown in citations (the last path component).
    public var fileName: String
    public var kind: DocumentKind
    /// The document's title from its metadata, if it has one.
    public var title: String?
    /// The document's author from its metadata, if it has one.
    public var author: String?
    /// The number of pages the document has (including pages that failed to load).
    public var pageCount: Int
    /// Pages with text, in order. Pages that failed or held no text are absent.
    public var pages: [Page]
    public var warnings: [DocumentWarning]
    /// SHA-256 of the source bytes, lower-case hex: the basis of the document's identity.
    public var contentHash: String
    /// Size of the source in bytes.
    public var byteCount: Int
    /// A PDF's original bytes, as the loader read them (`nil` for text): saved with the document so that its pages
    /// can be rendered for citations (`Engine.renderPage`).
    public var source: Data?
    /// The PDF's outline (bookmarks) in reading order; empty for text files and PDFs without one.
    public var outline: [OutlineEntry]
    /// The PDF's headings found from font sizes and weights (``HeadingDetector``), in the outline's shape; empty
    /// unless the loader was asked to find them (``DocumentLoader/headingDetection``).
    public var headings: [OutlineEntry]
    /// How each page was read, one per page in order (``pageCount`` of them); empty for documents built by hand.
    public var readings: [PageReading]
    /// What OCR did with each page it was asked to read, for the metrics; empty without OCR.
    public var ocrResults: [OCRPageResult]

    public init(
        fileName: String, kind: DocumentKind, title: String? = nil, author: String? = nil, pageCount: Int,
        pages: [Page], warnings: [DocumentWarning] = [], contentHash: String, byteCount: Int, source: Data? = nil,
        outline: [OutlineEntry] = [], headings: [OutlineEntry] = [], readings: [PageReading] = [],
        ocrResults: [OCRPageResult] = []
    ) {
        self.readings = readings
        self.ocrResults = ocrResults
        self.fileName = fileName
        self.kind = kind
        self.title = title
        self.author = author
        self.pageCount = pageCount
        self.pages = pages
        self.warnings = warnings
        self.contentHash = contentHash
        self.byteCount = byteCount
        self.source = source
        self.outline = outline
        self.headings = headings
    }

    /// The document's stable identifier: the first 16 hex digits of its content hash.
    public var id: DocumentID { DocumentID(contentHash: contentHash) }
}

/// A document's stable identifier, derived from its content so that the same bytes always get the same id.
public struct DocumentID: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// Derives the identifier from a SHA-256 hex digest.
    public init(contentHash: String) { self.rawValue = String(contentHash.prefix(16)) }

    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
