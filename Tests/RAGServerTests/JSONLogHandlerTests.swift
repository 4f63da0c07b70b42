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

        /// A logger whose JSON lines land here, with the clock stopped at `seconds`.
        func logger(at seconds: Int, nanoseconds: Int = 0) -> Logger {
            Logger(label: "rag.server") { label in
                JSONLogHandler(
                    label: label, output: { line in self.lines.withLock { $0.append(String(buffer: line)) } },
                    now: { timespec(tv_sec: seconds, tv_nsec: nanoseconds) })
            }
        }
    }

    @Test func writesOneSortedJSONObjectPerLineWithSecretsRedacted() throws {
        let lines = Lines()
        var logger = lines.logger(at: 1_795_000_000, nanoseconds: 7_654_321)
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

    @Test func secretKeysAreFoundInAnyCase() {
        for key in ["authorization", "Authorization", "X-API-Key", "openai.api_key", "APIKEY", "db.Password", "refresh_token", "client_secret", "Set-Cookie"] {
            #expect(JSONLogHandler.isSecret(key), "\(key)")
        }
        for key in ["request.id", "http.route", "client", "api", "tok", "", "secre"] {
            #expect(!JSONLogHandler.isSecret(key), "\(key)")
        }
    }

    @Test func metadataOverridesTheLoggersAndTheStandardFields() {
        let lines = Lines()
        var logger = lines.logger(at: 0)
        logger[metadataKey: "stage"] = "logger"
        logger[metadataKey: "count"] = .stringConvertible(7)
        logger.warning("hello", metadata: ["stage": "event", "level": "custom", "list": .array(["a", "b"])])
        #expect(lines.all == [
            #"{"count":"7","level":"custom","list":"[\"a\", \"b\"]","logger":"rag.server","message":"hello","stage":"event","time":"1970-01-01T00:00:00.000Z"}"# + "\n"
        ])
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(JSONLogHandler.timestamp(timespec(tv_sec: 0, tv_nsec: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(JSONLogHandler.timestamp(timespec(tv_sec: 951_782_400, tv_nsec: 999_999_999)) == "2000-02-29T00:00:00.999Z")
        #expect(JSONLogHandler.timestamp(timespec(tv_sec: 253_402_300_799, tv_nsec: 5_000_000)) == "9999-12-31T23:59:59.005Z")
    }
}
