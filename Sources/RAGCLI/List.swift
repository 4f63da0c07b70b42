import ArgumentParser
import Foundation
import RAGCore

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the documents in the collection.")

    @OptionGroup var options: CollectionOptions

    @Flag(help: "Print the documents as JSON.")
    var json = false

    @Flag(help: "Also show how each page was read: from its text layer, by OCR (with its confidence), failed or empty.")
    var pages = false

    func run() async throws {
        try await reportingErrors { try await execute() }
    }

    private func execute() async throws {
        let collection = try await options.makeEngine().collection
        let directory = try options.directory()
        try options.writeMetrics()
        if json {
            try CLI.printJSON([
                "collection": [
                    "path": directory.path, "embedder": collection.embedderID,
                    "dimension": collection.dimension, "chunks": collection.chunks.count,
                    "vector_storage": collection.storageFormat.rawValue,
                ] as [String: Any],
                "documents": collection.documents.map { record in
                    var object = DocumentJSON.record(record)
                    if pages, let readings = record.pageReadings { object["readings"] = readings.map(DocumentJSON.reading) }
                    return object
                },
            ])
            return
        }
        if collection.documents.isEmpty {
            print("The collection is empty: add documents with `rag ingest FILE...`.")
            return
        }
        print("Collection \(directory.path): \(CLI.count(collection.documents.count, "document")), \(CLI.count(collection.chunks.count, "chunk")), "
            + "embedder \(collection.embedderID) (\(EmbedderChoice.describe(identifier: collection.embedderID))), vectors stored as \(collection.storageFormat.rawValue)")
        for record in collection.documents {
            var line = "\(record.id)  \(record.fileName)  \(record.pageCount) pages, \(record.chunkCount) chunks"
            if let title = record.title, !title.isEmpty { line += "  \"\(title)\"" }
            if let ocr = record.readingSummary?.ocrDescription { line += "  (\(ocr))" }
            if !record.warnings.isEmpty { line += "  (\(record.warnings.count) warnings)" }
            print(line)
            if pages { print(Self.readingLines(record)) }
        }
    }
}

extension List {
    /// The pages of `record` by how they were read, runs of pages read alike on one line:
    /// `    1–3   text`, `    4     ocr 91`, `    5–6   ocr 88–93`.
    static func readingLines(_ record: DocumentRecord) -> String {
        guard let readings = record.pageReadings, !readings.isEmpty else {
            return "    (how pages were read was not recorded for this document: ingest it again to see it)"
        }
        var lines: [String] = []
        var start = 0
        while start < readings.count {
            var end = start
            while end + 1 < readings.count && readings[end + 1].method == readings[start].method { end += 1 }
            let run = readings[start...end]
            let pages = start == end ? "\(run.first!.page)" : "\(run.first!.page)–\(run.last!.page)"
            var what = run.first!.method.rawValue
            let confidences = run.compactMap(\.confidence)
            if let low = confidences.min(), let high = confidences.max() {
                what += low == high ? " \(low)" : " \(low)–\(high)"
            }
            lines.append("    " + pages.padding(toLength: 12, withPad: " ", startingAt: 0) + what)
            start = end + 1
        }
        return lines.joined(separator: "\n")
    }
}

enum DocumentJSON {
    static func reading(_ reading: PageReading) -> [String: Any] {
        var object: [String: Any] = ["page": reading.page, "read": reading.method.rawValue]
        if let confidence = reading.confidence { object["confidence"] = confidence }
        return object
    }

    static func record(_ record: DocumentRecord) -> [String: Any] {
        var object: [String: Any] = [
            "id": record.id.rawValue, "file": record.fileName, "kind": record.kind.rawValue, "pages": record.pageCount,
            "indexed_pages": record.indexedPages, "chunks": record.chunkCount, "bytes": record.byteCount,
            "sha256": record.contentHash, "ingested_at": ISO8601DateFormatter().string(from: record.ingestedAt),
            "warnings": record.warnings.map(warning),
        ]
        if let title = record.title { object["title"] = title }
        if let author = record.author { object["author"] = author }
        if let path = record.sourcePath { object["path"] = path }
        return object
    }

    static func warning(_ warning: DocumentWarning) -> [String: Any] {
        var object: [String: Any] = ["kind": warning.kind.rawValue, "message": warning.message]
        if let page = warning.page { object["page"] = page }
        return object
    }
}
