/// The response cache's value encodings: compact and fast to read back (a cache hit decodes one per request, and
/// `JSONDecoder` took most of a hit's own time), versioned by a leading tag, and read defensively: a value that is
/// cut short, has a count past its end or a wrong tag is an error (then the engine recomputes), never a crash.
package enum CacheCodec {
    /// The first byte of each kind of value; a new encoding takes a new tag (and ``Engine/cacheFormat`` changes).
    package static let answerTag: UInt8 = 0xA1
    static let hitsTag: UInt8 = 0xB1

    package struct Malformed: Error {}

    struct Writer {
        private(set) var bytes: [UInt8] = []

        init(tag: UInt8) {
            bytes.reserveCapacity(1024)
            bytes.append(tag)
        }

        /// Zigzag LEB128.
        mutating func int(_ value: Int) {
            var rest = UInt64(bitPattern: Int64(value) << 1 ^ Int64(value) >> 63)
            while rest >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
                rest >>= 7
            }
            bytes.append(UInt8(rest))
        }

        mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

        mutating func float(_ value: Float) {
            let bits = value.bitPattern
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
        }

        mutating func string(_ value: String) {
            int(value.utf8.count)
            bytes += value.utf8
        }
    }

    struct Reader {
        private let bytes: [UInt8]
        private var offset = 1

        init(_ bytes: [UInt8], tag: UInt8) throws(Malformed) {
            guard bytes.first == tag else { throw Malformed() }
            self.bytes = bytes
        }

        var isAtEnd: Bool { offset == bytes.count }

        mutating func int() throws(Malformed) -> Int {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard offset < bytes.count, shift < 64 else { throw Malformed() }
                let byte = bytes[offset]
                offset += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            return Int(Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1))
        }

        /// A count of items that each take at least one byte: never more than the bytes left.
        mutating func count() throws(Malformed) -> Int {
            let count = try int()
            guard count >= 0, count <= bytes.count - offset else { throw Malformed() }
            return count
        }

        mutating func bool() throws(Malformed) -> Bool {
            guard offset < bytes.count, bytes[offset] <= 1 else { throw Malformed() }
            offset += 1
            return bytes[offset - 1] == 1
        }

        mutating func float() throws(Malformed) -> Float {
            guard bytes.count - offset >= 4 else { throw Malformed() }
            var bits: UInt32 = 0
            for index in 0..<4 { bits |= UInt32(bytes[offset + index]) << UInt32(8 * index) }
            offset += 4
            return Float(bitPattern: bits)
        }

        mutating func string() throws(Malformed) -> String {
            let length = try count()
            let text = String(decoding: bytes[offset..<offset + length], as: UTF8.self)
            offset += length
            return text
        }
    }

    // MARK: Answers

    package static func encode(_ answer: Answer) -> [UInt8] {
        var writer = Writer(tag: answerTag)
        for text in [answer.question, answer.searchQuery, answer.text, answer.model] { writer.string(text) }
        writer.int(answer.searchQueries.count)
        for query in answer.searchQueries { writer.string(query) }
        for list in [answer.citations, answer.passages] {
            writer.int(list.count)
            for citation in list {
                writer.int(citation.number)
                writer.string(citation.documentID.rawValue)
                writer.string(citation.fileName)
                writer.int(citation.page)
                writer.int(citation.pageEnd)
                writer.int(citation.chunkIndex)
                writer.string(citation.snippet)
                writer.float(citation.score)
            }
        }
        writer.int(answer.usage.promptTokens)
        writer.int(answer.usage.completionTokens)
        writer.bool(answer.usage.isEstimated)
        writer.bool(answer.isGenerated)
        writer.bool(answer.isAnswered)
        return writer.bytes
    }

    /// The answer `encode` wrote, with zero usage (no model was called for it) and ``Answer/isCached`` set.
    package static func decodeAnswer(_ bytes: [UInt8]) throws(Malformed) -> Answer {
        var reader = try Reader(bytes, tag: answerTag)
        let question = try reader.string()
        let searchQuery = try reader.string()
        let text = try reader.string()
        let model = try reader.string()
        var searchQueries: [String] = []
        for _ in 0..<(try reader.count()) { searchQueries.append(try reader.string()) }
        var lists: [[Citation]] = []
        for _ in 0..<2 {
            var list: [Citation] = []
            for _ in 0..<(try reader.count()) {
                list.append(Citation(
                    number: try reader.int(), documentID: DocumentID(rawValue: try reader.string()), fileName: try reader.string(),
                    page: try reader.int(), pageEnd: try reader.int(), chunkIndex: try reader.int(), snippet: try reader.string(),
                    score: try reader.float()))
            }
            lists.append(list)
        }
        _ = (try reader.int(), try reader.int(), try reader.bool())  // the usage of the call that wrote it
        let isGenerated = try reader.bool()
        let isAnswered = try reader.bool()
        guard reader.isAtEnd else { throw Malformed() }
        var answer = Answer(
            question: question, searchQuery: searchQuery, searchQueries: searchQueries, text: text, citations: lists[0],
            passages: lists[1], usage: TokenUsage(promptTokens: 0, completionTokens: 0, isEstimated: false), model: model,
            isGenerated: isGenerated, timings: Timings(), isAnswered: isAnswered)
        answer.isCached = true
        return answer
    }

    // MARK: Retrieval hits

    /// A hit as stored: its chunk by document and ordinal (resolved against the collection when read), and its scores.
    struct StoredHit: Hashable {
        var document: String
        var ordinal: Int
        var score: Float
        var rank: Int
        var lexicalScore: Float?
    }

    static func encode(_ hits: [StoredHit]) -> [UInt8] {
        var writer = Writer(tag: hitsTag)
        writer.int(hits.count)
        for hit in hits {
            writer.string(hit.document)
            writer.int(hit.ordinal)
            writer.float(hit.score)
            writer.int(hit.rank)
            writer.bool(hit.lexicalScore != nil)
            if let lexical = hit.lexicalScore { writer.float(lexical) }
        }
        return writer.bytes
    }

    static func decodeHits(_ bytes: [UInt8]) throws(Malformed) -> [StoredHit] {
        var reader = try Reader(bytes, tag: hitsTag)
        var hits: [StoredHit] = []
        for _ in 0..<(try reader.count()) {
            let document = try reader.string()
            let ordinal = try reader.int()
            let score = try reader.float()
            let rank = try reader.int()
            let lexical = try reader.bool() ? try reader.float() : nil
            hits.append(StoredHit(document: document, ordinal: ordinal, score: score, rank: rank, lexicalScore: lexical))
        }
        guard reader.isAtEnd else { throw Malformed() }
        return hits
    }
}
