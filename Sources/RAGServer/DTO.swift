import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

/// JSON shapes of the API (snake_case keys), documented in docs/api.md and docs/openapi.yaml.
enum DTO {
    struct Warning: Codable, Sendable {
        var kind: String
        var page: Int?
        var message: String
        init(_ warning: DocumentWarning) {
            kind = warning.kind.rawValue
            page = warning.page
            message = warning.message
        }
    }

    struct Document: Codable, Sendable {
        var id: String
        var file: String
        var kind: String
        var title: String?
        var author: String?
        var pages: Int
        var indexed_pages: Int
        var chunks: Int
        var bytes: Int
        var sha256: String
        var ingested_at: String
        var warnings: [Warning]
        /// How many pages were read from their text layer, by OCR, failed or were empty (absent for documents
        /// ingested before this was recorded).
        var reading: Reading?
        /// How each page was read; only in a single document's status (`GET /v1/documents/{id}`).
        var page_readings: [PageRead]?

        /// `record` as the API shows it; `withPages`, with each page's reading.
        init(_ record: DocumentRecord, withPages: Bool = false) {
            id = record.id.rawValue
            file = record.fileName
            kind = record.kind.rawValue
            title = record.title
            author = record.author
            pages = record.pageCount
            indexed_pages = record.indexedPages
            chunks = record.chunkCount
            bytes = record.byteCount
            sha256 = record.contentHash
            ingested_at = ISO8601DateFormatter().string(from: record.ingestedAt)
            warnings = record.warnings.map(Warning.init)
            reading = record.readingSummary.map(Reading.init)
            if withPages { page_readings = record.pageReadings?.map(PageRead.init) }
        }
    }

    /// Counts of a document's pages by how they were read, and a sentence for people.
    struct Reading: Codable, Sendable {
        var text: Int
        var ocr: Int
        var failed: Int
        var empty: Int
        var ocr_mean_confidence: Int?
        /// "12 of 40 pages read by OCR, mean confidence 91", when any page was.
        var summary: String?

        init(_ summary: PageReadingSummary) {
            text = summary.text
            ocr = summary.ocr
            failed = summary.failed
            empty = summary.empty
            ocr_mean_confidence = summary.ocrMeanConfidence
            self.summary = summary.ocrDescription
        }
    }

    /// How one page was read: `text`, `ocr` (with `confidence`), `failed` or `empty`.
    struct PageRead: Codable, Sendable {
        var page: Int
        var read: String
        var confidence: Int?

        init(_ reading: PageReading) {
            page = reading.page
            read = reading.method.rawValue
            confidence = reading.confidence
        }
    }

    struct Upload: Codable, Sendable {
        var document: Document
        /// True when the collection already had this exact file (nothing was added).
        var unchanged: Bool
        /// A collection version that holds the document: pass it as `min_index_version` to read it on any replica.
        var index_version: UInt64
    }

    /// A queued upload's status (`POST /v1/documents` with queued uploads, `GET /v1/documents/{id}`).
    struct Job: Codable, Sendable {
        struct Failure: Codable, Sendable {
            var code: String
            var message: String
        }
        var id: String
        var file: String
        /// `queued`, `processing`, `ready` or `failed`.
        var status: String
        var status_url: String
        var attempts: Int
        var error: Failure?
        /// Once ready: a collection version that holds the document, for `min_index_version`.
        var index_version: UInt64?
        /// Once ready and in this replica's collection: the document.
        var document: Document?
        var created_at: String?
        var updated_at: String?

        init(_ job: IngestJob, document: DocumentRecord?) {
            id = job.id.rawValue
            file = job.fileName
            status = job.state.rawValue
            status_url = "/v1/documents/\(job.id.rawValue)"
            attempts = job.attempts
            error = job.error.map { Failure(code: $0.code, message: $0.message) }
            index_version = job.indexVersion
            self.document = document.map { Document($0, withPages: true) }
            created_at = ISO8601DateFormatter().string(from: job.createdAt)
            updated_at = ISO8601DateFormatter().string(from: job.updatedAt)
        }

        /// A document in the collection without a job (ingested by `rag ingest` or an inline upload).
        init(ready record: DocumentRecord, indexVersion: UInt64) {
            id = record.id.rawValue
            file = record.fileName
            status = IngestJob.State.ready.rawValue
            status_url = "/v1/documents/\(record.id.rawValue)"
            attempts = 0
            index_version = indexVersion
            document = Document(record, withPages: true)
        }
    }

    struct Removed: Codable, Sendable {
        var removed: Document
        /// A collection version without the document, for `min_index_version`.
        var index_version: UInt64
    }

    struct DocumentList: Codable, Sendable {
        var documents: [Document]
    }

    struct Hit: Codable, Sendable {
        var file: String
        var page: Int
        var page_end: Int
        var text: String
        var score: Float
        var document_id: String
        var chunk_id: String
        /// The passage's position in its document: what the page image's `chunk` names.
        var chunk_index: Int
        init(_ hit: SearchHit) {
            chunk_index = hit.chunk.ordinal
            file = hit.chunk.fileName
            page = hit.chunk.pageStart
            page_end = hit.chunk.pageEnd
            text = hit.chunk.text
            score = hit.score
            document_id = hit.chunk.documentID.rawValue
            chunk_id = hit.chunk.id.rawValue
        }
    }

    struct SearchRequest: Codable, Sendable {
        var query: String
        var k: Int?
        var documents: [String]?
        /// `hybrid`, `vector` or `lexical`; the server's setting when absent.
        var retrieval: String?
        /// Wait until this replica has applied this collection version (a write's `index_version`).
        var min_index_version: UInt64?
        /// `false`: neither read nor write the response cache (with Redis configured).
        var cache: Bool?
    }

    struct SearchResponse: Codable, Sendable {
        var hits: [Hit]
    }

    struct Message: Codable, Sendable {
        var role: String
        var content: String
    }

    struct AskRequest: Codable, Sendable {
        var question: String
        var history: [Message]?
        var stream: Bool?
        /// Wait until this replica has applied this collection version (a write's `index_version`).
        var min_index_version: UInt64?
        /// `false`: neither read nor write the response cache (with Redis configured).
        var cache: Bool?
    }

    /// The answer's shapes, shared with `rag ask --json` (RAGCore's `AnswerWire`).
    typealias Citation = AnswerWire.Citation
    typealias Usage = AnswerWire.Usage
    typealias Timings = AnswerWire.Timings
    typealias Answer = AnswerWire.Answer

    struct Delta: Codable, Sendable {
        var text: String
    }

    struct Passages: Codable, Sendable {
        var passages: [Citation]
    }
}
