/// Why a local model could not be loaded: its files are missing, unreadable, or not what they claim to be.
public struct ModelError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// A model file is not there; the message says how to fetch the model.
        public static let notFound = Code(name: "notFound")
        /// A file could not be opened, read or memory-mapped.
        public static let io = Code(name: "io")
        /// A file does not parse, or describes a model this code does not run (shape, type, activation).
        public static let invalid = Code(name: "invalid")
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
