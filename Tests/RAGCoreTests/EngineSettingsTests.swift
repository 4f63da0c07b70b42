import Foundation
import RAGCore
import Testing

/// The settings `rag` and `rag-server` share (`EngineSettings`) and the `Setting` type their tables are made of.
@Suite struct EngineSettingsTests {
    @Test func theCollectionIsTheFlagThenTheVariableThenTheDataHomeThenHome() throws {
        let all = ["RAG_COLLECTION": "/srv/collection", "XDG_DATA_HOME": "/data", "HOME": "/home/a"]
        #expect(try EngineSettings.collectionDirectory(flag: "/flag", environment: all).path == "/flag")
        #expect(try EngineSettings.collectionDirectory(flag: nil, environment: all).path == "/srv/collection")
        var environment = all
        environment["RAG_COLLECTION"] = nil
        #expect(try EngineSettings.collectionDirectory(flag: nil, environment: environment).path == "/data/pdf-chatbot/collection")
        environment["XDG_DATA_HOME"] = ""  // empty means unset, as the XDG specification says
        #expect(try EngineSettings.collectionDirectory(flag: nil, environment: environment).path
            == "/home/a/.local/share/pdf-chatbot/collection")
    }

    @Test func anEmptyCollectionSettingIsAnErrorNotTheDefault() {
        #expect(throws: SettingError.self) { try EngineSettings.collectionDirectory(flag: nil, environment: ["RAG_COLLECTION": ""]) }
        #expect(throws: SettingError.self) { try EngineSettings.collectionDirectory(flag: "", environment: [:]) }
    }

    @Test func theModelsDirectoryComesFromTheEnvironmentGiven() {
        #expect(EngineSetup.modelsDirectory(environment: ["RAG_MODELS_DIR": "/opt/models"]).path == "/opt/models")
        let home = "/nonexistent-home-\(UUID().uuidString)"
        #expect(EngineSetup.modelsDirectory(environment: ["HOME": home, "XDG_DATA_DIRS": "/nonexistent"]).path
            == "\(home)/.local/share/pdf-chatbot/models")
    }

    @Test func retrievalOptionsComeFromFlagsThenVariables() throws {
        let environment = [
            "RAG_RETRIEVAL": "lexical", "RAG_FUSION": "rrf:10", "RAG_PAGE_FUSION": "off", "RAG_NEIGHBOURS": "2", "RAG_MIN_SCORE": "off",
        ]
        let server = try EngineSettings.retrievalOptions(flags: ["--fusion": "weighted:0.7"], environment: environment)
        #expect(server == RetrievalOptions(
            mode: .lexical, fusion: .weighted(vectorWeight: 0.7), pageFusion: .off, neighbourChunks: 2, minimumScore: .disabled))
        // `rag` reads only its flags.
        let cli = try EngineSettings.retrievalOptions(flags: ["--neighbours": "3", "--page-fusion": "0.5"], environment: environment)
        #expect(cli.neighbourChunks == 3 && cli.pageFusion == .weighted(0.5))
        #expect(try EngineSettings.retrievalOptions(flags: ["--neighbours": "3"], environment: nil) == RetrievalOptions(neighbourChunks: 3))
    }

    @Test(arguments: [
        ("--retrieval", "psychic"), ("--fusion", "weighted:2"), ("--fusion", "rrf:-1"), ("--fusion", "rrf:1000001"),
        ("--neighbours", "-1"), ("--neighbours", "101"), ("--page-fusion", "1.5"), ("--page-fusion", "nan"), ("--page-fusion", "on"), ("--min-score", "1.5"), ("--min-score", "nan"), ("--min-score", "inf"),
    ])
    func badRetrievalValuesNameTheFlagAndOnlyTheFlagForTheCLI(_ flag: String, _ value: String) {
        do {
            _ = try EngineSettings.retrievalOptions(flags: [flag: value], environment: nil)
            Issue.record("\(flag) \(value) was accepted")
        } catch {
            #expect(error.message.hasPrefix("\(flag) must be "), "\(error.message)")
            #expect(!error.message.contains("RAG_"), "rag reads no variable for it: \(error.message)")
        }
        do {
            _ = try EngineSettings.retrievalOptions(flags: [flag: value], environment: [:])
            Issue.record("\(flag) \(value) was accepted")
        } catch {
            #expect(error.message.hasPrefix("\(flag) (RAG_"), "\(error.message)")
        }
    }

    @Test func rankFusionsConstantIsBounded() {
        #expect(RetrievalOptions.Fusion("rrf:1000000") == .reciprocalRank(k: 1_000_000))
        #expect(RetrievalOptions.Fusion("rrf:9223372036854775807") == nil)
        #expect(RetrievalOptions.ScoreThreshold("-1") == .value(-1))
        #expect(RetrievalOptions.ScoreThreshold("1.01") == nil)
    }

    @Test func errorsQuoteTheValueOnOneLineAndNeverASecret() throws {
        let port = Setting<Int>.integer(flag: "--port", variable: "PORT", default: 1, in: 0...9, help: "")
        #expect(throws: SettingError(flag: "--port", variable: "PORT", #"PORT (--port) must be an integer from 0 to 9, not '1\n2\'3'"#)) {
            try port.value(flag: nil, environment: ["PORT": "1\n2'3"])
        }
        let long = String(repeating: "9", count: 200)
        do {
            _ = try port.value(flag: long, environment: [:])
        } catch {
            #expect(error.message.hasSuffix("'" + String(repeating: "9", count: 80) + "…'"))
        }
        var secret = port
        secret.isSecret = true
        #expect(throws: SettingError(flag: "--port", variable: "PORT", "PORT (--port) must be an integer from 0 to 9")) {
            try secret.value(flag: nil, environment: ["PORT": "hunter2"])
        }
    }

    @Test func secondsAreFiniteAndInRange() throws {
        let interval = Setting<Duration>.seconds(flag: nil, variable: "S", default: .seconds(1), in: 0...10, excludingZero: true, help: "")
        #expect(try interval.value(flag: nil, environment: ["S": "0.25"]) == .milliseconds(250))
        for bad in ["0", "-1", "10.5", "nan", "inf", "1e300", "", "ten"] {
            #expect(throws: SettingError.self, "\(bad)") { try interval.value(flag: nil, environment: ["S": bad]) }
        }
    }
}
