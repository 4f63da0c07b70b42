import CZlib
import Foundation

/// A decoded PNG, for tests that look at rendered pages: 8-bit RGB or RGBA, not interlaced (what MuPDF writes).
///
/// ```swift
/// let image = try PNGImage(data: png)
/// let (r, g, b) = image.pixel(x: 10, y: 20)
/// ```
public struct PNGImage: Sendable {
    public var width: Int
    public var height: Int
    /// Channels per pixel: 3 (RGB) or 4 (RGBA).
    public var channels: Int
    /// The pixels, row by row, `channels` bytes each.
    public var pixels: [UInt8]

    /// Why a PNG could not be decoded.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.count > 8, bytes.prefix(8).elementsEqual([137, 80, 78, 71, 13, 10, 26, 10]) else {
            throw Invalid(description: "no PNG signature")
        }
        func u32(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        var offset = 8
        var compressed: [UInt8] = []
        var width = 0, height = 0, channels = 0
        while offset + 8 <= bytes.count {
            let length = u32(offset)
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            let body = offset + 8
            guard body + length + 4 <= bytes.count else { throw Invalid(description: "a chunk runs past the end") }
            switch type {
            case "IHDR":
                width = u32(body)
                height = u32(body + 4)
                guard bytes[body + 8] == 8, bytes[body + 12] == 0 else { throw Invalid(description: "not 8-bit, or interlaced") }
                switch bytes[body + 9] {
                case 2: channels = 3
                case 6: channels = 4
                default: throw Invalid(description: "colour type \(bytes[body + 9]) is not RGB or RGBA")
                }
            case "IDAT":
                compressed += bytes[body..<body + length]
            default:
                break
            }
            offset = body + length + 4
        }
        guard width > 0, height > 0, channels > 0 else { throw Invalid(description: "no IHDR") }
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        var rawLength = uLong(raw.count)
        let status = compressed.withUnsafeBufferPointer { input in
            uncompress(&raw, &rawLength, input.baseAddress, uLong(input.count))
        }
        guard status == Z_OK, Int(rawLength) == raw.count else { throw Invalid(description: "the image data does not inflate (\(status))") }
        var pixels = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            for x in 0..<stride {
                let value = Int(raw[y * (stride + 1) + 1 + x])
                let a = x >= channels ? Int(pixels[y * stride + x - channels]) : 0
                let b = y > 0 ? Int(pixels[(y - 1) * stride + x]) : 0
                let c = x >= channels && y > 0 ? Int(pixels[(y - 1) * stride + x - channels]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                case 4:
                    let p = a + b - c
                    let (pa, pb, pc) = (abs(p - a), abs(p - b), abs(p - c))
                    predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
                default: throw Invalid(description: "unknown filter \(filter)")
                }
                pixels[y * stride + x] = UInt8((value + predicted) & 0xFF)
            }
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// The red, green and blue of the pixel at (`x`, `y`), from the top left.
    public func pixel(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let at = (y * width + x) * channels
        return (pixels[at], pixels[at + 1], pixels[at + 2])
    }

    /// Whether the pixel at (`x`, `y`) is the highlight's yellow (a white background tinted: much less blue than red
    /// and green).
    public func isHighlighted(x: Int, y: Int) -> Bool {
        let (r, g, b) = pixel(x: x, y: y)
        return r > 200 && g > 170 && b < 120
    }

    /// The rows that hold at least one highlighted pixel.
    public var highlightedRows: [Int] {
        (0..<height).filter { y in (0..<width).contains { isHighlighted(x: $0, y: y) } }
    }
}
