import Foundation
import RAGCore

/// An 8-bit grayscale image (0 black, 255 white), row by row without padding: a scanned page for ``TestPDF/scanned(_:)``.
public struct GrayPixels: Sendable, Hashable {
    public var width: Int
    public var height: Int
    /// `width` × `height` bytes, top row first.
    public var bytes: [UInt8]

    public init(width: Int, height: Int, bytes: [UInt8]) {
        precondition(width > 0 && height > 0 && bytes.count == width * height, "\(width) x \(height) pixels need as many bytes")
        self.width = width
        self.height = height
        self.bytes = bytes
    }

    /// The image turned upside down (a page fed head first).
    public func rotatedHalfTurn() -> GrayPixels {
        GrayPixels(width: width, height: height, bytes: bytes.reversed())
    }

    /// The image turned a quarter turn clockwise (as a page fed sideways into a scanner comes out).
    public func rotatedClockwise() -> GrayPixels {
        var rotated = [UInt8](repeating: 255, count: bytes.count)
        for y in 0..<height {
            for x in 0..<width {
                // (x, y) goes to column height - 1 - y of row x.
                rotated[x * height + (height - 1 - y)] = bytes[y * width + x]
            }
        }
        return GrayPixels(width: height, height: width, bytes: rotated)
    }
}

extension TestPDF {
    /// One page of ``scanned(_:)``.
    public enum ScannedPage: Sendable {
        /// An image-only page: `pixels` scanned at `dpi` fill the page, as a scanner writes them (Flate-compressed
        /// DeviceGray). With `hiddenText`, the page also has an invisible text layer (render mode 3) with that text
        /// in one small line at the bottom: the thin layer of junk some scanners add.
        case image(GrayPixels, dpi: Int, hiddenText: String? = nil)
        /// A page with an ordinary text layer, as ``TestPDF/make(pages:title:author:compressed:outline:)`` writes.
        case text(String)
        /// An image-only page whose image stream is not valid Flate data (the declared size, random bytes).
        case brokenImage(width: Int, height: Int, dpi: Int)
        /// A US Letter page drawn by `content`, a raw content stream (Flate-compressed), with no text: for pages that
        /// are costly to draw (`String(repeating: "0 0 612 792 re f\n", count: 200_000)`).
        case drawing(String)
    }

    /// A PDF of scanned pages (images without text), text pages and broken images, for OCR tests.
    ///
    /// ```swift
    /// let pdf = TestPDF.scanned([.image(pixels, dpi: 300), .text("A page with a text layer.")])
    /// ```
    public static func scanned(_ pages: [ScannedPage]) -> Data {
        var writer = Writer()
        let catalog = writer.reserve()
        let tree = writer.reserve()
        let font = writer.reserve()
        let numbers = pages.map { _ in (page: writer.reserve(), content: writer.reserve(), image: writer.reserve()) }
        writer.write(catalog, "<< /Type /Catalog /Pages \(tree) 0 R >>")
        writer.write(tree, "<< /Type /Pages /Kids [\(numbers.map { "\($0.page) 0 R" }.joined(separator: " "))] /Count \(pages.count) >>")
        writer.write(font, Writer.helvetica)
        for (page, number) in zip(pages, numbers) {
            var width = 612.0, height = 792.0
            var content: String
            var resources = "/Font << /F1 \(font) 0 R >>"
            switch page {
            case .text(let text):
                content = Writer.textContent(text)
                writer.write(number.image, "null")
            case .drawing(let drawing):
                content = drawing
                writer.write(number.image, "null")
            case .image(let pixels, let dpi, let hiddenText):
                width = Double(pixels.width) * 72 / Double(dpi)
                height = Double(pixels.height) * 72 / Double(dpi)
                writer.writeImage(number.image, width: pixels.width, height: pixels.height, data: Writer.deflate(Data(pixels.bytes)))
                content = "q \(format(width)) 0 0 \(format(height)) 0 0 cm /Im0 Do Q"
                if let hiddenText {
                    content += "\nBT 3 Tr /F1 6 Tf 20 10 Td (\(Writer.escape(hiddenText))) Tj ET"
                }
                resources += " /XObject << /Im0 \(number.image) 0 R >>"
            case .brokenImage(let pixelWidth, let pixelHeight, let dpi):
                width = Double(pixelWidth) * 72 / Double(dpi)
                height = Double(pixelHeight) * 72 / Double(dpi)
                var generator = UInt64(0x9E37_79B9_7F4A_7C15)
                let garbage = (0..<4096).map { _ -> UInt8 in
                    generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return UInt8(truncatingIfNeeded: generator >> 56)
                }
                writer.writeImage(number.image, width: pixelWidth, height: pixelHeight, data: Data([0x78, 0x9C] + garbage))
                content = "q \(format(width)) 0 0 \(format(height)) 0 0 cm /Im0 Do Q"
                resources += " /XObject << /Im0 \(number.image) 0 R >>"
            }
            writer.write(
                number.page,
                "<< /Type /Page /Parent \(tree) 0 R /MediaBox [0 0 \(format(width)) \(format(height))]"
                    + " /Resources << \(resources) >> /Contents \(number.content) 0 R >>")
            writer.compressed = true
            writer.writeStream(number.content, content)
        }
        writer.trailer(root: catalog, info: nil)
        return writer.finish()
    }

    private static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    /// A clean scan of one page showing `text` (as ``make(pages:title:author:compressed:outline:)`` lays it out):
    /// the page rendered in grayscale at `dpi`, as a scanner would see it. Its source text is known, for measuring OCR.
    public static func scan(of text: String, dpi: Int = 300) throws -> GrayPixels {
        let page = try DocumentLoader().grayscalePage(1, of: make(pages: [text]), dpi: dpi)
        return GrayPixels(width: page.width, height: page.height, bytes: page.pixels)
    }
}

extension TestPDF.Writer {
    /// Writes a Flate-compressed 8-bit DeviceGray image XObject whose stream is `data` as given.
    mutating func writeImage(_ number: Int, width: Int, height: Int, data: Data) {
        offsets[number] = body.count
        body.append(
            Data(
                ("\(number) 0 obj\n<< /Type /XObject /Subtype /Image /Width \(width) /Height \(height) /ColorSpace /DeviceGray"
                    + " /BitsPerComponent 8 /Filter /FlateDecode /Length \(data.count) >>\nstream\n").utf8))
        body.append(data)
        body.append(Data("\nendstream\nendobj\n".utf8))
    }
}
