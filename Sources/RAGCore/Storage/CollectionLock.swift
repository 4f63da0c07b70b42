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

    init(store: CollectionStore) throws(CollectionError) {
        try store.createDirectory()
        let path = store.directory.appendingPathComponent(".lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, CollectionStore.fileMode)
        guard fd >= 0 else { throw CollectionError(.io, "cannot open the lock file: \(CollectionStore.errnoText())", path: path) }
        // Whatever the umask; a lock file of an older release (0644) is narrowed too. Failing that (a file of
        // another owner) is no reason not to lock: the file holds nothing.
        _ = fchmod(fd, CollectionStore.fileMode)
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let reason = CollectionStore.errnoText()
                close(fd)
                throw CollectionError(.io, "cannot lock the collection: \(reason)", path: path)
            }
        }
        self.fd = fd
    }

    func unlock() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
