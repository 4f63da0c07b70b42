import Foundation

/// How one page of a document was read: from its text layer, by OCR, or not at all.
///
/// Kept with the document (``DocumentRecord/pageReadings``), shown by `rag list --pages`, `rag extract --json`,
/// `GET /v1/documents/{id}` and the chat page's document list.
public struct PageReading: Sendable, Hashable, Codable {
    public enum Method: String, Sendable, Hashable, Codable, CaseIterable {
        /// From the PDF's text layer (or a text file).
        case text
        /// By OCR (Tesseract): ``PageReading/confidence`` says how sure it was.
        case ocr
        /// The page could not be read (a warning says why): a broken page, an image that cannot be decoded, OCR
        /// past its time limit.
        case failed
        /// Nothing to index: a blank page, a scanned page without OCR (disabled, not installed or past its page
        /// limit: a warning says which), or a page repeating an earlier one.
        case empty
    }

    /// The 1-based page number.
    public var page: Int
    public var method: Method
    /// For ``Method/ocr``: Tesseract's mean word confidence, 0...100.
    public var confidence: Int?

    public init(page: Int, method: Method, confidence: Int? = nil) {
        self.page = page
        self.method = method
        self.confidence = confidence
    }

    enum CodingKeys: String, CodingKey {
        case page
        case method = "read"
        case confidence
    }
}

/// A summary of a document's page readings, for a person ("12 of 40 pages read by OCR, mean confidence 91").
public struct PageReadingSummary: Sendable, Hashable, Codable {
    /// Pages by how they were read.
    public var text: Int
    public var ocr: Int
    public var failed: Int
    public var empty: Int
    /// The mean of the OCR'd pages' confidences, rounded; `nil` without OCR'd pages.
    public var ocrMeanConfidence: Int?

    public init(_ readings: [PageReading]) {
        var counts: [PageReading.Method: Int] = [:]
        var confidence = 0
        for reading in readings {
            counts[reading.method, default: 0] += 1
            if reading.method == .ocr { confidence += reading.confidence ?? 0 }
        }
        text = counts[.text] ?? 0
        ocr = counts[.ocr] ?? 0
        failed = counts[.failed] ?? 0
        empty = counts[.empty] ?? 0
        ocrMeanConfidence = ocr > 0 ? Int((Double(confidence) / Double(ocr)).rounded()) : nil
    }

    /// "12 of 40 pages read by OCR, mean confidence 91"; `nil` when no page was.
    public var ocrDescription: String? {
        guard ocr > 0, let confidence = ocrMeanConfidence else { return nil }
        let pages = text + ocr + failed + empty
        return "\(ocr) of \(pages) page\(pages == 1 ? "" : "s") read by OCR, mean confidence \(confidence)"
    }
}

/// What OCR did with one page, for the metrics (`rag_ocr_pages_total`, `rag_ocr_duration_seconds`). Not kept.
public struct OCRPageResult: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        /// Read, with at least the minimum confidence.
        case read
        /// Read, below ``OCROptions/minimumConfidence``.
        case lowConfidence = "low_confidence"
        /// Nothing found on the page.
        case empty
        /// Rendering or recognition failed.
        case failed
        /// Stopped at ``OCROptions/pageTimeout``.
        case timeout
        /// Needed OCR, but past ``OCROptions/maxPagesPerDocument``.
        case skipped
    }

    public var page: Int
    public var outcome: Outcome
    /// Time spent rendering and recognizing the page (0 for `skipped`).
    public var seconds: Double

    public init(page: Int, outcome: Outcome, seconds: Double) {
        self.page = page
        self.outcome = outcome
        self.seconds = seconds
    }
}
