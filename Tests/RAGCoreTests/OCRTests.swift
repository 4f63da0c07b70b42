import Foundation
import RAGTesting
import Testing

@testable import RAGCore

/// Whether the OCR tests run: with Tesseract, and always in CI, where its absence is a set-up failure that must not
/// pass as a skip.
let runOCRTests = Tesseract.isAvailable || ProcessInfo.processInfo.environment["CI"] != nil

/// Scanned pages read by OCR (Tesseract): scans are made here by rendering text pages with MuPDF and wrapping the
/// pixels as image-only PDFs, so the source text of every scan is known.
@Suite(.serialized, .enabled(if: runOCRTests, "Tesseract is not installed (scripts/setup.sh installs it)"))
struct OCRTests {
    static let pageOne = """
        The harbour master keeps a register of every vessel that enters the port after sunset.
        Each entry records the vessel name, its flag, the berth assigned and the time of arrival.
        Pilots must report to the tower on channel twelve before they cross the outer breakwater.
        During storms the inner basin is closed and vessels wait at the northern anchorage instead.
        Fuel barges may only come alongside between six in the morning and eight in the evening.
        """
    static let pageTwo = """
        Cargo cranes are inspected every ninety days by two engineers from the maintenance office.
        A crane that fails its load test is tagged red and may not lift containers until repaired.
        The inspection report lists the hoist cable wear, the brake torque and the boom deflection.
        Copies of each report are kept for seven years in the archive room on the second floor.
        """

    /// A scan of one page showing `text`.
    static func scanOf(_ text: String, dpi: Int = 300) throws -> GrayPixels { try TestPDF.scan(of: text, dpi: dpi) }

