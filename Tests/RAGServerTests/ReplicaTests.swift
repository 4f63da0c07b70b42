import Foundation
import RAGTesting
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Several `rag-server` processes on one store, as replicas in a cluster: an upload on one is found on the others
/// (at once with `min_index_version`, soon without), a removal on one is gone on the others, a replica started later
/// converges, and a worker killed in the middle of a job leaves it to another, which adds the document once.
@Suite(.serialized) struct ReplicaTests {
    /// A store that several processes share, and the `rag-server` arguments that open it.
    struct SharedStore: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: @Sendable () throws -> [String]
        var isAvailable: Bool { name != "postgres" || PostgresTestServer.isAvailable }
        var testDescription: String { name }

        static let sqlite = SharedStore(name: "sqlite") {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-replicas-\(UUID().uuidString)")
            return ["--collection", directory.path]
        }

        /// A fresh database on the tests' PostgreSQL.
        static let postgres = SharedStore(name: "postgres") {
            ["--database-url", try PostgresTestServer.freshDatabaseURLBlocking()]
        }
    }

    static let stores: [SharedStore] = [.sqlite, .postgres]

    /// A replica: queued uploads, and a short follow interval (the change log is polled; a database server also
    /// notifies).
    static func replica(_ store: [String], role: String = "all", extra: [String] = []) throws -> ServerProcess {
        try ServerProcess(
            arguments: ["--upload-mode", "queued", "--role", role, "--reload-interval", "0.2", "--llm", "extractive", "--rate-limit", "0"]
                + extra,
            store: store)
    }

    struct Reply {
        var status: Int
        var json: [String: Any]
    }

    /// One request through curl: JSON in (`json`) or a file (`file`), JSON out.
    static func call(_ server: ServerProcess, _ method: String, _ path: String, json: [String: Any]? = nil, file: URL? = nil)
        async throws -> Reply
    {
        var arguments = ["-X", method, "-w", "\n%{http_code}"]
        if let json {
            arguments += ["-H", "Content-Type: application/json", "--data-binary", String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)]
        }
        if let file { arguments += ["-F", "file=@\(file.path);type=application/pdf"] }
        // Waits without holding a thread: these tests run beside others whose servers share the few pool threads.
        let result = try await Curl.start(arguments + [server.baseURL + path]).finished(timeout: .seconds(90))
        let lines = result.text.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        let body = lines.dropLast().joined(separator: "\n")
        let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        return Reply(status: status, json: object)
    }

    /// Polls the upload's status on `server` until it is ready or failed (at most `timeout`).
    static func waitForJob(_ server: ServerProcess, _ id: String, timeout: Duration = .seconds(60)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let reply = try await call(server, "GET", "/v1/documents/\(id)")
            if let status = reply.json["status"] as? String, status == "ready" || status == "failed" { return reply.json }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ServerProcessError(message: "job \(id) did not finish: \(server.log.suffix(2000))")
    }

    static func pdf(_ name: String, _ pages: [String]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rag-replica-\(UUID().uuidString)-\(name)")
        try TestPDF.make(pages: pages, title: name).write(to: url)
        return url
    }

    static func hits(_ reply: Reply) -> [[String: Any]] { reply.json["hits"] as? [[String: Any]] ?? [] }

    @Test(.timeLimit(.minutes(3)), arguments: stores)
    func anUploadOnOneReplicaIsFoundOnTheOthers(store: SharedStore) async throws {
        guard store.isAvailable else { return print(PostgresTestServer.unavailableReason ?? "") }
        let shared = try store.arguments()
        let a = try Self.replica(shared)
        let b = try Self.replica(shared)
        defer {
            a.stop()
            b.stop()
        }
        let policy = try Self.pdf("travel.pdf", ["Receipts for travel must be submitted within 30 days of the trip."])

        // Upload on A: 202, then ready; B finds it at once when asked for the version that holds it.
        let upload = try await Self.call(a, "POST", "/v1/documents", file: policy)
        #expect(upload.status == 202, "\(upload.json)")
        let id = try #require(upload.json["id"] as? String)
        let ready = try await Self.waitForJob(a, id)
        #expect(ready["status"] as? String == "ready", "\(ready)")
        let version = try #require(ready["index_version"] as? Int)
        let onB = try await Self.call(b, "POST", "/v1/search", json: ["query": "travel receipts", "min_index_version": version])
        #expect(onB.status == 200 && Self.hits(onB).contains { $0["document_id"] as? String == id }, "\(onB.json)")

        // Without the version, B still finds a second upload soon (it follows the change log).
        let second = try Self.pdf("hotel.pdf", ["Hotel rooms are booked through the travel desk, never directly."])
        let secondID = try #require(try await Self.call(a, "POST", "/v1/documents", file: second).json["id"] as? String)
        #expect(try await Self.waitForJob(a, secondID)["status"] as? String == "ready")
        let seen = ContinuousClock.now
        var found = false
        while !found, ContinuousClock.now - seen < .seconds(10) {
            found = Self.hits(try await Self.call(b, "POST", "/v1/search", json: ["query": "hotel rooms travel desk"])).contains {
                $0["document_id"] as? String == secondID
            }
            if !found { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(found, "B never saw the second document")

        // Delete on B: gone on A, at once with the version the delete returned.
        let removed = try await Self.call(b, "DELETE", "/v1/documents/\(id)")
        #expect(removed.status == 200)
        let removedVersion = try #require(removed.json["index_version"] as? Int)
        let onA = try await Self.call(a, "POST", "/v1/search", json: ["query": "travel receipts", "min_index_version": removedVersion])
        #expect(onA.status == 200)
        #expect(!Self.hits(onA).contains { $0["document_id"] as? String == id }, "\(onA.json)")
        #expect(try await Self.call(a, "GET", "/v1/documents/\(id)").status == 404)

        // A third replica, started now, has what the others have.
        let c = try Self.replica(shared)
        defer { c.stop() }
        let listed = (try await Self.call(c, "GET", "/v1/documents").json["documents"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(listed == [secondID])
        let readiness = try await Self.call(c, "GET", "/readyz").json
        #expect(readiness["index_version"] as? Int == removedVersion)
    }

    @Test(.timeLimit(.minutes(4)), arguments: stores)
    func aWorkerKilledMidJobLeavesItToAnotherWhichAddsItOnce(store: SharedStore) async throws {
        guard store.isAvailable else { return print(PostgresTestServer.unavailableReason ?? "") }
        let shared = try store.arguments()
        let api = try Self.replica(shared, role: "api")
        defer { api.stop() }
        var doomed: ServerProcess? = try Self.replica(shared, role: "worker", extra: ["--job-lease", "2"])
        // Long enough to be caught in the middle: many pages to extract, chunk and embed.
        let pages = (1...1500).map { "Page \($0) of the archive. Section \($0 % 37) covers procedure \($0 * 7) in detail, with steps and exceptions." }
        let archive = try Self.pdf("archive.pdf", pages)
        let upload = try await Self.call(api, "POST", "/v1/documents", file: archive)
        #expect(upload.status == 202)
        let id = try #require(upload.json["id"] as? String)

        // Kill the worker (SIGKILL: no graceful anything) as soon as it has the job.
        let deadline = ContinuousClock.now + .seconds(60)
        var killedMidJob = false
        while ContinuousClock.now < deadline {
            let status = try await Self.call(api, "GET", "/v1/documents/\(id)").json["status"] as? String
            if status == "processing" {
                kill(doomed!.process.processIdentifier, SIGKILL)
                killedMidJob = true
                break
            }
            if status == "ready" { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        doomed = nil
        try #require(killedMidJob, "the worker finished before it could be killed: make the document bigger")
        #expect(try await Self.call(api, "GET", "/v1/documents/\(id)").json["status"] as? String == "processing")

        // Another worker takes it once the dead one's lease has run out.
        let rescuer = try Self.replica(shared, role: "worker", extra: ["--job-lease", "2"])
        defer { rescuer.stop() }
        let done = try await Self.waitForJob(api, id, timeout: .seconds(120))
        #expect(done["status"] as? String == "ready", "\(done)")
        #expect(done["attempts"] as? Int == 2)
        let version = try #require(done["index_version"] as? Int)
        let search = try await Self.call(api, "POST", "/v1/search", json: ["query": "procedure archive section", "min_index_version": version])
        #expect(search.status == 200)
        let documents = try await Self.call(api, "GET", "/v1/documents").json["documents"] as? [[String: Any]] ?? []
        #expect(documents.compactMap { $0["id"] as? String } == [id], "added once, never twice")
    }
}
