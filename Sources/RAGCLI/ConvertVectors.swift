import ArgumentParser
import Foundation
import RAGCore

struct ConvertVectors: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert-vectors",
        abstract: "Store the collection's vectors in another format (f32, f16 or i8), on disk and in memory.",
        discussion: """
            Every vector is re-encoded in one transaction, without embedding anything again; servers and other \
            processes on the collection load it again on their own. f16 takes half the bytes of f32 and searches \
            alike but for near ties; i8 a quarter, and its search is approximate. Going to a smaller format loses \
            precision for good: converting back keeps the rounded values (ingest the documents again to recover them).
            """)

    @Argument(help: ArgumentHelp("The format to store the vectors in: f32, f16 or i8.", valueName: "format"))
    var format: String

    @OptionGroup var options: CollectionOptions

    func run() async throws {
        try await reportingErrors { try await execute() }
    }

    private func execute() async throws {
        guard let target = VectorFormat(rawValue: format) else {
            throw CLIError("the format must be f32, f16 or i8, not '\(format)'", exitCode: 64)
        }
        let engine = try await options.makeEngine()
        let before = engine.collection
        guard try await engine.convertVectors(to: target) else {
            try options.writeMetrics()
            print(before.documents.isEmpty
                ? "the collection is empty: nothing to convert (a new collection takes --vector-storage at its first ingest)"
                : "the collection already stores its vectors as \(target.rawValue)")
            return
        }
        let after = engine.collection
        try options.writeMetrics()
        let rows = after.vectors.count
        let dimension = after.dimension
        func megabytes(_ format: VectorFormat) -> String {
            String(format: "%.1f MB", Double(rows * format.storedBytesPerVector(dimension: dimension)) / 1e6)
        }
        print(
            "converted \(rows) vectors from \(before.storageFormat.rawValue) to \(target.rawValue): \(megabytes(before.storageFormat)) -> \(megabytes(target)) stored")
    }
}
