import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RAGServer
import Testing

/// What Schemathesis (scripts/check-api.sh) found the server doing against docs/openapi.yaml, kept fixed here.
@Suite struct SpecConformanceTests {
    /// A path that exists, with a method it does not take, is 405 with `Allow`, not 404; an unknown path stays 404.
    @Test func aKnownPathWithAnotherMethodIs405() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            let trace = try await client.execute(uri: "/v1/search", method: .trace)
            #expect(trace.status == .methodNotAllowed)
            #expect(trace.headers[.allow] == "POST")
            #expect(AccessTests.code(trace) == "method_not_allowed")
            let put = try await client.execute(uri: "/v1/documents/abc123", method: .put)
            #expect(put.status == .methodNotAllowed)
            #expect(put.headers[.allow] == "GET, DELETE")
            let documents = try await client.execute(uri: "/v1/documents", method: .put)
            #expect(documents.headers[.allow] == "POST, GET")
            #expect(try await client.execute(uri: "/v1/nothing", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/assets/nothing.js", method: .get).status == .notFound)
        }
    }

    @Test func theMetricsPortAnswers405Too() async throws {
        let state = try await TestServer().state()
        let app = Application(router: buildMetricsRouter(state))
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/metrics", method: .post)
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers[.allow] == "GET")
        }
    }

    /// A streamed question that cannot be answered at all gets its status, not a 200 with an `error` event.
    @Test func aStreamedQuestionOnAnEmptyCollectionIs409BeforeTheStream() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            let ask = try await client.execute(
                uri: "/v1/ask", method: .post, headers: [.contentType: "application/json"],
                body: Fixtures.jsonBody(["question": "How many days?", "stream": true]))
            #expect(ask.status == .conflict)
            #expect(AccessTests.code(ask) == "empty_collection")
            let chat = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"],
                body: Fixtures.jsonBody(["messages": [["role": "user", "content": "How many days?"]], "stream": true]))
            #expect(chat.status == .conflict)
            let blank = try await client.execute(
                uri: "/v1/ask", method: .post, headers: [.contentType: "application/json"],
                body: Fixtures.jsonBody(["question": "  ", "stream": true]))
            #expect(blank.status == .badRequest)
        }
    }
}
