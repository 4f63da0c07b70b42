import ArgumentParser
import Foundation
import RAGCore

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove a document, its chunks and its vectors from the collection.")

    @Argument(help: ArgumentHelp("The document's id (or a unique id prefix) or file name, as `rag list` shows.", valueName: "doc"))
    var document: String

    @OptionGroup var options: CollectionOptions

    func run() async throws {
        try await reportingErrors { try await execute() }
    }

    private func execute() async throws {
        let engine = try await options.makeEngine()
        let removed = try await engine.remove(document)
        try options.writeMetrics()
        print("removed \(removed.id)  \(removed.fileName) (\(removed.chunkCount) chunks)")
    }
}
