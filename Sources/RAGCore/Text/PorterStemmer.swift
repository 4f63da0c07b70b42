/// The Porter stemming algorithm (M. F. Porter, "An algorithm for suffix stripping", 1980), following the
/// author's reference implementation in C, including its two documented departures (`-bli` → `-ble`,
/// `-logi` → `-log`). Reduces inflected English words to a common stem so that "configured", "configuring" and
/// "configuration" match each other in the lexical index.
///
/// ```swift
/// PorterStemmer.stem("generalizations")   // "gener"
/// PorterStemmer.stem("running")           // "run"
/// ```
///
/// Words that are not plain lower-case ASCII letters, and words of one or two letters, are returned unchanged.
public enum PorterStemmer {
    public static func stem(_ word: String) -> String {
        let bytes = Array(word.utf8)
        guard bytes.count > 2, bytes.allSatisfy({ $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }) else { return word }
        var stemmer = Stemmer(bytes)
        stemmer.run()
        return String(decoding: stemmer.b[0...stemmer.k], as: UTF8.self)
    }

    /// The reference algorithm's state: the word in `b`, its current end `k`, and `j`, the end of the stem
    /// before the suffix last matched by `ends`.
    private struct Stemmer {
        var b: [UInt8]
        var k: Int
        var j = 0

        init(_ word: [UInt8]) {
            b = word
            k = word.count - 1
        }

        mutating func run() {
            step1ab()
            if k > 0 {
                step1c()
                step2()
                step3()
                step4()
                step5()
            }
        }

        /// Whether `b[i]` is a consonant ("y" is one at the start or after a vowel).
        func isConsonant(_ i: Int) -> Bool {
            switch b[i] {
            case UInt8(ascii: "a"), UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "o"), UInt8(ascii: "u"): return false
            case UInt8(ascii: "y"): return i == 0 ? true : !isConsonant(i - 1)
            default: return true
            }
        }

        /// The number of vowel-consonant sequences in `b[0...j]`: [C](VC)^m[V].
        func measure() -> Int {
            var n = 0
            var i = 0
            while true {
                if i > j { return n }
                if !isConsonant(i) { break }
                i += 1
            }
            i += 1
            while true {
                while true {
                    if i > j { return n }
                    if isConsonant(i) { break }
                    i += 1
                }
                i += 1
                n += 1
                while true {
                    if i > j { return n }
                    if !isConsonant(i) { break }
                    i += 1
                }
                i += 1
            }
        }

        func vowelInStem() -> Bool { (0...max(0, j)).contains { $0 <= j && !isConsonant($0) } }

        func doubleConsonant(_ i: Int) -> Bool { i >= 1 && b[i] == b[i - 1] && isConsonant(i) }

        /// consonant-vowel-consonant ending at `i`, the last consonant not w, x or y ("hop", not "snow").
        func cvc(_ i: Int) -> Bool {
            guard i >= 2, isConsonant(i), !isConsonant(i - 1), isConsonant(i - 2) else { return false }
            let c = b[i]
            return c != UInt8(ascii: "w") && c != UInt8(ascii: "x") && c != UInt8(ascii: "y")
        }

        /// Whether `b[0...k]` ends with `suffix`; if so, `j` marks the end of the part before it.
        mutating func ends(_ suffix: StaticString) -> Bool {
            let length = suffix.utf8CodeUnitCount
            guard length <= k + 1 else { return false }
            let matches = suffix.withUTF8Buffer { s in (0..<length).allSatisfy { b[k - length + 1 + $0] == s[$0] } }
            guard matches else { return false }
            j = k - length
            return true
        }

        /// Replaces `b[j+1...k]` with `replacement`.
        mutating func setTo(_ replacement: StaticString) {
            b.removeSubrange((j + 1)...)
            replacement.withUTF8Buffer { b.append(contentsOf: $0) }
            k = b.count - 1
        }

        mutating func replace(_ replacement: StaticString) { if measure() > 0 { setTo(replacement) } }

        /// Ends the word at `end`. The letters after it stay in `b`, as in the reference implementation, whose
        /// step 5 still measures the stem over them.
        mutating func truncate(to end: Int) { k = end }

