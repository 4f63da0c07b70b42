import Foundation
import RAGCore
import RAGTesting
import Testing

@Suite struct CollectionHardeningTests {
    /// Issue #12 item 13: the collection holds every document's text, so its files are 0600 and the directories
    /// the store creates 0700, whatever the umask.
    @Test func collectionFilesAndDirectoriesAreOwnerOnly() async throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("parent/collection")
        let previous = umask(0)  // the most permissive umask: only explicit modes give 0600/0700
        defer { umask(previous) }
        let engine = try Engine(configuration: EngineConfiguration(collectionDirectory: directory), embedder: MockEmbedder(dimension: 8))
        _ = try await engine.ingest(data: Data("Employees get 25 vacation days.".utf8), fileName: "hr.txt")
        await engine.flush()
        func mode(_ url: URL) throws -> Int {
            try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int)
        }
        #expect(try mode(directory.appendingPathComponent("collection.rag")) == 0o600)
        #expect(try mode(directory.appendingPathComponent(".lock")) == 0o600)
        #expect(try mode(directory) == 0o700)
        #expect(try mode(root.appendingPathComponent("parent")) == 0o700)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    /// A directory that exists keeps its mode: the store narrows only what it creates.
    @Test func anExistingDirectoryKeepsItsMode() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.setAttributes([.posixPermissions: 0o750], ofItemAtPath: directory.path)
        var collection = CollectionStoreTests.sampleCollection()
        try CollectionStore(directory: directory).save(&collection)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.path)
        #expect(attributes[.posixPermissions] as? Int == 0o750)
        let file = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("collection.rag").path)
        #expect(file[.posixPermissions] as? Int == 0o600)
    }
}
