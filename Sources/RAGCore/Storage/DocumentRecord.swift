import Foundation

/// What a collection remembers about an ingested document.
public struct DocumentRecord: Sendable, Hashable, Codable {
    public var id: DocumentID
    public var fileName: String
    public var kind: DocumentKind
    public var title: String?
    public var author: String?
    /// Pages the source has.
    public var pageCount: Int
    /// Pages whose text was indexed.
    public var indexedPages: Int
    public var chunkCount: Int
    /// SHA-256 of the source bytes.
    public var contentHash: String
    public var byteCount: Int
    /// Where the file was ingested from, when it came from a path.
    public var sourcePath: String?
    public var ingestedAt: Date
    public var warnings: [DocumentWarning]
    /// How each page was read (text layer, OCR with its confidence, failed, empty); `nil` for documents ingested
    /// before page readings were recorded (issue #13): ingest them again to get it.
    public var pageReadings: [PageReading]?

    /// Counts of ``pageReadings`` by method, and the OCR'd pages' mean confidence; `nil` when not recorded.
    public var readingSummary: PageReadingSummary? { pageReadings.map(PageReadingSummary.init) }

    public init(
        document: Document, chunkCount: Int, sourcePath: String?, ingestedAt: Date = Date()
    ) {
        self.id = document.id
        self.fileName = document.fileName
        self.kind = document.kind
        self.title = document.title
        self.author = document.author
        self.pageCount = document.pageCount
        self.indexedPages = document.pages.count
        self.chunkCount = chunkCount
        self.contentHash = document.contentHash
        self.byteCount = document.byteCount
        self.sourcePath = sourcePath
        self.ingestedAt = ingestedAt
        self.warnings = document.warnings
        self.pageReadings = document.readings.isEmpty ? nil : document.readings
    }
}
