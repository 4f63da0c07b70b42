import ArgumentParser
import RAGCore

/// How `ingest` (and `eval`, for the collections it builds) cuts documents into chunks and describes them.
struct ChunkingFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Largest chunk in bytes.", valueName: "bytes"))
    var chunkSize: Int = ChunkingOptions().maxCharacters

    @Option(help: ArgumentHelp("Bytes each chunk repeats from the one before.", valueName: "bytes"))
    var chunkOverlap: Int = ChunkingOptions().overlapCharacters

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "Embed and index each chunk with the section it falls in, from the PDF's outline or its headings (the passage shown stays the page's text; see --context-sections)."))
    var sectionContext: Bool = ChunkingOptions().sectionContext

    @Option(help: ArgumentHelp(
        "How many of the innermost sections a chunk's context names: a number (the default 1: the section it is in, or the document's title), or all (the title and the whole path).",
        valueName: "n"))
    var contextSections: String = "1"

    @Option(help: ArgumentHelp(
        "Where --section-context takes sections from: auto (the PDF's outline, or headings found by font size and weight when it has none), outline, or headings (the outline ignored).",
        valueName: "source"))
    var sectionSource: SectionSource = ChunkingOptions().sectionSource

    /// The chunking options the flags give.
    ///
    /// - Throws: `CLIError` (exit code 64) for a `--context-sections` that is neither a positive number nor `all`.
    func options() throws(CLIError) -> ChunkingOptions {
        let sections: Int?
        if contextSections.lowercased() == "all" {
            sections = nil
        } else {
            guard let count = Int(contextSections), count > 0 else {
                throw CLIError("--context-sections must be a positive number or all, not '\(contextSections)'", exitCode: 64)
            }
            sections = count
        }
        return ChunkingOptions(
            maxCharacters: chunkSize, overlapCharacters: chunkOverlap, sectionContext: sectionContext,
            sectionSource: sectionSource, contextSections: sections)
    }

    /// A name for a collection chunked with `options`: a collection is chunked once, and other options need their own.
    static func name(_ options: ChunkingOptions) -> String {
        var name = "c\(options.maxCharacters)-o\(options.overlapCharacters)"
        guard options.sectionContext else { return name }
        name += options.sectionSource == .outline ? "-context" : "-context-" + options.sectionSource.rawValue
        return name + (options.contextSections.map { "-s\($0)" } ?? "-all")
    }
}
