import Foundation

/// A minimal `multipart/form-data` reader (RFC 7578) for uploads: finds the parts, their names, file names,
/// content types and bodies. Bodies are slices of the request body, not copies.
struct MultipartPart {
    var name: String?
    var fileName: String?
    var contentType: String?
    var body: Data
}

enum Multipart {
    struct Malformed: Error {}

    /// The boundary from a `Content-Type: multipart/form-data; boundary=...` header.
    static func boundary(from contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    static func parse(_ body: Data, boundary: String) throws -> [MultipartPart] {
        let delimiter = Data("--\(boundary)".utf8)
        var parts: [MultipartPart] = []
        guard var cursor = body.range(of: delimiter)?.upperBound else { throw Malformed() }
        while true {
            // After a delimiter: "--" ends the body, else CRLF then headers.
            if body[cursor...].starts(with: Data("--".utf8)) { break }
            guard body[cursor...].starts(with: Data("\r\n".utf8)) else { throw Malformed() }
            cursor += 2
            guard let headerEnd = body.range(of: Data("\r\n\r\n".utf8), in: cursor..<body.endIndex) else { throw Malformed() }
            let headerText = String(decoding: body[cursor..<headerEnd.lowerBound], as: UTF8.self)
            let contentStart = headerEnd.upperBound
            guard let next = body.range(of: Data("\r\n".utf8) + delimiter, in: contentStart..<body.endIndex) else { throw Malformed() }
            var part = MultipartPart(body: body[contentStart..<next.lowerBound])
            for line in headerText.components(separatedBy: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if name == "content-type" { part.contentType = value }
                if name == "content-disposition" {
                    part.name = parameter("name", in: value)
                    part.fileName = parameter("filename", in: value)
                }
            }
            parts.append(part)
            cursor = next.upperBound
        }
        return parts
    }

    /// A `key="value"` (or unquoted) parameter of a header value.
    static func parameter(_ key: String, in value: String) -> String? {
        for item in value.split(separator: ";").dropFirst() {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == key else { continue }
            var text = pair[1]
            if text.hasPrefix("\"") && text.hasSuffix("\"") && text.count >= 2 { text = String(text.dropFirst().dropLast()) }
            return text.replacingOccurrences(of: "\\\"", with: "\"")
        }
        return nil
    }
}

/// Makes an uploaded file name safe to store and show: the last path component only, no control characters,
/// at most 200 characters; an empty result becomes `upload.pdf`.
func sanitizeFileName(_ name: String?) -> String {
    guard let name else { return "upload.pdf" }
    let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
    var cleaned = String(last.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) && $0 != "\u{7F}" }.map(Character.init))
        .trimmingCharacters(in: .whitespaces)
    while cleaned.hasPrefix(".") { cleaned.removeFirst() }
    if cleaned.count > 200 { cleaned = String(cleaned.suffix(200)) }
    return cleaned.isEmpty ? "upload.pdf" : cleaned
}