    /// Characters that differ (Levenshtein distance) over the source's characters, whitespace runs counted as one
    /// space.
    static func characterErrorRate(_ read: String, _ source: String) -> Double {
        func normalized(_ text: String) -> [Character] {
            Array(text.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        }
        let a = normalized(read), b = normalized(source)
        guard !b.isEmpty else { return a.isEmpty ? 0 : 1 }
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return Double(a.isEmpty ? b.count : previous[b.count]) / Double(b.count)
    }

    /// Loads `pdf` on the blocking pool, as the engine does: OCR takes seconds, and a test must not hold one of the
    /// few threads of Swift's cooperative pool (the other suites' tests run on them meanwhile). One thread per
    /// document unless `threads` says otherwise, so the OCR tests leave a core to the others.
    static func load(_ pdf: Data, threads: Int = 1, _ configure: (inout OCROptions) -> Void = { _ in }) async throws -> Document {
        var options = OCROptions()
        configure(&options)
        let loader = DocumentLoader(limits: ExtractionLimits(threads: threads), ocr: options)
        return try await Engine.offload { () throws(DocumentError) in try loader.load(data: pdf, fileName: "scan.pdf") }
    }

    @Test func cleanScansAreReadWithFewerThanTwoPercentCharacterErrors() async throws {
        let pdf = TestPDF.scanned([.image(try Self.scanOf(Self.pageOne), dpi: 300), .image(try Self.scanOf(Self.pageTwo), dpi: 300)])
        let document = try await Self.load(pdf, threads: 2)  // the two pages on two workers
        #expect(document.readings.map(\.method) == [.ocr, .ocr])
        #expect(document.pages.map(\.number) == [1, 2])
        for (page, source) in zip(document.pages, [Self.pageOne, Self.pageTwo]) {
            let rate = Self.characterErrorRate(page.text, source)
            #expect(rate < 0.02, "page \(page.number): character error rate \(rate)\n\(page.text)")
        }
        #expect(document.readings.allSatisfy { ($0.confidence ?? 0) >= 80 })
        #expect(document.ocrResults.map(\.outcome) == [.read, .read])
        #expect(!document.warnings.contains { $0.kind == .noText })
    }

    @Test func aMixedPDFKeepsItsTextPagesUntouched() async throws {
        let textOnly = try await Self.load(TestPDF.make(pages: [Self.pageOne, Self.pageTwo])) { $0.mode = .never }
        let pdf = TestPDF.scanned([.text(Self.pageOne), .image(try Self.scanOf(Self.pageTwo), dpi: 300), .text(Self.pageTwo)])
        let document = try await Self.load(pdf)
        #expect(document.readings.map(\.method) == [.text, .ocr, .text])
        #expect(document.pages[0].text == textOnly.pages[0].text)
        #expect(document.pages[2].text == textOnly.pages[1].text)
        #expect(document.ocrResults.map(\.page) == [2])
    }

    @Test func aPageScannedSidewaysIsRead() async throws {
        let sideways = try Self.scanOf(Self.pageTwo).rotatedClockwise()
        let document = try await Self.load(TestPDF.scanned([.image(sideways, dpi: 300)]))
        #expect(document.readings.map(\.method) == [.ocr])
        let rate = Self.characterErrorRate(document.pages.first?.text ?? "", Self.pageTwo)
        #expect(rate < 0.05, "character error rate \(rate)\n\(document.pages.first?.text ?? "")")
    }

    @Test func aPageScannedUpsideDownIsReadWithOrientationDetectionOnly() async throws {
        let upsideDown = TestPDF.scanned([.image(try Self.scanOf(Self.pageTwo).rotatedHalfTurn(), dpi: 300)])
        let document = try await Self.load(upsideDown)
        let rate = Self.characterErrorRate(document.pages.first?.text ?? "", Self.pageTwo)
        #expect(rate < 0.05, "character error rate \(rate)\n\(document.pages.first?.text ?? "")")
        // The control: without orientation detection (Tesseract's osd.traineddata), the same page is not read.
        let blind = try await Self.load(upsideDown) { $0.detectOrientation = false }
        let blindRate = Self.characterErrorRate(blind.pages.first?.text ?? "", Self.pageTwo)
        #expect(blindRate > 0.5, "character error rate \(blindRate)")
    }

    @Test func aPagePastItsTimeLimitStopsWithATimeout() async throws {
        // Tesseract checks its deadline between words: a dense page and 1 ms stop it (OCROptions' own minimum is 1 s).
        let scan = SourceBytes(copying: TestPDF.scanned([.image(try Self.scanOf(Self.pageOne), dpi: 300)]))
        let image = try DocumentLoader().openPDF(bytes: scan, fileName: "scan.pdf").renderGray(
            at: 0, dpi: 300, maxPixels: OCROptions().maxPixelsPerPage)
        let outcomes = try await Engine.offload { () throws(OCRError) in
            let engine = try TesseractEngine(options: OCROptions())
            let stopped = Result { () throws(OCRError) in try engine.recognize(image, dpi: 300, timeout: .milliseconds(1)) }
            // The same engine reads the page afterwards: a timeout leaves it usable.
            return (stopped.map(\.text), try engine.recognize(image, dpi: 300, timeout: .seconds(60)).text)
        }
        guard case .failure(let error) = outcomes.0 else {
            Issue.record("a 1 ms limit did not stop recognition")
            return
        }
        #expect(error.code == .timeout)
        #expect(outcomes.1.contains("harbour master"))
    }

    @Test func aPageThatTakesTooLongToDrawFailsAtItsTimeLimit() async throws {
        // 200,000 fills of the whole page: cheap to interpret for text, minutes to draw at 300 dpi.
        let slow = TestPDF.scanned([.drawing(String(repeating: "0 0 612 792 re f\n", count: 200_000)), .text(Self.pageTwo)])
        let started = ContinuousClock.now
        let document = try await Self.load(slow) { $0.pageTimeout = .seconds(1) }
        // Not a speed check: drawing the page whole would take minutes; a generous bound for a shared machine.
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(document.readings.map(\.method) == [.failed, .text])
        #expect(document.ocrResults.map(\.outcome) == [.timeout])
        let warning = document.warnings.first { $0.page == 1 }
        #expect(warning?.message.contains("took longer than the limit") == true, "\(document.warnings)")
    }

    @Test func aThinTextLayerOfJunkOverAScanIsReplacedByOCR() async throws {
        let pdf = TestPDF.scanned([.image(try Self.scanOf(Self.pageOne), dpi: 300, hiddenText: "x7 ~~ q")])
        let document = try await Self.load(pdf)
        #expect(document.readings.map(\.method) == [.ocr])
        #expect(document.pages.first?.text.contains("harbour master") == true)
    }

    @Test func neverLeavesTheNoTextWarning() async throws {
        let document = try await Self.load(TestPDF.scanned([.image(try Self.scanOf(Self.pageOne), dpi: 300)])) { $0.mode = .never }
        #expect(document.pages.isEmpty)
        #expect(document.readings.map(\.method) == [.empty])
        #expect(document.warnings.map(\.kind) == [.noText])
        #expect(document.ocrResults.isEmpty)
    }

    @Test func aBrokenImageStreamFailsOnlyThatPage() async throws {
        let pdf = TestPDF.scanned([
            .image(try Self.scanOf(Self.pageOne), dpi: 300), .brokenImage(width: 2550, height: 3300, dpi: 300),
            .text(Self.pageTwo),
        ])
        let document = try await Self.load(pdf)
        #expect(document.readings.map(\.method) == [.ocr, .failed, .text])
        let warning = document.warnings.first { $0.page == 2 }
        #expect(warning?.kind == .pageFailed)
        #expect(warning?.message.contains("OCR failed") == true)
        #expect(document.ocrResults.map(\.outcome) == [.read, .failed])
    }

    @Test func pagesPastTheLimitAreIndexedWithoutOCRAndAWarning() async throws {
        let scan = try Self.scanOf(Self.pageOne)
        let document = try await Self.load(TestPDF.scanned([.image(scan, dpi: 300), .text(Self.pageTwo), .image(scan, dpi: 300)])) {
            $0.maxPagesPerDocument = 1
        }
        #expect(document.readings.map(\.method) == [.ocr, .text, .empty])
        let warning = document.warnings.first { $0.kind == .ocrSkipped }
        #expect(warning?.message.contains("page 3 needed OCR") == true)
        #expect(warning?.message.contains("maxPagesPerDocument") == true)
        #expect(document.ocrResults.map(\.outcome) == [.read, .skipped])
    }

    @Test func missingLanguageDataKeepsTheWarningAndSaysHowToEnableOCR() async throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("no-tessdata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let document = try await Self.load(TestPDF.scanned([.image(try Self.scanOf(Self.pageOne), dpi: 300)])) {
            $0.dataPath = empty.path
        }
        #expect(document.readings.map(\.method) == [.empty])
        #expect(Set(document.warnings.map(\.kind)) == [.noText, .ocrSkipped])
        let warning = document.warnings.first { $0.kind == .ocrSkipped }
        #expect(warning?.message.contains("apt-get install tesseract-ocr-eng") == true)
        // At start, the same configuration is refused, naming the package.
        var configuration = EngineConfiguration()
        configuration.ocr.dataPath = empty.path
        let error = #expect(throws: OCRError.self) { try configuration.checkOCR() }
        #expect(error?.code == .language)
    }

