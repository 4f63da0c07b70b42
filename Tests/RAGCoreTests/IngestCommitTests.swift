import Foundation
import RAGCore
import RAGTesting
import Testing

/// Ingestion commits document by document: each is loaded, chunked and embedded outside the write lock, then added
/// and saved in a short write. So a batch that fails (or is killed) part way keeps what it saved, and other writers
/// (an upload, a removal, another process) do not wait for the whole batch. The tests hold the mock embedder instead
/// of timing anything.
@Suite struct IngestCommitTests {
    static let texts = StorageFailureTests.texts

    @Test func eachFileIsSavedAsItIsIngestedSoALaterFailureKeepsTheEarlierOnes() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        let files = try StorageFailureTests.writeFiles(["alpha.txt", "beta.txt", "gamma.txt"], in: directory)
        let configuration = EngineConfiguration(collectionDirectory: collection)
        let engine = try await Engine(configuration: configuration)

        // After the second file, the disk is full.
        let report = await engine.ingest(paths: files) { progress in
            if progress.filesDone == 2 { try? StorageFaults.blockSaves(in: collection) }
        }
        #expect(report.added.map(\.fileName) == ["alpha.txt", "beta.txt"])
        #expect(report.failed.map(\.path) == [files[2]])
        #expect(report.failed.map(\.reason) == ["storage"])
        #expect(engine.collection.documents.map(\.fileName) == ["alpha.txt", "beta.txt"])
        let reopened = try await Engine(configuration: configuration)
        #expect(reopened.collection.documents.map(\.fileName) == ["alpha.txt", "beta.txt"])

        // With room again, the same command adds only what is missing.
        try StorageFaults.unblockSaves(in: collection)
        let again = await reopened.ingest(paths: files)
        #expect(again.unchanged.map(\.fileName) == ["alpha.txt", "beta.txt"])
        #expect(again.added.map(\.fileName) == ["gamma.txt"] && again.failed.isEmpty)
    }

    /// While a batch waits for its embedder, an upload (to the same engine, or to another one on the same directory,
    /// as a server beside `rag ingest`) is saved, and the batch then adds its documents to the collection holding it.
    @Test(arguments: [false, true])
    func aBatchBeingEmbeddedDoesNotKeepOtherWritersWaiting(otherEngine: Bool) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        let files = try StorageFailureTests.writeFiles(["alpha.txt", "beta.txt", "gamma.txt"], in: directory)
        let configuration = EngineConfiguration(collectionDirectory: collection)
        let embedder = MockEmbedder()
        embedder.hold { texts in texts.contains { $0.contains("Beavers") } }  // beta.txt
        defer { embedder.release() }  // never leave the batch waiting, even when an expectation fails
        let engine = try await Engine(configuration: configuration, embedder: embedder)
        let writer = otherEngine ? try await Engine(configuration: configuration, embedder: MockEmbedder()) : engine

        let batch = Task { await engine.ingest(paths: files) }
        try await waitUntil("the batch embeds beta.txt") { embedder.heldBatches == 1 }
        let committed = try await SQLiteCollectionStore(directory: collection, readOnly: true).loadSnapshot()
        #expect(committed?.collection.documents.map(\.fileName) == ["alpha.txt"])

        let uploaded = Shared(false)
        let upload = Task {
            defer { uploaded.update { $0 = true } }
            return try await writer.ingest(data: Data("Otters hold hands while they sleep.".utf8), fileName: "otters.txt")
        }
        try await waitUntil("the upload is saved while the batch waits") { uploaded.current }
        #expect(try await upload.value.fileName == "otters.txt")
        #expect(embedder.heldBatches == 1, "the batch is still waiting for its embedder")
        let removed = try await writer.remove("otters.txt")
        #expect(removed.fileName == "otters.txt")
        _ = try await writer.ingest(data: Data("Otters hold hands while they sleep.".utf8), fileName: "otters.txt")

        embedder.release()
        let report = await batch.value
        #expect(report.added.map(\.fileName) == ["alpha.txt", "beta.txt", "gamma.txt"] && report.failed.isEmpty)
        let expected: Set = ["alpha.txt", "beta.txt", "gamma.txt", "otters.txt"]
        #expect(Set(engine.collection.documents.map(\.fileName)) == expected)
        #expect(Set(try await Engine(configuration: configuration, embedder: embedder).collection.documents.map(\.fileName)) == expected)
    }

    /// An upload is embedded outside the write lock too.
    @Test func anUploadBeingEmbeddedDoesNotKeepOtherWritersWaiting() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let embedder = MockEmbedder()
        embedder.hold { texts in texts.contains { $0.contains("slow") } }
        defer { embedder.release() }
        let engine = try await Engine(configuration: EngineConfiguration(collectionDirectory: directory), embedder: embedder)

        let slow = Task { try await engine.ingest(data: Data("A slow upload.".utf8), fileName: "slow.txt") }
        try await waitUntil("the slow upload is being embedded") { embedder.heldBatches == 1 }
        let saved = Shared(false)
        let fast = Task {
            defer { saved.update { $0 = true } }
            return try await engine.ingest(data: Data("A fast upload.".utf8), fileName: "fast.txt")
        }
        try await waitUntil("the fast upload is saved while the slow one is embedded") { saved.current }
        #expect(try await fast.value.fileName == "fast.txt")
        #expect(engine.collection.documents.map(\.fileName) == ["fast.txt"])

        embedder.release()
        #expect(try await slow.value.fileName == "slow.txt")
        #expect(engine.collection.documents.map(\.fileName) == ["fast.txt", "slow.txt"])
    }

    /// The quota is checked before embedding, and again when the document is added: another writer may have filled
    /// the collection meanwhile.
    @Test func theQuotaIsCheckedAgainWhenTheDocumentIsAdded() async throws {
        let embedder = MockEmbedder()
        embedder.hold { texts in texts.contains { $0.contains("slow") } }
        defer { embedder.release() }
        let engine = try await Engine(configuration: EngineConfiguration(maxCollectionChunks: 1), embedder: embedder)

        let slow = Task { try await engine.ingest(data: Data("A slow upload.".utf8), fileName: "slow.txt") }
        try await waitUntil("the slow upload is being embedded") { embedder.heldBatches == 1 }
        let saved = Shared(false)
        let fast = Task {
            defer { saved.update { $0 = true } }
            return try await engine.ingest(data: Data("A fast upload.".utf8), fileName: "fast.txt")
        }
        try await waitUntil("the fast upload is saved while the slow one is embedded") { saved.current }
        #expect(try await fast.value.fileName == "fast.txt")
        embedder.release()
        let error = await #expect(throws: EngineError.self) { try await slow.value }
        #expect(error?.code == .collectionQuotaExceeded)
        #expect(engine.collection.documents.map(\.fileName) == ["fast.txt"])
    }
}
