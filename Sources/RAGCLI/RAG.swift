import ArgumentParser
import Foundation
import Logging
import RAGCore
import Synchronization

@main
struct RAG: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rag",
        abstract: "Ask questions about your PDFs from the terminal, with answers that cite file and page.",
        discussion: """
            Works offline by default: local sentence embeddings (all-MiniLM-L6-v2; hashed word features when the \
            model is not installed), and an extractive answerer that quotes the best passages when no language \
            model is configured. `rag doctor` checks the installation.

            The collection lives in --collection, else $RAG_COLLECTION, else \
            $XDG_DATA_HOME/pdf-chatbot/collection (~/.local/share/pdf-chatbot/collection); with \
            --database-url, else $RAG_DATABASE_URL, else the file named by $RAG_DATABASE_URL_FILE, it lives in \
            that PostgreSQL database instead, shared with other machines.

            Exit codes: 0 success, 1 error, 3 some files could not be ingested, 64 usage error.
            """,
        version: BuildInfo.version,
        subcommands: [
            Ingest.self, Ask.self, Chat.self, Search.self, List.self, Remove.self, ConvertVectors.self, Extract.self, Eval.self,
            Doctor.self,
        ]
    )

    /// Puts OpenBLAS on kernels this CPU runs when it did not recognise the CPU (``OpenBLASCore``), then runs the command.
    static func main() async {
        OpenBLASCore.reexecIfUnrecognized()
        await main(nil)
    }
}

