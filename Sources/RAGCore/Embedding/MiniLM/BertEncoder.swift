import CBLAS
import CEncoderKernels
import Foundation

/// A BERT encoder (embeddings, `layers` transformer blocks) over memory-mapped `F32` weights, with mean
/// pooling: the forward pass of sentence-transformers models such as all-MiniLM-L6-v2.
///
/// Every dense layer is one `cblas_sgemm` over all the tokens of a pass. Sequences are packed one after the
/// other with no padding, and attention is computed per sequence and head, so each token attends exactly to
/// the tokens of its own text: the same result as a padded batch with an attention mask, without computing the
/// padding. Attention, GELU and LayerNorm are C kernels (`CEncoderKernels`) built for AVX-512, AVX2 and plain
/// C and chosen at run time. Immutable after loading, so one encoder serves any number of threads; each call
/// works in scratch memory the caller owns.
final class BertEncoder: @unchecked Sendable {
    // @unchecked Sendable: all stored properties are immutable after init; the weight views point into
    // `file`'s read-only mapping, which lives as long as this object.

    /// The fields of `config.json` the encoder uses.
    struct Configuration: Decodable, Sendable, Hashable {
        var hiddenSize: Int
        var layers: Int
        var heads: Int
        var intermediateSize: Int
        var maxPositions: Int
        var vocabularySize: Int
        var typeVocabularySize: Int
        var layerNormEpsilon: Float
        var activation: String

        enum CodingKeys: String, CodingKey {
            case hiddenSize = "hidden_size", layers = "num_hidden_layers", heads = "num_attention_heads"
            case intermediateSize = "intermediate_size", maxPositions = "max_position_embeddings"
            case vocabularySize = "vocab_size", typeVocabularySize = "type_vocab_size"
            case layerNormEpsilon = "layer_norm_eps", activation = "hidden_act"
        }

        var headSize: Int { hiddenSize / heads }

        /// Multiply-adds × 2 for one sequence of `tokens` tokens (dense layers and attention products).
        func flops(tokens: Int) -> Double {
            let n = Double(tokens), h = Double(hiddenSize), f = Double(intermediateSize)
            let dense = 2 * n * h * (4 * h + 2 * f)
            let attention = 2 * 2 * n * n * h
            return Double(layers) * (dense + attention)
        }
    }

    struct Layer {
        var query, queryBias, key, keyBias, value, valueBias: UnsafePointer<Float>
        var output, outputBias, attentionNormGamma, attentionNormBeta: UnsafePointer<Float>
        var intermediate, intermediateBias, down, downBias, outputNormGamma, outputNormBeta: UnsafePointer<Float>
    }

    /// A dense layer's weights in int8 (`ragenc_i8_pack`), by groups of ``group`` inputs: codes packed for the
    /// kernel, and per group and output a scale and an offset (the code sum times the scale).
    struct QuantizedMatrix {
        let outputs, inputs, group: Int
        let codes: UnsafeMutablePointer<Int8>
        let scales, offsets: UnsafeMutablePointer<Float>

        /// Packs `weight` (`outputs × inputs`), its columns divided by `factors` (the activations are multiplied by
        /// them).
        init(_ weight: UnsafePointer<Float>, outputs: Int, inputs: Int, factors: [Float]? = nil) {
            self.outputs = outputs
            self.inputs = inputs
            group = BertEncoder.int8Group(inputs: inputs)
            codes = .allocate(capacity: ragenc_i8_packed_bytes(outputs, inputs))
            scales = .allocate(capacity: inputs / group * outputs)
            offsets = .allocate(capacity: inputs / group * outputs)
            ragenc_i8_pack(weight, outputs, inputs, group, factors, codes, scales, offsets)
        }

        func deallocate() {
            codes.deallocate()
            scales.deallocate()
            offsets.deallocate()
        }
    }

    /// The inputs quantized together, for a layer of `inputs` inputs: groups of 192 (an outlier column then costs
    /// precision in its own group only; measured on the benchmark chunks, cosine to fp32 0.9992 with 192, 0.9989 with
    /// 384 and 0.9984 with whole rows of the feed-forward's 1536), else the whole row.
    static func int8Group(inputs: Int) -> Int {
        inputs % 192 == 0 ? 192 : inputs
    }

    /// A pass's activations in int8 (`ragenc_i8_quantize`), in scratch memory: codes, and a scale and a zero point
    /// per token and group of inputs.
    struct QuantizedActivations {
        let codes: UnsafeMutablePointer<UInt8>
        let scales: UnsafeMutablePointer<Float>
        let zeros: UnsafeMutablePointer<Int32>
    }

