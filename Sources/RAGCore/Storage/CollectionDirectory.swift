import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The file-system side of a collection directory: the modes of what the stores create there, and creating it.
enum CollectionDirectory {
    /// The mode of the files a store creates (the database and, through it, SQLite's `-wal` and `-shm` files):
    /// owner only. A collection holds the text of every document in it.
    static let fileMode: mode_t = 0o600
    /// The mode of the directories a store creates (the collection directory and any missing parent): owner only.
    static let directoryMode: mode_t = 0o700

    /// Creates `directory` and any missing parents with ``directoryMode``, whatever the umask; directories that
    /// already exist keep their mode.
    static func create(_ directory: URL) throws(CollectionError) {
        var missing: [String] = []
        var url = directory.standardizedFileURL
        while !FileManager.default.fileExists(atPath: url.path) {
            missing.append(url.path)
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { break }
            url = parent
        }
        for path in missing.reversed() {
            if mkdir(path, directoryMode) != 0 {
                guard errno == EEXIST else {
                    throw CollectionError(.io, "cannot create the collection directory: \(errnoText())", path: path)
                }
                continue  // made by someone else meanwhile: theirs to set
            }
            guard chmod(path, directoryMode) == 0 else {
                throw CollectionError(.io, "cannot set the mode of the collection directory: \(errnoText())", path: path)
            }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CollectionError(.io, "cannot create the collection directory: a file of that name is in the way", path: directory.path)
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// The system's reason for a failed Foundation file operation ("Permission denied"), without the file's name or
    /// path, which the error's own description holds.
    static func reason(of error: any Error) -> String {
        if let posix = (error as? CocoaError)?.underlying as? POSIXError ?? error as? POSIXError {
            return String(cString: strerror(posix.code.rawValue))
        }
        return "the file cannot be read"
    }
}
