import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

/// `POST /v1/chat/completions` and `GET /v1/models`: the OpenAI chat API over the indexed documents, so that any
/// OpenAI client (the official `openai` Python package, LangChain, a chat UI) can talk to the documents.
///
/// The last `user` message is the question; earlier user and assistant messages are the history; `system`
/// messages are ignored (the engine's own prompt keeps answers grounded). The answer's content ends with its
/// sources (`Sources: [1] file.pdf p. 3`), and the response also carries them as `citations`.
extension ServerState {
    struct ChatRequest: Decodable {
        struct Message: Decodable {
            var role: String
            var content: Content?
        }

        /// A message's content: a string, or an array of parts of which the text parts count.
        struct Content: Decodable {
            var text: String
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    self.text = text
                } else {
                    struct Part: Decodable {
                        var type: String
                        var text: String?
                    }
                    let parts = try container.decode([Part].self)
                    text = parts.compactMap { $0.type == "text" ? $0.text : nil }.joined(separator: "\n")
                }
            }
        }

        struct StreamOptions: Decodable {
            var include_usage: Bool?
        }

        var model: String?
        var messages: [Message]
        var stream: Bool?
        var stream_options: StreamOptions?
    }

    func chatCompletions(_ request: Request, context: ServerContext) async throws -> Response {
        let body = try await JSON.decode(ChatRequest.self, from: request, context: context)
        let conversation = body.messages.filter { $0.role == "user" || $0.role == "assistant" }
        guard let last = conversation.last, last.role == "user", let question = last.content?.text, !question.isEmpty else {
            throw APIError(.badRequest, code: "invalid_request", "messages must end with a user message holding the question")
        }
        let history = conversation.dropLast().map { message in
            message.role == "user" ? ChatMessage.user(message.content?.text ?? "") : .assistant(message.content?.text ?? "")
        }
        let id = "chatcmpl-\(context.requestID.replacingOccurrences(of: "-", with: ""))"
        let created = Int(Date().timeIntervalSince1970)
        let model = configuration.servedModelName
        let client = context.clientName

        guard body.stream == true else {
            let answer = try await withRequestTimeout { [self] in
                try await withAnswerSlot { try await engine.ask(question, history: Array(history)) }
            }
            httpMetrics.clientTokens(client, usage: answer.usage)
            let content = answer.text + Self.sourcesFooter(answer.citations)
            return try JSON.response(CompletionDTO(
                id: id, object: "chat.completion", created: created, model: model,
                choices: [.init(index: 0, message: .init(role: "assistant", content: content), finish_reason: "stop")],
                usage: DTO.Usage(answer.usage), citations: answer.citations.map(DTO.Citation.init)))
        }

        let includeUsage = body.stream_options?.include_usage == true
        @Sendable func chunk(_ delta: ChunkDTO.Delta, finish: String? = nil) -> ChunkDTO {
            ChunkDTO(id: id, object: "chat.completion.chunk", created: created, model: model,
                     choices: [.init(index: 0, delta: delta, finish_reason: finish)], usage: nil, citations: nil)
        }
        return streamAnswer(question: question, history: Array(history), client: client, context: context) { sse, event in
            switch event {
            case .passages:
                try sse.send(json: chunk(.init(role: "assistant", content: "")))
            case .delta(let text):
                try sse.send(json: chunk(.init(role: nil, content: text)))
            case .done(let answer):
                var final = chunk(.init(role: nil, content: Self.sourcesFooter(answer.citations)), finish: "stop")
                final.citations = answer.citations.map(DTO.Citation.init)
                try sse.send(json: final)
                if includeUsage {
                    try sse.send(json: ChunkDTO(id: id, object: "chat.completion.chunk", created: created, model: model,
                                                choices: [], usage: DTO.Usage(answer.usage), citations: nil))
                }
                sse.send(data: "[DONE]")
            }
        } onError: { sse, error in
            try? sse.send(json: ["error": ["message": error.message, "type": "server_error", "code": error.code]])
            sse.send(data: "[DONE]")
        }
    }

    /// `GET /v1/models`.
    func models(_ request: Request, context: ServerContext) async throws -> Response {
        try JSON.response(ModelList(data: [.init(id: configuration.servedModelName, object: "model", created: 0, owned_by: "pdf-chatbot")]))
    }

    static func sourcesFooter(_ citations: [Citation]) -> String {
        guard !citations.isEmpty else { return "" }
        return "\n\nSources: " + citations.map { "[\($0.number)] \($0.label)" }.joined(separator: "; ")
    }

    struct CompletionDTO: Encodable {
        struct Choice: Encodable {
            struct Message: Encodable {
                var role: String
                var content: String
            }
            var index: Int
            var message: Message
            var finish_reason: String
        }
        var id: String
        var object: String
        var created: Int
        var model: String
        var choices: [Choice]
        var usage: DTO.Usage
        var citations: [DTO.Citation]
    }

    struct ChunkDTO: Encodable {
        struct Delta: Encodable {
            var role: String?
            var content: String?
        }
        struct Choice: Encodable {
            var index: Int
            var delta: Delta
            var finish_reason: String?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(index, forKey: .index)
                try container.encode(delta, forKey: .delta)
                try container.encode(finish_reason, forKey: .finish_reason)  // null until the last chunk
            }
            enum CodingKeys: String, CodingKey { case index, delta, finish_reason }
        }
        var id: String
        var object: String
        var created: Int
        var model: String
        var choices: [Choice]
        var usage: DTO.Usage?
        var citations: [DTO.Citation]?
    }

    struct ModelList: Encodable {
        struct Model: Encodable {
            var id: String
            var object: String
            var created: Int
            var owned_by: String
        }
        var object = "list"
        var data: [Model]
    }
}
