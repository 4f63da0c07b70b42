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

    let configuration: Configuration
    private let file: SafeTensors
    private let wordEmbeddings, positionEmbeddings, typeEmbeddings: UnsafePointer<Float>
    private let embeddingNormGamma, embeddingNormBeta: UnsafePointer<Float>
    private let layers: [Layer]

    init(configuration: Configuration, weights file: SafeTensors) throws(ModelError) {
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
    }

    /// Scratch floats one pass over `tokens` tokens with sequences of at most `longest` tokens needs.
    func scratchFloats(tokens: Int, longest: Int) -> Int {
        let h = configuration.hiddenSize
        return tokens * (4 * h + configuration.intermediateSize) + h * (tokens + ragenc_attention_key_padding())
            + ragenc_attention_scratch_floats(longest)
    }

    /// Encodes `sequences` (token ids, each at most `maxPositions` long and non-empty) and writes each one's
    /// mean-pooled, L2-normalised vector to `output` (`sequences.count × hiddenSize` floats), working in
    /// `scratch` (at least `scratchFloats(tokens:longest:)` floats).
    func encode(
        _ sequences: [[Int32]], into output: UnsafeMutablePointer<Float>, scratch: UnsafeMutableBufferPointer<Float>
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

        /// `out (tokens × rows) = input (tokens × columns) · weightᵀ (+ out when accumulate)`.
        func dense(_ input: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, rows: Int, columns: Int, _ out: UnsafeMutablePointer<Float>, accumulate: Bool) {
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, n, Int32(rows), Int32(columns), 1, input, Int32(columns),
                weight, Int32(columns), accumulate ? 1 : 0, out, Int32(rows))
        }
        let scale = 1 / Float(headSize).squareRoot()
        for layer in layers {
            // Q and V without their biases (the attention kernel adds them), Kᵀ = Wk · hiddenᵀ without its bias
            // (softmax cancels it).
            dense(hidden, layer.query, rows: h, columns: h, query, accumulate: false)
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(h), n, Int32(h), 1, layer.key, Int32(h), hidden,
                Int32(h), 0, keys, Int32(keyStride))
            dense(hidden, layer.value, rows: h, columns: h, value, accumulate: false)

            // Attention within each sequence, head by head: softmax(Q Kᵀ / √d) V.
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

            // Output projection, residual, LayerNorm: hidden = LN(hidden + context Woᵀ + bo).
            dense(context, layer.output, rows: h, columns: h, hidden, accumulate: true)
            ragenc_bias_layer_norm(
                hidden, tokens, h, layer.outputBias, layer.attentionNormGamma, layer.attentionNormBeta,
                c.layerNormEpsilon, hidden)

            // Feed-forward, residual, LayerNorm: hidden = LN(hidden + GELU(hidden Wiᵀ + bi) Wdᵀ + bd).
            dense(hidden, layer.intermediate, rows: f, columns: h, intermediate, accumulate: false)
            ragenc_bias_gelu(intermediate, tokens, f, layer.intermediateBias)
            dense(intermediate, layer.down, rows: h, columns: f, hidden, accumulate: true)
            ragenc_bias_layer_norm(
                hidden, tokens, h, layer.downBias, layer.outputNormGamma, layer.outputNormBeta, c.layerNormEpsilon,
                hidden)
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
