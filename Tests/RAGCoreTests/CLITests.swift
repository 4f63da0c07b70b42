import Foundation
import RAGCore
import RAGTesting
import Testing
import TestSupport

/// Runs the real `rag` executable (which `swift test` builds) through the tests' one launcher.
struct RAGProcess {
    var status: Int32
    var stdout: String
    var stderr: String

    static func run(_ arguments: [String], collection: URL? = nil, environment extra: [String: String] = [:]) async throws -> RAGProcess {
        let result = try await TestProcess.run(
            try TestProcess.builtProduct("rag"), arguments + (collection.map { ["--collection", $0.path] } ?? []),
            environment: ["COLUMNS": "100"].merging(extra) { $1 })
        return RAGProcess(status: result.status, stdout: result.text, stderr: result.stderr)
    }
}

@Suite struct CLITests {
    static let handbook = """
        Employees receive 25 days of paid vacation per year.\u{0C}Receipts must be submitted within 30 days of the expense.
        """

    /// Each source is printed with the sentence of its passage that supports the answer, and its page, so that a
    /// reader can check it without opening the PDF.
    @Test func askPrintsEachCitationsQuotedSentenceAndPage() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        let file = directory.appendingPathComponent("pump.pdf")
        try TestPDF.make(pages: [
            "The pump manual. Read it before use.",
            "Clean the filter every week. The pump must be primed with two litres of water before it is started. Store it dry.",
        ]).write(to: file)
        let ingest = try await RAGProcess.run(["ingest", file.path], collection: collection)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let ask = try await RAGProcess.run(["ask", "How much water primes the pump?"], collection: collection)
        #expect(ask.status == 0, "\(ask.stderr)")
        let lines = ask.stdout.components(separatedBy: "\n")
        let source = try #require(lines.firstIndex { $0.hasPrefix("  [") && $0.contains("] pump.pdf p. 2  (score ") }, "\(ask.stdout)")
        #expect(lines[source + 1] == "      \"The pump must be primed with two litres of water before it is started.\" (p. 2)", "\(ask.stdout)")
    }

    @Test func helpMatchesGolden() async throws {
        let help = try await RAGProcess.run(["--help"])
        #expect(help.status == 0)
        try expectGolden(help.stdout, "rag-help.txt")
        for command in ["ingest", "ask", "chat", "search", "list", "remove", "extract", "eval", "doctor"] {
            let sub = try await RAGProcess.run([command, "--help"])
            #expect(sub.status == 0, "\(command) --help")
            #expect(sub.stdout.contains("USAGE: rag \(command)"))
        }
    }

    @Test func ingestAskSearchListRemove() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        let file = directory.appendingPathComponent("handbook.txt")
        try Self.handbook.write(to: file, atomically: true, encoding: .utf8)

        let ingest = try await RAGProcess.run(["ingest", file.path], collection: collection)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        #expect(ingest.stdout.hasPrefix("ingested 1 document (2 pages, 2 chunks)"))

        let metricsFile = directory.appendingPathComponent("metrics.prom")
        let ask = try await RAGProcess.run(["ask", "How many vacation days per year?", "--metrics-file", metricsFile.path], collection: collection)
        #expect(ask.status == 0, "\(ask.stderr)")
        #expect(ask.stdout.contains("\"Employees receive 25 days of paid vacation per year.\" [1]"))
        #expect(ask.stdout.contains("Sources:\n  [1] handbook.txt p. 1"))
        let metrics = try String(contentsOf: metricsFile, encoding: .utf8)
        #expect(metrics.contains(#"rag_requests_total{operation="ask",outcome="success"} 1"#))

        let askJSON = try await RAGProcess.run(["ask", "When are receipts due?", "--json"], collection: collection)
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(askJSON.stdout.utf8)) as? [String: Any])
        let citations = try #require(answer["citations"] as? [[String: Any]])
        #expect(citations.first?["page"] as? Int == 2)
        #expect(answer["generated"] as? Bool == false)

        let search = try await RAGProcess.run(["search", "receipts expense", "-k", "1", "--json"], collection: collection)
        #expect(search.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(search.stdout.utf8)) as? [String: Any])
        #expect(Array(object.keys) == ["hits"])
        let hits = try #require(object["hits"] as? [[String: Any]])
        #expect(hits.count == 1)
        #expect(Set(hits[0].keys) == ["file", "page", "text", "score"])
        #expect(hits[0]["file"] as? String == "handbook.txt")
        #expect(hits[0]["page"] as? Int == 2)
        #expect((hits[0]["text"] as? String)?.contains("Receipts") == true)

        let list = try await RAGProcess.run(["list", "--json"], collection: collection)
        let documents = try #require((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["documents"] as? [[String: Any]])
        #expect(documents.first?["file"] as? String == "handbook.txt")
        #expect(documents.first?["chunks"] as? Int == 2)

        let remove = try await RAGProcess.run(["remove", "handbook.txt"], collection: collection)
        #expect(remove.status == 0)
        #expect(try await RAGProcess.run(["list"], collection: collection).stdout.contains("The collection is empty"))
    }

    /// `rag doctor --database-url`: the database answers and holds the collection; an unreachable one fails without
    /// showing its password.
    @Test(.enabled(if: PostgresTestServer.isAvailable, Comment(rawValue: PostgresTestServer.unavailableReason ?? "")))
    func doctorChecksACollectionInPostgreSQL() async throws {
        let url = try await PostgresTestServer.shared.freshDatabaseURL()
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("handbook.txt")
        try Self.handbook.write(to: file, atomically: true, encoding: .utf8)
        #expect(try await RAGProcess.run(["ingest", file.path, "--database-url", url]).status == 0)
        let doctor = try await RAGProcess.run(["doctor", "--database-url", url])
        #expect(doctor.status == 0, "\(doctor.stdout)\(doctor.stderr)")
        #expect(doctor.stdout.contains("reachable"))
        #expect(doctor.stdout.contains("1 document"))
        let down = try await RAGProcess.run(["doctor", "--database-url", "postgres://rag:hunter22@127.0.0.1:1/rag"])
        #expect(down.status == 1)
        #expect(down.stdout.contains("fail  storage     postgres://rag:***@127.0.0.1:1/rag: the database cannot be reached"))
        #expect(!(down.stdout + down.stderr).contains("hunter22"))
    }

    @Test func doctorListAndVersionSayWhichEmbedderAndModelAreInUse() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        let file = directory.appendingPathComponent("handbook.txt")
        try Self.handbook.write(to: file, atomically: true, encoding: .utf8)
        let noModels = ["RAG_MODELS_DIR": directory.appendingPathComponent("no-models").path]

        let version = try await RAGProcess.run(["--version"])
        #expect(version.status == 0 && version.stdout == "\(BuildInfo.version)\n")

        // Nothing yet: the model is missing (a warning, not a failure) and there is no collection.
        let before = try await RAGProcess.run(["doctor"], collection: collection, environment: noModels)
        #expect(before.status == 0, "\(before.stdout)\(before.stderr)")
        #expect(before.stdout.hasPrefix("rag \(BuildInfo.version)\n"))
        #expect(before.stdout.contains("warn  model       all-MiniLM-L6-v2 is not in \(noModels["RAG_MODELS_DIR"]!)/all-MiniLM-L6-v2"))
        #expect(before.stdout.contains("ok    answerer    extractive"))
        #expect(before.stdout.contains("warn  collection  \(collection.path) holds no collection yet"))

        // With the model installed, a new collection uses it, and list and doctor say so.
        _ = try requireMiniLMDirectory()
        let withModel = ["RAG_MODELS_DIR": testModelsDirectory.path]
        #expect(try await RAGProcess.run(["ingest", file.path], collection: collection, environment: withModel).status == 0)
        let list = try await RAGProcess.run(["list"], collection: collection, environment: withModel)
        #expect(list.stdout.hasPrefix(
            "Collection \(collection.path): 1 document, 2 chunks, embedder minilm-l6-v2-d384 (all-MiniLM-L6-v2 (local sentence embeddings)), vectors stored as f32\n"))
        let listJSON = try await RAGProcess.run(["list", "--json"], collection: collection, environment: withModel)
        let header = try #require((try JSONSerialization.jsonObject(with: Data(listJSON.stdout.utf8)) as? [String: Any])?["collection"] as? [String: Any])
        #expect(header["embedder"] as? String == "minilm-l6-v2-d384" && header["dimension"] as? Int == 384)

        let doctor = try await RAGProcess.run(["doctor", "--json"], collection: collection, environment: withModel)
        #expect(doctor.status == 0, "\(doctor.stdout)\(doctor.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(doctor.stdout.utf8)) as? [String: Any])
        let checks = try #require(report["checks"] as? [[String: String]])
        #expect(checks.map { $0["name"]! } == ["model", "answerer", "ocr", "blas", "storage", "collection", "embedder"])
        // OCR is optional: without Tesseract its check warns (and says how to install it), and nothing fails.
        #expect(checks.allSatisfy { $0["status"] == "ok" || ($0["name"] == "ocr" && !Tesseract.isAvailable) }, "\(checks)")
        #expect(checks[5]["detail"] == "\(collection.path): 1 document, 2 chunks")
        // OpenBLAS's kernels are named; when the library did not know this CPU, rag ran itself again with better ones.
        #expect(checks[3]["detail"]?.hasPrefix("OpenBLAS kernels: ") == true)
        if OpenBLASCore.recommendedCoreType != nil {
            #expect(checks[3]["detail"]?.contains("set by this program") == true, "\(checks[3])")
        }

        // The same collection where the model cannot be found: it cannot be searched, and doctor fails.
        let broken = try await RAGProcess.run(["doctor"], collection: collection, environment: noModels)
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("fail  embedder    minilm-l6-v2-d384 (all-MiniLM-L6-v2 (local sentence embeddings)) is not available"))
    }

    @Test func badFilesAreSkippedWithExitCode3() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.txt")
        try Self.handbook.write(to: good, atomically: true, encoding: .utf8)
        let bad = directory.appendingPathComponent("broken.pdf")
        try Data("%PDF-1.7\nthis is not really a pdf".utf8).write(to: bad)
        let result = try await RAGProcess.run(["ingest", good.path, bad.path], collection: directory.appendingPathComponent("c"))
        #expect(result.status == 3)
        #expect(result.stdout.contains("ingested 1 document"))
        #expect(result.stdout.contains("1 failed"))
        #expect(result.stderr.contains("broken.pdf"))
    }

    @Test func errorsAreOneLineWithoutStackTraces() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let empty = try await RAGProcess.run(["ask", "Anything?"], collection: directory.appendingPathComponent("c"))
        #expect(empty.status == 1)
        #expect(empty.stderr == "rag: error: the collection is empty: ingest documents first (rag ingest FILE...)\n")
        #expect(empty.stdout.isEmpty)

        let usage = try await RAGProcess.run(["search"])
        #expect(usage.status == 64)
        #expect(usage.stderr.contains("Missing expected argument"))

        let corrupt = directory.appendingPathComponent("corrupt")
        try FileManager.default.createDirectory(at: corrupt, withIntermediateDirectories: true)
        try Data("RAGCOLL\0garbage".utf8).write(to: corrupt.appendingPathComponent("collection.rag"))
        let damaged = try await RAGProcess.run(["list"], collection: corrupt)
        #expect(damaged.status == 1)
        #expect(damaged.stderr.hasPrefix("rag: error: the collection file is damaged"))
        #expect(damaged.stderr.split(separator: "\n").count == 1)
    }

    @Test func usesAnOpenAICompatibleServerWhenConfigured() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("handbook.txt")
        try Self.handbook.write(to: file, atomically: true, encoding: .utf8)
        let collection = directory.appendingPathComponent("collection")
        let environment = ["OPENAI_API_KEY": "sk-cli-test", "OPENAI_BASE_URL": server.baseURL, "RAG_EMBEDDING_DIMENSION": "3"]

        server.enqueue(.embeddings([[1, 0, 0], [0, 1, 0]]))
        let ingest = try await RAGProcess.run(["ingest", file.path, "--embedder", "openai", "--embedding-model", "embed-test"], collection: collection, environment: environment)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        #expect(server.requests.last?.json?["model"] as? String == "embed-test")

        server.enqueue(.embeddings([[0.9, 0.1, 0]]), .chatStream(deltas: ["You get ", "25 days [1]."]))
        let ask = try await RAGProcess.run(["ask", "How many vacation days?", "--model", "chat-test"], collection: collection, environment: environment)
        #expect(ask.status == 0, "\(ask.stderr)")
        #expect(ask.stdout.hasPrefix("You get 25 days [1]."))
        #expect(ask.stdout.contains("[1] handbook.txt p. 1"))
        let chat = try #require(server.requests.last)
        #expect(chat.path == "/v1/chat/completions" && chat.json?["model"] as? String == "chat-test")
        #expect(chat.headers["authorization"] == "Bearer sk-cli-test")

        // The collection remembers its embedder: without the API it cannot be queried, and says so.
        let offline = try await RAGProcess.run(["search", "vacation"], collection: collection)
        #expect(offline.status == 1)
        #expect(offline.stderr.contains("set OPENAI_API_KEY or OPENAI_BASE_URL"))

        server.enqueue(.error(status: 401, message: "bad key sk-cli-test", type: "invalid_request_error"))
        let refused = try await RAGProcess.run(["ask", "Anything?"], collection: collection, environment: environment)
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("rag: error:") && refused.stderr.contains("refused the API key"))
        #expect(!refused.stderr.contains("sk-cli-test"))
    }
}

