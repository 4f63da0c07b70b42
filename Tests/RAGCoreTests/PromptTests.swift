import RAGCore
import Testing

@Suite struct PromptTests {
    static func hit(_ text: String, file: String = "guide.pdf", page: Int, rank: Int, score: Float = 0.5) -> SearchHit {
        SearchHit(
            chunk: Chunk(id: ChunkID(rawValue: "c\(rank)"), documentID: DocumentID(rawValue: "d"), fileName: file, pageStart: page, pageEnd: page, ordinal: rank, text: text),
            score: score, rank: rank)
    }

    @Test func assembledPromptMatchesGolden() throws {
        let hits = [
            Self.hit("Hold the reset button for ten seconds to restore factory settings.", page: 12, rank: 1),
            Self.hit("The default password is printed on the label under the router.", file: "router.pdf", page: 3, rank: 2),
        ]
        let prompt = try PromptBuilder().build(
            question: "How do I reset it?", hits: hits,
            history: [.user("What is the default password?"), .assistant("It is on the label [1].")])
        #expect(prompt.passages.map(\.number) == [1, 2])
        #expect(prompt.droppedPassages == 0)
        let rendered = prompt.messages.map { "--- \($0.role.rawValue)\n\($0.content)" }.joined(separator: "\n") + "\n"
        try expectGolden(rendered, "prompt.txt")
    }

    @Test func budgetDropsLowestRankedPassagesFirst() throws {
        let long = String(repeating: "word ", count: 200)  // ~250 tokens each
        let hits = (1...6).map { Self.hit("\($0) " + long, page: $0, rank: $0) }
        let prompt = try PromptBuilder(options: PromptOptions(maxPromptTokens: 900)).build(question: "q?", hits: hits)
        #expect(prompt.passages.map(\.hit.rank) == [1, 2, 3])
        #expect(prompt.droppedPassages == 3)
        #expect(prompt.estimatedTokens <= 900)
    }

    @Test func historyIsLimitedAndTrimmedBeforeFailing() throws {
        let history = (1...10).map { ChatMessage.user("message \($0)") }
        let prompt = try PromptBuilder(options: PromptOptions(maxHistoryMessages: 2)).build(question: "q", hits: [], history: history)
        #expect(prompt.messages.map(\.content).contains("message 10"))
        #expect(!prompt.messages.map(\.content).contains("message 8"))
        #expect(prompt.messages.count == 4)
        let tooLong = String(repeating: "x", count: 20_000)
        let error = #expect(throws: PromptError.self) {
            try PromptBuilder(options: PromptOptions(maxPromptTokens: 1000)).build(question: tooLong, hits: [])
        }
        #expect(error?.description.contains("maxPromptTokens") == true)
    }

    @Test func historyIsBoundedByTokensOldestFirstAndAnOversizedNewestMessageIsCut() {
        let builder = PromptBuilder(options: PromptOptions(maxHistoryMessages: 6, maxHistoryTokens: 100))
        let small = (1...10).map { ChatMessage.user("message \($0) " + String(repeating: "y", count: 100)) }  // 4 + 28 estimated tokens each
        let recent = builder.recentHistory(small)
        #expect(recent.map(\.content) == small.suffix(3).map(\.content))  // 3 × 33 <= 100 < 4 × 33

        // The newest message alone is over the budget: its beginning is kept, marked, and nothing older.
        let huge = [ChatMessage.user("old"), .assistant("née " + String(repeating: "é", count: 1_000_000))]
        let cut = builder.recentHistory(huge)
        #expect(cut.count == 1 && cut[0].role == .assistant)
        #expect(cut[0].content.hasPrefix("née é") && cut[0].content.hasSuffix(PromptBuilder.cutMarker))
        #expect(4 + TokenEstimator.estimate(cut[0].content) <= 100)
        #expect(cut[0].content.unicodeScalars.allSatisfy { $0 != "\u{FFFD}" })  // cut between characters

        // A budget with no room for even a cut message gives no history; so do zero or negative bounds.
        #expect(builder.recentHistory(huge, budget: 5).isEmpty)
        #expect(PromptBuilder(options: PromptOptions(maxHistoryMessages: -1)).recentHistory(small).isEmpty)
        #expect(PromptBuilder(options: PromptOptions(maxHistoryTokens: 0)).recentHistory(small).isEmpty)

        // The answer prompt applies the same bounds.
        let prompt = try? builder.build(question: "q", hits: [], history: huge)
        #expect(prompt?.messages.count == 3)
    }

    @Test func promptAsksForCitationsAndHonesty() {
        #expect(PromptBuilder.defaultSystemPrompt.contains("[1]"))
        #expect(PromptBuilder.defaultSystemPrompt.contains("do not know"))
    }
}

