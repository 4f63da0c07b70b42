import Foundation
import Logging
import Prometheus

/// Query rewriting for an answer's retrieval (``QueryRewriting``): the model call, its fallback and metrics, and the
/// fused search of the question and its rewrites.
extension Engine {
    /// With ``EngineConfiguration/queryRewriting`` on and a language model, one call (temperature 0, at most
    /// ``QueryRewriting/maxTokens`` completion tokens) rewrites `query`; otherwise `nil`.
    ///
    /// A failed call (any error but cancellation) or a reply with nothing usable is not the answer's failure: it is
    /// logged (a warning for a failure), counted in `rag_query_rewrites_total`, and gives `nil`, so the question is
    /// searched alone. Cancellation is thrown.
    func rewrite(_ query: String) async throws -> QueryRewriting.Rewrite? {
        let settings = configuration.queryRewriting
        guard settings.isEnabled, llm.isGenerative else { return nil }
        let start = ContinuousClock.now
        let request = CompletionRequest(
            messages: settings.messages(for: query), question: query, maxTokens: settings.maxTokens, temperature: 0)
        let completion: Completion
        do {
            completion = try await llm.complete(request)
        } catch {
            metrics.queryRewriteLatency.record(Engine.seconds(since: start))
            if error is CancellationError || Task.isCancelled { throw error }
            metrics.llmErrors(type: Engine.errorType(error), model: llm.model).increment()
            metrics.queryRewrites(outcome: "error").increment()
            logger.warning(
                "query rewriting failed; searching the question alone",
                metadata: ["llm.model": "\(llm.model)", "error": "\(error)"])
            return nil
        }
        metrics.queryRewriteLatency.record(Engine.seconds(since: start))
        record(completion.usage)
        metrics.queryRewriteTokens(kind: "prompt", model: llm.model).increment(by: Int64(completion.usage.promptTokens))
        metrics.queryRewriteTokens(kind: "completion", model: llm.model).increment(by: Int64(completion.usage.completionTokens))
        let rewrite = settings.parse(completion.text, query: query, maxBytes: configuration.maxQuestionBytes)
        guard !rewrite.isEmpty else {
            metrics.queryRewrites(outcome: "empty").increment()
            logger.info("query rewriting gave nothing usable; searching the question alone", metadata: ["llm.model": "\(llm.model)"])
            return nil
        }
        metrics.queryRewrites(outcome: "success").increment()
        return rewrite
    }

    /// The `k` best passages for `query` and its `rewrites`, fused (`DocumentCollection.search(queries:vectors:...)`):
    /// the rewrites are embedded in one batch; `vector` is the query's own embedding, already made. Scores are
    /// those of `query` alone.
    func retrieve(
        _ query: String, vector: [Float], rewrites: [String], k: Int, documents: Set<DocumentID>?, options: RetrievalOptions
    ) async throws -> [SearchHit] {
        let start = ContinuousClock.now
        let options = options.resolved(for: embedder.calibration)
        var vectors: [[Float]] = []
        if options.mode != .lexical {
            vectors = [vector] + (try await embedder.embed(rewrites))
            metrics.embeddingLatency.record(Engine.seconds(since: start))
        }
        let snapshot = collection
        let queries = [query] + rewrites
        let all = vectors
        let hits: [SearchHit]
        if snapshot.chunks.count < 20_000 {
            hits = snapshot.search(queries: queries, vectors: all, k: k, options: options, documentIDs: documents)
        } else {
            hits = await Engine.offload { snapshot.search(queries: queries, vectors: all, k: k, options: options, documentIDs: documents) }
        }
        metrics.retrievalLatency.record(Engine.seconds(since: start))
        return hits
    }
}