    @Test func aQuestionAboutAScannedPageIsAnsweredWithItsCitation() async throws {
        let pdf = TestPDF.scanned([.text(Self.pageOne), .image(try Self.scanOf(Self.pageTwo), dpi: 300)])
        let engine = try await Engine(configuration: EngineConfiguration(extraction: ExtractionLimits(threads: 1)))
        let record = try await engine.ingest(data: pdf, fileName: "port-rules.pdf")
        #expect(record.pageReadings?.map(\.method) == [.text, .ocr])
        #expect(record.readingSummary?.ocrDescription?.hasPrefix("1 of 2 pages read by OCR, mean confidence") == true)
        let answer = try await engine.ask("How often are the cargo cranes inspected?")
        let citation = try #require(answer.citations.first)
        #expect(citation.fileName == "port-rules.pdf")
        #expect(citation.page == 2)
        #expect(answer.text.contains("ninety days"))
    }

    @Test func ragListsHowEachPageWasReadAndStopsOnAMissingLanguage() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-ocr-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        let file = directory.appendingPathComponent("scan.pdf")
        try TestPDF.scanned([.text(Self.pageOne), .image(try Self.scanOf(Self.pageTwo), dpi: 300)]).write(to: file)
        let metricsFile = directory.appendingPathComponent("metrics.prom")

