import Foundation
import Logging
import PropertyBased
import RAGCore
import RAGServer
import Testing

/// `ServerConfiguration(flags:environment:)`: one precedence rule, every value checked once, fail-closed keys and
/// booleans, and errors that name the flag and the variable (issue #12 items 5 and 11, issue #15 item 4).
@Suite struct ConfigurationTests {
    /// A bad value: given as a flag (`--x`) or in the environment (`RAG_X`), and the setting the error must name.
    struct Bad: Sendable, CustomTestStringConvertible {
        var flags: [String: String] = [:]
        var environment: [String: String] = [:]
        var flag: String?
        var variable: String
        var testDescription: String { "\(flags) \(environment.mapValues { $0.debugDescription })" }
    }

    static let badValues: [Bad] = [
        // The issue's own values.
        Bad(environment: ["RAG_MAX_UPLOAD_BYTES": "-1"], flag: "--max-upload-bytes", variable: "RAG_MAX_UPLOAD_BYTES"),
        Bad(flags: ["--request-timeout": "1e300"], flag: "--request-timeout", variable: "RAG_REQUEST_TIMEOUT"),
        Bad(flags: ["--grace-period": "nan"], flag: "--grace-period", variable: "RAG_GRACE_PERIOD"),
        Bad(environment: ["RAG_PORT": "70000"], flag: "--port", variable: "RAG_PORT"),
        Bad(environment: ["RAG_RELOAD_INTERVAL": "-1"], flag: "--reload-interval", variable: "RAG_RELOAD_INTERVAL"),
        Bad(environment: ["RAG_API_KEYS": ","], variable: "RAG_API_KEYS"),
        Bad(environment: ["RAG_API_KEYS": ""], variable: "RAG_API_KEYS"),
        Bad(environment: ["RAG_API_KEYS": "  \n "], variable: "RAG_API_KEYS"),
        Bad(environment: ["RAG_API_KEYS": "# the keys go here\n"], variable: "RAG_API_KEYS"),
        Bad(environment: ["RAG_API_KEYS": "team:short"], variable: "RAG_API_KEYS"),
        Bad(environment: ["RAG_READ_ONLY": "y"], flag: "--read-only", variable: "RAG_READ_ONLY"),
        Bad(environment: ["RAG_READ_ONLY": "enabled"], flag: "--read-only", variable: "RAG_READ_ONLY"),
        Bad(environment: ["RAG_READ_ONLY": ""], flag: "--read-only", variable: "RAG_READ_ONLY"),
        // Every other kind of setting.
        Bad(flags: ["--request-timeout": "0"], flag: "--request-timeout", variable: "RAG_REQUEST_TIMEOUT"),
        Bad(environment: ["RAG_GRACE_PERIOD": "inf"], flag: "--grace-period", variable: "RAG_GRACE_PERIOD"),
        Bad(environment: ["RAG_RELOAD_INTERVAL": "0"], flag: "--reload-interval", variable: "RAG_RELOAD_INTERVAL"),
        Bad(environment: ["RAG_PORT": "-1"], flag: "--port", variable: "RAG_PORT"),
        Bad(environment: ["RAG_PORT": ""], flag: "--port", variable: "RAG_PORT"),
        Bad(environment: ["RAG_PORT": "8501.5"], flag: "--port", variable: "RAG_PORT"),
        Bad(environment: ["RAG_METRICS_PORT": "65536"], flag: "--metrics-port", variable: "RAG_METRICS_PORT"),
        Bad(flags: ["--port": "9000", "--metrics-port": "9000"], flag: "--metrics-port", variable: "RAG_METRICS_PORT"),
        Bad(environment: ["RAG_MAX_FORM_PARTS": "0"], flag: "--max-form-parts", variable: "RAG_MAX_FORM_PARTS"),
        Bad(environment: ["RAG_MAX_PART_HEADER_BYTES": "-5"], flag: "--max-part-header-bytes", variable: "RAG_MAX_PART_HEADER_BYTES"),
        Bad(environment: ["RAG_MAX_PAGES": "0"], flag: "--max-pages", variable: "RAG_MAX_PAGES"),
        Bad(environment: ["RAG_MAX_CHARACTERS": "lots"], flag: "--max-characters", variable: "RAG_MAX_CHARACTERS"),
        Bad(flags: ["--max-characters-per-byte": "inf"], flag: "--max-characters-per-byte", variable: "RAG_MAX_CHARACTERS_PER_BYTE"),
        Bad(environment: ["RAG_MAX_CHARACTERS_PER_BYTE": "-0.5"], flag: "--max-characters-per-byte", variable: "RAG_MAX_CHARACTERS_PER_BYTE"),
        Bad(environment: ["RAG_MIN_CHARACTER_ALLOWANCE": "-1"], flag: "--min-character-allowance", variable: "RAG_MIN_CHARACTER_ALLOWANCE"),
        Bad(environment: ["RAG_MAX_COLLECTION_CHUNKS": "-1"], flag: "--max-collection-chunks", variable: "RAG_MAX_COLLECTION_CHUNKS"),
        Bad(environment: ["RAG_RATE_LIMIT": "-1"], flag: "--rate-limit", variable: "RAG_RATE_LIMIT"),
        Bad(environment: ["RAG_RATE_BURST": "0"], flag: "--rate-burst", variable: "RAG_RATE_BURST"),
        Bad(environment: ["RAG_MAX_CONCURRENT_LLM": "0"], flag: "--max-concurrent-llm", variable: "RAG_MAX_CONCURRENT_LLM"),
        Bad(environment: ["RAG_LLM_QUEUE": "-1"], flag: "--llm-queue", variable: "RAG_LLM_QUEUE"),
        Bad(environment: ["RAG_HOST": "local host"], flag: "--host", variable: "RAG_HOST"),
        Bad(environment: ["RAG_CORS_ORIGIN": "https://app.example/path"], flag: "--cors-origin", variable: "RAG_CORS_ORIGIN"),
        Bad(environment: ["RAG_CORS_ORIGIN": "https://app.example\r\nX-Evil: 1"], flag: "--cors-origin", variable: "RAG_CORS_ORIGIN"),
        Bad(environment: ["RAG_LOG_FORMAT": "xml"], flag: "--log-format", variable: "RAG_LOG_FORMAT"),
        Bad(environment: ["RAG_LOG_LEVEL": "loud"], flag: "--log-level", variable: "RAG_LOG_LEVEL"),
        Bad(environment: ["RAG_LLM": "psychic"], flag: "--llm", variable: "RAG_LLM"),
        Bad(environment: ["RAG_RETRIEVAL": "psychic"], flag: "--retrieval", variable: "RAG_RETRIEVAL"),
        Bad(environment: ["RAG_FUSION": "weighted:2"], flag: "--fusion", variable: "RAG_FUSION"),
        Bad(environment: ["RAG_FUSION": "rrf:9223372036854775807"], flag: "--fusion", variable: "RAG_FUSION"),
        Bad(environment: ["RAG_NEIGHBOURS": "-1"], flag: "--neighbours", variable: "RAG_NEIGHBOURS"),
        Bad(environment: ["RAG_MIN_SCORE": "2"], flag: "--min-score", variable: "RAG_MIN_SCORE"),
        Bad(environment: ["RAG_MIN_SCORE": "nan"], flag: "--min-score", variable: "RAG_MIN_SCORE"),
        Bad(environment: ["RAG_QUERY_REWRITES": "9"], flag: "--query-rewrites", variable: "RAG_QUERY_REWRITES"),
        Bad(flags: ["--query-rewrites": "-1"], flag: "--query-rewrites", variable: "RAG_QUERY_REWRITES"),
        Bad(environment: ["RAG_HYPOTHETICAL_ANSWER": "sometimes"], flag: "--hypothetical-answer", variable: "RAG_HYPOTHETICAL_ANSWER"),
        Bad(environment: ["RAG_COLLECTION": ""], flag: "--collection", variable: "RAG_COLLECTION"),
        Bad(environment: ["RAG_ROLE": "both"], flag: "--role", variable: "RAG_ROLE"),
        Bad(environment: ["RAG_UPLOAD_MODE": "later"], flag: "--upload-mode", variable: "RAG_UPLOAD_MODE"),
        Bad(environment: ["RAG_JOB_LEASE": "0"], flag: "--job-lease", variable: "RAG_JOB_LEASE"),
        Bad(environment: ["RAG_WORKER_CONCURRENCY": "0"], flag: "--worker-concurrency", variable: "RAG_WORKER_CONCURRENCY"),
        Bad(environment: ["RAG_JOB_ATTEMPTS": "0"], flag: "--job-attempts", variable: "RAG_JOB_ATTEMPTS"),
        Bad(environment: ["RAG_INDEX_WAIT": "-1"], flag: "--index-wait", variable: "RAG_INDEX_WAIT"),
    ]

