import Foundation
import Logging
import Prometheus
import Synchronization

/// Search and answers: retrieval (vector, BM25, hybrid), the relevance threshold, follow-up rewriting, the prompt, the
/// language model call and the answer's metrics. Query rewriting (`Engine+Rewrite.swift`) applies to answers only:
/// ``search(_:k:documents:retrieval:)`` searches the query as given.
extension Engine {
    /// The `k` passages that best match `query`, best first, optionally only from some documents, found as
    /// `retrieval` says (by default `configuration.retrieval`). With a response cache, the query's embedding and the
    /// hits come from it when there (`cache: .bypass` neither reads nor writes it).
    public func search(
        _ query: String, k: Int? = nil, documents: Set<DocumentID>? = nil, retrieval: RetrievalOptions? = nil, cache: CacheUse = .use
    ) async throws -> [SearchHit] {
        let start = ContinuousClock.now
        do {
            try validate(query)
            let hits = try await retrieve(
                query, k: k ?? configuration.searchResults, documents: documents, options: retrieval ?? configuration.retrieval, cache: cache)
            finish(.search, outcome: "success", started: start)
            return hits
        } catch {
            finish(.search, outcome: "error", started: start)
            throw error
        }
    }

    /// Answers a question from the documents, with citations.
    ///
    /// With a response cache (``cache``), a question without history is answered from it when the same question was
    /// answered before on the same collection version and configuration (``Answer/isCached``), and a new answer is
    /// stored; `cache: .store` stores without looking up (the caller did, with ``cachedAnswer(_:history:)``), and
    /// `.bypass` leaves the cache alone.
    public func ask(_ question: String, history: [ChatMessage] = [], cache: CacheUse = .use) async throws -> Answer {
        try await answer(question, history: history, cache: cache) { _ in }
    }

    /// Answers a question, streaming the text as it is produced: `.passages`, then `.delta`s, then `.done`. An answer
    /// from the cache streams too: its passages, its whole text as one delta, then `.done`.
    public func askStreaming(
        _ question: String, history: [ChatMessage] = [], cache: CacheUse = .use
    ) -> AsyncThrowingStream<AnswerEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let answer = try await answer(question, history: history, cache: cache) { _ = continuation.yield($0) }
                    continuation.yield(.done(answer))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The answer pipeline, in the caller's task: `ask` runs it directly (no task or stream in between),
    /// `askStreaming` in a task that forwards `emit`'s events. `emit` gets `.passages` and the `.delta`s.
    func answer(_ question: String, history: [ChatMessage], cache use: CacheUse = .use, emit: (AnswerEvent) -> Void) async throws -> Answer {
        let start = ContinuousClock.now
        do {
            try validate(question)
            let snapshot = collection
            guard !snapshot.chunks.isEmpty else {
                throw EngineError(.emptyCollection, "the collection is empty: ingest documents first")
            }
            // Whole answers are cached for questions without history only; the key is taken from this snapshot, so
            // an answer is never older than the collection version its key names.
            var answerCache: (cache: any ResponseCache, key: String)? = nil
            if !history.isEmpty {
                countSkippedLookup(.answer)  // never cached whole
            } else if let cache = caching(use, layer: .answer) {
                answerCache = (cache, answerKey(question, snapshot: snapshot))
                if use == .use, let cached = await cachedAnswer(question) {
                    emit(.passages(cached.passages))
                    emit(.delta(cached.text))
                    return cached
                }
            }
            let searchQuery = try await standaloneQuery(question, history: history)
            let options = configuration.retrieval
            let found = try await retrieveWithVector(searchQuery, k: configuration.searchResults, documents: nil, options: options, cache: use)
            var hits = found.hits
            // The relevance threshold judges the question's own hits, before any rewriting: a refusal costs no
            // rewriting call, and rewrites (a hypothetical passage is similar to everything) never decide it.
            if let refusal = refusal(question: question, searchQuery: searchQuery, hits: hits, options: options, started: start) {
                metrics.questionsUnanswered.increment()
                emit(.passages([]))
                emit(.delta(refusal.text))
                if let answerCache { await storeAnswer(refusal, key: answerCache.key, in: answerCache.cache) }
                finish(.ask, outcome: "success", started: start)
                return refusal
            }
            var searchQueries = [searchQuery]
            if let rewrite = try await rewrite(searchQuery) {
                // Hits from the retrieval cache come without the query's embedding, which the fused search needs.
                var vector = found.vector
                if vector.isEmpty, options.mode != .lexical { vector = try await embedQuery(searchQuery, cache: use) }
                hits = try await retrieve(
                    searchQuery, vector: vector, rewrites: rewrite.searches, k: configuration.searchResults, documents: nil,
                    options: options)
                searchQueries += rewrite.searches
            }
            let retrieval = Engine.seconds(since: start)
            let context = snapshot.passages(for: hits, neighbours: options.neighbourChunks)
            let prompt = try PromptBuilder(options: configuration.prompt).build(question: question, hits: context, history: history)
            let passages = prompt.passages.map(Citation.init(passage:))
            emit(.passages(passages))
            metrics.sourcesMatched.record(Double(prompt.passages.count))
            metrics.promptLength.record(Double(prompt.estimatedTokens))

            let request = CompletionRequest(messages: prompt.messages, question: question, passages: prompt.passages)
            let generationStart = ContinuousClock.now
            var text = ""
            var usage: TokenUsage? = nil
            var firstToken: Double? = nil
            do {
                for try await event in llm.stream(request) {
                    switch event {
                    case .delta(let delta):
                        if firstToken == nil {
                            firstToken = Engine.seconds(since: generationStart)
                            metrics.timeToFirstToken(model: llm.model).record(firstToken!)
                        }
                        text += delta
                        emit(.delta(delta))
                    case .usage(let reported):
                        usage = reported
                    }
                }
                // A stream read by a cancelled task ends early, as if complete: that is no answer.
                try Task.checkCancellation()
            } catch {
                metrics.llmErrors(type: Engine.errorType(error), model: llm.model).increment()
                throw error
            }
            let generation = Engine.seconds(since: generationStart)
            let finalUsage = usage ?? TokenUsage(
                promptTokens: prompt.estimatedTokens, completionTokens: TokenEstimator.estimate(text), isEstimated: true)
            metrics.llmLatency(model: llm.model).record(generation)
            record(finalUsage)
            metrics.responseLength.record(Double(finalUsage.completionTokens))

            let cited = passages.filter { text.contains("[\($0.number)]") }
            let answer = Answer(
                question: question, searchQuery: searchQuery, searchQueries: searchQueries, text: text,
                citations: cited.isEmpty ? passages : cited, passages: passages,
                usage: finalUsage, model: llm.model, isGenerated: llm.isGenerative,
                timings: Timings(retrieval: retrieval, generation: generation, total: Engine.seconds(since: start), firstToken: firstToken))
            if let answerCache { await storeAnswer(answer, key: answerCache.key, in: answerCache.cache) }
            finish(.ask, outcome: "success", started: start)
            return answer
        } catch {
            finish(.ask, outcome: "error", started: start)
            throw error
        }
    }

