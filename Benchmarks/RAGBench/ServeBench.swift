import Foundation
import Logging
import RAGCore
import RAGServer
import RAGTesting
import ServiceLifecycle
import UnixSignals

/// `RAGBench serve`: the real server application (`buildApplication`) over an in-memory collection, answering with
/// `MockLLMClient`, so that load tests measure the server and not a model. `--delay-ms` is the pause before each
/// streamed piece, `--tokens` the number of pieces; no rate limit, and enough answer slots for every client.
enum ServeBench {
    static func run(_ arguments: Arguments) async throws {
        let tokens = max(1, arguments.int("tokens", 1))
        let delay = Duration.milliseconds(arguments.int("delay-ms", 0))
        let reply = (1...tokens).map { "word\($0)" }.joined(separator: " ") + " [1]."
        let llm = MockLLMClient(defaultReply: .text(reply), chunkSize: max(1, reply.count / tokens), delay: delay)
        var logger = Logger(label: "rag.bench")
        logger.logLevel = .warning
        let engine = try Engine(llm: llm, metrics: RAGMetrics(), logger: logger)
        _ = try await engine.ingest(
            data: TestPDF.make(pages: ["Employees receive 25 days of paid vacation per year.", "Receipts are due within 30 days."]),
            fileName: "handbook.pdf")
        let configuration = ServerConfiguration(
            collectionDirectory: URL(fileURLWithPath: "/nonexistent"), host: "127.0.0.1", port: arguments.int("port", 18501),
            metricsPort: 0, rateLimitPerMinute: 0, maxConcurrentAnswers: 5000, answerQueueLength: 0,
            requestTimeout: .seconds(600))
        let app = buildApplication(state: ServerState(configuration: configuration, engine: engine, logger: logger)) { port in
            print("serving on 127.0.0.1:\(port) pid \(getpid())")
            fflush(nil)
        }
        try await ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
}
