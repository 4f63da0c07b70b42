import CBLAS
import Foundation

/// A BERT encoder (embeddings, `layers` transformer blocks) over memory-mapped `F32` weights, with mean
/// pooling: the forward pass of sentence-transformers models such as all-MiniLM-L6-v2.
///
/// Every dense layer is one `cblas_sgemm` over all the tokens of a pass. Sequences are packed one after the
/// other with no padding, and attention is computed per sequence and head, so each token attends exactly to
/// the tokens of its own text: the same result as a padded batch with an attention mask, without computing the
/// padding. Immutable after loading, so one encoder serves any number of threads; each call allocates its own
/// scratch memory.
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
        guard c.hiddenSize > 0, c.heads > 0, c.hiddenSize % c.heads == 0, c.hiddenSize % VectorKernels.width == 0,
            c.intermediateSize % VectorKernels.width == 0, c.layers > 0, c.maxPositions > 2, c.typeVocabularySize > 0
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
        tokens * (5 * configuration.hiddenSize + configuration.intermediateSize) + longest * longest
    }

    /// Encodes `sequences` (token ids, each at most `maxPositions` long and non-empty) and writes each one's
    /// mean-pooled, L2-normalised vector to `output` (`sequences.count × hiddenSize` floats).
    func encode(_ sequences: [[Int32]], into output: UnsafeMutablePointer<Float>) {
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
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchFloats(tokens: tokens, longest: longest))
        defer { scratch.deallocate() }
        let hidden = scratch
        let query = hidden + tokens * h
        let key = query + tokens * h
        let value = key + tokens * h
        let context = value + tokens * h
        let intermediate = context + tokens * h
        let scores = intermediate + tokens * f
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
        VectorKernels.biasLayerNorm(
            hidden, rows: tokens, columns: h, bias: nil, gamma: embeddingNormGamma, beta: embeddingNormBeta,
            epsilon: c.layerNormEpsilon, output: hidden)

        /// `out (tokens × rows) = input (tokens × columns) · weightᵀ (+ out when accumulate)`.
        func dense(_ input: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, rows: Int, columns: Int, _ out: UnsafeMutablePointer<Float>, accumulate: Bool) {
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, n, Int32(rows), Int32(columns), 1, input, Int32(columns),
                weight, Int32(columns), accumulate ? 1 : 0, out, Int32(rows))
        }
        let scale = 1 / Float(headSize).squareRoot()
        for layer in layers {
            dense(hidden, layer.query, rows: h, columns: h, query, accumulate: false)
            VectorKernels.addBias(query, rows: tokens, columns: h, bias: layer.queryBias)
            dense(hidden, layer.key, rows: h, columns: h, key, accumulate: false)
            VectorKernels.addBias(key, rows: tokens, columns: h, bias: layer.keyBias)
            dense(hidden, layer.value, rows: h, columns: h, value, accumulate: false)
            VectorKernels.addBias(value, rows: tokens, columns: h, bias: layer.valueBias)

            // Attention within each sequence, head by head: softmax(Q Kᵀ / √d) V.
            for (sequence, start) in zip(sequences, starts) {
                let length = Int32(sequence.count)
                for head in 0..<c.heads {
                    let offset = start * h + head * headSize
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasTrans, length, length, Int32(headSize), scale,
                        query + offset, Int32(h), key + offset, Int32(h), 0, scores, length)
                    VectorKernels.softmaxRows(scores, rows: sequence.count, columns: sequence.count, stride: sequence.count)
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, length, Int32(headSize), length, 1, scores, length,
                        value + offset, Int32(h), 0, context + offset, Int32(h))
                }
            }

            // Output projection, residual, LayerNorm: hidden = LN(hidden + context Woᵀ + bo).
            dense(context, layer.output, rows: h, columns: h, hidden, accumulate: true)
            VectorKernels.biasLayerNorm(
                hidden, rows: tokens, columns: h, bias: layer.outputBias, gamma: layer.attentionNormGamma,
                beta: layer.attentionNormBeta, epsilon: c.layerNormEpsilon, output: hidden)

            // Feed-forward, residual, LayerNorm: hidden = LN(hidden + GELU(hidden Wiᵀ + bi) Wdᵀ + bd).
            dense(hidden, layer.intermediate, rows: f, columns: h, intermediate, accumulate: false)
            VectorKernels.biasGELU(intermediate, rows: tokens, columns: f, bias: layer.intermediateBias)
            dense(intermediate, layer.down, rows: h, columns: f, hidden, accumulate: true)
            VectorKernels.biasLayerNorm(
                hidden, rows: tokens, columns: h, bias: layer.downBias, gamma: layer.outputNormGamma,
                beta: layer.outputNormBeta, epsilon: c.layerNormEpsilon, output: hidden)
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
