import ArgumentParser
import RAGCore

/// How `ask`, `chat` and `search` find passages. The values are parsed by `EngineSettings`, as `rag-server` parses
/// its own (which also reads them from RAG_RETRIEVAL, RAG_FUSION, RAG_PAGE_FUSION, RAG_NEIGHBOURS and RAG_MIN_SCORE); `rag` reads only
/// these flags.
struct RetrievalFlags: ParsableArguments {
    @Option(help: ArgumentHelp(
        "How passages are found: hybrid (embeddings and BM25 word matching, fused; the default), vector (embeddings only) or lexical (BM25 only).",
        valueName: "mode"))
    var retrieval: String?

    @Option(help: ArgumentHelp(
        "How hybrid retrieval fuses its two rankings: auto (the default: weighted, with the weight measured for the embedder, 0.7 for minilm and 0.3 for hashing), weighted[:W] (min-max normalised scores, W the weight of the embeddings, 0–1) or rrf[:K] (reciprocal rank fusion, K 60 by default).",
        valueName: "fusion"))
    var fusion: String?

    @Option(help: ArgumentHelp(
        "Rank pages, not chunks: each page appears once, as its best chunk, ranked by that chunk's score plus this weight (0–1) times its other chunks' scores; off ranks chunks one by one (default \(EngineSettings.pageFusion.defaultText)).",
        valueName: "weight"))
    var pageFusion: String?

    @Option(help: ArgumentHelp(
        "Give the answerer up to n chunks before and after each passage when they are on the same pages, merged into one passage: \(EngineSettings.neighbours.requirement) (default \(EngineSettings.neighbours.defaultText)).",
        valueName: "n"))
    var neighbours: String?

    @Option(help: ArgumentHelp(
        "Say that the documents do not answer when no passage reaches this cosine similarity: a number, auto (the default: the threshold measured for the embedder, 0.40 for minilm, none for hashing) or off.",
        valueName: "score"))
    var minScore: String?

    @Option(help: ArgumentHelp(
        "The format vector search scans, beside the exact vectors its results are rescored from (the same results, faster over large collections): \(EngineSettings.vectorFormat.requirement) (default f32 for ask and search, which search once; auto for chat: i8 from \(VectorFormatChoice.autoThreshold) chunks).",
        valueName: "format"))
    var vectorFormat: String?

    /// The `--vector-format` value, or `defaultChoice` without one.
    ///
    /// - Throws: `CLIError` (exit code 64) when the value is not accepted.
    func vectorFormat(default defaultChoice: VectorFormatChoice) throws -> VectorFormatChoice {
        guard let vectorFormat else { return defaultChoice }
        do {
            return try EngineSettings.vectorFormat.flagOnly.parse(vectorFormat, from: .flag)
        } catch {
            throw CLIError(error.message, exitCode: 64)
        }
    }

    /// The retrieval options the flags give, over the defaults.
    ///
    /// - Throws: `CLIError` (exit code 64) naming the flag whose value is not accepted.
    func options() throws -> RetrievalOptions {
        var flags: [String: String] = [:]
        for (setting, value) in [
            (EngineSettings.retrieval.flag, retrieval), (EngineSettings.fusion.flag, fusion),
            (EngineSettings.pageFusion.flag, pageFusion), (EngineSettings.neighbours.flag, neighbours),
            (EngineSettings.minScore.flag, minScore),
        ] {
            if let setting, let value { flags[setting] = value }
        }
        do {
            return try EngineSettings.retrievalOptions(flags: flags, environment: nil)
        } catch {
            throw CLIError(error.message, exitCode: 64)
        }
    }

    /// One `--fusion` value (`rag eval` takes several).
    static func fusion(_ text: String) throws -> RetrievalOptions.Fusion {
        do {
            return try EngineSettings.fusion.flagOnly.parse(text, from: .flag)
        } catch {
            throw CLIError(error.message, exitCode: 64)
        }
    }
}

/// Query rewriting for `ask` and `chat`, with a language model. Parsed by `EngineSettings`, as `rag-server` parses its
/// own (which also reads RAG_QUERY_REWRITES and RAG_HYPOTHETICAL_ANSWER); `rag` reads only these flags.
struct QueryRewritingFlags: ParsableArguments {
    @Option(help: ArgumentHelp(
        "With a language model, have it write n reformulations of each question, searched too and fused with the question's own results (one extra model call per question; scores and the relevance threshold stay the question's own): \(EngineSettings.queryRewrites.requirement) (default \(EngineSettings.queryRewrites.defaultText)).",
        valueName: "n"))
    var queryRewrites: String?

    @Flag(help: "With a language model, have it write a short passage that would answer each question (HyDE), searched too and fused (in the same extra call).")
    var hypotheticalAnswer = false

    /// The query rewriting the flags give, over the default (off).
    ///
    /// - Throws: `CLIError` (exit code 64) naming the flag whose value is not accepted.
    func rewriting() throws -> QueryRewriting {
        var flags: [String: String] = [:]
        if let flag = EngineSettings.queryRewrites.flag, let queryRewrites { flags[flag] = queryRewrites }
        if let flag = EngineSettings.hypotheticalAnswer.flag, hypotheticalAnswer { flags[flag] = "true" }
        do {
            return try EngineSettings.queryRewriting(flags: flags, environment: nil)
        } catch {
            throw CLIError(error.message, exitCode: 64)
        }
    }
}
