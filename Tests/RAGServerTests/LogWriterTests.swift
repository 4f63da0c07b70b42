#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import RAGServer
import Synchronization
import Testing

@Suite struct LogWriterTests {
    /// Lines from 8 threads reach the file whole, each thread's in its order, and `flush` waits for all of them.
    @Test func linesFromManyThreadsArriveWholeAndInOrder() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("logwriter-\(UUID().uuidString).log").path
        defer { unlink(path) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        let writer = LogWriter(fileDescriptor: descriptor, capacity: 4096)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for line in 0..<2_000 {
                let text = "{\"thread\":\(thread),\"line\":\(line),\"padding\":\"\(String(repeating: "x", count: line % 97))\"}\n"
                text.utf8CString.withUnsafeBytes { writer.write(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
            }
        }
        writer.flush()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 16_000)
        var next = [Int](repeating: 0, count: 8)
        for line in lines {
            let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let thread = try #require(object["thread"] as? Int)
            #expect(object["line"] as? Int == next[thread])
            next[thread] += 1
        }
        #expect(next == [Int](repeating: 2_000, count: 8))
    }

    /// When the reader stalls, the buffer fills and writers wait instead of dropping lines; a line larger than the
    /// whole buffer still goes through whole.
    @Test func aStalledReaderMakesWritersWaitWithoutLosingLines() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let writer = LogWriter(fileDescriptor: ends[1], capacity: 1024)
        let line = Array(String(repeating: "y", count: 99).utf8) + [UInt8(ascii: "\n")]
        let big = Array(String(repeating: "z", count: 5_000).utf8) + [UInt8(ascii: "\n")]
        let finished = DispatchSemaphore(value: 0)
        let handedIn = Atomic<Int>(0)
        Thread {
            // 2,000 lines = 200 KB: more than the pipe (64 KiB) and the writer's buffer together.
            for index in 0..<2_000 {
                (index == 1_000 ? big : line).withUnsafeBytes { writer.write($0) }
                handedIn.add(1, ordering: .relaxed)
            }
            writer.flush()
            finished.signal()
        }.start()
        #expect(finished.wait(timeout: .now() + 0.5) == .timedOut)  // nobody reads yet: the writers wait
        #expect(handedIn.load(ordering: .relaxed) < 1_000)
        #expect(writer.bufferedBytes <= 1024)
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while received.count < 1_999 * 100 + 5_001 {
            let count = chunk.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
            try #require(count > 0)
            received.append(contentsOf: chunk[0..<count])
        }
        #expect(finished.wait(timeout: .now() + 10) == .success)
        close(ends[1])
        let lines = received.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 2_000)
        #expect(lines.enumerated().allSatisfy { index, line in line.count == (index == 1_000 ? 5_000 : 99) })
    }
}
