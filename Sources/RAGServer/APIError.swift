import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

/// An error as the API returns it: a status and `{"error": {"code": ..., "message": ...}}`. Every error the
/// server renders is mapped to a status here, in one place, and never carries a stack trace.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var headers: HTTPFields
    /// What the server log gets besides the code and message of a 5xx, never the response: the full error, with the
    /// paths that the message leaves out.
    public var logDetail: String?

    public init(
        _ status: HTTPResponse.Status, code: String, _ message: String, headers: HTTPFields = [:], logDetail: String? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.logDetail = logDetail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonBody)))
    }

    /// The JSON body, `{"error":{"code":…,"message":…}}`, written by the server's one encoder.
    public var jsonBody: Data {
        struct Body: Encodable {
            struct Detail: Encodable {
                var code: String
                var message: String
            }
            var error: Detail
        }
        // Two strings cannot fail to encode.
        return (try? JSON.encoder.encode(Body(error: .init(code: code, message: message)))) ?? Data()
    }

    /// The API error for anything a route may throw. A message never holds a server path: a `CollectionError` gives its
    /// message (which names no file) and keeps its path for ``logDetail``.
    public static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as DocumentError:
            let status: HTTPResponse.Status = error.code == .tooLarge ? .contentTooLarge : .unprocessableContent
            var message = error.description
            if let setting = setting(raising: error.code) { message += "; this server's limit is set by \(setting)" }
            return APIError(status, code: error.code.metricLabel, message)
        case let error as EngineError:
            switch error.code {
            case .invalidQuestion: return APIError(.badRequest, code: "invalid_question", error.message)
            case .emptyCollection: return APIError(.conflict, code: "empty_collection", "no documents are indexed yet: upload a PDF first")
            case .readOnly: return APIError(.forbidden, code: "read_only", readOnlyMessage)
            case .documentNotFound: return APIError(.notFound, code: "document_not_found", error.message)
            case .collectionQuotaExceeded:
                return APIError(
                    .insufficientStorage, code: "collection_quota_exceeded",
                    error.message + "; this server's limit is set by RAG_MAX_COLLECTION_CHUNKS (--max-collection-chunks)")
            case .unknownIndexVersion: return APIError(.conflict, code: "unknown_index_version", error.message)
            case .indexBehind: return APIError(.serviceUnavailable, code: "index_behind", error.message, headers: [.retryAfter: "1"])
            case .pageNotFound: return APIError(.notFound, code: "page_not_found", error.message)
            case .noPageImage: return APIError(.conflict, code: "no_page_image", error.message)
            case .sourceNotKept: return APIError(.conflict, code: "source_not_kept", error.message)
            case .invalidPageRequest:
                return APIError(
                    .badRequest, code: "invalid_page_request",
                    error.message + "; this server's limits are set by RAG_PAGE_IMAGE_MIN_WIDTH, RAG_PAGE_IMAGE_MAX_WIDTH, RAG_PAGE_IMAGE_MAX_PIXELS and RAG_PAGE_IMAGE_TIMEOUT")
            case .renderBusy:
                return APIError(
                    .serviceUnavailable, code: "render_busy",
                    error.message + "; this server's limits are set by RAG_MAX_CONCURRENT_RENDERS and RAG_RENDER_QUEUE",
                    headers: [.retryAfter: "1"])
            default: return APIError(.badRequest, code: error.code.description, error.message)
            }
        case let error as PromptError:
            return APIError(.badRequest, code: "prompt_too_long", error.description)
        case let error as LLMError:
            switch error.code {
            case .rateLimited:
                var headers: HTTPFields = [:]
                if let wait = error.retryAfter { headers[.retryAfter] = String(Int(ceil(Double(wait.components.seconds) + 0.5))) }
                return APIError(.serviceUnavailable, code: "llm_rate_limited", error.message, headers: headers)
            case .timeout: return APIError(.gatewayTimeout, code: "llm_timeout", error.message)
            case .contextLengthExceeded: return APIError(.badRequest, code: "context_length_exceeded", error.message)
            case .cancelled: return APIError(.clientClosedRequest, code: "cancelled", error.message)
            default: return APIError(.badGateway, code: "llm_\(error.code.description)", error.message)
            }
        case let error as CollectionError:
            // The message, never the description: that adds the collection's path, which goes to the log only.
            if error.code == .unavailable {
                return APIError(
                    .serviceUnavailable, code: "database_unavailable",
                    error.message + "; searches and questions are still answered", headers: [.retryAfter: "5"],
                    logDetail: error.description)
            }
            let code = error.code == .io ? "storage_error" : "collection_\(error.code.description)"
            return APIError(.internalServerError, code: code, error.message, logDetail: error.description)
        case let error as HTTPError:
            let message = error.body ?? error.status.reasonPhrase
            let code = error.status == .contentTooLarge ? "too_large" : "http_\(error.status.code)"
            return APIError(error.status, code: code, message, headers: error.headers)
        case let error as MultipartError:
            switch error.code {
            case .tooManyParts:
                return APIError(.contentTooLarge, code: "too_many_parts", "\(error.message); the limit is set by --max-form-parts (RAG_MAX_FORM_PARTS)")
            case .headerTooLarge:
                return APIError(
                    .contentTooLarge, code: "part_header_too_large",
                    "\(error.message); the limit is set by --max-part-header-bytes (RAG_MAX_PART_HEADER_BYTES)")
            default:
                return APIError(.badRequest, code: "invalid_multipart", "the multipart body could not be read: \(error.message)")
            }
        case is NIOTooManyBytesError:
            return bodyTooLarge
        case is CancellationError:
            return APIError(.init(code: 499, reasonPhrase: "Client Closed Request"), code: "cancelled", "the request was cancelled")
        default:
            return APIError(.internalServerError, code: "internal", "the server failed to handle the request", logDetail: "\(error)")
        }
    }

    /// The server setting (variable and flag) that raises the limit behind a refused document, if it has one.
    static func setting(raising code: DocumentError.Code) -> String? {
        switch code {
        case .tooManyPages: "RAG_MAX_PAGES (--max-pages)"
        case .tooMuchText: "RAG_MAX_CHARACTERS (--max-characters)"
        case .tooMuchTextForSize:
            "RAG_MAX_CHARACTERS_PER_BYTE (--max-characters-per-byte) and RAG_MIN_CHARACTER_ALLOWANCE (--min-character-allowance)"
        default: nil
        }
    }

    /// What a request whose client left gets (in the logs and metrics only: nobody reads it).
    static let clientClosedRequest = APIError(.clientClosedRequest, code: "client_closed_request", "the client closed the connection before the answer")

    /// What a body over the upload limit gets.
    static let bodyTooLarge = APIError(.contentTooLarge, code: "too_large", "the request body is larger than the limit (RAG_MAX_UPLOAD_BYTES)")

    /// What a read-only deployment answers to uploads and deletes.
    public static let readOnlyMessage = "this deployment serves a read-only collection: documents are added by the ingestion job (rag ingest, run as a Kubernetes Job or CronJob), not through the API"
}

extension HTTPResponse.Status {
    /// 507: the collection has no room for the document (its chunk quota is reached).
    static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
    /// 499 (nginx's code): the client closed the connection first; the work for it was stopped.
    static let clientClosedRequest = HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request")
}
