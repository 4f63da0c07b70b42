import Foundation
import RAGCore
import RAGTesting
import Testing

/// The engine's response cache, with the in-memory cache standing in for Redis: what is cached, when an entry is
/// used, and that nothing stale or foreign is ever served.
@Suite struct ResponseCacheTests {
    static let facts = """
        The capital of France is Paris. Paris is known for the Eiffel Tower.

        Bananas are yellow fruits rich in potassium. Monkeys enjoy eating bananas.
        """

    static func engine(
        cache: MemoryResponseCache, llm: MockLLMClient = MockLLMClient(), metrics: RAGMetrics = RAGMetrics(),
        configuration: EngineConfiguration = EngineConfiguration()
    ) async throws -> Engine {
        let engine = try await Engine(configuration: configuration, llm: llm, metrics: metrics, cache: cache)
        _ = try await engine.ingest(data: Data(facts.utf8), fileName: "facts.txt")
        return engine
    }

    @Test func theSameQuestionAgainIsAnsweredFromTheCacheWithoutTheModel() async throws {
        let cache = MemoryResponseCache()
        let llm = MockLLMClient(replies: ["Paris [1]."])
        let metrics = RAGMetrics()
        let engine = try await Self.engine(cache: cache, llm: llm, metrics: metrics)
        let first = try await engine.ask("What is the capital of France?")
        let second = try await engine.ask("What is the capital of France?")
        #expect(llm.requests.count == 1, "the second answer must not call the model")
        #expect(!first.isCached && second.isCached)
        #expect(second.text == "Paris [1]." && second.citations == first.citations && second.passages == first.passages)
        #expect(second.usage.totalTokens == 0, "a cached answer used no tokens")
        let text = metrics.render()
        #expect(text.contains(#"rag_cache_requests_total{layer="answer",outcome="hit"} 1"#))
        #expect(text.contains(#"rag_cache_requests_total{layer="answer",outcome="miss"} 1"#))
        #expect(text.contains(#"rag_requests_total{operation="ask",outcome="success"} 2"#))
    }

    @Test func aCachedAnswerStillStreamsItsPassagesTextAndCitations() async throws {
        let cache = MemoryResponseCache()
        let llm = MockLLMClient(replies: ["Paris [1]."])
        let engine = try await Self.engine(cache: cache, llm: llm)
        _ = try await engine.ask("What is the capital of France?")
        var events: [AnswerEvent] = []
        for try await event in engine.askStreaming("What is the capital of France?") { events.append(event) }
        #expect(llm.requests.count == 1)
        guard events.count == 3, case .passages(let passages) = events[0], case .delta(let text) = events[1], case .done(let answer) = events[2]
        else {
            Issue.record("expected passages, one delta and done, got \(events)")
            return
        }
        #expect(!passages.isEmpty && text == "Paris [1]." && answer.isCached && answer.citations.first?.fileName == "facts.txt")
    }

    @Test func aChangedCollectionIsAnsweredAfresh() async throws {
        let cache = MemoryResponseCache()
        let llm = MockLLMClient(replies: ["Paris [1].", "Paris, still [1]."])
        let engine = try await Self.engine(cache: cache, llm: llm)
        _ = try await engine.ask("What is the capital of France?")
        _ = try await engine.ingest(data: Data("Lyon is the third largest city in France.".utf8), fileName: "lyon.txt")
        let after = try await engine.ask("What is the capital of France?")
        #expect(llm.requests.count == 2, "a new collection version must not serve the old answer")
        #expect(!after.isCached && after.text == "Paris, still [1].")
        _ = try await engine.remove(engine.collection.documents.first { $0.fileName == "lyon.txt" }!.id.rawValue)
        _ = try await engine.ask("What is the capital of France?")
        #expect(llm.requests.count == 3, "a removal is a new version too")
    }

    @Test func anotherCollectionAtTheSameVersionDoesNotShareEntries() async throws {
        // Two engines with collections of their own (one replica's directory each) on one cache, both at version 1.
        let cache = MemoryResponseCache()
        let llmA = MockLLMClient(replies: ["A [1]."])
        let llmB = MockLLMClient(replies: ["B [1]."])
        let a = try await Self.engine(cache: cache, llm: llmA)
        let b = try await Engine(llm: llmB, cache: cache)
        _ = try await b.ingest(data: Data("The capital of France is Paris, said another file.".utf8), fileName: "other.txt")
        #expect(a.collection.generation == b.collection.generation)
        _ = try await a.ask("What is the capital of France?")
        let fromB = try await b.ask("What is the capital of France?")
        #expect(!fromB.isCached && fromB.text == "B [1]." && llmB.requests.count == 1)
    }

