import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The settings `rag` and `rag-server` share, and how they resolve: the collection directory, who answers, and how
/// passages are found. Each front reads them with its own flags; both use these parsers, so a value means the same
/// in both and a bad one gets the same message.
///
/// Only executables pass the real environment; the library never reads it.
///
/// ```swift
/// let directory = try EngineSettings.collectionDirectory(flag: nil, environment: ProcessInfo.processInfo.environment)
/// let retrieval = try EngineSettings.retrievalOptions(flags: ["--fusion": "rrf"], environment: nil)
/// ```
public enum EngineSettings {
    /// `--collection` / `RAG_COLLECTION`: the collection directory; by default `$XDG_DATA_HOME/pdf-chatbot/collection`
    /// (see ``collectionDirectory(flag:environment:)``).
    public static let collection = Setting<String?>(
        flag: "--collection", variable: "RAG_COLLECTION", valueName: "dir", default: nil,
        defaultText: "$XDG_DATA_HOME/pdf-chatbot/collection", requirement: "a directory path",
        help: "Collection directory", format: { $0 ?? "" },
        parser: { text in text.isEmpty || text.contains("\0") ? nil : Optional(Optional(text)) })

    /// `--database-url` / `RAG_DATABASE_URL`: the PostgreSQL database holding the collection (a secret: it may hold
    /// a password). See ``databaseURL(flag:environment:readFile:)``.
    public static let databaseURL = Setting<String?>(
        flag: "--database-url", variable: "RAG_DATABASE_URL", valueName: "url", default: nil, defaultText: "none",
        requirement: "a postgres:// or postgresql:// URL", help: "PostgreSQL database holding the collection, instead of the directory",
        isSecret: true, format: { $0 == nil ? "none" : "***" },
        parser: { text in text.isEmpty || text.contains("\0") ? nil : Optional(Optional(text)) })

    /// `RAG_DATABASE_URL_FILE`: a file holding the database URL (a mounted secret); a trailing newline is ignored.
    public static let databaseURLFile = Setting<String?>(
        flag: nil, variable: "RAG_DATABASE_URL_FILE", valueName: "path", default: nil, defaultText: "none",
        requirement: "a file path", help: "File holding the PostgreSQL URL (instead of RAG_DATABASE_URL)", format: { $0 ?? "" },
        parser: { $0.isEmpty || $0.contains("\0") ? nil : Optional(Optional($0)) })

    /// `--llm` / `RAG_LLM`: who answers.
    public static let llm = Setting<LLMChoice>.choice(
        flag: "--llm", variable: "RAG_LLM", valueName: "kind", default: .auto,
        help: "Who answers: auto (a language model when one is configured, else extractive), openai or extractive")

    /// `--retrieval` / `RAG_RETRIEVAL`: how passages are found.
    public static let retrieval = Setting<RetrievalOptions.Mode>.choice(
        flag: "--retrieval", variable: "RAG_RETRIEVAL", valueName: "mode", default: RetrievalOptions().mode,
        help: "How passages are found: hybrid, vector or lexical")

    /// `--fusion` / `RAG_FUSION`: how hybrid retrieval fuses its two rankings.
    public static let fusion = Setting<RetrievalOptions.Fusion>(
        flag: "--fusion", variable: "RAG_FUSION", valueName: "fusion", default: RetrievalOptions().fusion,
        requirement: "auto, rrf, rrf:K (K from 0 to \(RetrievalOptions.Fusion.maxRankConstant)), weighted or weighted:W (W from 0 to 1)",
        help: "Hybrid fusion: auto (the embedder's measured weight), weighted[:W] or rrf[:K]",
        accepts: { fusion in
            switch fusion {
            case .automatic: true
            case .reciprocalRank(let k): (0...RetrievalOptions.Fusion.maxRankConstant).contains(k)
            case .weighted(let weight): (0...1).contains(weight)
            }
        },
        parser: { RetrievalOptions.Fusion($0) })

    /// `--page-fusion` / `RAG_PAGE_FUSION`: how the chunks of one page combine.
    public static let pageFusion = Setting<RetrievalOptions.PageFusion>(
        flag: "--page-fusion", variable: "RAG_PAGE_FUSION", valueName: "weight", default: RetrievalOptions().pageFusion,
        requirement: "off or a weight from 0 to 1",
        help: "One hit per page, ranked by its best chunk plus this weight times its other chunks' scores; off ranks chunks one by one",
        accepts: { fusion in
            guard case .weighted(let weight) = fusion else { return true }
            return (0...1).contains(weight)
        },
        parser: { RetrievalOptions.PageFusion($0) })

