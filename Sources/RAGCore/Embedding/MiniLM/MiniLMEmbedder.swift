import CBLAS
import CEncoderKernels
import Foundation
import Prometheus

/// Sentence embeddings from all-MiniLM-L6-v2 (sentence-transformers), computed locally: BERT uncased WordPiece
/// tokens, a 6-layer, 384-wide BERT encoder whose dense layers run in int8 on AVX-512 VNNI or in fp32 on OpenBLAS
/// `cblas_sgemm` (``Precision``), mean pooling and L2 normalisation.
/// Texts longer than `maxTokens` (256, as the model was trained) are truncated and counted in
/// `rag_embedding_truncated_total`.
///
/// The weights are memory-mapped once (and quantized once, for int8) and shared by every thread; one embedder serves
/// concurrent calls.
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
    /// | `maxTokensPerPass` | 2048 | tokens in one encoder pass (int8 passes at most 512); bounds scratch memory (about 14 KiB per token) |
    /// | `singleThreadedBLAS` | `true` | set OpenBLAS to one thread (process-wide), see below |
    /// | `precision` | `.auto` | the dense layers' arithmetic, see ``Precision`` |
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
        public var precision: Precision

        public init(
            maxTokens: Int = 256, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
            maxTokensPerPass: Int = 2048, singleThreadedBLAS: Bool = true, precision: Precision = .auto
        ) {
            self.maxTokens = maxTokens
            self.threads = threads
            self.maxTokensPerPass = maxTokensPerPass
            self.singleThreadedBLAS = singleThreadedBLAS
            self.precision = precision
        }
    }

    /// The arithmetic of the encoder's dense layers (90 % of its work).
    ///
    /// - `f32`: OpenBLAS `cblas_sgemm`, the reference.
    /// - `i8`: weights quantized to int8 once, per output row and group of 192 inputs; each token's activations
    ///   before each layer, per group (over the group's own range after GELU); the LayerNorm outputs smoothed first
    ///   by factors set on a calibration text. Products are summed exactly in int32 with AVX-512 VNNI
    ///   (`vpdpbusd`): about 3× `sgemm`'s speed per layer and 2.15× the whole encoder's on 2 cores, with embeddings
    ///   within cosine 0.998 of fp32's (docs/performance.md). Attention, GELU and LayerNorm stay fp32. On a CPU
    ///   without VNNI the int8 kernel is portable C, far slower than `sgemm`.
    /// - `auto`: `i8` when the CPU has AVX-512 VNNI, else `f32`.
    public enum Precision: String, Sendable, Hashable, CaseIterable {
        case auto, f32, i8

        /// `auto` resolved for this CPU.
        public var resolved: Precision {
            guard self == .auto else { return self }
            return ragenc_i8_accelerated() != 0 ? .i8 : .f32
        }
    }

    /// The texts whose fp32 activations set the int8 layers' smoothing factors (`BertEncoder.smoothingFactors`):
    /// ordinary prose of the kind documents hold, so that each column's range is the one real text reaches.
    static let calibrationTexts = [
        "",
        "How many vacation days do I get?",
        """
        Employees accrue vacation days each month and may carry up to five unused days into the next year. Requests \
        for leave should be submitted through the portal at least two weeks in advance; your manager approves them. \
        Expense reports must include itemised receipts for every purchase above 25 euros, and travel booked outside \
        the approved agency is reimbursed only with prior written consent.
        """,
        """
        To invert a square matrix A, first check that its determinant is not zero. Gaussian elimination reduces [A | I] \
        to [I | A⁻¹] in O(n³) operations. For large sparse systems, iterative solvers such as conjugate gradients are \
        faster and use less memory. Table 3 lists the results of 12 experiments (p < 0.05), and Figure 2 plots them.
        """,
        """
        The printer on the third floor jams when it is loaded with more than 200 sheets. Restart it by holding the power \
        button for ten seconds, then open tray 2 and remove any paper. If the error code E-104 persists, call the help \
        desk at extension 4455 or open a ticket; include the serial number printed on the back.
        """,
    ]

    /// The arithmetic this embedder's dense layers use: ``Configuration/precision`` resolved, `f32` or `i8`.
    public var precision: Precision { encoder.arithmetic == .i8 ? .i8 : .f32 }

    /// ``precision`` in words, with the kernel: "i8 (AVX-512 VNNI)" or "f32 (OpenBLAS sgemm)".
    public var precisionDescription: String {
        precision == .i8 ? "i8 (\(ragenc_i8_accelerated() != 0 ? "AVX-512 VNNI" : "portable C"))" : "f32 (OpenBLAS sgemm)"
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
        let arithmetic: BertEncoder.Arithmetic = configuration.precision.resolved == .i8 ? .i8 : .f32
        self.encoder = try BertEncoder(
            configuration: bert, weights: weights, arithmetic: arithmetic,
            calibration: arithmetic == .i8 ? MiniLMEmbedder.calibrationTexts.map { tokenizer.encode($0, maxTokens: configuration.maxTokens).ids } : [])
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
        // int8 passes are smaller: the activations of 512 tokens (0.8 MB of codes for the feed-forward) stay in L2
        // while the weights pass over them (measured on 2 cores: 2.1-2.2x fp32 at 512 tokens, 1.6-1.7x at 2048).
        let tokensPerPass = encoder.arithmetic == .i8
            ? min(configuration.maxTokensPerPass, max(configuration.maxTokens, MiniLMEmbedder.int8TokensPerPass))
            : configuration.maxTokensPerPass
        let passes = MiniLMEmbedder.passes(
            lengths: sequences.map(\.count), threads: configuration.threads, maxTokensPerPass: tokensPerPass)
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

    /// The most tokens of one int8 pass (``Precision/i8``), below `maxTokensPerPass`.
    static let int8TokensPerPass = 512

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
