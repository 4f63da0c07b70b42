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
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
