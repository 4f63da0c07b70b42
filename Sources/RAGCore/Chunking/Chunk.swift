/// A chunk's stable identifier: derived from its document, position and text, so re-ingesting adds nothing new.
public struct ChunkID: Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// A passage of a document, the unit that is embedded, searched and cited.
public struct Chunk: Sendable, Hashable {
    public var id: ChunkID
    public var documentID: DocumentID
    /// The file name of the chunk's document, as shown in citations.
    public var fileName: String
    /// The first page the chunk's text comes from (1-based).
    public var pageStart: Int
    /// The last page the chunk's text comes from (1-based); equal to `pageStart` for a single-page chunk.
    public var pageEnd: Int
    /// The chunk's position in its document, from 0.
    public var ordinal: Int
    /// The normalised text: the passage shown to people and quoted to the model.
    public var text: String
    /// Where the passage sits, for search only: the document's title and the path of outline sections the passage
    /// falls in ("GNU Octave › Statistics › Basic Statistical Functions"), or empty. Embedded and indexed with the
    /// text (``indexedText``) when ``ChunkingOptions/sectionContext`` is on, never shown as the passage.
    public var context: String

    public init(
        id: ChunkID, documentID: DocumentID, fileName: String, pageStart: Int, pageEnd: Int, ordinal: Int,
        text: String, context: String = ""
    ) {
        self.id = id
        self.documentID = documentID
        self.fileName = fileName
        self.pageStart = pageStart
        self.pageEnd = pageEnd
        self.ordinal = ordinal
        self.text = text
        self.context = context
    }

    /// What is embedded and indexed for BM25: the context, a line break, then the text; the text alone when there
    /// is no context.
    public var indexedText: String { context.isEmpty ? text : context + "\n" + text }

    /// "p. 3" or "pp. 3–4", as used in citations.
    public var pageLabel: String {
        pageStart == pageEnd ? "p. \(pageStart)" : "pp. \(pageStart)–\(pageEnd)"
    }
}

extension Chunk {
    /// Whether the two chunks' page ranges overlap (whatever their documents).
    func sharesPage(with other: Chunk) -> Bool { other.pageStart <= pageEnd && other.pageEnd >= pageStart }

    /// The texts BM25 indexes for `chunks` (consecutive chunks, of one document or several in turn): each chunk's
    /// `indexedText` with the chunks just before and after it that share a page with it. Words match over a
    /// passage's worth of text, while embeddings match the small chunk; the repeated overlap counts twice.
    public static func lexicalTexts(_ chunks: [Chunk]) -> [String] {
        chunks.indices.map { row in
            let chunk = chunks[row]
            func near(_ other: Int) -> Bool {
                chunks.indices.contains(other) && chunks[other].documentID == chunk.documentID
                    && chunks[other].sharesPage(with: chunk)
            }
            var text = chunk.indexedText
            if near(row - 1) { text = chunks[row - 1].text + "\n" + text }
            if near(row + 1) { text += "\n" + chunks[row + 1].text }
            return text
        }
    }
}
