import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOFoundationEssentialsCompat
import RAGServer
import Testing

@Suite struct WebAssetsTests {
    static let publicFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/RAGServer/Public")

    /// The page the server serves is exactly the files in Sources/RAGServer/Public (the build plugin embeds them),
    /// each with its content type and the page's Content-Security-Policy.
    @Test func theServerServesThePublicFilesAsTheyAre() async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.publicFolder.path).filter { !$0.hasPrefix(".") }.sorted()
        #expect(names == ["app.css", "app.js", "icon.svg", "index.html"])
        let types = ["app.css": "text/css", "app.js": "text/javascript", "icon.svg": "image/svg+xml", "index.html": "text/html"]
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            for name in names {
                let file = try Data(contentsOf: Self.publicFolder.appendingPathComponent(name))
                try await client.execute(uri: name == "index.html" ? "/" : "/assets/\(name)", method: .get) { response in
                    #expect(response.status == .ok, "\(name)")
                    #expect(Data(buffer: response.body) == file, "\(name) is served as it is in Public/")
                    #expect(response.headers[.contentType]?.hasPrefix(types[name]!) == true, "\(name)")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
                }
            }
            try await client.execute(uri: "/assets/missing.js", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
