import Foundation
import RAGCore
import Testing

@Suite struct BuildInfoTests {
    /// `rag --version`, `rag doctor` and the image's chart must name the same release.
    @Test func theHelmChartsAppVersionIsTheEnginesVersion() throws {
        let chart = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("helm/pdf-chatbot/Chart.yaml")
        let text = try String(contentsOf: chart, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("appVersion:") })
        let value = line.dropFirst("appVersion:".count).trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
        #expect(value == BuildInfo.version)
    }
}
