/// Why a collection could not be read or written.
public struct CollectionError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// The file is truncated, fails its checksum, or does not parse.
        public static let corrupt = Code(name: "corrupt")
        /// The file was written by a newer (or unknown) format version.
        public static let unsupportedVersion = Code(name: "unsupportedVersion")
        /// The collection was built by another embedder (model) than the one in use.
        public static let embedderMismatch = Code(name: "embedderMismatch")
        /// Reading, writing, locking or renaming failed.
        public static let io = Code(name: "io")
        /// A document referenced by id or name is not in the collection.
        public static let notFound = Code(name: "notFound")
        /// The collection is opened read-only.
        public static let readOnly = Code(name: "readOnly")
    }

    public var code: Code
    /// One line for a person, saying what is wrong and what to do.
    public var message: String
    /// The file concerned.
    public var path: String?

    public init(_ code: Code, _ message: String, path: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String {
        if let path { return "\(message) (\(path))" }
        return message
    }
}
