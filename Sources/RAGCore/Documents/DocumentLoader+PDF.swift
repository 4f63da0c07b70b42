import Dispatch
import Foundation
import Synchronization

extension DocumentLoader {
    /// Fewest pages worth a worker of its own: opening a document per worker costs about as much as a few pages.
    static let minimumPagesPerWorker = 8

    func loadPDF(bytes: SourceBytes, fileName: String) throws(DocumentError) -> Document {
        let plan = try planPDF(bytes: bytes, fileName: fileName)
        let pageCount = plan.parts.reduce(0) { $0 + $1.pageCount }
        if pageCount <= 0 {
            throw DocumentError(code: .noPages, fileName: fileName, message: "the page tree is empty")
        }
        if pageCount > limits.maxPages {
            throw DocumentError(
                code: .tooManyPages, fileName: fileName,
                message: "the PDF declares \(pageCount) pages; the limit is \(limits.maxPages)")
        }
        let title = plan.parts.lazy.compactMap { Self.clean(try? $0.document.metadata("info:Title")) }.first
        let author = plan.parts.lazy.compactMap { Self.clean(try? $0.document.metadata("info:Author")) }.first
        let outline = outline(of: plan)
        let styles: Bool
        switch headingDetection {
        case nil, .outline?: styles = false
        case .headings?: styles = true
        case .automatic?: styles = !SectionSource.hasUsableOutline(outline)
        }

        // The parts of a file that holds several PDFs are extracted one after the other, each on all the workers,
        // against one character budget.
        var outcomes: [PageOutcome] = []
        var coverage: [PageCoverage] = []
        var characters = 0
        for part in plan.parts {
            // Pages that are the same object as an earlier page are decided before any text is extracted, in page
            // order, so the work is not spent and the result does not depend on the workers.
            let repeats = Self.repeatedPages(try part.document.pageObjectNumbers(count: part.pageCount))
            let workers = max(1, min(limits.threads, (part.pageCount - repeats.count) / Self.minimumPagesPerWorker))
            let offset = outcomes.count
            let extracted = try extractPages(
                part, bytes: plan.bytes, byteCount: bytes.count, fileName: fileName, repeats: repeats,
                workers: workers, charactersBefore: characters, styles: styles)
            coverage += extracted.coverage
            for outcome in extracted.outcomes {
                switch outcome {
                case .repeated(let earlier): outcomes.append(.repeated(of: earlier + offset))
                case .text(_, let count, _):
                    characters += count
                    outcomes.append(outcome)
                default: outcomes.append(outcome)
                }
            }
        }
        let ocr = try readScannedPages(
            plan, outcomes: &outcomes, coverage: coverage, characters: &characters, fileName: fileName,
            byteCount: bytes.count)
        var document = try assemble(
            outcomes, fileName: fileName, title: title, author: author, pageCount: pageCount, bytes: bytes)
        document.warnings += ocr.warnings
        document.ocrResults = ocr.results
        document.outline = outline
        if styles { document.headings = headings(in: outcomes) }
        if let warning = Self.recoveredWarning(plan) { document.warnings.insert(warning, at: 0) }
        return document
    }

    /// Opens the PDF (the one in `range` of `bytes`, or all of them) in a new context and unlocks it with
    /// ``password`` if it is encrypted.
    func openPDF(bytes: SourceBytes, range: Range<Int>? = nil, fileName: String) throws(DocumentError) -> MuPDFDocument
    {
        let context = try MuPDFContext(cacheBytes: limits.cacheBytesPerThread, fileName: fileName)
        let document = try MuPDFDocument(context: context, bytes: bytes, range: range)
        if try document.needsPassword() {
            guard let password else {
                throw DocumentError(code: .encrypted, fileName: fileName, message: "the PDF needs a password")
            }
            guard try document.authenticate(password: password) else {
                throw DocumentError(code: .wrongPassword, fileName: fileName, message: "the password was rejected")
            }
        }
        return document
    }

    /// The outlines of the file's PDFs, one after the other, their pages counted from the file's first page. An
    /// outline that cannot be read is left out: it only helps search, and the text is what matters.
    func outline(of plan: PDFPlan) -> [OutlineEntry] {
        var entries: [OutlineEntry] = []
        var pagesBefore = 0
        for part in plan.parts {
            let room = limits.maxOutlineEntries - entries.count
            if room > 0, let outline = try? part.document.outline(maxEntries: room, maxDepth: limits.maxOutlineDepth) {
                entries += outline.map { entry in
                    var entry = entry
                    entry.page = entry.page.map { $0 + pagesBefore }
                    return entry
                }
            }
            pagesBefore += part.pageCount
        }
        return entries
    }

