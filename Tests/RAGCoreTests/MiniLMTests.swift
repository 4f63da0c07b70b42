import CEncoderKernels
import Foundation
import Prometheus
import RAGCore
import Testing

/// The models directory `scripts/setup.sh` fills: `$RAG_MODELS_DIR`, else the user data directory
/// (`$XDG_DATA_HOME/pdf-chatbot/models`, `~/.local/share/pdf-chatbot/models`).
let testModelsDirectory: URL = {
    let environment = ProcessInfo.processInfo.environment
    if let path = environment["RAG_MODELS_DIR"], !path.isEmpty { return URL(fileURLWithPath: path) }
    let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.local/share"
    return URL(fileURLWithPath: dataHome).appendingPathComponent("pdf-chatbot/models")
}()

/// The MiniLM model folder, or a failure telling how to install it. Tests that need the model fail, never skip.
func requireMiniLMDirectory(sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
    let folder = testModelsDirectory.appendingPathComponent(MiniLMEmbedder.directoryName)
    try #require(
        MiniLMEmbedder.isInstalled(in: testModelsDirectory),
        "all-MiniLM-L6-v2 is not in \(folder.path); run scripts/setup.sh (or scripts/fetch-model.sh)",
        sourceLocation: sourceLocation)
    return folder
}

/// One embedder for the whole suite: the weights are mapped once.
let sharedMiniLM: Result<MiniLMEmbedder, any Error> = Result {
    try MiniLMEmbedder(modelDirectory: testModelsDirectory.appendingPathComponent(MiniLMEmbedder.directoryName))
}

/// The same model with fp32 dense layers, whatever the CPU.
let sharedMiniLMF32: Result<MiniLMEmbedder, any Error> = Result {
    try MiniLMEmbedder(
        modelDirectory: testModelsDirectory.appendingPathComponent(MiniLMEmbedder.directoryName),
        configuration: .init(precision: .f32))
}

/// The suite's embedder: the default precision (int8 on a CPU with AVX-512 VNNI), or fp32.
func requireMiniLM(_ precision: MiniLMEmbedder.Precision = .auto, sourceLocation: SourceLocation = #_sourceLocation) throws -> MiniLMEmbedder {
    _ = try requireMiniLMDirectory(sourceLocation: sourceLocation)
    return try (precision.resolved == .f32 ? sharedMiniLMF32 : sharedMiniLM).get()
}

struct MiniLMReference: Decodable {
    struct Case: Decodable {
        var text: String
        var token_ids: [Int32]
        var untruncated_token_count: Int
        var embedding: [Float]
    }
    var max_tokens: Int
    var cases: [Case]

    static func load() throws -> MiniLMReference {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/minilm-reference.json")
        return try JSONDecoder().decode(MiniLMReference.self, from: Data(contentsOf: url))
    }
}

func cosine(_ a: [Float], _ b: [Float]) -> Float {
    var dot: Float = 0, na: Float = 0, nb: Float = 0
    for (x, y) in zip(a, b) {
        dot += x * y
        na += x * x
        nb += y * y
    }
    return dot / (na.squareRoot() * nb.squareRoot())
}

@Suite struct WordPieceTokenizerTests {
    /// A small vocabulary, so that these cases do not need the model.
    let tokenizer = try! WordPieceTokenizer(tokens: [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "cafe", "creme", "un", "##aff", "##able", "!", ".", ",", "?", "(", ")",
        "東", "京", "hello", "world", "ok", "##s", "$", "5", "a", "##a",
    ])

    func pieces(_ text: String) -> [String] { tokenizer.wordPieces(text).map { tokenizer.token($0) } }

    @Test(arguments: [
        ("Café Crème", ["cafe", "creme"]),
        ("unaffable", ["un", "##aff", "##able"]),
        ("hello,world!", ["hello", ",", "world", "!"]),
        ("(ok?)", ["(", "ok", "?", ")"]),
        ("東京", ["東", "京"]),
        ("hello東京world", ["hello", "東", "京", "world"]),
        ("$5", ["$", "5"]),
        ("oks", ["ok", "##s"]),
        ("HELLO\tworld\u{00A0}ok\r\n", ["hello", "world", "ok"]),
        ("hel\u{0007}lo wor\u{200B}ld", ["hello", "world"]),
        ("hello 😀 world", ["hello", "[UNK]", "world"]),
        ("unknownword hello", ["[UNK]", "hello"]),
        ("hello [UNK] world[SEP]", ["hello", "[UNK]", "world", "[SEP]"]),
        ("", []),
    ])
    func splitsWordsLikeBert(text: String, expected: [String]) {
        #expect(pieces(text) == expected)
    }