    @Test func anotherModelOrPromptSettingDoesNotShareAnswers() async throws {
        let cache = MemoryResponseCache()
        _ = try await Self.engine(cache: cache, llm: MockLLMClient(replies: ["mock [1]."])).ask("Are bananas yellow?")
        let other = MockLLMClient(replies: ["other [1]."], model: "other")
        #expect(try await Self.engine(cache: cache, llm: other).ask("Are bananas yellow?").text == "other [1].")
        var configuration = EngineConfiguration()
        configuration.searchResults = 2
        let fewer = MockLLMClient(replies: ["two passages [1]."])
        #expect(try await Self.engine(cache: cache, llm: fewer, configuration: configuration).ask("Are bananas yellow?").text == "two passages [1].")
    }

    @Test func questionsWithHistoryAreNotCachedWholeButShareEmbeddingsAndRetrieval() async throws {
        let cache = MemoryResponseCache()
        let llm = MockLLMClient(replies: ["one [1].", "two [1]."])
        let metrics = RAGMetrics()
        var configuration = EngineConfiguration()
        configuration.condenseFollowUps = false
        let engine = try await Self.engine(cache: cache, llm: llm, metrics: metrics, configuration: configuration)
        let history: [ChatMessage] = [.user("Tell me about fruit."), .assistant("Bananas are fruit [1].")]
        _ = try await engine.ask("Are bananas yellow?", history: history)
        let again = try await engine.ask("Are bananas yellow?", history: history)
        #expect(llm.requests.count == 2 && !again.isCached)
        #expect(!cache.keys.contains { $0.hasPrefix("a:") }, "no whole answer is stored for a question with history")
        let text = metrics.render()
        #expect(text.contains(#"rag_cache_requests_total{layer="retrieval",outcome="hit"} 1"#))
    }

    @Test func bypassNeitherReadsNorWrites() async throws {
        let cache = MemoryResponseCache()
        let llm = MockLLMClient(replies: ["one [1].", "two [1]."])
        let engine = try await Self.engine(cache: cache, llm: llm)
        let before = cache.calls
        _ = try await engine.ask("Are bananas yellow?", cache: .bypass)
        #expect(cache.calls == before, "bypass must not touch the cache")
        _ = try await engine.ask("Are bananas yellow?")
        #expect(llm.requests.count == 2)
        var off = EngineConfiguration()
        off.cache.isEnabled = false
        let disabled = try await Self.engine(cache: cache, llm: MockLLMClient(), configuration: off)
        let calls = cache.calls
        _ = try await disabled.ask("Are bananas yellow?")
        _ = try await disabled.search("bananas")
        #expect(cache.calls == calls, "a cache turned off is never asked")
    }

    @Test func aFailingCacheCostsNothingButItsMetrics() async throws {
        let cache = MemoryResponseCache()
        cache.failing = true
        let llm = MockLLMClient(replies: ["one [1].", "two [1]."])
        let metrics = RAGMetrics()
        let engine = try await Self.engine(cache: cache, llm: llm, metrics: metrics)
        #expect(try await engine.ask("Are bananas yellow?").text == "one [1].")
        #expect(try await engine.ask("Are bananas yellow?").text == "two [1].")
        let text = metrics.render()
        #expect(text.contains(#"rag_cache_requests_total{layer="answer",outcome="error"} 2"#))
        #expect(text.contains(#"rag_cache_requests_total{layer="embedding",outcome="error"} 2"#))
    }

    @Test func anEntryTheEngineCannotReadIsRecomputed() async throws {
        let cache = MemoryResponseCache()
        let llm = MockLLMClient(replies: ["one [1].", "two [1]."])
        let metrics = RAGMetrics()
        let engine = try await Self.engine(cache: cache, llm: llm, metrics: metrics)
        _ = try await engine.ask("Are bananas yellow?")
        for key in cache.keys { await cache.store(Array("not what was stored".utf8), for: key, ttl: .seconds(60)) }
        let again = try await engine.ask("Are bananas yellow?")
        #expect(!again.isCached && again.text == "two [1].")
        let text = metrics.render()
        for layer in ["answer", "retrieval", "embedding"] {
            #expect(text.contains(#"rag_cache_requests_total{layer="\#(layer)",outcome="error"} 1"#), "\(layer)")
        }
    }

