import ArgumentParser
import RAGCore

/// How `ask`, `chat` and `search` find passages.
struct RetrievalFlags: ParsableArguments {
    @Option(help: ArgumentHelp(
        "How passages are found: hybrid (embeddings and BM25 word matching, fused; the default), vector (embeddings only) or lexical (BM25 only).",
        valueName: "mode"))
    var retrieval: RetrievalOptions.Mode?

    @Option(help: ArgumentHelp(
        "How hybrid retrieval fuses its two rankings: auto (the default: weighted, with the weight measured for the embedder, 0.7 for minilm and 0.3 for hashing), weighted[:W] (min-max normalised scores, W the weight of the embeddings, 0–1) or rrf[:K] (reciprocal rank fusion, K 60 by default).",
        valueName: "fusion"))
    var fusion: String?

    @Option(help: ArgumentHelp(
        "Give the answerer up to n chunks before and after each passage when they are on the same pages, merged into one passage (default \(RetrievalOptions().neighbourChunks)).",
        valueName: "n"))
    var neighbours: Int?

    @Option(help: ArgumentHelp(
        "Say that the documents do not answer when no passage reaches this cosine similarity: a number, auto (the default: the threshold measured for the embedder, 0.30 for minilm, none for hashing) or off.",
        valueName: "score"))
    var minScore: String?

    /// `options` with the flags that were given applied.
    func applied(to options: RetrievalOptions) throws -> RetrievalOptions {
        var options = options
        if let retrieval { options.mode = retrieval }
        if let fusion { options.fusion = try RetrievalFlags.fusion(fusion) }
        if let neighbours {
            guard neighbours >= 0 else { throw CLIError("--neighbours must be 0 or more", exitCode: 64) }
            options.neighbourChunks = neighbours
        }
        if let minScore { options.minimumScore = try RetrievalFlags.threshold(minScore) }
        return options
    }

    static func fusion(_ text: String) throws -> RetrievalOptions.Fusion {
        guard let parsed = RetrievalOptions.Fusion(text) else {
            throw CLIError("--fusion must be auto, rrf, rrf:K, weighted or weighted:W with W between 0 and 1, not '\(text)'", exitCode: 64)
        }
        return parsed
    }

    static func threshold(_ text: String) throws -> RetrievalOptions.ScoreThreshold {
        guard let threshold = RetrievalOptions.ScoreThreshold(text) else {
            throw CLIError("--min-score must be a number, auto or off, not '\(text)'", exitCode: 64)
        }
        return threshold
    }
}

extension RetrievalOptions.Mode: ExpressibleByArgument {}