/// `rag` resolves the collection and its retrieval flags with the server's parsers (`EngineSettings`).
@Suite struct CLISettingsTests {
    @Test func aBadRetrievalFlagIsOneLineAndExitCode64() async throws {
        let run = try await RAGProcess.run(["search", "--fusion", "weighted:2", "anything"], collection: temporaryDirectory())
        #expect(run.status == 64)
        #expect(run.stderr == "rag: error: --fusion must be auto, rrf, rrf:K (K from 0 to 1000000), weighted or weighted:W (W from 0 to 1), not 'weighted:2'\n")
    }

    @Test func searchScansTheVectorFormatItIsGivenWithTheSameHits() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        let file = directory.appendingPathComponent("handbook.txt")
        try CLITests.handbook.write(to: file, atomically: true, encoding: .utf8)
        #expect(try await RAGProcess.run(["ingest", file.path], collection: collection).status == 0)
        var outputs: [String] = []
        for format in ["f32", "f16", "i8", "auto"] {
            let search = try await RAGProcess.run(["search", "receipts expense", "--vector-format", format, "--json"], collection: collection)
            #expect(search.status == 0, "\(format): \(search.stderr)")
            outputs.append(search.stdout)
        }
        #expect(Set(outputs).count == 1 && outputs[0].contains("handbook.txt"), "\(outputs)")
        let bad = try await RAGProcess.run(["search", "--vector-format", "int8", "anything"], collection: collection)
        #expect(bad.status == 64)
        #expect(bad.stderr == "rag: error: --vector-format must be auto, f32, f16 or i8, not 'int8'\n")
    }

    /// `--encoder-precision` and RAG_ENCODER_PRECISION choose the MiniLM encoder's arithmetic: `rag doctor` names the
    /// one in use, a collection embedded in int8 is searched alike with either, and a bad value is one line, exit 64.
    @Test func theEncoderPrecisionIsChosenByFlagOrVariable() async throws {
        _ = try requireMiniLMDirectory()
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        let file = directory.appendingPathComponent("handbook.txt")
        try CLITests.handbook.write(to: file, atomically: true, encoding: .utf8)
        let ingest = try await RAGProcess.run(["ingest", file.path, "--embedder", "minilm", "--encoder-precision", "i8"], collection: collection)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        for (arguments, environment) in [(["--encoder-precision", "f32"], [:]), ([], ["RAG_ENCODER_PRECISION": "i8"])] as [([String], [String: String])] {
            let search = try await RAGProcess.run(["search", "how many vacation days", "--json"] + arguments, collection: collection, environment: environment)
            #expect(search.status == 0, "\(search.stderr)")
            let hits = try JSONDecoder().decode(SearchOutput.self, from: Data(search.stdout.utf8)).hits
            #expect(hits.first?.page == 1 && hits.first?.file == "handbook.txt", "\(arguments) \(environment): \(search.stdout)")
        }
        let fp32 = try await RAGProcess.run(["doctor", "--encoder-precision", "f32"], collection: collection)
        #expect(fp32.stdout.contains("dense layers in f32 (OpenBLAS sgemm)"), "\(fp32.stdout)")
        let int8 = try await RAGProcess.run(["doctor"], collection: collection, environment: ["RAG_ENCODER_PRECISION": "i8"])
        #expect(int8.stdout.contains("dense layers in i8 ("), "\(int8.stdout)")
        let bad = try await RAGProcess.run(["search", "--encoder-precision", "bf16", "anything"], collection: collection)
        #expect(bad.status == 64)
        #expect(bad.stderr == "rag: error: --encoder-precision (RAG_ENCODER_PRECISION) must be auto, f32 or i8, not 'bf16'\n")
        let badVariable = try await RAGProcess.run(["search", "anything"], collection: collection, environment: ["RAG_ENCODER_PRECISION": "int8"])
        #expect(badVariable.status == 64)
        #expect(badVariable.stderr == "rag: error: RAG_ENCODER_PRECISION (--encoder-precision) must be auto, f32 or i8, not 'int8'\n")
    }

    /// `rag ingest --vector-storage` makes a collection in that format; `rag convert-vectors` changes it, and says
    /// what it did; the searches find the same page throughout.
    @Test func theVectorStorageIsChosenAtIngestAndConverted() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        let file = directory.appendingPathComponent("handbook.txt")
        try CLITests.handbook.write(to: file, atomically: true, encoding: .utf8)
        let ingest = try await RAGProcess.run(["ingest", file.path, "--embedder", "hashing", "--vector-storage", "f16"], collection: collection)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let chunks = try #require(try StorageFaults.integer("SELECT count(*) FROM chunks", in: collection))
        #expect(try StorageFaults.integer("SELECT sum(length(data)) FROM vectors", in: collection) == chunks * 512 * 2)
        func firstPage() async throws -> Int? {
            let search = try await RAGProcess.run(["search", "how many vacation days", "--json"], collection: collection)
            #expect(search.status == 0, "\(search.stderr)")
            return try JSONDecoder().decode(SearchOutput.self, from: Data(search.stdout.utf8)).hits.first?.page
        }
        let page = try await firstPage()
        #expect(page != nil)
        let convert = try await RAGProcess.run(["convert-vectors", "i8"], collection: collection)
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(convert.stdout.hasPrefix("converted \(chunks) vectors from f16 to i8: "), "\(convert.stdout)")
        #expect(try StorageFaults.integer("SELECT sum(length(data)) FROM vectors", in: collection) == chunks * (512 + 4))
        #expect(try await firstPage() == page)
        let list = try await RAGProcess.run(["list", "--json"], collection: collection)
        #expect(list.stdout.contains("\"vector_storage\":\"i8\""), "\(list.stdout)")
        let again = try await RAGProcess.run(["convert-vectors", "i8"], collection: collection)
        #expect(again.status == 0 && again.stdout == "the collection already stores its vectors as i8\n", "\(again.stdout)")
        let bad = try await RAGProcess.run(["convert-vectors", "f64"], collection: collection)
        #expect(bad.status == 64 && bad.stderr == "rag: error: the format must be f32, f16 or i8, not 'f64'\n", "\(bad.stderr)")
        let badFlag = try await RAGProcess.run(["ingest", file.path, "--vector-storage", "bf16"], collection: collection)
        #expect(badFlag.status == 64)
        #expect(badFlag.stderr == "rag: error: --vector-storage (RAG_VECTOR_STORAGE) must be f32, f16 or i8, not 'bf16'\n", "\(badFlag.stderr)")
    }

    struct SearchOutput: Decodable {
        struct Hit: Decodable {
            var file: String
            var page: Int
        }
        var hits: [Hit]
    }

    @Test(arguments: ["ask", "chat"])
    func aBadQueryRewritesFlagIsOneLineAndExitCode64(command: String) async throws {
        let run = try await RAGProcess.run([command, "--query-rewrites", "9"] + (command == "ask" ? ["anything"] : []), collection: temporaryDirectory())
        #expect(run.status == 64)
        #expect(run.stderr == "rag: error: --query-rewrites must be an integer from 0 to 8 (0 turns it off), not '9'\n")
        let help = try await RAGProcess.run([command, "--help"], collection: temporaryDirectory())
        #expect(help.stdout.contains("--query-rewrites <n>") && help.stdout.contains("--hypothetical-answer"))
    }

    @Test func anEmptyRAGCollectionIsAnError() async throws {
        let run = try await RAGProcess.run(["list"], environment: ["RAG_COLLECTION": ""])
        #expect(run.status == 64)
        #expect(run.stderr == "rag: error: RAG_COLLECTION (--collection) must be a directory path, not ''\n")
    }
}