    /// `--neighbours` / `RAG_NEIGHBOURS`: chunks around each passage, on the same pages, added to answers.
    public static let neighbours = Setting<Int>.integer(
        flag: "--neighbours", variable: "RAG_NEIGHBOURS", default: RetrievalOptions().neighbourChunks, in: 0...100,
        help: "Chunks before and after each passage, on the same pages, added to answers")

    /// `--min-score` / `RAG_MIN_SCORE`: the relevance threshold.
    public static let minScore = Setting<RetrievalOptions.ScoreThreshold>(
        flag: "--min-score", variable: "RAG_MIN_SCORE", valueName: "score", default: RetrievalOptions().minimumScore,
        defaultText: "auto", requirement: "a number from -1 to 1, auto or off",
        help: "Cosine similarity below which answers say the documents do not answer: a number, auto or off",
        accepts: { threshold in
            guard case .value(let score) = threshold else { return true }
            return (-1...1).contains(score)
        },
        parser: { RetrievalOptions.ScoreThreshold($0) })

    /// `--vector-format` / `RAG_VECTOR_FORMAT`: the format vector search scans (``VectorFormatChoice``).
    public static let vectorFormat = Setting<VectorFormatChoice>.choice(
        flag: "--vector-format", variable: "RAG_VECTOR_FORMAT", valueName: "format", default: .auto,
        help: "The format vector search scans, beside the exact vectors its results are rescored from: auto (i8 from 65,536 chunks, else f32), f32, f16 or i8")

    /// `--vector-storage` / `RAG_VECTOR_STORAGE`: the format a new collection stores its vectors in, on disk and in
    /// memory (``CollectionHeader/vectorStorage``); an existing collection keeps its own until it is converted
    /// (``Engine/convertVectors(to:)``, `rag convert-vectors`).
    public static let vectorStorage = Setting<VectorFormat>.choice(
        flag: "--vector-storage", variable: "RAG_VECTOR_STORAGE", valueName: "format", default: .f32,
        help: "The format a new collection stores its vectors in, on disk and in memory: f32 (exact), f16 (half the bytes; search results as f32's but for near ties) or i8 (a quarter; approximate search); an existing collection keeps its own until it is converted")

    /// `--encoder-precision` / `RAG_ENCODER_PRECISION`: the arithmetic of the MiniLM encoder's dense layers
    /// (``MiniLMEmbedder/Precision``).
    public static let encoderPrecision = Setting<MiniLMEmbedder.Precision>.choice(
        flag: "--encoder-precision", variable: "RAG_ENCODER_PRECISION", valueName: "precision", default: .auto,
        help: "The arithmetic of the MiniLM encoder's dense layers: auto (i8 when the CPU has AVX-512 VNNI, else f32), f32 (OpenBLAS sgemm) or i8 (int8 weights and activations, about 2x faster, embeddings within cosine 0.998 of f32's)")

    /// `--query-rewrites` / `RAG_QUERY_REWRITES`: reformulations of each question a language model writes, searched
    /// too (``QueryRewriting/reformulations``).
    public static let queryRewrites = Setting<Int>.integer(
        flag: "--query-rewrites", variable: "RAG_QUERY_REWRITES", default: QueryRewriting().reformulations,
        in: 0...QueryRewriting.maxReformulations, note: "0 turns it off",
        help: "With a language model, reformulations of each question it writes, searched too and fused (one extra call); 0 turns it off")

    /// `--hypothetical-answer` / `RAG_HYPOTHETICAL_ANSWER`: a passage a language model writes as if answering, searched
    /// too (``QueryRewriting/hypotheticalAnswer``).
    public static let hypotheticalAnswer = Setting<Bool>.boolean(
        flag: "--hypothetical-answer", variable: "RAG_HYPOTHETICAL_ANSWER", default: QueryRewriting().hypotheticalAnswer,
        help: "With a language model, search a short passage it writes as if answering (HyDE) too, fused (same extra call)")

