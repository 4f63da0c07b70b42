import Foundation
import RAGCore
import RAGTesting
import Testing

// The README's Swift example, compiled here. Between the markers the code must match the README word for word.
private func readmeExample() async throws {
    // BEGIN README
    let directory = URL(fileURLWithPath: "my-index")
    let engine = try await Engine(configuration: EngineConfiguration(collectionDirectory: directory))
    let report = await engine.ingest(paths: ["handbook.pdf"])
    print("indexed \(report.pages) pages, \(report.failed.count) files failed")
    let answer = try await engine.ask("How many vacation days do employees get?")
    print(answer.text)
    for citation in answer.citations { print("[\(citation.number)] \(citation.label)") }
    // END README
}

private func readmeTestingExample() async throws -> (Answer, MockLLMClient) {
    // BEGIN README TESTING
    let llm = MockLLMClient(replies: ["It is 25 days [1]."])
    let engine = try await Engine(embedder: MockEmbedder(dimension: 16), llm: llm)
    _ = try await engine.ingest(data: TestPDF.make(pages: ["Employees get 25 vacation days."]), fileName: "hr.pdf")
    let answer = try await engine.ask("How many vacation days?")   // llm.requests holds the prompt it received
    // END README TESTING
    return (answer, llm)
}

@Suite struct ReadmeExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The code between `// BEGIN marker` and `// END marker` in this file, de-indented.
    static func block(_ marker: String) throws -> String {
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "// BEGIN \(marker)" })
        let end = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "// END \(marker)" })
        return lines[(start + 1)..<end].map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }
            .joined(separator: "\n")
    }

    @Test func readmeShowsTheCompiledCode() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains(try Self.block("README")))
        #expect(readme.contains(try Self.block("README TESTING")))
        let exampleLines = try Self.block("README").split(separator: "\n").count + 2  // plus the two imports
        #expect(exampleLines <= 10)
    }

    @Test func testingExampleWorks() async throws {
        let (answer, llm) = try await readmeTestingExample()
        #expect(answer.text == "It is 25 days [1].")
        #expect(answer.citations.first?.label == "hr.pdf p. 1")
        #expect(llm.requests.first?.messages.last?.content.contains("Employees get 25 vacation days.") == true)
    }
}
