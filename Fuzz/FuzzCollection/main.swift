import Foundation
import RAGCore

// libFuzzer target for the collection file decoder (`LegacyCollectionFile.decode`), built by scripts/fuzz.sh.
//
// An input is a collection file without its last four bytes: the harness appends a valid CRC-32, so that the fuzzer
// explores the decoder and not the checksum check (a crafted file can carry a valid checksum too). A file that
// decodes is then used as the engine would use it (searched, widened into passages, a document removed) and written
// and read again, which must give the same collection: a trap anywhere, or a difference, is a finding.

func fuzzCollection(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var bytes = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    withUnsafeBytes(of: LegacyCollectionFile.checksum(bytes).littleEndian) { bytes += $0 }
    guard let collection = try? LegacyCollectionFile.decode(Data(bytes), path: "fuzz") else { return 0 }
    exercise(collection)
    return 0
}

/// Writes the seeds into the directory named by `RAG_FUZZ_SEEDS` (scripts/fuzz.sh passes the corpus directory),
/// before libFuzzer reads it: small valid collections of both readable format versions, without their checksums.
func writeSeeds() {
    guard let directory = ProcessInfo.processInfo.environment["RAG_FUZZ_SEEDS"] else { return }
    let seeds: [(String, DocumentCollection, UInt32)] = [
        ("seed-empty", DocumentCollection(embedderID: "hashing-v1-d4", dimension: 4), 2),
        ("seed-two-documents", sample(), 2),
        ("seed-version-1", sample(), 1),
    ]
    for (name, collection, version) in seeds {
        let file = LegacyCollectionFile.encode(collection, version: version).dropLast(4)
        try? Data(file).write(to: URL(fileURLWithPath: directory).appendingPathComponent(name))
    }
}

/// Two documents, one of two pages, with vectors of dimension 4.
func sample() -> DocumentCollection {
    var collection = DocumentCollection(embedderID: "hashing-v1-d4", dimension: 4)
    let texts = [
        ["Hold the reset button for ten seconds.", "The default password is admin."],
        ["Employees get 25 vacation days per year."],
    ]
    for (number, pages) in texts.enumerated() {
        let document = Document(
            fileName: "doc\(number).pdf", kind: .pdf, title: "Title \(number)", pageCount: pages.count,
            pages: pages.enumerated().map { Page(number: $0.offset + 1, text: $0.element) },
            contentHash: String(repeating: "\(number)", count: 64), byteCount: 100)
        let chunks = Chunker(options: ChunkingOptions(maxCharacters: 24, overlapCharacters: 8)).chunks(of: document)
        let vectors = chunks.indices.map { row in (0..<4).map { Float(($0 + row) % 3) + 0.5 } }
        collection.add(
            DocumentRecord(document: document, chunkCount: chunks.count, sourcePath: nil, ingestedAt: Date(timeIntervalSinceReferenceDate: 0)),
            chunks: chunks, vectors: vectors)
    }
    return collection
}

/// Uses a decoded collection as the engine would, and checks that writing and reading it again changes nothing.
func exercise(_ collection: DocumentCollection) {
    let k = 4
    var hits = collection.lexicalSearch("reset password vacation days", k: k)
    if collection.dimension <= 1024 {
        let query = (0..<collection.dimension).map { Float($0 % 5) - 2 }
        hits += collection.search(vector: query, k: k)
        hits += collection.search(query: "reset the router", vector: query, k: k, options: RetrievalOptions())
    }
    _ = collection.passages(for: hits, neighbours: 2)
    if let first = collection.documents.first {
        _ = collection.documents(matching: first.fileName)
        var smaller = collection
        smaller.remove(first.id)
        _ = smaller.lexicalSearch("reset", k: k)
    }
    let again: DocumentCollection
    do {
        again = try LegacyCollectionFile.decode(Data(LegacyCollectionFile.encode(collection)), path: "fuzz")
    } catch {
        fail("a decoded collection does not read back after saving: \(error)")
    }
    check(again.documents == collection.documents, "documents differ after saving")
    check(again.chunks == collection.chunks, "chunks differ after saving")
    check(again.generation == collection.generation && again.embedderID == collection.embedderID, "header differs after saving")
}

// libFuzzer's driver, from the toolchain's `libclang_rt.fuzzer_no_main` (scripts/fuzz.sh links it): SwiftPM gives an
// executable a `main` of its own, so this one calls the driver instead of using libFuzzer's `main`.
@_extern(c, "LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

writeSeeds()
var argumentCount = CommandLine.argc
var argumentValues = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argumentCount, &argumentValues) { fuzzCollection($0, $1) })

/// Reports a finding: the message on standard error (an optimised build drops `precondition`'s), then a trap that
/// libFuzzer records with the input.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("finding: \(message)\n".utf8))
    fatalError(message)
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}
