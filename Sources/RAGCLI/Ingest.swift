import ArgumentParser
import Foundation
import RAGCore

struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add PDFs, text and Markdown files (or folders of them) to the collection.",
        discussion: """
            Unchanged files are skipped; a changed file replaces its earlier version. Files that cannot be read \
            are reported and skipped, and the rest are ingested (exit code 3 when any failed). When the collection \
            cannot be saved (a full disk), the files not saved are reported and the exit code is 1. On a terminal a \
            progress bar shows pages/s and the time left; otherwise one summary line is printed.
            """
    )

    @Argument(help: ArgumentHelp("Files or folders to ingest.", valueName: "path"))
    var paths: [String]

    @OptionGroup var options: CollectionOptions
    @OptionGroup var extraction: ExtractionOptions

    @OptionGroup var chunking: ChunkingFlags

    @Option(help: ArgumentHelp("Most chunks the collection may hold; 0 is unlimited.", valueName: "n"))
    var maxCollectionChunks: Int = EngineConfiguration().maxCollectionChunks

    @Option(help: ArgumentHelp(
        EngineSettings.vectorStorage.help + " (rag convert-vectors) [RAG_VECTOR_STORAGE] (default f32).", valueName: "format"))
    var vectorStorage: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard maxCollectionChunks >= 0 else { throw ValidationError("--max-collection-chunks must be 0 (unlimited) or more") }
    }

    func run() async throws {
        try await reportingErrors { try await execute() }
    }

    private func execute() async throws {
        let chunking = try chunking.options()
        let ocr = try extraction.ocrOptions()
        let storage: VectorFormat
        do {
            storage = try EngineSettings.vectorStorage.value(flag: vectorStorage, environment: CLI.environment)
        } catch {
            throw CLIError(error.message, exitCode: 64)
        }
        // `--ocr always` without Tesseract, or a language without its data, stops here, before any file is read.
        _ = try EngineConfiguration(ocr: ocr).checkOCR()
        let engine = try await options.makeEngine(encoderPrecision: .auto) { configuration in
            configuration.extraction = extraction.limits
            configuration.pdfPassword = extraction.password
            configuration.ocr = ocr
            configuration.chunking = chunking
            configuration.maxCollectionChunks = maxCollectionChunks
            configuration.vectorStorage = storage
        }
        let bar = CLI.stderrIsTerminal && !json ? ProgressBar() : nil
        var onProgress: (@Sendable (IngestProgress) -> Void)? = nil
        if let bar { onProgress = { bar.update($0) } }
        let report = await engine.ingest(paths: paths, progress: onProgress)
        bar?.finish()
        try options.writeMetrics()
        if json {
            try CLI.printJSON([
                "added": report.added.map(DocumentJSON.record),
                "unchanged": report.unchanged.map(DocumentJSON.record),
                "failed": report.failed.map { ["path": $0.path, "reason": $0.reason, "error": "\($0.error)"] },
            ])
        } else {
            for (fileName, warning) in report.warnings { CLI.warn("rag: warning: \(fileName): \(warning)") }
            for failure in report.failed {
                if failure.reason == Ingest.storageReason {
                    CLI.warn("rag: error: \(failure.path) was not saved: \(failure.error)")
                } else {
                    CLI.warn("rag: skipped \(failure.path): \(failure.error)" + (Self.flagHint[failure.reason].map { " (\($0))" } ?? ""))
                }
            }
            print(Ingest.summary(report, collection: engine.collection))
        }
        // A collection that cannot be saved is an error (a job retries it); a bad file is not (retrying will not help).
        if report.failed.contains(where: { $0.reason == Ingest.storageReason }) { throw ExitCode(1) }
        if !report.failed.isEmpty { throw ExitCode(3) }
    }

    /// The failure reason of a file that was read but could not be saved to the collection.
    static let storageReason = "storage"

    /// The flag that raises the limit behind a failure reason, for the `skipped` line.
    static let flagHint = [
        "too_large": "--max-bytes", "too_many_pages": "--max-pages", "too_much_text": "--max-characters",
        "too_much_text_for_size": "--max-characters-per-byte", "collection_quota": "--max-collection-chunks",
    ]

    static func summary(_ report: IngestReport, collection: DocumentCollection) -> String {
        // Only what was saved counts as ingested.
        var parts = [
            report.added.isEmpty
                ? "nothing ingested"
                : "ingested \(report.added.count) document\(report.added.count == 1 ? "" : "s") (\(report.pages) pages, \(report.chunks) chunks)"
        ]
        if !report.unchanged.isEmpty { parts.append("\(report.unchanged.count) unchanged") }
        if !report.failed.isEmpty { parts.append("\(report.failed.count) failed") }
        return parts.joined(separator: ", ") + "; the collection holds \(collection.documents.count) documents, \(collection.chunks.count) chunks"
    }
}

/// A one-line progress bar on stderr: files, pages/s and the time left (estimated from bytes).
final class ProgressBar: Sendable {
    func update(_ progress: IngestProgress) {
        let fraction = progress.bytesTotal > 0 ? Double(progress.bytesDone) / Double(progress.bytesTotal)
            : Double(progress.filesDone) / Double(max(1, progress.filesTotal))
        let width = 24
        let filled = Int(fraction * Double(width))
        let rate = progress.elapsed > 0 ? Double(progress.pagesDone) / progress.elapsed : 0
        let remaining = fraction > 0 ? progress.elapsed * (1 - fraction) / fraction : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        var line = String(
            format: "\r[%@] %3d%% %d/%d files  %d pages  %.1f pages/s  ETA %@  %@",
            bar, Int(fraction * 100), progress.filesDone, progress.filesTotal, progress.pagesDone, rate,
            ProgressBar.duration(remaining), String(progress.currentFile.prefix(30)))
        if progress.ocrPagesTotal > 0 {
            // OCR takes seconds per page: say how far it is into the file.
            line += "  OCR page \(progress.ocrPagesDone)/\(progress.ocrPagesTotal)"
        }
        FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
    }

    func finish() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 60 ? "\(total / 60)m\(String(format: "%02d", total % 60))s" : "\(total)s"
    }
}
