import Foundation
import Logging
import RAGCore
import RAGTesting
import Synchronization
import Testing

/// Query rewriting (issue #14): reformulations and a hypothetical answer passage, searched with the question and
/// fused. The hashed embedder and BM25 both see words, so a rewrite that shares the relevant document's words finds
/// it where the question's own words do not. (A real model's benefit is not measured here.)
@Suite struct QueryRewritingTests {
    /// Shares the question's words, but does not answer it.
    static let party = "Holiday time at the office: how much time do I get to spend at the party? Get there early at holiday time."
    /// Answers the question, in other words.
    static let leave = "Employees receive twenty days of paid annual leave each calendar year, accrued monthly over time."
    static let question = "How much holiday time do I get?"
    static let reformulations = "1. paid annual leave days per year\n2) \"annual leave entitlement for employees\""

    static func engine(
        _ llm: MockLLMClient, rewriting: QueryRewriting, metrics: RAGMetrics = RAGMetrics(),
        retrieval: RetrievalOptions = RetrievalOptions(), logger: Logger = Logger(label: "test")
    ) async throws -> Engine {
        let configuration = EngineConfiguration(searchResults: 1, retrieval: retrieval, queryRewriting: rewriting)
        let engine = try await Engine(configuration: configuration, llm: llm, metrics: metrics, logger: logger)
        _ = try await engine.ingest(data: Data(Self.party.utf8), fileName: "party.txt")
        _ = try await engine.ingest(data: Data(Self.leave.utf8), fileName: "leave.txt")
        return engine
    }

    @Test func offByDefaultWithoutAnExtraCall() async throws {
        #expect(EngineConfiguration().queryRewriting == QueryRewriting(reformulations: 0, hypotheticalAnswer: false))
        #expect(!EngineConfiguration().queryRewriting.isEnabled)
        let llm = MockLLMClient(replies: ["It depends [1]."])
        let engine = try await Self.engine(llm, rewriting: QueryRewriting())
        let answer = try await engine.ask(Self.question)
        #expect(llm.requests.count == 1)
        #expect(answer.searchQueries == [Self.question])
        #expect(answer.citations.first?.fileName == "party.txt")  // the question's words alone find the wrong file

        // With the extractive answerer, rewriting does nothing (there is no model to ask).
        let extractive = try await Engine(configuration: EngineConfiguration(queryRewriting: QueryRewriting(reformulations: 3)))
        _ = try await extractive.ingest(data: Data(Self.leave.utf8), fileName: "leave.txt")
        #expect(try await extractive.ask(Self.question).searchQueries == [Self.question])
    }

    @Test(arguments: RetrievalOptions.Mode.allCases)
    func reformulationsFindTheDocumentTheQuestionsWordsMiss(mode: RetrievalOptions.Mode) async throws {
        let llm = MockLLMClient(replies: [.text(Self.reformulations), "Twenty days [1]."])
        let engine = try await Self.engine(
            llm, rewriting: QueryRewriting(reformulations: 2), retrieval: RetrievalOptions(mode: mode))
        let answer = try await engine.ask(Self.question)
        #expect(answer.citations.first?.fileName == "leave.txt")
        #expect(answer.searchQuery == Self.question)
        #expect(answer.searchQueries == [Self.question, "paid annual leave days per year", "annual leave entitlement for employees"])
        #expect(llm.requests.count == 2)
        let rewrite = try #require(llm.requests.first)
        #expect(rewrite.temperature == 0)
        #expect(rewrite.maxTokens == 2 * QueryRewriting.tokensPerReformulation)
        #expect(rewrite.messages.first?.content == QueryRewriting(reformulations: 2).instruction)
        #expect(rewrite.messages.last?.content == "Question: \(Self.question)")
        #expect(llm.requests.last?.question == Self.question)

        // The hit's score is the question's own (its cosine similarity, or in lexical mode its BM25 score, 0 when
        // the question's words did not find it), whatever found it.
        let own = try await engine.search(Self.question, k: 2, retrieval: RetrievalOptions(mode: mode))
        let expected = own.first { $0.chunk.fileName == "leave.txt" }?.score ?? 0
        #expect(answer.citations.first?.score == expected)
    }

    @Test func aHypotheticalPassageIsSearchedToo() async throws {
        // One rewrite weighs as much as the question: the passage's ranking (leave, lunch, party) outweighs the
        // question's (party, leave, lunch) only because the question ranks leave.txt second.
        let passage = "You get twenty days of paid annual leave per calendar year, and lunch in the cafeteria is free."
        let llm = MockLLMClient(replies: [.text(passage), "Twenty days [1]."])
        let engine = try await Self.engine(llm, rewriting: QueryRewriting(hypotheticalAnswer: true), retrieval: RetrievalOptions(mode: .vector))
        _ = try await engine.ingest(data: Data("Lunch in the cafeteria is free.".utf8), fileName: "lunch.txt")
        let own = try await engine.search(Self.question, k: 3, retrieval: RetrievalOptions(mode: .vector))
        #expect(own.map(\.chunk.fileName) == ["party.txt", "leave.txt", "lunch.txt"])
        let answer = try await engine.ask(Self.question)
        #expect(answer.citations.first?.fileName == "leave.txt")
        #expect(answer.searchQueries == [Self.question, passage])
        #expect(llm.requests.first?.maxTokens == QueryRewriting.passageTokens)

        // Both at once: reformulations, then the marker line and the passage, in one call.
        let both = MockLLMClient(replies: [.text("leave entitlement\nPASSAGE: \(passage)\nMore of it."), "Twenty days [1]."])
        let engineBoth = try await Self.engine(both, rewriting: QueryRewriting(reformulations: 1, hypotheticalAnswer: true))
        let answerBoth = try await engineBoth.ask(Self.question)
        #expect(answerBoth.searchQueries == [Self.question, "leave entitlement", "\(passage)\nMore of it."])
        #expect(answerBoth.citations.first?.fileName == "leave.txt")
        #expect(both.requests.count == 2)
    }

