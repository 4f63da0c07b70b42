import Foundation

/// BERT's uncased tokeniser, as `BertTokenizer` in Hugging Face transformers with `do_lower_case=True`:
/// a basic tokeniser, then greedy longest-match-first WordPiece over `vocab.txt`.
///
/// The basic tokeniser drops NUL, U+FFFD and control/format characters (category C, except tab, CR and LF),
/// turns white space into spaces, puts spaces around CJK ideographs, splits on white space, lower-cases,
/// strips accents (NFD, then drops non-spacing marks), and splits off every punctuation character (ASCII
/// punctuation and Unicode category P) as its own word. WordPiece cuts each word into the longest vocabulary
/// entries from the left, later pieces prefixed `##`; a word with no such cut, or longer than
/// `maxCharactersPerWord`, becomes `[UNK]`.
///
/// ```swift
/// let tokenizer = try WordPieceTokenizer(vocabulary: URL(fileURLWithPath: "vocab.txt"))
/// let encoded = tokenizer.encode("Café crème", maxTokens: 256)   // [CLS] ... [SEP]
/// ```
public struct WordPieceTokenizer: Sendable {
    /// A tokenised text: the ids, with `[CLS]` first and `[SEP]` last, and whether it was cut to fit.
    public struct Encoding: Sendable, Hashable {
        public var ids: [Int32]
        /// Whether word pieces were dropped to respect `maxTokens`.
        public var truncated: Bool
        /// How many tokens the text has without truncation (including `[CLS]` and `[SEP]`).
        public var untruncatedCount: Int
    }

    /// Words longer than this many characters become `[UNK]` (BERT's `max_input_chars_per_word`).
    public static let maxCharactersPerWord = 100

    private let vocabulary: [String: Int32]
    private let tokens: [String]
    public let classifierID: Int32
    public let separatorID: Int32
    public let unknownID: Int32
    public let paddingID: Int32
    private let specialTokens: [(String, Int32)]

    /// Reads `vocab.txt`: one token per line, the line number (from 0) is its id.
    public init(vocabulary url: URL) throws(ModelError) {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ModelError(FileManager.default.fileExists(atPath: url.path) ? .io : .notFound, "cannot read the vocabulary", path: url.path)
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
        if lines.last == "" { lines.removeLast() }
        try self.init(tokens: lines, path: url.path)
    }

    /// A tokenizer over `tokens` (index = id), which must contain `[CLS]`, `[SEP]`, `[UNK]` and `[PAD]`.
    public init(tokens: [String], path: String? = nil) throws(ModelError) {
        guard tokens.count <= Int(Int32.max) else { throw ModelError(.invalid, "the vocabulary is too large", path: path) }
        var vocabulary: [String: Int32] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (index, token) in tokens.enumerated() where vocabulary[token] == nil { vocabulary[token] = Int32(index) }
        func id(_ token: String) throws(ModelError) -> Int32 {
            guard let id = vocabulary[token] else { throw ModelError(.invalid, "the vocabulary has no \(token) token", path: path) }
            return id
        }
        self.vocabulary = vocabulary
        self.tokens = tokens
        classifierID = try id("[CLS]")
        separatorID = try id("[SEP]")
        unknownID = try id("[UNK]")
        paddingID = try id("[PAD]")
        specialTokens = ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"].compactMap { token in vocabulary[token].map { (token, $0) } }
    }

    /// The number of entries in the vocabulary.
    public var vocabularySize: Int { tokens.count }

    /// The vocabulary entry for `id`.
    public func token(_ id: Int32) -> String { tokens[Int(id)] }

    /// `[CLS]`, the word pieces of `text`, `[SEP]`; at most `maxTokens` ids in all (pieces past the limit are
    /// dropped and `truncated` is set).
    public func encode(_ text: String, maxTokens: Int) -> Encoding {
        precondition(maxTokens >= 2, "maxTokens must leave room for [CLS] and [SEP]")
        let pieces = wordPieces(text)
        let kept = min(pieces.count, maxTokens - 2)
        var ids = [Int32]()
        ids.reserveCapacity(kept + 2)
        ids.append(classifierID)
        ids.append(contentsOf: pieces[0..<kept])
        ids.append(separatorID)
        return Encoding(ids: ids, truncated: kept < pieces.count, untruncatedCount: pieces.count + 2)
    }

