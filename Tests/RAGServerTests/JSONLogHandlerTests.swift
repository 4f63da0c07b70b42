#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
@testable import RAGServer
import Synchronization
import Testing

@Suite struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func writesOneSortedJSONObjectPerLineWithSecretsRedacted() throws {
        let lines = Lines()
        var logger = Logger(label: "rag.server") { label in
            JSONLogHandler(
                label: label, output: { line in lines.lines.withLock { $0.append(String(buffer: line)) } },
                now: { timespec(tv_sec: 1_795_000_000, tv_nsec: 7_654_321) })
        }
        logger[metadataKey: "request.id"] = "abc-123"
        logger.info("request \"quoted\"\nnext line", metadata: [
            "http.route": "/v1/ask", "Authorization": "Bearer sk-secret", "client": "team\\a", "control": "\u{1}",
        ])
        logger.debug("not written")
        #expect(lines.all == [
            #"{"Authorization":"[redacted]","client":"team\\a","control":"\u0001","http.route":"/v1/ask","level":"info","logger":"rag.server","message":"request \"quoted\"\nnext line","request.id":"abc-123","time":"2026-11-18T11:06:40.007Z"}"# + "\n"
        ])
        let object = try #require(JSONSerialization.jsonObject(with: Data(lines.all[0].utf8)) as? [String: String])
        #expect(object["message"] == "request \"quoted\"\nnext line")
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(JSONLogHandler.timestamp(timespec(tv_sec: 0, tv_nsec: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(JSONLogHandler.timestamp(timespec(tv_sec: 951_782_400, tv_nsec: 999_999_999)) == "2000-02-29T00:00:00.999Z")
    }
}
