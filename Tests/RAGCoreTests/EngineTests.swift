import Foundation
import RAGCore
import RAGTesting
import Testing

@Suite struct EngineTests {
    static let facts = """
        The capital of France is Paris. Paris is known for the Eiffel Tower.

        Bananas are yellow fruits rich in potassium. Monkeys enjoy eating bananas.
        """
    static let router = "To reset the router, hold the reset button for ten seconds.\u{0C}The default password is admin."

    @Test func ingestSearchAndAskWithTheOfflineDefault() async throws {
        let engine = try await Engine()
        let record = try await engine.ingest(data: Data(Self.facts.utf8), fileName: "facts.txt")
        #expect(record.fileName == "facts.txt" && record.chunkCount == 1)
        _ = try await engine.ingest(data: Data(Self.router.utf8), fileName: "router.txt")
        let hits = try await engine.search("reset button", k: 2)
        #expect(hits.first?.chunk.fileName == "router.txt")
        #expect(hits.first?.chunk.pageStart == 1)
        let answer = try await engine.ask("What is the default password?")
        #expect(answer.text.contains("The default password is admin."))
        #expect(!answer.isGenerated)
        #expect(answer.citations.first?.label == "router.txt p. 2")
        #expect(answer.usage.isEstimated)
    }

    @Test func sendsNumberedPassagesToTheLLMAndReportsItsCitations() async throws {
        let llm = MockLLMClient(replies: ["Paris [2]."])
        let engine = try await Engine(configuration: EngineConfiguration(condenseFollowUps: false), llm: llm)
        _ = try await engine.ingest(data: Data(Self.router.utf8), fileName: "router.txt")
        _ = try await engine.ingest(data: Data(Self.facts.utf8), fileName: "facts.txt")
        let answer = try await engine.ask("What is the capital of France?", history: [.user("hi"), .assistant("hello")])
        let request = try #require(llm.requests.first)
        #expect(request.question == "What is the capital of France?")
        #expect(request.messages.first?.role == .system)
        #expect(request.messages.map(\.content).contains("hello"))
        let user = try #require(request.messages.last?.content)
        #expect(user.contains("[1] facts.txt, p. 1"))
        #expect(user.hasSuffix("Question: What is the capital of France?"))
        #expect(answer.text == "Paris [2].")
        #expect(answer.isGenerated)
        #expect(answer.citations.map(\.number) == [2])
        #expect(answer.passages.count == 3)  // facts.txt p. 1, router.txt pp. 1 and 2
        #expect(answer.usage == TokenUsage(promptTokens: 100, completionTokens: 10, isEstimated: false))
    }

    @Test func streamsPassagesThenDeltasThenTheAnswer() async throws {
        let engine = try await Engine(llm: MockLLMClient(replies: ["Hold it for ten seconds [1]."], chunkSize: 3))
        _ = try await engine.ingest(data: Data(Self.router.utf8), fileName: "router.txt")
        var events: [String] = []
        var text = ""
        for try await event in engine.askStreaming("How do I reset the router?") {
            switch event {
            case .passages(let passages): events.append("passages:\(passages.count)")
            case .delta(let delta): events.append("delta"); text += delta
            case .done(let answer): events.append("done"); #expect(answer.text == text)
            }
        }
        #expect(events.first == "passages:2")
        #expect(events.last == "done")
        #expect(events.filter { $0 == "delta" }.count == 10)
        #expect(text == "Hold it for ten seconds [1].")
    }

    @Test func rejectsBadQuestionsAndAnEmptyCollection() async throws {
        let engine = try await Engine()
        await #expect(throws: EngineError.self) { try await engine.ask("anything") }
        _ = try await engine.ingest(data: Data(Self.facts.utf8), fileName: "facts.txt")
        let empty = await #expect(throws: EngineError.self) { try await engine.ask("   ") }
        #expect(empty?.code == .invalidQuestion)
        let long = await #expect(throws: EngineError.self) { try await engine.search(String(repeating: "a", count: 9000)) }
        #expect(long?.description.contains("maxQuestionBytes") == true)
    }

    @Test func aFailingLLMIsReportedAndCounted() async throws {
        let metrics = RAGMetrics()
        let llm = MockLLMClient(replies: [.failure(MockLLMClient.Failure("model down"))])
        let engine = try await Engine(llm: llm, metrics: metrics)
        _ = try await engine.ingest(data: Data(Self.facts.utf8), fileName: "facts.txt")
        let error = await #expect(throws: MockLLMClient.Failure.self) { try await engine.ask("capital of France?") }
        #expect(error?.message == "model down")
        let text = metrics.render()
        #expect(text.contains(#"rag_requests_total{operation="ask",outcome="error"} 1"#))
        #expect(text.contains(#"rag_llm_errors_total{type="other",model="mock"} 1"#))
    }

