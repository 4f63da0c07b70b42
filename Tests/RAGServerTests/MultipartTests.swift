import Foundation
import RAGServer
import Testing

/// A multipart body made of `(headers, body)` parts, with an optional preamble and epilogue.
private func form(
    _ parts: [(headers: String, body: String)], boundary: String = "XyZ123", preamble: String = "", epilogue: String = ""
) -> Data {
    var text = preamble.isEmpty ? "" : preamble + "\r\n"
    for part in parts { text += "--\(boundary)\r\n\(part.headers)\r\n\(part.body)\r\n" }
    return Data((text + "--\(boundary)--" + epilogue).utf8)
}

private func field(_ name: String, _ value: String) -> (headers: String, body: String) {
    ("Content-Disposition: form-data; name=\"\(name)\"\r\n", value)
}

/// `count` fields named `f0`, `f1`, ... with the value `v`, built without String concatenation per part.
private func tinyFields(_ count: Int, boundary: String = "XyZ123") -> Data {
    var data = Data()
    for index in 0..<count {
        data.append(contentsOf: Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"f\(index)\"\r\n\r\nv\r\n".utf8))
    }
    data.append(contentsOf: Array("--\(boundary)--\r\n".utf8))
    return data
}

private func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

private func expectError(
    _ code: MultipartError.Code, containing fragment: String = "", sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected a \(code) error", sourceLocation: sourceLocation)
    } catch let error as MultipartError {
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        if !fragment.isEmpty { #expect(error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct MultipartTests {
    @Test func partsKeepTheirNamesFileNamesContentTypesAndBytes() throws {
        let body = form([
            field("note", "hello"),
            ("Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".pdf\"\r\nContent-Type: application/pdf\r\n", "%PDF-1.7\r\nbinary\r\n"),
        ])
        let parts = try Multipart.parse(body, boundary: "XyZ123")
        #expect(parts == [
            MultipartPart(name: "note", body: Data("hello".utf8)),
            MultipartPart(name: "file", fileName: "a \"b\".pdf", contentType: "application/pdf", body: Data("%PDF-1.7\r\nbinary\r\n".utf8)),
        ])
    }

    @Test func headerNamesAreCaseInsensitiveAndLinesWithoutAColonAreSkipped() throws {
        let body = form([("content-DISPOSITION: form-data; NAME=x\r\nnot a header\r\nCONTENT-TYPE:  text/plain \r\n", "1")])
        let part = try #require(try Multipart.parse(body, boundary: "XyZ123").first)
        #expect(part.name == "x")
        #expect(part.contentType == "text/plain")
    }

    @Test(arguments: [
        ("form-data; name=\"file\"; filename=\"a;b.pdf\"", "filename", "a;b.pdf"),
        ("form-data; name=\"file\"; filename=\"say \\\"hi\\\".pdf\"", "filename", "say \"hi\".pdf"),
        ("form-data; NAME = plain ; filename=x", "name", "plain"),
        ("form-data; flag; name=after-a-bare-flag", "name", "after-a-bare-flag"),
        ("form-data; filename=\"first\"; filename=\"second\"", "filename", "first"),
        ("form-data; filename=\"C:\\dir\\f.pdf\"", "filename", "C:\\dir\\f.pdf"),
        ("name=\"the type is skipped\"", "name", nil),
        ("form-data; name=\"unterminated", "name", "unterminated"),
        ("form-data; filename*=UTF-8''x.pdf", "filename", nil),
    ] as [(String, String, String?)])
    func headerParametersAreReadWithTheirQuotes(value: String, key: String, expected: String?) throws {
        #expect(Multipart.parameter(key, in: value) == expected)
        let body = Data("--b\r\nContent-Disposition: \(value)\r\n\r\nv\r\n--b--".utf8)
        let part = try #require(try Multipart.parse(body, boundary: "b").first)
        #expect((key == "name" ? part.name : part.fileName) == expected)
    }

    @Test func thePreambleAndTheEpilogueAreIgnored() throws {
        // The preamble mentions the boundary, but not at the start of a line, so it is no delimiter.
        let body = form([field("a", "1"), field("b", "2")], preamble: "This is a preamble. --XyZ123 is not here.", epilogue: "\r\n--XyZ123\r\ngarbage")
        let parts = try Multipart.parse(body, boundary: "XyZ123")
        #expect(parts.map(\.name) == ["a", "b"])
        #expect(parts.map { text($0.body) } == ["1", "2"])
    }

    @Test func aFirstDelimiterAfterABareCRLFIsFound() throws {
        let parts = try Multipart.parse(Data("\r\n--b\r\n\r\nv\r\n--b--".utf8), boundary: "b")
        #expect(parts.map { text($0.body) } == ["v"])
    }

    /// Found by scripts/fuzz.sh: a body that begins with CRLF `--boundary`, arriving in pieces shorter than that
    /// delimiter, lost its first delimiter (the preamble scan skipped offset 0), so a later `--b--` ended an empty
    /// form where the whole-body parse found the part.
    @Test(arguments: [1, 2, 3, 4, 5, 100])
    func aFirstDelimiterAfterABareCRLFIsFoundWhenItArrivesInPieces(pieceSize: Int) throws {
        let body = Data("\r\n--b\r\n\r\nv\r\n--b--".utf8)
        var parser = try MultipartParser(boundary: "b")
        for start in stride(from: 0, to: body.count, by: pieceSize) {
            try parser.append(body[start..<min(body.count, start + pieceSize)])
        }
        #expect(try parser.finish().map { text($0.body) } == ["v"])
    }

    @Test func theBoundaryInsideABodyNotAfterCRLFIsBodyData() throws {
        let value = "x--XyZ123\r\n\n--XyZ123--\r--XyZ123\r\n-XyZ123 --XyZ12"
        let parts = try Multipart.parse(form([field("a", value), field("b", "2")]), boundary: "XyZ123")
        #expect(parts.map { text($0.body) } == [value, "2"])
    }

    @Test func emptyHeadersEmptyBodiesAndTransportPadding() throws {
        let body = Data("--b \t\r\n\r\nno headers\r\n--b\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--b\r\n\r\n\r\n--b-- \r\n".utf8)
        let parts = try Multipart.parse(body, boundary: "b")
        #expect(parts == [
            MultipartPart(body: Data("no headers".utf8)),
            MultipartPart(name: "e", body: Data()),
            MultipartPart(body: Data()),
        ])
    }

    @Test func aPartWhoseBlankLineIsTheNextDelimitersCRLFHasNoBody() throws {
        let parts = try Multipart.parse(Data("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n--b--".utf8), boundary: "b")
        #expect(parts == [MultipartPart(name: "x", body: Data())])
    }

    @Test func aFormWithNoPartsIsEmpty() throws {
        #expect(try Multipart.parse(Data("--b--\r\n".utf8), boundary: "b").isEmpty)
    }

    @Test(arguments: [
        ("", "no delimiter line '--b'"),
        ("just text\r\n", "no delimiter line '--b'"),
        ("--bX\r\n\r\nv\r\n--b--", "not ended by CRLF (found 'X')"),
        ("--b\n\r\nv\r\n--b--", "not ended by CRLF (found byte 0x0A)"),
        ("--b\rX\r\nv\r\n--b--", "not ended by CRLF (found 'X')"),
        ("--b-x", "followed by '-'"),
        ("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n", "ends inside the headers of part 1"),
        ("--b\r\n\r\nvalue without an end", "ends inside part 1, before the closing delimiter '--b--'"),
        ("--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b", "ends just after the delimiter that follows part 2"),
        ("--b", "ends just after its first delimiter"),
        ("--b\r\n\r\n1\r\n--bb\r\n", "not ended by CRLF (found 'b')"),
    ])
    func malformedBodiesAreRefusedWithTheReason(body: String, reason: String) {
        expectError(.malformed, containing: reason) { _ = try Multipart.parse(Data(body.utf8), boundary: "b") }
    }

    @Test(arguments: ["", String(repeating: "a", count: 71), "a\r\nb", "ends with space ", "semi;colon", "quote\"d", "naïve"])
    func invalidBoundariesAreRefused(boundary: String) {
        expectError(.invalidBoundary) { _ = try MultipartParser(boundary: boundary) }
    }

    @Test(arguments: [String(repeating: "a", count: 70), "b", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "'()+_,-./:=? x"])
    func validBoundariesParse(boundary: String) throws {
        let parts = try Multipart.parse(form([field("a", "1")], boundary: boundary), boundary: boundary)
        #expect(parts.map(\.name) == ["a"])
    }

    @Test func theBoundaryComesFromTheContentType() {
        #expect(Multipart.boundary(from: "multipart/form-data; boundary=abc") == "abc")
        #expect(Multipart.boundary(from: "multipart/form-data; charset=utf-8; BOUNDARY=\"a b\"") == "a b")
        #expect(Multipart.boundary(from: "multipart/form-data") == nil)
    }

    @Test func aFormAtThePartLimitParsesAndOneMorePartIsRefused() throws {
        let limits = MultipartLimits(maxParts: 3)
        let three = form([field("a", "1"), field("b", "2"), field("c", "3")])
        #expect(try Multipart.parse(three, boundary: "XyZ123", limits: limits).count == 3)
        let four = form([field("a", "1"), field("b", "2"), field("c", "3"), field("d", "4")])
        expectError(.tooManyParts, containing: "more than 3 parts") { _ = try Multipart.parse(four, boundary: "XyZ123", limits: limits) }
    }

    @Test func aFormOfTwoHundredThousandPartsIsRefusedByCount() {
        let body = tinyFields(200_000)
        #expect(body.count > 10_000_000)
        expectError(.tooManyParts, containing: "more than 16 parts") { _ = try Multipart.parse(body, boundary: "XyZ123") }
    }

    @Test func withTheLimitLiftedEveryPartOfALargeFormIsFound() throws {
        let parts = try Multipart.parse(tinyFields(20_000), boundary: "XyZ123", limits: .unlimited)
        #expect(parts.count == 20_000)
        #expect(parts.last == MultipartPart(name: "f19999", body: Data("v".utf8)))
    }

    @Test func theStreamingParserStopsAtThePartAfterTheLimitWithoutTheRest() throws {
        var parser = try MultipartParser(boundary: "XyZ123", limits: MultipartLimits(maxParts: 2))
        try parser.append(Data("--XyZ123\r\n\r\n1\r\n--XyZ123\r\n\r\n2\r\n--XyZ123".utf8))
        expectError(.tooManyParts) { try parser.append(Data("\r\nmore to come".utf8)) }
    }

    @Test func partHeadersUpToTheLimitParseAndLongerOnesAreRefused() throws {
        let headers = "Content-Disposition: form-data; name=\"a\"\r\n"
        let body = form([(headers, "1")])
        // Everything between "--XyZ123" and the body: CRLF, the header lines, the blank line.
        let headerBytes = 2 + headers.utf8.count + 2
        #expect(try Multipart.parse(body, boundary: "XyZ123", limits: MultipartLimits(maxHeaderBytes: headerBytes)).count == 1)
        expectError(.headerTooLarge, containing: "part 1 are longer than \(headerBytes - 1) bytes") {
            _ = try Multipart.parse(body, boundary: "XyZ123", limits: MultipartLimits(maxHeaderBytes: headerBytes - 1))
        }
        expectError(.headerTooLarge, containing: "part 2") {
            _ = try Multipart.parse(form([field("a", "1"), ("X-Padding: \(String(repeating: "p", count: 9000))\r\n", "2")]), boundary: "XyZ123")
        }
    }

    @Test func endlessHeadersAreRefusedOnceTheLimitIsReached() throws {
        var parser = try MultipartParser(boundary: "b", limits: MultipartLimits(maxHeaderBytes: 100))
        try parser.append(Data("--b\r\nX-Long: ".utf8))
        try parser.append(Data(repeating: UInt8(ascii: "x"), count: 50))
        expectError(.headerTooLarge) { try parser.append(Data(repeating: UInt8(ascii: "x"), count: 50)) }
    }

    @Test func endlessTransportPaddingCountsAsHeaderBytes() throws {
        var parser = try MultipartParser(boundary: "b", limits: MultipartLimits(maxHeaderBytes: 100))
        try parser.append(Data("--b".utf8))
        expectError(.headerTooLarge) { try parser.append(Data(repeating: UInt8(ascii: " "), count: 200)) }
    }

    @Test(arguments: [1, 2, 3, 5, 7, 13, 64, 1000])
    func chunkedInputGivesTheSamePartsAsWholeInput(chunkSize: Int) throws {
        let body = form(
            [field("a", "x\r\n--XyZ12"), ("", "\r\n--XyZ12 \r"), field("c", ""), ("Content-Disposition: form-data; name=\"f\"; filename=\"f.pdf\"\r\n", "%PDF\r\r\n\r\n")],
            preamble: "pre\r\n--XyZ12", epilogue: "\r\nepilogue")
        let whole = try Multipart.parse(body, boundary: "XyZ123")
        #expect(whole.count == 4)
        var parser = try MultipartParser(boundary: "XyZ123")
        for start in stride(from: 0, to: body.count, by: chunkSize) {
            try parser.append(body[start..<min(body.count, start + chunkSize)])
        }
        #expect(parser.isComplete)
        #expect(try parser.finish() == whole)
    }

    @Test func bytesAfterTheClosingDelimiterAreNotKept() throws {
        var parser = try MultipartParser(boundary: "b")
        try parser.append(Data("--b\r\n\r\nv\r\n--b--".utf8))
        let count = parser.byteCount
        try parser.append(Data(repeating: 0, count: 1000))
        #expect(parser.byteCount == count)
        #expect(try parser.finish().map { text($0.body) } == ["v"])
    }
}