    /// The int8 weights of one layer, in ``Layer``'s order, and the factors its LayerNorm outputs are multiplied by
    /// before they are quantized for Q, K, V and for the feed-forward.
    struct QuantizedLayer {
        let query, key, value, output, intermediate, down: QuantizedMatrix
        /// The smoothing factors of the inputs of Q/K/V and of the feed-forward (LayerNorm outputs). The inputs of
        /// the output projection and of the down projection are quantized as they are: smoothing them with factors
        /// from the calibration text made the embeddings worse (columns that text leaves near zero get large factors).
        let attentionFactors, feedForwardFactors: [Float]
    }

    /// SmoothQuant's per-column factors (α = ½) for activations that go into `weights` (each `outputs × columns`):
    /// BERT's hidden states have a few columns far larger than the rest, which would take most of a token's int8
    /// range. Column j is multiplied by √(wⱼ / aⱼ) and the weights' column j divided by it, where aⱼ is the column's
    /// largest activation on the calibration text and wⱼ its largest weight, so that both sides share the range.
    static func smoothingFactors(
        activations: [Float], weights: [(UnsafePointer<Float>, outputs: Int)], columns: Int
    ) -> [Float] {
        // Each column's largest weight, row by row (the matrices are row-major).
        var largest = [Float](repeating: 0, count: columns)
        largest.withUnsafeMutableBufferPointer { largest in
            for (matrix, outputs) in weights {
                for o in 0..<outputs {
                    let row = matrix + o * columns
                    for j in 0..<columns { largest[j] = max(largest[j], abs(row[j])) }
                }
            }
        }
        return (0..<columns).map { j in
            guard activations[j] > 0, largest[j] > 0 else { return 1 }
            return (largest[j] / activations[j]).squareRoot()
        }
    }

    /// How the dense layers compute: fp32 `cblas_sgemm`, or int8 (weights per output, activations per token, both by
    /// groups of inputs) on AVX-512 VNNI.
    enum Arithmetic: Sendable, Hashable {
        case f32, i8
    }

    let configuration: Configuration
    private let file: SafeTensors
    private let wordEmbeddings, positionEmbeddings, typeEmbeddings: UnsafePointer<Float>
    private let embeddingNormGamma, embeddingNormBeta: UnsafePointer<Float>
    private let layers: [Layer]
    /// The dense layers' weights in int8, when ``arithmetic`` is ``Arithmetic/i8``.
    private let quantized: [QuantizedLayer]
    let arithmetic: Arithmetic

