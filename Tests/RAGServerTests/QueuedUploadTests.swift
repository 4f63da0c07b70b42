import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RAGCore
import RAGServer
import Testing

/// Queued uploads (`--upload-mode queued`): `202` with a status URL at once, the worker makes the document ready,
/// `GET /v1/documents/{id}` follows it, and `min_index_version` reads the write.
@Suite struct QueuedUploadTests {
    func server(role: ServerRole = .all) -> TestServer {
        var server = TestServer()
        server.configuration.ingestion = IngestionConfiguration(
            role: role, uploadMode: .queued, jobLease: .seconds(30), pollInterval: .milliseconds(50))
        return server
    }

    /// Polls the status URL until the job leaves `queued`/`processing`, for at most 20 s.
    func finalStatus(_ client: some TestClientProtocol, _ url: String) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let response = try await client.execute(uri: url, method: .get)
            #expect(response.status == .ok)
            let status = response.json["status"] as? String
            if status == "ready" || status == "failed" { return response.json }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the job did not finish")
        return [:]
    }

    @Test func anUploadIsAcceptedThenReadyAndReadable() async throws {
        let (app, _) = try await server().app()
        try await app.test(.live) { client in
            let upload = try await client.uploadHandbook()
            #expect(upload.status == .accepted, "\(upload.text)")
            let id = try #require(upload.json["id"] as? String)
            #expect(["queued", "processing", "ready"].contains(upload.json["status"] as? String))
            #expect(upload.headers[.location] == "/v1/documents/\(id)")
            #expect(upload.json["status_url"] as? String == "/v1/documents/\(id)")

            let done = try await finalStatus(client, "/v1/documents/\(id)")
            #expect(done["status"] as? String == "ready")
            let version = try #require(done["index_version"] as? Int)
            #expect(version >= 1)
            #expect((done["document"] as? [String: Any])?["file"] as? String == "handbook.pdf")

            let search = try await client.execute(
                uri: "/v1/search", method: .post, headers: [.contentType: "application/json"],
                body: Fixtures.jsonBody(["query": "vacation days", "min_index_version": version]))
            #expect(search.status == .ok)
            #expect(search.text.contains("25 days"))

            // The same file again: the collection holds it, so it is ready at once.
            let again = try await client.uploadHandbook()
            #expect(again.status == .ok && again.json["status"] as? String == "ready")

            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.json["index_version"] as? Int == version)
            #expect(ready.json["uploads"] as? String == "queued")
            #expect((ready.json["database"] as? [String: Any])?["status"] as? String == "ok")

            // A version no write returned: 409, at once.
            let future = try await client.execute(
                uri: "/v1/ask", method: .post, headers: [.contentType: "application/json"],
                body: Fixtures.jsonBody(["question": "vacation?", "min_index_version": version + 1000]))
            #expect(future.status == .conflict)
            #expect(future.text.contains("unknown_index_version"))

            let unknown = try await client.execute(uri: "/v1/documents/0123456789abcdef", method: .get)
            #expect(unknown.status == .notFound)

            // Deleting returns the version without it.
            let removed = try await client.execute(uri: "/v1/documents/\(id)", method: .delete)
            #expect(removed.status == .ok)
            #expect((removed.json["index_version"] as? Int ?? 0) > version)
        }
    }

    @Test func aBadUploadEndsFailedWithItsReason() async throws {
        let (app, _) = try await server().app()
        try await app.test(.live) { client in
            let upload = try await client.execute(
                uri: "/v1/documents?filename=broken.pdf", method: .post, headers: [.contentType: "application/pdf"],
                body: ByteBuffer(string: "%PDF-1.4 this is not really a PDF at all"))
            #expect(upload.status == .accepted, "\(upload.text)")
            let id = try #require(upload.json["id"] as? String)
            let done = try await finalStatus(client, "/v1/documents/\(id)")
            #expect(done["status"] as? String == "failed")
            let error = try #require(done["error"] as? [String: Any])
            #expect((error["code"] as? String)?.isEmpty == false)
            #expect((error["message"] as? String)?.isEmpty == false)
            let list = try await client.execute(uri: "/v1/documents", method: .get)
            #expect((list.json["documents"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func anAPIReplicaQueuesAndLeavesTheWorkToWorkers() async throws {
        let (app, state) = try await server(role: .api).app()
        try await app.test(.live) { client in
            let upload = try await client.uploadHandbook()
            #expect(upload.status == .accepted)
            let id = try #require(upload.json["id"] as? String)
            try await Task.sleep(for: .milliseconds(300))
            let status = try await client.execute(uri: "/v1/documents/\(id)", method: .get)
            #expect(status.json["status"] as? String == "queued", "no worker runs in an api replica")
            #expect(try await state.engine.queueDepth() == QueueDepth(queued: 1, processing: 0))
            // A worker (here: the same engine, as a worker process would) makes it ready.
            let job = try #require(try await state.engine.processNextJob(worker: "elsewhere"))
            #expect(job.state == .ready)
            let after = try await client.execute(uri: "/v1/documents/\(id)", method: .get)
            #expect(after.json["status"] as? String == "ready")
        }
    }

    @Test func aWorkerAnswersProbesOnly() async throws {
        let (app, _) = try await server(role: .worker).app()
        try await app.test(.router) { client in
            let ready = try await client.execute(uri: "/readyz", method: .get)
            let health = try await client.execute(uri: "/healthz", method: .get)
            let list = try await client.execute(uri: "/v1/documents", method: .get)
            let upload = try await client.uploadHandbook()
            #expect(ready.status == .ok && health.status == .ok)
            #expect(list.status == .notFound && upload.status == .notFound)
        }
    }

    @Test func aWorkerMayNotBeReadOnly() {
        #expect(throws: ServerConfigurationError.self) {
            try ServerConfiguration(flags: [:], environment: ["RAG_ROLE": "worker", "RAG_READ_ONLY": "true"])
        }
    }
}