/// Options every command that uses a collection takes.
struct CollectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The collection directory.", valueName: "dir"))
    var collection: String?

    @Option(name: .long, help: ArgumentHelp(
        "PostgreSQL database holding the collection, instead of the directory (default $RAG_DATABASE_URL, or the file named by $RAG_DATABASE_URL_FILE).",
        valueName: "url"))
    var databaseURL: String?

    /// The collection's database: the flag, else $RAG_DATABASE_URL, else the file named by $RAG_DATABASE_URL_FILE,
    /// else `nil` (the directory).
    ///
    /// - Throws: `CLIError` (exit code 64) when the URL is malformed, the file cannot be read, or both variables are set.
    func resolvedDatabaseURL() throws -> DatabaseURL? {
        do {
            return try EngineSettings.databaseURL(flag: databaseURL, environment: CLI.environment)
        } catch {
            throw CLIError(error.message, exitCode: 64)
        }
    }

    @Option(name: .long, help: ArgumentHelp("Write the metrics registry as Prometheus text to this file when done.", valueName: "path"))
    var metricsFile: String?

    @Flag(name: .long, help: "Log progress details to stderr.")
    var verbose = false

    /// The collection directory: the flag, else $RAG_COLLECTION, else the XDG data directory, resolved as
    /// `rag-server` resolves it.
    ///
    /// - Throws: `CLIError` (exit code 64) when the flag or the variable is empty.
    func directory() throws -> URL {
        do {
            return try EngineSettings.collectionDirectory(flag: collection, environment: CLI.environment)
        } catch {
            throw CLIError(error.message, exitCode: 64)
        }
    }

    @Option(help: ArgumentHelp(
        "Who answers: auto (a language model when OPENAI_API_KEY or OPENAI_BASE_URL is set, else extractive), openai, or extractive.",
        valueName: "kind"))
    var llm: LLMChoice = .auto

    @Option(help: ArgumentHelp("Chat model (default $RAG_LLM_MODEL, else gpt-4o-mini).", valueName: "name"))
    var model: String?

    @Option(help: ArgumentHelp("OpenAI-compatible API root, e.g. http://localhost:11434/v1 for Ollama (default $OPENAI_BASE_URL, else https://api.openai.com/v1).", valueName: "url"))
    var baseURL: String?

    @Option(help: ArgumentHelp(
        "Embedder for a new collection: minilm (local sentence embeddings; the default when the model is installed), hashing (hashed words), or openai (the API's embeddings). An existing collection keeps the one it was built with.",
        valueName: "kind"))
    var embedder: EmbedderChoice?

    @Option(help: ArgumentHelp("Embedding model for --embedder openai (default $RAG_EMBEDDING_MODEL, else text-embedding-3-small).", valueName: "name"))
    var embeddingModel: String?

    @Option(help: ArgumentHelp(
        EngineSettings.encoderPrecision.help
            + " [RAG_ENCODER_PRECISION] (default auto for ingest, chat, eval and doctor; f32 for the commands that embed one question at most, since quantizing the weights takes about 0.14 s at start).",
        valueName: "precision"))
    var encoderPrecision: String?

    /// How MiniLM runs: `--encoder-precision`, else $RAG_ENCODER_PRECISION, else `defaultPrecision`.
    ///
    /// - Throws: `CLIError` (exit code 64) when the value is not accepted.
    func encoder(default defaultPrecision: MiniLMEmbedder.Precision = .auto) throws -> MiniLMEmbedder.Configuration {
        let setting = EngineSettings.encoderPrecision
        guard encoderPrecision != nil || setting.variable.map({ CLI.environment[$0] != nil }) == true else {
            return MiniLMEmbedder.Configuration(precision: defaultPrecision)
        }
        do {
            return MiniLMEmbedder.Configuration(
                precision: try EngineSettings.encoderPrecision.value(flag: encoderPrecision, environment: CLI.environment))
        } catch {
            throw CLIError(error.message, exitCode: 64)
        }
    }

    /// The OpenAI-compatible configuration from the environment and the flags, or `nil` when none is set.
    func openAIConfiguration() throws -> OpenAIConfiguration? {
        var configuration = try OpenAIConfiguration.fromEnvironment(CLI.environment)
        if let baseURL {
            configuration = configuration ?? OpenAIConfiguration()
            configuration?.baseURL = baseURL
        }
        if let model { configuration?.chatModel = model }
        if let embeddingModel { configuration?.embeddingModel = embeddingModel }
        try configuration?.validate()
        return configuration
    }

    /// The engine on the collection these options name, with the embedder it was built with (or `--embedder`'s).
    ///
    /// - Parameter encoderPrecision: MiniLM's arithmetic without `--encoder-precision` or $RAG_ENCODER_PRECISION: `f32`
    ///   for commands that embed one question at most (quantizing the weights for int8 takes about 0.14 s, far more
    ///   than int8 saves on a question), `auto` for those that embed documents.
    func makeEngine(
        encoderPrecision: MiniLMEmbedder.Precision = .f32, _ configure: (inout EngineConfiguration) -> Void = { _ in }
    ) async throws -> Engine {
        CLI.bootstrapLogging(verbose: verbose)
        let directory = try directory()
        let databaseURL = try resolvedDatabaseURL()
        var configuration = EngineConfiguration(collectionDirectory: directory, databaseURL: databaseURL)
        // One command, a few searches at most: a compact copy of a large collection's vectors would cost more to
        // build (about 1.5 s per million chunks) than it saves (about 38 ms per search). `ask`, `chat` and `search`
        // take `--vector-format`.
        configuration.vectorFormat = .f32
        configure(&configuration)
        let openAI = try openAIConfiguration()
        let client = try EngineSetup.llm(llm, openAI: openAI)
        let chosen = try await EngineSetup.embedder(
            collectionDirectory: directory, databaseURL: databaseURL, choice: embedder, openAI: openAI, metrics: CLI.metrics,
            modelsDirectory: EngineSetup.modelsDirectory(environment: CLI.environment), logger: Logger(label: "rag"),
            encoder: try encoder(default: encoderPrecision))
        let engine = try await Engine(configuration: configuration, embedder: chosen, llm: client, metrics: CLI.metrics, logger: Logger(label: "rag"))
        CLI.openEngines.withLock { $0.append(engine) }
        return engine
    }

    /// Writes the metrics file, if one was asked for.
    func writeMetrics() throws {
        guard let metricsFile else { return }
        do {
            try Data(CLI.metrics.render().utf8).write(to: URL(fileURLWithPath: metricsFile), options: .atomic)
        } catch {
            throw CLIError("cannot write the metrics file \(metricsFile): \(error.localizedDescription)")
        }
    }
}