    /// The headings ``HeadingDetector`` finds in the lines the pages' outcomes kept (short lines worded like headings:
    /// part of the page text, so bounded by the character budget). None when there are more than ten times
    /// ``ExtractionLimits/maxOutlineEntries`` of them: a document that irregular has no headings worth trusting, and
    /// headings only help search.
    func headings(in outcomes: [PageOutcome]) -> [OutlineEntry] {
        var sizes: [Int: Int] = [:]
        var lines: [TextLine] = []
        let maxLines = limits.maxOutlineEntries.multipliedReportingOverflow(by: 10)
        for (index, outcome) in outcomes.enumerated() {
            guard case .text(_, _, let styles?) = outcome else { continue }
            sizes.merge(styles.sizes, uniquingKeysWith: +)
            if !maxLines.overflow && lines.count + styles.lines.count > maxLines.partialValue { return [] }
            lines += styles.lines.map { line in
                var line = line
                line.page = index + 1
                return line
            }
        }
        guard let body = HeadingDetector.bodySize(sizes) else { return [] }
        return HeadingDetector().headings(
            in: lines, bodySize: body, sizes: sizes, maxEntries: limits.maxOutlineEntries)
    }

    /// For each page that is the same page object as an earlier one, the 0-based index of the first page with that
    /// object. Unknown objects (number 0) repeat nothing.
    static func repeatedPages(_ objectNumbers: [Int32]) -> [Int: Int] {
        var first: [Int32: Int] = [:]
        var repeats: [Int: Int] = [:]
        for (index, number) in objectNumbers.enumerated() where number != 0 {
            if let earlier = first[number] { repeats[index] = earlier } else { first[number] = index }
        }
        return repeats
    }

