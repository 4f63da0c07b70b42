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
    func chatCompletions(_ request: Request, context: ServerContext) async throws -> Response {
        let body = try await JSON.decode(OpenAIWire.ChatRequest.self, from: request, context: context)
        let conversation = body.messages.filter { $0.role == "user" || $0.role == "assistant" }
        guard let last = conversation.last, last.role == "user", let question = last.content?.text, !question.isEmpty else {
            throw APIError(.badRequest, code: "invalid_request", "messages must end with a user message holding the question")
        }
        // Everything before the question counts against the history bounds, ignored system messages included.
        let earlier = body.messages[..<(body.messages.lastIndex { $0.role == "user" } ?? body.messages.startIndex)]
        try checkHistory(count: earlier.count, bytes: earlier.reduce(0) { $0 + ($1.content?.text.utf8.count ?? 0) })
        let history = conversation.dropLast().map { message in
            message.role == "user" ? ChatMessage.user(message.content?.text ?? "") : .assistant(message.content?.text ?? "")
        }
        let id = "chatcmpl-\(context.requestID.replacingOccurrences(of: "-", with: ""))"
        let created = Int(Date().timeIntervalSince1970)
        let model = configuration.servedModelName
        let client = context.clientName
        try await waitForIndex(body.min_index_version)
        let lookup = await cachedAnswer(question, history: Array(history), requested: body.cache)

        guard body.stream == true else {
            let answer = try await answer(question, history: Array(history), connection: context.connection, cache: lookup)
            httpMetrics.clientTokens(client, usage: answer.usage)
            let content = answer.text + Self.sourcesFooter(answer.citations)
            return lookup.mark(try JSON.response(OpenAIWire.ChatCompletion(
                id: id, created: created, model: model,
                choices: [.init(index: 0, message: .init(role: "assistant", content: content), finish_reason: "stop")],
                usage: DTO.Usage(answer.usage).openAI, citations: answer.citations.map(DTO.Citation.init))))
        }

        let includeUsage = body.stream_options?.include_usage == true
        @Sendable func chunk(_ delta: OpenAIWire.Delta, finish: String? = nil) -> OpenAIWire.ChatCompletionChunk {
            OpenAIWire.ChatCompletionChunk(
                id: id, created: created, model: model, choices: [.init(index: 0, delta: delta, finish_reason: finish)])
        }
        return try streamAnswer(question: question, history: Array(history), client: client, context: context, cache: lookup) { sse, event in
            switch event {
            case .passages:
                try sse.send(json: chunk(.init(role: "assistant", content: "")))
            case .delta(let text):
                try sse.send(json: chunk(.init(content: text)))
            case .done(let answer):
                var final = chunk(.init(content: Self.sourcesFooter(answer.citations)), finish: "stop")
                final.citations = answer.citations.map(DTO.Citation.init)
                try sse.send(json: final)
                if includeUsage {
                    try sse.send(json: OpenAIWire.ChatCompletionChunk(
                        id: id, created: created, model: model, choices: [], usage: DTO.Usage(answer.usage).openAI))
                }
                sse.send(data: "[DONE]")
            }
        } onError: { sse, error in
            try? sse.send(json: OpenAIWire.ErrorResponse(error: .init(message: error.message, type: "server_error", code: error.code)))
            sse.send(data: "[DONE]")
        }
    }

    /// `GET /v1/models`.
    func models(_ request: Request, context: ServerContext) async throws -> Response {
        try JSON.response(OpenAIWire.ModelList(data: [.init(id: configuration.servedModelName, created: 0, owned_by: "pdf-chatbot")]))
    }

    static func sourcesFooter(_ citations: [Citation]) -> String {
        guard !citations.isEmpty else { return "" }
        return "\n\nSources: " + citations.map { "[\($0.number)] \($0.label)" }.joined(separator: "; ")
    }
}
