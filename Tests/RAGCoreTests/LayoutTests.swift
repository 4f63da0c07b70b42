import Foundation
import Testing

/// Rules of the source layout that a compiler does not check (docs/architecture.md, "The house").
@Suite struct LayoutTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/RAGCore")

    /// Each Swift file under `Sources/RAGCore/<folder>`, with its code lines (comments left out).
    static func codeLines(in folder: String) throws -> [(file: String, line: String)] {
        let root = sources.appendingPathComponent(folder)
        let files = try #require(FileManager.default.enumerator(atPath: root.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") }
        #expect(!files.isEmpty, "no Swift files in \(folder)")
        return try files.flatMap { file in
            try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8).split(separator: "\n")
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.hasPrefix("//") }
                .map { (file: "\(folder)/\(file)", line: $0) }
        }
    }

    /// The engine must not know which database it runs on (issue #11): SQL is written only in the stores' own folders
    /// (Storage/SQLite/, Storage/Postgres/), and outside Storage/ only the places that choose the store for a
    /// configuration name one.
    @Test func sqlStaysInTheStores() throws {
        let choosers: Set<String> = ["Engine/Engine.swift", "Engine/EngineSetup.swift"]
        let storeFolders = ["Storage/SQLite/", "Storage/Postgres/"]
        for entry in try Self.codeLines(in: "") {
            let file = entry.file.hasPrefix("/") ? String(entry.file.dropFirst()) : entry.file
            guard !storeFolders.contains(where: file.hasPrefix) else { continue }
            for keyword in ["SELECT ", "INSERT INTO", "DELETE FROM", "BEGIN IMMEDIATE", "CREATE TABLE", "sqlite3_", "PostgresQuery"]
            where entry.line.contains(keyword) {
                Issue.record("\(file) writes SQL (\(keyword)): \(entry.line)")
            }
            for store in ["SQLite", "Postgres"] where entry.line.contains(store) && !file.hasPrefix("Storage/") && !choosers.contains(file) {
                Issue.record("\(file) names the \(store) store: \(entry.line)")
            }
        }
    }

    /// The library's messages reach HTTP clients of the server and programs that embed it: they must not tell the
    /// reader to run a command of the CLI or a script of the repository (the CLI adds such hints itself).
    @Test func theLibrarysMessagesNameNeitherTheCLINorScripts() throws {
        let lines = try Self.codeLines(in: "")
        let offending = lines.filter { entry in
            ["`rag ", "(rag ", "scripts/", "a newer rag"].contains { entry.line.contains($0) }
        }
        #expect(offending.isEmpty, "\(offending.map { "\($0.file): \($0.line)" }.joined(separator: "\n"))")
    }

    /// Folders depend one way: Embedding/ and Search/ know nothing of OpenAI/ or Engine/, and Text/ of nothing above it.
    @Test func lowerFoldersDoNotNameHigherOnes() throws {
        let rules: [(folder: String, forbidden: [String])] = [
            ("Embedding", ["OpenAIEmbedder", "OpenAIClient", "OpenAIConfiguration", "Engine"]),
            ("Search", ["OpenAI", "Engine", "ExtractiveAnswerer", "PromptBuilder"]),
            ("Text", ["OpenAI", "Engine", "Embedder", "VectorIndex", "LexicalIndex"]),
            ("Generation", ["HashingEmbedder", "MiniLMEmbedder", "OpenAIClient", "DocumentCollection"]),
            // Search is found in Search/ and storage in Storage/ (issue #11): the search code works on a snapshot and
            // knows nothing of how it is stored; the store knows nothing of how it is searched.
            ("Search", ["CollectionStore", "SQLite", "LegacyCollectionFile"]),
            ("Storage", ["RankFusion", "SearchHit", "TopK(", "func search"]),
        ]
        for rule in rules {
            for entry in try Self.codeLines(in: rule.folder) {
                for name in rule.forbidden where entry.line.contains(name) {
                    Issue.record("\(entry.file) names \(name): \(entry.line)")
                }
            }
        }
    }
}