    private static func clean(_ value: String??) -> String? {
        guard let value = value ?? nil else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    // MARK: - Parallel extraction

    /// Extracts every page of `part` on `workers` threads. Pages are handed out in increasing chunks; each worker
    /// has its own MuPDF context and document (worker 0 reuses the part's), reading the part's scanned page objects
    /// when its page tree was lost. `byteCount` (the file's size) sets the character budget, of which
    /// `charactersBefore` went to earlier parts.
    private func extractPages(
        _ part: PDFPart, bytes: SourceBytes, byteCount: Int, fileName: String, repeats: [Int: Int], workers: Int,
        charactersBefore: Int, styles: Bool
    ) throws(DocumentError) -> (outcomes: [PageOutcome], coverage: [PageCoverage]) {
        let state = ExtractionState(
            pageCount: part.pageCount, limits: limits, byteCount: byteCount, fileName: fileName, repeats: repeats,
            charactersBefore: charactersBefore)
        let chunk = max(1, min(32, part.pageCount / (workers * 8)))
        let handoff = FirstDocument(document: part.document)
        let range = part.range, scanned = part.scannedPages
        if workers == 1 {
            extract(with: part.document, state: state, chunk: chunk, styles: styles)
        } else {
            BlockingPool.shared.forkJoin(workers) { worker in
                do throws(DocumentError) {
                    var document = handoff.document
                    if worker != 0 {
                        document = try openPDF(bytes: bytes, range: range, fileName: fileName)
                        if let scanned { try document.usePages(scanned) }
                    }
                    extract(with: document, state: state, chunk: chunk, styles: styles)
                } catch {
                    state.abort(error)
                }
            }
        }
        return (try state.finish(), state.coverage())
    }

    private func extract(with document: MuPDFDocument, state: ExtractionState, chunk: Int, styles: Bool) {
        while true {
            let start = state.nextPage.wrappingAdd(chunk, ordering: .relaxed).oldValue
            if start >= state.pageCount || start >= state.stopBefore.load(ordering: .relaxed) { return }
            for index in start..<min(start + chunk, state.pageCount) {
                if index >= state.stopBefore.load(ordering: .relaxed) { return }
                if state.isRepeated(index) { continue }
                let remaining = state.characterBudget - state.characters.load(ordering: .relaxed)
                do throws(DocumentError) {
                    let page = try document.pageText(at: index, maxCharacters: remaining, styles: styles)
                    state.recordCoverage(PageCoverage(text: page.textCoverage, image: page.imageCoverage), at: index)
                    if page.glyphs > 0,
                        Double(page.unmappable) > Double(page.glyphs) * limits.maxUnmappableFraction
                    {
                        state.record(.unmappable(page.unmappable, of: page.glyphs), at: index)
                    } else if page.text.isEmpty {
                        state.record(.empty, at: index)
                    } else {
                        let total = state.characters.wrappingAdd(page.characters, ordering: .relaxed).newValue
                        if total > state.characterBudget {
                            state.abort(state.tooMuchText)
                            return
                        }
                        state.record(.text(page.text, characters: page.characters, styles: page.styles), at: index)
                    }
                } catch where error.code == .tooMuchText {
                    state.abort(state.tooMuchText)
                    return
                } catch {
                    state.recordFailure(error.message, at: index)
                }
            }
        }
    }

    /// The error for a document whose text passed ``ExtractionLimits/characterBudget(forBytes:)``: `tooMuchText`
    /// when the budget is ``ExtractionLimits/maxCharacters``, else `tooMuchTextForSize`, with the ratio and the
    /// limits in the message.
    static func tooMuchText(_ fileName: String, _ limits: ExtractionLimits, byteCount: Int) -> DocumentError {
        let budget = limits.characterBudget(forBytes: byteCount)
        guard budget < limits.maxCharacters else {
            return DocumentError(
                code: .tooMuchText, fileName: fileName,
                message: "more than \(limits.maxCharacters) characters of text (maxCharacters)")
        }
        let ratio = Double(budget) / Double(max(1, byteCount))
        return DocumentError(
            code: .tooMuchTextForSize, fileName: fileName,
            message: "the \(byteCount)-byte file yields more than \(budget) characters of text, over "
                + "\(Self.format(ratio)) characters per byte; the limit is \(Self.format(limits.maxCharactersPerByte)) "
                + "characters per byte (maxCharactersPerByte), with at least \(limits.minimumCharacterAllowance) "
                + "characters allowed for any file (minimumCharacterAllowance)")
    }

    /// A ratio with at most two decimals and no trailing zeros (`12`, `0.5`, `3.25`).
    static func format(_ value: Double) -> String {
        var text = String(format: "%.2f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// Puts the outcomes in page order into a document. Decides, in page order, where a run of failed pages stops
    /// the document, so the result does not depend on how pages were spread over workers.
    private func assemble(
        _ outcomes: [PageOutcome], fileName: String, title: String?, author: String?, pageCount: Int,
        bytes: SourceBytes
    ) throws(DocumentError) -> Document {
        var pages: [Page] = []
        var warnings: [DocumentWarning] = []
        var consecutiveFailures = 0
        var characters = 0
        var repeated: [(page: Int, of: Int)] = []
        var readings: [PageReading] = []
        readings.reserveCapacity(outcomes.count)
        for (index, outcome) in outcomes.enumerated() {
            let number = index + 1
            var reading = PageReading(page: number, method: .empty)
            switch outcome {
            case .text(let text, let count, _):
                consecutiveFailures = 0
                characters += count
                pages.append(Page(number: number, text: text))
                reading.method = .text
            case .ocr(let text, let count, let confidence):
                consecutiveFailures = 0
                characters += count
                pages.append(Page(number: number, text: text))
                reading = PageReading(page: number, method: .ocr, confidence: confidence)
            case .empty, .notTried:
                consecutiveFailures = 0
            case .repeated(let earlier):
                consecutiveFailures = 0
                repeated.append((number, earlier + 1))
                // Indexed once, at the earlier page: read as that page was.
                if earlier < readings.count {
                    reading = readings[earlier]
                    reading.page = number
                }
            case .unmappable(let unmappable, let glyphs):
                consecutiveFailures = 0
                warnings.append(Self.unmappableWarning(page: number, unmappable: unmappable, glyphs: glyphs))
                reading.method = .failed
            case .ocrFailed(let message):
                consecutiveFailures = 0
                warnings.append(DocumentWarning(kind: .pageFailed, page: number, message: message))
                reading.method = .failed
            case .failed(let message):
                consecutiveFailures += 1
                warnings.append(DocumentWarning(kind: .pageFailed, page: number, message: message))
                reading.method = .failed
            }
            readings.append(reading)
            if consecutiveFailures >= limits.maxConsecutivePageFailures, number < pageCount {
                warnings.append(
                    DocumentWarning(
                        kind: .pageFailed, page: nil,
                        message: "pages \(number + 1)–\(pageCount) were not read: the \(consecutiveFailures) pages"
                            + " before them all failed to load"))
                break
            }
        }
        if characters > limits.characterBudget(forBytes: bytes.count) {
            throw Self.tooMuchText(fileName, limits, byteCount: bytes.count)
        }
        if let first = repeated.first {
            warnings.append(Self.repeatedPagesWarning(count: repeated.count, example: first, pageCount: pageCount))
        }
        if pages.isEmpty { warnings.append(Self.noTextWarning) }
        // Pages after a run of failures that stopped the document were not read.
        while readings.count < pageCount { readings.append(PageReading(page: readings.count + 1, method: .failed)) }
        return Document(
            fileName: fileName, kind: .pdf, title: title, author: author, pageCount: pageCount, pages: pages,
            warnings: warnings, contentHash: SHA256.hexString(Self.hash(bytes)), byteCount: bytes.count,
            readings: readings)
    }
}

/// What extracting one page produced.
enum PageOutcome: Sendable {
    case notTried
    /// The page is the same page object as the page at this earlier 0-based index; it was not extracted.
    case repeated(of: Int)
    /// The page's text; its font sizes and possible heading lines when the loader detects headings.
    case text(String, characters: Int, styles: PageStyles?)
    case empty
    case unmappable(Int, of: Int)
    case failed(String)
    /// The page was read by OCR (``DocumentLoader/readScannedPages``), with Tesseract's mean confidence.
    case ocr(String, characters: Int, confidence: Int)
    /// The page needed OCR, which failed (the message says why).
    case ocrFailed(String)
}

/// Hands the already-open first document to worker 0.
private struct FirstDocument: @unchecked Sendable {
    // @unchecked Sendable: the opening thread stops using the document before the workers start, and only
    // worker 0 touches it afterwards, so it is never used by two threads at once.
    let document: MuPDFDocument
}

/// State shared by the extraction workers of one document.
final class ExtractionState: Sendable {
    let pageCount: Int
    let maxConsecutiveFailures: Int
    /// The next page to hand out.
    let nextPage = Atomic<Int>(0)
    /// Pages at or after this index are not extracted: a run of failed pages ended before it.
    let stopBefore = Atomic<Int>(.max)
    /// Characters extracted so far, across workers.
    let characters = Atomic<Int>(0)
    /// The most characters the document may yield: ``ExtractionLimits/characterBudget(forBytes:)``.
    let characterBudget: Int
    /// The error for passing ``characterBudget``.
    let tooMuchText: DocumentError
    /// Pages that repeat an earlier page object, by 0-based index: not extracted.
    private let repeated: [Bool]
    private let outcomes: Mutex<[PageOutcome]>
    private let coverages: Mutex<[PageCoverage]>
    private let failed: Mutex<[Bool]>
    private let error = Mutex<DocumentError?>(nil)

    /// `repeats` maps each page that is the same page object as an earlier page to that page's index;
    /// `charactersBefore` is the part of the budget earlier parts of the file used.
    init(
        pageCount: Int, limits: ExtractionLimits, byteCount: Int, fileName: String, repeats: [Int: Int] = [:],
        charactersBefore: Int = 0
    ) {
        self.pageCount = pageCount
        self.maxConsecutiveFailures = max(1, limits.maxConsecutivePageFailures)
        self.characterBudget = limits.characterBudget(forBytes: byteCount) - charactersBefore
        self.tooMuchText = DocumentLoader.tooMuchText(fileName, limits, byteCount: byteCount)
        var outcomes = Array(repeating: PageOutcome.notTried, count: pageCount)
        var repeated = Array(repeating: false, count: pageCount)
        for (index, earlier) in repeats where index < pageCount {
            outcomes[index] = .repeated(of: earlier)
            repeated[index] = true
        }
        self.outcomes = Mutex(outcomes)
        self.coverages = Mutex(Array(repeating: .none, count: pageCount))
        self.repeated = repeated
        failed = Mutex(Array(repeating: false, count: pageCount))
    }

    /// Whether the page at `index` repeats an earlier page object (and so is not extracted).
    func isRepeated(_ index: Int) -> Bool { repeated[index] }

    func record(_ outcome: PageOutcome, at index: Int) {
        outcomes.withLock { $0[index] = outcome }
    }

    /// Records what the page's text lines and images cover, for deciding whether it needs OCR.
    func recordCoverage(_ coverage: PageCoverage, at index: Int) {
        coverages.withLock { $0[index] = coverage }
    }

    /// Each page's coverage, in page order (``PageCoverage/none`` for pages not extracted).
    func coverage() -> [PageCoverage] { coverages.withLock { $0 } }

    /// Records a failed page; if it completes a run of failures, stops handing out the pages after the run.
    func recordFailure(_ message: String, at index: Int) {
        record(.failed(message), at: index)
        let runEnd: Int? = failed.withLock { failed in
            failed[index] = true
            var start = index
            while start > 0 && failed[start - 1] { start -= 1 }
            var end = index
            while end + 1 < failed.count && failed[end + 1] { end += 1 }
            return end - start + 1 >= maxConsecutiveFailures ? start + maxConsecutiveFailures : nil
        }
        if let runEnd { stopBefore.min(runEnd, ordering: .relaxed) }
    }

    /// Stops all workers with an error that fails the whole document.
    func abort(_ documentError: DocumentError) {
        error.withLock { if $0 == nil { $0 = documentError } }
        stopBefore.store(-1, ordering: .relaxed)
    }

    func finish() throws(DocumentError) -> [PageOutcome] {
        if let error = error.withLock({ $0 }) { throw error }
        return outcomes.withLock { $0 }
    }
}
