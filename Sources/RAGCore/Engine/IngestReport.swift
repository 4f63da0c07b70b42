/// The outcome of ingesting files: what was added, what was already there, and what failed (and why).
public struct IngestReport: Sendable {
    /// A file that could not be ingested.
    public struct Failure: Sendable, CustomStringConvertible {
        public var path: String
        public var error: any Error & Sendable
        /// The failure's reason as a short metric label (`encrypted`, `damaged`, ..., `storage` when the file was read
        /// but the collection could not be saved).
        public var reason: String
        public var description: String { "\(path): \(error)" }
    }

    /// Documents added (or replaced, when a file changed) and saved: a document whose save failed is in `failed`.
    public var added: [DocumentRecord] = []
    /// Files skipped because the collection already has their exact content.
    public var unchanged: [DocumentRecord] = []
    public var failed: [Failure] = []

    public init() {}

    public var pages: Int { added.reduce(0) { $0 + $1.indexedPages } }
    public var chunks: Int { added.reduce(0) { $0 + $1.chunkCount } }
    /// Warnings of the added documents, labelled with their file.
    public var warnings: [(fileName: String, warning: DocumentWarning)] {
        added.flatMap { record in record.warnings.map { (record.fileName, $0) } }
    }
}

/// Progress of an ingestion, reported after each file, and after each page read by OCR.
public struct IngestProgress: Sendable {
    public var filesDone: Int
    public var filesTotal: Int
    public var bytesDone: Int
    public var bytesTotal: Int
    public var pagesDone: Int
    /// Seconds since ingestion started.
    public var elapsed: Double
    /// The file just finished, or the file whose pages OCR is reading.
    public var currentFile: String
    /// While OCR reads `currentFile`: its pages read so far and the pages it will read; both 0 otherwise.
    public var ocrPagesDone: Int = 0
    public var ocrPagesTotal: Int = 0
}
