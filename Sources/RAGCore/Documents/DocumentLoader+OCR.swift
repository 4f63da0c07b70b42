import Foundation
import Synchronization

/// The fractions of a page's area its text lines and its images cover, from text extraction.
struct PageCoverage: Sendable, Hashable {
    var text: Double
    var image: Double

    static let none = PageCoverage(text: 0, image: 0)
}

/// OCR of scanned pages: after the text layer of every page is extracted, the pages without a usable one are
/// rendered in grayscale (MuPDF) and read by Tesseract, on the loader's worker threads.
extension DocumentLoader {
    /// A text layer covering less than this fraction of what a page's images cover is a thin layer of OCR junk over
    /// a scan (when the images cover at least ``scanImageCoverage`` of the page).
    static let thinTextLayer = 0.1
    /// Images covering at least this fraction of a page make it look scanned.
    static let scanImageCoverage = 0.5

    /// Whether `outcome`, the page's text-layer extraction, calls for OCR under `mode`.
    static func needsOCR(_ outcome: PageOutcome, coverage: PageCoverage, mode: OCROptions.Mode) -> Bool {
        switch (mode, outcome) {
        case (.never, _), (_, .repeated), (_, .failed), (_, .notTried), (_, .ocr), (_, .ocrFailed): return false
        case (.always, _): return true
        case (.auto, .empty), (.auto, .unmappable): return true
        case (.auto, .text):
            return coverage.image >= scanImageCoverage && coverage.text < coverage.image * thinTextLayer
        }
    }

    /// Reads the pages of `outcomes` that need OCR (``needsOCR(_:coverage:mode:)``), at most
    /// ``OCROptions/maxPagesPerDocument`` of them, and puts what was read in their place. Returns what OCR did per
    /// page and the warnings for the document. `characters` is the text extracted so far, against the document's
    /// character budget; OCR'd text counts too.
    func readScannedPages(
        _ plan: PDFPlan, outcomes: inout [PageOutcome], coverage: [PageCoverage], characters: inout Int,
        fileName: String, byteCount: Int
    ) throws(DocumentError) -> (results: [OCRPageResult], warnings: [DocumentWarning]) {
        let candidates = outcomes.indices.filter { index in
            Self.needsOCR(outcomes[index], coverage: index < coverage.count ? coverage[index] : .none, mode: ocr.mode)
        }
        guard !candidates.isEmpty else { return ([], []) }
        let reader: OCRReader
        do {
            reader = try OCRReader.shared(for: ocr, maxIdle: limits.threads)
        } catch {
            let message = "\(Self.pageList(candidates)) \(candidates.count == 1 ? "has" : "have") no usable text "
                + "layer (scanned?) and \(candidates.count == 1 ? "was" : "were") not read: \(error.message)"
            return ([], [DocumentWarning(kind: .ocrSkipped, page: nil, message: message)])
        }
        let todo = Array(candidates.prefix(ocr.maxPagesPerDocument))
        var results: [OCRPageResult] = []
        var warnings: [DocumentWarning] = []
        let skipped = candidates.dropFirst(todo.count)
        if !skipped.isEmpty {
            results += skipped.map { OCRPageResult(page: $0 + 1, outcome: .skipped, seconds: 0) }
            warnings.append(
                DocumentWarning(
                    kind: .ocrSkipped, page: nil,
                    message: "\(Self.pageList(Array(skipped))) needed OCR and \(skipped.count == 1 ? "was" : "were") "
                        + "not read: the limit is \(ocr.maxPagesPerDocument) pages per document (maxPagesPerDocument)"))
        }
        let read = recognize(todo, plan: plan, reader: reader, fileName: fileName)
        let budget = limits.characterBudget(forBytes: byteCount)
        for (index, page) in zip(todo, read) {
            let number = index + 1
            switch page.result {
            case .success(let (text, confidence)):
                let visible = Self.visibleCharacters(text)
                guard visible > 0 else {
                    results.append(OCRPageResult(page: number, outcome: .empty, seconds: page.seconds))
                    continue
                }
                if case .text(let layer, _, _) = outcomes[index], ocr.mode == .auto, Self.visibleCharacters(layer) >= visible {
                    // The text layer holds more than OCR found: keep it.
                    results.append(OCRPageResult(page: number, outcome: .read, seconds: page.seconds))
                    continue
                }
                let count = text.unicodeScalars.count
                if case .text(_, let layerCount, _) = outcomes[index] { characters -= layerCount }
                characters += count
                if characters > budget { throw Self.tooMuchText(fileName, limits, byteCount: byteCount) }
                outcomes[index] = .ocr(text, characters: count, confidence: confidence)
                let low = confidence < ocr.minimumConfidence
                results.append(OCRPageResult(page: number, outcome: low ? .lowConfidence : .read, seconds: page.seconds))
                if low {
                    warnings.append(
                        DocumentWarning(
                            kind: .ocrLowConfidence, page: number,
                            message: "read by OCR with a mean confidence of \(confidence), under "
                                + "\(ocr.minimumConfidence): its text may be poor"))
                }
            case .failure(let message, let timedOut):
                results.append(OCRPageResult(page: number, outcome: timedOut ? .timeout : .failed, seconds: page.seconds))
                if case .text = outcomes[index] {
                    warnings.append(
                        DocumentWarning(kind: .pageFailed, page: number, message: "OCR failed (\(message)); its text layer was kept"))
                } else {
                    outcomes[index] = .ocrFailed("OCR failed: \(message)")
                }
            }
        }
        results.sort { $0.page < $1.page }
        return (results, warnings)
    }

