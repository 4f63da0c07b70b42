import ArgumentParser
import Foundation
import RAGCore

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the passages most similar to a query.",
        discussion: """
            With --json, prints one object: {"hits":[{"file": name, "page": 1-based, "text": chunk text, \
            "score": cosine similarity (BM25 score with --retrieval lexical)}]}, best first.
            """
    )

    @Argument(help: "The query.")
    var query: String

    @OptionGroup var options: CollectionOptions

    @OptionGroup(title: "Retrieval") var retrievalFlags: RetrievalFlags

    @Option(name: .short, help: ArgumentHelp("How many passages.", valueName: "n"))
    var k: Int = 5

    @Option(name: .long, help: ArgumentHelp("Only search this document (id or file name); repeatable.", valueName: "doc"))
    var document: [String] = []

    @Flag(help: "Print the hits as JSON.")
    var json = false

    func run() async throws {
        try await reportingErrors { try await execute() }
    }

    private func execute() async throws {
        let retrieval = try retrievalFlags.options()
        let vectorFormat = try retrievalFlags.vectorFormat(default: .f32)
        let engine = try await options.makeEngine {
            $0.retrieval = retrieval
            $0.vectorFormat = vectorFormat
        }
        var filter: Set<DocumentID>? = nil
        if !document.isEmpty {
            let collection = engine.collection
            var ids = Set<DocumentID>()
            for reference in document {
                let matches = collection.documents(matching: reference)
                guard !matches.isEmpty else { throw CLIError("no document matches '\(reference)'; see `rag list`") }
                ids.formUnion(matches.map(\.id))
            }
            filter = ids
        }
        let hits = try await engine.search(query, k: max(1, k), documents: filter)
        try options.writeMetrics()
        if json {
            try CLI.printJSON([
                "hits": hits.map { hit in
                    ["file": hit.chunk.fileName, "page": hit.chunk.pageStart, "text": hit.chunk.text, "score": Double(hit.score)] as [String: Any]
                }
            ])
            return
        }
        if hits.isEmpty { print("No passages found.") }
        for hit in hits {
            print("\(hit.rank). \(hit.chunk.fileName) \(hit.chunk.pageLabel)  (score \(String(format: "%.3f", hit.score)))")
            print("   " + hit.chunk.text.prefix(300).replacingOccurrences(of: "\n", with: " ") + (hit.chunk.text.count > 300 ? "…" : ""))
        }
    }
}
