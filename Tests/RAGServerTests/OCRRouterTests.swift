import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import RAGCore
import RAGServer
import RAGTesting
import Testing

/// Scanned uploads: how each page was read reaches the API and the chat page's document list.
@Suite(.enabled(if: Tesseract.isAvailable || ProcessInfo.processInfo.environment["CI"] != nil, "Tesseract is not installed"))
struct OCRRouterTests {
    @Test func anUploadedScanSaysHowEachPageWasRead() async throws {
        let scan = try TestPDF.scan(of: "Cargo cranes are inspected every ninety days by two engineers.")
        let pdf = TestPDF.scanned([.text("Pilots report to the tower on channel twelve."), .image(scan, dpi: 300)])
        var server = TestServer()
        server.engineConfiguration.extraction.threads = 1  // leave a core to the other suites' tests
        let (app, _) = try await server.app()
        try await app.test(.router) { client in
            let created = try await client.execute(
                uri: "/v1/documents?filename=port.pdf", method: .post, headers: [.contentType: "application/pdf"],
                body: ByteBuffer(bytes: pdf))
            #expect(created.status == .created)
            let document = try #require(created.json["document"] as? [String: Any])
            let reading = try #require(document["reading"] as? [String: Any])
            #expect(reading["text"] as? Int == 1)
            #expect(reading["ocr"] as? Int == 1)
            #expect((reading["summary"] as? String)?.hasPrefix("1 of 2 pages read by OCR, mean confidence") == true)
            #expect(document["page_readings"] == nil)  // only in a single document's status
            let id = try #require(document["id"] as? String)

            try await client.execute(uri: "/v1/documents/\(id)", method: .get) { response in
                #expect(response.status == .ok)
                let document = response.json["document"] as? [String: Any]
                let pages = document?["page_readings"] as? [[String: Any]]
                #expect(pages?.map { $0["read"] as? String } == ["text", "ocr"])
                #expect((pages?.last?["confidence"] as? Int ?? 0) >= 80)
            }
            try await client.execute(uri: "/v1/documents", method: .get) { response in
                let documents = response.json["documents"] as? [[String: Any]]
                #expect((documents?.first?["reading"] as? [String: Any])?["ocr_mean_confidence"] is Int)
            }
            let answer = try await client.execute(
                uri: "/v1/search", method: .post, headers: [.contentType: "application/json"],
                body: Fixtures.jsonBody(["query": "How often are the cranes inspected?", "k": 1]))
            let hit = (answer.json["hits"] as? [[String: Any]])?.first
            #expect(hit?["page"] as? Int == 2)
        }
    }
}
