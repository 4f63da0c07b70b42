import ArgumentParser
import Foundation
import RAGCore

struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer a question from the collection, citing file and page.",
        discussion: "The answer streams as it is written, then the sources are listed as `file p. N`."
    )

    @Argument(help: "The question.")
    var question: String

    @OptionGroup var options: CollectionOptions

    @OptionGroup(title: "Retrieval") var retrievalFlags: RetrievalFlags

    @OptionGroup(title: "Query rewriting") var rewritingFlags: QueryRewritingFlags

    @Option(name: .short, help: ArgumentHelp("Passages to retrieve.", valueName: "n"))
    var k: Int = EngineConfiguration().searchResults

    @Flag(help: "Print the answer as one JSON object when it is complete.")
    var json = false

    func run() async throws {
        try await reportingErrors { try await execute() }
    }

    private func execute() async throws {
        let retrieval = try retrievalFlags.options()
        let rewriting = try rewritingFlags.rewriting()
        let vectorFormat = try retrievalFlags.vectorFormat(default: .f32)
        let engine = try await options.makeEngine {
            $0.searchResults = max(1, k)
            $0.retrieval = retrieval
            $0.vectorFormat = vectorFormat
            $0.queryRewriting = rewriting
        }
        var answer: Answer? = nil
        for try await event in engine.askStreaming(question) {
            switch event {
            case .passages: break
            case .delta(let text):
                if !json {
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
            case .done(let done): answer = done
            }
        }
        try options.writeMetrics()
        guard let answer else { return }
        if json {
            try CLI.printJSON(encoding: AnswerWire.Answer(answer))
            return
        }
        print(answer.text.hasSuffix("\n") ? "" : "\n", terminator: "")
        guard !answer.citations.isEmpty else { return }
        print("\nSources:")
        for citation in answer.citations {
            print("  [\(citation.number)] \(citation.label)  (score \(String(format: "%.3f", citation.score)))")
            print("      \(CLI.quoteLine(citation, answer))")
        }
    }
}
