import ArgumentParser
import Foundation
import RAGCore

/// `rag doctor`: checks the installation and the collection, one line per check, and exits 1 when any check fails.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the installation: the local model, the answerer, OCR, the collection and its embedder.",
        discussion: """
            Each check prints one line, `ok`, `warn` or `fail`, with what was found and what to do. Nothing is \
            sent over the network: a configured language model is reported, not contacted. Exits 1 when a check \
            fails.
            """)

    @OptionGroup var options: CollectionOptions

    @Flag(help: "Print the checks as JSON.")
    var json = false

    func run() async throws {
        CLI.bootstrapLogging(verbose: options.verbose)
        try await reportingErrors {
            let checks = await DoctorChecks(options: options).run()
            if json {
                try CLI.printJSON([
                    "version": BuildInfo.version, "ok": !checks.contains { $0.status == .fail },
                    "checks": checks.map { ["name": $0.name, "status": $0.status.rawValue, "detail": $0.detail] },
                ])
            } else {
                print("rag \(BuildInfo.version)")
                for check in checks {
                    print("\(check.status.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0))"
                        + "\(check.name.padding(toLength: 12, withPad: " ", startingAt: 0))\(check.detail)")
                }
            }
            if checks.contains(where: { $0.status == .fail }) { throw ExitCode(1) }
        }
    }
}

/// One finding of `rag doctor`.
struct DoctorCheck {
    enum Status: String { case ok, warn, fail }
    var name: String
    var status: Status
    var detail: String
}

/// The checks of `rag doctor`, in the order they print.
struct DoctorChecks {
    var options: CollectionOptions

    func run() async -> [DoctorCheck] {
        let modelsDirectory = EngineSetup.modelsDirectory(environment: CLI.environment)
        var checks = [await model(in: modelsDirectory), answerer(), ocr(), blas()]
        checks += await collection(modelsDirectory: modelsDirectory)
        return checks
    }

    /// Which OpenBLAS kernels run (the encoder's and batch search's speed): a warning when the library did not
    /// recognise this CPU and runs kernels older than it could (``OpenBLASCore``).
    func blas() -> DoctorCheck {
        let stale = OpenBLASCore.recommendedCoreType != nil && CLI.environment["OPENBLAS_CORETYPE"] == nil
        return DoctorCheck(name: "blas", status: stale ? .warn : .ok, detail: "OpenBLAS kernels: \(OpenBLASCore.summary)")
    }

    /// Whether scanned pages can be read: Tesseract loads, with the languages `RAG_OCR_LANGUAGES` (else English) asks
    /// for. A warning, not a failure, when it is missing: text PDFs do not need it.
    func ocr() -> DoctorCheck {
        let options: OCROptions
        do {
            options = try EngineSettings.ocrOptions(flags: [:], environment: CLI.environment)
        } catch {
            return DoctorCheck(name: "ocr", status: .fail, detail: error.message)
        }
        if options.mode == .never {
            return DoctorCheck(name: "ocr", status: .ok, detail: "off (RAG_OCR=never): scanned pages are not read")
        }
        do {
            guard let version = try EngineConfiguration(ocr: options).checkOCR() else {
                if case .failure(let error) = Tesseract.availability {
                    return DoctorCheck(name: "ocr", status: .warn, detail: "scanned pages cannot be read: \(error.message)")
                }
                return DoctorCheck(name: "ocr", status: .warn, detail: "scanned pages cannot be read")
            }
            return DoctorCheck(
                name: "ocr", status: .ok,
                detail: "Tesseract \(version) with \(options.languages): scanned pages are read (\(options.mode.rawValue))")
        } catch {
            return DoctorCheck(name: "ocr", status: .fail, detail: "\(error)")
        }
    }

    /// Whether MiniLM is installed where this process looks, and whether it loads and embeds.
    func model(in modelsDirectory: URL) async -> DoctorCheck {
        let folder = modelsDirectory.appendingPathComponent(MiniLMEmbedder.directoryName).path
        guard MiniLMEmbedder.isInstalled(in: modelsDirectory) else {
            return DoctorCheck(
                name: "model", status: .warn,
                detail: "all-MiniLM-L6-v2 is not in \(folder): new collections use hashed word features, which match "
                    + "words, not meanings. Install it with scripts/fetch-model.sh from the repository, or set RAG_MODELS_DIR.")
        }
        do {
            let embedder = try MiniLMEmbedder(modelDirectory: URL(fileURLWithPath: folder), configuration: options.encoder())
            let vectors = try await embedder.embed(["How many vacation days do employees get?"])
            guard vectors.count == 1, vectors[0].count == embedder.dimension, vectors[0].allSatisfy(\.isFinite) else {
                return DoctorCheck(name: "model", status: .fail, detail: "all-MiniLM-L6-v2 in \(folder) loads but gives no usable vector")
            }
            return DoctorCheck(name: "model", status: .ok, detail: "all-MiniLM-L6-v2 in \(folder) loads and embeds (\(embedder.dimension) dimensions; dense layers in \(embedder.precisionDescription))")
        } catch {
            return DoctorCheck(name: "model", status: .fail, detail: "all-MiniLM-L6-v2 in \(folder) cannot be used: \(error)")
        }
    }

