import Foundation
import RAGCore
import Testing

@Suite struct ChunkerTests {
    @Test func normalisesWhitespaceLinesAndHyphenation() {
        let text = "The  infor-\nmation   system\nworks well.\n\n\nSecond\tparagraph here.  Jean-\nPaul  came."
        #expect(
            Chunker.normalize(text)
                == "The information system works well.\n\nSecond paragraph here. Jean-Paul came.")
    }

    @Test func chunksStayOnTheirPageByDefault() {
        let pages = [Page(number: 1, text: "Alpha beta."), Page(number: 2, text: "Gamma delta. Epsilon.")]
        let chunks = Chunker().chunks(pages: pages, documentID: DocumentID(rawValue: "d1"), fileName: "a.pdf")
        #expect(chunks.map(\.text) == ["Alpha beta.", "Gamma delta. Epsilon."])
        #expect(chunks.map(\.pageLabel) == ["p. 1", "p. 2"])
    }

    @Test func runsAcrossPagesWhenAskedWithAPageRange() {
        let pages = [Page(number: 1, text: "Alpha beta."), Page(number: 2, text: "Gamma delta.")]
        let chunks = Chunker(options: ChunkingOptions(respectPageBreaks: false)).chunks(pages: pages, documentID: DocumentID(rawValue: "d1"), fileName: "a.pdf")
        #expect(chunks.count == 1)
        #expect(chunks[0].text == "Alpha beta.\n\nGamma delta.")
        #expect(chunks[0].pageStart == 1 && chunks[0].pageEnd == 2)
        #expect(chunks[0].pageLabel == "pp. 1–2")
    }

    @Test func respectsMaximumSizeAndSplitsAtSentences() {
        let sentences = (1...60).map { "Sentence number \($0) talks about topic \($0 * 7) in some detail." }
        let page = Page(number: 3, text: sentences.joined(separator: " "))
        let options = ChunkingOptions(maxCharacters: 300, overlapCharacters: 80)
        let chunks = Chunker(options: options).chunks(pages: [page], documentID: DocumentID(rawValue: "d"), fileName: "f")
        #expect(chunks.count > 5)
        for chunk in chunks {
            #expect(chunk.text.utf8.count <= 300)
            #expect(chunk.pageStart == 3)
            #expect(chunk.text.hasSuffix("."), "chunks end at sentence boundaries: \(chunk.text)")
        }
        // Every sentence appears in some chunk.
        for sentence in sentences { #expect(chunks.contains { $0.text.contains(sentence) }) }
        // Consecutive chunks overlap.
        for (previous, next) in zip(chunks, chunks.dropFirst()) {
            let lastSentence = previous.text.split(separator: ".").last.map(String.init) ?? ""
            #expect(next.text.contains(lastSentence.trimmingCharacters(in: .whitespaces)))
        }
        #expect(chunks.map(\.ordinal) == Array(0..<chunks.count))
    }

    @Test func overlapZeroRepeatsNothing() {
        let text = (1...40).map { "Line \($0) is here." }.joined(separator: " ")
        let chunks = Chunker(options: ChunkingOptions(maxCharacters: 120, overlapCharacters: 0))
            .chunks(pages: [Page(number: 1, text: text)], documentID: DocumentID(rawValue: "d"), fileName: "f")
        let joined = chunks.map(\.text).joined(separator: " ")
        #expect(joined == Chunker.normalize(text))
    }

    @Test func cutsOverlongWordsAtCharacterBoundaries() {
        let word = String(repeating: "é", count: 300)  // 600 bytes, no spaces
        let chunks = Chunker(options: ChunkingOptions(maxCharacters: 101, overlapCharacters: 0))
            .chunks(pages: [Page(number: 1, text: word)], documentID: DocumentID(rawValue: "d"), fileName: "f")
        #expect(chunks.allSatisfy { $0.text.utf8.count <= 101 && !$0.text.contains("\u{FFFD}") })
        #expect(chunks.map(\.text).joined() == word)
    }

    @Test func idsAreDeterministicAndDistinct() {
        let pages = [Page(number: 1, text: String(repeating: "Same sentence again. ", count: 200))]
        let chunker = Chunker(options: ChunkingOptions(maxCharacters: 200, overlapCharacters: 40))
        let first = chunker.chunks(pages: pages, documentID: DocumentID(rawValue: "doc"), fileName: "f")
        let second = chunker.chunks(pages: pages, documentID: DocumentID(rawValue: "doc"), fileName: "f")
        #expect(first.map(\.id) == second.map(\.id))
        #expect(Set(first.map(\.id)).count == first.count)
        let other = chunker.chunks(pages: pages, documentID: DocumentID(rawValue: "other"), fileName: "f")
        #expect(Set(other.map(\.id)).isDisjoint(with: first.map(\.id)))
    }

    @Test func emptyPagesGiveNoChunks() {
        let chunks = Chunker().chunks(pages: [Page(number: 1, text: "  \n\n \t ")], documentID: DocumentID(rawValue: "d"), fileName: "f")
        #expect(chunks.isEmpty)
    }
}
