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

    /// The int8 dense layer: the kernel this CPU runs gives exactly what the portable C does (integer sums, the same
    /// float steps), for row counts around its 3- and 6-row tiles and 96-row blocks, for layers narrow enough for its
    /// all-groups tiles and wide ones it takes a group at a time, with one group or several, with and without
    /// smoothing factors, symmetric and asymmetric rows, storing and accumulating; and both are the fp32 product
    /// within int8's error.
    @Test(arguments: [1, 2, 5, 6, 7, 13, 96, 97, 200])
    func int8DenseLayerMatchesPortableAndFP32(rows: Int) {
        for (outputs, inputs, group) in [(64, 36, 36), (128, 384, 192), (64, 1536, 192), (64, 768, 768)] {
            var numbers = Numbers(state: UInt64(rows * 7919 + outputs + inputs))
            let weight = numbers.array(outputs * inputs, 0.1), x = numbers.array(rows * inputs, 2)
            // One column of x far larger than the rest, as in BERT's hidden states; the factors shrink it by the
            // square root of its excess (SmoothQuant's α = ½), moving half of it into the weights.
            var wide = x
            for row in 0..<rows { wide[row * inputs + 3] *= 20 }
            let factors = (0..<inputs).map { $0 == 3 ? 1 / Float(20).squareRoot() : 1 }
            // One-sided values, as GELU's: above -0.17.
            let oneSided = x.map { max($0 + 1, -0.17) }
            let groups = inputs / group
            for (input, f, asymmetric, bound) in [
                (wide, nil, false, 0.05), (wide, factors, false, 0.015), (oneSided, nil, false, 0.02), (oneSided, nil, true, 0.01),
            ] as [([Float], [Float]?, Bool, Double)] {
                let label = "factors \(f != nil), asymmetric \(asymmetric), \(rows) × \(inputs) → \(outputs) by \(group)"
                var codes = [Int8](repeating: 0, count: ragenc_i8_packed_bytes(outputs, inputs))
                var scales = [Float](repeating: 0, count: groups * outputs), offsets = scales
                ragenc_i8_pack(weight, outputs, inputs, group, f, &codes, &scales, &offsets)
                var a = [UInt8](repeating: 0, count: rows * inputs), aPortable = a
                var aScales = [Float](repeating: 0, count: rows * groups), aScalesPortable = aScales
                var zeros = [Int32](repeating: 0, count: rows * groups), zerosPortable = zeros
                ragenc_i8_quantize(input, rows, inputs, inputs, group, f, asymmetric ? 1 : 0, &a, &aScales, &zeros)
                ragenc_i8_quantize_portable(
                    input, rows, inputs, inputs, group, f, asymmetric ? 1 : 0, &aPortable, &aScalesPortable, &zerosPortable)
                #expect(a == aPortable && aScales == aScalesPortable && zeros == zerosPortable, "quantized activations, \(label)")
                #expect(zeros.allSatisfy { asymmetric ? $0 < 128 : $0 == 128 }, "zero points \(zeros.prefix(4)), \(label)")
                for accumulate: Int32 in [0, 1] {
                    let start = (0..<rows * outputs).map { Float($0 % 5) }
                    var out = start, portable = start
                    ragenc_i8_gemm(a, aScales, zeros, rows, inputs, group, codes, scales, offsets, outputs, &out, outputs, accumulate)
                    ragenc_i8_gemm_portable(
                        a, aScales, zeros, rows, inputs, group, codes, scales, offsets, outputs, &portable, outputs, accumulate)
                    #expect(out == portable, "\(String(cString: ragenc_i8_kernel_name())) against portable C, \(label)")
                    // Against the fp32 product (without what `accumulate` starts from): relative error of the matrix.
                    var error = 0.0, norm = 0.0
                    for row in 0..<rows {
                        for o in 0..<outputs {
                            var exact = 0.0
                            for i in 0..<inputs { exact += Double(input[row * inputs + i]) * Double(weight[o * inputs + i]) }
                            let got = Double(out[row * outputs + o]) - (accumulate == 1 ? Double(start[row * outputs + o]) : 0)
                            error += (got - exact) * (got - exact)
                            norm += exact * exact
                        }
                    }
                    let relative = (error / norm).squareRoot()
                    #expect(relative < bound, "relative error \(relative), \(label)")
                }
            }
        }
    }

    /// The measures the encoder relies on, each against its plain form on the values it is for: smoothing factors and
    /// smaller groups on a column of outliers, and asymmetric rows on one-sided values.
    @Test func smoothingGroupsAndAsymmetricRowsShrinkTheError() {
        let rows = 32, outputs = 64, inputs = 64
        var numbers = Numbers(state: 42)
        let weight = numbers.array(outputs * inputs, 0.1)
        var outliers = numbers.array(rows * inputs, 1)
        for row in 0..<rows { outliers[row * inputs] *= 40 }
        let oneSided = numbers.array(rows * inputs, 1).map { max($0 * 3, -0.17) }
        func error(_ x: [Float], _ factors: [Float]?, asymmetric: Bool, group: Int = inputs) -> Double {
            let groups = inputs / group
            var codes = [Int8](repeating: 0, count: ragenc_i8_packed_bytes(outputs, inputs))
            var scales = [Float](repeating: 0, count: groups * outputs), offsets = scales
            ragenc_i8_pack(weight, outputs, inputs, group, factors, &codes, &scales, &offsets)
            var a = [UInt8](repeating: 0, count: rows * inputs), aScales = [Float](repeating: 0, count: rows * groups)
            var zeros = [Int32](repeating: 0, count: rows * groups)
            ragenc_i8_quantize(x, rows, inputs, inputs, group, factors, asymmetric ? 1 : 0, &a, &aScales, &zeros)
            var out = [Float](repeating: 0, count: rows * outputs)
            ragenc_i8_gemm(a, aScales, zeros, rows, inputs, group, codes, scales, offsets, outputs, &out, outputs, 0)
            var sum = 0.0, norm = 0.0
            for row in 0..<rows {
                for o in 0..<outputs {
                    var exact = 0.0
                    for i in 0..<inputs { exact += Double(x[row * inputs + i]) * Double(weight[o * inputs + i]) }
                    sum += (Double(out[row * outputs + o]) - exact) * (Double(out[row * outputs + o]) - exact)
                    norm += exact * exact
                }
            }
            return (sum / norm).squareRoot()
        }
        let plain = error(outliers, nil, asymmetric: false)
        let smoothed = error(outliers, (0..<inputs).map { $0 == 0 ? 1 / Float(40).squareRoot() : 1 }, asymmetric: false)
        #expect(smoothed < plain / 2, "smoothed \(smoothed), plain \(plain)")
        let grouped = error(outliers, nil, asymmetric: false, group: 16)
        #expect(grouped < plain * 0.7, "groups of 16 \(grouped), plain \(plain)")
        let symmetric = error(oneSided, nil, asymmetric: false), asymmetric = error(oneSided, nil, asymmetric: true)
        #expect(asymmetric < symmetric * 0.7, "asymmetric \(asymmetric), symmetric \(symmetric)")
    }

    @Test(arguments: [(1, 1), (5, 384), (16, 16), (17, 33), (300, 384)])
    func transposeMovesEveryValue(rows: Int, columns: Int) {
        let input = (0..<rows * columns).map(Float.init)
        let outStride = rows + 3
        var out = [Float](repeating: -1, count: columns * outStride)
        ragenc_transpose(input, rows, columns, columns, &out, outStride)
        for r in 0..<rows {
            for c in 0..<columns where out[c * outStride + r] != input[r * columns + c] {
                Issue.record("(\(r), \(c)) is \(out[c * outStride + r])")
                return
            }
        }
        // The columns past `rows` in each output row are left alone.
        #expect((0..<columns).allSatisfy { c in out[c * outStride + rows..<(c + 1) * outStride].allSatisfy { $0 == -1 } })
    }
}
