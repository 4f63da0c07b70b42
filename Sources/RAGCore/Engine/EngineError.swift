/// Why an engine request failed (besides document, collection and LLM errors, which keep their own types).
public struct EngineError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// The question is empty or longer than `maxQuestionBytes`.
        public static let invalidQuestion = Code(name: "invalidQuestion")
        /// Nothing has been ingested yet.
        public static let emptyCollection = Code(name: "emptyCollection")
        /// The engine was opened read-only.
        public static let readOnly = Code(name: "readOnly")
        /// A path given for ingestion does not exist.
        public static let fileNotFound = Code(name: "fileNotFound")
        /// No document matches the given id or name.
        public static let documentNotFound = Code(name: "documentNotFound")
        /// Adding the document would take the collection past ``EngineConfiguration/maxCollectionChunks``;
        /// nothing was changed, nor embedded unless another writer filled the collection while the document was.
        public static let collectionQuotaExceeded = Code(name: "collectionQuotaExceeded")
        /// A request asked for an index version (`min_index_version`) newer than any the collection has.
        public static let unknownIndexVersion = Code(name: "unknownIndexVersion")
        /// A request asked for an index version that this engine had not applied when its wait ran out.
        public static let indexBehind = Code(name: "indexBehind")
        /// A page image was asked of a document without pages to draw (a text or Markdown file).
        public static let noPageImage = Code(name: "noPageImage")
        /// A page image was asked of a PDF whose original bytes the collection does not keep: it was ingested before
        /// sources were kept (schema version 3). Ingesting it again keeps them.
        public static let sourceNotKept = Code(name: "sourceNotKept")
        /// The page is not in the document, or the cited passage is not on that page.
        public static let pageNotFound = Code(name: "pageNotFound")
        /// A page image request is out of bounds: a width outside ``PageRenderLimits``' range, or a page whose image
        /// would be larger than ``PageRenderLimits/maxPixels``.
        public static let invalidPageRequest = Code(name: "invalidPageRequest")
        /// ``PageRenderLimits/maxWaiting`` page images are waiting to be rendered already; try again shortly.
        public static let renderBusy = Code(name: "renderBusy")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
