import Foundation
import RAGCore
import RAGTesting
import Testing

/// Section context (issue #14): a chunk is embedded and indexed with its document's title and the PDF outline
/// sections it falls in, while the passage shown stays the page's text.
@Suite struct SectionContextTests {
    static let manual = TestPDF.make(
        pages: [
            "Getting started\n\nRun the installer and follow the steps it shows.\n\nFetching the archive\n\nThe archive comes from the download page of the project.",
            "Settings\n\nEvery setting lives in one file in your home folder.",
            "When your network needs a relay, set its address and port in that file.",
        ],
        title: "Widget Manual",
        outline: [
            .init("Getting started", depth: 0, page: 1),
            .init("Fetching the archive", depth: 1, page: 1),
            .init("Settings", depth: 0, page: 2),
            .init("Proxies", depth: 1, page: 3),
        ])

    @Test func theOutlineIsReadWithItsDepthsAndPages() throws {
        let document = try DocumentLoader().load(data: Self.manual, fileName: "manual.pdf")
        #expect(document.outline.map(\.title) == ["Getting started", "Fetching the archive", "Settings", "Proxies"])
        #expect(document.outline.map(\.depth) == [0, 1, 0, 1])
        #expect(document.outline.map(\.page) == [1, 1, 2, 3])
    }

    @Test func aPDFWithoutAnOutlineHasNone() throws {
        let document = try DocumentLoader().load(data: TestPDF.make(pages: ["Plain page"]), fileName: "plain.pdf")
        #expect(document.outline.isEmpty)
    }

    /// Each chunk names the section in force where it sits, down to the heading's place on the page.
    @Test func eachChunkCarriesTheSectionsItFallsIn() throws {
        let document = try DocumentLoader().load(data: Self.manual, fileName: "manual.pdf")
        let chunker = Chunker(options: ChunkingOptions(maxCharacters: 60, overlapCharacters: 0, sectionContext: true, contextSections: nil))
        let chunks = chunker.chunks(of: document)
        func context(of text: String) -> String? { chunks.first { $0.text.contains(text) }?.context }
        #expect(context(of: "Run the installer") == "Widget Manual › Getting started")
        #expect(context(of: "download page") == "Widget Manual › Getting started › Fetching the archive")
        #expect(context(of: "home folder") == "Widget Manual › Settings")
        #expect(context(of: "relay") == "Widget Manual › Settings › Proxies")
        // The passage is the page's text: the context is not part of it.
        #expect(chunks.allSatisfy { !$0.text.contains("Widget Manual") })
        #expect(chunks.first { $0.text.contains("relay") }?.indexedText.hasPrefix("Widget Manual › Settings › Proxies\n") == true)
    }

    /// By default a chunk's context is the one section it is in: a long path would outweigh a small chunk's words.
    @Test func byDefaultTheContextIsTheInnermostSection() throws {
        let document = try DocumentLoader().load(data: Self.manual, fileName: "manual.pdf")
        let chunks = Chunker(options: ChunkingOptions(maxCharacters: 60, overlapCharacters: 0)).chunks(of: document)
        func context(of text: String) -> String? { chunks.first { $0.text.contains(text) }?.context }
        #expect(context(of: "Run the installer") == "Getting started")
        #expect(context(of: "download page") == "Fetching the archive")
        #expect(context(of: "relay") == "Proxies")
        #expect(chunks.first { $0.text.contains("relay") }?.indexedText.hasPrefix("Proxies\n") == true)
        // Two innermost sections, and a title alone for text in no section.
        let two = Chunker(options: ChunkingOptions(maxCharacters: 60, overlapCharacters: 0, contextSections: 2)).chunks(of: document)
        #expect(two.first { $0.text.contains("relay") }?.context == "Settings › Proxies")
        func context(title: String, outline: [String]) -> String {
            Chunker().chunks(
                pages: [Page(number: 1, text: "Body text.")], documentID: DocumentID(rawValue: "d"), fileName: "f.pdf",
                title: title, outline: outline.map { OutlineEntry(title: $0, depth: 0, page: 1) })[0].context
        }
        #expect(context(title: "Widget Manual", outline: []) == "Widget Manual")
        // A long title is cut at a word within its bytes.
        let long = context(title: "T", outline: [Array(repeating: "section", count: 30).joined(separator: " ")])
        #expect(long.utf8.count <= ChunkingOptions.maxSectionContextBytes && long.hasPrefix("section section") && long.hasSuffix("section"))
    }

    @Test func withoutTheOptionChunksHaveNoContext() throws {
        let document = try DocumentLoader().load(data: Self.manual, fileName: "manual.pdf")
        let chunks = Chunker(options: ChunkingOptions(sectionContext: false)).chunks(of: document)
        #expect(!chunks.isEmpty && chunks.allSatisfy { $0.context.isEmpty && $0.indexedText == $0.text })
    }

    /// A deep outline keeps the innermost sections and stays within the bytes it may take from the embedder's window.
    @Test func aLongContextKeepsItsInnermostSections() {
        let path = (1...12).map { "Chapter number \($0) of a long reference" }
        let chunks = Chunker(options: ChunkingOptions(sectionContext: true, contextSections: nil)).chunks(
            pages: [Page(number: 1, text: "Body text.")], documentID: DocumentID(rawValue: "d"), fileName: "f.pdf",
            title: "Reference", outline: path.enumerated().map { OutlineEntry(title: $1, depth: $0, page: 1) })
        let context = chunks[0].context
        #expect(context.utf8.count <= ChunkingOptions.maxContextBytes)
        #expect(context.hasPrefix("Reference › ") && context.hasSuffix("Chapter number 12 of a long reference"))
        #expect(!context.contains("Chapter number 1 of"))
    }

    /// A hostile outline (thousands of titles that appear nowhere on a long page) costs a bounded search, and its
    /// sections still start at the top of their page.
    @Test func aHostileOutlineIsBounded() {
        let page = String(repeating: "lorem ipsum dolor sit amet ", count: 20_000)
        let outline = (0..<10_000).map { OutlineEntry(title: "missing title \($0) zz", depth: 0, page: 1) }
        let chunks = Chunker(options: ChunkingOptions(sectionContext: true)).chunks(
            pages: [Page(number: 1, text: page)], documentID: DocumentID(rawValue: "d"), fileName: "f.pdf",
            outline: outline)
        #expect(chunks.count > 100)
        #expect(chunks.allSatisfy { $0.context == "missing title 9999 zz" })
    }

    /// What a user notices: a question in the words of a section's title finds a page of that section whose text
    /// never says them, once documents are ingested with section context, and not without it.
    @Test func aQuestionInTheSectionsWordsFindsItsLaterPages() async throws {
        func relayPageFound(sectionContext: Bool) async throws -> Bool {
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let engine = try await Engine(
                configuration: EngineConfiguration(
                    collectionDirectory: directory, chunking: ChunkingOptions(sectionContext: sectionContext)),
                embedder: HashingEmbedder(dimension: 64), metrics: RAGMetrics())
            _ = try await engine.ingest(data: Self.manual, fileName: "manual.pdf")
            let hits = try await engine.search("proxies", k: 3, retrieval: RetrievalOptions(mode: .lexical))
            return hits.contains { $0.chunk.pageStart == 3 }
        }
        #expect(try await relayPageFound(sectionContext: true))
        #expect(try await !relayPageFound(sectionContext: false))
    }
}
