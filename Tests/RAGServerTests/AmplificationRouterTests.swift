import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RAGCore
import RAGServer
import RAGTesting
import Testing

/// Issue #12, item 2, through the HTTP API: refusals carry a status, a `code` and the server setting to raise.
@Suite struct AmplificationRouterTests {
    static let pageText = (1...60).map { "Line \($0) of the shared page says something about topic \($0 % 7)." }
        .joined(separator: " ")

    private func upload(_ client: some TestClientProtocol, _ data: Data, _ name: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/documents?filename=\(name)", method: .post, headers: [.contentType: "application/pdf"],
            body: ByteBuffer(bytes: data))
    }

    @Test func aPageTreeNamingOnePageManyTimesIsAcceptedAsOnePage() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            let pdf = TestPDF.sharedPages([Self.pageText], kids: Array(repeating: 0, count: 2_000))
            let response = try await upload(client, pdf, "amplifier.pdf")
            #expect(response.status == .created)
            let document = try #require(response.json["document"] as? [String: Any])
            #expect(document["pages"] as? Int == 2_000)
            #expect(document["indexed_pages"] as? Int == 1)
            // One page's chunks (chunks end at a sentence or a word, so a page takes at most about twice its size's worth).
            #expect((document["chunks"] as? Int ?? 0) <= 2 * (Self.pageText.utf8.count / ChunkingOptions().maxCharacters + 1))
            let warnings = try #require(document["warnings"] as? [[String: Any]])
            #expect(warnings.map { $0["kind"] as? String } == ["repeatedPages"])
        }
    }

    @Test func tooMuchTextForTheFileSizeIs422WithTheSetting() async throws {
        let (app, state) = try await TestServer().app()
        try await app.test(.router) { client in
            let pdf = TestPDF.sharedFormXObject(pages: 600, text: Self.pageText)
            let response = try await upload(client, pdf, "forms.pdf")
            #expect(response.status == .unprocessableContent)
            let error = try #require(response.json["error"] as? [String: Any])
            #expect(error["code"] as? String == "too_much_text_for_size")
            let message = try #require(error["message"] as? String)
            #expect(message.hasPrefix("forms.pdf: "))
            #expect(message.contains("characters per byte"))
            #expect(message.contains("RAG_MAX_CHARACTERS_PER_BYTE"))
            #expect(state.engine.collection.documents.isEmpty)

            #expect(state.engine.metrics.render().contains(#"rag_documents_refused_total{reason="too_much_text_for_size"} 1"#))
        }
    }

    @Test func tooMuchTextNamesTheServerSetting() async throws {
        var server = TestServer()
        server.engineConfiguration.extraction.maxCharacters = 20
        let (app, _) = try await server.app()
        try await app.test(.router) { client in
            let response = try await client.uploadHandbook()
            #expect(response.status == .unprocessableContent)
            let error = try #require(response.json["error"] as? [String: Any])
            #expect(error["code"] as? String == "too_much_text")
            #expect((error["message"] as? String)?.contains("RAG_MAX_CHARACTERS (--max-characters)") == true)
        }
    }

    @Test func theCollectionQuotaIs507AndLosesNothing() async throws {
        var server = TestServer()
        server.engineConfiguration.maxCollectionChunks = 3
        let (app, state) = try await server.app()
        try await app.test(.router) { client in
            #expect(try await client.uploadHandbook().status == .created)
            let more = TestPDF.make(pages: [String(repeating: "More words about expenses and receipts. ", count: 60)])
            let response = try await upload(client, more, "more.pdf")
            #expect(response.status.code == 507)
            let error = try #require(response.json["error"] as? [String: Any])
            #expect(error["code"] as? String == "collection_quota_exceeded")
            let message = try #require(error["message"] as? String)
            #expect(message.contains("more.pdf"))
            #expect(message.contains("RAG_MAX_COLLECTION_CHUNKS"))
            #expect(state.engine.collection.documents.map(\.fileName) == ["handbook.pdf"])

            #expect(state.engine.metrics.render().contains(#"rag_documents_refused_total{reason="collection_quota"} 1"#))
        }
    }
}
