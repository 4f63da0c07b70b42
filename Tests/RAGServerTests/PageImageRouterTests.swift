import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOFoundationEssentialsCompat
import RAGCore
import RAGServer
import RAGTesting
import Testing

/// `GET /v1/documents/{id}/pages/{n}/image`: a cited page drawn with its passage highlighted, and its typed refusals.
@Suite struct PageImageRouterTests {
    @Test func aCitationsPageImageShowsThePassageHighlighted() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            let asked = try await client.execute(
                uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "How many vacation days?", "stream": false]))
            let citation = try #require((asked.json["citations"] as? [[String: Any]])?.first)
            let id = try #require(citation["document_id"] as? String)
            let page = try #require(citation["page"] as? Int)
            let chunk = try #require(citation["chunk_index"] as? Int)
            #expect(page == 1 && chunk == 0)
            try await client.execute(uri: "/v1/documents/\(id)/pages/\(page)/image?chunk=\(chunk)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/png")
                #expect(response.headers[HTTPField.Name("X-Highlight-Count")!] == "1")
                #expect(response.headers[.cacheControl]?.contains("private") == true)
                let image = try PNGImage(data: Data(buffer: response.body))
                #expect(image.width == PageRenderLimits().defaultWidth)
                #expect(image.height == Int((Double(image.width) * 792 / 612).rounded()))
                // The sentence is TestPDF's first line, 52 points from the top: its rows are highlighted, the rest not.
                let scale = Double(image.width) / 612
                let rows = image.highlightedRows
                #expect(!rows.isEmpty)
                #expect(rows.allSatisfy { Double($0) > 36 * scale && Double($0) < 58 * scale }, "\(rows.min() ?? -1)...\(rows.max() ?? -1)")
            }
            // Without a passage, the page alone, at the width asked for.
            try await client.execute(uri: "/v1/documents/\(id)/pages/2/image?width=200", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("X-Highlight-Count")!] == "0")
                let image = try PNGImage(data: Data(buffer: response.body))
                #expect(image.width == 200 && image.highlightedRows.isEmpty)
            }
        }
    }

    @Test func badPageRequestsGetTypedErrors() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            let created = try await client.uploadHandbook()
            let id = try #require((created.json["document"] as? [String: Any])?["id"] as? String)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain"
            let text = try await client.execute(
                uri: "/v1/documents?filename=notes.txt", method: .post, headers: headers, body: ByteBuffer(string: "Plain notes."))
            let textID = try #require((text.json["document"] as? [String: Any])?["id"] as? String)
            let cases: [(String, HTTPResponse.Status, String)] = [
                ("/v1/documents/\(id)/pages/3/image", .notFound, "page_not_found"),
                ("/v1/documents/\(id)/pages/0/image", .badRequest, "invalid_page_request"),
                ("/v1/documents/\(id)/pages/one/image", .badRequest, "invalid_page_request"),
                ("/v1/documents/\(id)/pages/99999999999999999999/image", .badRequest, "invalid_page_request"),
                ("/v1/documents/\(id)/pages/1/image?width=5", .badRequest, "invalid_page_request"),
                ("/v1/documents/\(id)/pages/1/image?width=-1", .badRequest, "invalid_page_request"),
                ("/v1/documents/\(id)/pages/1/image?width=100000", .badRequest, "invalid_page_request"),
                ("/v1/documents/\(id)/pages/1/image?chunk=x", .badRequest, "invalid_page_request"),
                ("/v1/documents/\(id)/pages/2/image?chunk=0", .notFound, "page_not_found"),
                ("/v1/documents/\(id)/pages/1/image?chunk=77", .notFound, "page_not_found"),
                ("/v1/documents/0123456789abcdef/pages/1/image", .notFound, "document_not_found"),
                ("/v1/documents/%2E%2E%2F/pages/1/image", .notFound, "document_not_found"),
                ("/v1/documents/\(textID)/pages/1/image", .conflict, "no_page_image"),
            ]
            for (uri, status, code) in cases {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == status, "\(uri)")
                    let error = response.json["error"] as? [String: Any]
                    #expect(error?["code"] as? String == code, "\(uri): \(response.text)")
                }
            }
            // The width's error names the server's settings.
            try await client.execute(uri: "/v1/documents/\(id)/pages/1/image?width=5", method: .get) { response in
                #expect(response.text.contains("RAG_PAGE_IMAGE_MIN_WIDTH"))
            }
            // A removed document's pages are gone with it.
            _ = try await client.execute(uri: "/v1/documents/\(id)", method: .delete)
            try await client.execute(uri: "/v1/documents/\(id)/pages/1/image", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func theServersPageImageSettingsBoundTheImage() async throws {
        var server = TestServer()
        server.configuration = try ServerConfiguration(
            flags: [:],
            environment: [
                "RAG_COLLECTION": "/nonexistent", "RAG_PORT": "0", "RAG_METRICS_PORT": "0", "RAG_PAGE_IMAGE_WIDTH": "300",
                "RAG_PAGE_IMAGE_MAX_WIDTH": "400", "RAG_PAGE_IMAGE_MAX_PIXELS": "200000",
            ])
        server.engineConfiguration.pageRendering = server.configuration.pageRendering
        let (app, _) = try await server.app()
        try await app.test(.router) { client in
            let created = try await client.uploadHandbook()
            let id = try #require((created.json["document"] as? [String: Any])?["id"] as? String)
            try await client.execute(uri: "/v1/documents/\(id)/pages/1/image", method: .get) { response in
                let image = try PNGImage(data: Data(buffer: response.body))
                #expect(image.width == 300)
            }
            try await client.execute(uri: "/v1/documents/\(id)/pages/1/image?width=401", method: .get) { response in
                #expect(response.status == .badRequest)
            }
            // 400 wide is allowed, but 400 x 518 pixels is past the pixel limit.
            try await client.execute(uri: "/v1/documents/\(id)/pages/1/image?width=400", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(response.text.contains("200000"), "\(response.text)")
            }
        }
    }

    @Test(arguments: [
        ["RAG_PAGE_IMAGE_MIN_WIDTH": "500", "RAG_PAGE_IMAGE_MAX_WIDTH": "400"],
        ["RAG_PAGE_IMAGE_WIDTH": "3000"],
        ["RAG_MAX_CONCURRENT_RENDERS": "0"],
        ["RAG_PAGE_CACHE_BYTES": "-1"],
        ["RAG_PAGE_IMAGE_MAX_PIXELS": "100"],
    ])
    func pageImageLimitsAreCheckedAtStart(environment: [String: String]) {
        #expect(throws: (any Error).self) {
            try ServerConfiguration(flags: [:], environment: environment.merging(["RAG_COLLECTION": "/tmp/x"]) { $1 })
        }
    }
}
