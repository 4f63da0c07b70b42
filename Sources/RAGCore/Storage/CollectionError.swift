/// Why a collection could not be read or written.
///
/// The message never names a file or directory: the path goes in `path`, so that the message can be shown where
/// server paths must not appear (an HTTP response), and `description` adds the path for a log or a terminal.
public struct CollectionError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// The message followed by the path, if any.
    public var description: String { name }
        /// The file is truncated, fails its checksum, or does not parse.
        public static let corrupt = Code(name: "corrupt")
        /// The file was written by a newer (or unknown) format version.
        public static let unsupportedVersion = Code(name: "unsupportedVersion")
        /// The collection was built by another embedder (model) than the one in use.
        public static let embedderMismatch = Code(name: "embedderMismatch")
        /// Reading, writing, locking or renaming failed: a full disk, a read-only file system, a permission.
        public static let io = Code(name: "io")
        /// A document referenced by id or name is not in the collection.
        public static let notFound = Code(name: "notFound")
        /// The collection is opened read-only.
        public static let readOnly = Code(name: "readOnly")
        /// The database server cannot be reached (down, unreachable, or no connection within the wait): nothing was
        /// read or written; retry later.
        public static let unavailable = Code(name: "unavailable")
    }

    public var code: Code
    /// One line for a person, saying what is wrong and what to do, without any path.
    public var message: String
    /// The file or directory concerned.
    public var path: String?

    public init(_ code: Code, _ message: String, path: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
    }

    /// The message followed by the path, if any.
    public var description: String {
        if let path { return "\(message) (\(path))" }
        return message
    }
}
