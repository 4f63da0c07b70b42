/// How documents are cut into chunks.
///
/// Sizes count UTF-8 bytes of normalised text (for English text, one byte is one character).
public struct ChunkingOptions: Sendable, Hashable, Codable {
    /// The largest chunk, in bytes. Default 500: small enough that MiniLM reads all of it (its window is 256
    /// tokens), and that a match is precise; answers get the text around a hit from
    /// `RetrievalOptions.neighbourChunks`.
    public var maxCharacters: Int
    /// How much text a chunk repeats from the end of the one before it, in bytes. Default 50.
    public var overlapCharacters: Int
    /// Start a new chunk at every page, so that each chunk cites exactly one page. When false, chunks run on
    /// across pages and cite a page range. Default true.
    public var respectPageBreaks: Bool
    /// Give each chunk its ``Chunk/context``: the sections it falls in (see ``contextSections``), embedded and
    /// indexed with its text (the passage shown stays the page's text). Default true.
    public var sectionContext: Bool
    /// How many of the innermost sections a chunk's context names: 1 (the default) gives "Proxies", the section the
    /// chunk is in (the document's title when it is in none), cut at ``maxSectionContextBytes``; `nil` gives the
    /// title and the whole path, "Widget Manual › Settings › Proxies", cut at ``maxContextBytes``. One section
    /// measured best with 500-byte chunks (docs/retrieval.md): a long path outweighs a small chunk's own words.
    public var contextSections: Int?
    /// Where ``sectionContext`` takes a PDF's sections from. Default ``SectionSource/automatic``: the outline, or
    /// headings found by font size and weight when the PDF has no usable outline.
    public var sectionSource: SectionSource

    /// The longest ``Chunk/context``, in bytes: it shares the embedder's input window with the text.
    public static let maxContextBytes = 200
    /// The longest context of the innermost sections alone (``contextSections`` not `nil`), in bytes.
    public static let maxSectionContextBytes = 80

    public init(
        maxCharacters: Int = 500, overlapCharacters: Int = 50, respectPageBreaks: Bool = true,
        sectionContext: Bool = true, sectionSource: SectionSource = .automatic, contextSections: Int? = 1
    ) {
        self.respectPageBreaks = respectPageBreaks
        self.sectionContext = sectionContext
        self.contextSections = contextSections.map { max(1, $0) }
        self.sectionSource = sectionSource
        self.maxCharacters = max(16, maxCharacters)
        self.overlapCharacters = min(max(0, overlapCharacters), self.maxCharacters / 2)
    }
}

/// Where a chunk's sections come from (``ChunkingOptions/sectionSource``).
public enum SectionSource: String, Sendable, Hashable, Codable, CaseIterable {
    /// The PDF's outline when it has a usable one (``hasUsableOutline(_:)``), else its detected headings, else
    /// what outline it has.
    case automatic = "auto"
    /// The PDF's outline only: a PDF without one gets the title alone.
    case outline
    /// Headings detected by font size and weight (``HeadingDetector``), the outline ignored: for measuring them on
    /// PDFs that have one.
    case headings

    /// Whether an outline is worth using: at least two entries that point at a page. (One entry is usually the
    /// document's own title.)
    public static func hasUsableOutline(_ outline: [OutlineEntry]) -> Bool {
        outline.lazy.filter { $0.page != nil }.prefix(2).count == 2
    }

    /// The sections of `document` this source gives.
    public func sections(of document: Document) -> [OutlineEntry] {
        switch self {
        case .outline: document.outline
        case .headings: document.headings
        case .automatic:
            Self.hasUsableOutline(document.outline) || document.headings.isEmpty ? document.outline : document.headings
        }
    }
}