extension LLMChoice: ExpressibleByArgument {}
extension EmbedderChoice: ExpressibleByArgument {}
extension SectionSource: ExpressibleByArgument {}

/// Limits and chunking options for commands that read documents.
struct ExtractionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Password for encrypted PDFs.", valueName: "password"))
    var password: String?

    @Option(help: ArgumentHelp("Largest document in bytes.", valueName: "bytes"))
    var maxBytes: Int = ExtractionLimits().maxBytes

    @Option(help: ArgumentHelp("Most pages per document.", valueName: "n"))
    var maxPages: Int = ExtractionLimits().maxPages

    @Option(help: ArgumentHelp("Most extracted characters per document.", valueName: "n"))
    var maxCharacters: Int = ExtractionLimits().maxCharacters

    @Option(help: ArgumentHelp(
        "Most extracted characters per byte of a document's file (0 turns the rule off).", valueName: "ratio"))
    var maxCharactersPerByte: Double = ExtractionLimits().maxCharactersPerByte

    @Option(help: ArgumentHelp(
        "Characters any document may yield whatever its file's size.", valueName: "n"))
    var minCharacterAllowance: Int = ExtractionLimits().minimumCharacterAllowance

    @Option(help: ArgumentHelp(
        "\(EngineSettings.ocr.help): \(EngineSettings.ocr.requirement). Default: $RAG_OCR, else auto.", valueName: "mode"))
    var ocr: String?

    @Option(help: ArgumentHelp(
        "\(EngineSettings.ocrLanguages.help). Default: $RAG_OCR_LANGUAGES, else eng.", valueName: "codes"))
    var ocrLanguages: String?

    @Option(help: ArgumentHelp(
        "\(EngineSettings.ocrDPI.help), 72 to 600. Default: $RAG_OCR_DPI, else 300.", valueName: "dpi"))
    var ocrDpi: String?

    @Option(help: ArgumentHelp(
        "\(EngineSettings.ocrMaxPages.help). Default: $RAG_OCR_MAX_PAGES, else 100.", valueName: "n"))
    var ocrMaxPages: String?

    @Option(help: ArgumentHelp(
        "\(EngineSettings.ocrPageTimeout.help), 1 to 3600. Default: $RAG_OCR_PAGE_TIMEOUT, else 60.", valueName: "seconds"))
    var ocrPageTimeout: String?

    @Option(help: ArgumentHelp(
        "\(EngineSettings.ocrMinConfidence.help), 0 to 100. Default: $RAG_OCR_MIN_CONFIDENCE, else 60.", valueName: "n"))
    var ocrMinConfidence: String?

    /// The OCR options: each flag, else its `RAG_OCR*` variable (read as `rag-server` reads them), else the default.
    func ocrOptions(environment: [String: String] = CLI.environment) throws -> OCROptions {
        var flags: [String: String] = [:]
        for (setting, value) in [
            (EngineSettings.ocr.flag, ocr), (EngineSettings.ocrLanguages.flag, ocrLanguages),
            (EngineSettings.ocrDPI.flag, ocrDpi), (EngineSettings.ocrMaxPages.flag, ocrMaxPages),
            (EngineSettings.ocrPageTimeout.flag, ocrPageTimeout), (EngineSettings.ocrMinConfidence.flag, ocrMinConfidence),
        ] {
            if let setting, let value { flags[setting] = value }
        }
        do {
            return try EngineSettings.ocrOptions(flags: flags, environment: environment)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// A loader with these limits, password and OCR options, checked against this machine: `--ocr always` without
    /// Tesseract, or a language without its data, is an error before any file is read.
    func loader() throws -> DocumentLoader {
        let configuration = EngineConfiguration(extraction: limits, pdfPassword: password, ocr: try ocrOptions())
        _ = try configuration.checkOCR()
        return DocumentLoader(limits: limits, password: password, ocr: configuration.ocr)
    }

    @Option(help: ArgumentHelp(
        "Worker threads that read one document's pages (text and OCR). Default: the number of processors.", valueName: "n"))
    var threads: Int = ExtractionLimits().threads

    var limits: ExtractionLimits {
        var limits = ExtractionLimits()
        limits.threads = threads
        limits.maxBytes = maxBytes
        limits.maxPages = maxPages
        limits.maxCharacters = maxCharacters
        limits.maxCharactersPerByte = maxCharactersPerByte
        limits.minimumCharacterAllowance = minCharacterAllowance
        return limits
    }

    /// The flag of each `ExtractionLimits` field these options set.
    static let flags = [
        "maxBytes": "--max-bytes", "maxPages": "--max-pages", "maxCharacters": "--max-characters",
        "maxCharactersPerByte": "--max-characters-per-byte", "minimumCharacterAllowance": "--min-character-allowance",
        "threads": "--threads",
    ]

    func validate() throws {
        do {
            try limits.validate()
        } catch {
            throw ValidationError("\(Self.flags[error.field] ?? error.field) \(error.rule)")
        }
        _ = try ocrOptions()
    }
}

/// Shared state and helpers of the CLI.
enum CLI {
    /// The one metrics registry of this process.
    static let metrics = RAGMetrics()

    /// A citation as a checkable quote: the passage's sentence that best supports the answer, and its page:
    /// `"Employees receive 25 days of paid vacation per year." (p. 2)`.
    static func quoteLine(_ citation: Citation, _ answer: Answer) -> String {
        let pages = citation.page == citation.pageEnd ? "p. \(citation.page)" : "pp. \(citation.page)–\(citation.pageEnd)"
        return "\"\(citation.quote(question: answer.question, answer: answer.text))\" (\(pages))"
    }

    /// The engines this command opened (`CollectionOptions.makeEngine`), closed when it ends (`reportingErrors`):
    /// an engine on a database holds a connection pool.
    static let openEngines = Mutex<[Engine]>([])

    /// Closes the engines this command opened.
    static func closeEngines() async {
        let engines = openEngines.withLock { engines in
            defer { engines = [] }
            return engines
        }
        for engine in engines { await engine.close() }
    }

    /// The process's environment: the only place the CLI reads it.
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static func bootstrapLogging(verbose: Bool) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .info : .warning
            return handler
        }
    }

    /// Prints one line to stderr.
    static func warn(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Prints a JSON value to stdout.
    static func printJSON(_ value: Any) throws {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// Prints an `Encodable` value to stdout as JSON, with the same key order and escaping as the server's API.
    static func printJSON(encoding value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
    }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// What to do next, in this command's words, for errors whose library message cannot name the CLI (the same
    /// messages reach HTTP clients of the server).
    static func hint(for error: any Error) -> String? {
        if let error = error as? EngineError {
            switch error.code {
            case .emptyCollection: return "rag ingest FILE..."
            case .documentNotFound where error.message.hasPrefix("no document"): return "see the ids and names with `rag list`"
            default: return nil
            }
        }
        if "\(error)".contains("MiniLM model is not installed") {
            return "scripts/fetch-model.sh from the repository installs it; `rag doctor` shows where it is looked for"
        }
        return nil
    }

    /// "1 document", "2 documents".
    static func count(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }
}

/// An error the CLI reports as one line.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    var exitCode: Int32 = 1
    init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}

extension AsyncParsableCommand {
    /// Runs the command body, turning any error into one line on stderr and a non-zero exit code.
    func reportingErrors(_ body: () async throws -> Void) async throws {
        do {
            do {
                try await body()
            } catch {
                await CLI.closeEngines()
                throw error
            }
            await CLI.closeEngines()
        } catch let error as CLIError {
            CLI.warn("rag: error: \(error.description)")
            throw ExitCode(error.exitCode)
        } catch let error as ExitCode {
            throw error
        } catch {
            CLI.warn("rag: error: \(error)\(CLI.hint(for: error).map { " (\($0))" } ?? "")")
            throw ExitCode(1)
        }
    }
}