    @Test func recordsMetricsForASuccessfulQuestion() async throws {
        let metrics = RAGMetrics()
        let engine = try await Engine(llm: MockLLMClient(replies: ["Yes [1]."]), metrics: metrics)
        _ = try await engine.ingest(data: Data(Self.facts.utf8), fileName: "facts.txt")
        _ = try await engine.ask("Are bananas yellow?")
        let text = metrics.render()
        #expect(text.contains(#"rag_requests_total{operation="ask",outcome="success"} 1"#))
        #expect(text.contains(#"rag_llm_tokens_total{kind="prompt",model="mock"} 100"#))
        #expect(text.contains(#"rag_llm_tokens_total{kind="completion",model="mock"} 10"#))
        #expect(text.contains("rag_sources_matched_count 1"))
        #expect(text.contains("rag_ingested_documents_total 1"))
        #expect(text.contains("rag_collection_chunks 1"))
    }

    /// The collection's stores (SQLite and PostgreSQL) behave alike under the engine: what follows runs on each.
    @Test(arguments: CollectionBackend.all)
    func persistsReingestsNothingAndRemovesCompletely(backend: CollectionBackend) async throws {
        try await backend.withConfiguration { configuration in
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("facts.txt")
        try Self.facts.write(to: file, atomically: true, encoding: .utf8)
        do {
            let engine = try await Engine(configuration: configuration)
            let report = await engine.ingest(paths: [directory.path])
            #expect(report.added.count == 1 && report.failed.isEmpty)
        }
        let reopened = try await Engine(configuration: configuration)
        #expect(reopened.collection.documents.map(\.fileName) == ["facts.txt"])
        let again = await reopened.ingest(paths: [file.path])
        #expect(again.added.isEmpty && again.unchanged.count == 1)
        #expect(reopened.collection.chunks.count == 1)

        // A changed file replaces its earlier version.
        try (Self.facts + "\n\nA new paragraph about kiwis.").write(to: file, atomically: true, encoding: .utf8)
        let changed = await reopened.ingest(paths: [file.path])
        #expect(changed.added.count == 1)
        #expect(reopened.collection.documents.count == 1)

        let removed = try await reopened.remove("facts.txt")
        #expect(removed.fileName == "facts.txt")
        let final = try await Engine(configuration: configuration).collection
        #expect(final.documents.isEmpty && final.chunks.isEmpty && final.vectors.count == 0)
        await #expect(throws: EngineError.self) { try await reopened.remove("facts.txt") }
        }
    }