    @Test func wordsLongerThanTheLimitAreUnknown() {
        #expect(pieces(String(repeating: "a", count: 100)).first != "[UNK]")
        #expect(pieces(String(repeating: "a", count: 101)) == ["[UNK]"])
    }

    @Test func encodingAddsClassifierAndSeparatorAndTruncates() {
        let short = tokenizer.encode("hello world", maxTokens: 256)
        #expect(short.ids.map { tokenizer.token($0) } == ["[CLS]", "hello", "world", "[SEP]"])
        #expect(!short.truncated)
        #expect(short.untruncatedCount == 4)

        let long = tokenizer.encode(Array(repeating: "hello", count: 300).joined(separator: " "), maxTokens: 256)
        #expect(long.ids.count == 256)
        #expect(long.ids.first.map { tokenizer.token($0) } == "[CLS]")
        #expect(long.ids.last.map { tokenizer.token($0) } == "[SEP]")
        #expect(long.truncated)
        #expect(long.untruncatedCount == 302)

        let exact = tokenizer.encode(Array(repeating: "hello", count: 254).joined(separator: " "), maxTokens: 256)
        #expect(exact.ids.count == 256 && !exact.truncated)
    }

    @Test func aVocabularyWithoutSpecialTokensIsRefused() {
        #expect(throws: ModelError.self) { try WordPieceTokenizer(tokens: ["hello", "[UNK]"]) }
    }
}

@Suite struct SafeTensorsTests {
    /// Writes a safetensors file with the given header and data.
    func write(header: String, data: [UInt8]) throws -> URL {
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) }
        bytes += Array(header.utf8) + data
        let url = temporaryDirectory().appendingPathComponent("weights.safetensors")
        try Data(bytes).write(to: url)
        return url
    }

    @Test func readsF32TensorsFromTheMapping() throws {
        let values: [Float] = [1, -2, 3.5, 0.25, 5, 6]
        let data = values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }
        let url = try write(
            header: #"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#, data: data)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let file = try SafeTensors(contentsOf: url)
        #expect(file.metadata == ["format": "pt"])
        #expect(Array(try file.floats("w", shape: [2, 3])) == values)
        #expect(throws: ModelError.self) { try file.floats("w", shape: [3, 2]) }
        #expect(throws: ModelError.self) { try file.floats("missing", shape: [1]) }
    }

    @Test(arguments: [
        #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,28]}}"#,  // past the end
        #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,24]}}"#,  // bytes do not match the shape
        #"{"w":{"dtype":"F32","shape":[2,3]}}"#,  // no offsets
        #"not json"#,
    ])
    func refusesInconsistentHeaders(header: String) throws {
        let url = try write(header: header, data: Array(repeating: 0, count: 24))
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        #expect(throws: ModelError.self) { try SafeTensors(contentsOf: url) }
    }

    @Test func aMissingFileIsNotFound() {
        do {
            _ = try SafeTensors(contentsOf: URL(fileURLWithPath: "/nonexistent/model.safetensors"))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .notFound)
        }
    }
}

/// Serialized: each test runs the model (slow in debug builds) on every core.
@Suite(.serialized) struct MiniLMEmbedderTests {
    @Test func tokenizesLikeTheReferenceTokenizer() throws {
        let embedder = try requireMiniLM()
        let reference = try MiniLMReference.load()
        for item in reference.cases {
            let encoding = embedder.tokenizer.encode(item.text, maxTokens: reference.max_tokens)
            #expect(encoding.ids == item.token_ids, "tokens differ for \(item.text.prefix(60))")
            #expect(encoding.untruncatedCount == item.untruncated_token_count)
            #expect(encoding.truncated == (item.untruncated_token_count > reference.max_tokens))
        }
    }