    @Test(arguments: badValues)
    func aBadValueIsRefusedNamingItsFlagAndVariable(_ bad: Bad) throws {
        do {
            let configuration = try ServerConfiguration(flags: bad.flags, environment: bad.environment)
            Issue.record("accepted: \(configuration)")
        } catch {
            #expect(error.variable == bad.variable)
            #expect(error.message.contains(bad.variable))
            if let flag = bad.flag { #expect(error.message.contains(flag)) }
            #expect(!error.message.contains("\n"), "one line")
        }
    }

    @Test func theErrorReadsAsTheIssueAsks() {
        #expect(throws: SettingError(
            flag: "--port", variable: "RAG_PORT", "RAG_PORT (--port) must be an integer from 0 to 65535 (0: any free port), not '70000'"
        )) { try ServerConfiguration(flags: [:], environment: ["RAG_PORT": "70000"]) }
        #expect(throws: SettingError(
            flag: "--grace-period", variable: "RAG_GRACE_PERIOD",
            "--grace-period (RAG_GRACE_PERIOD) must be a number of seconds from 0 to 3600, not 'nan'"
        )) { try ServerConfiguration(flags: ["--grace-period": "nan"], environment: [:]) }
        #expect(throws: SettingError(
            flag: "--cors-origin", variable: "RAG_CORS_ORIGIN",
            "RAG_CORS_ORIGIN (--cors-origin) must be * or an origin such as https://example.com:8443 (scheme, host and optional port), not 'a\\r\\nb'"
        )) { try ServerConfiguration(flags: [:], environment: ["RAG_CORS_ORIGIN": "a\r\nb"]) }
    }

    @Test func anUnknownFlagIsAnError() {
        #expect(throws: SettingError.self) { try ServerConfiguration(flags: ["--prot": "1"], environment: [:]) }
    }

    // MARK: Booleans and keys: fail closed

    @Test(arguments: [
        ("true", true), ("TRUE", true), ("1", true), ("yes", true), ("Yes", true), ("on", true), ("ON", true),
        ("false", false), ("False", false), ("0", false), ("no", false), ("off", false), ("OFF", false),
    ])
    func booleansAcceptOnlyTheirWords(_ text: String, _ expected: Bool) throws {
        #expect(try ServerConfiguration(flags: [:], environment: ["RAG_READ_ONLY": text]).readOnly == expected)
    }

    @Test(arguments: ["y", "n", "enabled", "disabled", "2", "-1", "t", "f", "", " true", "true ", "yes please", "null"])
    func anyOtherBooleanIsAnError(_ text: String) {
        #expect(throws: SettingError.self) { try ServerConfiguration(flags: [:], environment: ["RAG_READ_ONLY": text]) }
    }

    @Test func keysComeFromTheVariableAndTheFileTogether() throws {
        let configuration = try ServerConfiguration(
            flags: [:], environment: ["RAG_API_KEYS": "team-a:aaaaaaaaaa", "RAG_API_KEYS_FILE": "/keys"],
            readFile: { path in
                #expect(path == "/keys")
                return "# clients\nteam-b:bbbbbbbbbb\n\nteam-c:cccccccccc\n"
            })
        #expect(configuration.apiKeys == ["aaaaaaaaaa": "team-a", "bbbbbbbbbb": "team-b", "cccccccccc": "team-c"])
    }

    @Test(arguments: ["", "\n", "# no keys yet\n", ",\n,", "   "])
    func aKeysFileWithoutKeysIsAnError(_ contents: String) {
        do {
            _ = try ServerConfiguration(flags: [:], environment: ["RAG_API_KEYS_FILE": "/keys"], readFile: { _ in contents })
            Issue.record("a keys file without keys left the API open")
        } catch {
            #expect(error.variable == "RAG_API_KEYS_FILE")
            #expect(error.message.contains("RAG_API_KEYS_FILE ('/keys')"))
        }
    }

    @Test func anUnreadableKeysFileIsAnError() {
        struct Missing: Error {}
        #expect(throws: SettingError(variable: "RAG_API_KEYS_FILE", "RAG_API_KEYS_FILE names '/keys', which cannot be read")) {
            try ServerConfiguration(flags: [:], environment: ["RAG_API_KEYS_FILE": "/keys"], readFile: { _ in throw Missing() })
        }
    }

    @Test func keyErrorsNeverQuoteTheKeys() {
        do {
            _ = try ServerConfiguration(flags: [:], environment: ["RAG_API_KEYS": "team-a:secret1"])
            Issue.record("a short key was accepted")
        } catch {
            #expect(!error.message.contains("secret1"))
            #expect(error.message.hasPrefix("RAG_API_KEYS must be one or more name:key entries"))
        }
    }

    @Test func noKeySettingLeavesTheAPIOpen() throws {
        #expect(try ServerConfiguration(flags: [:], environment: [:]).apiKeys.isEmpty)
    }

    // MARK: Precedence and defaults

    @Test func aFlagBeatsTheVariableWhichBeatsTheDefault() throws {
        let environment = [
            "RAG_PORT": "9001", "RAG_RATE_LIMIT": "5", "RAG_REQUEST_TIMEOUT": "2.5", "RAG_FUSION": "rrf:10",
            "RAG_MAX_PAGES": "7", "RAG_LOG_LEVEL": "debug", "RAG_READ_ONLY": "off",
        ]
        let flags = ["--port": "9002", "--fusion": "weighted:0.25", "--max-pages": "8", "--read-only": "true"]
        let both = try ServerConfiguration(flags: flags, environment: environment)
        #expect(both.port == 9002)
        #expect(both.retrieval.fusion == .weighted(vectorWeight: 0.25))
        #expect(both.extraction.maxPages == 8)
        #expect(both.readOnly)
        #expect(both.rateLimitPerMinute == 5)
        #expect(both.requestTimeout == .milliseconds(2500))
        #expect(both.logLevel == .debug)
        #expect(both.metricsPort == 8502)

        let variables = try ServerConfiguration(flags: [:], environment: environment)
        #expect(variables.port == 9001)
        #expect(variables.retrieval.fusion == .reciprocalRank(k: 10))
        #expect(variables.extraction.maxPages == 7)
        #expect(!variables.readOnly)

        let defaults = try ServerConfiguration(flags: [:], environment: [:])
        #expect(defaults.port == 8501)
        #expect(defaults.queryRewriting == QueryRewriting() && !defaults.engineConfiguration.queryRewriting.isEnabled)
        #expect(defaults.retrieval.fusion == .automatic)
        #expect(defaults.extraction.maxPages == 10_000)
        #expect(defaults.rateLimitPerMinute == 120)
    }

    @Test func queryRewritingIsReadAndReachesTheEngine() throws {
        let environment = ["RAG_QUERY_REWRITES": "3", "RAG_HYPOTHETICAL_ANSWER": "on"]
        let variables = try ServerConfiguration(flags: [:], environment: environment)
        #expect(variables.queryRewriting == QueryRewriting(reformulations: 3, hypotheticalAnswer: true))
        #expect(variables.engineConfiguration.queryRewriting == variables.queryRewriting)
        let flags = try ServerConfiguration(flags: ["--query-rewrites": "8", "--hypothetical-answer": "true"], environment: [:])
        #expect(flags.queryRewriting == QueryRewriting(reformulations: 8, hypotheticalAnswer: true))
        #expect(throws: SettingError(
            flag: "--query-rewrites", variable: "RAG_QUERY_REWRITES",
            "RAG_QUERY_REWRITES (--query-rewrites) must be an integer from 0 to 8 (0 turns it off), not '20'"
        )) { try ServerConfiguration(flags: [:], environment: ["RAG_QUERY_REWRITES": "20"]) }
        // A configuration built in code is checked too.
        #expect(throws: (any Error).self) { try ServerConfiguration(collectionDirectory: URL(fileURLWithPath: "/c"), queryRewriting: QueryRewriting(reformulations: 9)).validate() }
    }

    @Test func theVectorFormatIsReadAndReachesTheEngineExceptInAWorker() throws {
        #expect(try ServerConfiguration(flags: [:], environment: [:]).engineConfiguration.vectorFormat == .auto)
        let variable = try ServerConfiguration(flags: [:], environment: ["RAG_VECTOR_FORMAT": "i8"])
        #expect(variable.vectorFormat == .i8 && variable.engineConfiguration.vectorFormat == .i8)
        #expect(try ServerConfiguration(flags: ["--vector-format": "f16"], environment: [:]).engineConfiguration.vectorFormat == .f16)
        let worker = try ServerConfiguration(flags: ["--role": "worker"], environment: ["RAG_VECTOR_FORMAT": "i8"])
        #expect(worker.engineConfiguration.vectorFormat == .f32, "a worker never searches")
        #expect(throws: SettingError(
            flag: "--vector-format", variable: "RAG_VECTOR_FORMAT",
            "RAG_VECTOR_FORMAT (--vector-format) must be auto, f32, f16 or i8, not 'int8'"
        )) { try ServerConfiguration(flags: [:], environment: ["RAG_VECTOR_FORMAT": "int8"]) }
    }

    @Test func theEncoderPrecisionIsRead() throws {
        #expect(try ServerConfiguration(flags: [:], environment: [:]).encoderPrecision == .auto)
        #expect(try ServerConfiguration(flags: [:], environment: ["RAG_ENCODER_PRECISION": "i8"]).encoderPrecision == .i8)
        #expect(try ServerConfiguration(flags: ["--encoder-precision": "f32"], environment: ["RAG_ENCODER_PRECISION": "i8"]).encoderPrecision == .f32)
        #expect(throws: SettingError(
            flag: "--encoder-precision", variable: "RAG_ENCODER_PRECISION",
            "RAG_ENCODER_PRECISION (--encoder-precision) must be auto, f32 or i8, not 'bf16'"
        )) { try ServerConfiguration(flags: [:], environment: ["RAG_ENCODER_PRECISION": "bf16"]) }
    }

    @Test func theVectorStorageIsReadAndReachesTheEngine() throws {
        #expect(try ServerConfiguration(flags: [:], environment: [:]).engineConfiguration.vectorStorage == .f32)
        let read = try ServerConfiguration(flags: [:], environment: ["RAG_VECTOR_STORAGE": "f16"])
        #expect(read.vectorStorage == .f16 && read.engineConfiguration.vectorStorage == .f16)
        #expect(try ServerConfiguration(flags: ["--vector-storage": "i8"], environment: ["RAG_VECTOR_STORAGE": "f16"]).vectorStorage == .i8)
        #expect(throws: SettingError(
            flag: "--vector-storage", variable: "RAG_VECTOR_STORAGE",
            "RAG_VECTOR_STORAGE (--vector-storage) must be f32, f16 or i8, not 'bf16'"
        )) { try ServerConfiguration(flags: [:], environment: ["RAG_VECTOR_STORAGE": "bf16"]) }
    }

    @Test func aBadVariableUnderAFlagIsNotRead() throws {
        #expect(try ServerConfiguration(flags: ["--port": "9000"], environment: ["RAG_PORT": "banana"]).port == 9000)
    }

    @Test func theDefaultsAreTheTables() throws {
        let read = try ServerConfiguration(flags: [:], environment: ["HOME": "/home/someone"])
        let made = ServerConfiguration(collectionDirectory: URL(fileURLWithPath: "/home/someone/.local/share/pdf-chatbot/collection"))
        #expect(read.collectionDirectory == made.collectionDirectory)
        #expect(read.host == made.host && read.host == "0.0.0.0")
        #expect(read.port == made.port && read.metricsPort == made.metricsPort)
        #expect(read.readOnly == made.readOnly && read.reloadInterval == made.reloadInterval)
        #expect(read.maxUploadBytes == made.maxUploadBytes && read.maxUploadBytes == 64 << 20)
        #expect(read.maxFormParts == 16 && made.maxFormParts == 16)
        #expect(read.maxPartHeaderBytes == 8192 && made.maxPartHeaderBytes == 8192)
        #expect(read.rateLimitPerMinute == made.rateLimitPerMinute && read.rateLimitBurst == made.rateLimitBurst)
        #expect(read.maxConcurrentAnswers == made.maxConcurrentAnswers && read.answerQueueLength == made.answerQueueLength)
        #expect(read.requestTimeout == made.requestTimeout && read.gracePeriod == made.gracePeriod)
        #expect(read.corsOrigin == nil && made.corsOrigin == nil)
        #expect(read.extraction == made.extraction && read.maxCollectionChunks == made.maxCollectionChunks)
        #expect(read.llm == made.llm && read.retrieval == made.retrieval)
        #expect(read.logFormat == made.logFormat && read.logLevel == made.logLevel)
        try made.validate()
    }

    @Test func theCollectionIsResolvedAsTheCLIResolvesIt() throws {
        let environment = ["HOME": "/home/a", "XDG_DATA_HOME": "/data"]
        let read = try ServerConfiguration(flags: [:], environment: environment)
        #expect(read.collectionDirectory == (try EngineSettings.collectionDirectory(flag: nil, environment: environment)))
        #expect(read.collectionDirectory.path == "/data/pdf-chatbot/collection")
        let named = try ServerConfiguration(flags: [:], environment: environment.merging(["RAG_COLLECTION": "/srv/c"]) { $1 })
        #expect(named.collectionDirectory.path == "/srv/c")
        let flagged = try ServerConfiguration(flags: ["--collection": "/x"], environment: ["RAG_COLLECTION": "/srv/c"])
        #expect(flagged.collectionDirectory.path == "/x")
    }

    // MARK: The parser never crashes

    /// Texts a setting might be given: boundaries, specials, words of every setting's kind, and noise.
    static let interestingTexts = [
        "", " ", "0", "-0", "1", "-1", "+1", "8", "16", "0.05", "0.1", "1.5", "65535", "65536", "70000", "86400", "86401", "3600",
        "3601", "1e300", "-1e300", "1e-300", "nan", "NaN", "inf", "-inf", "infinity", "0x10", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "true", "TRUE", "on", "y", "enabled", "auto", "off", "none", "rrf",
        "rrf:60", "rrf:-1", "weighted:0.5", "weighted:nan", "hybrid", "vector", "json", "text", "debug", "critical", "*",
        "https://app.example", "http://a:0", "extractive", ",", "#", "team:aaaaaaaaaa", "k:short", "\n", "\0", "é", "a b",
    ]

    static let settingNames: [(flag: String?, variable: String?)] = ServerSettings.all.map { ($0.flag, $0.variable) }

    /// The reader either returns a configuration whose every field is in range, or throws an error that names one of
    /// the table's settings, for any flags and variables: it never crashes (a trap would end the test run).
    @Test func theReaderReturnsAValidConfigurationOrNamesASetting() async {
        let text = Gen.oneOf(
            Gen.element(of: Self.interestingTexts).map { $0 ?? "" }.eraseToAny(),
            Gen.int(in: -100_000...100_000).map { String($0) }.eraseToAny(),
            Gen.double(in: -1e6...1e6).map { "\($0)" }.eraseToAny(),
            Gen.ascii.string(of: 0...12).eraseToAny())
        let entry = zip(Gen.int(in: 0...(Self.settingNames.count - 1)), Gen.bool, text)
        await propertyCheck(count: 500, input: entry.array(of: 0...8)) { entries in
            var flags: [String: String] = [:]
            var environment: [String: String] = [:]
            for (index, asFlag, value) in entries {
                let names = Self.settingNames[index]
                if asFlag, let flag = names.flag { flags[flag] = value } else if let variable = names.variable { environment[variable] = value }
            }
            do {
                let configuration = try ServerConfiguration(
                    flags: flags, environment: environment, readFile: { _ in environment["RAG_API_KEYS"] ?? "" })
                Self.expectInRange(configuration)
            } catch let error as SettingError {
                let message = error.message
                let named = Self.settingNames.contains { names in
                    [names.variable, names.flag].contains { name in name.map { message.contains($0) } ?? false }
                }
                #expect(named, "\(message)")
                #expect(!message.contains("\n"))
            } catch {
                Issue.record("not a SettingError: \(error)")
            }
        }
    }

    /// Every field of a configuration the reader returned is in its documented range (written out here, not taken
    /// from the table, so that a wrong range in the table fails too).
    static func expectInRange(_ c: ServerConfiguration) {
        func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
        }
        #expect((0...65535).contains(c.port) && (0...65535).contains(c.metricsPort))
        #expect(c.port == 0 || c.port != c.metricsPort)
        #expect(!c.host.isEmpty && !c.host.contains(" "))
        #expect((0.1...86_400).contains(seconds(c.reloadInterval)))
        #expect(seconds(c.requestTimeout) > 0 && seconds(c.requestTimeout) <= 86_400)
        #expect((0...3_600).contains(seconds(c.gracePeriod)))
        #expect(c.maxUploadBytes >= 1 && c.maxFormParts >= 1 && c.maxPartHeaderBytes >= 1)
        #expect(c.extraction.maxPages >= 1 && c.extraction.maxCharacters >= 1 && c.extraction.minimumCharacterAllowance >= 0)
        #expect(c.extraction.maxCharactersPerByte.isFinite && c.extraction.maxCharactersPerByte >= 0)
        #expect(c.maxCollectionChunks >= 0 && c.rateLimitPerMinute >= 0 && c.rateLimitBurst >= 1)
        #expect(c.maxConcurrentAnswers >= 1 && c.answerQueueLength >= 0)
        #expect((0...100).contains(c.retrieval.neighbourChunks))
        #expect((0...8).contains(c.queryRewriting.reformulations))
        if case .value(let score) = c.retrieval.minimumScore { #expect((-1...1).contains(score)) }
        switch c.retrieval.fusion {
        case .automatic: break
        case .reciprocalRank(let k): #expect((0...1_000_000).contains(k))
        case .weighted(let weight): #expect((0...1).contains(weight))
        }
        if let origin = c.corsOrigin { #expect(origin == "*" || origin.hasPrefix("http")) }
        #expect((1...2_592_000).contains(seconds(c.cache.ttl)) && (1...2_592_000).contains(seconds(c.cache.embeddingTTL)))
        #expect((1024...(64 << 20)).contains(c.cache.maxEntryBytes))
        if let redis = c.redis {
            #expect(seconds(redis.commandTimeout) > 0 && seconds(redis.commandTimeout) <= 60)
            #expect(seconds(redis.connectTimeout) > 0 && seconds(redis.connectTimeout) <= 300)
            #expect((1...64).contains(redis.connections) && redis.keyPrefix.utf8.count <= 64 && !redis.host.isEmpty)
            #expect(redis.maxReplyBytes > c.cache.maxEntryBytes)
        }
        #expect(c.apiKeys.keys.allSatisfy { $0.count >= 8 })
        #expect(throws: Never.self) { try c.validate() }
    }

    // MARK: The documentation

    /// docs/configuration.md's server table lists exactly the table's settings, each with its flag, variable, default
    /// and accepted values.
    @Test func theDocumentedServerSettingsAreTheTables() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let section = try #require(text.range(of: "## Server (`rag-server`)")).upperBound
        let rows = text[section...].split(separator: "\n").drop { !$0.hasPrefix("| flag |") }.dropFirst(2).prefix { $0.hasPrefix("|") }
        struct Row: Hashable, CustomStringConvertible {
            var flag: String?
            var variable: String?
            var defaultText: String
            var requirement: String
            var description: String { "\(flag ?? "—") \(variable ?? "—") \(defaultText) [\(requirement)]" }
        }
        func cell(_ text: Substring) -> String {
            text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "")
        }
        let documented = Set(rows.map { row in
            // `\|` is a pipe inside a cell.
            let cells = row.replacingOccurrences(of: "\\|", with: "/").dropFirst().split(separator: "|", omittingEmptySubsequences: false)
                .map(cell)
            let flag = cells[0] == "—" ? nil : String(cells[0].split(separator: " ")[0])
            return Row(flag: flag, variable: cells[1] == "—" ? nil : cells[1], defaultText: cells[2], requirement: cells[3])
        })
        let table = Set(ServerSettings.all.map {
            Row(flag: $0.flag, variable: $0.variable, defaultText: $0.defaultText, requirement: $0.requirement)
        })
        #expect(documented.subtracting(table).isEmpty, "in the documentation only: \(documented.subtracting(table))")
        #expect(table.subtracting(documented).isEmpty, "in the table only: \(table.subtracting(documented))")
        #expect(rows.count == ServerSettings.all.count)
    }
}
