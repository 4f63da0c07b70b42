import Foundation
import RAGTesting
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The database goes down under a running `rag-server` and comes back: searches and questions go on from memory,
/// writes get 503 `database_unavailable`, `/readyz` stays 200 and says the database is unreachable, and once the
/// database is back the same process takes writes again, without a restart. A PostgreSQL of its own
/// (scripts/postgres.sh start, pause, resume, stop), so that stopping it disturbs no other test.
@Suite(.serialized) struct DatabaseOutageTests {
    /// Runs scripts/postgres.sh ACTION DIR to its end and returns what it printed. Through `system(3)`, not
    /// Foundation's `Process`: the server the script leaves running (a daemon) kept `Process` from ever seeing the
    /// script's exit here.
    static func postgres(_ action: String, _ directory: String) throws -> String {
        let script = TestProcess.packageRoot.appendingPathComponent("scripts/postgres.sh").path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("rag-postgres-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        let status = system("bash '\(script)' \(action) '\(directory)' </dev/null >'\(output.path)' 2>&1")
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw ServerProcessError(message: "postgres.sh \(action) failed (\(status)): \(text)") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(.timeLimit(.minutes(4)), .enabled(if: PostgresTestServer.isAvailable, Comment(rawValue: PostgresTestServer.unavailableReason ?? "")))
    func readsGoOnWritesAre503AndTheServerRecoversWithoutARestart() async throws {
        let directory = "/tmp/rag-outage-\(UUID().uuidString.prefix(8))"
        let url = try Self.postgres("start", directory)
        defer { _ = try? Self.postgres("stop", directory) }
        let server = try ServerProcess(
            arguments: ["--upload-mode", "queued", "--database-wait", "1", "--reload-interval", "0.2", "--rate-limit", "0", "--llm", "extractive"],
            store: ["--database-url", url])
        defer { server.stop() }
        let first = try ReplicaTests.pdf("policy.pdf", ["Employees receive 25 days of paid vacation per year."])
        let id = try #require(try await ReplicaTests.call(server, "POST", "/v1/documents", file: first).json["id"] as? String)
        #expect(try await ReplicaTests.waitForJob(server, id)["status"] as? String == "ready")

        _ = try Self.postgres("pause", directory)

        // Reads go on from memory.
        let search = try await ReplicaTests.call(server, "POST", "/v1/search", json: ["query": "vacation days"])
        #expect(search.status == 200 && !ReplicaTests.hits(search).isEmpty, "\(search.json)")
        let ask = try await ReplicaTests.call(server, "POST", "/v1/ask", json: ["question": "How many vacation days?"])
        #expect(ask.status == 200, "\(ask.json)")
        // Writes are refused, clearly and soon.
        let second = try ReplicaTests.pdf("travel.pdf", ["Receipts for travel must be submitted within 30 days of the trip."])
        let started = ContinuousClock.now
        let refused = try await ReplicaTests.call(server, "POST", "/v1/documents", file: second)
        #expect(refused.status == 503, "\(refused.json)")
        #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "database_unavailable")
        #expect(ContinuousClock.now - started < .seconds(20))
        let delete = try await ReplicaTests.call(server, "DELETE", "/v1/documents/\(id)")
        #expect(delete.status == 503, "\(delete.json)")
        // Ready all along, saying the database is unreachable.
        var readiness: [String: Any] = [:]
        for _ in 0..<100 {
            let reply = try await ReplicaTests.call(server, "GET", "/readyz")
            #expect(reply.status == 200)
            readiness = reply.json
            if (readiness["database"] as? [String: Any])?["status"] as? String == "unreachable" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect((readiness["database"] as? [String: Any])?["status"] as? String == "unreachable", "\(readiness)")

        _ = try Self.postgres("resume", directory)

        // The same process writes again once the database is back.
        var accepted: ReplicaTests.Reply? = nil
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let reply = try await ReplicaTests.call(server, "POST", "/v1/documents", file: second)
            if reply.status == 202 || reply.status == 200 {
                accepted = reply
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        let secondID = try #require(accepted?.json["id"] as? String, "writes never came back: \(server.log.suffix(3000))")
        let done = try await ReplicaTests.waitForJob(server, secondID)
        #expect(done["status"] as? String == "ready", "\(done)")
        let version = try #require(done["index_version"] as? Int)
        let found = try await ReplicaTests.call(server, "POST", "/v1/search", json: ["query": "travel receipts", "min_index_version": version])
        #expect(ReplicaTests.hits(found).contains { $0["document_id"] as? String == secondID })
        var recovered = false
        for _ in 0..<100 where !recovered {
            recovered = (try await ReplicaTests.call(server, "GET", "/readyz").json["database"] as? [String: Any])?["status"] as? String == "ok"
            if !recovered { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(recovered, "/readyz still says the database is unreachable")
    }
}