    /// The instruction for rewriting a follow-up question.
    public static let condensePrompt = """
        Rewrite the user's last question as one standalone search query that can be understood without the \
        conversation: resolve pronouns and references using the conversation. Answer with the query only.
        """

    /// With history and a language model, one extra call rewrites a follow-up ("and how much does it cost?")
    /// into a standalone query for retrieval; otherwise the question itself.
    ///
    /// The call receives the history as the answer prompt does (`PromptBuilder.recentHistory`: at most
    /// `maxHistoryMessages` messages and `maxHistoryTokens` estimated tokens), and never more than
    /// `maxPromptTokens` in all; when the question leaves no room for any history, there is no rewrite.
    func standaloneQuery(_ question: String, history: [ChatMessage]) async throws -> String {
        guard configuration.condenseFollowUps, llm.isGenerative, !history.isEmpty else { return question }
        func messages(_ conversation: [ChatMessage]) -> [ChatMessage] {
            // Each history message becomes one line, `role: content`: about the same estimate as a message of its own.
            let lines = conversation.map { "\($0.role.rawValue): \($0.content)" }.joined(separator: "\n")
            return [.system(Engine.condensePrompt), .user("Conversation:\n\(lines)\n\nLast question: \(question)")]
        }
        let options = configuration.prompt
        let room = options.maxPromptTokens - TokenEstimator.estimate(messages([]))
        let conversation = PromptBuilder(options: options).recentHistory(history, budget: room)
        guard !conversation.isEmpty else { return question }
        let request = CompletionRequest(
            messages: messages(conversation), question: question, maxTokens: 100, temperature: 0)
        do {
            let completion = try await llm.complete(request)
            record(completion.usage)
            let query = completion.text.trimmingWhitespace()
            return query.isEmpty ? question : String(query.prefix(configuration.maxQuestionBytes))
        } catch {
            metrics.llmErrors(type: Engine.errorType(error), model: llm.model).increment()
            throw error
        }
    }

    func record(_ usage: TokenUsage) {
        metrics.tokens(kind: "prompt", model: llm.model).increment(by: Int64(usage.promptTokens))
        metrics.tokens(kind: "completion", model: llm.model).increment(by: Int64(usage.completionTokens))
        if usage.isEstimated { metrics.estimatedUsage(model: llm.model).increment() }
    }

    /// A metric label for a failed model call: the `LLMError` code, `cancelled`, or the error's type.
    static func errorType(_ error: any Error) -> String {
        if let error = error as? LLMError { return error.code.description }
        if error is CancellationError { return "cancelled" }
        return "other"
    }

