import ArgumentParser
import Foundation
import RAGCore

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask questions one after another, with follow-ups that refer to earlier answers.",
        discussion: """
            Reads one question per line from standard input and streams each answer with its sources. The \
            conversation is kept, so a follow-up such as "and how long does that take?" is understood (with a \
            language model, it is first rewritten into a standalone search query). An empty line or end of input \
            ends the chat.
            """
    )

    @OptionGroup var options: CollectionOptions

    @OptionGroup(title: "Retrieval") var retrievalFlags: RetrievalFlags

    @OptionGroup(title: "Query rewriting") var rewritingFlags: QueryRewritingFlags

    @Option(name: .short, help: ArgumentHelp("Passages to retrieve per question.", valueName: "n"))
    var k: Int = EngineConfiguration().searchResults

    @Flag(help: "Search with follow-up questions as they are, without asking the model to rewrite them first.")
    var noCondense = false

    func run() async throws {
        try await reportingErrors { try await execute() }
    }

    private func execute() async throws {
        let retrieval = try retrievalFlags.options()
        let rewriting = try rewritingFlags.rewriting()
        let vectorFormat = try retrievalFlags.vectorFormat(default: .auto)
        let engine = try await options.makeEngine(encoderPrecision: .auto) { configuration in
            configuration.vectorFormat = vectorFormat
            configuration.searchResults = max(1, k)
            configuration.retrieval = retrieval
            configuration.queryRewriting = rewriting
            configuration.condenseFollowUps = !noCondense
        }
        let interactive = isatty(0) == 1
        var history: [ChatMessage] = []
        if interactive {
            print("Ask a question about your documents (an empty line ends the chat).")
        }
        while true {
            if interactive {
                print("> ", terminator: "")
                fflush(nil)
            }
            guard let line = readLine(), !line.trimmingCharacters(in: .whitespaces).isEmpty else { break }
            do {
                var answer: Answer? = nil
                for try await event in engine.askStreaming(line, history: history) {
                    switch event {
                    case .passages: break
                    case .delta(let text):
                        print(text, terminator: "")
                        fflush(nil)
                    case .done(let done): answer = done
                    }
                }
                guard let answer else { continue }
                if !answer.text.hasSuffix("\n") { print() }
                if !answer.citations.isEmpty {
                    print("Sources:")
                    for citation in answer.citations { print("  [\(citation.number)] \(CLI.quoteLine(citation, answer)) (\(citation.fileName))") }
                }
                print()
                // Only the last `maxHistoryMessages` ever reach a model call: keep no more than those.
                history += [.user(line), .assistant(answer.text)]
                history = Array(history.suffix(max(0, engine.configuration.prompt.maxHistoryMessages)))
            } catch {
                CLI.warn("rag: error: \(error)")
            }
        }
        try options.writeMetrics()
    }
}
