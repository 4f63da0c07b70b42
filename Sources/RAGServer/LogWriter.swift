#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Writes log lines to a file descriptor from a thread of its own, so that a request never waits for the disk or
/// the pipe: `write` copies the line into a buffer and returns; the writer thread sends everything buffered with
/// as few `write` calls as it can (it lets lines gather for 2 ms after the first one arrives).
///
/// With one access line per request, writing each line from the request's thread made the server's 99th
/// percentile depend on the log file: on one core, a `write` that waited for writeback held up the requests
/// behind it (with the server pinned to one core at 1,900 answers/s the access log then added about 2 ms to the
/// p99; `docs/performance.md`).
///
/// Nothing is dropped. When `capacity` bytes are waiting (the reader of the pipe or the disk is slower than the
/// server for that long), `write` waits for room, as a direct `write` would. `flush()` returns once everything
/// written before it has reached the descriptor; the process flushes standard error's writer at `exit`.
/// A line is written whole: lines never interleave. A writer lives as long as the process (its thread holds it).
public final class LogWriter: @unchecked Sendable {
    /// The writer for standard error that `JSONLogHandler` uses (4 MiB of room).
    public static let standardError: LogWriter = {
        let writer = LogWriter(fileDescriptor: 2, capacity: 4 << 20)
        atexit { LogWriter.standardError.flush() }
        return writer
    }()

    /// How long the writer lets lines gather after the first one arrives.
    static let gatherMicroseconds: UInt32 = 2_000

    private let fileDescriptor: Int32
    private let capacity: Int
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// Signalled when bytes arrive (the writer waits on it) and when room is made or a batch is written (writers
    /// and flushers wait on it).
    private let arrived = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let drained = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `mutex`.
    private var pending: [UInt8] = []
    /// Bytes handed to `write` so far, and bytes that have reached the descriptor (or failed to) so far.
    private var accepted = 0
    private var done = 0

    /// A writer for `fileDescriptor` that holds at most `capacity` bytes (at least one line fits regardless).
    public init(fileDescriptor: Int32, capacity: Int) {
        self.fileDescriptor = fileDescriptor
        self.capacity = max(1, capacity)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(arrived, nil)
        pthread_cond_init(drained, nil)
        pending.reserveCapacity(min(capacity, 64 << 10))
        let thread = Thread { [self] in run() }
        thread.name = "rag-log-writer"
        thread.start()
    }

    /// Queues `bytes` (one or more whole lines); waits only while the buffer is full.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        pthread_mutex_lock(mutex)
        while !pending.isEmpty && pending.count + bytes.count > capacity {
            pthread_cond_wait(drained, mutex)
        }
        let wasEmpty = pending.isEmpty
        pending.append(contentsOf: bytes)
        accepted += bytes.count
        pthread_mutex_unlock(mutex)
        if wasEmpty { pthread_cond_signal(arrived) }
    }

    /// Waits until everything queued before this call has been written.
    public func flush() {
        pthread_mutex_lock(mutex)
        let target = accepted
        while done < target { pthread_cond_wait(drained, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Bytes waiting for the writer thread (not counting the batch it is writing).
    var bufferedBytes: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return pending.count
    }

    private func run() {
        var batch: [UInt8] = []  // swapped with `pending` under the lock, so the two trade capacities
        batch.reserveCapacity(min(capacity, 64 << 10))
        while true {
            pthread_mutex_lock(mutex)
            while pending.isEmpty { pthread_cond_wait(arrived, mutex) }
            if pending.count < capacity / 2 {
                // Let lines gather for a moment: one wake-up and one `write` for many lines, not one of each per
                // line (on a busy core the wake-ups cost more than the writes). Lines are at most 2 ms late.
                pthread_mutex_unlock(mutex)
                usleep(Self.gatherMicroseconds)
                pthread_mutex_lock(mutex)
            }
            swap(&batch, &pending)
            pthread_mutex_unlock(mutex)
            pthread_cond_broadcast(drained)  // room for writers that wait

            batch.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = systemWrite(fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { return }  // a closed or failing descriptor: the lines are lost, not retried forever
                    offset += written
                }
            }
            pthread_mutex_lock(mutex)
            done += batch.count
            pthread_mutex_unlock(mutex)
            pthread_cond_broadcast(drained)
            batch.removeAll(keepingCapacity: true)
        }
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
private let systemWrite = Darwin.write
#endif
