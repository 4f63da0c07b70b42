import Foundation
import RAGTesting
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The chat page in a real headless Chromium: the real `rag-server` binary (built by `swift build`) on
/// 127.0.0.1 with an empty collection and the extractive answerer, driven by `scripts/browser_test.py`
/// (selenium + Debian `chromium` and `chromium-driver`). Missing browser pieces fail the test: run
/// scripts/setup.sh.
@Suite(.serialized) struct BrowserTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Inline uploads (201 once indexed) and queued ones (202, then the page follows the job's status URL until the
    /// worker has made it ready, or shows why it failed).
    @Test(.timeLimit(.minutes(3)), arguments: ["inline", "queued"])
    func chatPageUploadsAsksAndShowsSources(uploadMode: String) async throws {
        let missing = Self.missingBrowserPieces()
        guard missing.isEmpty else {
            Issue.record("the browser test needs \(missing.joined(separator: ", ")): run scripts/setup.sh")
            return
        }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pdf = directory.appendingPathComponent("travel-policy.pdf")
        try TestPDF.make(pages: [
            "Welcome to the travel policy. It applies to every business trip.",
            "Receipts for travel expenses must be submitted within 30 days of the trip. Late receipts are not refunded.",
            "Hotel rooms are booked through the travel desk, never directly.",
        ], title: "Travel policy").write(to: pdf)
        let broken = directory.appendingPathComponent("broken.pdf")
        try Data("%PDF-1.7\n this is not a PDF body".utf8).write(to: broken)
        // A scanned page, read by OCR when Tesseract is installed (always in CI).
        let scanned = directory.appendingPathComponent("scanned-memo.pdf")
        let withOCR = Tesseract.isAvailable || ProcessInfo.processInfo.environment["CI"] != nil
        if withOCR {
            try TestPDF.scanned([.image(try TestPDF.scan(of: "Parking permits are renewed every January."), dpi: 300)])
                .write(to: scanned)
        }

        // No language model, no API keys, no settings from the developer's shell.
        let server = try ServerProcess(arguments: ["--llm", "extractive", "--grace-period", "2", "--upload-mode", uploadMode])
        defer { server.stop(timeout: .seconds(10)) }
        let port = server.port

        let output = try Self.run(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", Self.packageRoot.appendingPathComponent("scripts/browser_test.py").path,
             "--url", "http://127.0.0.1:\(port)", "--pdf", pdf.path, "--broken-pdf", broken.path,
             "--question", "When must receipts for travel expenses be submitted?",
             "--expect", "Receipts for travel expenses must be submitted within 30 days of the trip.",
             "--expect-page", "2", "--screenshot", "/tmp/pdf-chatbot-browser.png",
             // Page 2's two lines (TestPDF: baselines 52 and 66 points from the top of a 792-point page).
             "--highlight-band", "0.04,0.10"] + (withOCR ? ["--scanned-pdf", scanned.path] : []))
        let context = "browser_test.py said:\n\(output.text)\nserver log:\n\(server.log)"
        #expect(output.status == 0, "\(context)")
        #expect(output.text.contains("browser test passed"), "\(context)")
        #expect(output.text.contains("upload error shown: broken.pdf:"), "\(context)")
        #expect(output.text.contains("ok: a source names travel-policy.pdf p. 2"), "\(context)")
        #expect(output.text.contains("ok: the page image highlights the passage"), "\(context)")
        if withOCR { #expect(output.text.contains("ok: the scanned upload shows its OCR summary"), "\(context)") }
    }

    /// What the browser test needs that this machine lacks.
    static func missingBrowserPieces() -> [String] {
        var missing: [String] = []
        for (path, package) in [("/usr/bin/chromium", "chromium (apt)"), ("/usr/bin/chromedriver", "chromium-driver (apt)")]
        where !FileManager.default.isExecutableFile(atPath: path) {
            missing.append(package)
        }
        if (try? run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", "import selenium"]).status) != 0 {
            missing.append("selenium (pip)")
        }
        return missing
    }

    /// Runs a program to its end; returns its exit status and its standard output and error, interleaved.
    static func run(_ executable: URL, _ arguments: [String]) throws -> TestProcess.Result {
        try TestProcess.run(executable, arguments, mergeOutput: true)
    }
}