    /// A hypothetical passage is similar to whatever it copies: the relevance threshold judges the question alone,
    /// so rewriting never turns a refusal into an answer (and a refused question costs no rewriting call).
    @Test func theRelevanceThresholdJudgesTheQuestionAlone() async throws {
        let offTopic = "Off topic: what is the warranty period of the blender?"
        let llm = MockLLMClient(replies: [.text("leave entitlement\nPASSAGE: \(Self.leave)"), "Twenty days [1]."])
        let threshold = RetrievalOptions(minimumScore: .value(0.9))
        let engine = try await Self.engine(llm, rewriting: QueryRewriting(reformulations: 2, hypotheticalAnswer: true), retrieval: threshold)
        let refused = try await engine.ask(offTopic)
        #expect(!refused.isAnswered)
        #expect(refused.citations.isEmpty)
        #expect(llm.requests.isEmpty)

        // Answered: the scores stay the question's cosine similarities, below what the passage (a copy of the
        // document) would give.
        let low = try await Self.engine(
            llm, rewriting: QueryRewriting(reformulations: 2, hypotheticalAnswer: true), retrieval: RetrievalOptions(mode: .vector, minimumScore: .value(-1)))
        let answer = try await low.ask(offTopic)
        #expect(answer.isAnswered)
        #expect(answer.citations.first?.fileName == "leave.txt")
        let own = try await low.search(offTopic, k: 2, retrieval: RetrievalOptions(mode: .vector))
        #expect(answer.citations.first?.score == own.first { $0.chunk.fileName == "leave.txt" }?.score)
        #expect(try #require(answer.citations.first?.score) < 0.5)
    }

    /// The rewriting call's prompt, for each shape of request (golden text).
    @Test func rewritePromptMatchesGolden() throws {
        let shapes = [
            QueryRewriting(reformulations: 3), QueryRewriting(hypotheticalAnswer: true),
            QueryRewriting(reformulations: 1, hypotheticalAnswer: true),
        ]
        let rendered = shapes.map { rewriting in
            "## reformulations \(rewriting.reformulations), hypothetical answer \(rewriting.hypotheticalAnswer), max tokens \(rewriting.maxTokens)\n"
                + rewriting.messages(for: Self.question).map { "[\($0.role.rawValue)]\n\($0.content)\n" }.joined()
        }.joined(separator: "\n")
        try expectGolden(rendered, "rewrite-prompt.txt")
    }

    @Test func repliesAreReadDefensively() {
        let rewriting = QueryRewriting(reformulations: 3)
        let reply = """
            Here are the queries:

            1. paid leave
            - "Paid Leave"
            2) • `annual leave`
            (3) Query: holiday entitlement
            How much holiday time do I get?
            4. one too many
            """
        let parsed = rewriting.parse(reply, query: "How much holiday time do I get?", maxBytes: 8192)
        #expect(parsed.queries == ["paid leave", "annual leave", "holiday entitlement"])
        #expect(parsed.passage == nil)

        // At most `maxReformulations`, each cut to `maxBytes` on a character boundary.
        let many = (1...30).map { "query \($0) " + String(repeating: "é", count: 100) }.joined(separator: "\n")
        let bounded = QueryRewriting(reformulations: 50).parse(many, query: "q", maxBytes: 21)
        #expect(bounded.queries.count == QueryRewriting.maxReformulations)
        #expect(bounded.queries.allSatisfy { $0.utf8.count <= 21 })
        #expect(bounded.queries.first == "query 1 éééééé")  // 8 + 12 bytes: a 7th é would make 22
        #expect(QueryRewriting(reformulations: 50).maxTokens == QueryRewriting.maxReformulations * QueryRewriting.tokensPerReformulation)
        #expect(QueryRewriting(reformulations: -3, hypotheticalAnswer: true).maxTokens == QueryRewriting.passageTokens)
        #expect(!QueryRewriting(reformulations: -3).isEnabled)

        // The passage alone, cut as well; nothing usable is empty.
        let passage = QueryRewriting(hypotheticalAnswer: true).parse(String(repeating: "word ", count: 10_000), query: "q", maxBytes: 100)
        #expect(passage.queries.isEmpty && (passage.passage?.utf8.count ?? 0) <= 100 && passage.passage?.hasPrefix("word word") == true)
        #expect(QueryRewriting(reformulations: 2, hypotheticalAnswer: true).parse(" \n\n  PASSAGE:  \n", query: "q", maxBytes: 100).isEmpty)
    }