    /// Who answers questions: the configured language model (not contacted) or the extractive answerer.
    func answerer() -> DoctorCheck {
        let configuration: OpenAIConfiguration?
        do {
            configuration = try options.openAIConfiguration()
        } catch {
            return DoctorCheck(name: "answerer", status: .fail, detail: "the language model settings are invalid: \(error)")
        }
        switch (options.llm, configuration) {
        case (.extractive, _), (.auto, nil):
            return DoctorCheck(
                name: "answerer", status: .ok,
                detail: "extractive: answers quote the best passages (set OPENAI_API_KEY or OPENAI_BASE_URL for a language model)")
        case (.openai, nil):
            return DoctorCheck(name: "answerer", status: .fail, detail: "--llm openai, but no language model is configured (OPENAI_API_KEY or OPENAI_BASE_URL)")
        case (_, let configuration?):
            return DoctorCheck(
                name: "answerer", status: .ok,
                detail: "\(configuration.chatModel) at \(configuration.baseURL) (configured; not contacted)")
        }
    }

    /// The collection: where it is, whether it loads, what it holds, which embedder built it and whether that
    /// embedder is available here, and whether the directory can be written.
    func collection(modelsDirectory: URL) async -> [DoctorCheck] {
        let databaseURL: DatabaseURL?
        do {
            databaseURL = try options.resolvedDatabaseURL()
        } catch {
            return [DoctorCheck(name: "collection", status: .fail, detail: "\(error)")]
        }
        if let databaseURL { return await database(databaseURL, modelsDirectory: modelsDirectory) }
        let directory: URL
        do {
            directory = try options.directory()
        } catch {
            return [DoctorCheck(name: "collection", status: .fail, detail: "\(error)")]
        }
        let store = SQLiteCollectionStore(directory: directory, readOnly: true)
        var checks: [DoctorCheck] = []
        let writable = Self.writable(directory)
        checks.append(DoctorCheck(
            name: "storage", status: writable ? .ok : .warn,
            detail: "collection database in \(directory.path) (\(writable ? "writable" : "not writable: ingest and remove will fail"))"))
        guard store.databaseExists || store.legacyFileExists else {
            checks.append(DoctorCheck(
                name: "collection", status: .warn,
                detail: "\(directory.path) holds no collection yet: `rag ingest FILE...` creates one"))
            return checks
        }
        return checks + (await contents(of: store, at: directory.path, modelsDirectory: modelsDirectory))
    }

    /// The collection in a PostgreSQL database: whether it answers (within 10 s), and what it holds.
    func database(_ url: DatabaseURL, modelsDirectory: URL) async -> [DoctorCheck] {
        let store: PostgresCollectionStore
        do {
            store = try await PostgresCollectionStore(url: url, maxConnections: 1, connectionWait: .seconds(10))
        } catch {
            return [DoctorCheck(name: "storage", status: .fail, detail: "\(url.redacted): \(error.message)")]
        }
        var checks = [DoctorCheck(name: "storage", status: .ok, detail: "PostgreSQL database \(url.redacted), reachable")]
        if (try? await store.header()) == nil {
            checks.append(DoctorCheck(
                name: "collection", status: .warn, detail: "\(url.redacted) holds no collection yet: `rag ingest FILE...` creates one"))
        } else {
            checks += await contents(of: store, at: url.redacted, modelsDirectory: modelsDirectory)
        }
        await store.shutdown()
        return checks
    }

    /// What the collection in `store` holds, which embedder built it and whether that embedder is available here.
    func contents(of store: any CollectionStore, at location: String, modelsDirectory: URL) async -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let loaded: CollectionSnapshot?
        do {
            loaded = try await store.loadSnapshot()
        } catch {
            checks.append(DoctorCheck(name: "collection", status: .fail, detail: "\(error.path ?? location): \(error.message)"))
            return checks
        }
        guard let snapshot = loaded else { return checks }
        let collection = snapshot.collection
        if snapshot.isLegacy {
            checks.append(DoctorCheck(
                name: "format", status: .warn,
                detail: "\(location) holds a collection file of an earlier release: the next `rag ingest` or `rag list` migrates it to a database"))
        }
        let warnings = collection.documents.reduce(0) { $0 + $1.warnings.count }
        checks.append(DoctorCheck(
            name: "collection", status: .ok,
            detail: "\(location): \(CLI.count(collection.documents.count, "document")), \(CLI.count(collection.chunks.count, "chunk"))"
                + (warnings > 0 ? ", \(CLI.count(warnings, "extraction warning")) (`rag list` shows them)" : "")))
        let description = EmbedderChoice.describe(identifier: collection.embedderID)
        do {
            let openAI = try? options.openAIConfiguration()
            _ = try EmbedderIdentifier.embedder(for: collection.embedderID, openAI: openAI, modelsDirectory: modelsDirectory)
            checks.append(DoctorCheck(name: "embedder", status: .ok, detail: "\(collection.embedderID): \(description), available"))
        } catch {
            checks.append(DoctorCheck(
                name: "embedder", status: .fail,
                detail: "\(collection.embedderID) (\(description)) is not available, so the collection cannot be searched: \(error.message)"))
        }
        return checks
    }

    /// Whether `directory` (or, when it does not exist yet, its nearest existing parent) can be written.
    static func writable(_ directory: URL) -> Bool {
        var candidate = directory
        while !FileManager.default.fileExists(atPath: candidate.path), candidate.path != "/" {
            candidate = candidate.deletingLastPathComponent()
        }
        return FileManager.default.isWritableFile(atPath: candidate.path)
    }
}
