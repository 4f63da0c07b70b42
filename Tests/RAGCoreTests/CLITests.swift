import Foundation
import RAGCore
import RAGTesting
import Testing

/// Runs the real `rag` executable (built by `swift build` beside the test bundle).
struct RAGProcess {
    var status: Int32
    var stdout: String
    var stderr: String

    static var executable: URL {
        get throws {
            let candidates = [
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("rag"),
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                    .deletingLastPathComponent().appendingPathComponent(".build/debug/rag"),
            ]
            return try #require(
                candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                "the rag executable is missing: run `swift build` before `swift test` (scripts/test.sh does)")
        }
    }

    static func run(_ arguments: [String], collection: URL? = nil, environment extra: [String: String] = [:]) throws -> RAGProcess {
        let process = Process()
        process.executableURL = try executable
        process.arguments = arguments + (collection.map { ["--collection", $0.path] } ?? [])
        var environment = ProcessInfo.processInfo.environment
        for key in ["OPENAI_API_KEY", "OPENAI_API_KEY_FILE", "OPENAI_BASE_URL", "RAG_LLM_MODEL", "RAG_EMBEDDING_MODEL"] {
            environment[key] = nil
        }
        environment["COLUMNS"] = "100"
        environment.merge(extra) { $1 }
        process.environment = environment
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Files, not pipes: a full pipe would block the child while we wait for it.
        let out = directory.appendingPathComponent("out")
        let err = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return RAGProcess(
            status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
            stderr: try String(contentsOf: err, encoding: .utf8))
    }
}

@Suite struct CLITests {
    static let handbook = """
        Employees receive 25 days of paid vacation per year.\u{0C}Receipts must be submitted within 30 days of the expense.
        """

    @Test func helpMatchesGolden() throws {
        let help = try RAGProcess.run(["--help"])
        #expect(help.status == 0)
        try expectGolden(help.stdout, "rag-help.txt")
        for command in ["ingest", "ask", "chat", "search", "list", "remove", "extract", "eval", "doctor"] {
            let sub = try RAGProcess.run([command, "--help"])
            #expect(sub.status == 0, "\(command) --help")
            #expect(sub.stdout.contains("USAGE: rag \(command)"))
        }
    }

    @Test func ingestAskSearchListRemove() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        let file = directory.appendingPathComponent("handbook.txt")
        try Self.handbook.write(to: file, atomically: true, encoding: .utf8)

        let ingest = try RAGProcess.run(["ingest", file.path], collection: collection)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        #expect(ingest.stdout.hasPrefix("ingested 1 document (2 pages, 2 chunks)"))

        let metricsFile = directory.appendingPathComponent("metrics.prom")
        let ask = try RAGProcess.run(["ask", "How many vacation days per year?", "--metrics-file", metricsFile.path], collection: collection)
        #expect(ask.status == 0, "\(ask.stderr)")
        #expect(ask.stdout.contains("\"Employees receive 25 days of paid vacation per year.\" [1]"))
        #expect(ask.stdout.contains("Sources:\n  [1] handbook.txt p. 1"))
        let metrics = try String(contentsOf: metricsFile, encoding: .utf8)
        #expect(metrics.contains(#"rag_requests_total{operation="ask",outcome="success"} 1"#))

