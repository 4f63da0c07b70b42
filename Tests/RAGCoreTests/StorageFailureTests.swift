import Foundation
import RAGCore
import RAGTesting
import Testing
import TestSupport


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
        let engine = try await Engine(configuration: EngineConfiguration(collectionDirectory: collection), metrics: metrics)

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
        #expect(try await Engine(configuration: EngineConfiguration(collectionDirectory: collection)).collection.documents.isEmpty)
    }

    /// `rag ingest` whose save fails: exit code 1, no "ingested" in the summary, each file a `storage` failure.
    @Test(arguments: [false, true])
    func ragIngestSaysNothingWasIngestedWhenTheSaveFails(json: Bool) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        try FileManager.default.createDirectory(at: collection, withIntermediateDirectories: true)
        let files = try Self.writeFiles(["alpha.txt", "beta.txt"], in: directory)
        try StorageFaults.blockSaves(in: collection)
        let rag = try await RAGProcess.run(["ingest"] + files + (json ? ["--json"] : []), collection: collection)
        let result = (status: rag.status, text: rag.stdout, stdout: Data(rag.stdout.utf8), stderr: rag.stderr)

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