        let ingest = try await RAGProcess.run(["ingest", "--threads", "1", file.path, "--metrics-file", metricsFile.path], collection: collection)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let metrics = try String(contentsOf: metricsFile, encoding: .utf8)
        #expect(metrics.contains(#"rag_ocr_pages_total{outcome="read"} 1"#))
        #expect(metrics.contains(#"rag_ocr_duration_seconds_count{outcome="read"} 1"#))

        let list = try await RAGProcess.run(["list", "--pages"], collection: collection)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("(1 of 2 pages read by OCR, mean confidence "))
        #expect(list.stdout.contains("    1           text\n    2           ocr "))

        let extract = try await RAGProcess.run(["extract", "--threads", "1", "--json", file.path])
        #expect(extract.status == 0, "\(extract.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(extract.stdout.utf8)) as? [String: Any])
        let readings = try #require(object["readings"] as? [[String: Any]])
        #expect(readings.map { $0["read"] as? String } == ["text", "ocr"])
        #expect((readings[1]["confidence"] as? Int ?? 0) >= 80)
        #expect(readings[0]["confidence"] == nil)

        let never = try await RAGProcess.run(["extract", "--threads", "1", "--json", file.path], environment: ["RAG_OCR": "never"])
        #expect(never.stdout.contains(#""read":"empty""#), "\(never.stdout)")

        let missing = try await RAGProcess.run(["extract", "--ocr-languages", "eng+xyzq", file.path])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("apt-get install tesseract-ocr-eng tesseract-ocr-xyzq"), "\(missing.stderr)")
        #expect(missing.stdout.isEmpty)
        let doctor = try await RAGProcess.run(["doctor"], collection: collection, environment: ["RAG_OCR_LANGUAGES": "eng+xyzq"])
        #expect(doctor.status == 1)
        #expect(doctor.stdout.contains("fail  ocr         Tesseract has no data for the language \"xyzq\""), "\(doctor.stdout)")
        let bad = try await RAGProcess.run(["extract", "--ocr-dpi", "20", file.path])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--ocr-dpi"), "\(bad.stderr)")
    }

    @Test func pagesUnderTheMinimumConfidenceAreIndexedWithAWarning() async throws {
        let document = try await Self.load(TestPDF.scanned([.image(try Self.scanOf(Self.pageOne), dpi: 300)])) {
            $0.minimumConfidence = 100
        }
        #expect(document.readings.map(\.method) == [.ocr])
        #expect(document.pages.first?.text.contains("harbour master") == true)
        let warning = document.warnings.first { $0.kind == .ocrLowConfidence }
        #expect(warning?.page == 1)
        #expect(warning?.message.contains("under 100") == true)
        #expect(document.ocrResults.map(\.outcome) == [.lowConfidence])
    }

    @Test func withoutTesseractScannedPagesKeepTheirWarningAndSayHowToEnableOCR() async throws {
        // A process whose libtesseract cannot be loaded, as on a machine without it.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-no-ocr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("scan.pdf")
        try TestPDF.scanned([.image(try Self.scanOf(Self.pageOne), dpi: 300)]).write(to: file)
        let missing = ["RAG_TESSERACT_LIBRARY": "/nonexistent/libtesseract.so.5"]

        let auto = try await RAGProcess.run(["extract", "--threads", "1", "--json", file.path], environment: missing)
        #expect(auto.status == 0, "\(auto.stderr)")
        #expect(auto.stderr.contains("the document has no extractable text"), "\(auto.stderr)")
        #expect(auto.stderr.contains("page 1 has no usable text layer (scanned?) and was not read: libtesseract is not installed"))
        #expect(auto.stderr.contains("apt-get install libtesseract5 tesseract-ocr-eng tesseract-ocr-osd"))
        #expect(auto.stdout.contains(#""read":"empty""#))

        let always = try await RAGProcess.run(["extract", "--ocr", "always", file.path], environment: missing)
        #expect(always.status != 0)
        #expect(always.stderr.contains("libtesseract is not installed"), "\(always.stderr)")
        #expect(always.stdout.isEmpty)

        let doctor = try await RAGProcess.run(["doctor"], collection: directory.appendingPathComponent("c"), environment: missing)
        #expect(doctor.stdout.contains("warn  ocr         scanned pages cannot be read: libtesseract is not installed"), "\(doctor.stdout)")
    }

    @Test func optionsAreValidated() async throws {
        #expect(OCROptions.isValidLanguages("eng+deu"))
        #expect(OCROptions.isValidLanguages("chi_sim"))
        for bad in ["", "en", "eng+", "eng deu", "../etc", "eng+deu+fra+spa+ita+por+nld+pol+ces"] {
            #expect(!OCROptions.isValidLanguages(bad), "\(bad)")
        }
        #expect(throws: InvalidLimit.self) { try OCROptions(dpi: 50).validate() }
        #expect(throws: InvalidLimit.self) { try OCROptions(pageTimeout: .zero).validate() }
        #expect(throws: InvalidLimit.self) { try OCROptions(minimumConfidence: 101).validate() }
        #expect(throws: InvalidLimit.self) { try OCROptions(maxPagesPerDocument: 0).validate() }
    }
}