    /// Characters of `text` that are not whitespace.
    static func visibleCharacters(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { $0 + ($1.properties.isWhitespace ? 0 : 1) }
    }

    /// What OCR made of one page.
    struct RecognizedPage: Sendable {
        enum Result: Sendable {
            case success((text: String, confidence: Int))
            case failure(String, timedOut: Bool)
        }

        var result: Result
        var seconds: Double
    }

    /// Renders and reads the pages at `indexes` (0-based, over the file) on up to ``ExtractionLimits/threads``
    /// workers, each with its own MuPDF documents; returns what each page gave, in the order of `indexes`.
    private func recognize(_ indexes: [Int], plan: PDFPlan, reader: OCRReader, fileName: String) -> [RecognizedPage] {
        // Where each part's pages start in the file's page numbering.
        var partStarts: [Int] = []
        var total = 0
        for part in plan.parts {
            partStarts.append(total)
            total += part.pageCount
        }
        let starts = partStarts
        let results = Mutex<[RecognizedPage?]>(Array(repeating: nil, count: indexes.count))
        let next = Atomic<Int>(0)
        let done = Atomic<Int>(0)
        let workers = max(1, min(limits.threads, indexes.count))
        let parts = PlanParts(plan: plan)
        let options = reader.options
        BlockingPool.shared.forkJoin(workers) { _ in
            var documents: [Int: MuPDFDocument] = [:]
            while true {
                let position = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if position >= indexes.count { return }
                let index = indexes[position]
                let partIndex = (starts.lastIndex { $0 <= index }) ?? 0
                let started = ContinuousClock.now
                let outcome: RecognizedPage.Result
                // The page's time limit covers drawing it too: a hostile page can take far longer to draw than to
                // read its (empty) text layer. At the deadline the watchdog stops MuPDF's run.
                let cookie = MuPDFCookie()
                let watchdog = cookie.map { cookie in
                    Task {
                        try await Task.sleep(for: options.pageTimeout)
                        cookie.abort()
                    }
                }
                defer { watchdog?.cancel() }
                do throws(DocumentError) {
                    let document: MuPDFDocument
                    if let open = documents[partIndex] {
                        document = open
                    } else {
                        let part = parts.plan.parts[partIndex]
                        document = try openPDF(bytes: parts.plan.bytes, range: part.range, fileName: fileName)
                        if let scanned = part.scannedPages { try document.usePages(scanned) }
                        documents[partIndex] = document
                    }
                    let image = try document.renderGray(
                        at: index - starts[partIndex], dpi: options.dpi, maxPixels: options.maxPixelsPerPage,
                        cookie: cookie)
                    do throws(OCRError) {
                        let left = options.pageTimeout - (ContinuousClock.now - started)
                        let (text, confidence) = try reader.recognize(image, timeout: max(.milliseconds(1), left))
                        outcome = .success((Self.cleanOCRText(text), confidence))
                    } catch {
                        outcome = .failure(error.message, timedOut: error.code == .timeout)
                    }
                } catch {
                    let stopped = ContinuousClock.now - started >= options.pageTimeout
                    outcome = .failure(
                        stopped ? "drawing the page took longer than the limit of \(options.pageTimeout) (pageTimeout)" : error.message,
                        timedOut: stopped)
                }
                let page = RecognizedPage(result: outcome, seconds: Engine.seconds(since: started))
                results.withLock { $0[position] = page }
                let finished = done.wrappingAdd(1, ordering: .relaxed).newValue
                ocrProgress?(finished, indexes.count)
            }
        }
        return results.withLock { $0.map { $0! } }
    }

