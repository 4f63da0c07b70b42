import CBLAS
import Foundation
import Prometheus

/// Sentence embeddings from all-MiniLM-L6-v2 (sentence-transformers), computed locally: BERT uncased WordPiece
/// tokens, a 6-layer, 384-wide BERT encoder on OpenBLAS `cblas_sgemm`, mean pooling and L2 normalisation.
/// Texts longer than `maxTokens` (256, as the model was trained) are truncated and counted in
/// `rag_embedding_truncated_total`.
///
/// The weights are memory-mapped once and shared by every thread; one embedder serves concurrent calls.
/// `scripts/fetch-model.sh` puts the model files in `<models directory>/all-MiniLM-L6-v2/`.
///
/// ```swift
/// let embedder = try MiniLMEmbedder(modelDirectory: URL(fileURLWithPath: "models/all-MiniLM-L6-v2"))
/// let vectors = try await embedder.embed(["How do I invert a matrix?"])   // [[Float]] of 384
/// ```
public final class MiniLMEmbedder: Embedder {
    /// How the embedder runs.
    ///
    /// | field | default | meaning |
    /// | --- | --- | --- |
    /// | `maxTokens` | 256 | tokens per text including `[CLS]` and `[SEP]`; longer texts are truncated (2…512) |
    /// | `threads` | active processors | passes computed at the same time |
    /// | `maxTokensPerPass` | 2048 | tokens in one encoder pass; bounds scratch memory (about 14 KiB per token) |
    /// | `singleThreadedBLAS` | `true` | set OpenBLAS to one thread (process-wide), see below |
    ///
    /// The embedder parallelises over its own `threads` workers, each running single-threaded `cblas_sgemm`
    /// calls on its own passes. OpenBLAS's thread pool on top of that only contends for the same cores (measured
    /// on 2 cores: 2 workers with 2 OpenBLAS threads run at a fraction of 2 workers with one; see
    /// docs/performance.md), so by default the embedder calls `openblas_set_num_threads(1)` when it is created.
    /// That setting is process-wide; `VectorIndex` searches, which are memory-bound, barely notice it.
    public struct Configuration: Sendable, Hashable {
        public var maxTokens: Int
        public var threads: Int
        public var maxTokensPerPass: Int
        public var singleThreadedBLAS: Bool

        public init(
            maxTokens: Int = 256, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
            maxTokensPerPass: Int = 2048, singleThreadedBLAS: Bool = true
        ) {
            self.maxTokens = maxTokens
            self.threads = threads
            self.maxTokensPerPass = maxTokensPerPass
            self.singleThreadedBLAS = singleThreadedBLAS
        }
    }

    /// The folder name of the model inside a models directory.
    public static let directoryName = "all-MiniLM-L6-v2"
    /// The files the embedder reads from the model folder.
    public static let requiredFiles = ["config.json", "vocab.txt", "model.safetensors"]
    /// The identifier stored with collections built by this embedder.
    public static let identifier = "minilm-l6-v2-d384"

    public var identifier: String { MiniLMEmbedder.identifier }
    public let dimension: Int
    public let configuration: Configuration
    public let tokenizer: WordPieceTokenizer
    let encoder: BertEncoder
    private let metrics: RAGMetrics?