    /// Loads the encoder; with `arithmetic` ``Arithmetic/i8`` (which needs hidden and intermediate sizes that are
    /// multiples of 64) the dense weights are quantized once, here, after an fp32 pass over `calibration` (token ids)
    /// sets the smoothing factors: 10.6 MB for MiniLM, 0.14 s with the calibration texts (release build).
    init(
        configuration: Configuration, weights file: SafeTensors, arithmetic: Arithmetic = .f32, calibration: [[Int32]] = []
    ) throws(ModelError) {
        let c = configuration
        guard c.activation == "gelu" else {
            throw ModelError(.invalid, "hidden_act \(c.activation) is not supported (only gelu)", path: file.path)
        }
        guard c.hiddenSize > 0, c.heads > 0, c.hiddenSize % c.heads == 0, c.intermediateSize > 0, c.layers > 0,
            c.maxPositions > 2, c.typeVocabularySize > 0
        else {
            throw ModelError(.invalid, "config.json describes an unsupported shape (hidden \(c.hiddenSize), heads \(c.heads), intermediate \(c.intermediateSize))", path: file.path)
        }
        self.configuration = configuration
        self.file = file
        let h = c.hiddenSize, f = c.intermediateSize
        // Some exports prefix every name with "bert.".
        let prefix = file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        func tensor(_ name: String, _ shape: [Int]) throws(ModelError) -> UnsafePointer<Float> {
            try file.floats(prefix + name, shape: shape).baseAddress!
        }
        wordEmbeddings = try tensor("embeddings.word_embeddings.weight", [c.vocabularySize, h])
        positionEmbeddings = try tensor("embeddings.position_embeddings.weight", [c.maxPositions, h])
        typeEmbeddings = try tensor("embeddings.token_type_embeddings.weight", [c.typeVocabularySize, h])
        embeddingNormGamma = try tensor("embeddings.LayerNorm.weight", [h])
        embeddingNormBeta = try tensor("embeddings.LayerNorm.bias", [h])
        var layers: [Layer] = []
        for index in 0..<c.layers {
            let p = "encoder.layer.\(index)."
            layers.append(
                Layer(
                    query: try tensor(p + "attention.self.query.weight", [h, h]),
                    queryBias: try tensor(p + "attention.self.query.bias", [h]),
                    key: try tensor(p + "attention.self.key.weight", [h, h]),
                    keyBias: try tensor(p + "attention.self.key.bias", [h]),
                    value: try tensor(p + "attention.self.value.weight", [h, h]),
                    valueBias: try tensor(p + "attention.self.value.bias", [h]),
                    output: try tensor(p + "attention.output.dense.weight", [h, h]),
                    outputBias: try tensor(p + "attention.output.dense.bias", [h]),
                    attentionNormGamma: try tensor(p + "attention.output.LayerNorm.weight", [h]),
                    attentionNormBeta: try tensor(p + "attention.output.LayerNorm.bias", [h]),
                    intermediate: try tensor(p + "intermediate.dense.weight", [f, h]),
                    intermediateBias: try tensor(p + "intermediate.dense.bias", [f]),
                    down: try tensor(p + "output.dense.weight", [h, f]),
                    downBias: try tensor(p + "output.dense.bias", [h]),
                    outputNormGamma: try tensor(p + "output.LayerNorm.weight", [h]),
                    outputNormBeta: try tensor(p + "output.LayerNorm.bias", [h])))
        }
        self.layers = layers
        if arithmetic == .i8 {
            guard h % 64 == 0, f % 64 == 0 else {
                throw ModelError(.invalid, "int8 arithmetic needs hidden and intermediate sizes that are multiples of 64 (\(h), \(f))", path: file.path)
            }
            // The largest value of each column of the inputs of Q/K/V and of the feed-forward, layer by layer, on the
            // calibration text, computed in fp32.
            let reference = try BertEncoder(configuration: configuration, weights: file, arithmetic: .f32)
            var largest = [[Float]](repeating: [Float](repeating: 0, count: h), count: 2 * c.layers)
            let sequences = calibration.filter { !$0.isEmpty }.map { Array($0.prefix(c.maxPositions)) }
            if !sequences.isEmpty {
                let tokens = sequences.reduce(0) { $0 + $1.count }
                let scratch = UnsafeMutableBufferPointer<Float>.allocate(
                    capacity: reference.scratchFloats(tokens: tokens, longest: sequences.map(\.count).max()!))
                let pooled = UnsafeMutablePointer<Float>.allocate(capacity: sequences.count * h)
                defer {
                    scratch.deallocate()
                    pooled.deallocate()
                }
                reference.encode(sequences, into: pooled, scratch: scratch) { point, x in
                    for row in 0..<tokens {
                        for column in 0..<h { largest[point][column] = max(largest[point][column], abs(x[row * h + column])) }
                    }
                }
            }
            var quantized: [QuantizedLayer] = []
            for (index, layer) in layers.enumerated() {
                let attention = Self.smoothingFactors(
                    activations: largest[2 * index], weights: [(layer.query, h), (layer.key, h), (layer.value, h)], columns: h)
                let feedForward = Self.smoothingFactors(
                    activations: largest[2 * index + 1], weights: [(layer.intermediate, f)], columns: h)
                quantized.append(
                    QuantizedLayer(
                        query: QuantizedMatrix(layer.query, outputs: h, inputs: h, factors: attention),
                        key: QuantizedMatrix(layer.key, outputs: h, inputs: h, factors: attention),
                        value: QuantizedMatrix(layer.value, outputs: h, inputs: h, factors: attention),
                        output: QuantizedMatrix(layer.output, outputs: h, inputs: h),
                        intermediate: QuantizedMatrix(layer.intermediate, outputs: f, inputs: h, factors: feedForward),
                        down: QuantizedMatrix(layer.down, outputs: h, inputs: f),
                        attentionFactors: attention, feedForwardFactors: feedForward))
            }
            self.quantized = quantized
        } else {
            self.quantized = []
        }
        self.arithmetic = arithmetic
    }

    deinit {
        for layer in quantized {
            for matrix in [layer.query, layer.key, layer.value, layer.output, layer.intermediate, layer.down] {
                matrix.deallocate()
            }
        }
    }

