import Foundation
import RAGCore
import RAGTesting
import Testing
import TestSupport

/// Ingestion as queued work, on every store: an upload is queued and processed by a worker, once, whichever worker
/// and whatever dies on the way; read-your-writes by index version.
@Suite struct IngestQueueTests {
    static let text = Data("The vacation policy grants twenty-five days of paid leave per year.".utf8)

    /// Runs `body` with `count` engines over one store's data, each with its own store (as separate processes would
    /// have: for SQLite the same directory, for PostgreSQL the same database; the memory store is shared).
    func withEngines(
        _ factory: StoreFactory, count: Int = 1, _ body: ([Engine], [any IngestQueue]) async throws -> Void
    ) async throws {
        guard factory.isAvailable else {
            print(PostgresTestServer.unavailableReason ?? "")
            return
        }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var engines: [Engine] = []
        var queues: [any IngestQueue] = []
        for _ in 0..<count {
            let store = try await factory.make(directory)
            engines.append(try await Engine(configuration: EngineConfiguration(), store: store, embedder: HashingEmbedder()))
            queues.append(try #require(store as? any IngestQueue))
        }
        do {
            try await body(engines, queues)
        } catch {
            for engine in engines { await engine.close() }
            throw error
        }
        for engine in engines { await engine.close() }
    }

    @Test(arguments: StoreFactory.all)
    func anUploadIsQueuedThenReadyOnceAndSearchable(factory: StoreFactory) async throws {
        try await withEngines(factory) { engines, _ in
            let engine = engines[0]
            let job = try await engine.enqueue(data: Self.text, fileName: "policy.txt")
            #expect(job.state == .queued && job.attempts == 0 && job.byteCount == Self.text.count)
            #expect(try await engine.queueDepth() == QueueDepth(queued: 1, processing: 0))
            #expect(engine.collection.documents.isEmpty, "queued is not searchable yet")
            // The same bytes again: the same job, not a second one.
            #expect(try await engine.enqueue(data: Self.text, fileName: "again.txt").id == job.id)

            let done = try #require(try await engine.processNextJob(worker: "w1"))
            #expect(done.state == .ready && done.attempts == 1 && done.error == nil)
            let version = try #require(done.indexVersion)
            #expect(engine.collection.generation >= version)
            #expect(engine.collection.documents.map(\.id) == [job.id])
            #expect(try await engine.search("vacation days").first?.chunk.text.contains("vacation") == true)
            #expect(try await engine.processNextJob(worker: "w1") == nil, "nothing left to claim")
            #expect(try await engine.queueDepth() == QueueDepth(queued: 0, processing: 0))

            // Uploading a document the collection holds is ready at once.
            #expect(try await engine.enqueue(data: Self.text, fileName: "policy.txt").state == .ready)
            // Removing it forgets the job (and its bytes); uploading it again queues it again.
            _ = try await engine.remove(job.id.rawValue)
            #expect(try await engine.job(job.id) == nil)
            #expect(try await engine.enqueue(data: Self.text, fileName: "policy.txt").state == .queued)
        }
    }

    /// A queued PDF's bytes are held once: by its job while it waits, then by the collection (the document's source,
    /// which page images are drawn from), and the job lets go of them. A text upload has no source: its job keeps them.
    @Test(arguments: StoreFactory.all)
    func aProcessedPDFsBytesAreHeldOnce(factory: StoreFactory) async throws {
        try await withEngines(factory) { engines, queues in
            let engine = engines[0]
            let pdf = TestPDF.make(pages: ["The pump is primed with two litres of water."])
            let job = try await engine.enqueue(data: pdf, fileName: "pump.pdf")
            #expect(try await queues[0].heldBytes(of: job.id) == pdf.count)
            #expect(try await engine.processNextJob(worker: "w1")?.state == .ready)
            #expect(try await queues[0].heldBytes(of: job.id) == 0)
            #expect(try await engine.renderPage(document: job.id, page: 1).png.count > 0, "the collection has the bytes")

            let text = try await engine.enqueue(data: Self.text, fileName: "policy.txt")
            #expect(try await engine.processNextJob(worker: "w1")?.state == .ready)
            #expect(try await queues[0].heldBytes(of: text.id) == Self.text.count)
        }
    }

    @Test(arguments: StoreFactory.all)
    func aBadDocumentFailsWithItsReasonAndAddsNothing(factory: StoreFactory) async throws {
        try await withEngines(factory) { engines, _ in
            let engine = engines[0]
            let job = try await engine.enqueue(data: Data("not a pdf at all".utf8), fileName: "fake.pdf")
            let done = try #require(try await engine.processNextJob(worker: "w1"))
            #expect(done.id == job.id && done.state == .failed)
            #expect(done.error?.code == "not_a_pdf", "\(String(describing: done.error))")
            #expect(done.error?.message.isEmpty == false)
            #expect(engine.collection.documents.isEmpty)
            #expect(try await engine.processNextJob(worker: "w1") == nil, "a failed job is not retried")
            // Uploading it again queues it again, for a retry by hand.
            #expect(try await engine.enqueue(data: Data("not a pdf at all".utf8), fileName: "fake.pdf").state == .queued)
        }
    }

    @Test(arguments: StoreFactory.all)
    func aJobWhoseWorkerDiedIsRetriedAndAddedOnce(factory: StoreFactory) async throws {
        try await withEngines(factory, count: 2) { engines, queues in
            let job = try await engines[0].enqueue(data: Self.text, fileName: "policy.txt")
            // Worker "dead" claims the job and stops (killed): while its lease holds, nobody else may take the job.
            let dead = try #require(try await queues[0].claimJob(worker: "dead", lease: .seconds(600), maxAttempts: 3))
            #expect(dead.job.id == job.id && dead.bytes == Self.text)
            #expect(try await engines[1].job(job.id)?.state == .processing)
            #expect(try await engines[1].processNextJob(worker: "alive") == nil, "the lease still holds")
            // Its lease runs out (as if it had died right after renewing it for the last time): no clock in the test.
            #expect(try await queues[0].renewLease(dead, lease: .zero))
            try await Task.sleep(for: .milliseconds(20))
            let done = try #require(try await engines[1].processNextJob(worker: "alive", lease: .seconds(30)))
            #expect(done.state == .ready && done.attempts == 2)

            // The dead worker comes back and tries to finish: its claim is gone, nothing is added twice.
            let document = CollectionStoreTests.sampleDocument(content: "the policy")
            let late = try await queues[0].completeJob(dead, document: document, header: CollectionStoreTests.header, maxChunks: 0)
            guard case .lostClaim = late else {
                Issue.record("a lost claim completed: \(late)")
                return
            }
            #expect(try await queues[0].failJob(dead, error: IngestJobError(code: "x", message: "y")) == false)
            try await engines[0].follow()
            #expect(engines[0].collection.documents.map(\.id) == [job.id])
            #expect(try await engines[0].job(job.id)?.state == .ready)
        }
    }

    @Test(arguments: StoreFactory.all)
    func aDocumentThatKillsItsWorkersFailsAfterTheLastAttempt(factory: StoreFactory) async throws {
        try await withEngines(factory) { engines, queues in
            let job = try await engines[0].enqueue(data: Self.text, fileName: "policy.txt")
            for attempt in 1...2 {
                let claim = try #require(try await queues[0].claimJob(worker: "w\(attempt)", lease: .milliseconds(50), maxAttempts: 2))
                #expect(claim.attempt == attempt)
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await queues[0].claimJob(worker: "w3", lease: .seconds(1), maxAttempts: 2) == nil)
            let failed = try #require(try await engines[0].job(job.id))
            #expect(failed.state == .failed && failed.error?.code == "worker_lost")
        }
    }

    @Test(arguments: StoreFactory.all)
    func twoWorkersShareTheQueueAndEachDocumentIsAddedOnce(factory: StoreFactory) async throws {
        try await withEngines(factory, count: 2) { engines, _ in
            var ids: [DocumentID] = []
            for index in 0..<6 {
                ids.append(try await engines[0].enqueue(data: Data("Document number \(index) about topic \(index * 7).".utf8), fileName: "d\(index).txt").id)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, engine) in engines.enumerated() {
                    group.addTask {
                        while try await engine.processNextJob(worker: "w\(index)") != nil {}
                    }
                }
                try await group.waitForAll()
            }
            for engine in engines { try await engine.follow() }
            for engine in engines {
                #expect(Set(engine.collection.documents.map(\.id)) == Set(ids))
                #expect(engine.collection.documents.count == ids.count, "no document twice")
            }
            for id in ids { #expect(try await engines[0].job(id)?.state == .ready) }
        }
    }

    @Test(arguments: StoreFactory.all)
    func aReaderWaitsForTheVersionAWriteReturned(factory: StoreFactory) async throws {
        try await withEngines(factory, count: 2) { engines, _ in
            let (writer, reader) = (engines[0], engines[1])
            let job = try await writer.enqueue(data: Self.text, fileName: "policy.txt")
            let version = try #require(try await writer.processNextJob(worker: "w")?.indexVersion)
            #expect(reader.collection.documents.isEmpty, "the reader has not followed yet")
            try await reader.waitForIndexVersion(version, timeout: .seconds(5))
            #expect(reader.collection.documents.map(\.id) == [job.id])

            await #expect(throws: EngineError.self) { try await reader.waitForIndexVersion(version + 100, timeout: .seconds(1)) }
            do {
                try await reader.waitForIndexVersion(version + 100, timeout: .seconds(1))
            } catch let error as EngineError {
                #expect(error.code == .unknownIndexVersion)
                #expect(error.message.contains("\(version + 100)"))
            }
        }
    }
}