    @Test func searchUsesTheRetrievalAndEmbeddingLayers() async throws {
        let cache = MemoryResponseCache()
        let metrics = RAGMetrics()
        let engine = try await Self.engine(cache: cache, metrics: metrics)
        let first = try await engine.search("yellow fruit", k: 2)
        let second = try await engine.search("yellow fruit", k: 2)
        #expect(first == second)
        _ = try await engine.search("yellow fruit", k: 1)  // another k: another retrieval, the same embedding
        let text = metrics.render()
        #expect(text.contains(#"rag_cache_requests_total{layer="retrieval",outcome="hit"} 1"#))
        #expect(text.contains(#"rag_cache_requests_total{layer="embedding",outcome="hit"} 1"#))
        #expect(text.contains(#"rag_cache_bytes_total{direction="written"}"#))
    }

    @Test func entriesOverTheSizeBoundAreNotStored() async throws {
        let cache = MemoryResponseCache()
        var configuration = EngineConfiguration()
        configuration.cache.maxEntryBytes = 64
        let llm = MockLLMClient(replies: ["one [1].", "two [1]."])
        let engine = try await Self.engine(cache: cache, llm: llm, configuration: configuration)
        _ = try await engine.ask("Are bananas yellow?")
        #expect(!cache.keys.contains { $0.hasPrefix("a:") || $0.hasPrefix("e:") }, "answers and embeddings are over 64 bytes")
        #expect(try await engine.ask("Are bananas yellow?").text == "two [1].")
    }
}

/// The cache's value encodings: what is written reads back the same, and bytes that are not a value (cut short,
/// another kind, counts past the end, trailing bytes) are an error, never a crash or a wrong value.
@Suite struct CacheCodecTests {
    static let answer: Answer = {
        let citation = { (number: Int) in
            Citation(passage: ContextPassage(
                number: number,
                hit: SearchHit(
                    chunk: Chunk(
                        id: ChunkID(rawValue: "c\(number)"), documentID: DocumentID(rawValue: "doc\(number)"), fileName: "hand book €.pdf",
                        pageStart: 2, pageEnd: 3, ordinal: number, text: "Snippet \(number): 25 days ✓"),
                    score: 0.5 + Float(number) / 10, rank: number)))
        }
        return Answer(
            question: "How many days?", searchQuery: "days", searchQueries: ["days", "vacation days"], text: "25 days [1].",
            citations: [citation(1)], passages: [citation(1), citation(2)],
            usage: TokenUsage(promptTokens: 120, completionTokens: 7, isEstimated: true), model: "gpt-x", isGenerated: true,
            timings: Timings(), isAnswered: false)
    }()

    @Test func anAnswerReadsBackWithZeroUsage() throws {
        let read = try CacheCodec.decodeAnswer(CacheCodec.encode(Self.answer))
        var expected = Self.answer
        expected.usage = TokenUsage(promptTokens: 0, completionTokens: 0, isEstimated: false)
        expected.isCached = true
        #expect(read == expected)
    }

    @Test func everyTruncationAndEveryFlippedByteIsAnErrorOrAValidAnswer() {
        let bytes = CacheCodec.encode(Self.answer)
        for length in 0..<bytes.count {
            #expect(throws: CacheCodec.Malformed.self) { _ = try CacheCodec.decodeAnswer(Array(bytes.prefix(length))) }
        }
        #expect(throws: CacheCodec.Malformed.self) { _ = try CacheCodec.decodeAnswer(bytes + [0]) }
        for index in bytes.indices {
            var damaged = bytes
            damaged[index] ^= 0xFF
            _ = try? CacheCodec.decodeAnswer(damaged)  // must not trap
        }
        // A count far past the end is refused before anything is allocated for it.
        #expect(throws: CacheCodec.Malformed.self) { _ = try CacheCodec.decodeAnswer([CacheCodec.answerTag, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F]) }
    }
}
