import RAGCore
import Testing

@Suite struct HashingEmbedderTests {
    let embedder = HashingEmbedder()

    func cosine(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    @Test func vectorsAreUnitLengthWithTheDeclaredDimension() async throws {
        let vectors = try await embedder.embed(["Hello world", "Ünïcödé text 東京", ""])
        #expect(vectors.count == 3)
        for vector in vectors { #expect(vector.count == 512) }
        #expect(abs(cosine(vectors[0], vectors[0]) - 1) < 1e-5)
        #expect(abs(cosine(vectors[1], vectors[1]) - 1) < 1e-5)
        #expect(vectors[2].allSatisfy { $0 == 0 })
        #expect(embedder.identifier == "hashing-v1-d512")
    }

    @Test func sharedWordsScoreHigherThanUnrelatedText() {
        let query = embedder.vector(for: "How do I reset the router password?")
        let related = embedder.vector(for: "To reset the password of your router, hold the button for ten seconds.")
        let unrelated = embedder.vector(for: "Bananas are a good source of potassium and fibre.")
        #expect(cosine(query, related) > 0.3)
        #expect(cosine(query, related) > cosine(query, unrelated) + 0.2)
    }

    @Test func caseStopWordsAndPluralsDoNotMatter() {
        let a = embedder.vector(for: "The Routers")
        let b = embedder.vector(for: "router")
        #expect(cosine(a, b) > 0.99)
    }

    @Test func isDeterministic() {
        #expect(embedder.vector(for: "same text") == HashingEmbedder().vector(for: "same text"))
    }
}
