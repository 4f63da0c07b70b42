import CEncoderKernels
import Foundation
import Testing

/// The MiniLM encoder's C kernels, every variant this CPU can run (the reference test in MiniLMTests covers only the
/// one chosen at run time), against plain Double arithmetic.
@Suite struct EncoderKernelsTests {
    /// The variants `ragenc_variants` lists: on an AVX-512 machine all three.
    static var variants: UnsafeBufferPointer<ragenc_kernels> {
        var count = 0
        let first = ragenc_variants(&count)
        return UnsafeBufferPointer(start: first, count: count)
    }

    /// Deterministic numbers in -scale ... scale (a linear congruential generator).
    struct Numbers {
        var state: UInt64
        mutating func next(_ scale: Float) -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
        mutating func array(_ count: Int, _ scale: Float) -> [Float] { (0..<count).map { _ in next(scale) } }
    }

    @Test func theChosenVariantComesFirst() {
        #expect(Self.variants.first.map { String(cString: $0.name) } == String(cString: ragenc_kernel_name()))
        #expect(Self.variants.last.map { String(cString: $0.name) } == "portable")
    }

    /// Lengths around the vector widths and row blocks (4, 8, 12, 16), and the head size the fast path is for (32)
    /// next to one it is not (64).
    @Test(arguments: [1, 2, 7, 13, 16, 17, 33, 100, 256], [32, 64])
    func attentionMatchesTheDefinition(length: Int, headSize: Int) {
        let hidden = 128
        let heads = hidden / headSize
        var numbers = Numbers(state: UInt64(length * 1000 + headSize))
        let q = numbers.array(length * hidden, 3), k = numbers.array(length * hidden, 3), v = numbers.array(length * hidden, 1)
        let qBias = numbers.array(hidden, 1), kBias = numbers.array(hidden, 1), vBias = numbers.array(hidden, 1)
        let scale = 1 / Float(headSize).squareRoot()
        // Keys transposed, with the padding filled with NaN: the kernel must not use it.
        let stride = length + ragenc_attention_key_padding()
        var kt = [Float](repeating: .nan, count: hidden * stride)
        for j in 0..<length { for d in 0..<hidden { kt[d * stride + j] = k[j * hidden + d] } }
        // softmax(scale · (q + qb)(k + kb)ᵀ) (v + vb), with the key bias the kernel leaves out.
        var expected = [Double](repeating: 0, count: length * hidden)
        for head in 0..<heads {
            for i in 0..<length {
                let scores = (0..<length).map { j in
                    (0..<headSize).reduce(0.0) { sum, d in
                        let c = head * headSize + d
                        return sum + Double(q[i * hidden + c] + qBias[c]) * Double(k[j * hidden + c] + kBias[c])
                    } * Double(scale)
                }
                let maximum = scores.max()!
                let weights = scores.map { Foundation.exp($0 - maximum) }
                let total = weights.reduce(0, +)
                for d in 0..<headSize {
                    let c = head * headSize + d
                    let sum = (0..<length).reduce(0.0) { $0 + weights[$1] * Double(v[$1 * hidden + c] + vBias[c]) }
                    expected[i * hidden + c] = sum / total
                }
            }
        }
        for variant in Self.variants {
            var out = [Float](repeating: .nan, count: length * hidden)
            var scratch = [Float](repeating: 0, count: ragenc_attention_scratch_floats(length))
            for head in 0..<heads {
                let c = head * headSize
                variant.attention(
                    q.withUnsafeBufferPointer { $0.baseAddress! + c }, hidden, qBias.withUnsafeBufferPointer { $0.baseAddress! + c },
                    kt.withUnsafeBufferPointer { $0.baseAddress! + c * stride }, stride,
                    v.withUnsafeBufferPointer { $0.baseAddress! + c }, hidden, vBias.withUnsafeBufferPointer { $0.baseAddress! + c },
                    out.withUnsafeMutableBufferPointer { $0.baseAddress! + c }, hidden, length, headSize, scale,
                    scratch.withUnsafeMutableBufferPointer { $0.baseAddress! })
            }
            let error = zip(out, expected).map { abs(Double($0) - $1) }.max()!
            #expect(error < 5e-6, "\(String(cString: variant.name)): max error \(error)")
        }
    }

    @Test(arguments: [7, 384, 1536])
    func geluAndLayerNormMatchTheDefinition(columns: Int) {
        let rows = 3
        var numbers = Numbers(state: UInt64(columns))
        let input = numbers.array(rows * columns, 6), bias = numbers.array(columns, 1)
        let gamma = numbers.array(columns, 0.2).map { $0 + 1 }, beta = numbers.array(columns, 0.1)
        for variant in Self.variants {
            let name = String(cString: variant.name)
            var gelu = input
            variant.bias_gelu(&gelu, rows, columns, bias)
            for index in 0..<rows * columns {
                let x = Double(input[index] + bias[index % columns])
                #expect(abs(Double(gelu[index]) - 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot()))) < 1e-6, "\(name) GELU(\(x))")
            }
            for withBias in [false, true] {
                var out = [Float](repeating: .nan, count: rows * columns)
                variant.bias_layer_norm(input, rows, columns, withBias ? bias : nil, gamma, beta, 1e-12, &out)
                for row in 0..<rows {
                    let x = (0..<columns).map { Double(input[row * columns + $0] + (withBias ? bias[$0] : 0)) }
                    let mean = x.reduce(0, +) / Double(columns)
                    let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(columns)
                    for c in 0..<columns {
                        let expected = (x[c] - mean) / (variance + 1e-12).squareRoot() * Double(gamma[c]) + Double(beta[c])
                        #expect(abs(Double(out[row * columns + c]) - expected) < 2e-6, "\(name) LayerNorm row \(row)")
                    }
                }
            }
        }
    }
}
