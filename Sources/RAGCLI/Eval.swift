import ArgumentParser
import Foundation
import Logging
import RAGCore

struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure retrieval quality: recall@1/5/10 and MRR@10 per retriever, from questions with known answer pages.",
        discussion: """
            Each line of a QUESTIONS file is {"question": …, "file": "manual.pdf", "pages": [12], \
            "paraphrased": true}; pages are 1-based. Lines without "file" or with empty "pages" are questions the \
            documents do not answer: they measure the relevance threshold (--min-score of `rag ask`).

            With --documents, the files are ingested once per embedder into collections under --work-dir (later \
            runs reuse them) and every retriever is compared: hashed, minilm (vector search with that embedder), \
            bm25 (words only) and hybrid (the default embedder and BM25, fused). Without --documents, the \
            collection (--collection) is evaluated with its own embedder.

            A passage is relevant when it comes from the question's file and covers one of its pages. Scores are \
            reported for all questions, by kind (paraphrased or in the page's own words) and by document.

            A question may carry "split": "tune" or "test"; --split evaluates one half. The set is split by \
            document: every question needs a split, and all the questions on one file must be in the same half.
            """
    )

    @Argument(help: ArgumentHelp("JSON Lines files of questions.", valueName: "questions.jsonl"))
    var questionFiles: [String]

    @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp(
        "PDFs or folders to evaluate on, ingested into per-embedder collections under --work-dir.", valueName: "path"))
    var documents: [String] = []

    @Option(help: ArgumentHelp(
        "Where the per-embedder collections for --documents live (default $XDG_CACHE_HOME/pdf-chatbot/eval).",
        valueName: "dir"))
    var workDir: String?

    @Option(help: ArgumentHelp(
        "Comma-separated retrievers: hashed, minilm, openai (vector search with that embedder), bm25, hybrid (the default embedder), hybrid-hashed, hybrid-minilm. Default: all that are available.",
        valueName: "list"))
    var retrievers: String?

    @Option(help: ArgumentHelp(
        "Fusion for the hybrid retrievers, repeatable to compare several: auto (the default: the weight measured for the embedder), weighted[:W] or rrf[:K].",
        valueName: "fusion"))
    var fusion: [String] = []

    @Option(help: ArgumentHelp("Hits taken from each retriever before hybrid fusion.", valueName: "n"))
    var candidates: Int = RetrievalOptions().candidates

    @Option(help: ArgumentHelp("Passages an answer would use: the relevance threshold looks at the best of these.", valueName: "n"))
    var passages: Int = EngineConfiguration().searchResults

    @Option(help: ArgumentHelp(
        "Evaluate only the questions of this half of the set: tune or test (their \"split\").", valueName: "half"))
    var split: String?

    @Flag(help: "Print the results as one JSON object.")
    var json = false

    /// How --documents are chunked; the collections under --work-dir are named after it.
    @OptionGroup(title: "Chunking of --documents (the collections under --work-dir are named after it)")
    var chunking: ChunkingFlags

    @OptionGroup var options: CollectionOptions

    func run() async throws {
        try await reportingErrors { try await execute() }
    }

    /// One retriever to evaluate: an embedder (none for BM25 alone) and a retrieval mode.
    struct Retriever {
        var name: String
        var embedder: EmbedderChoice?
        var options: RetrievalOptions
    }

    private func execute() async throws {
        var questions: [EvaluationQuestion] = []
        for file in questionFiles {
            do { questions += try EvaluationQuestion.load(contentsOf: URL(fileURLWithPath: file)) } catch { throw CLIError(error.description) }
        }
        let half = try split.map { name in
            guard let half = EvaluationSplit(rawValue: name) else { throw CLIError("--split is tune or test, not '\(name)'", exitCode: 64) }
            return half
        }
        if half != nil || questions.contains(where: { $0.split != nil }) {
            do { try EvaluationQuestion.checkSplit(questions) } catch { throw CLIError(error.description) }
        }
        if let half { questions = questions.filter { $0.split == half } }
        let answerable = questions.filter(\.isAnswerable)
        guard !answerable.isEmpty else {
            throw CLIError("the question files hold no question with a file and pages" + (half.map { " in the \($0.rawValue) split" } ?? ""))
        }
        guard candidates > 0, passages > 0 else { throw CLIError("--candidates and --passages must be positive", exitCode: 64) }

        let engines = try await makeEngines()
        let plan = try plan(available: engines)
        for (kind, engine) in engines { try checkFiles(answerable, in: engine, name: kind.rawValue) }

        var results: [RetrieverResult] = []
        for retriever in plan {
            let engine = retriever.embedder.flatMap { engines[$0] } ?? engines.values.first!
            results.append(try await evaluate(retriever, engine: engine, questions: questions))
        }
        try options.writeMetrics()
        if json {
            try printJSON(results, questions: questions)
        } else {
            printTable(results, questions: questions)
        }
    }

    // MARK: Engines

    private var defaultKind: EmbedderChoice {
        MiniLMEmbedder.isInstalled(in: EngineSetup.modelsDirectory(environment: CLI.environment)) ? .minilm : .hashing
    }

    /// The engines by embedder: one per embedder the retrievers need (--documents), or the collection's.
    private func makeEngines() async throws -> [EmbedderChoice: Engine] {
        CLI.bootstrapLogging(verbose: options.verbose)
        guard !documents.isEmpty else {
            let engine = try await options.makeEngine(encoderPrecision: .auto)  // every question of the set is embedded
            guard !engine.collection.chunks.isEmpty else {
                throw CLIError("the collection \(try options.directory().path) is empty: ingest the documents first, or pass --documents")
            }
            return [EmbedderChoice(identifier: engine.embedder.identifier): engine]
        }
        var kinds = Set(requestedNames.compactMap { Eval.parse($0, defaultKind: defaultKind)?.embedder })
        if kinds.isEmpty { kinds.insert(defaultKind) }  // bm25 alone still needs a collection
        let root = URL(fileURLWithPath: workDir ?? Eval.defaultWorkDirectory())
        let openAI = try options.openAIConfiguration()
        let chunking = try chunking.options()
        let encoder = try options.encoder()
        var engines: [EmbedderChoice: Engine] = [:]
        for kind in kinds.sorted(by: { $0.rawValue < $1.rawValue }) {
            let directory = root.appendingPathComponent("\(kind.rawValue)-" + ChunkingFlags.name(chunking))
            let embedder = try await EngineSetup.embedder(
                collectionDirectory: directory, choice: kind, openAI: openAI, metrics: CLI.metrics,
                modelsDirectory: EngineSetup.modelsDirectory(environment: CLI.environment), logger: Logger(label: "rag"),
                encoder: encoder)
            let engine = try await Engine(
                configuration: EngineConfiguration(
                    collectionDirectory: directory, chunking: chunking),
                embedder: embedder, metrics: CLI.metrics,
                logger: Logger(label: "rag"))
            let started = ContinuousClock.now
            let report = await engine.ingest(paths: documents)
            if let failure = report.failed.first {
                throw CLIError("cannot ingest \(failure.path) for the evaluation: \(failure.error)")
            }
            if !report.added.isEmpty || !json {
                CLI.warn(
                    "\(kind.rawValue): \(engine.collection.documents.count) documents, \(engine.collection.chunks.count) chunks in \(directory.path)"
                        + (report.added.isEmpty ? "" : " (ingested \(report.added.count) in \(Eval.format(seconds: ContinuousClock.now - started)))"))
            }
            engines[kind] = engine
        }
        return engines
    }

    static func defaultWorkDirectory() -> String {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return cache + "/pdf-chatbot/eval"
    }

    private var requestedNames: [String] {
        guard let retrievers else {
            return documents.isEmpty
                ? ["vector", "bm25", "hybrid"]
                : ["hashed"] + (defaultKind == .minilm ? ["minilm"] : []) + ["bm25", "hybrid"]
        }
        return retrievers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
    }

    /// `name`'s embedder (nil: BM25 alone) and mode, or nil for an unknown name.
    static func parse(_ name: String, defaultKind: EmbedderChoice) -> (embedder: EmbedderChoice?, mode: RetrievalOptions.Mode)? {
        switch name {
        case "hashed", "hashing": (.hashing, .vector)
        case "minilm": (.minilm, .vector)
        case "openai": (.openai, .vector)
        case "vector": (defaultKind, .vector)
        case "bm25", "lexical": (nil, .lexical)
        case "hybrid": (defaultKind, .hybrid)
        case "hybrid-hashed", "hybrid-hashing": (.hashing, .hybrid)
        case "hybrid-minilm": (.minilm, .hybrid)
        default: nil
        }
    }

    /// The retrievers to run, in the order asked, hybrid ones once per --fusion.
    private func plan(available engines: [EmbedderChoice: Engine]) throws -> [Retriever] {
        let fusions = try (fusion.isEmpty ? ["auto"] : fusion).map(RetrievalFlags.fusion)
        let kind = documents.isEmpty ? engines.keys.first! : defaultKind
        var plan: [Retriever] = []
        for name in requestedNames {
            guard let (embedder, mode) = Eval.parse(name, defaultKind: kind) else {
                throw CLIError(
                    "unknown retriever '\(name)': use hashed, minilm, openai, vector, bm25, hybrid, hybrid-hashed or hybrid-minilm", exitCode: 64)
            }
            if let embedder, engines[embedder] == nil {
                throw CLIError(
                    "retriever '\(name)' needs the \(embedder.rawValue) embedder, but the collection was built with \(kind.rawValue); pass --documents to compare embedders")
            }
            let base = RetrievalOptions(mode: mode, candidates: candidates, minimumScore: .disabled)
            let label = mode == .lexical ? "bm25" : (mode == .vector ? (embedder ?? kind).rawValue.replacingOccurrences(of: "hashing", with: "hashed") : name)
            if mode == .hybrid {
                for fusion in fusions {
                    var options = base
                    options.fusion = fusion
                    plan.append(Retriever(name: fusions.count > 1 ? "\(label) \(fusion)" : label, embedder: embedder, options: options))
                }
            } else {
                plan.append(Retriever(name: label, embedder: embedder, options: base))
            }
        }
        return plan
    }

    /// Warns about questions whose file is not in the collection (they can only miss).
    private func checkFiles(_ questions: [EvaluationQuestion], in engine: Engine, name: String) throws {
        let files = Set(engine.collection.documents.map(\.fileName))
        let missing = Set(questions.compactMap(\.file)).subtracting(files).sorted()
        guard missing.isEmpty else {
            throw CLIError("the \(name) collection has no document named \(missing.joined(separator: ", ")); ingest it or fix the question files")
        }
    }

    // MARK: Evaluation

    struct RetrieverResult {
        var retriever: Retriever
        var all: RetrievalScores
        var paraphrased: RetrievalScores?
        var literal: RetrievalScores?
        /// Scores per document, by file name.
        var documents: [String: RetrievalScores]
        var threshold: ThresholdAnalysis?
        /// The threshold `rag ask` applies by default with this retriever's embedder (nil: none, it answers all).
        var defaultThreshold: Float?
        var medianQuerySeconds: Double
    }

    private func evaluate(_ retriever: Retriever, engine: Engine, questions: [EvaluationQuestion]) async throws -> RetrieverResult {
        var ranks: [(EvaluationQuestion, Int?)] = []
        var bestAnswerable: [Float] = []
        var bestUnanswerable: [Float] = []
        var durations: [Double] = []
        for question in questions {
            let started = ContinuousClock.now
            let hits = try await engine.search(question.question, k: max(10, passages), retrieval: retriever.options)
            durations.append(Eval.seconds(ContinuousClock.now - started))
            let best = hits.prefix(passages).map(\.score).max() ?? -1
            if question.isAnswerable {
                ranks.append((question, hits.prefix(10).firstIndex { question.isRelevant($0.chunk) }.map { $0 + 1 }))
                bestAnswerable.append(best)
            } else {
                bestUnanswerable.append(best)
            }
        }
        let paraphrased = ranks.filter { $0.0.paraphrased == true }.map(\.1)
        let literal = ranks.filter { $0.0.paraphrased == false }.map(\.1)
        let documents = Dictionary(grouping: ranks) { $0.0.file ?? "" }.mapValues { RetrievalScores(firstRelevantRanks: $0.map(\.1)) }
        durations.sort()
        let lexical = retriever.options.mode == .lexical
        return RetrieverResult(
            retriever: retriever, all: RetrievalScores(firstRelevantRanks: ranks.map(\.1)),
            paraphrased: paraphrased.isEmpty ? nil : RetrievalScores(firstRelevantRanks: paraphrased),
            literal: literal.isEmpty ? nil : RetrievalScores(firstRelevantRanks: literal),
            documents: documents,
            threshold: lexical ? nil : ThresholdAnalysis(answerable: bestAnswerable, unanswerable: bestUnanswerable),
            defaultThreshold: lexical ? nil : engine.embedder.calibration?.minimumScore,
            medianQuerySeconds: durations[durations.count / 2])
    }

    // MARK: Output

    private func printTable(_ results: [RetrieverResult], questions: [EvaluationQuestion]) {
        let answerable = questions.filter(\.isAnswerable)
        let paraphrasedCount = answerable.filter { $0.paraphrased == true }.count
        print("\(answerable.count) questions (\(paraphrasedCount) paraphrased), \(questions.count - answerable.count) without an answer in the documents"
            + (split.map { " (\($0) split)" } ?? ""))
        func section(_ title: String, _ scores: (RetrieverResult) -> RetrievalScores?, latency: Bool) {
            let rows = results.compactMap { result in scores(result).map { (result, $0) } }
            guard let first = rows.first else { return }
            print("\n\(title) (\(first.1.questions))")
            let width = max(9, results.map(\.retriever.name.count).max() ?? 0)
            print(Eval.pad("retriever", width) + "  recall@1  recall@5  recall@10  MRR@10" + (latency ? "  median query" : ""))
            for (result, score) in rows {
                var line = Eval.pad(result.retriever.name, width)
                line += String(format: "  %8.3f  %8.3f  %9.3f  %6.3f", score.recallAt1, score.recallAt5, score.recallAt10, score.mrrAt10)
                if latency { line += String(format: "  %9.1f ms", result.medianQuerySeconds * 1000) }
                print(line)
            }
        }
        section("All questions", { $0.all }, latency: true)
        section("Paraphrased questions", { $0.paraphrased }, latency: false)
        section("Questions in the page's own words", { $0.literal }, latency: false)
        for file in Eval.files(answerable) {
            let paraphrased = answerable.filter { $0.file == file && $0.paraphrased == true }.count
            section("Questions on \(file), \(paraphrased) paraphrased", { $0.documents[file] }, latency: false)
        }

        let analyses = results.compactMap { result in result.threshold.map { (result, $0) } }.filter { !$0.1.unanswerable.isEmpty }
        guard !analyses.isEmpty else { return }
        print("\nRelevance threshold: best cosine similarity among the top \(passages) passages")
        let width = max(9, results.map(\.retriever.name.count).max() ?? 0)
        print(Eval.pad("retriever", width) + "  answerable median  unanswerable median  highest threshold answering all (refused)  answering 95 % (refused)")
        for (result, analysis) in analyses {
            let threshold = analysis.threshold(keeping: 1) ?? 0
            let most = analysis.threshold(keeping: 0.95) ?? 0
            print(Eval.pad(result.retriever.name, width) + String(
                format: "  %17.3f  %19.3f  %31.2f (%3.0f%%)  %15.2f (%3.0f%%)", analysis.answerableMedian ?? 0, analysis.unanswerableMedian ?? 0,
                threshold, analysis.refused(at: threshold) * 100, most, analysis.refused(at: most) * 100))
        }
        print("\nAt the default threshold of `rag ask` (none: every question is answered)")
        print(Eval.pad("retriever", width) + "  threshold  answerable answered  unanswerable refused")
        for (result, analysis) in analyses {
            let threshold = result.defaultThreshold ?? -.infinity
            let shown = result.defaultThreshold.map { String(format: "%.2f", $0) } ?? "none"
            print(Eval.pad(result.retriever.name, width) + "  " + String(repeating: " ", count: max(0, 9 - shown.count)) + shown
                + String(format: "  %18.0f%%  %19.0f%%", analysis.kept(at: threshold) * 100, analysis.refused(at: threshold) * 100))
        }
        print("\nAnswerable questions answered / unanswerable questions refused, by threshold")
        print(Eval.pad("retriever", width) + Eval.sweep.map { String(format: "  %9.2f", $0) }.joined())
        for (result, analysis) in analyses {
            print(Eval.pad(result.retriever.name, width) + Eval.sweep.map {
                String(format: "  %3.0f%%/%3.0f%%", analysis.kept(at: $0) * 100, analysis.refused(at: $0) * 100)
            }.joined())
        }
    }

    private func printJSON(_ results: [RetrieverResult], questions: [EvaluationQuestion]) throws {
        func scores(_ scores: RetrievalScores?) -> Any {
            guard let scores else { return NSNull() }
            return [
                "questions": scores.questions, "recall@1": scores.recallAt1, "recall@5": scores.recallAt5,
                "recall@10": scores.recallAt10, "mrr@10": scores.mrrAt10,
            ] as [String: Any]
        }
        let answerable = questions.filter(\.isAnswerable)
        let files = Eval.files(answerable)
        try CLI.printJSON([
            "questions": answerable.count,
            "paraphrased": answerable.filter { $0.paraphrased == true }.count,
            "unanswerable": questions.count - answerable.count,
            "split": split.map { $0 as Any } ?? NSNull(),
            "documents": files.map { file -> [String: Any] in
                let questions = answerable.filter { $0.file == file }
                return ["file": file, "questions": questions.count, "paraphrased": questions.filter { $0.paraphrased == true }.count]
            },
            "passages": passages,
            "retrievers": results.map { result -> [String: Any] in
                var object: [String: Any] = [
                    "name": result.retriever.name, "mode": result.retriever.options.mode.rawValue,
                    "embedder": result.retriever.embedder?.rawValue ?? NSNull(),
                    "all": scores(result.all), "paraphrased": scores(result.paraphrased), "literal": scores(result.literal),
                    "documents": Dictionary(uniqueKeysWithValues: files.map { ($0, scores(result.documents[$0])) }),
                    "median_query_ms": result.medianQuerySeconds * 1000,
                ]
                if result.retriever.options.mode == .hybrid { object["fusion"] = result.retriever.options.fusion.description }
                if let analysis = result.threshold, !analysis.unanswerable.isEmpty {
                    let threshold = analysis.threshold(keeping: 1) ?? 0
                    object["threshold"] = [
                        "answerable_median": Double(analysis.answerableMedian ?? 0),
                        "unanswerable_median": Double(analysis.unanswerableMedian ?? 0),
                        "answering_all": Double(threshold), "refused_at_answering_all": analysis.refused(at: threshold),
                        "answering_95": (analysis.threshold(keeping: 0.95)).map { Double($0) as Any } ?? NSNull(),
                        "refused_at_answering_95": analysis.refused(at: analysis.threshold(keeping: 0.95) ?? -.infinity),
                        "default": [
                            "threshold": result.defaultThreshold.map { Double($0) as Any } ?? NSNull(),
                            "answered": analysis.kept(at: result.defaultThreshold ?? -.infinity),
                            "refused": analysis.refused(at: result.defaultThreshold ?? -.infinity),
                        ] as [String: Any],
                        "sweep": Eval.sweep.map {
                            ["threshold": Double($0), "answered": analysis.kept(at: $0), "refused": analysis.refused(at: $0)]
                        },
                    ] as [String: Any]
                }
                return object
            },
        ])
    }

    /// The files the questions are about, in name order.
    static func files(_ questions: [EvaluationQuestion]) -> [String] { Set(questions.compactMap(\.file)).sorted() }

    /// Thresholds shown in the sweep.
    static let sweep: [Float] = [0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45]

    static func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    static func format(seconds duration: Duration) -> String { String(format: "%.1f s", seconds(duration)) }
}