    /// The WordPiece ids of `text`, without `[CLS]` and `[SEP]`. Special tokens written in the text
    /// (`[UNK]`, `[SEP]`, `[PAD]`, `[CLS]`, `[MASK]`, exactly so) stay single tokens, as in Hugging Face tokenizers.
    public func wordPieces(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        var rest = Substring(text)
        while let (range, id) = firstSpecialToken(in: rest) {
            for word in WordPieceTokenizer.basicTokens(String(rest[..<range.lowerBound])) { appendPieces(of: word, to: &ids) }
            ids.append(id)
            rest = rest[range.upperBound...]
        }
        for word in WordPieceTokenizer.basicTokens(String(rest)) { appendPieces(of: word, to: &ids) }
        return ids
    }

    /// The earliest special token written in `text`, if any.
    private func firstSpecialToken(in text: Substring) -> (Range<Substring.Index>, Int32)? {
        guard text.utf8.contains(UInt8(ascii: "[")) else { return nil }
        var best: (Range<Substring.Index>, Int32)?
        for (token, id) in specialTokens {
            if let range = text.range(of: token), best == nil || range.lowerBound < best!.0.lowerBound { best = (range, id) }
        }
        return best
    }

    private func appendPieces(of word: [Unicode.Scalar], to ids: inout [Int32]) {
        guard word.count <= WordPieceTokenizer.maxCharactersPerWord else {
            ids.append(unknownID)
            return
        }
        let firstPiece = ids.count
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                var candidate = start > 0 ? "##" : ""
                candidate.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = vocabulary[candidate] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let found else {
                ids.removeSubrange(firstPiece...)
                ids.append(unknownID)
                return
            }
            ids.append(found)
            start = end
        }
    }

    /// The basic tokeniser: cleaned, lower-cased, accent-stripped words and single punctuation characters.
    public static func basicTokens(_ text: String) -> [[Unicode.Scalar]] {
        // Clean, space out CJK ideographs, and split on white space.
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        func endWord() {
            if !current.isEmpty { words.append(current) }
            current.removeAll(keepingCapacity: true)
        }
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD { continue }
            if isWhitespace(scalar) {
                endWord()
            } else if isControl(scalar) {
                continue
            } else if isCJK(scalar) {
                endWord()
                words.append([scalar])
            } else {
                current.append(scalar)
            }
        }
        endWord()

        // Lower-case, strip accents, split off punctuation.
        var tokens: [[Unicode.Scalar]] = []
        tokens.reserveCapacity(words.count)
        for word in words {
            var normalized: [Unicode.Scalar] = []
            normalized.reserveCapacity(word.count)
            var needsDecomposition = false
            for scalar in word {
                if scalar.isASCII {
                    let value = scalar.value
                    normalized.append((0x41...0x5A).contains(value) ? Unicode.Scalar(value | 0x20)! : scalar)
                } else {
                    needsDecomposition = true
                    normalized.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                }
            }
            if needsDecomposition {
                var lowered = String.UnicodeScalarView()
                lowered.append(contentsOf: normalized)
                normalized = String(lowered).decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                    $0.properties.generalCategory != .nonspacingMark
                }
            }
            var piece: [Unicode.Scalar] = []
            for scalar in normalized {
                if isPunctuation(scalar) {
                    if !piece.isEmpty { tokens.append(piece) }
                    piece.removeAll(keepingCapacity: true)
                    tokens.append([scalar])
                } else {
                    piece.append(scalar)
                }
            }
            if !piece.isEmpty { tokens.append(piece) }
        }
        return tokens
    }

    /// Space, tab, LF, CR, and category Zs.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x20, 0x09, 0x0A, 0x0D: return true
        case 0..<0x80: return false
        default: return scalar.properties.generalCategory == .spaceSeparator
        }
    }

    /// Category C (control, format, surrogate, private use, unassigned), except tab, LF and CR.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: return false
        case 0x20..<0x7F: return false
        default:
            switch scalar.properties.generalCategory {
            case .control, .format, .surrogate, .privateUse, .unassigned: return true
            default: return false
            }
        }
    }

    /// ASCII 33–47, 58–64, 91–96, 123–126 (which includes symbols such as `$`, `+`, `^`), and category P.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if (33...47).contains(value) || (58...64).contains(value) || (91...96).contains(value) || (123...126).contains(value) {
            return true
        }
        guard value >= 0x80 else { return false }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT spaces out (not Hiragana, Katakana or Hangul).
    static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
            0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
