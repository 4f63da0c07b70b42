import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RAGCore

extension HTTPField.Name {
    /// The page's printed label (`iv`, `A-3`), percent-encoded UTF-8, when the PDF defines page labels.
    static let pageLabel = Self("X-Page-Label")!
    /// How many rectangles of the cited passage were highlighted (0: the passage's text was not found on the page).
    static let highlightCount = Self("X-Highlight-Count")!
}

extension ServerState {
    /// `GET /v1/documents/{id}/pages/{n}/image?width=900&chunk=3`: page `n` (1-based) of a PDF as a PNG, `width`
    /// pixels wide (the server's default when absent), with passage `chunk` (a citation's `chunk_index`) highlighted.
    /// Any replica draws any page: the PDF's bytes are in the collection's store. The image of one id, page, width
    /// and passage never changes (an id is the hash of the PDF's bytes), so clients may cache it.
    func pageImage(_ request: Request, context: ServerContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let pageText = try context.parameters.require("page")
        guard Self.isDocumentID(id) else {
            throw APIError(.notFound, code: "document_not_found", "no document has the id '\(id.prefix(64))'")
        }
        let query = request.uri.queryParameters
        let page = try Self.integer(pageText, name: "the page number", in: 1...Int(Int32.max))
        let width = try query.get("width").map { try Self.integer(String($0), name: "width", in: 1...Int(Int32.max)) }
        let chunk = try query.get("chunk").map { try Self.integer(String($0), name: "chunk", in: 0...Int(Int32.max)) }
        let rendered = try await engine.renderPage(document: DocumentID(rawValue: id), page: page, width: width, chunk: chunk)
        var headers: HTTPFields = [
            .contentType: "image/png", .cacheControl: "private, max-age=86400, immutable",
            .highlightCount: String(rendered.highlights.count),
        ]
        if let label = rendered.pageLabel {
            headers[.pageLabel] = label.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: rendered.png)))
    }

    /// Whether `text` can be a document id: 1 to 64 ASCII letters and digits (ids are 16 hex digits).
    static func isDocumentID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64 && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }

    /// A decimal integer of at most 10 digits in `range`, else 400 `invalid_page_request` naming it.
    static func integer(_ text: String, name: String, in range: ClosedRange<Int>) throws -> Int {
        guard text.utf8.count <= 10, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let value = Int(text), range.contains(value)
        else {
            throw APIError(
                .badRequest, code: "invalid_page_request",
                "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text.prefix(32))'")
        }
        return value
    }
}
