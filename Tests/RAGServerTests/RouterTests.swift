import Foundation
import Hummingbird
import NIOCore
import NIOFoundationEssentialsCompat
import HummingbirdTesting
import RAGCore
import RAGServer
import RAGTesting
import Testing

@Suite struct RouterTests {
    @Test func healthAndReadiness() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["status"] as? String == "ok")
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["embedder"] as? String == "hashing-v1-d512")
                #expect((response.json["llm"] as? [String: Any])?["model"] as? String == "mock")
            }
        }
    }

    @Test func uploadListSearchAndDelete() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            let created = try await client.uploadHandbook()
            #expect(created.status == .created)
            let document = try #require(created.json["document"] as? [String: Any])
            #expect(document["file"] as? String == "handbook.pdf")
            #expect(document["pages"] as? Int == 2)
            #expect(document["chunks"] as? Int == 2)
            #expect(document["title"] as? String == "Handbook")
            #expect(created.json["unchanged"] as? Bool == false)
            let id = try #require(document["id"] as? String)

            let again = try await client.uploadHandbook()
            #expect(again.status == .ok)
            #expect(again.json["unchanged"] as? Bool == true)

            try await client.execute(uri: "/v1/documents", method: .get) { response in
                #expect((response.json["documents"] as? [[String: Any]])?.count == 1)
            }
            try await client.execute(uri: "/v1/search", method: .post, body: Fixtures.jsonBody(["query": "receipts submitted", "k": 1])) { response in
                #expect(response.status == .ok)
                let hits = try #require(response.json["hits"] as? [[String: Any]])
                #expect(hits.count == 1)
                #expect(hits.first?["file"] as? String == "handbook.pdf")
                #expect(hits.first?["page"] as? Int == 2)
                #expect((hits.first?["text"] as? String)?.contains("Receipts") == true)
            }
            try await client.execute(
                uri: "/v1/search", method: .post, body: Fixtures.jsonBody(["query": "receipts submitted", "k": 1, "retrieval": "lexical"])
            ) { response in
                #expect(response.status == .ok)
                let hits = try #require(response.json["hits"] as? [[String: Any]])
                #expect(hits.first?["page"] as? Int == 2)
                #expect((hits.first?["score"] as? Double ?? 0) > 1)  // a BM25 score, not a cosine similarity
            }
            try await client.execute(
                uri: "/v1/search", method: .post, body: Fixtures.jsonBody(["query": "receipts", "retrieval": "psychic"])
            ) { response in
                #expect(response.status == .badRequest)
                #expect((response.json["error"] as? [String: Any])?["message"] as? String == "retrieval is hybrid, vector or lexical, not 'psychic'")
            }
            try await client.execute(uri: "/v1/documents/\(id)", method: .delete) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/v1/documents/\(id)", method: .delete) { response in
                #expect(response.status == .notFound)
                #expect((response.json["error"] as? [String: Any])?["code"] as? String == "document_not_found")
            }
        }
    }

    @Test func multipartUploadsAndSanitisedNames() async throws {
        let (app, state) = try await TestServer().app()
        try await app.test(.router) { client in
            let boundary = "XyZ123boundary"
            var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n".utf8)
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../etc/pass\u{01}wd.pdf\"\r\nContent-Type: application/pdf\r\n\r\n".utf8)
            body += Fixtures.handbook + Data("\r\n--\(boundary)--\r\n".utf8)
            let response = try await client.execute(
                uri: "/v1/documents", method: .post, headers: [.contentType: "multipart/form-data; boundary=\(boundary)"],
                body: ByteBuffer(bytes: body))
            #expect(response.status == .created)
            #expect((response.json["document"] as? [String: Any])?["file"] as? String == "passwd.pdf")
            #expect(state.engine.collection.documents.map(\.fileName) == ["passwd.pdf"])
        }
    }

    /// A multipart upload of `fields` text fields and then the handbook as the `file` part.
    static func form(fields: Int, boundary: String = "XyZ123boundary", extraHeader: String = "") -> Data {
        var body = Data()
        for index in 0..<fields {
            body.append(contentsOf: Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"f\(index)\"\r\n\r\nv\r\n".utf8))
        }
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"handbook.pdf\"\r\n\(extraHeader)\r\n".utf8)
        return body + Fixtures.handbook + Data("\r\n--\(boundary)--\r\n".utf8)
    }

    @Test func formsUpToThePartLimitUploadAndLargerOnesGet413() async throws {
        var server = TestServer()
        server.configuration.maxFormParts = 3
        let (app, state) = try await server.app()
        try await app.test(.router) { client in
            let headers: HTTPFields = [.contentType: "multipart/form-data; boundary=XyZ123boundary"]
            let tooMany = try await client.execute(uri: "/v1/documents", method: .post, headers: headers, body: ByteBuffer(bytes: Self.form(fields: 3)))
            #expect(tooMany.status == .contentTooLarge)
            let error = try #require(tooMany.json["error"] as? [String: Any])
            #expect(error["code"] as? String == "too_many_parts")
            #expect(error["message"] as? String == "the form has more than 3 parts; the limit is set by --max-form-parts (RAG_MAX_FORM_PARTS)")
            #expect(state.engine.collection.documents.isEmpty)

            let atTheLimit = try await client.execute(uri: "/v1/documents", method: .post, headers: headers, body: ByteBuffer(bytes: Self.form(fields: 2)))
            #expect(atTheLimit.status == .created)
            #expect(state.engine.collection.documents.map(\.fileName) == ["handbook.pdf"])
        }
    }

    @Test func aFormOfTwoHundredThousandTinyFieldsGets413() async throws {
        let (app, state) = try await TestServer().app()
        try await app.test(.router) { client in
            let body = Self.form(fields: 200_000)
            #expect(body.count < TestServer().configuration.maxUploadBytes)
            let response = try await client.execute(
                uri: "/v1/documents", method: .post, headers: [.contentType: "multipart/form-data; boundary=XyZ123boundary"],
                body: ByteBuffer(bytes: body))
            #expect(response.status == .contentTooLarge)
            #expect((response.json["error"] as? [String: Any])?["code"] as? String == "too_many_parts")
            #expect(state.engine.collection.documents.isEmpty)
        }
    }

    @Test func partHeadersOverTheLimitGet413() async throws {
        var server = TestServer()
        server.configuration.maxPartHeaderBytes = 256
        let (app, _) = try await server.app()
        try await app.test(.router) { client in
            let body = Self.form(fields: 0, extraHeader: "X-Padding: \(String(repeating: "p", count: 300))\r\n")
            let response = try await client.execute(
                uri: "/v1/documents", method: .post, headers: [.contentType: "multipart/form-data; boundary=XyZ123boundary"],
                body: ByteBuffer(bytes: body))
            #expect(response.status == .contentTooLarge)
            let error = try #require(response.json["error"] as? [String: Any])
            #expect(error["code"] as? String == "part_header_too_large")
            #expect(error["message"] as? String
                == "the headers of part 1 are longer than 256 bytes; the limit is set by --max-part-header-bytes (RAG_MAX_PART_HEADER_BYTES)")
        }
    }

    @Test func unreadableFormsGet400WithWhatWasWrong() async throws {
        var server = TestServer()
        server.configuration.maxUploadBytes = 20_000
        let (app, state) = try await server.app()
        try await app.test(.router) { client in
            let cases: [(contentType: String, body: Data, message: String)] = [
                ("multipart/form-data", Self.form(fields: 1), "the multipart body could not be read: the Content-Type has no boundary parameter"),
                ("multipart/form-data; boundary=other", Self.form(fields: 1),
                 "the multipart body could not be read: the body has no delimiter line '--other': is the boundary in Content-Type right?"),
                ("multipart/form-data; boundary=XyZ123boundary", Self.form(fields: 1).dropLast(22),
                 "the multipart body could not be read: the body ends inside part 2, before the closing delimiter '--XyZ123boundary--'"),
                ("multipart/form-data; boundary=\(String(repeating: "b", count: 71))", Self.form(fields: 1), "the boundary must be 1 to 70"),
            ]
            for item in cases {
                let response = try await client.execute(
                    uri: "/v1/documents", method: .post, headers: [.contentType: item.contentType], body: ByteBuffer(bytes: item.body))
                #expect(response.status == .badRequest)
                let error = try #require(response.json["error"] as? [String: Any])
                #expect(error["code"] as? String == "invalid_multipart")
                #expect((error["message"] as? String)?.hasPrefix("the multipart body could not be read") == true)
                #expect((error["message"] as? String)?.contains(item.message.replacingOccurrences(of: "the multipart body could not be read: ", with: "")) == true)
            }
            let big = try await client.execute(
                uri: "/v1/documents", method: .post, headers: [.contentType: "multipart/form-data; boundary=XyZ123boundary"],
                body: ByteBuffer(bytes: Self.form(fields: 0) + Data(repeating: 0x41, count: 30_000)))
            #expect(big.status == .contentTooLarge)
            #expect((big.json["error"] as? [String: Any])?["code"] as? String == "too_large")
            #expect(state.engine.collection.documents.isEmpty)
        }
    }

    @Test func badUploadsGetClearErrorsAndLoseNothing() async throws {
        var server = TestServer()
        server.configuration.maxUploadBytes = 20_000
        let (app, state) = try await server.app()
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            let broken = try await client.execute(
                uri: "/v1/documents?filename=broken.pdf", method: .post, headers: [.contentType: "application/pdf"],
                body: ByteBuffer(bytes: Data("%PDF-1.7\n garbage".utf8)))
            #expect(broken.status == .unprocessableContent)
            let error = try #require(broken.json["error"] as? [String: Any])
            #expect(error["code"] as? String == "damaged")
            #expect((error["message"] as? String)?.contains("broken.pdf") == true)

            let encrypted = try TestPDF.encrypted(Fixtures.handbook, userPassword: "secret")
            let locked = try await client.execute(
                uri: "/v1/documents?filename=locked.pdf", method: .post, headers: [.contentType: "application/pdf"],
                body: ByteBuffer(bytes: encrypted))
            #expect(locked.status == .unprocessableContent)
            #expect((locked.json["error"] as? [String: Any])?["code"] as? String == "encrypted")

            let big = try await client.execute(
                uri: "/v1/documents?filename=big.pdf", method: .post, headers: [.contentType: "application/pdf"],
                body: ByteBuffer(bytes: Data(repeating: 0x41, count: 30_000)))
            #expect(big.status == .contentTooLarge)

            let empty = try await client.execute(uri: "/v1/documents", method: .post, headers: [.contentType: "application/pdf"])
            #expect(empty.status == .badRequest)
            #expect(state.engine.collection.documents.map(\.fileName) == ["handbook.pdf"])
        }
    }

    @Test func askReturnsTheAnswerWithCitations() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            let response = try await client.execute(
                uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "How many vacation days?", "history": [["role": "user", "content": "hi"]]]))
            #expect(response.status == .ok)
            #expect(response.json["answer"] as? String == "Employees get 25 days [1].")
            let citation = try #require((response.json["citations"] as? [[String: Any]])?.first)
            #expect(citation["file"] as? String == "handbook.pdf")
            #expect(citation["page"] as? Int == 1)
            #expect((response.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 100)
            #expect(response.json["answered"] as? Bool == true)
        }
    }

    /// Query rewriting, set as the server sets it (`--query-rewrites`): the answer's `search_queries` lists what was
    /// searched; off (the default), only the question.
    @Test func askReportsTheQueriesSearched() async throws {
        var server = TestServer(llm: MockLLMClient(replies: ["1. paid vacation days per year", "Employees get 25 days [1]."]))
        let configuration = try ServerConfiguration(flags: ["--query-rewrites": "2"], environment: [:])
        server.engineConfiguration.queryRewriting = configuration.engineConfiguration.queryRewriting
        let (app, _) = try await server.app()
        let llm = server.llm
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            let response = try await client.execute(
                uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "How many vacation days?"]))
            #expect(response.status == .ok)
            #expect(response.json["search_query"] as? String == "How many vacation days?")
            #expect(response.json["search_queries"] as? [String] == ["How many vacation days?", "paid vacation days per year"])
            #expect(llm.requests.count == 2)
        }
        let (plain, _) = try await TestServer().app()
        try await plain.test(.router) { client in
            try await client.uploadHandbook()
            let response = try await client.execute(
                uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "How many vacation days?"]))
            #expect(response.json["search_queries"] as? [String] == ["How many vacation days?"])
        }
    }

    @Test func askSaysWhenTheDocumentsDoNotAnswer() async throws {
        var server = TestServer()
        server.engineConfiguration.retrieval.minimumScore = .value(0.5)
        let (app, _) = try await server.app()
        let llm = server.llm
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            let response = try await client.execute(
                uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "How do I bake sourdough bread?"]))
            #expect(response.status == .ok)
            #expect(response.json["answered"] as? Bool == false)
            #expect((response.json["answer"] as? String)?.hasPrefix("The documents do not seem to answer this question.") == true)
            #expect((response.json["citations"] as? [Any])?.isEmpty == true)
            #expect(llm.requests.isEmpty)
        }
    }

    @Test func askStreamsServerSentEvents() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            let response = try await client.execute(
                uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "How many vacation days?", "stream": true]))
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            let events = Fixtures.events(response.text)
            #expect(events.first?.event == "passages")
            #expect(events.last?.event == "done")
            let text = events.filter { $0.event == "delta" }.compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: String])?["text"]
            }.joined()
            #expect(text == "Employees get 25 days [1].")
        }
    }

    @Test func badRequestsAreExplained() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/ask", method: .post, body: ByteBuffer(string: "{not json")) { response in
                #expect(response.status == .badRequest)
                #expect((response.json["error"] as? [String: Any])?["code"] as? String == "invalid_request")
            }
            try await client.execute(uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["questio": "typo"])) { response in
                #expect(response.status == .badRequest)
                #expect(((response.json["error"] as? [String: Any])?["message"] as? String)?.contains("question") == true)
            }
            try await client.execute(uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "Anything?"])) { response in
                #expect(response.status == .conflict)
                #expect((response.json["error"] as? [String: Any])?["code"] as? String == "empty_collection")
            }
            try await client.execute(uri: "/v1/nowhere", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func requestIDsAreEchoedOrMade() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get, headers: [.init("X-Request-ID")!: "abc-123"]) { response in
                #expect(response.headers[.init("X-Request-ID")!] == "abc-123")
            }
            try await client.execute(uri: "/healthz", method: .get, headers: [.init("X-Request-ID")!: "bad id\u{7F}"]) { response in
                let id = try #require(response.headers[.init("X-Request-ID")!])
                #expect(id != "bad id\u{7F}" && id.count == 36)
                #expect(UUID(uuidString: id) != nil && id == id.lowercased())
                #expect(Array(id)[14] == "4" && "89ab".contains(Array(id)[19]))
            }
            var seen = Set<String>()
            for _ in 0..<50 {
                try await client.execute(uri: "/healthz", method: .get) { response in
                    seen.insert(try #require(response.headers[.init("X-Request-ID")!]))
                }
            }
            #expect(seen.count == 50)
        }
    }

    @Test func apiKeysGuardTheAPIButNotHealth() async throws {
        var server = TestServer()
        server.configuration.apiKeys = try ServerConfiguration.parseAPIKeys("team-a:secret-key-aaaa,team-b:secret-key-bbbb")
        let (app, state) = try await server.app()
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/documents", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
            try await client.execute(uri: "/v1/documents", method: .get, headers: [.authorization: "Bearer wrong-key-xxxx"]) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/documents", method: .get, headers: [.authorization: "Bearer secret-key-bbbb"]) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in #expect(response.status == .ok) }
        }
        let metrics = state.engine.metrics.render()
        #expect(metrics.contains(#"rag_client_requests_total{client="team-b"} 1"#))
        #expect(!metrics.contains("secret-key"))
    }

    @Test func rateLimitAnswers429WithRetryAfter() async throws {
        var server = TestServer()
        // One token a minute, so that a slow machine (CI once took 34 s over this test) refills none meanwhile.
        server.configuration.rateLimitPerMinute = 1
        server.configuration.rateLimitBurst = 2
        let (app, state) = try await server.app()
        try await app.test(.router) { client in
            for _ in 0..<2 {
                try await client.execute(uri: "/v1/models", method: .get) { response in #expect(response.status == .ok) }
            }
            try await client.execute(uri: "/v1/models", method: .get) { response in
                #expect(response.status == .tooManyRequests)
                let retry = try #require(response.headers[.retryAfter].flatMap(Int.init))
                #expect(retry >= 1 && retry <= 60)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in #expect(response.status == .ok) }
        }
        #expect(state.engine.metrics.render().contains(#"rag_rate_limited_total{client="anonymous"} 1"#))
    }

    @Test func readOnlyDeploymentsRefuseUploadsAndSaySo() async throws {
        var server = TestServer()
        server.configuration.readOnly = true
        let (app, _) = try await server.app()
        try await app.test(.router) { client in
            let response = try await client.uploadHandbook()
            #expect(response.status == .forbidden)
            #expect(((response.json["error"] as? [String: Any])?["message"] as? String)?.contains("ingestion job") == true)
        }
    }

    @Test func busyAnswerSlotsGive503AndSlowAnswersTimeOut() async throws {
        var server = TestServer()
        // The first answer holds the slot well past the second ask, even on a loaded machine.
        server.llm = MockLLMClient(defaultReply: "slow answer [1].", chunkSize: 100, delay: .seconds(3))
        server.configuration.maxConcurrentAnswers = 1
        server.configuration.answerQueueLength = 0
        let (app, state) = try await server.app()
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            async let first = client.execute(uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "vacation days?"]))
            while state.answers.running == 0 { try await Task.sleep(for: .milliseconds(10)) }  // the first holds the slot
            let second = try await client.execute(uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "vacation days?"]))
            #expect(second.status == .serviceUnavailable)
            #expect(second.headers[.retryAfter] != nil)
            #expect(try await first.status == .ok)
        }
        #expect(state.engine.metrics.render().contains("rag_llm_queue_rejected_total 1"))

        var slow = TestServer()
        slow.llm = MockLLMClient(defaultReply: "too slow", chunkSize: 100, delay: .seconds(5))
        slow.configuration.requestTimeout = .milliseconds(300)
        let (timeoutApp, slowState) = try await slow.app()
        // Added through the engine: an upload through the 0.3 s timeout would itself time out on a loaded machine.
        _ = try await slowState.engine.ingest(data: Data(Fixtures.handbook), fileName: "handbook.pdf")
        try await timeoutApp.test(.router) { client in
            try await client.execute(uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "vacation days?"])) { response in
                #expect(response.status == .gatewayTimeout)
                #expect((response.json["error"] as? [String: Any])?["code"] as? String == "timeout")
            }
        }
    }

    @Test func llmFailuresAreBadGatewayWithoutDetailsLeaking() async throws {
        var server = TestServer()
        server.llm = MockLLMClient(replies: [.failure(LLMError(.server, "upstream failed with HTTP 500", status: 500))])
        let (app, _) = try await server.app()
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            try await client.execute(uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "vacation days?"])) { response in
                #expect(response.status == .badGateway)
                #expect((response.json["error"] as? [String: Any])?["code"] as? String == "llm_server")
                #expect(!response.text.contains("Stack") && !response.text.contains(".swift"))
            }
        }
    }

    @Test func corsIsOffByDefaultAndAnswersPreflightWhenOn() async throws {
        let (closed, _) = try await TestServer().app()
        try await closed.test(.router) { client in
            try await client.execute(uri: "/v1/models", method: .get, headers: [.origin: "https://example.org"]) { response in
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
        }
        var server = TestServer()
        server.configuration.corsOrigin = "https://chat.example.org"
        let (open, _) = try await server.app()
        try await open.test(.router) { client in
            try await client.execute(
                uri: "/v1/ask", method: .options,
                headers: [.origin: "https://chat.example.org", .accessControlRequestMethod: "POST"]) { response in
                #expect(response.headers[.accessControlAllowOrigin] == "https://chat.example.org")
            }
        }
    }

    @Test func metricsUseRouteTemplates() async throws {
        let (app, state) = try await TestServer().app()
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            try await client.execute(uri: "/v1/documents/0123456789abcdef", method: .delete) { _ in }
        }
        let text = state.engine.metrics.render()
        #expect(text.contains(#"rag_http_requests_total{route="/v1/documents/{id}",method="DELETE",status="404"} 1"#))
        #expect(text.contains(#"rag_http_requests_total{route="/v1/documents",method="POST",status="201"} 1"#))
        #expect(!text.contains("0123456789abcdef"))
        #expect(text.contains("rag_http_requests_in_flight 0"))
        let metricsApp = Application(router: buildMetricsRouter(state))
        try await metricsApp.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                #expect(response.text.contains("rag_collection_documents 1"))
            }
        }
    }

    @Test func concurrentUploadsOfOneFileIndexItOnce() async throws {
        let (app, state) = try await TestServer().app()
        try await app.test(.router) { client in
            async let first = client.uploadHandbook()
            async let second = client.uploadHandbook()
            let statuses = try await [first.status, second.status]
            #expect(statuses.sorted { $0.code < $1.code } == [.ok, .created])
        }
        #expect(state.engine.collection.documents.count == 1)
        #expect(state.engine.collection.chunks.count == 2)
    }
}
