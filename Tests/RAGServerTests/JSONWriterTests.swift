import Foundation
import NIOCore
import RAGCore
@testable import RAGServer
import RAGTesting
import Testing
import TestSupport

/// `JSONWriter` must write exactly what `JSON.encoder` writes: the answer's bytes are the API.
@Suite struct JSONWriterTests {
    /// Deterministic pseudo-random values (SplitMix64), so that a failure repeats.
    struct Values {
        var generator: SplitMix

        init(state: UInt64) { generator = SplitMix(seed: state) }

        mutating func next() -> UInt64 { generator.next() }

        mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }

        static let pieces = [
            "a", "Z", " ", "7", "\"", "\\", "/", "\n", "\r", "\t", "\u{8}", "\u{C}", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}",
            "é", "ß", "😀", "👍🏽", "\u{2028}", "\u{FEFF}", "<", "&", "'", "[1]", "p. 3", "日本語", "\u{301}",
        ]

        mutating func string() -> String {
            (0..<int(0..<24)).map { _ in Self.pieces[int(0..<Self.pieces.count)] }.joined()
        }

        mutating func double() -> Double {
            switch int(0..<6) {
            case 0: return Double(int(0..<1_000_000))
            case 1: return Double(next() % 1_000_000_000) / 1e9
            case 2: return Double(next() % 1000) * 1e-7
            case 3: return Double(bitPattern: next() % 0x7FF0_0000_0000_0000)
            case 4: return -Double(bitPattern: next() % 0x7FF0_0000_0000_0000)
            default: return [0, -0.0, 1e16, 1e21, 1e22, 0.1, 2.5, .leastNonzeroMagnitude, .greatestFiniteMagnitude][int(0..<9)]
            }
        }

        mutating func float() -> Float {
            switch int(0..<4) {
            case 0: return Float(int(0..<100_000))
            case 1: return Float(next() % 1_000_000) / 1e6
            case 2: return Float(bitPattern: UInt32(truncatingIfNeeded: next()) % 0x7F80_0000)
            default: return -Float(bitPattern: UInt32(truncatingIfNeeded: next()) % 0x7F80_0000)
            }
        }

        mutating func citation() -> Citation {
            let chunk = Chunk(
                id: ChunkID(rawValue: string()), documentID: DocumentID(rawValue: string()), fileName: string(),
                pageStart: int(-2..<5000), pageEnd: int(0..<5000), ordinal: int(0..<100), text: string())
            return Citation(passage: ContextPassage(number: int(-1..<50), hit: SearchHit(chunk: chunk, score: float(), rank: 0)))
        }
    }

    @Test func writesWhatJSONEncoderWrites() async throws {
        let engine = try await Engine(llm: MockLLMClient())
        _ = try await engine.ingest(data: Data("Employees receive 25 days of paid vacation.".utf8), fileName: "handbook.txt")
        let real = try await engine.ask("How many vacation days?")
        var values = Values(state: 42)
        var answers = [real]
        for _ in 0..<500 {
            var answer = real
            answer.question = values.string()
            answer.searchQuery = values.string()
            answer.searchQueries = (0..<values.int(1..<4)).map { _ in values.string() }
            answer.text = values.string()
            answer.model = values.string()
            answer.citations = (0..<values.int(0..<4)).map { _ in values.citation() }
            answer.passages = (0..<values.int(0..<6)).map { _ in values.citation() }
            answer.usage = TokenUsage(
                promptTokens: values.int(-5..<100_000), completionTokens: values.int(0..<100_000), isEstimated: values.int(0..<2) == 0)
            answer.isGenerated = values.int(0..<2) == 0
            answer.isAnswered = values.int(0..<2) == 0
            answer.timings = Timings(
                retrieval: values.double(), generation: values.double(), total: values.double(),
                firstToken: values.int(0..<3) == 0 ? nil : values.double())
            answers.append(answer)
        }
        for answer in answers {
            let dto = DTO.Answer(answer)
            var json = JSONWriter()
            try dto.write(to: &json)
            let expected = String(decoding: try JSON.encoder.encode(dto), as: UTF8.self)
            #expect(String(buffer: json.buffer) == expected)
        }
    }

    @Test func refusesNonFiniteNumbersAsJSONEncoderDoes() async throws {
        let engine = try await Engine(llm: MockLLMClient())
        _ = try await engine.ingest(data: Data("Employees receive 25 days of paid vacation.".utf8), fileName: "handbook.txt")
        var answer = try await engine.ask("How many vacation days?")
        answer.timings.total = .nan
        #expect(throws: (any Error).self) { try JSON.response(DTO.Answer(answer)) }
        #expect(throws: (any Error).self) { try JSON.encoder.encode(DTO.Answer(answer)) }
    }
}
