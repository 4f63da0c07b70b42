/// How documents are cut into chunks.
///
/// Sizes count UTF-8 bytes of normalised text (for English text, one byte is one character).
public struct ChunkingOptions: Sendable, Hashable, Codable {
    /// The largest chunk, in bytes. Default 500: small enough that MiniLM reads all of it (its window is 256
    /// tokens), and that a match is precise; answers get the text around a hit from
    /// `RetrievalOptions.neighbourChunks`.
    public var maxCharacters: Int
    /// How much text a chunk repeats from the end of the one before it, in bytes. Default 100.
    public var overlapCharacters: Int
    /// Start a new chunk at every page, so that each chunk cites exactly one page. When false, chunks run on
    /// across pages and cite a page range. Default true.
    public var respectPageBreaks: Bool
    /// Give each chunk its ``Chunk/context``: the document's title and the outline sections it falls in, embedded
    /// and indexed with its text (the passage shown stays the page's text). Default false.
    public var sectionContext: Bool

    /// The longest ``Chunk/context``, in bytes: it shares the embedder's input window with the text.
    public static let maxContextBytes = 200

    public init(
        maxCharacters: Int = 500, overlapCharacters: Int = 100, respectPageBreaks: Bool = true,
        sectionContext: Bool = false
    ) {
        self.respectPageBreaks = respectPageBreaks
        self.sectionContext = sectionContext
        self.maxCharacters = max(16, maxCharacters)
        self.overlapCharacters = min(max(0, overlapCharacters), self.maxCharacters / 2)
    }
}
