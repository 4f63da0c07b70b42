import Foundation
// TEMPORARY stub until the documents branch lands.
public struct DocumentError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable { let name: String; public static let unsupportedType = Code(name: "unsupportedType") }
    public var code: Code
    public var message: String
    public var fileName: String
    public var description: String { "\(fileName): \(message)" }
}
public struct ExtractionLimits: Sendable { public var maxBytes = 1 << 28; public var maxPages = 10_000; public var maxCharacters = 50_000_000; public init() {} }
public struct DocumentLoader: Sendable {
    public init(limits: ExtractionLimits = .init(), password: String? = nil) {}
    public func load(contentsOf url: URL) throws(DocumentError) -> Document {
        let data = (try? Data(contentsOf: url)) ?? Data()
        return try load(data: data, fileName: url.lastPathComponent)
    }
    public func load(data: Data, fileName: String) throws(DocumentError) -> Document {
        let text = String(decoding: data, as: UTF8.self)
        return Document(fileName: fileName, kind: .text, pageCount: 1, pages: [Page(number: 1, text: text)], contentHash: SHA256.hex(data), byteCount: data.count)
    }
    public func loadAll(_ urls: [URL]) -> [Result<Document, DocumentError>] {
        urls.map { url in Result { () throws(DocumentError) in try load(contentsOf: url) } }
    }
}
