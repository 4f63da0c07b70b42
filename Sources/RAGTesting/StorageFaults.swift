import Foundation
import RAGCore

/// Makes saves of a collection fail, deterministically and whoever runs the tests (root, whom file permissions do
/// not stop, included): a directory stands where a save by this process writes its temporary file, so creating the
/// file fails (`EISDIR`) as a write fails on a full disk. For the package's own tests: it relies on the store's file
/// names.
package enum StorageFaults {
    /// Makes every later save of the collection in `directory` by this process fail, until ``unblockSaves(in:)``.
    package static func blockSaves(in directory: URL) throws {
        try FileManager.default.createDirectory(
            at: CollectionStore(directory: directory).temporaryFileURL, withIntermediateDirectories: true)
    }

    /// Lets saves succeed again.
    package static func unblockSaves(in directory: URL) throws {
        try FileManager.default.removeItem(at: CollectionStore(directory: directory).temporaryFileURL)
    }

    /// The shell command that makes the saves of the program it then runs (`exec "$@"`) fail in the collection
    /// directory `$1`: `sh -c blockingShellCommand sh DIRECTORY PROGRAM ARGUMENTS...`. A program run with `exec` keeps
    /// the shell's process id, so the directory stands where its saves write.
    package static let blockingShellCommand = #"mkdir "$1/.collection.rag.$$.tmp" && shift && exec "$@""#
}
