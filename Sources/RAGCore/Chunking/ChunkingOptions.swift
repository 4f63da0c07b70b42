/// How documents are cut into chunks.
///
/// Sizes count UTF-8 bytes of normalised text (for English text, one byte is one character).
public struct ChunkingOptions: Sendable, Hashable, Codable {
    /// The largest chunk, in bytes. Default 1000.
    public var maxCharacters: Int
    /// How much text a chunk repeats from the end of the one before it, in bytes. Default 200.
    public var overlapCharacters: Int
    /// Start a new chunk at every page, so that each chunk cites exactly one page. When false, chunks run on
    /// across pages and cite a page range. Default true.
    public var respectPageBreaks: Bool

    public init(maxCharacters: Int = 1000, overlapCharacters: Int = 200, respectPageBreaks: Bool = true) {
        self.respectPageBreaks = respectPageBreaks
        self.maxCharacters = max(16, maxCharacters)
        self.overlapCharacters = min(max(0, overlapCharacters), self.maxCharacters / 2)
    }
}