    @Test func matchesSentenceTransformers() async throws {
        let embedder = try requireMiniLM(.f32)
        #expect(embedder.precision == .f32)
        let reference = try MiniLMReference.load()
        let vectors = try await embedder.embed(reference.cases.map(\.text))
        #expect(vectors.count == reference.cases.count)
        for (vector, item) in zip(vectors, reference.cases) {
            #expect(vector.count == 384)
            let similarity = cosine(vector, item.embedding)
            #expect(similarity >= 0.999, "cosine \(similarity) for \(item.text.prefix(60))")
        }
    }

    /// The int8 encoder's promise: every reference text's embedding within cosine 0.995 of fp32's (and of
    /// sentence-transformers'), and the same ranking of a paraphrase over unrelated text.
    @Test func theInt8EncoderStaysWithinCosine0995OfFP32() async throws {
        let folder = try requireMiniLMDirectory()
        let int8 = try MiniLMEmbedder(modelDirectory: folder, configuration: .init(precision: .i8))
        #expect(int8.precision == .i8)
        #expect(MiniLMEmbedder.Precision.auto.resolved == (ragenc_i8_accelerated() != 0 ? .i8 : .f32))
        let fp32 = try requireMiniLM(.f32)
        let reference = try MiniLMReference.load()
        let texts = reference.cases.map(\.text)
        let quantized = try await int8.embed(texts)
        let exact = try await fp32.embed(texts)
        var lowest: Float = 1
        for ((vector, item), exactVector) in zip(zip(quantized, reference.cases), exact) {
            let toFP32 = cosine(vector, exactVector), toReference = cosine(vector, item.embedding)
            lowest = min(lowest, toFP32)
            #expect(toFP32 >= 0.995, "cosine to fp32 \(toFP32) for \(item.text.prefix(60))")
            #expect(toReference >= 0.995, "cosine to sentence-transformers \(toReference) for \(item.text.prefix(60))")
        }
        // Not the same numbers: the int8 path really ran.
        #expect(lowest < 0.99999)
    }

    @Test func aTextEmbedsTheSameAloneAsInABatch() async throws {
        let embedder = try requireMiniLM()
        let texts = ["short", String(repeating: "a much longer text about matrices ", count: 20), "third one"]
        let batch = try await embedder.embed(texts)
        for (text, batched) in zip(texts, batch) {
            let alone = try await embedder.embed([text])[0]
            #expect(cosine(alone, batched) > 0.99999)
        }
    }

    @Test func concurrentCallsShareOneModel() async throws {
        let embedder = try requireMiniLM()
        let texts = (0..<12).map { "sentence number \($0) about linear algebra" }
        let expected = try await embedder.embed(texts)
        let results = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (index, text) in texts.enumerated() { group.addTask { (index, try await embedder.embed([text])[0]) } }
            return try await group.reduce(into: [Int: [Float]]()) { $0[$1.0] = $1.1 }
        }
        for (index, vector) in expected.enumerated() { #expect(cosine(results[index]!, vector) > 0.99999) }
    }

    @Test func paraphrasesAreCloserThanUnrelatedText() async throws {
        let embedder = try requireMiniLM()
        let vectors = try await embedder.embed([
            "How do I compute the inverse of a matrix?",
            "Use inv(A) to obtain A⁻¹ for a square, non-singular A.",
            "Bananas are a good source of potassium.",
        ])
        #expect(cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.2)
    }

    @Test func truncatedTextsAreCounted() async throws {
        let folder = try requireMiniLMDirectory()
        let metrics = RAGMetrics()
        let embedder = try MiniLMEmbedder(modelDirectory: folder, metrics: metrics)
        _ = try await embedder.embed([String(repeating: "word ", count: 300), "short", String(repeating: "x y ", count: 200)])
        #expect(metrics.render().contains(#"rag_embedding_truncated_total{embedder="minilm-l6-v2-d384"} 2"#))
    }

    @Test func aMissingModelSaysHowToFetchIt() {
        do {
            _ = try MiniLMEmbedder(modelDirectory: URL(fileURLWithPath: "/nonexistent/all-MiniLM-L6-v2"))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.message.contains("RAG_MODELS_DIR") && !error.message.contains("scripts/"))
        }
    }
}
