import Foundation
import RAGCore
import RAGTesting
import Testing

@Suite struct EvaluationTests {
    @Test func readsQuestionsSkippingCommentsAndKnowsTheUnanswerable() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("q.jsonl")
        try """
            # a comment
            {"question": "Where?", "file": "a.pdf", "pages": [2, 3], "paraphrased": true}

            {"question": "Off topic?"}
            """.write(to: file, atomically: true, encoding: .utf8)
        let questions = try EvaluationQuestion.load(contentsOf: file)
        #expect(questions == [
            EvaluationQuestion(question: "Where?", file: "a.pdf", pages: [2, 3], paraphrased: true),
            EvaluationQuestion(question: "Off topic?", file: nil, pages: []),
        ])
        #expect(questions.map(\.isAnswerable) == [true, false])
        let chunk = Chunk(id: ChunkID(rawValue: "c"), documentID: DocumentID(rawValue: "d"), fileName: "a.pdf", pageStart: 3, pageEnd: 4, ordinal: 0, text: "")
        #expect(questions[0].isRelevant(chunk))
        var other = chunk
        other.pageStart = 4
        #expect(!questions[0].isRelevant(other))
        other.fileName = "b.pdf"
        other.pageStart = 3
        #expect(!questions[0].isRelevant(other))
    }

    @Test(arguments: [
        ("{\"file\": \"a.pdf\", \"pages\": [1]}", "q.jsonl:2: not a question object", "missing \"question\""),
        ("{\"question\": \"x\", \"pages\": \"1\"}", "q.jsonl:2: not a question object", "wrong type at \"pages\""),
        ("not json", "q.jsonl:2: not a question object", "invalid JSON"),
        ("{\"question\": \"x\", \"file\": \"a.pdf\", \"pages\": [0]}", "q.jsonl:2: pages are 1-based", ""),
        ("{\"question\": \"  \"}", "q.jsonl:2: the question is empty", ""),
    ])
    func namesTheFileAndLineOfABadLine(line: String, message: String, detail: String) throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("q.jsonl")
        try "{\"question\": \"fine\"}\n\(line)\n".write(to: file, atomically: true, encoding: .utf8)
        let error = #expect(throws: EvaluationError.self) { try EvaluationQuestion.load(contentsOf: file) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
        #expect(detail.isEmpty || error?.description.contains(detail) == true, "\(error?.description ?? "")")
    }

    @Test func recallAndReciprocalRank() {
        let scores = RetrievalScores(firstRelevantRanks: [1, 3, nil, 12, 5])
        #expect(scores.questions == 5)
        #expect(scores.recallAt1 == 0.2 && scores.recallAt5 == 0.6 && scores.recallAt10 == 0.6)
        #expect(abs(scores.mrrAt10 - (1 + 1.0 / 3 + 1.0 / 5) / 5) < 1e-12)
    }

    @Test func thresholdAnswersEveryAnswerableQuestionAndCountsTheRefused() {
        let analysis = ThresholdAnalysis(answerable: [0.5, 0.347, 0.6, 0.41], unanswerable: [0.2, 0.36, 0.1])
        #expect(analysis.threshold() == 0.34)
        #expect(analysis.kept(at: 0.34) == 1 && analysis.refused(at: 0.34) == 2.0 / 3)
        #expect(analysis.threshold(keeping: 0.75) == 0.41)
        #expect(analysis.kept(at: 0.45) == 0.5)
        #expect(analysis.answerableMedian == (0.41 + 0.5) / 2 && analysis.unanswerableMedian == 0.2)
    }

    /// `rag eval` end to end on two small PDFs, with the fast retrievers.
    @Test func evalCommandComparesRetrieversAndReusesItsCollections() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let documents = directory.appendingPathComponent("pdfs")
        try FileManager.default.createDirectory(at: documents, withIntermediateDirectories: true)
        try TestPDF.make(pages: [
            "Printers are added with the lpadmin command and removed with lpadmin -x.",
            "Paper trays: the default tray is chosen in the printer options dialog.",
            "Toner cartridges should be replaced when the warning light blinks orange.",
        ]).write(to: documents.appendingPathComponent("printer.pdf"))
        try TestPDF.make(pages: [
            "Employees receive 25 days of paid vacation per year.",
            "Expense receipts must be submitted within 30 days.",
        ]).write(to: documents.appendingPathComponent("handbook.pdf"))
        let questions = directory.appendingPathComponent("q.jsonl")
        try """
            {"question": "Which command adds printers?", "file": "printer.pdf", "pages": [1], "paraphrased": false}
            {"question": "When should toner cartridges be replaced?", "file": "printer.pdf", "pages": [3], "paraphrased": false}
            {"question": "How many vacation days do employees receive?", "file": "handbook.pdf", "pages": [1], "paraphrased": false}
            {"question": "How long do I have to hand in receipts?", "file": "handbook.pdf", "pages": [2], "paraphrased": true}
            {"question": "What is the capital of Peru?"}
            """.write(to: questions, atomically: true, encoding: .utf8)
        let work = directory.appendingPathComponent("work")
        let arguments = [
            "eval", questions.path, "--documents", documents.path, "--work-dir", work.path, "--retrievers", "hashed,bm25,hybrid-hashed",
        ]
        let first = try await RAGProcess.run(arguments + ["--json"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("ingested 2"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        #expect(object["questions"] as? Int == 4 && object["paraphrased"] as? Int == 1 && object["unanswerable"] as? Int == 1)
        let retrievers = try #require(object["retrievers"] as? [[String: Any]])
        #expect(retrievers.map { $0["name"] as? String } == ["hashed", "bm25", "hybrid-hashed"])
        let bm25 = try #require(retrievers[1]["literal"] as? [String: Any])
        #expect(bm25["recall@1"] as? Double == 1 && bm25["questions"] as? Int == 3)
        #expect(retrievers[1]["threshold"] == nil)  // BM25 scores are not similarities
        let threshold = try #require(retrievers[0]["threshold"] as? [String: Any])
        #expect((threshold["sweep"] as? [Any])?.count == 7)
        #expect(retrievers[2]["fusion"] as? String == "auto")

        let second = try await RAGProcess.run(arguments)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(!second.stderr.contains("ingested"))  // the collections are reused
        #expect(second.stdout.hasPrefix("4 questions (1 paraphrased), 1 without an answer in the documents"))
        #expect(second.stdout.contains("Relevance threshold"))

        let unknown = try await RAGProcess.run(arguments.dropLast() + ["magic"])
        #expect(unknown.status == 64 && unknown.stderr.contains("unknown retriever 'magic'"))
        try """
            {"question": "Anything?", "file": "missing.pdf", "pages": [1]}
            """.write(to: questions, atomically: true, encoding: .utf8)
        let missing = try await RAGProcess.run(arguments)
        #expect(missing.status == 1 && missing.stderr.contains("no document named missing.pdf"))
    }
}