    /// Query rewriting from `flags` (by flag, `--query-rewrites`; `--hypothetical-answer` as `"true"` when given) and,
    /// when `environment` is not `nil`, the variables (`RAG_QUERY_REWRITES`), over `QueryRewriting()`'s defaults (off).
    ///
    /// - Throws: ``SettingError`` naming the first setting whose value is not accepted.
    /// `--ocr` / `RAG_OCR`: which pages are read by OCR (``OCROptions/Mode``).
    public static let ocr = Setting<OCROptions.Mode>.choice(
        flag: "--ocr", variable: "RAG_OCR", valueName: "mode", default: .auto,
        help: "Which pages are read by OCR (Tesseract): auto, pages without a usable text layer when Tesseract is installed; always, every page (refuses to start without Tesseract); never")
    /// `--ocr-languages` / `RAG_OCR_LANGUAGES`: Tesseract's language codes joined by `+`.
    public static let ocrLanguages = Setting<String>(
        flag: "--ocr-languages", variable: "RAG_OCR_LANGUAGES", valueName: "codes", default: "eng", defaultText: "eng",
        requirement: "Tesseract language codes joined by + (eng+deu), each 3 to 16 letters or underscores, at most 8",
        help: "OCR languages; each needs its data (Debian: tesseract-ocr-LANG), or the server does not start",
        accepts: OCROptions.isValidLanguages, parser: { OCROptions.isValidLanguages($0) ? $0 : nil })
    /// `--ocr-dpi` / `RAG_OCR_DPI`.
    public static let ocrDPI = Setting<Int>.integer(
        flag: "--ocr-dpi", variable: "RAG_OCR_DPI", valueName: "dpi", default: OCROptions().dpi, in: 72...600,
        help: "Resolution pages are rendered at for OCR")
    /// `--ocr-max-pages` / `RAG_OCR_MAX_PAGES`.
    public static let ocrMaxPages = Setting<Int>.integer(
        flag: "--ocr-max-pages", variable: "RAG_OCR_MAX_PAGES", default: OCROptions().maxPagesPerDocument, in: 1...100_000,
        help: "Most pages read by OCR per document; the rest are indexed without, with a warning")
    /// `--ocr-page-timeout` / `RAG_OCR_PAGE_TIMEOUT`.
    public static let ocrPageTimeout = Setting<Duration>.seconds(
        flag: "--ocr-page-timeout", variable: "RAG_OCR_PAGE_TIMEOUT", default: OCROptions().pageTimeout, in: 1...3600,
        help: "Longest OCR of one page in seconds; a page past it fails, with a warning")
    /// `--ocr-min-confidence` / `RAG_OCR_MIN_CONFIDENCE`.
    public static let ocrMinConfidence = Setting<Int>.integer(
        flag: "--ocr-min-confidence", variable: "RAG_OCR_MIN_CONFIDENCE", default: OCROptions().minimumConfidence,
        in: 0...100, help: "Pages read by OCR with a lower mean confidence get a warning")

    /// The OCR options from `flags` (keyed by flag, `--ocr`), else `environment` (`RAG_OCR`...; `nil` reads flags
    /// only), else the defaults.
    public static func ocrOptions(flags: [String: String], environment: [String: String]?) throws(SettingError) -> OCROptions {
        func value<Value>(_ setting: Setting<Value>) throws(SettingError) -> Value {
            let setting = environment == nil ? setting.flagOnly : setting
            return try setting.value(flag: setting.flag.flatMap { flags[$0] }, environment: environment ?? [:])
        }
        var options = OCROptions()
        options.mode = try value(ocr)
        options.languages = try value(ocrLanguages)
        options.dpi = try value(ocrDPI)
        options.maxPagesPerDocument = try value(ocrMaxPages)
        options.pageTimeout = try value(ocrPageTimeout)
        options.minimumConfidence = try value(ocrMinConfidence)
        return options
    }

    public static func queryRewriting(flags: [String: String], environment: [String: String]?) throws(SettingError) -> QueryRewriting {
        func value<Value>(_ setting: Setting<Value>) throws(SettingError) -> Value {
            let setting = environment == nil ? setting.flagOnly : setting
            return try setting.value(flag: setting.flag.flatMap { flags[$0] }, environment: environment ?? [:])
        }
        return QueryRewriting(reformulations: try value(queryRewrites), hypotheticalAnswer: try value(hypotheticalAnswer))
    }

