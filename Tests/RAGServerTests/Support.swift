import Foundation
import Hummingbird
import NIOCore
import NIOFoundationEssentialsCompat
import HummingbirdTesting
import RAGCore
import RAGServer
import RAGTesting
import Testing

/// An app over an in-memory engine with the mock LLM, as the tests need it.
struct TestServer {
    var configuration = ServerConfiguration(collectionDirectory: URL(fileURLWithPath: "/nonexistent"), port: 0, metricsPort: 0)
    var llm = MockLLMClient(defaultReply: "Employees get 25 days [1].")
    var engineConfiguration = EngineConfiguration()
    /// The engine's response cache (the in-memory one standing in for Redis), or none.
    var cache: (any ResponseCache)? = nil

    func state() async throws -> ServerState {
        var engineConfiguration = self.engineConfiguration
        engineConfiguration.readOnly = configuration.readOnly
        let engine = try await Engine(configuration: engineConfiguration, llm: llm, metrics: RAGMetrics(), cache: cache)
        return ServerState(configuration: configuration, engine: engine)
    }

    func app() async throws -> (some ApplicationProtocol, ServerState) {
        let state = try await state()
        return (buildApplication(state: state), state)
    }
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
    }
    var text: String { String(buffer: body) }
}

enum Fixtures {
    static let handbook = TestPDF.make(
        pages: ["Employees receive 25 days of paid vacation per year.", "Receipts must be submitted within 30 days."],
        title: "Handbook")

    static func jsonBody(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    /// Parses an SSE body into (event, data) pairs.
    static func events(_ text: String) -> [(event: String, data: String)] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var event = "message"
            var data: [String] = []
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
            }
            return data.isEmpty ? nil : (event, data.joined(separator: "\n"))
        }
    }
}

extension TestClientProtocol {
    /// Uploads the handbook as a raw PDF body.
    @discardableResult
    func uploadHandbook(headers: HTTPFields = [:]) async throws -> TestResponse {
        var headers = headers
        headers[.contentType] = "application/pdf"
        return try await execute(uri: "/v1/documents?filename=handbook.pdf", method: .post, headers: headers, body: ByteBuffer(bytes: Fixtures.handbook))
    }
}
