import Foundation

/// The offline default embedder: feature-hashed word unigrams and bigrams with sublinear term frequency,
/// L2-normalised. Needs no model file and no network.
///
/// Words are lower-cased runs of letters and digits; common English stop words are dropped, a plural `s` is
/// folded, and bigrams pair consecutive remaining words. Each feature is hashed (FNV-1a) to a signed bucket, weighted by `1 + ln(tf)`
/// (bigrams at half weight). It finds passages that share words with the question; for passages that answer it
/// in other words, use a neural embedder.
public struct HashingEmbedder: Embedder {
    public let dimension: Int

    /// - Parameter dimension: the vector length; more dimensions mean fewer hash collisions. Default 512.
    public init(dimension: Int = 512) {
        self.dimension = max(8, dimension)
    }

    public var identifier: String { "hashing-v1-d\(dimension)" }

    /// Measured with `rag eval` (`docs/retrieval.md`): hashed word features add little to BM25, so hybrid search
    /// weighs them 0.3 (MRR@10 0.501, against 0.489 for BM25 alone and 0.290 for hashed vectors alone); their
    /// similarities do not separate answerable from unanswerable questions, so there is no threshold.
    public var calibration: RetrievalCalibration? { RetrievalCalibration(minimumScore: nil, vectorWeight: 0.3) }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        texts.map { vector(for: $0) }
    }

    /// Embeds one text synchronously.
    public func vector(for text: String) -> [Float] {
        var counts: [UInt64: Float] = [:]
        var previous: UInt64? = nil
        HashingEmbedder.forEachWord(in: text) { word, isStopWord in
            guard !isStopWord else { return }
            counts[word, default: 0] += 1
            if let previous { counts[previous &* 0x9E37_79B9_7F4A_7C15 ^ word, default: 0] += 0.5 }
            previous = word
        }
        var vector = [Float](repeating: 0, count: dimension)
        for (feature, count) in counts {
            let mixed = feature ^ (feature >> 29)
            let bucket = Int(mixed % UInt64(dimension))
            let weight: Float = count >= 1 ? 1 + logf(count) : count
            vector[bucket] += (mixed >> 63) == 0 ? weight : -weight
        }
        var norm: Float = 0
        for value in vector { norm += value * value }
        if norm > 0 {
            let scale = 1 / norm.squareRoot()
            for index in vector.indices { vector[index] *= scale }
        }
        return vector
    }

    /// Calls `body` with the FNV-1a hash of each lower-cased, plural-folded word and whether it is a stop word.
    static func forEachWord(in text: String, _ body: (UInt64, Bool) -> Void) {
        var word = [UInt8]()
        word.reserveCapacity(32)
        func hash(_ bytes: ArraySlice<UInt8>) -> UInt64 {
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
            return hash
        }
        func flush() {
            guard !word.isEmpty else { return }
            let whole = hash(word[...])
            if stopWords.contains(whole) {
                body(whole, true)
            } else if word.count > 3 && word.last == 0x73 && word[word.count - 2] != 0x73 {  // fold a plural s
                body(hash(word.dropLast()), false)
            } else {
                body(whole, false)
            }
            word.removeAll(keepingCapacity: true)
        }
        for scalar in text.unicodeScalars {
            if scalar.isASCII {
                let byte = UInt8(scalar.value)
                switch byte {
                case 0x30...0x39, 0x61...0x7A: word.append(byte)
                case 0x41...0x5A: word.append(byte | 0x20)
                default: flush()
                }
            } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                for lowered in scalar.properties.lowercaseMapping.utf8 { word.append(lowered) }
            } else {
                flush()
            }
        }
        flush()
    }

    private static let stopWords: Set<UInt64> = {
        let words = [
            "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from",
            "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "do",
            "does", "did", "not", "no", "so", "than", "then", "there", "what", "which", "who", "whom", "how", "why",
            "when", "where", "can", "i", "you", "he", "she", "we", "they", "my", "your", "our", "has", "have", "had",
            "will", "would", "into", "also", "such", "may", "more", "most", "some", "any", "all", "each", "many",
            "much", "get", "gets", "per", "about", "me", "us", "should", "could", "please", "tell",
        ]
        var set = Set<UInt64>()
        for word in words {
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in word.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
            set.insert(hash)
        }
        return set
    }()
}
