/// The element-wise steps of the encoder, vectorised eight floats at a time: LayerNorm, GELU, softmax.
///
/// `exp` and `erf` are polynomial approximations (Cephes `expf`, relative error about 1e-7; Abramowitz and
/// Stegun 7.1.26 for `erf`, absolute error below 1.5e-7), far below float32 noise in the model's output.
enum VectorKernels {
    typealias Vector = SIMD8<Float>
    static let width = Vector.scalarCount

    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
    }

    @inline(__always)
    static func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
    }

    /// eˣ for every lane (Cephes `expf`: 2ⁿ · e^r with |r| ≤ ln2/2, a degree-5 polynomial for e^r).
    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        let low = Vector(repeating: -87.3), high = Vector(repeating: 88.3)
        let clamped = x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
        // Round x·log₂e to the nearest integer n with the 1.5·2²³ trick: adding it leaves n in the low
        // mantissa bits, so n as an Int32 is a subtraction of bit patterns (all lane-wise, no scalar loop).
        let magic: Float = 12_582_912
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: Int32(bitPattern: magic.bitPattern))
        var r = clamped - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p = Vector(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * (r * r) + r + 1
        let exponent = (integer &+ 127) &<< 23
        return p * unsafeBitCast(exponent, to: Vector.self)
    }

    /// erf(x) for every lane (Abramowitz and Stegun 7.1.26, odd-symmetric).
    @inline(__always)
    static func erf(_ x: Vector) -> Vector {
        let a = x.replacing(with: -x, where: x .< 0)
        let t = 1 / (1 + 0.327_591_1 * a)
        var p = Vector(repeating: 1.061_405_429)
        p = p * t - 1.453_152_027
        p = p * t + 1.421_413_741
        p = p * t - 0.284_496_736
        p = p * t + 0.254_829_592
        let y = 1 - p * t * VectorKernels.exp(-(a * a))
        return y.replacing(with: -y, where: x .< 0)
    }

    /// GELU (the exact, erf form BERT uses) of `values[i] + bias[i % columns]`, in place, over `rows` rows.
    static func biasGELU(_ values: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>) {
        precondition(columns % width == 0, "columns must be a multiple of \(width)")
        for row in 0..<rows {
            let line = values + row * columns
            var column = 0
            while column < columns {
                let x = load(line + column) + load(bias + column)
                store(0.5 * x * (1 + erf(x * 0.707_106_77)), line + column)
                column += width
            }
        }
    }

    /// Adds `bias` to every row.
    static func addBias(_ values: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>) {
        precondition(columns % width == 0, "columns must be a multiple of \(width)")
        for row in 0..<rows {
            let line = values + row * columns
            var column = 0
            while column < columns {
                store(load(line + column) + load(bias + column), line + column)
                column += width
            }
        }
    }

    /// `output[row] = LayerNorm(input[row] + bias) · gamma + beta`, row by row (`output` may be `input`).
    static func biasLayerNorm(
        _ input: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>?,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float, output: UnsafeMutablePointer<Float>
    ) {
        precondition(columns % width == 0, "columns must be a multiple of \(width)")
        let count = Float(columns)
        for row in 0..<rows {
            let line = input + row * columns
            if let bias {
                var column = 0
                while column < columns {
                    store(load(line + column) + load(bias + column), line + column)
                    column += width
                }
            }
            var sum = Vector()
            var column = 0
            while column < columns {
                sum += load(line + column)
                column += width
            }
            let mean = sum.sum() / count
            var squares = Vector()
            column = 0
            while column < columns {
                let centred = load(line + column) - mean
                squares += centred * centred
                column += width
            }
            let scale = 1 / (squares.sum() / count + epsilon).squareRoot()
            let out = output + row * columns
            column = 0
            while column < columns {
                store((load(line + column) - mean) * scale * load(gamma + column) + load(beta + column), out + column)
                column += width
            }
        }
    }

    /// Softmax of each of `rows` rows of `columns` floats, in place (rows `stride` floats apart).
    static func softmaxRows(_ values: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int) {
        let whole = columns - columns % width
        for row in 0..<rows {
            let line = values + row * stride
            var maxima = Vector(repeating: -.infinity)
            var column = 0
            while column < whole {
                let values = load(line + column)
                maxima.replace(with: values, where: values .> maxima)
                column += width
            }
            var maximum = maxima.max()
            for index in whole..<columns { maximum = max(maximum, line[index]) }
            var sums = Vector()
            column = 0
            while column < whole {
                let e = VectorKernels.exp(load(line + column) - maximum)
                store(e, line + column)
                sums += e
                column += width
            }
            var sum = sums.sum()
            if whole < columns {
                var tail = Vector(repeating: -.infinity)
                for index in whole..<columns { tail[index - whole] = line[index] - maximum }
                let e = VectorKernels.exp(tail)
                for index in whole..<columns {
                    line[index] = e[index - whole]
                    sum += e[index - whole]
                }
            }
            let scale = 1 / sum
            column = 0
            while column < whole {
                store(load(line + column) * scale, line + column)
                column += width
            }
            for index in whole..<columns { line[index] *= scale }
        }
    }
}
