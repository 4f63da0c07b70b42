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
            {"question": "Where?", "file": "a.pdf", "pages": [2, 3], "paraphrased": true, "split": "test"}

            {"question": "Off topic?"}
            {"question": "Elsewhere?", "split": "tune"}
            """.write(to: file, atomically: true, encoding: .utf8)
        let questions = try EvaluationQuestion.load(contentsOf: file)
        #expect(questions == [
            EvaluationQuestion(question: "Where?", file: "a.pdf", pages: [2, 3], paraphrased: true, split: .test),
            EvaluationQuestion(question: "Off topic?", file: nil, pages: []),
            EvaluationQuestion(question: "Elsewhere?", file: nil, pages: [], split: .tune),
        ])
        #expect(questions.map(\.isAnswerable) == [true, false, false])
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
        ("{\"question\": \"x\", \"split\": \"train\"}", "q.jsonl:2: not a question object", "\"split\" is \"tune\" or \"test\", not \"train\""),
        ("{\"question\": \"x\", \"split\": 1}", "q.jsonl:2: not a question object", "wrong type at \"split\""),
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

    @Test func aSplitIsByDocumentAndCoversEveryQuestion() throws {
        let tune = EvaluationQuestion(question: "A?", file: "a.pdf", pages: [1], split: .tune)
        let test = EvaluationQuestion(question: "B?", file: "b.pdf", pages: [1], split: .test)
        let refused = EvaluationQuestion(question: "C?", file: nil, pages: [], split: .test)
        try EvaluationQuestion.checkSplit([tune, test, refused, tune])

        var crossing = test
        crossing.file = "a.pdf"
        let both = #expect(throws: EvaluationError.self) { try EvaluationQuestion.checkSplit([tune, crossing]) }
        #expect(both?.description == "a.pdf has questions in both the tune and the test split: the set is split by document")

        var unsplit = refused
        unsplit.split = nil
        let missing = #expect(throws: EvaluationError.self) { try EvaluationQuestion.checkSplit([tune, unsplit]) }
        #expect(missing?.description == "the question \"C?\" has no \"split\" (\"tune\" or \"test\")")
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

    /// `rag eval` reports each kind of question and each document apart, and `--split` keeps one half.
    @Test func evalCommandBreaksDownByKindAndDocumentAndSelectsASplit() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let documents = directory.appendingPathComponent("pdfs")
        try FileManager.default.createDirectory(at: documents, withIntermediateDirectories: true)
        try TestPDF.make(pages: [
            "Printers are added with the lpadmin command and removed with lpadmin -x.",
            "Toner cartridges should be replaced when the warning light blinks orange.",
        ]).write(to: documents.appendingPathComponent("printer.pdf"))
        try TestPDF.make(pages: [
            "Employees receive 25 days of paid vacation per year.",
            "Expense receipts must be submitted within 30 days.",
        ]).write(to: documents.appendingPathComponent("handbook.pdf"))
        // BM25 ranks every answer page first but the holiday question's (no word in common with any page): so the
        // handbook has recall 2/3, the printer guide 1, paraphrased questions 1/2 and literal ones 1.
        let questions = directory.appendingPathComponent("q.jsonl")
        try """
            {"question": "Which command adds printers?", "file": "printer.pdf", "pages": [1], "paraphrased": false, "split": "tune"}
            {"question": "When should toner cartridges be replaced?", "file": "printer.pdf", "pages": [2], "paraphrased": false, "split": "tune"}
            {"question": "How many vacation days do employees receive?", "file": "handbook.pdf", "pages": [1], "paraphrased": false, "split": "test"}
            {"question": "How long do I have to hand in receipts?", "file": "handbook.pdf", "pages": [2], "paraphrased": true, "split": "test"}
            {"question": "How much holiday do staff get?", "file": "handbook.pdf", "pages": [1], "paraphrased": true, "split": "test"}
            {"question": "What is the capital of Peru?", "split": "test"}
            {"question": "Who painted the Mona Lisa?", "split": "tune"}
            """.write(to: questions, atomically: true, encoding: .utf8)
        let arguments = [
            "eval", questions.path, "--documents", documents.path, "--work-dir", directory.appendingPathComponent("work").path,
            "--retrievers", "hashed,bm25",
        ]

        let all = try await RAGProcess.run(arguments + ["--json"])
        #expect(all.status == 0, "\(all.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any])
        #expect(object["questions"] as? Int == 5 && object["unanswerable"] as? Int == 2 && object["split"] is NSNull)
        let files = try #require(object["documents"] as? [[String: Any]])
        #expect(files.map { $0["file"] as? String } == ["handbook.pdf", "printer.pdf"])
        #expect(files.map { $0["questions"] as? Int } == [3, 2] && files.map { $0["paraphrased"] as? Int } == [2, 0])
        let retrievers = try #require(object["retrievers"] as? [[String: Any]])
        let bm25 = try #require(retrievers.first { $0["name"] as? String == "bm25" })
        func recall(_ scores: Any?) -> Double? { (scores as? [String: Any])?["recall@10"] as? Double }
        let byDocument = try #require(bm25["documents"] as? [String: Any])
        #expect(recall(byDocument["handbook.pdf"]) == 2.0 / 3 && recall(byDocument["printer.pdf"]) == 1)
        #expect(recall(bm25["paraphrased"]) == 0.5 && recall(bm25["literal"]) == 1 && recall(bm25["all"]) == 0.8)
        #expect(((byDocument["handbook.pdf"] as? [String: Any])?["questions"] as? Int) == 3)
        // Hashed features have no default threshold: `rag ask` answers everything.
        let hashed = try #require(retrievers.first { $0["name"] as? String == "hashed" })
        let standard = try #require((hashed["threshold"] as? [String: Any])?["default"] as? [String: Any])
        #expect(standard["threshold"] is NSNull && standard["answered"] as? Double == 1 && standard["refused"] as? Double == 0)

        let text = try await RAGProcess.run(arguments)
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func row(_ retriever: String, under title: String) -> [String]? {
            guard let start = lines.firstIndex(of: title) else { return nil }
            let row = lines[start...].prefix { !$0.isEmpty }.first { $0.hasPrefix(retriever + " ") }
            return row?.split(separator: " ").map(String.init)
        }
        #expect(row("bm25", under: "Questions on handbook.pdf, 2 paraphrased (3)") == ["bm25", "0.667", "0.667", "0.667", "0.667"])
        #expect(row("bm25", under: "Questions on printer.pdf, 0 paraphrased (2)") == ["bm25", "1.000", "1.000", "1.000", "1.000"])
        #expect(row("bm25", under: "Paraphrased questions (2)") == ["bm25", "0.500", "0.500", "0.500", "0.500"])
        #expect(row("hashed", under: "At the default threshold of `rag ask` (none: every question is answered)") == [
            "hashed", "none", "100%", "0%",
        ])

        let test = try await RAGProcess.run(arguments + ["--split", "test", "--json"])
        #expect(test.status == 0, "\(test.stderr)")
        let half = try #require(try JSONSerialization.jsonObject(with: Data(test.stdout.utf8)) as? [String: Any])
        #expect(half["questions"] as? Int == 3 && half["unanswerable"] as? Int == 1 && half["split"] as? String == "test")
        #expect((half["documents"] as? [[String: Any]])?.map { $0["file"] as? String } == ["handbook.pdf"])
        let tune = try await RAGProcess.run(arguments + ["--split", "tune"])
        #expect(tune.stdout.hasPrefix("2 questions (0 paraphrased), 1 without an answer in the documents (tune split)"))

        let bogus = try await RAGProcess.run(arguments + ["--split", "train"])
        #expect(bogus.status == 64 && bogus.stderr.contains("--split is tune or test, not 'train'"))
        try """
            {"question": "Which command adds printers?", "file": "printer.pdf", "pages": [1], "split": "tune"}
            {"question": "When should toner cartridges be replaced?", "file": "printer.pdf", "pages": [2], "split": "test"}
            """.write(to: questions, atomically: true, encoding: .utf8)
        let crossing = try await RAGProcess.run(arguments)
        #expect(crossing.status == 1 && crossing.stderr.contains("printer.pdf has questions in both the tune and the test split"))
        try """
            {"question": "Which command adds printers?", "file": "printer.pdf", "pages": [1]}
            """.write(to: questions, atomically: true, encoding: .utf8)
        let unsplit = try await RAGProcess.run(arguments + ["--split", "test"])
        #expect(unsplit.status == 1 && unsplit.stderr.contains("has no \"split\""))
    }
}
