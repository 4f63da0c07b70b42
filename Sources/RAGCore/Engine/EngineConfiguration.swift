import Foundation

/// Everything the engine can be told, with defaults that work offline.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `collectionDirectory` | `nil` | where the collection lives; `nil` keeps it in memory only (unless `databaseURL`) |
/// | `databaseURL` | `nil` | a PostgreSQL database holding the collection, shared by many processes; wins over `collectionDirectory` |
/// | `databaseMaxConnections` | 10 | most connections to that database (the pool's size) |
/// | `databaseWait` | 10 s | longest wait for a connection to that database before an operation fails as `unavailable` |
/// | `chunking` | 1000 / 200 bytes | chunk size and overlap |
/// | `extraction` | see `ExtractionLimits` | bounds on bytes, pages and characters per document |
/// | `pdfPassword` | `nil` | password for encrypted PDFs |
/// | `ocr` | see `OCROptions` | OCR of scanned pages (Tesseract): `auto`, `never` or `always`, languages, limits |
/// | `prompt` | see `PromptOptions` | system prompt, prompt token budget, history length |
/// | `searchResults` | 5 | passages retrieved per question |
/// | `retrieval` | see `RetrievalOptions` | vector, BM25 or hybrid search; neighbour merging; the relevance threshold |
/// | `embeddingBatchSize` | 64 | chunks per embedder call |
/// | `maxCollectionChunks` | 1,000,000 | most chunks the collection may hold; 0 is unlimited |
/// | `maxQuestionBytes` | 8192 | longest question (UTF-8 bytes) |
/// | `readOnly` | `false` | refuse ingest and remove (serving replicas over a shared collection) |
/// | `condenseFollowUps` | `true` | with history and a language model, rewrite a follow-up into a standalone search query first |
/// | `queryRewriting` | off | with a language model, search reformulations of the question and a hypothetical answer too |
/// | `vectorFormat` | `auto` | the format vector search scans: int8 from 65,536 chunks, fp32 below (see ``VectorFormatChoice``) |
/// | `vectorStorage` | `f32` | the format a new collection stores its vectors in, on disk and in memory (see ``StoredVectors``) |
public struct EngineConfiguration: Sendable {
    public var collectionDirectory: URL?
    /// The PostgreSQL database that holds the collection (`PostgresCollectionStore`): when set, the engine uses it
    /// instead of `collectionDirectory`, and any number of engines, on any machines, share the collection.
    public var databaseURL: DatabaseURL?
    /// Most connections the engine opens to `databaseURL` at once.
    public var databaseMaxConnections: Int
    /// How long an operation waits for a connection to `databaseURL` (the database down or unreachable) before it
    /// fails with ``CollectionError/Code/unavailable``: a write is then refused at once, rather than waiting for the
    /// database to come back.
    public var databaseWait: Duration
    public var chunking: ChunkingOptions
    public var extraction: ExtractionLimits
    public var pdfPassword: String?
    /// When scanned pages are read by OCR (Tesseract), in which languages, and its limits. By default pages without a
    /// usable text layer are, when Tesseract is installed. Check it with ``EngineConfiguration/checkOCR()`` at start.
    public var ocr: OCROptions
    public var prompt: PromptOptions
    public var searchResults: Int
    public var retrieval: RetrievalOptions
    public var embeddingBatchSize: Int
    /// Most chunks the collection may hold (a quota): an ingest that would take it past this fails with
    /// ``EngineError/Code/collectionQuotaExceeded`` after chunking and before any embedding, and changes nothing.
    /// It is checked again when the embedded document is added, against the collection as another writer may have
    /// left it meanwhile.
    /// A changed file that replaces its earlier version counts only the difference. 0 means unlimited.
    ///
    /// Default 1,000,000: about 3.2 GB of collection file at the 3.2 KB per chunk measured for 384-dimension
    /// embeddings (160 MB for 49,995 chunks), held in memory and rewritten on every save.
    public var maxCollectionChunks: Int
    public var maxQuestionBytes: Int
    /// Bounds on rendering pages for citations (``Engine/renderPage(document:page:width:chunk:)``).
    public var pageRendering: PageRenderLimits
    public var readOnly: Bool
    public var condenseFollowUps: Bool
    /// With a language model, one extra call before retrieval writes reformulations of the (standalone) question
    /// and/or a hypothetical answer passage, searched too and fused with the question's own ranking (see
    /// ``QueryRewriting``). Off by default; the extractive answerer never rewrites.
    public var queryRewriting: QueryRewriting
    /// How the engine uses its response cache (``Engine/init(configuration:embedder:llm:metrics:logger:cache:)``'s
    /// `cache`; none by default, and then this does nothing).
    public var cache: CacheOptions
    /// The format vector search scans (a compact copy kept beside the exact vectors, whose results are rescored from
    /// them): ``VectorFormatChoice/auto`` by default.
    public var vectorFormat: VectorFormatChoice
    /// The format a collection this engine creates stores its vectors in, on disk and in memory (``StoredVectors``):
    /// fp32 by default. A collection that exists keeps its own (``Engine/convertVectors(to:)`` changes it).
    public var vectorStorage: VectorFormat