/// Without OCR available (or wanted), scanned pages keep today's warnings.
struct OCRPlanningTests {
    @Test func autoReadsEmptyUnmappableAndThinlyCoveredPagesOnly() {
        let scan = PageCoverage(text: 0.01, image: 1)
        let textPage = PageCoverage(text: 0.3, image: 0)
        let captioned = PageCoverage(text: 0.2, image: 0.6)
        let text = PageOutcome.text("words", characters: 5, styles: nil)
        #expect(DocumentLoader.needsOCR(.empty, coverage: .none, mode: .auto))
        #expect(DocumentLoader.needsOCR(.unmappable(90, of: 100), coverage: textPage, mode: .auto))
        #expect(DocumentLoader.needsOCR(text, coverage: scan, mode: .auto))
        #expect(!DocumentLoader.needsOCR(text, coverage: textPage, mode: .auto))
        #expect(!DocumentLoader.needsOCR(text, coverage: captioned, mode: .auto))
        #expect(DocumentLoader.needsOCR(text, coverage: textPage, mode: .always))
        #expect(!DocumentLoader.needsOCR(.empty, coverage: scan, mode: .never))
        #expect(!DocumentLoader.needsOCR(.failed("broken"), coverage: scan, mode: .always))
        #expect(!DocumentLoader.needsOCR(.repeated(of: 0), coverage: scan, mode: .always))
    }

    @Test func pageListsAreShort() {
        #expect(DocumentLoader.pageList([2]) == "page 3")
        #expect(DocumentLoader.pageList([0, 1, 2, 4]) == "pages 1–3 and 5")
        #expect(DocumentLoader.pageList(Array(stride(from: 0, to: 40, by: 2))).hasSuffix("and 10 more ranges"))
    }

    @Test func ocrTextIsCleaned() {
        #expect(DocumentLoader.cleanOCRText("First line  \nsecond\n\n\n\nthird\u{0C}\n\n") == "First line\nsecond\n\nthird")
    }
}
