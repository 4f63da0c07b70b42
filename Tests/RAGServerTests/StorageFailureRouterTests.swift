import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import RAGCore
import RAGServer
import RAGTesting
import Synchronization
import Testing

/// Keeps every log record in memory, with its metadata (the logger's and the call's), for asserting what the server
/// logged.
struct RecordingLogHandler: LogHandler {
    final class Records: Sendable {
        let entries = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])
        var all: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] { entries.withLock { $0 } }
    }

    let records: Records
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        records.entries.withLock { $0.append((event.level, event.message.description, merged)) }
    }
}

/// A collection that cannot be saved (simulated with `StorageFaults`): 500 `storage_error` saying what failed, never
/// a server path; the path goes to the log.
@Suite struct StorageFailureRouterTests {
    @Test func aFailedSaveIs500StorageErrorWithoutThePathWhichIsLogged() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-storage-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let records = RecordingLogHandler.Records()
        var server = TestServer()
        server.engineConfiguration.collectionDirectory = directory
        let state = ServerState(
            configuration: server.configuration, engine: try await server.state().engine,
            logger: Logger(label: "test") { _ in RecordingLogHandler(records: records) })
        let app = buildApplication(state: state)

        @Sendable func expectStorageError(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(response.status == .internalServerError, sourceLocation: sourceLocation)
            let error = response.json["error"] as? [String: Any]
            #expect(error?["code"] as? String == "storage_error", "\(response.text)", sourceLocation: sourceLocation)
            let message = error?["message"] as? String ?? ""
            #expect(message.hasPrefix("the collection could not be saved: "), "\(message)", sourceLocation: sourceLocation)
            #expect(!response.text.contains(directory.path) && !message.contains("/"), "\(message)", sourceLocation: sourceLocation)
        }

        try await app.test(.router) { client in
            let kept = try await client.execute(
                uri: "/v1/documents?filename=kept.txt", method: .post, headers: [.contentType: "text/plain"],
                body: ByteBuffer(string: "Kept text about llamas."))
            #expect(kept.status == .created)
            let id = try #require((kept.json["document"] as? [String: Any])?["id"] as? String)

            try StorageFaults.blockSaves(in: directory)
            expectStorageError(try await client.uploadHandbook())
            expectStorageError(try await client.execute(uri: "/v1/documents/\(id)", method: .delete))
            try await client.execute(uri: "/v1/documents", method: .get) { response in
                let files = (response.json["documents"] as? [[String: Any]])?.compactMap { $0["file"] as? String }
                #expect(files == ["kept.txt"])
            }
        }
        let failures = records.all.filter { $0.level == .error && $0.message == "request failed" }
        #expect(failures.count == 2)
        #expect(failures.allSatisfy { $0.metadata["error.code"] == "storage_error" })
        #expect(failures.allSatisfy { "\($0.metadata["error.detail"] ?? "")".contains(directory.path) }, "\(failures)")
    }

    /// Whatever a `CollectionError` holds, its path never reaches the body.
    @Test(arguments: [CollectionError.Code.io, .corrupt, .unsupportedVersion, .embedderMismatch, .notFound, .readOnly])
    func noCollectionErrorPutsItsPathInTheBody(code: CollectionError.Code) {
        let error = APIError.from(CollectionError(code, "something is wrong", path: "/srv/secret/collection.rag"))
        #expect(error.status == .internalServerError)
        let body = String(decoding: error.jsonBody, as: UTF8.self)
        #expect(!body.contains("/srv/secret") && body.contains("something is wrong"), "\(body)")
        #expect(error.code == (code == .io ? "storage_error" : "collection_\(code)"))
    }
}