    /// The collection directory: `flag` when given, else `$RAG_COLLECTION` when set, else
    /// `pdf-chatbot/collection` in the user's data directory (``dataHome(environment:)``).
    ///
    /// - Throws: ``SettingError`` when the flag or variable is empty.
    public static func collectionDirectory(flag: String?, environment: [String: String]) throws(SettingError) -> URL {
        if let path = try collection.value(flag: flag, environment: environment) { return URL(fileURLWithPath: path) }
        return dataHome(environment: environment).appendingPathComponent("pdf-chatbot/collection")
    }

    /// The collection's database: `flag` when given, else `$RAG_DATABASE_URL`, else the contents of the file named by
    /// `$RAG_DATABASE_URL_FILE` (a trailing newline trimmed), else `nil` (the collection directory is used). Setting
    /// both variables is an error, even with the flag. Errors never quote the URL.
    ///
    /// - Parameter readFile: reads the URL file (tests pass a fake).
    /// - Throws: ``SettingError`` naming the flag or variable when the URL is malformed or the file cannot be read.
    public static func databaseURL(
        flag: String?, environment: [String: String],
        readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }
    ) throws(SettingError) -> DatabaseURL? {
        let fromVariable = environment[databaseURL.variable ?? ""]
        let file = try databaseURLFile.value(flag: nil, environment: environment)
        if fromVariable != nil, file != nil {
            throw SettingError(
                variable: databaseURLFile.variable, "RAG_DATABASE_URL and RAG_DATABASE_URL_FILE are both set; set only one")
        }
        func parse(_ text: String, _ name: String, flag: String?, variable: String?) throws(SettingError) -> DatabaseURL {
            do {
                return try DatabaseURL(text)
            } catch {
                throw SettingError(flag: flag, variable: variable, "\(name): \(error.message)")
            }
        }
        if let text = try databaseURL.value(flag: flag, environment: environment) {
            return flag != nil
                ? try parse(text, "--database-url", flag: databaseURL.flag, variable: nil)
                : try parse(text, "RAG_DATABASE_URL", flag: nil, variable: databaseURL.variable)
        }
        guard let file else { return nil }
        let text: String
        do {
            text = try readFile(file)
        } catch {
            throw SettingError(variable: databaseURLFile.variable, "RAG_DATABASE_URL_FILE names \(SettingError.quote(file)), which cannot be read")
        }
        var trimmed = Substring(text)
        while let last = trimmed.last, last == "\n" || last == "\r" { trimmed = trimmed.dropLast() }
        return try parse(String(trimmed), "the file named by RAG_DATABASE_URL_FILE", flag: nil, variable: databaseURLFile.variable)
    }

    /// The user's data directory: `$XDG_DATA_HOME` when set and not empty, else `~/.local/share`
    /// (``homeDirectory(environment:)``).
    public static func dataHome(environment: [String: String]) -> URL {
        if let path = environment["XDG_DATA_HOME"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return homeDirectory(environment: environment).appendingPathComponent(".local/share")
    }

    /// The home directory: `$HOME` when set and not empty, else the account's, from the password database.
    public static func homeDirectory(environment: [String: String]) -> URL {
        if let path = environment["HOME"], !path.isEmpty { return URL(fileURLWithPath: path) }
        if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir {
            return URL(fileURLWithPath: String(cString: directory))
        }
        return URL(fileURLWithPath: "/")
    }

    /// Retrieval options from `flags` (by flag, `--fusion`) and, when `environment` is not `nil`, the variables
    /// (`RAG_FUSION`), over `RetrievalOptions()`'s defaults. `rag` passes `nil`: it reads only its flags, and its
    /// errors name only them.
    ///
    /// - Throws: ``SettingError`` naming the first setting whose value is not accepted.
    public static func retrievalOptions(flags: [String: String], environment: [String: String]?) throws(SettingError) -> RetrievalOptions {
        func value<Value>(_ setting: Setting<Value>) throws(SettingError) -> Value {
            let setting = environment == nil ? setting.flagOnly : setting
            return try setting.value(flag: setting.flag.flatMap { flags[$0] }, environment: environment ?? [:])
        }
        var options = RetrievalOptions()
        options.mode = try value(retrieval)
        options.fusion = try value(fusion)
        options.pageFusion = try value(pageFusion)
        options.neighbourChunks = try value(neighbours)
        options.minimumScore = try value(minScore)
        return options
    }
}