    /// Page `page` (1-based) of the PDF in `data` as OCR sees it: rendered in 8-bit grayscale at `dpi` (0 black, 255
    /// white), rows top first without padding. For checking what OCR reads, and for making scans in tests
    /// (`TestPDF.scan(of:)`).
    public func grayscalePage(_ page: Int, of data: Data, fileName: String = "document.pdf", dpi: Int = 300)
        throws(DocumentError) -> (width: Int, height: Int, pixels: [UInt8])
    {
        let bytes = SourceBytes(copying: data)
        let document = try openPDF(bytes: bytes, fileName: fileName)
        let image = try document.renderGray(at: page - 1, dpi: dpi, maxPixels: ocr.maxPixelsPerPage)
        var pixels: [UInt8] = []
        pixels.reserveCapacity(image.width * image.height)
        for row in 0..<image.height {
            pixels += UnsafeBufferPointer(start: image.pixels + row * image.stride, count: image.width)
        }
        return (image.width, image.height, pixels)
    }

    /// Tesseract's text with trailing spaces on lines, control characters and runs of more than one blank line
    /// removed.
    static func cleanOCRText(_ text: String) -> String {
        var lines: [Substring] = []
        var blank = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let kept = line.unicodeScalars.filter { !$0.properties.generalCategory.isControl && $0 != "\u{FFFD}" }
            var trimmed = Substring(String(String.UnicodeScalarView(kept)))
            while trimmed.last?.isWhitespace == true { trimmed.removeLast() }
            if trimmed.isEmpty {
                blank += 1
                if blank == 1 && !lines.isEmpty { lines.append("") }
            } else {
                blank = 0
                lines.append(trimmed)
            }
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    /// "page 3", "pages 3, 5–9 and 12" (1-based from 0-based indexes, ranges collapsed, at most ten items).
    static func pageList(_ indexes: [Int]) -> String {
        var ranges: [ClosedRange<Int>] = []
        for number in indexes.map({ $0 + 1 }).sorted() {
            if let last = ranges.last, last.upperBound + 1 == number {
                ranges[ranges.count - 1] = last.lowerBound...number
            } else {
                ranges.append(number...number)
            }
        }
        var items = ranges.prefix(10).map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)–\($0.upperBound)" }
        if ranges.count > 10 { items.append("\(ranges.count - 10) more ranges") }
        let prefix = indexes.count == 1 ? "page" : "pages"
        guard items.count > 1 else { return "\(prefix) \(items.first ?? "")" }
        return "\(prefix) \(items.dropLast().joined(separator: ", ")) and \(items.last!)"
    }
}

extension Unicode.GeneralCategory {
    fileprivate var isControl: Bool { self == .control }
}

/// Hands a plan's parts to the OCR workers: each opens documents of its own from the parts' ranges and reads only
/// their immutable fields.
private struct PlanParts: @unchecked Sendable {
    // @unchecked Sendable: the workers read `range`, `scannedPages` and `bytes` (immutable), never the parts' open
    // documents, which stay with the thread that made them.
    let plan: PDFPlan
}