    public init(
        collectionDirectory: URL? = nil, chunking: ChunkingOptions = ChunkingOptions(),
        extraction: ExtractionLimits = ExtractionLimits(), pdfPassword: String? = nil,
        prompt: PromptOptions = PromptOptions(), searchResults: Int = 5, retrieval: RetrievalOptions = RetrievalOptions(),
        embeddingBatchSize: Int = 64, maxCollectionChunks: Int = 1_000_000,
        maxQuestionBytes: Int = 8192, readOnly: Bool = false, condenseFollowUps: Bool = true,
        databaseURL: DatabaseURL? = nil, databaseMaxConnections: Int = 10, databaseWait: Duration = .seconds(10),
        pageRendering: PageRenderLimits = PageRenderLimits(), queryRewriting: QueryRewriting = QueryRewriting(),
        ocr: OCROptions = OCROptions(), cache: CacheOptions = CacheOptions(), vectorFormat: VectorFormatChoice = .auto,
        vectorStorage: VectorFormat = .f32
    ) {
        self.vectorFormat = vectorFormat
        self.vectorStorage = vectorStorage
        self.ocr = ocr
        self.cache = cache
        self.queryRewriting = queryRewriting
        self.pageRendering = pageRendering
        self.databaseURL = databaseURL
        self.databaseMaxConnections = databaseMaxConnections
        self.databaseWait = databaseWait
        self.condenseFollowUps = condenseFollowUps
        self.collectionDirectory = collectionDirectory
        self.chunking = chunking
        self.extraction = extraction
        self.pdfPassword = pdfPassword
        self.prompt = prompt
        self.searchResults = searchResults
        self.retrieval = retrieval
        self.embeddingBatchSize = embeddingBatchSize
        self.maxCollectionChunks = maxCollectionChunks
        self.maxQuestionBytes = maxQuestionBytes
        self.readOnly = readOnly
    }
}

extension EngineConfiguration {
    /// The loader the engine reads documents with: ``extraction``, ``pdfPassword``, and headings found only when
    /// ``chunking`` will use them.
    var documentLoader: DocumentLoader {
        DocumentLoader(
            limits: extraction, password: pdfPassword,
            headingDetection: chunking.sectionContext ? chunking.sectionSource : nil, ocr: ocr)
    }

    /// Checks ``ocr`` against this machine, for start-up: its bounds, and that Tesseract and every language load
    /// when OCR may run. Returns Tesseract's version, or `nil` when OCR is off (`never`, or `auto` without
    /// Tesseract: scanned pages then get a warning saying how to enable it).
    ///
    /// - Throws: ``InvalidLimit`` for a bound out of range; ``OCRError`` when `always` finds no Tesseract, or a
    ///   language's data is missing (its message names the Debian package).
    public func checkOCR() throws -> String? {
        try ocr.validate()
        if ocr.mode == .never { return nil }
        switch Tesseract.availability {
        case .failure(let error):
            if ocr.mode == .always { throw error }
            return nil
        case .success(let version):
            _ = try OCRReader.shared(for: ocr, maxIdle: extraction.threads)
            return version
        }
    }
}
