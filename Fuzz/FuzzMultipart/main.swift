import Foundation
import RAGServer

// libFuzzer target for the multipart/form-data parser (`Multipart`, `MultipartParser`), built by scripts/fuzz.sh.
//
// An input is one control byte and a body. The control byte picks the boundary (its top two bits) and the size of
// the pieces the body arrives in (its low six bits, 1 to 64 bytes). The body is parsed whole (`Multipart.parse`)
// and as it would arrive (`MultipartParser.append`, stopping at the closing delimiter as the server does), under
// small limits. A trap, a part count over the limit, or a disagreement between the two parses is a finding. The
// header helpers (`Multipart.boundary(from:)`, `Multipart.parameter(_:in:)`) get the body's first line.

enum Setting {
    static let boundaries = ["fuzz-boundary", "b", "----WebKitFormBoundary7MA4YWxkTrZu0gW", String(repeating: "z", count: 70)]
    static let limits = MultipartLimits(maxParts: 4, maxHeaderBytes: 256)
}

func fuzzMultipart(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    let control = start[0]
    let body = Data(UnsafeBufferPointer(start: start + 1, count: count - 1))
    let boundary = Setting.boundaries[Int(control >> 6)]
    let step = Int(control & 0x3F) + 1

    let whole = Result { () throws -> [MultipartPart] in try Multipart.parse(body, boundary: boundary, limits: Setting.limits) }
    let streamed = Result { () throws -> [MultipartPart] in
        var parser = try MultipartParser(boundary: boundary, limits: Setting.limits)
        var offset = body.startIndex
        while offset < body.endIndex, !parser.isComplete {
            let end = min(offset + step, body.endIndex)
            try body[offset..<end].withUnsafeBytes { try parser.append($0) }
            offset = end
        }
        return try parser.finish()
    }
    switch (whole, streamed) {
    case (.success(let a), .success(let b)):
        check(a == b, "whole-body and streamed parses found different parts")
        check(a.count <= Setting.limits.maxParts, "more parts than the limit")
    case (.failure(let a), .failure(let b)):
        guard let a = a as? MultipartError, let b = b as? MultipartError else { fail("not a MultipartError: \(a) / \(b)") }
        check(a.code == b.code, "whole-body and streamed parses failed differently: \(a) / \(b)")
    default:
        fail("one parse succeeded and the other failed: \(whole) / \(streamed)")
    }

    let line = String(decoding: body.prefix { $0 != UInt8(ascii: "\n") }.prefix(512), as: UTF8.self)
    _ = Multipart.boundary(from: line)
    _ = Multipart.parameter("filename", in: line)
    _ = Multipart.parameter("name", in: line)
    return 0
}

// libFuzzer's driver, from the toolchain's `libclang_rt.fuzzer_no_main` (scripts/fuzz.sh links it): SwiftPM gives an
// executable a `main` of its own, so this one calls the driver instead of using libFuzzer's `main`.
@_extern(c, "LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

var argumentCount = CommandLine.argc
var argumentValues = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argumentCount, &argumentValues) { fuzzMultipart($0, $1) })

/// Reports a finding: the message on standard error (an optimised build drops `precondition`'s), then a trap that
/// libFuzzer records with the input.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("finding: \(message)\n".utf8))
    fatalError(message)
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}
