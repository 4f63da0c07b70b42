import Foundation

/// Turns text into the terms of the lexical (BM25) index: runs of letters and digits, lower-cased, with accents
/// removed ("Café" → "cafe"), English stop words dropped, and English words reduced to their Porter stem. Each CJK
/// ideograph is a term of its own, since those scripts do not separate words with spaces.
///
/// ```swift
/// TextAnalyzer().terms(in: "Configuring the printers")   // ["configur", "printer"]
/// ```
///
/// The index records `TextAnalyzer.version`; a collection built by another version rebuilds its lexical index from
/// the chunk texts when it is opened.
public struct TextAnalyzer: Sendable {
    /// Changes whenever the terms indexed for a chunk change. 2: a chunk's terms include its neighbours' on the same
    /// page (`Chunk.lexicalTexts`).
    public static let version: UInt32 = 2
    /// Longer runs (hashes, base64) are not useful terms and are skipped.
    public static let maxTermBytes = 40

    public init() {}

    /// The terms of `text`, in order, with repeats.
    public func terms(in text: String) -> [String] {
        var terms: [String] = []
        // The word so far, as UTF-8 (appending to a byte array is much cheaper than to a `String` or its scalars:
        // this runs for every chunk at ingestion and for every question).
        var word: [UInt8] = []
        word.reserveCapacity(64)
        func flush() {
            guard !word.isEmpty else { return }
            defer { word.removeAll(keepingCapacity: true) }
            guard word.count <= TextAnalyzer.maxTermBytes else { return }
            let token = String(decoding: word, as: UTF8.self)
            guard !TextAnalyzer.stopWords.contains(token) else { return }
            terms.append(PorterStemmer.stem(token))
        }
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x80 {
                switch value {
                case 0x61...0x7A, 0x30...0x39: word.append(UInt8(value))
                case 0x41...0x5A: word.append(UInt8(value + 0x20))
                default: flush()
                }
                continue
            }
            let properties = scalar.properties
            if TextAnalyzer.isIdeograph(value) {
                flush()
                terms.append(String(scalar))
            } else if properties.generalCategory == .nonspacingMark || properties.generalCategory == .enclosingMark {
                continue  // a combining accent inside a word
            } else if properties.isAlphabetic || properties.numericType != nil {
                for folded in TextAnalyzer.fold(scalar) { UTF8.encode(folded) { word.append($0) } }
            } else {
                flush()
            }
        }
        flush()
        return terms
    }

    /// The lower-cased scalar without its accents: the canonical decomposition minus combining marks.
    static func fold(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        let lowered = scalar.properties.lowercaseMapping
        return String(lowered).decomposedStringWithCanonicalMapping.unicodeScalars.filter {
            let category = $0.properties.generalCategory
            return category != .nonspacingMark && category != .enclosingMark
        }
    }

    /// CJK unified ideographs (and extensions), Hiragana, Katakana and Hangul syllables.
    static func isIdeograph(_ value: UInt32) -> Bool {
        switch value {
        case 0x3040...0x30FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xAC00...0xD7AF, 0xF900...0xFAFF, 0x20000...0x2FA1F: return true
        default: return false
        }
    }

    /// Frequent English function words, which carry no meaning for retrieval.
    static let stopWords: Set<String> = [
        "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be",
        "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do",
        "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he",
        "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its",
        "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once",
        "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some",
        "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they",
        "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when",
        "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself",
        "yourselves",
    ]
}
