import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on a collection directory's `.lock` file, held until `unlock()`. Keeps two processes
/// (two `rag ingest` runs, an ingestion job and a server) from interleaving a load-modify-save.
final class CollectionLock: Sendable {
    // The descriptor is only read after init and closed once in `unlock`, guarded by the atomic-free
    // single-owner discipline of `Engine.mutate`; a plain `let` is safe to share.
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Takes the lock, waiting while another writer holds it; creates the directory and `.lock` when missing.
    convenience init(store: CollectionStore) throws(CollectionError) {
        try store.createDirectory()
        let path = CollectionLock.path(in: store)
        let fd = CollectionLock.openLockFile(path)
        guard fd >= 0 else { throw CollectionError(.io, "cannot open the lock file: \(CollectionStore.errnoText())", path: path) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let reason = CollectionStore.errnoText()
                close(fd)
                throw CollectionError(.io, "cannot lock the collection: \(reason)", path: path)
            }
        }
        self.init(fd: fd)
    }

    /// Takes the lock only if it is free at once, else returns `nil` without waiting: when another writer holds it,
    /// and when it cannot be taken at all (no directory yet, a read-only file system). Creates nothing but `.lock`.
    static func ifFree(store: CollectionStore) -> CollectionLock? {
        let fd = openLockFile(path(in: store))
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return CollectionLock(fd: fd)
    }

    func unlock() {
        flock(fd, LOCK_UN)
        close(fd)
    }

    private static func path(in store: CollectionStore) -> String { store.directory.appendingPathComponent(".lock").path }

    /// Opens (or creates) the lock file; -1 with `errno` set when it cannot.
    private static func openLockFile(_ path: String) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, CollectionStore.fileMode)
        // Whatever the umask; a lock file of an older release (0644) is narrowed too. Failing that (a file of
        // another owner) is no reason not to lock: the file holds nothing.
        if fd >= 0 { _ = fchmod(fd, CollectionStore.fileMode) }
        return fd
    }
}
