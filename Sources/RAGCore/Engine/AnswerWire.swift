import Foundation

/// The answer's JSON, defined once (snake_case keys, documented in docs/api.md and docs/openapi.yaml): the server's
/// `/v1/ask` body and streamed events, the citations of its OpenAI-compatible responses, and `rag ask --json` all
/// write these types. `rag-server` writes `Answer` and `Citation` with a hand-written writer for speed, which a
/// test holds to byte equality with `JSONEncoder` over these same types.
package enum AnswerWire {
    /// A source of an answer.
    package struct Citation: Codable, Sendable, Hashable {
        package var number: Int
        package var file: String
        package var page: Int
        package var page_end: Int
        package var snippet: String
        package var score: Float
        package var document_id: String
        /// The passage's position in its document: with `document_id`, what the page image's `chunk` names.
        package var chunk_index: Int

        package init(_ citation: RAGCore.Citation) {
            chunk_index = citation.chunkIndex
            number = citation.number
            file = citation.fileName
            page = citation.page
            page_end = citation.pageEnd
            snippet = citation.snippet
            score = citation.score
            document_id = citation.documentID.rawValue
        }
    }

    /// Token counts; `estimated` is true when they were estimated rather than reported by the model.
    package struct Usage: Codable, Sendable, Hashable {
        package var prompt_tokens: Int
        package var completion_tokens: Int
        package var total_tokens: Int
        package var estimated: Bool

        package init(_ usage: TokenUsage) {
            prompt_tokens = usage.promptTokens
            completion_tokens = usage.completionTokens
            total_tokens = usage.totalTokens
            estimated = usage.isEstimated
        }

        /// The same counts in the OpenAI wire's usage object (which carries `estimated` as an extension).
        package var openAI: OpenAIWire.Usage {
            OpenAIWire.Usage(
                prompt_tokens: prompt_tokens, completion_tokens: completion_tokens, total_tokens: total_tokens,
                estimated: estimated)
        }
    }

    /// Where the time went, in seconds.
    package struct Timings: Codable, Sendable, Hashable {
        package var retrieval_s: Double
        package var generation_s: Double
        package var total_s: Double
        package var first_token_s: Double?

        package init(_ timings: RAGCore.Timings) {
            retrieval_s = timings.retrieval
            generation_s = timings.generation
            total_s = timings.total
            first_token_s = timings.firstToken
        }
    }

    /// A finished answer.
    package struct Answer: Codable, Sendable, Hashable {
        package var question: String
        package var search_query: String
        /// Everything searched: `search_query`, then query rewriting's reformulations and hypothetical passage.
        package var search_queries: [String]
        package var answer: String
        package var citations: [Citation]
        package var passages: [Citation]
        package var usage: Usage
        package var model: String
        package var generated: Bool
        /// False when no passage was relevant enough: the answer then says the documents do not answer.
        package var answered: Bool
        package var timings: Timings

        package init(_ answer: RAGCore.Answer) {
            question = answer.question
            search_query = answer.searchQuery
            search_queries = answer.searchQueries
            self.answer = answer.text
            citations = answer.citations.map(Citation.init)
            passages = answer.passages.map(Citation.init)
            usage = Usage(answer.usage)
            model = answer.model
            answered = answer.isAnswered
            generated = answer.isGenerated
            timings = Timings(answer.timings)
        }
    }
}
