import Foundation
import RAGCore
import RAGServer
import Testing

/// The real `rag-server` binary and its settings: bad ones stop it at start, `--help` shows the table, and the
/// start-up log counts the API keys without showing them.
@Suite struct ServerSettingsLiveTests {
    struct Start: Sendable, CustomTestStringConvertible {
        var arguments: [String] = []
        var environment: [String: String] = [:]
        var names: [String]
        var testDescription: String { "\(arguments) \(environment)" }
    }

    @Test(arguments: [
        Start(environment: ["RAG_PORT": "70000"], names: ["RAG_PORT", "--port"]),
        Start(environment: ["RAG_MAX_UPLOAD_BYTES": "-1"], names: ["RAG_MAX_UPLOAD_BYTES", "--max-upload-bytes"]),
        Start(arguments: ["--request-timeout", "1e300"], names: ["--request-timeout", "RAG_REQUEST_TIMEOUT"]),
        Start(arguments: ["--grace-period", "nan"], names: ["--grace-period", "RAG_GRACE_PERIOD"]),
        Start(environment: ["RAG_RELOAD_INTERVAL": "-1"], names: ["RAG_RELOAD_INTERVAL"]),
        Start(environment: ["RAG_READ_ONLY": "enabled"], names: ["RAG_READ_ONLY", "--read-only"]),
        Start(environment: ["RAG_API_KEYS": ","], names: ["RAG_API_KEYS"]),
        Start(environment: ["RAG_API_KEYS_FILE": "/dev/null"], names: ["RAG_API_KEYS_FILE"]),
        Start(environment: ["RAG_LLM_TIMEOUT": "1e300", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"], names: ["RAG_LLM_TIMEOUT"]),
        Start(environment: ["RAG_OCR": "sometimes"], names: ["RAG_OCR", "--ocr"]),
        Start(arguments: ["--ocr-languages", "../etc"], names: ["--ocr-languages", "RAG_OCR_LANGUAGES"]),
        Start(arguments: ["--ocr-dpi", "1200"], names: ["--ocr-dpi", "RAG_OCR_DPI"]),
        // OCR asked for always, on a machine without Tesseract (the library it loads is missing).
        Start(
            environment: ["RAG_OCR": "always", "RAG_TESSERACT_LIBRARY": "/nonexistent/libtesseract.so.5"],
            names: ["libtesseract is not installed", "apt-get install libtesseract5"]),
    ] + (Tesseract.isAvailable || ProcessInfo.processInfo.environment["CI"] != nil
        ? [Start(environment: ["RAG_OCR_LANGUAGES": "eng+xyzq"], names: ["xyzq.traineddata", "tesseract-ocr-xyzq"])] : []))
    func badSettingsStopTheServerWithOneLineAndExitCode64(_ start: Start) throws {
        // Loopback and free ports, unless the case sets them: were a case accepted, the server would not collide.
        let base = ["RAG_HOST": "127.0.0.1", "RAG_PORT": "0", "RAG_METRICS_PORT": "0"]
        let run = try ServerProcess.runToExit(
            start.arguments, environment: base.merging(start.environment) { $1 }, timeout: .seconds(30))
        #expect(run.status == 64)
        let lines = run.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 1, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("rag-server: error: "))
        for name in start.names { #expect(run.stderr.contains(name), "\(run.stderr)") }
    }

    /// Every setting in the table appears in `--help` with its variable and its default: the texts are the table's.
    @Test func helpShowsEverySettingOfTheTable() throws {
        let run = try ServerProcess.runToExit(["--help"])
        #expect(run.status == 0)
        let help = run.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for setting in ServerSettings.all {
            guard let flag = setting.flag else {
                #expect(help.contains(setting.variable ?? "?"), "\(setting.variable ?? "?") is not mentioned")
                continue
            }
            #expect(help.contains(flag), "\(flag) is missing")
            let tail = "[\(setting.variable ?? "")] (default \(setting.defaultText))."
            #expect(help.contains(tail), "\(flag): \(tail) is missing")
        }
    }

    @Test func theStartUpLogCountsTheKeysAndNeverShowsThem() throws {
        let server = try ServerProcess(
            arguments: ["--llm", "extractive"], environment: ["RAG_API_KEYS": "team-a:key-aaaaaaaa,team-b:key-bbbbbbbb"])
        defer { server.stop() }
        let line = try #require(server.log.split(separator: "\n").first { $0.contains("\"serving\"") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["rag.auth.key_count"] as? String == "2")
        #expect(!server.log.contains("key-aaaaaaaa") && !server.log.contains("key-bbbbbbbb"))
    }
}