        /// Plurals and -ed / -ing.
        mutating func step1ab() {
            if b[k] == UInt8(ascii: "s") {
                if ends("sses") { truncate(to: k - 2) }
                else if ends("ies") { setTo("i") }
                else if k >= 1 && b[k - 1] != UInt8(ascii: "s") { truncate(to: k - 1) }
            }
            if ends("eed") {
                if measure() > 0 { truncate(to: k - 1) }
            } else if (ends("ed") || ends("ing")) && vowelInStem() {
                truncate(to: j)
                if ends("at") { setTo("ate") }
                else if ends("bl") { setTo("ble") }
                else if ends("iz") { setTo("ize") }
                else if doubleConsonant(k) {
                    let c = b[k]
                    if c != UInt8(ascii: "l") && c != UInt8(ascii: "s") && c != UInt8(ascii: "z") { truncate(to: k - 1) }
                } else {
                    j = k
                    if measure() == 1 && cvc(k) { setTo("e") }
                }
            }
        }

        /// Terminal y → i when there is another vowel in the stem.
        mutating func step1c() {
            if ends("y") && vowelInStem() { b[k] = UInt8(ascii: "i") }
        }

        /// Double suffixes to single ones (-ization → -ize, ...), when m > 0.
        mutating func step2() {
            guard k >= 1 else { return }
            switch b[k - 1] {
            case UInt8(ascii: "a"):
                if ends("ational") { replace("ate") } else if ends("tional") { replace("tion") }
            case UInt8(ascii: "c"):
                if ends("enci") { replace("ence") } else if ends("anci") { replace("ance") }
            case UInt8(ascii: "e"):
                if ends("izer") { replace("ize") }
            case UInt8(ascii: "l"):
                if ends("bli") { replace("ble") }
                else if ends("alli") { replace("al") }
                else if ends("entli") { replace("ent") }
                else if ends("eli") { replace("e") }
                else if ends("ousli") { replace("ous") }
            case UInt8(ascii: "o"):
                if ends("ization") { replace("ize") } else if ends("ation") { replace("ate") } else if ends("ator") { replace("ate") }
            case UInt8(ascii: "s"):
                if ends("alism") { replace("al") }
                else if ends("iveness") { replace("ive") }
                else if ends("fulness") { replace("ful") }
                else if ends("ousness") { replace("ous") }
            case UInt8(ascii: "t"):
                if ends("aliti") { replace("al") } else if ends("iviti") { replace("ive") } else if ends("biliti") { replace("ble") }
            case UInt8(ascii: "g"):
                if ends("logi") { replace("log") }
            default:
                break
            }
        }

        /// -ic-, -full, -ness etc.
        mutating func step3() {
            switch b[k] {
            case UInt8(ascii: "e"):
                if ends("icate") { replace("ic") } else if ends("ative") { replace("") } else if ends("alize") { replace("al") }
            case UInt8(ascii: "i"):
                if ends("iciti") { replace("ic") }
            case UInt8(ascii: "l"):
                if ends("ical") { replace("ic") } else if ends("ful") { replace("") }
            case UInt8(ascii: "s"):
                if ends("ness") { replace("") }
            default:
                break
            }
        }

        /// -ant, -ence etc. when m > 1.
        mutating func step4() {
            guard k >= 1 else { return }
            let found: Bool
            switch b[k - 1] {
            case UInt8(ascii: "a"): found = ends("al")
            case UInt8(ascii: "c"): found = ends("ance") || ends("ence")
            case UInt8(ascii: "e"): found = ends("er")
            case UInt8(ascii: "i"): found = ends("ic")
            case UInt8(ascii: "l"): found = ends("able") || ends("ible")
            case UInt8(ascii: "n"): found = ends("ant") || ends("ement") || ends("ment") || ends("ent")
            case UInt8(ascii: "o"):
                found = (ends("ion") && j >= 0 && (b[j] == UInt8(ascii: "s") || b[j] == UInt8(ascii: "t"))) || ends("ou")
            case UInt8(ascii: "s"): found = ends("ism")
            case UInt8(ascii: "t"): found = ends("ate") || ends("iti")
            case UInt8(ascii: "u"): found = ends("ous")
            case UInt8(ascii: "v"): found = ends("ive")
            case UInt8(ascii: "z"): found = ends("ize")
            default: found = false
            }
            if found && measure() > 1 { truncate(to: j) }
        }

        /// A final -e when m > 1 (or m = 1 and not *o), and -ll → -l when m > 1.
        mutating func step5() {
            j = k
            if b[k] == UInt8(ascii: "e") {
                let m = measure()
                if m > 1 || (m == 1 && !cvc(k - 1)) { truncate(to: k - 1) }
            }
            if b[k] == UInt8(ascii: "l") && doubleConsonant(k) && measure() > 1 { truncate(to: k - 1) }
        }
    }
}
