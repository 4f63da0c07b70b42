/// A source of an answer: a passage with its file and page.
public struct Citation: Sendable, Hashable {
    /// The passage's number in the answer's `[n]` markers.
    public var number: Int
    public var documentID: DocumentID
    public var fileName: String
    public var page: Int
    public var pageEnd: Int
    /// The passage's position in its document (its chunk's ordinal, from 0): with ``documentID`` it names the passage,
    /// for ``Engine/renderPage(document:page:width:chunk:)``.
    public var chunkIndex: Int
    /// The passage text (the chunk).
    public var snippet: String
    public var score: Float

    public init(passage: ContextPassage) {
        let chunk = passage.hit.chunk
        self.number = passage.number
        self.documentID = chunk.documentID
        self.fileName = chunk.fileName
        self.page = chunk.pageStart
        self.pageEnd = chunk.pageEnd
        self.chunkIndex = chunk.ordinal
        self.snippet = chunk.text
        self.score = passage.hit.score
    }

    /// "manual.pdf p. 3" or "manual.pdf pp. 3–4".
    public var label: String {
        page == pageEnd ? "\(fileName) p. \(page)" : "\(fileName) pp. \(page)–\(pageEnd)"
    }
}

/// Where the time of a request went, in seconds.
public struct Timings: Sendable, Hashable {
    public var retrieval: Double
    public var generation: Double
    public var total: Double
    /// Time to the first streamed token, for streamed answers.
    public var firstToken: Double?

    public init(retrieval: Double = 0, generation: Double = 0, total: Double = 0, firstToken: Double? = nil) {
        self.retrieval = retrieval
        self.generation = generation
        self.total = total
        self.firstToken = firstToken
    }
}

/// The answer to a question.
public struct Answer: Sendable, Hashable {
    public var question: String
    /// What was searched: the question, or a standalone rewrite of a follow-up question. Hit scores and the
    /// relevance threshold are this query's.
    public var searchQuery: String
    /// Everything searched, fused into the passages: ``searchQuery`` first, then the reformulations and the
    /// hypothetical answer passage that query rewriting (``EngineConfiguration/queryRewriting``) gave, if any.
    public var searchQueries: [String]
    public var text: String
    /// The passages the answer cites (`[n]` in the text); all passages given to the model when it cited none.
    public var citations: [Citation]
    /// Every passage that was in the prompt.
    public var passages: [Citation]
    public var usage: TokenUsage
    public var model: String
    /// False when the extractive answerer (no language model) produced the text.
    public var isGenerated: Bool
    public var timings: Timings
    /// False when no passage was relevant enough (`RetrievalOptions.minimumScore`): the text then says that the
    /// documents do not answer the question, cites nothing, and no language model was called.
    public var isAnswered: Bool = true
    /// True when the answer came whole from the response cache (``Engine/cachedAnswer(_:history:)``): no model was
    /// called, and ``usage`` is zero.
    public var isCached: Bool = false

    public init(
        question: String, searchQuery: String, searchQueries: [String]? = nil, text: String, citations: [Citation],
        passages: [Citation], usage: TokenUsage, model: String, isGenerated: Bool, timings: Timings, isAnswered: Bool = true
    ) {
        self.question = question
        self.searchQuery = searchQuery
        self.searchQueries = searchQueries ?? [searchQuery]
        self.text = text
        self.citations = citations
        self.passages = passages
        self.usage = usage
        self.model = model
        self.isGenerated = isGenerated
        self.timings = timings
        self.isAnswered = isAnswered
    }
}

/// One event of a streamed answer.
public enum AnswerEvent: Sendable, Hashable {
    /// The passages retrieved for the question, before any text.
    case passages([Citation])
    /// More answer text.
    case delta(String)
    /// The finished answer, with citations, usage and timings.
    case done(Answer)
}
