import Foundation

/// The OpenAI chat and embeddings JSON, defined once: `OpenAIClient` and `OpenAIEmbedder` write requests and read
/// responses with these types, `rag-server`'s compatible `/v1/chat/completions` reads requests and writes responses
/// with them, and `RAGTesting.FakeOpenAIServer` answers with them. Field names are the wire's (snake_case).
///
/// Decoding is lenient where real servers differ (a message's content as a string or as parts, an error's `code` as
/// a string or a number, missing optional fields); encoding leaves out absent optional fields, except where the
/// protocol writes `null` (a chunk's `finish_reason`).
package enum OpenAIWire {
    /// The encoder for every body these types write: sorted keys (stable bytes for tests and logs), `/` unescaped.
    package static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The types hold only strings, numbers, booleans and arrays of them; a non-finite number is the one thing
        // that can fail, and every number here comes from a count, a setting validated at start, or the model.
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    /// Decodes a body, or `nil` when it is not this shape.
    package static func decode<T: Decodable>(_ type: T.Type, from data: Data) -> T? {
        try? JSONDecoder().decode(type, from: data)
    }

    // MARK: Chat

    /// A message of a chat request.
    package struct Message: Codable, Sendable, Hashable {
        package var role: String
        package var content: Content?

        package init(role: String, content: String?) {
            self.role = role
            self.content = content.map(Content.init(text:))
        }
    }

    /// A message's content: written as a string; read from a string or from an array of parts, whose text parts
    /// are joined with new lines (other parts, such as images, are left out).
    package struct Content: Codable, Sendable, Hashable {
        package var text: String

        package init(text: String) { self.text = text }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self.text = text
                return
            }
            struct Part: Decodable {
                var type: String
                var text: String?
            }
            text = try container.decode([Part].self).compactMap { $0.type == "text" ? $0.text : nil }.joined(separator: "\n")
        }

        package func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(text)
        }
    }

    /// `stream_options` of a streamed chat request.
    package struct StreamOptions: Codable, Sendable, Hashable {
        package var include_usage: Bool?
        package init(include_usage: Bool?) { self.include_usage = include_usage }
    }

    /// The body of `POST /chat/completions`.
    package struct ChatRequest: Codable, Sendable, Hashable {
        package var model: String?
        package var messages: [Message]
        package var stream: Bool?
        package var stream_options: StreamOptions?
        package var temperature: Double?
        package var max_tokens: Int?
        /// pdf-chatbot's extension: wait until the serving replica has applied this collection version.
        package var min_index_version: UInt64?
        /// pdf-chatbot's extension: `false` neither reads nor writes the response cache.
        package var cache: Bool?

        package init(
            model: String?, messages: [Message], stream: Bool? = nil, stream_options: StreamOptions? = nil,
            temperature: Double? = nil, max_tokens: Int? = nil
        ) {
            self.model = model
            self.messages = messages
            self.stream = stream
            self.stream_options = stream_options
            self.temperature = temperature
            self.max_tokens = max_tokens
        }
    }

    /// Token counts of a response. `estimated` is pdf-chatbot's own field (true when counted by estimate); OpenAI
    /// leaves it out.
    package struct Usage: Codable, Sendable, Hashable {
        package var prompt_tokens: Int
        package var completion_tokens: Int?
        package var total_tokens: Int?
        package var estimated: Bool?

        package init(prompt_tokens: Int, completion_tokens: Int?, total_tokens: Int?, estimated: Bool? = nil) {
            self.prompt_tokens = prompt_tokens
            self.completion_tokens = completion_tokens
            self.total_tokens = total_tokens
            self.estimated = estimated
        }
    }

    /// The assistant's message in a whole (not streamed) completion.
    package struct ResponseMessage: Codable, Sendable, Hashable {
        package var role: String
        package var content: String?
        package init(role: String, content: String?) {
            self.role = role
            self.content = content
        }
    }

    /// One choice of a whole completion.
    package struct Choice: Codable, Sendable, Hashable {
        package var index: Int
        package var message: ResponseMessage
        package var finish_reason: String?
        package init(index: Int, message: ResponseMessage, finish_reason: String?) {
            self.index = index
            self.message = message
            self.finish_reason = finish_reason
        }

        enum CodingKeys: String, CodingKey { case index, message, finish_reason }

        /// Lenient: a missing `index` is 0.
        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            index = try container.decodeIfPresent(Int.self, forKey: .index) ?? 0
            message = try container.decode(ResponseMessage.self, forKey: .message)
            finish_reason = try container.decodeIfPresent(String.self, forKey: .finish_reason)
        }
    }

    /// A whole chat completion (`"object": "chat.completion"`). `citations` is pdf-chatbot's own field: the
    /// answer's sources, which `rag-server` adds and OpenAI's clients ignore.
    package struct ChatCompletion: Codable, Sendable, Hashable {
        package var id: String
        package var object: String
        package var created: Int
        package var model: String?
        package var choices: [Choice]
        package var usage: Usage?
        package var citations: [AnswerWire.Citation]?

        package init(
            id: String, created: Int, model: String?, choices: [Choice], usage: Usage?,
            citations: [AnswerWire.Citation]? = nil
        ) {
            self.id = id
            self.object = "chat.completion"
            self.created = created
            self.model = model
            self.choices = choices
            self.usage = usage
            self.citations = citations
        }

        enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage, citations }

        /// Lenient about the metadata (`id`, `object`, `created`, `model`), which servers fill in differently.
        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = (try? container.decodeIfPresent(String.self, forKey: .id)) ?? ""
            object = (try? container.decodeIfPresent(String.self, forKey: .object)) ?? "chat.completion"
            created = (try? container.decodeIfPresent(Int.self, forKey: .created)) ?? 0
            model = try? container.decodeIfPresent(String.self, forKey: .model)
            choices = try container.decode([Choice].self, forKey: .choices)
            usage = try? container.decodeIfPresent(Usage.self, forKey: .usage)
            citations = try? container.decodeIfPresent([AnswerWire.Citation].self, forKey: .citations)
        }
    }

    /// The delta of a streamed chunk.
    package struct Delta: Codable, Sendable, Hashable {
        package var role: String?
        package var content: String?
        package init(role: String? = nil, content: String? = nil) {
            self.role = role
            self.content = content
        }
    }

    /// One choice of a streamed chunk; `finish_reason` is written as `null` until the last chunk.
    package struct ChunkChoice: Codable, Sendable, Hashable {
        package var index: Int
        package var delta: Delta
        package var finish_reason: String?

        package init(index: Int, delta: Delta, finish_reason: String?) {
            self.index = index
            self.delta = delta
            self.finish_reason = finish_reason
        }

        enum CodingKeys: String, CodingKey { case index, delta, finish_reason }

        /// Lenient: a missing `index` is 0, a missing `delta` is empty (some servers' last chunk has neither).
        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            index = try container.decodeIfPresent(Int.self, forKey: .index) ?? 0
            delta = try container.decodeIfPresent(Delta.self, forKey: .delta) ?? Delta()
            finish_reason = try container.decodeIfPresent(String.self, forKey: .finish_reason)
        }

        package func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(delta, forKey: .delta)
            try container.encode(finish_reason, forKey: .finish_reason)
        }
    }

    /// One event of a streamed completion (`"object": "chat.completion.chunk"`); a last chunk with no choices
    /// carries the usage when the request asked for it.
    package struct ChatCompletionChunk: Codable, Sendable, Hashable {
        package var id: String?
        package var object: String?
        package var created: Int?
        package var model: String?
        package var choices: [ChunkChoice]?
        package var usage: Usage?
        package var citations: [AnswerWire.Citation]?
        /// An error reported inside the stream (some servers send one instead of closing with an HTTP status).
        package var error: ErrorBody?

        package init(
            id: String, created: Int, model: String?, choices: [ChunkChoice], usage: Usage? = nil,
            citations: [AnswerWire.Citation]? = nil
        ) {
            self.id = id
            self.object = "chat.completion.chunk"
            self.created = created
            self.model = model
            self.choices = choices
            self.usage = usage
            self.citations = citations
        }

        enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage, citations, error }

        /// Lenient about the metadata (`id`, `object`, `created`, `model`), which servers fill in differently.
        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try? container.decodeIfPresent(String.self, forKey: .id)
            object = try? container.decodeIfPresent(String.self, forKey: .object)
            created = try? container.decodeIfPresent(Int.self, forKey: .created)
            model = try? container.decodeIfPresent(String.self, forKey: .model)
            choices = try container.decodeIfPresent([ChunkChoice].self, forKey: .choices)
            usage = try? container.decodeIfPresent(Usage.self, forKey: .usage)
            citations = try? container.decodeIfPresent([AnswerWire.Citation].self, forKey: .citations)
            error = try container.decodeIfPresent(ErrorBody.self, forKey: .error)
        }
    }

    // MARK: Embeddings

    /// The body of `POST /embeddings`.
    package struct EmbeddingsRequest: Codable, Sendable, Hashable {
        package var model: String
        package var input: [String]
        package var encoding_format: String?
        package var dimensions: Int?

        package init(model: String, input: [String], encoding_format: String? = "float", dimensions: Int? = nil) {
            self.model = model
            self.input = input
            self.encoding_format = encoding_format
            self.dimensions = dimensions
        }
    }

    /// One vector of an embeddings response.
    package struct Embedding: Codable, Sendable, Hashable {
        package var object: String?
        package var index: Int?
        package var embedding: [Float]
        package init(index: Int, embedding: [Float]) {
            self.object = "embedding"
            self.index = index
            self.embedding = embedding
        }
    }

    /// The response of `POST /embeddings`.
    package struct EmbeddingsResponse: Codable, Sendable, Hashable {
        package var object: String?
        package var data: [Embedding]
        package var model: String?
        package var usage: Usage?
        package init(data: [Embedding], model: String?, usage: Usage?) {
            self.object = "list"
            self.data = data
            self.model = model
            self.usage = usage
        }
    }

    // MARK: Errors and models

    /// `{"error": {...}}`, OpenAI's error body. Some servers send `{"error": "text"}`: then only `message` is set.
    package struct ErrorResponse: Codable, Sendable, Hashable {
        package var error: ErrorBody

        package init(error: ErrorBody) { self.error = error }

        enum CodingKeys: String, CodingKey { case error }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let text = try? container.decode(String.self, forKey: .error) {
                error = ErrorBody(message: text, type: nil, code: nil)
            } else {
                error = try container.decode(ErrorBody.self, forKey: .error)
            }
        }
    }

    /// The object inside an error body. `param` and `code` are written as `null` when absent, as OpenAI does; a
    /// numeric `code` (some servers) is read as its decimal text.
    package struct ErrorBody: Codable, Sendable, Hashable {
        package var message: String?
        package var type: String?
        package var param: String?
        package var code: String?

        package init(message: String?, type: String?, param: String? = nil, code: String?) {
            self.message = message
            self.type = type
            self.param = param
            self.code = code
        }

        enum CodingKeys: String, CodingKey { case message, type, param, code }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            message = try? container.decodeIfPresent(String.self, forKey: .message)
            type = try? container.decodeIfPresent(String.self, forKey: .type)
            param = try? container.decodeIfPresent(String.self, forKey: .param)
            if let text = try? container.decodeIfPresent(String.self, forKey: .code) {
                code = text
            } else if let number = try? container.decodeIfPresent(Int.self, forKey: .code) {
                code = String(number)
            } else {
                code = nil
            }
        }

        package func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(message, forKey: .message)
            try container.encode(type, forKey: .type)
            try container.encode(param, forKey: .param)
            try container.encode(code, forKey: .code)
        }
    }

    /// `GET /models`.
    package struct ModelList: Codable, Sendable, Hashable {
        package struct Model: Codable, Sendable, Hashable {
            package var id: String
            package var object: String
            package var created: Int
            package var owned_by: String
            package init(id: String, created: Int, owned_by: String) {
                self.id = id
                self.object = "model"
                self.created = created
                self.owned_by = owned_by
            }
        }
        package var object: String
        package var data: [Model]
        package init(data: [Model]) {
            self.object = "list"
            self.data = data
        }
    }
}
