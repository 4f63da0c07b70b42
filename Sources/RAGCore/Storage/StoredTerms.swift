/// How the stores keep a document's BM25 statistics: one blob per document, u32 little-endian words: the chunk count,
/// each chunk's term count, then the postings as (term number, ordinal, frequency) triples, ordered by term number and
/// then ordinal. Term numbers are rows of the store's own `terms` table, so that the blob holds no text.
extension DocumentTerms {
    /// The blob's words, given each term's number in the store (`numbers[i]` for `terms[i]`).
    package func stored(numbers: [UInt32]) -> [UInt32] {
        precondition(numbers.count == terms.count)
        var numbered = Array(zip(numbers, postings))
        numbered.sort { $0.0 < $1.0 }
        var out: [UInt32] = [UInt32(lengths.count)]
        out.reserveCapacity(1 + lengths.count + 3 * numbered.reduce(0) { $0 + $1.1.count })
        out += lengths
        for (id, postings) in numbered {
            for posting in postings { out += [id, posting.ordinal, posting.frequency] }
        }
        return out.map(\.littleEndian)
    }
}