    @Test func aFailingOrEmptyRewriteFallsBackToTheQuestion() async throws {
        let metrics = RAGMetrics()
        let logs = CollectingLogHandler()
        let llm = MockLLMClient(replies: [
            .failure(LLMError(.timeout, "the model took too long")), "It depends [1].",
            "\n  \n1.\n", "It depends [1].",
        ])
        let engine = try await Self.engine(llm, rewriting: QueryRewriting(reformulations: 2), metrics: metrics, logger: Logger(label: "test") { _ in logs })
        let failed = try await engine.ask(Self.question)
        #expect(failed.text == "It depends [1].")
        #expect(failed.searchQueries == [Self.question])
        #expect(failed.citations.first?.fileName == "party.txt")
        let empty = try await engine.ask(Self.question)
        #expect(empty.searchQueries == [Self.question])
        #expect(llm.requests.count == 4)
        let text = metrics.render()
        #expect(text.contains(#"rag_query_rewrites_total{outcome="error"} 1"#))
        #expect(text.contains(#"rag_query_rewrites_total{outcome="empty"} 1"#))
        #expect(text.contains(#"rag_query_rewrites_total{outcome="success"} 0"#))
        #expect(text.contains(#"rag_llm_errors_total{type="timeout",model="mock"} 1"#))
        #expect(text.contains(#"rag_requests_total{operation="ask",outcome="success"} 2"#))
        #expect(logs.messages.withLock { $0 }.contains { $0.0 == .warning && $0.1.contains("query rewriting failed") })
    }

    @Test func cancellationIsNotSwallowed() async throws {
        let llm = MockLLMClient(replies: [.failure(CancellationError()), "never"])
        let engine = try await Self.engine(llm, rewriting: QueryRewriting(reformulations: 2))
        await #expect(throws: CancellationError.self) { try await engine.ask(Self.question) }
        #expect(llm.requests.count == 1)
    }

    @Test func metricsCountTheRewritesTokensAndLatency() async throws {
        let metrics = RAGMetrics()
        let llm = MockLLMClient(replies: [.text(Self.reformulations), "Twenty days [1]."])
        let engine = try await Self.engine(llm, rewriting: QueryRewriting(reformulations: 2), metrics: metrics)
        let fresh = metrics.render()
        #expect(fresh.contains(#"rag_query_rewrites_total{outcome="success"} 0"#))
        #expect(fresh.contains(#"rag_query_rewrite_tokens_total{kind="prompt",model="mock"} 0"#))
        _ = try await engine.ask(Self.question)
        let text = metrics.render()
        #expect(text.contains("# TYPE rag_query_rewrites_total counter"))
        #expect(text.contains(#"rag_query_rewrites_total{outcome="success"} 1"#))
        #expect(text.contains(#"rag_query_rewrite_tokens_total{kind="prompt",model="mock"} 100"#))
        #expect(text.contains(#"rag_query_rewrite_tokens_total{kind="completion",model="mock"} 10"#))
        #expect(text.contains("rag_query_rewrite_duration_seconds_count 1"))
        // The rewrite's tokens are billed: they count in the totals too (rewrite plus answer).
        #expect(text.contains(#"rag_llm_tokens_total{kind="prompt",model="mock"} 200"#))
        #expect(text.contains(#"rag_llm_tokens_total{kind="completion",model="mock"} 20"#))
    }

    @Test func settingsParseAndRefuseOutOfRange() throws {
        #expect(try EngineSettings.queryRewriting(flags: [:], environment: [:]) == QueryRewriting())
        let environment = ["RAG_QUERY_REWRITES": "3", "RAG_HYPOTHETICAL_ANSWER": "yes"]
        #expect(try EngineSettings.queryRewriting(flags: [:], environment: environment) == QueryRewriting(reformulations: 3, hypotheticalAnswer: true))
        #expect(try EngineSettings.queryRewriting(flags: ["--query-rewrites": "8"], environment: environment).reformulations == 8)
        // `rag` reads its flags only.
        #expect(try EngineSettings.queryRewriting(flags: ["--hypothetical-answer": "true"], environment: nil) == QueryRewriting(hypotheticalAnswer: true))
        #expect(try EngineSettings.queryRewriting(flags: [:], environment: nil) == QueryRewriting())
        for (flag, value) in [("--query-rewrites", "9"), ("--query-rewrites", "-1"), ("--query-rewrites", "two")] {
            let error = #expect(throws: SettingError.self) { try EngineSettings.queryRewriting(flags: [flag: value], environment: nil) }
            #expect(error?.message.contains("--query-rewrites must be an integer from 0 to 8") == true)
        }
        let error = #expect(throws: SettingError.self) {
            try EngineSettings.queryRewriting(flags: [:], environment: ["RAG_HYPOTHETICAL_ANSWER": "maybe"])
        }
        #expect(error?.message.contains("RAG_HYPOTHETICAL_ANSWER") == true)
    }
}
