import ArgumentParser
import Foundation
import RAGCore

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the documents in the collection.")

    @OptionGroup var options: CollectionOptions

    @Flag(help: "Print the documents as JSON.")
    var json = false

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
                ] as [String: Any],
                "documents": collection.documents.map(DocumentJSON.record),
            ])
            return
        }
        if collection.documents.isEmpty {
            print("The collection is empty: add documents with `rag ingest FILE...`.")
            return
        }
        print("Collection \(directory.path): \(CLI.count(collection.documents.count, "document")), \(CLI.count(collection.chunks.count, "chunk")), "
            + "embedder \(collection.embedderID) (\(EmbedderChoice.describe(identifier: collection.embedderID)))")
        for record in collection.documents {
            var line = "\(record.id)  \(record.fileName)  \(record.pageCount) pages, \(record.chunkCount) chunks"
            if let title = record.title, !title.isEmpty { line += "  \"\(title)\"" }
            if !record.warnings.isEmpty { line += "  (\(record.warnings.count) warnings)" }
            print(line)
        }
    }
}

enum DocumentJSON {
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