    /// Scratch floats one pass over `tokens` tokens with sequences of at most `longest` tokens needs.
    func scratchFloats(tokens: Int, longest: Int) -> Int {
        let h = configuration.hiddenSize
        let floats = tokens * (4 * h + configuration.intermediateSize) + h * (tokens + ragenc_attention_key_padding())
            + ragenc_attention_scratch_floats(longest)
        guard arithmetic == .i8 else { return floats }
        // int8 activations (one byte per value of the widest layer input), a scale and a zero point per token and group.
        return floats + (tokens * configuration.intermediateSize + 3) / 4 + 2 * tokens * int8GroupsPerToken
    }

    /// The most input groups of an int8 layer (scales and zero points per token).
    private var int8GroupsPerToken: Int {
        let h = configuration.hiddenSize, f = configuration.intermediateSize
        return max(h / Self.int8Group(inputs: h), f / Self.int8Group(inputs: f))
    }

    /// Encodes `sequences` (token ids, each at most `maxPositions` long and non-empty) and writes each one's
    /// mean-pooled, L2-normalised vector to `output` (`sequences.count × hiddenSize` floats), working in
    /// `scratch` (at least `scratchFloats(tokens:longest:)` floats). `observe`, called by the fp32 path only, sees
    /// the inputs of Q/K/V (point 2·layer) and of the feed-forward (2·layer + 1), `tokens × hiddenSize` floats.
    func encode(
        _ sequences: [[Int32]], into output: UnsafeMutablePointer<Float>, scratch: UnsafeMutableBufferPointer<Float>,
        observe: ((_ point: Int, _ x: UnsafePointer<Float>) -> Void)? = nil
    ) {
        let c = configuration
        let h = c.hiddenSize, f = c.intermediateSize, headSize = c.headSize
        var starts: [Int] = []
        var tokens = 0
        var longest = 0
        for sequence in sequences {
            precondition(!sequence.isEmpty && sequence.count <= c.maxPositions, "sequence length out of range")
            starts.append(tokens)
            tokens += sequence.count
            longest = max(longest, sequence.count)
        }
        guard tokens > 0 else { return }
        precondition(scratch.count >= scratchFloats(tokens: tokens, longest: longest), "scratch too small")
        // The keys are stored transposed (hidden × tokens, plus the padding the attention kernel reads past them).
        let keyStride = tokens + ragenc_attention_key_padding()
        let hidden = scratch.baseAddress!
        let query = hidden + tokens * h
        let value = query + tokens * h
        let context = value + tokens * h
        let intermediate = context + tokens * h
        let keys = intermediate + tokens * f
        let attentionScratch = keys + h * keyStride
        // The padding columns are read but never used; zero them once so that they hold ordinary numbers.
        for row in 0..<h { (keys + row * keyStride + tokens).initialize(repeating: 0, count: keyStride - tokens) }
        let n = Int32(tokens)

        // Embeddings: word + position + token type 0, then LayerNorm.
        for (sequence, start) in zip(sequences, starts) {
            for (position, id) in sequence.enumerated() {
                let row = hidden + (start + position) * h
                let word = wordEmbeddings + Int(id) * h
                let place = positionEmbeddings + position * h
                for column in 0..<h { row[column] = word[column] + place[column] + typeEmbeddings[column] }
            }
        }
        ragenc_bias_layer_norm(
            hidden, tokens, h, nil, embeddingNormGamma, embeddingNormBeta, c.layerNormEpsilon, hidden)

        let scale = 1 / Float(headSize).squareRoot()
        /// Attention within each sequence, head by head: context = softmax(Q Kᵀ / √d) V.
        func attend(_ layer: Layer) {
            for (sequence, start) in zip(sequences, starts) {
                for head in 0..<c.heads {
                    let offset = start * h + head * headSize
                    ragenc_attention(
                        query + offset, h, layer.queryBias + head * headSize,
                        keys + head * headSize * keyStride + start, keyStride, value + offset, h,
                        layer.valueBias + head * headSize, context + offset, h, sequence.count, headSize, scale,
                        attentionScratch)
                }
            }
        }
        /// hidden = LN(hidden + bo), after the output projection's residual.
        func attentionNorm(_ layer: Layer) {
            ragenc_bias_layer_norm(
                hidden, tokens, h, layer.outputBias, layer.attentionNormGamma, layer.attentionNormBeta,
                c.layerNormEpsilon, hidden)
        }
        /// hidden = LN(hidden + bd), after the feed-forward's residual.
        func outputNorm(_ layer: Layer) {
            ragenc_bias_layer_norm(
                hidden, tokens, h, layer.downBias, layer.outputNormGamma, layer.outputNormBeta, c.layerNormEpsilon,
                hidden)
        }
        if arithmetic == .i8 {
            let base = attentionScratch + ragenc_attention_scratch_floats(longest)
            let groups = tokens * int8GroupsPerToken
            let activations = QuantizedActivations(
                codes: UnsafeMutableRawPointer(base).bindMemory(to: UInt8.self, capacity: tokens * f),
                scales: base + (tokens * f + 3) / 4,
                zeros: UnsafeMutableRawPointer(base + (tokens * f + 3) / 4 + groups).bindMemory(to: Int32.self, capacity: groups))
            /// out (+)= x · Wᵀ for each (W, out, accumulate) of `targets`, which read the same input `x` (`columns`
            /// floats a token, multiplied by `factors` when given), quantized once for all of them.
            func project(
                _ x: UnsafePointer<Float>, columns: Int, factors: [Float]? = nil, asymmetric: Bool = false,
                _ targets: [(matrix: QuantizedMatrix, out: UnsafeMutablePointer<Float>, accumulate: Bool)]
            ) {
                let group = targets[0].matrix.group
                ragenc_i8_quantize(
                    x, tokens, columns, columns, group, factors, asymmetric ? 1 : 0, activations.codes, activations.scales,
                    activations.zeros)
                for (matrix, out, accumulate) in targets {
                    ragenc_i8_gemm(
                        activations.codes, activations.scales, activations.zeros, tokens, columns, group, matrix.codes,
                        matrix.scales, matrix.offsets, matrix.outputs, out, matrix.outputs, accumulate ? 1 : 0)
                }
            }
            for (layer, weights) in zip(layers, quantized) {
                // The keys come out row by row, in `context` (free until attention writes it), and are transposed.
                project(
                    hidden, columns: h, factors: weights.attentionFactors,
                    [(weights.query, query, false), (weights.key, context, false), (weights.value, value, false)])
                ragenc_transpose(context, tokens, h, h, keys, keyStride)
                attend(layer)
                project(context, columns: h, [(weights.output, hidden, true)])
                attentionNorm(layer)
                project(hidden, columns: h, factors: weights.feedForwardFactors, [(weights.intermediate, intermediate, false)])
                ragenc_bias_gelu(intermediate, tokens, f, layer.intermediateBias)
                // GELU's outputs are one-sided (above -0.17): each token's own range, all 256 codes.
                project(intermediate, columns: f, asymmetric: true, [(weights.down, hidden, true)])
                outputNorm(layer)
            }
        } else {
            /// `out (tokens × rows) = input (tokens × columns) · weightᵀ (+ out when accumulate)`.
            func dense(_ input: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, rows: Int, columns: Int, _ out: UnsafeMutablePointer<Float>, accumulate: Bool) {
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans, n, Int32(rows), Int32(columns), 1, input, Int32(columns),
                    weight, Int32(columns), accumulate ? 1 : 0, out, Int32(rows))
            }
            for (index, layer) in layers.enumerated() {
                observe?(2 * index, hidden)
                // Q and V without their biases (the attention kernel adds them), Kᵀ = Wk · hiddenᵀ without its bias
                // (softmax cancels it).
                dense(hidden, layer.query, rows: h, columns: h, query, accumulate: false)
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(h), n, Int32(h), 1, layer.key, Int32(h), hidden,
                    Int32(h), 0, keys, Int32(keyStride))
                dense(hidden, layer.value, rows: h, columns: h, value, accumulate: false)
                attend(layer)
                // Output projection and residual: hidden += context Woᵀ.
                dense(context, layer.output, rows: h, columns: h, hidden, accumulate: true)
                attentionNorm(layer)
                observe?(2 * index + 1, hidden)
                // Feed-forward and residual: hidden += GELU(hidden Wiᵀ + bi) Wdᵀ.
                dense(hidden, layer.intermediate, rows: f, columns: h, intermediate, accumulate: false)
                ragenc_bias_gelu(intermediate, tokens, f, layer.intermediateBias)
                dense(intermediate, layer.down, rows: h, columns: f, hidden, accumulate: true)
                outputNorm(layer)
            }
        }

        // Mean pooling over each sequence's tokens, then L2 normalisation.
        for (index, (sequence, start)) in zip(sequences, starts).enumerated() {
            let out = output + index * h
            out.initialize(repeating: 0, count: h)
            for position in 0..<sequence.count {
                let row = hidden + (start + position) * h
                for column in 0..<h { out[column] += row[column] }
            }
            var norm: Float = 0
            for column in 0..<h { norm += out[column] * out[column] }
            let inverse: Float = norm > 0 ? 1 / norm.squareRoot() : 0
            for column in 0..<h { out[column] *= inverse }
        }
    }
}