    /// Throws what `ask` would throw before any work: an empty or oversized question (`invalidQuestion`), or an
    /// empty collection (`emptyCollection`). A server calls it before it starts streaming an answer, while it can
    /// still answer with a status.
    public func checkAnswerable(_ question: String) throws(EngineError) {
        try validate(question)
        guard !collection.chunks.isEmpty else {
            throw EngineError(.emptyCollection, "the collection is empty: ingest documents first")
        }
    }

    func validate(_ question: String) throws(EngineError) {
        guard !question.trimmingWhitespace().isEmpty else {
            throw EngineError(.invalidQuestion, "the question is empty")
        }
        guard question.utf8.count <= configuration.maxQuestionBytes else {
            throw EngineError(
                .invalidQuestion,
                "the question is \(question.utf8.count) bytes, over the limit of \(configuration.maxQuestionBytes) (maxQuestionBytes)")
        }
    }

    /// The cosine similarity that retrieved passages must reach for an answer, or `nil` for none.
    public func minimumScore(for options: RetrievalOptions) -> Float? {
        guard options.mode != .lexical else { return nil }  // BM25 scores are not similarities
        switch options.resolved(for: embedder.calibration).minimumScore {
        case .automatic, .disabled: return nil
        case .value(let value): return value
        }
    }

    /// The answer that says the documents do not answer, when no hit reaches the relevance threshold.
    func refusal(
        question: String, searchQuery: String, hits: [SearchHit], options: RetrievalOptions, started: ContinuousClock.Instant
    ) -> Answer? {
        guard let threshold = minimumScore(for: options) else { return nil }
        let best = hits.max { $0.score < $1.score }
        guard (best?.score ?? -1) < threshold else { return nil }
        var text = "The documents do not seem to answer this question."
        if let best {
            text += String(
                format: " The closest passage (%@ %@) has a similarity of %.2f, below the relevance threshold of %.2f.",
                best.chunk.fileName, best.chunk.pageLabel, best.score, threshold)
        }
        var answer = Answer(
            question: question, searchQuery: searchQuery, searchQueries: [searchQuery], text: text, citations: [], passages: [],
            usage: TokenUsage(promptTokens: 0, completionTokens: 0, isEstimated: false), model: llm.model, isGenerated: false,
            timings: Timings(retrieval: Engine.seconds(since: started), total: Engine.seconds(since: started)))
        answer.isAnswered = false
        return answer
    }

    func retrieve(
        _ query: String, k: Int, documents: Set<DocumentID>?, options: RetrievalOptions, cache: CacheUse = .use
    ) async throws -> [SearchHit] {
        try await retrieveWithVector(query, k: k, documents: documents, options: options, cache: cache).hits
    }

    /// `retrieve`, and the query's embedding (empty in lexical mode, and for hits from the retrieval cache), for a
    /// fused search with its rewrites.
    func retrieveWithVector(
        _ query: String, k: Int, documents: Set<DocumentID>?, options: RetrievalOptions, cache use: CacheUse = .use
    ) async throws -> (hits: [SearchHit], vector: [Float]) {
        let start = ContinuousClock.now
        let options = options.resolved(for: embedder.calibration)
        let snapshot = collection
        let cache = caching(use, layer: .retrieval)
        let key = cache.map { _ in retrievalKey(query, k: k, documents: documents, options: options, snapshot: snapshot) }
        if let cache, let key, let hits = await cachedHits(key: key, snapshot: snapshot, in: cache) {
            metrics.retrievalLatency.record(Engine.seconds(since: start))
            return (hits, [])
        }
        var embedding: [Float] = []
        if options.mode != .lexical {
            embedding = try await embedQuery(query, cache: use)
        }
        let hits: [SearchHit]
        let vector = embedding
        if snapshot.chunks.count < 20_000 {
            hits = snapshot.search(query: query, vector: vector, k: k, options: options, documentIDs: documents)
        } else {
            hits = await Engine.offload { snapshot.search(query: query, vector: vector, k: k, options: options, documentIDs: documents) }
        }
        if let cache, let key { await storeHits(hits, key: key, in: cache) }
        metrics.retrievalLatency.record(Engine.seconds(since: start))
        return (hits, vector)
    }

    /// The query's embedding, from the response cache when there, else from the embedder (and then stored).
    func embedQuery(_ query: String, cache use: CacheUse) async throws -> [Float] {
        let start = ContinuousClock.now
        let cache = caching(use, layer: .embedding)
        if let cache, let vector = await cachedEmbedding(query, in: cache) { return vector }
        let vector = try await embedder.embed([query])[0]
        metrics.embeddingLatency.record(Engine.seconds(since: start))
        if let cache { await storeEmbedding(vector, query: query, in: cache) }
        return vector
    }
}
