import ArgumentParser
import Foundation
import RAGCore

struct Extract: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the text of each page exactly as the engine sees it.",
        discussion: """
            Pages are separated by a form feed, like pdftotext; warnings go to stderr. Uses all cores. With \
            --json, prints one object per file: {"file", "page_count", "title", "author", "pages": [{"page", \
            "text"}], "readings": [{"page", "read", "confidence"}], "warnings": [{"kind", "page", "message"}]}; \
            "read" is how each page was read: text (its text layer), ocr (with Tesseract's mean confidence), \
            failed or empty. Scanned pages are read by OCR when Tesseract is installed (see --ocr).
            """
    )

    @Argument(help: ArgumentHelp("PDF, text or Markdown files.", valueName: "path"))
    var paths: [String]

    @OptionGroup var extraction: ExtractionOptions

    @Flag(help: "Print JSON, one object per file and line.")
    var json = false

    func run() async throws {
        try await reportingErrors { try await execute() }
    }

    private func execute() async throws {
        let loader = try extraction.loader()
        let results = loader.loadAll(paths.map { URL(fileURLWithPath: $0) })
        var failed = false
        for (path, result) in zip(paths, results) {
            switch result {
            case .failure(let error):
                failed = true
                CLI.warn("rag: \(path): \(error)")
            case .success(let document):
                for warning in document.warnings { CLI.warn("rag: warning: \(document.fileName): \(warning)") }
                if json {
                    var object: [String: Any] = [
                        "file": document.fileName, "page_count": document.pageCount,
                        "pages": document.pages.map { ["page": $0.number, "text": $0.text] as [String: Any] },
                        "warnings": document.warnings.map(DocumentJSON.warning),
                        "readings": document.readings.map(DocumentJSON.reading),
                    ]
                    if let title = document.title { object["title"] = title }
                    if let author = document.author { object["author"] = author }
                    try CLI.printJSON(object)
                } else {
                    let text = document.pages.map(\.text).joined(separator: "\n\u{0C}")
                    FileHandle.standardOutput.write(Data((text + "\n\u{0C}").utf8))
                }
            }
        }
        if failed { throw ExitCode(paths.count == 1 ? 1 : 3) }
    }
}
