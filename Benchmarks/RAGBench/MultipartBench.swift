import Foundation
import RAGServer

/// `RAGBench multipart [--repeat R] [--legacy-cap-s S]`: how long `Multipart.parse` takes on forms of 2,000,
/// 20,000 and 200,000 tiny fields (the shape of issue #12: about 62 bytes a part, 12 MB at 200,000), with the part
/// limit lifted so the scan itself is measured; and the parser it replaced (`legacyParse`, below) on the same
/// forms, at 2,000, 5,000 and 20,000 fields, each size only while one run stays under `--legacy-cap-s` (default 30).
/// Also: the 200,000-field form under the default limits (refused at its 17th part), and one 16 MiB part of random
/// bytes (an ordinary upload) and one of CR bytes (the search's worst case).
enum MultipartBench {
    static let boundary = "----RAGBenchBoundary7MA4YWxkTrZu0gW"

    /// A form of `count` fields `f0`, `f1`, ... whose value is `v`.
    static func tinyFields(_ count: Int) -> Data {
        var data = Data()
        for index in 0..<count {
            data.append(contentsOf: Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"f\(index)\"\r\n\r\nv\r\n".utf8))
        }
        data.append(contentsOf: Array("--\(boundary)--\r\n".utf8))
        return data
    }

    /// A form of one file part holding `body`.
    static func onePart(_ body: Data) -> Data {
        Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.pdf\"\r\n\r\n".utf8) + body
            + Data("\r\n--\(boundary)--\r\n".utf8)
    }

    static func run(repeats: Int, legacyCap: Double) -> [String: Any] {
        _ = try? Multipart.parse(tinyFields(2_000), boundary: boundary, limits: .unlimited)  // warm up

        var current: [String: Any] = [:]
        var perPart: [Int: Double] = [:]
        var headline = 0.0
        for size in [2_000, 20_000, 200_000] {
            let form = tinyFields(size)
            var parts = 0
            let times = (0..<repeats).map { _ in
                seconds { parts = (try? Multipart.parse(form, boundary: boundary, limits: .unlimited))?.count ?? -1 }
            }
            guard parts == size else { fail("multipart: the parser found \(parts) parts in a form of \(size)") }
            let m = median(times)
            headline = m
            perPart[size] = m / Double(size)
            current["\(size)"] = ["parts": size, "bytes": form.count, "median_s": m, "per_part_us": m / Double(size) * 1e6, "times_s": times]
        }

        // With the default limits the same 200,000-field form is refused at its 17th part.
        let hostile = tinyFields(200_000)
        var refused = false
        let capped = (0..<repeats).map { _ in
            seconds {
                do { _ = try Multipart.parse(hostile, boundary: boundary) } catch let error as MultipartError { refused = error.code == .tooManyParts } catch {}
            }
        }
        guard refused else { fail("multipart: the default limits did not refuse a form of 200,000 parts") }

        var legacy: [String: Any] = [:]
        var legacyPerPart: [Int: Double] = [:]
        for size in [2_000, 5_000, 20_000] {
            let form = tinyFields(size)
            var times: [Double] = []
            var parts = 0
            for _ in 0..<repeats {
                times.append(seconds { parts = (try? legacyParse(form, boundary: boundary))?.count ?? -1 })
                if times.reduce(0, +) > legacyCap { break }
            }
            guard parts == size else { fail("multipart: the legacy parser found \(parts) parts in a form of \(size)") }
            let m = median(times)
            legacyPerPart[size] = m / Double(size)
            legacy["\(size)"] = ["parts": size, "bytes": form.count, "median_s": m, "per_part_us": m / Double(size) * 1e6, "times_s": times]
            if times.count == 1 && times[0] > legacyCap { break }  // a larger form would take far longer
        }

        var state: UInt64 = 0x9E37_79B9_7F4A_7C15  // xorshift64: random-looking bytes without a syscall per word
        var random = Data(count: 16 << 20)
        random.withUnsafeMutableBytes { raw in
            for index in stride(from: 0, to: raw.count, by: 8) {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                raw.storeBytes(of: state, toByteOffset: index, as: UInt64.self)
            }
        }
        var large: [String: Any] = [:]
        for (name, body) in [("random", random), ("cr", Data(repeating: 0x0D, count: 16 << 20))] {
            let form = onePart(body)
            var size = 0
            let times = (0..<repeats).map { _ in
                seconds { size = (try? Multipart.parse(form, boundary: boundary))?.first?.body.count ?? -1 }
            }
            guard size == body.count else { fail("multipart: the \(name) part came back with \(size) bytes") }
            let m = median(times)
            large["one_part_16MiB_\(name)"] = ["median_s": m, "mb_per_s": Double(form.count) / m / 1e6, "times_s": times]
        }

        return [
            "bench": "multipart", "repeats": repeats, "median_s": headline,
            "current": current, "legacy_baseline": legacy, "large_parts": large,
            "default_limits_200000": ["median_s": median(capped), "times_s": capped],
            // 1.0 is linear: the time per part at the largest size over the time per part at 2,000.
            "current_per_part_ratio_200k_to_2k": (perPart[200_000] ?? 0) / (perPart[2_000] ?? 1),
            "legacy_per_part_ratio_largest_to_2k": (legacyPerPart.max { $0.key < $1.key }?.value ?? 0) / (legacyPerPart[2_000] ?? 1),
        ]
    }
}

// MARK: - Baseline

// BASELINE ONLY, not used by the server: the multipart parser as it was before issue #12 (Sources/RAGServer/
// Multipart.swift at bdff2b3), kept so `RAGBench multipart` can time the old and the new parser in one run. On
// Linux, `Data.range(of:in:)` copies the whole Data into an NSData on every call (NSData(bytes:length:) in
// swift-corelibs-foundation), whatever the range, so each of its two searches per part costs O(body): O(parts ×
// body) in all.

struct LegacyMultipartPart {
    var name: String?
    var fileName: String?
    var contentType: String?
    var body: Data
}

struct LegacyMalformed: Error {}

func legacyParse(_ body: Data, boundary: String) throws -> [LegacyMultipartPart] {
    let delimiter = Data("--\(boundary)".utf8)
    var parts: [LegacyMultipartPart] = []
    guard var cursor = body.range(of: delimiter)?.upperBound else { throw LegacyMalformed() }
    while true {
        // After a delimiter: "--" ends the body, else CRLF then headers.
        if body[cursor...].starts(with: Data("--".utf8)) { break }
        guard body[cursor...].starts(with: Data("\r\n".utf8)) else { throw LegacyMalformed() }
        cursor += 2
        guard let headerEnd = body.range(of: Data("\r\n\r\n".utf8), in: cursor..<body.endIndex) else { throw LegacyMalformed() }
        let headerText = String(decoding: body[cursor..<headerEnd.lowerBound], as: UTF8.self)
        let contentStart = headerEnd.upperBound
        guard let next = body.range(of: Data("\r\n".utf8) + delimiter, in: contentStart..<body.endIndex) else { throw LegacyMalformed() }
        var part = LegacyMultipartPart(body: body[contentStart..<next.lowerBound])
        for line in headerText.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "content-type" { part.contentType = value }
            if name == "content-disposition" {
                part.name = Multipart.parameter("name", in: value)
                part.fileName = Multipart.parameter("filename", in: value)
            }
        }
        parts.append(part)
        cursor = next.upperBound
    }
    return parts
}