    @Test func reportsBadFilesAndIngestsTheRest() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.facts.write(to: directory.appendingPathComponent("good.txt"), atomically: true, encoding: .utf8)
        try Data("%PDF-1.4 garbage".utf8).write(to: directory.appendingPathComponent("bad.pdf"))
        let engine = try await Engine()
        let report = await engine.ingest(paths: [directory.path, directory.appendingPathComponent("missing.pdf").path])
        #expect(report.added.map(\.fileName) == ["good.txt"])
        #expect(report.failed.count == 2)
        #expect(report.failed.contains { $0.path.hasSuffix("bad.pdf") })
        #expect(report.failed.contains { $0.path.hasSuffix("missing.pdf") })
    }

    @Test(arguments: CollectionBackend.all)
    func refusesACollectionFromAnotherEmbedder(backend: CollectionBackend) async throws {
        try await backend.withConfiguration { configuration in
        _ = try await Engine(configuration: configuration).ingest(data: Data(Self.facts.utf8), fileName: "facts.txt")
        let error = await #expect(throws: CollectionError.self) {
            try await Engine(configuration: configuration, embedder: MockEmbedder(dimension: 8))
        }
        #expect(error?.code == .embedderMismatch)
        #expect(error?.description.contains("hashing-v1-d512") == true)
        }
    }

    @Test func readOnlyEnginesRefuseWrites() async throws {
        let engine = try await Engine(configuration: EngineConfiguration(readOnly: true))
        let error = await #expect(throws: EngineError.self) {
            try await engine.ingest(data: Data(Self.facts.utf8), fileName: "facts.txt")
        }
        #expect(error?.code == .readOnly)
    }

    @Test func filtersSearchByDocument() async throws {
        let engine = try await Engine(embedder: MockEmbedder(dimension: 16))
        let facts = try await engine.ingest(data: Data(Self.facts.utf8), fileName: "facts.txt")
        _ = try await engine.ingest(data: Data(Self.router.utf8), fileName: "router.txt")
        let hits = try await engine.search("anything", k: 10, documents: [facts.id])
        #expect(!hits.isEmpty && hits.allSatisfy { $0.chunk.fileName == "facts.txt" })
    }

    @Test(arguments: CollectionBackend.all)
    func concurrentWritersLoseNothing(backend: CollectionBackend) async throws {
        try await backend.withConfiguration { configuration in
        let engine = try await Engine(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                group.addTask { _ = try await engine.ingest(data: Data("Document number \(index) about topic \(index).".utf8), fileName: "d\(index).txt") }
            }
            try await group.waitForAll()
        }
        #expect(engine.collection.documents.count == 8)
        #expect(try await Engine(configuration: configuration).collection.documents.count == 8)
        }
    }

    @Test func aBadUploadIsATypedErrorThatLosesNothing() async throws {
        let metrics = RAGMetrics()
        let engine = try await Engine(metrics: metrics)
        _ = try await engine.ingest(data: TestPDF.make(pages: ["Kept text about llamas."]), fileName: "kept.pdf")
        let locked = try TestPDF.encrypted(TestPDF.make(pages: ["Secret"]), userPassword: "pw")
        let error = await #expect(throws: DocumentError.self) { try await engine.ingest(data: locked, fileName: "locked.pdf") }
        #expect(error?.code == .encrypted)
        #expect(engine.collection.documents.map(\.fileName) == ["kept.pdf"])
        #expect(metrics.render().contains(#"rag_ingest_errors_total{reason="encrypted"} 1"#))
        let unlocked = try await Engine(configuration: EngineConfiguration(pdfPassword: "pw"))
        #expect(try await unlocked.ingest(data: locked, fileName: "locked.pdf").indexedPages == 1)
    }

    @Test func followUpsAreCondensedIntoAStandaloneSearchQuery() async throws {
        let metrics = RAGMetrics()
        let llm = MockLLMClient(replies: ["default password of the router", "It is admin [1]."])
        let engine = try await Engine(llm: llm, metrics: metrics)
        _ = try await engine.ingest(data: Data(Self.router.utf8), fileName: "router.txt")
        _ = try await engine.ingest(data: Data(Self.facts.utf8), fileName: "facts.txt")
        let history: [ChatMessage] = [.user("How do I reset the router?"), .assistant("Hold the button [1].")]
        let answer = try await engine.ask("And what is its default password?", history: history)
        #expect(llm.requests.count == 2)
        let condense = llm.requests[0]
        #expect(condense.messages.first?.content == Engine.condensePrompt)
        #expect(condense.messages.last?.content.contains("assistant: Hold the button [1].") == true)
        #expect(answer.searchQuery == "default password of the router")
        #expect(answer.citations.first?.label == "router.txt p. 2")
        #expect(llm.requests[1].question == "And what is its default password?")
        #expect(metrics.render().contains(#"rag_llm_tokens_total{kind="prompt",model="mock"} 200"#))

        // Without history, or with condensing off, there is no extra call.
        let direct = MockLLMClient(replies: ["x"])
        let plain = try await Engine(configuration: EngineConfiguration(condenseFollowUps: false), llm: direct)
        _ = try await plain.ingest(data: Data(Self.router.utf8), fileName: "router.txt")
        _ = try await plain.ask("And its password?", history: history)
        #expect(direct.requests.count == 1)
    }

    /// Issue #12 item 4: a history of any length or size reaches each model call (the follow-up rewrite and the
    /// answer) within `maxHistoryMessages` and `maxHistoryTokens`, and within `maxPromptTokens` in all.
    @Test(arguments: [
        (count: 1000, bytes: 2048),  // many messages
        (count: 6, bytes: 5 << 20),  // 30 MB in six messages: the newest one alone is over the budget
    ])
    func historyReachesEveryModelCallWithinItsBounds(shape: (count: Int, bytes: Int)) async throws {
        let llm = MockLLMClient(replies: ["default password of the router", "It is admin [1]."])
        let engine = try await Engine(llm: llm)
        _ = try await engine.ingest(data: Data(Self.router.utf8), fileName: "router.txt")
        let history: [ChatMessage] = (0..<shape.count).map { index in
            let text = "message \(index) " + String(repeating: "x", count: shape.bytes)
            return index % 2 == 0 ? .user(text) : .assistant(text)
        }
        let question = "And what is its default password?"
        _ = try await engine.ask(question, history: history)
        let options = engine.configuration.prompt
        #expect(llm.requests.count == 2)
        guard llm.requests.count == 2 else { return }
        let (rewrite, answer) = (llm.requests[0], llm.requests[1])

        // The rewrite: its conversation costs no more than the history budget, and the newest message leads it.
        let bare = TokenEstimator.estimate([.system(Engine.condensePrompt), .user("Conversation:\n\n\nLast question: \(question)")])
        #expect(TokenEstimator.estimate(rewrite.messages) <= bare + options.maxHistoryTokens)
        #expect(TokenEstimator.estimate(rewrite.messages) <= options.maxPromptTokens)
        #expect(rewrite.messages.last?.content.contains("message \(shape.count - 1) ") == true)

        // The answer: system, at most maxHistoryMessages of history within maxHistoryTokens, then the question.
        let kept = Array(answer.messages.dropFirst().dropLast())
        #expect(!kept.isEmpty && kept.count <= options.maxHistoryMessages)
        #expect(kept.reduce(0) { $0 + 4 + TokenEstimator.estimate($1.content) } <= options.maxHistoryTokens)
        #expect(TokenEstimator.estimate(answer.messages) <= options.maxPromptTokens)
        #expect(kept.last?.content.hasPrefix("message \(shape.count - 1) ") == true)
        if shape.bytes > 4 * options.maxHistoryTokens {
            #expect(kept.count == 1 && kept[0].content.hasSuffix(PromptBuilder.cutMarker))
            #expect(rewrite.messages.last?.content.contains(PromptBuilder.cutMarker) == true)
        }
    }
}
