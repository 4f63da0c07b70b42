import Foundation

/// Finds where a cited passage is on a page, for highlighting it.
///
/// A passage's text is not the page's text verbatim: the chunker joins lines and hyphenated words, folds
/// whitespace, and MuPDF's structured text keeps each line's own characters (a ligature expanded, a hyphen at a line's
/// end). So both are reduced to their letters and digits, lower-cased (NFKC first, so `ﬁ` is `fi`), and the passage
/// is matched piece by piece: each window of ``windowWords`` words (every ``strideWords`` words) is looked up in the
/// page's reduced text, preferring the first place at or after where the previous window matched, so that the pieces
/// of one passage land together. The characters that matched are highlighted, with the spaces and punctuation between
/// two of them on one line, as one rectangle per run of a line.
///
/// Bounded: the page's characters are bounded by the caller (`PageRenderLimits.maxPageCharacters`), the passage by
/// the chunk size; each window is compared only at the page places that start with its first three letters.
enum PassageLocator {
    static let windowWords = 4
    static let strideWords = 2
    /// A window with fewer letters and digits than this is too common to place ("of the"), unless it is the passage.
    static let minimumWindowKeys = 8

    /// The rectangles (page space) of the passage's text on the page whose characters are `characters`; empty when
    /// none of it is there.
    static func highlights(of passage: String, in characters: [PageCharacter]) -> [PageRect] {
        let marked = matches(of: passage, in: characters)
        return rectangles(of: marked, in: characters)
    }

    /// Which of `characters` are part of the passage.
    static func matches(of passage: String, in characters: [PageCharacter]) -> [Bool] {
        var marked = [Bool](repeating: false, count: characters.count)
        // The page reduced to letters and digits, each key with the character it came from.
        var keys: [Unicode.Scalar] = []
        var owners: [Int] = []
        keys.reserveCapacity(characters.count)
        for (index, character) in characters.enumerated() {
            for key in reduce(character.scalar) {
                keys.append(key)
                owners.append(index)
            }
        }
        let words = passage.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map { word in
            word.unicodeScalars.flatMap(reduce)
        }.filter { !$0.isEmpty }
        guard !words.isEmpty, keys.count >= 3 else { return marked }
        // Where each three-key sequence starts on the page.
        var starts: [Trigram: [Int]] = [:]
        for position in 0..<(keys.count - 2) {
            starts[Trigram(keys[position], keys[position + 1], keys[position + 2]), default: []].append(position)
        }
        var cursor = 0
        var first = 0
        while first < words.count {
            let window = Array(words[first..<min(words.count, first + windowWords)].joined())
            let isWhole = words.count <= windowWords
            if window.count >= 3, window.count >= minimumWindowKeys || isWhole,
                let found = place(window, in: keys, starts: starts, after: cursor)
            {
                for position in found..<(found + window.count) { marked[owners[position]] = true }
                cursor = found + window.count
            }
            if first + windowWords >= words.count { break }
            first += strideWords
        }
        fillGaps(&marked, characters)
        return marked
    }

    /// The first place of `window` in `keys` at or after `cursor`, else the first anywhere; `nil` when absent.
    static func place(_ window: [Unicode.Scalar], in keys: [Unicode.Scalar], starts: [Trigram: [Int]], after cursor: Int) -> Int? {
        guard let candidates = starts[Trigram(window[0], window[1], window[2])] else { return nil }
        var earliest: Int? = nil
        for start in candidates where start + window.count <= keys.count {
            guard keys[start..<(start + window.count)].elementsEqual(window) else { continue }
            if start >= cursor - window.count { return start }  // overlapping windows overlap their matches
            if earliest == nil { earliest = start }
        }
        return earliest
    }

    /// Marks the spaces and punctuation between two marked characters of one line.
    static func fillGaps(_ marked: inout [Bool], _ characters: [PageCharacter]) {
        var lastMarked: Int? = nil
        for index in characters.indices {
            let reducible = !reduce(characters[index].scalar).isEmpty
            guard reducible else { continue }
            if marked[index] {
                if let last = lastMarked, characters[last].line == characters[index].line, last + 1 < index {
                    for gap in (last + 1)..<index where reduce(characters[gap].scalar).isEmpty { marked[gap] = true }
                }
                lastMarked = index
            } else {
                lastMarked = nil
            }
        }
    }

    /// One rectangle per run of marked characters on a line.
    static func rectangles(of marked: [Bool], in characters: [PageCharacter]) -> [PageRect] {
        var rects: [PageRect] = []
        var current: (line: Int, rect: PageRect)? = nil
        for (index, character) in characters.enumerated() {
            let box = character.box
            let usable = box.x1 > box.x0 && box.y1 > box.y0 && box.x0.isFinite && box.y0.isFinite && box.x1.isFinite && box.y1.isFinite
            if marked[index], usable {
                if var run = current, run.line == character.line {
                    run.rect = PageRect(
                        x0: min(run.rect.x0, box.x0), y0: min(run.rect.y0, box.y0), x1: max(run.rect.x1, box.x1),
                        y1: max(run.rect.y1, box.y1))
                    current = run
                } else {
                    if let run = current { rects.append(run.rect) }
                    current = (character.line, box)
                }
            } else if !marked[index], let run = current {
                rects.append(run.rect)
                current = nil
            }
        }
        if let run = current { rects.append(run.rect) }
        return rects
    }

    /// A character reduced for matching: its letters and digits after NFKC, lower-cased; nothing for spaces,
    /// punctuation and hyphens.
    static func reduce(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        if scalar.isASCII {
            let value = scalar.value
            if (0x30...0x39).contains(value) || (0x61...0x7A).contains(value) { return [scalar] }
            if (0x41...0x5A).contains(value) { return [Unicode.Scalar(value + 0x20)!] }
            return []
        }
        let folded = String(scalar).precomposedStringWithCompatibilityMapping.lowercased()
        return folded.unicodeScalars.filter { $0.properties.isAlphabetic || $0.properties.numericType != nil }
    }

    struct Trigram: Hashable {
        var a: Unicode.Scalar, b: Unicode.Scalar, c: Unicode.Scalar
        init(_ a: Unicode.Scalar, _ b: Unicode.Scalar, _ c: Unicode.Scalar) {
            self.a = a
            self.b = b
            self.c = c
        }
    }
}
