import Foundation
import RAGCore
import RAGTesting
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A collection that cannot be saved (a full disk, simulated with `StorageFaults`): nothing is reported as added that
/// was not saved, in the engine's report and in `rag ingest`.
@Suite struct StorageFailureTests {
    static let texts = [
        "alpha.txt": "Alpaca wool is warm and light.", "beta.txt": "Beavers build dams across rivers.",
        "gamma.txt": "Gamma rays are the most energetic light.",
    ]

    /// Writes the texts' files into `directory` and returns their paths, sorted by name.
    static func writeFiles(_ names: [String], in directory: URL) throws -> [String] {
        try names.map { name in
            let file = directory.appendingPathComponent(name)
            try texts[name]!.write(to: file, atomically: true, encoding: .utf8)
            return file.path
        }
    }

    @Test func aFailedSaveIsReportedAsAFailureOfEachFileNotAsAnAddition() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        try FileManager.default.createDirectory(at: collection, withIntermediateDirectories: true)
        try StorageFaults.blockSaves(in: collection)
        let files = try Self.writeFiles(["alpha.txt", "beta.txt"], in: directory)
        let metrics = RAGMetrics()
        let engine = try Engine(configuration: EngineConfiguration(collectionDirectory: collection), metrics: metrics)

        let report = await engine.ingest(paths: files)
        #expect(report.added.isEmpty && report.pages == 0 && report.chunks == 0)
        #expect(report.failed.map(\.path) == files)
        #expect(report.failed.allSatisfy { $0.reason == "storage" && $0.error is CollectionError })
        #expect(engine.collection.documents.isEmpty)
        let text = metrics.render()
        #expect(text.contains(#"rag_ingest_errors_total{reason="storage"} 2"#), "\(text)")
        #expect(text.contains("rag_ingested_documents_total 0"), "\(text)")

        let upload = await #expect(throws: CollectionError.self) {
            try await engine.ingest(data: Data("Uploaded text.".utf8), fileName: "upload.txt")
        }
        #expect(upload?.code == .io)
        #expect(upload?.message.contains(collection.path) == false, "the message leaves the path to `path`")
        #expect(try Engine(configuration: EngineConfiguration(collectionDirectory: collection)).collection.documents.isEmpty)
    }

    /// `rag ingest` whose save fails: exit code 1, no "ingested" in the summary, each file a `storage` failure.
    @Test(arguments: [false, true])
    func ragIngestSaysNothingWasIngestedWhenTheSaveFails(json: Bool) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        try FileManager.default.createDirectory(at: collection, withIntermediateDirectories: true)
        let files = try Self.writeFiles(["alpha.txt", "beta.txt"], in: directory)
        let rag = try TestProcess.builtProduct("rag").path
        let result = try await TestProcess.run(
            try TestProcess.system("/bin/sh", "/usr/bin/sh", package: "dash"),
            ["-c", StorageFaults.blockingShellCommand, "sh", collection.path, rag, "ingest"] + files
                + ["--collection", collection.path] + (json ? ["--json"] : []))

        #expect(result.status == 1, "\(result.text)\(result.stderr)")
        if json {
            let object = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
            #expect((object["added"] as? [Any])?.isEmpty == true)
            let failed = try #require(object["failed"] as? [[String: String]])
            #expect(failed.map { $0["path"] } == files)
            #expect(failed.allSatisfy { $0["reason"] == "storage" && $0["error"]?.contains("could not be saved") == true })
        } else {
            #expect(!result.text.contains("ingested 2") && !result.text.contains("ingested 1"), "\(result.text)")
            #expect(result.text.hasPrefix("nothing ingested, 2 failed; "), "\(result.text)")
            for file in files {
                #expect(result.stderr.contains("rag: error: \(file) was not saved: the collection could not be saved"), "\(result.stderr)")
            }
        }
        let list = try await RAGProcess.run(["list"], collection: collection)
        #expect(list.stdout.contains("The collection is empty"), "\(list.stdout)")
    }
}

/// Temporary files that a save interrupted by a crash left behind (`.collection.rag.PID.tmp`, as large as the
/// collection) are removed under the write lock: at every save, and when a writable engine opens the collection and
/// the lock is free.
@Suite struct OrphanedTemporaryFileTests {
    static let orphans = [".collection.rag.4242.tmp", ".collection.rag.999999.tmp"]

    /// Writes the orphans (and a file of another name, which must stay) into `directory`.
    static func leaveOrphans(in directory: URL) throws {
        for name in orphans { try Data(repeating: 7, count: 4096).write(to: directory.appendingPathComponent(name)) }
        try Data("mine".utf8).write(to: directory.appendingPathComponent("notes.tmp"))
    }

    static func remaining(in directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".tmp") }.sorted()
    }

    @Test func aSaveRemovesThem() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = EngineConfiguration(collectionDirectory: directory)
        let engine = try Engine(configuration: configuration)
        _ = try await engine.ingest(data: Data("Kept text about llamas.".utf8), fileName: "kept.txt")
        try Self.leaveOrphans(in: directory)

        _ = try await engine.ingest(data: Data("New text about otters.".utf8), fileName: "new.txt")
        #expect(try Self.remaining(in: directory) == ["notes.tmp"])
        #expect(try Engine(configuration: configuration).collection.documents.map(\.fileName) == ["kept.txt", "new.txt"])

        // A removal saves too.
        try Self.leaveOrphans(in: directory)
        _ = try await engine.remove("kept.txt")
        #expect(try Self.remaining(in: directory) == ["notes.tmp"])
        #expect(try Engine(configuration: configuration).collection.documents.map(\.fileName) == ["new.txt"])
    }

    @Test func aWritableEngineRemovesThemWhenItOpensTheCollectionUnlessAWriterHoldsTheLock() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = EngineConfiguration(collectionDirectory: directory)
        _ = try await Engine(configuration: configuration).ingest(data: Data("Kept text.".utf8), fileName: "kept.txt")
        try Self.leaveOrphans(in: directory)

        // Read-only engines never touch the directory (its volume may be mounted read-only).
        var readOnly = configuration
        readOnly.readOnly = true
        _ = try Engine(configuration: readOnly)
        #expect(try Self.remaining(in: directory) == Self.orphans + ["notes.tmp"])

        // While another writer holds the lock, a temporary file may be its save in progress: opening leaves them and
        // does not wait.
        let lock = open(directory.appendingPathComponent(".lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(lock >= 0 && flock(lock, LOCK_EX) == 0)
        _ = try Engine(configuration: configuration)
        #expect(try Self.remaining(in: directory) == Self.orphans + ["notes.tmp"])
        flock(lock, LOCK_UN)
        close(lock)

        let engine = try Engine(configuration: configuration)
        #expect(try Self.remaining(in: directory) == ["notes.tmp"])
        #expect(engine.collection.documents.map(\.fileName) == ["kept.txt"])
    }
}