@Suite struct ExtractiveAnswererTests {
    @Test func quotesTheMatchingSentenceWithItsCitation() async throws {
        let passages = [
            ContextPassage(number: 1, hit: PromptTests.hit("Bananas are yellow. The capital of France is Paris. Cats sleep a lot.", page: 4, rank: 1)),
            ContextPassage(number: 2, hit: PromptTests.hit("Paris hosts the Louvre museum.", page: 9, rank: 2)),
        ]
        let answerer = ExtractiveAnswerer()
        let completion = try await answerer.complete(CompletionRequest(messages: [.user("x")], question: "What is the capital of France?", passages: passages))
        #expect(completion.text.contains("\"The capital of France is Paris.\" [1]"))
        #expect(!completion.text.contains("Bananas"))
        #expect(completion.text.contains("No language model is configured"))
        #expect(completion.usage.isEstimated)
        #expect(completion.model == "extractive")
        #expect(!answerer.isGenerative)
    }

    /// The answerer reads words as the BM25 index does (stemmed): "configuring" finds "Configuration".
    @Test func matchesWordsByTheirStemLikeTheLexicalIndex() async throws {
        let passages = [
            ContextPassage(number: 1, hit: PromptTests.hit("Configuration happens in the settings menu. Paper goes in the tray.", page: 2, rank: 1)),
        ]
        let request = CompletionRequest(messages: [], question: "Tell me about configuring.", passages: passages)
        let text = try await ExtractiveAnswerer().complete(request).text
        #expect(text.contains("\"Configuration happens in the settings menu.\" [1]"), "\(text)")
        #expect(!text.contains("Paper"))
    }

    @Test func saysSoWhenNothingMatchesAndStreamsTheSameText() async throws {
        let passages = [ContextPassage(number: 1, hit: PromptTests.hit("Bananas are yellow.", page: 1, rank: 1))]
        let request = CompletionRequest(messages: [], question: "Who wrote Hamlet?", passages: passages)
        let whole = try await ExtractiveAnswerer().complete(request).text
        #expect(whole.hasPrefix("The documents do not seem to answer this question."))
        var streamed = ""
        var deltas = 0
        for try await event in ExtractiveAnswerer().stream(request) {
            if case .delta(let text) = event { streamed += text; deltas += 1 }
        }
        #expect(streamed == whole)
        #expect(deltas > 5)
    }
}

/// `Citation.quote`: the sentence of a cited passage that supports the answer.
@Suite struct CitationQuoteTests {
    static func citation(_ text: String) -> Citation {
        let chunk = Chunk(
            id: ChunkID(rawValue: "c"), documentID: DocumentID(rawValue: "d"), fileName: "m.pdf", pageStart: 4, pageEnd: 4,
            ordinal: 0, text: text)
        return Citation(passage: ContextPassage(number: 1, hit: SearchHit(chunk: chunk, score: 0.5, rank: 0)))
    }

    @Test func theSentenceThatSupportsAParaphrasedAnswerIsQuoted() {
        let citation = Self.citation(
            "Chapter 3.\n\nThe warranty lasts two years from the date of purchase. Batteries are covered for six months. Keep the receipt.")
        #expect(citation.quote(question: "How long are batteries covered?", answer: "Batteries have six months of cover [1].")
            == "Batteries are covered for six months.")
        #expect(citation.quote(question: "What is the warranty period?", answer: "It is two years from purchase [1].")
            == "The warranty lasts two years from the date of purchase.")
    }

    @Test func withoutSharedWordsTheQuestionDecidesThenTheFirstSentence() {
        let citation = Self.citation("Alpha beta gamma. Delta epsilon zeta.")
        #expect(citation.quote(question: "What about epsilon?", answer: "I cannot say [1].") == "Delta epsilon zeta.")
        #expect(citation.quote(question: "Nothing shared?", answer: "No [1].") == "Alpha beta gamma.")
    }

    @Test func aLongSentenceIsCutAndWhitespaceFolded() {
        let long = Array(repeating: "word", count: 200).joined(separator: "  \n ")
        let quote = Self.citation(long).quote(question: "word", answer: "word")
        #expect(quote.count == Citation.maxQuoteLength + 1 && quote.hasSuffix("…") && !quote.contains("\n"))
    }
}