        let askJSON = try RAGProcess.run(["ask", "When are receipts due?", "--json"], collection: collection)
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(askJSON.stdout.utf8)) as? [String: Any])
        let citations = try #require(answer["citations"] as? [[String: Any]])
        #expect(citations.first?["page"] as? Int == 2)
        #expect(answer["generated"] as? Bool == false)

        let search = try RAGProcess.run(["search", "receipts expense", "-k", "1", "--json"], collection: collection)
        #expect(search.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(search.stdout.utf8)) as? [String: Any])
        #expect(Array(object.keys) == ["hits"])
        let hits = try #require(object["hits"] as? [[String: Any]])
        #expect(hits.count == 1)
        #expect(Set(hits[0].keys) == ["file", "page", "text", "score"])
        #expect(hits[0]["file"] as? String == "handbook.txt")
        #expect(hits[0]["page"] as? Int == 2)
        #expect((hits[0]["text"] as? String)?.contains("Receipts") == true)

        let list = try RAGProcess.run(["list", "--json"], collection: collection)
        let documents = try #require((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["documents"] as? [[String: Any]])
        #expect(documents.first?["file"] as? String == "handbook.txt")
        #expect(documents.first?["chunks"] as? Int == 2)

        let remove = try RAGProcess.run(["remove", "handbook.txt"], collection: collection)
        #expect(remove.status == 0)
        #expect(try RAGProcess.run(["list"], collection: collection).stdout.contains("The collection is empty"))
    }

    @Test func doctorListAndVersionSayWhichEmbedderAndModelAreInUse() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let collection = directory.appendingPathComponent("collection")
        let file = directory.appendingPathComponent("handbook.txt")
        try Self.handbook.write(to: file, atomically: true, encoding: .utf8)
        let noModels = ["RAG_MODELS_DIR": directory.appendingPathComponent("no-models").path]

        let version = try RAGProcess.run(["--version"])
        #expect(version.status == 0 && version.stdout == "\(BuildInfo.version)\n")

        // Nothing yet: the model is missing (a warning, not a failure) and there is no collection.
        let before = try RAGProcess.run(["doctor"], collection: collection, environment: noModels)
        #expect(before.status == 0, "\(before.stdout)\(before.stderr)")
        #expect(before.stdout.hasPrefix("rag \(BuildInfo.version)\n"))
        #expect(before.stdout.contains("warn  model       all-MiniLM-L6-v2 is not in \(noModels["RAG_MODELS_DIR"]!)/all-MiniLM-L6-v2"))
        #expect(before.stdout.contains("ok    answerer    extractive"))
        #expect(before.stdout.contains("warn  collection  \(collection.path) holds no collection yet"))

        // With the model installed, a new collection uses it, and list and doctor say so.
        _ = try requireMiniLMDirectory()
        let withModel = ["RAG_MODELS_DIR": testModelsDirectory.path]
        #expect(try RAGProcess.run(["ingest", file.path], collection: collection, environment: withModel).status == 0)
        let list = try RAGProcess.run(["list"], collection: collection, environment: withModel)
        #expect(list.stdout.hasPrefix(
            "Collection \(collection.path): 1 document, 2 chunks, embedder minilm-l6-v2-d384 (all-MiniLM-L6-v2 (local sentence embeddings))\n"))
        let listJSON = try RAGProcess.run(["list", "--json"], collection: collection, environment: withModel)
        let header = try #require((try JSONSerialization.jsonObject(with: Data(listJSON.stdout.utf8)) as? [String: Any])?["collection"] as? [String: Any])
        #expect(header["embedder"] as? String == "minilm-l6-v2-d384" && header["dimension"] as? Int == 384)

        let doctor = try RAGProcess.run(["doctor", "--json"], collection: collection, environment: withModel)
        #expect(doctor.status == 0, "\(doctor.stdout)\(doctor.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(doctor.stdout.utf8)) as? [String: Any])
        let checks = try #require(report["checks"] as? [[String: String]])
        #expect(checks.map { $0["name"]! } == ["model", "answerer", "storage", "collection", "embedder"])
        #expect(checks.allSatisfy { $0["status"] == "ok" }, "\(checks)")
        #expect(checks[3]["detail"] == "\(collection.path): 1 document, 2 chunks")

        // The same collection where the model cannot be found: it cannot be searched, and doctor fails.
        let broken = try RAGProcess.run(["doctor"], collection: collection, environment: noModels)
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("fail  embedder    minilm-l6-v2-d384 (all-MiniLM-L6-v2 (local sentence embeddings)) is not available"))
    }

    @Test func badFilesAreSkippedWithExitCode3() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.txt")
        try Self.handbook.write(to: good, atomically: true, encoding: .utf8)
        let bad = directory.appendingPathComponent("broken.pdf")
        try Data("%PDF-1.7\nthis is not really a pdf".utf8).write(to: bad)
        let result = try RAGProcess.run(["ingest", good.path, bad.path], collection: directory.appendingPathComponent("c"))
        #expect(result.status == 3)
        #expect(result.stdout.contains("ingested 1 document"))
        #expect(result.stdout.contains("1 failed"))
        #expect(result.stderr.contains("broken.pdf"))
    }

    @Test func errorsAreOneLineWithoutStackTraces() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let empty = try RAGProcess.run(["ask", "Anything?"], collection: directory.appendingPathComponent("c"))
        #expect(empty.status == 1)
        #expect(empty.stderr == "rag: error: the collection is empty: ingest documents first (rag ingest FILE...)\n")
        #expect(empty.stdout.isEmpty)

        let usage = try RAGProcess.run(["search"])
        #expect(usage.status == 64)
        #expect(usage.stderr.contains("Missing expected argument"))

        let corrupt = directory.appendingPathComponent("corrupt")
        try FileManager.default.createDirectory(at: corrupt, withIntermediateDirectories: true)
        try Data("RAGCOLL\0garbage".utf8).write(to: corrupt.appendingPathComponent("collection.rag"))
        let damaged = try RAGProcess.run(["list"], collection: corrupt)
        #expect(damaged.status == 1)
        #expect(damaged.stderr.hasPrefix("rag: error: the collection file is damaged"))
        #expect(damaged.stderr.split(separator: "\n").count == 1)
    }

    @Test func usesAnOpenAICompatibleServerWhenConfigured() throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("handbook.txt")
        try Self.handbook.write(to: file, atomically: true, encoding: .utf8)
        let collection = directory.appendingPathComponent("collection")
        let environment = ["OPENAI_API_KEY": "sk-cli-test", "OPENAI_BASE_URL": server.baseURL, "RAG_EMBEDDING_DIMENSION": "3"]

        server.enqueue(.embeddings([[1, 0, 0], [0, 1, 0]]))
        let ingest = try RAGProcess.run(["ingest", file.path, "--embedder", "openai", "--embedding-model", "embed-test"], collection: collection, environment: environment)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        #expect(server.requests.last?.json?["model"] as? String == "embed-test")

        server.enqueue(.embeddings([[0.9, 0.1, 0]]), .chatStream(deltas: ["You get ", "25 days [1]."]))
        let ask = try RAGProcess.run(["ask", "How many vacation days?", "--model", "chat-test"], collection: collection, environment: environment)
        #expect(ask.status == 0, "\(ask.stderr)")
        #expect(ask.stdout.hasPrefix("You get 25 days [1]."))
        #expect(ask.stdout.contains("[1] handbook.txt p. 1"))
        let chat = try #require(server.requests.last)
        #expect(chat.path == "/v1/chat/completions" && chat.json?["model"] as? String == "chat-test")
        #expect(chat.headers["authorization"] == "Bearer sk-cli-test")

        // The collection remembers its embedder: without the API it cannot be queried, and says so.
        let offline = try RAGProcess.run(["search", "vacation"], collection: collection)
        #expect(offline.status == 1)
        #expect(offline.stderr.contains("set OPENAI_API_KEY or OPENAI_BASE_URL"))

        server.enqueue(.error(status: 401, message: "bad key sk-cli-test", type: "invalid_request_error"))
        let refused = try RAGProcess.run(["ask", "Anything?"], collection: collection, environment: environment)
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("rag: error:") && refused.stderr.contains("refused the API key"))
        #expect(!refused.stderr.contains("sk-cli-test"))
    }
}

/// `rag` resolves the collection and its retrieval flags with the server's parsers (`EngineSettings`).
@Suite struct CLISettingsTests {
    @Test func aBadRetrievalFlagIsOneLineAndExitCode64() throws {
        let run = try RAGProcess.run(["search", "--fusion", "weighted:2", "anything"], collection: temporaryDirectory())
        #expect(run.status == 64)
        #expect(run.stderr == "rag: error: --fusion must be auto, rrf, rrf:K (K from 0 to 1000000), weighted or weighted:W (W from 0 to 1), not 'weighted:2'\n")
    }

    @Test func anEmptyRAGCollectionIsAnError() throws {
        let run = try RAGProcess.run(["list"], environment: ["RAG_COLLECTION": ""])
        #expect(run.status == 64)
        #expect(run.stderr == "rag: error: RAG_COLLECTION (--collection) must be a directory path, not ''\n")
    }
}
