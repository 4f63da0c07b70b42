import Foundation
import Logging
import RAGCore
import Synchronization
import Testing

/// Collects log messages in memory, for asserting what a library logged.
final class CollectingLogHandler: LogHandler, Sendable {
    let messages = Mutex<[(Logger.Level, String)]>([])
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    subscript(metadataKey _: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }
    func log(event: LogEvent) {
        messages.withLock { $0.append((event.level, event.message.description)) }
    }
}

@Suite struct DefaultEmbedderTests {
    @Test func withoutTheModelTheHashedEmbedderIsUsedWithAWarning() throws {
        let empty = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        let handler = CollectingLogHandler()
        let embedder = try EmbedderIdentifier.defaultEmbedder(modelsDirectory: empty, logger: Logger(label: "test") { _ in handler })
        #expect(embedder.identifier == "hashing-v1-d512")
        let warnings = handler.messages.withLock { $0 }.filter { $0.0 == .warning }.map(\.1)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("RAG_MODELS_DIR") == true && warnings.first?.contains("scripts/") == false)
    }

    @Test func withTheModelMiniLMIsTheDefault() throws {
        _ = try requireMiniLMDirectory()
        let handler = CollectingLogHandler()
        let embedder = try EmbedderIdentifier.defaultEmbedder(modelsDirectory: testModelsDirectory, logger: Logger(label: "test") { _ in handler })
        #expect(embedder.identifier == "minilm-l6-v2-d384")
        #expect(embedder.dimension == 384)
        #expect(handler.messages.withLock { $0 }.isEmpty)
    }

    @Test func aMiniLMCollectionReopensWithMiniLM() throws {
        _ = try requireMiniLMDirectory()
        let embedder = try EmbedderIdentifier.embedder(for: "minilm-l6-v2-d384", openAI: nil, modelsDirectory: testModelsDirectory)
        #expect(embedder is MiniLMEmbedder)
        do {
            _ = try EmbedderIdentifier.embedder(for: "minilm-l6-v2-d384", openAI: nil, modelsDirectory: URL(fileURLWithPath: "/nonexistent"))
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("RAG_MODELS_DIR") && !error.message.contains("scripts/"))
        }
    }

    @Test func theModelsDirectoryComesFromTheEnvironmentThenTheCheckoutThenTheUserThenTheSystemDataDirectory() throws {
        let home = URL(fileURLWithPath: "/home/someone")
        let elsewhere = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let nothing = ["XDG_DATA_DIRS": elsewhere.appendingPathComponent("none").path]
        #expect(EmbedderIdentifier.modelsDirectory(environment: ["RAG_MODELS_DIR": "/opt/models"], currentDirectory: elsewhere, home: home).path == "/opt/models")
        #expect(EmbedderIdentifier.modelsDirectory(environment: nothing, currentDirectory: elsewhere, home: home).path == "/home/someone/.local/share/pdf-chatbot/models")
        #expect(EmbedderIdentifier.modelsDirectory(environment: nothing.merging(["XDG_DATA_HOME": "/data"]) { $1 }, currentDirectory: elsewhere, home: home).path == "/data/pdf-chatbot/models")

        // Places that hold the model, each a link to the installed one.
        let installed = try requireMiniLMDirectory().deletingLastPathComponent()
        func modelsLink(in folder: URL) throws -> URL {
            let models = folder.appendingPathComponent("models")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(at: models, withDestinationURL: installed)
            return models
        }
        let checkout = try modelsLink(in: elsewhere.appendingPathComponent("checkout"))
        let user = try modelsLink(in: elsewhere.appendingPathComponent("share/pdf-chatbot"))
        let system = try modelsLink(in: elsewhere.appendingPathComponent("usr/share/pdf-chatbot"))
        let userData = elsewhere.appendingPathComponent("share").path
        let systemData = "/nonexistent:" + elsewhere.appendingPathComponent("usr/share").path

        // A checkout's own models/ wins over the user's, which wins over the system's; from any other directory the
        // user's installation is found.
        let everything = ["XDG_DATA_HOME": userData, "XDG_DATA_DIRS": systemData]
        #expect(EmbedderIdentifier.modelsDirectory(environment: everything, currentDirectory: checkout.deletingLastPathComponent(), home: home) == checkout)
        #expect(EmbedderIdentifier.modelsDirectory(environment: everything, currentDirectory: elsewhere, home: home) == user)
        let systemOnly = ["XDG_DATA_HOME": elsewhere.appendingPathComponent("empty").path, "XDG_DATA_DIRS": systemData]
        #expect(EmbedderIdentifier.modelsDirectory(environment: systemOnly, currentDirectory: elsewhere, home: home) == system)
    }
}