    /// Whether `modelsDirectory/all-MiniLM-L6-v2` holds every required file.
    public static func isInstalled(in modelsDirectory: URL) -> Bool {
        let folder = modelsDirectory.appendingPathComponent(directoryName)
        return requiredFiles.allSatisfy { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
    }

    /// Loads the model from `modelDirectory` (the folder holding `config.json`, `vocab.txt`, `model.safetensors`).
    ///
    /// - Throws: `ModelError.notFound` (with the command that fetches the model) when a file is missing;
    ///   `ModelError.invalid` when a file does not parse or the model is not all-MiniLM-L6-v2's shape.
    public init(modelDirectory: URL, configuration: Configuration = Configuration(), metrics: RAGMetrics? = nil) throws(ModelError) {
        for file in MiniLMEmbedder.requiredFiles {
            let path = modelDirectory.appendingPathComponent(file).path
            guard FileManager.default.fileExists(atPath: path) else {
                throw ModelError(.notFound, "the MiniLM model is not installed: \(file) is missing (set RAG_MODELS_DIR to a directory holding \(MiniLMEmbedder.directoryName)/)", path: path)
            }
        }
        let configURL = modelDirectory.appendingPathComponent("config.json")
        let bert: BertEncoder.Configuration
        do {
            bert = try JSONDecoder().decode(BertEncoder.Configuration.self, from: Data(contentsOf: configURL))
        } catch {
            throw ModelError(.invalid, "config.json is not a BERT configuration: \(error)", path: configURL.path)
        }
        guard bert.hiddenSize == 384, bert.layers == 6, bert.vocabularySize == 30522 else {
            throw ModelError(.invalid, "config.json is not all-MiniLM-L6-v2's (hidden \(bert.hiddenSize), layers \(bert.layers), vocabulary \(bert.vocabularySize))", path: configURL.path)
        }
        guard (2...bert.maxPositions).contains(configuration.maxTokens), configuration.threads >= 1,
            configuration.maxTokensPerPass >= configuration.maxTokens
        else {
            throw ModelError(.invalid, "MiniLMEmbedder.Configuration out of range: maxTokens must be 2…\(bert.maxPositions), threads ≥ 1, maxTokensPerPass ≥ maxTokens")
        }
        let tokenizer = try WordPieceTokenizer(vocabulary: modelDirectory.appendingPathComponent("vocab.txt"))
        guard tokenizer.vocabularySize == bert.vocabularySize else {
            throw ModelError(.invalid, "vocab.txt has \(tokenizer.vocabularySize) tokens, config.json says \(bert.vocabularySize)", path: modelDirectory.path)
        }
        let weights = try SafeTensors(contentsOf: modelDirectory.appendingPathComponent("model.safetensors"))
        self.encoder = try BertEncoder(configuration: bert, weights: weights)
        self.tokenizer = tokenizer
        self.dimension = bert.hiddenSize
        self.configuration = configuration
        self.metrics = metrics
        if configuration.singleThreadedBLAS { openblas_set_num_threads(1) }
    }

    /// Embeds `texts` on `BlockingPool.shared` (never on the cooperative executor), one L2-normalised vector of
    /// `dimension` floats per text. Dropped without running when the task is cancelled before a thread takes it.
    public func embed(_ texts: [String]) async throws -> [[Float]] {
        try await BlockingPool.shared.runIfActive { self.embedBlocking(texts) }
    }

    /// Embeds `texts` on the calling thread plus up to `threads - 1` threads of `BlockingPool.shared`, blocking until
    /// done.
    public func embedBlocking(_ texts: [String]) -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        let encodings = texts.map { tokenizer.encode($0, maxTokens: configuration.maxTokens) }
        let truncated = encodings.reduce(0) { $0 + ($1.truncated ? 1 : 0) }
        if truncated > 0, let metrics { metrics.embeddingTruncated(embedder: identifier).increment(by: Int64(truncated)) }
        return embed(encodings.map(\.ids))
    }

    /// Embeds already tokenised texts (`[CLS] … [SEP]`, each at most `maxTokens` ids).
    public func embed(_ sequences: [[Int32]]) -> [[Float]] {
        guard !sequences.isEmpty else { return [] }
        precondition(sequences.allSatisfy { !$0.isEmpty && $0.count <= configuration.maxTokens }, "sequence longer than maxTokens")
        let passes = MiniLMEmbedder.passes(
            lengths: sequences.map(\.count), threads: configuration.threads, maxTokensPerPass: configuration.maxTokensPerPass)
        let h = dimension
        let output = UnsafeMutablePointer<Float>.allocate(capacity: sequences.count * h)
        defer { output.deallocate() }
        let outputAddress = UnsafeMutableSendablePointer(output)
        let encoder = self.encoder
        // Worker w computes passes w, w + workers, …; each pass writes its own rows of `output`. A worker
        // allocates scratch memory once, for its largest pass, and reuses it for the others.
        let workers = min(configuration.threads, passes.count)
        let run: @Sendable (Int) -> Void = { worker in
            let mine = stride(from: worker, to: passes.count, by: workers).map { passes[$0] }
            let floats = mine.map { range in
                encoder.scratchFloats(
                    tokens: sequences[range].reduce(0) { $0 + $1.count }, longest: sequences[range].map(\.count).max()!)
            }.max()!
            let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: floats)
            defer { scratch.deallocate() }
            for range in mine {
                let out = outputAddress.pointer + range.lowerBound * h
                encoder.encode(Array(sequences[range]), into: out, scratch: scratch)
            }
        }
        BlockingPool.shared.forkJoin(workers, run)
        return (0..<sequences.count).map { Array(UnsafeBufferPointer(start: output + $0 * h, count: h)) }
    }

    /// Cuts sequences (by their lengths, in order) into contiguous passes of at most `maxTokensPerPass` tokens,
    /// and into at least `threads` passes when there are enough sequences, so that every thread has work.
    static func passes(lengths: [Int], threads: Int, maxTokensPerPass: Int) -> [Range<Int>] {
        let total = lengths.reduce(0, +)
        let target = max(1, min(maxTokensPerPass, (total + threads - 1) / threads))
        var passes: [Range<Int>] = []
        var start = 0
        var tokens = 0
        for (index, length) in lengths.enumerated() {
            if index > start && (tokens + length > maxTokensPerPass || tokens >= target) {
                passes.append(start..<index)
                start = index
                tokens = 0
            }
            tokens += length
        }
        passes.append(start..<lengths.count)
        return passes
    }
}

/// A pointer handed to `forkJoin` parts that write disjoint ranges of it.
struct UnsafeMutableSendablePointer: @unchecked Sendable {
    // @unchecked Sendable: the workers write disjoint rows, and the owner reads only after they all return.
    let pointer: UnsafeMutablePointer<Float>
    init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}
