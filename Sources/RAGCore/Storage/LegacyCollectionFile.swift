import CZlib
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The collection file of releases before the SQL store: `collection.rag`, a versioned binary format, read only to
/// migrate it into the database (`SQLiteCollectionStore`) the first time a writer opens its directory.
///
/// | field | encoding |
/// | --- | --- |
/// | magic | the 8 bytes `RAGCOLL\0` |
/// | format version | u32 (1 or 2) |
/// | generation | u64, +1 on every save |
/// | embedder id | u32 length + UTF-8 |
/// | dimension | u32 |
/// | document count, chunk count | u32, u64 |
/// | documents | u64 length + JSON array of `DocumentRecord` (dates as seconds since 2001) |
/// | chunks | per chunk: u32 document index, u32 first page, u32 last page, u32 ordinal, u32 length + id, u32 length + text |
/// | vectors | chunk count × dimension f32 |
/// | lexical index (version 2) | u32 `TextAnalyzer.version`, f32 k1, f32 b, u64 rows, rows × u32 terms per row, u32 term count, per term: u32 length + UTF-8, u32 postings, postings × (u32 row, u32 frequency) |
/// | checksum | u32 CRC-32 of everything before it |
///
/// Version 1 files (without the lexical index) are read, and their lexical index is built from the chunk texts; so
/// is a lexical index written by another `TextAnalyzer.version`. All integers and floats are little-endian. Nothing
/// writes this format any more except the tests and the fuzzer (`encode`), which make files to migrate and decode.
public struct LegacyCollectionFile: Sendable {
    public static let formatVersion: UInt32 = 2
    /// The format versions this build reads.
    public static let readableVersions: ClosedRange<UInt32> = 1...2
    static let magic: [UInt8] = Array("RAGCOLL\0".utf8)
    /// The file's name in a collection directory.
    public static let fileName = "collection.rag"

    /// The collection directory.
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    /// The collection file inside the directory.
    public var fileURL: URL { directory.appendingPathComponent(Self.fileName) }

    /// Whether the directory holds a collection file.
    public var exists: Bool { FileManager.default.fileExists(atPath: fileURL.path) }

    /// Loads the collection, or returns `nil` when the directory holds no collection file.
    public func load() throws(CollectionError) -> DocumentCollection? {
        guard exists else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: fileURL, options: .alwaysMapped)
        } catch {
            throw CollectionError(.io, "cannot read the collection: \(CollectionDirectory.reason(of: error))", path: fileURL.path)
        }
        return try LegacyCollectionFile.decode(data, path: fileURL.path)
    }

    /// The embedder id and dimension in the file header, read without loading the collection, or `nil` when there is
    /// no readable collection file.
    public func header() -> CollectionHeader? {
        guard let handle = FileHandle(forReadingAtPath: fileURL.path) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 4096), head.count >= 28, Array(head.prefix(8)) == LegacyCollectionFile.magic
        else { return nil }
        var reader = BinaryReader(head)
        reader.offset = 20
        guard let embedderID = try? reader.string(), let dimension = try? reader.u32() else { return nil }
        return CollectionHeader(embedderID: embedderID, dimension: Int(dimension))
    }

    // MARK: Encoding

    /// The file's bytes, for the tests and the fuzzer (nothing else writes this format); `version` 1 is the format
    /// without the lexical index.
    package static func encode(_ collection: DocumentCollection, version: UInt32 = formatVersion) -> [UInt8] {
        var out = BinaryWriter()
        out.bytes(magic)
        out.u32(version)
        out.u64(collection.generation)
        out.string(collection.embedderID)
        out.u32(UInt32(collection.dimension))
        out.u32(UInt32(collection.documents.count))
        out.u64(UInt64(collection.chunks.count))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = (try? encoder.encode(collection.documents)) ?? Data("[]".utf8)
        out.u64(UInt64(json.count))
        out.bytes(json)
        var documentIndex: [DocumentID: UInt32] = [:]
        for (position, document) in collection.documents.enumerated() { documentIndex[document.id] = UInt32(position) }
        for chunk in collection.chunks {
            out.u32(documentIndex[chunk.documentID] ?? 0)
            out.u32(UInt32(chunk.pageStart))
            out.u32(UInt32(chunk.pageEnd))
            out.u32(UInt32(chunk.ordinal))
            out.string(chunk.id.rawValue)
            out.string(chunk.text)
        }
        // fp32, whatever the collection stores; little-endian hosts only (x86_64, arm64).
        collection.vectors.rows(0..<collection.vectors.count).withUnsafeBytes { out.bytes($0) }
        if version >= 2 { collection.lexicalIndex.encode(into: &out) }
        out.u32(checksum(out.buffer))
        return out.buffer
    }

    /// CRC-32 of `bytes`.
    package static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// CRC-32 of `bytes`, fed to zlib in pieces of at most 1 GiB (its length argument is 32-bit).
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: uLong = crc32(0, nil, 0)
        var rest = bytes
        while !rest.isEmpty {
            let piece = UnsafeRawBufferPointer(rebasing: rest.prefix(1 << 30))
            crc = crc32(crc, piece.bindMemory(to: Bytef.self).baseAddress, uInt(piece.count))
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(piece.count))
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// Reads a collection file's bytes. Nothing read from the file is trusted: every count and length is checked
    /// against the bytes that remain before anything is allocated for it, and every integer conversion is checked,
    /// so a damaged or crafted file (even one with a valid checksum) is a `.corrupt` error, never a trap or a huge
    /// allocation.
    package static func decode(_ data: Data, path: String) throws(CollectionError) -> DocumentCollection {
        func corrupt(_ what: String) -> CollectionError {
            CollectionError(.corrupt, "the collection file is damaged (\(what)); re-ingest the documents or restore a backup", path: path)
        }
        guard data.count >= magic.count + 8, Array(data.prefix(magic.count)) == magic else {
            throw corrupt("not a collection file")
        }
        let stored = data.withUnsafeBytes { raw in UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: raw.count - 4, as: UInt32.self)) }
        let computed = data.withUnsafeBytes { raw in checksum(UnsafeRawBufferPointer(rebasing: raw.dropLast(4))) }
        var reader = BinaryReader(data.prefix(data.count - 4))
        reader.offset = magic.count
        do {
            let version = try reader.u32()
            guard readableVersions.contains(version) else {
                throw CollectionError(
                    .unsupportedVersion,
                    "the collection has format version \(version); this build reads versions \(readableVersions.lowerBound)–\(readableVersions.upperBound): open it with a newer release of pdf-chatbot",
                    path: path)
            }
            guard stored == computed else { throw corrupt("checksum mismatch") }
            let generation = try reader.u64()
            let embedderID = try reader.string("embedder id")
            let dimension = Int(try reader.u32())
            guard dimension > 0 else { throw corrupt("zero dimension") }
            let documentCount = Int(try reader.u32())
            // A chunk takes at least four u32 fields and two string lengths, its vector, and (version 2) its row
            // length in the lexical index.
            let chunkSize = 6 * 4 + dimension * 4 + (version >= 2 ? 4 : 0)
            let chunkCount = try reader.count(try reader.u64(), elementSize: chunkSize, "chunk count")
            let jsonLength = try reader.count(try reader.u64(), elementSize: 1, "document table length")
            let json = try reader.slice(jsonLength, "document table")
            let decoder = JSONDecoder()
            guard let documents = try? decoder.decode([DocumentRecord].self, from: json), documents.count == documentCount
            else { throw corrupt("document table") }
            guard Set(documents.map(\.id)).count == documents.count else { throw corrupt("two documents share an id") }
            var chunks: [Chunk] = []
            chunks.reserveCapacity(chunkCount)
            // A document's chunks are consecutive rows (`DocumentCollection` relies on it): once another document's
            // chunks begin, an earlier document has no more.
            var finished = Set<Int>()
            var previousPosition: Int? = nil
            for _ in 0..<chunkCount {
                let documentPosition = Int(try reader.u32())
                guard documentPosition < documents.count else { throw corrupt("chunk refers to a missing document") }
                if let previous = previousPosition, previous != documentPosition { finished.insert(previous) }
                guard !finished.contains(documentPosition) else { throw corrupt("a document's chunks are not consecutive") }
                previousPosition = documentPosition
                let pageStart = Int(try reader.u32())
                let pageEnd = Int(try reader.u32())
                let ordinal = Int(try reader.u32())
                let id = try reader.string("chunk id")
                let text = try reader.string("chunk text")
                let document = documents[documentPosition]
                chunks.append(
                    Chunk(
                        id: ChunkID(rawValue: id), documentID: document.id, fileName: document.fileName,
                        pageStart: pageStart, pageEnd: pageEnd, ordinal: ordinal, text: text))
            }
            // chunkCount × dimension × 4 cannot overflow: it is below chunkCount × chunkSize, which fit the file.
            let vectorBytes = try reader.slice(chunkCount * dimension * 4, "vectors")
            var lexicalIndex: LexicalIndex? = nil
            if version >= 2 {
                lexicalIndex = try LexicalIndex.decode(from: &reader, rows: chunkCount)
            }
            guard reader.remaining == 0 else { throw corrupt("trailing bytes") }
            let index = VectorIndex(dimension: dimension, rows: chunkCount) { out in
                vectorBytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(out).copyMemory(from: $0) }
            }
            return DocumentCollection(
                embedderID: embedderID, documents: documents, chunks: chunks, vectors: StoredVectors(index), lexicalIndex: lexicalIndex,
                generation: generation)
        } catch let error as CollectionError {
            throw error
        } catch let error as BinaryReader.Malformed {
            throw corrupt(error.what)
        } catch {
            throw corrupt("\(error)")
        }
    }
}

/// Appends little-endian integers and length-prefixed strings to a byte buffer.
struct BinaryWriter {
    var buffer: [UInt8] = []

    mutating func bytes<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 { buffer.append(contentsOf: bytes) }
    mutating func bytes(_ raw: UnsafeRawBufferPointer) { buffer.append(contentsOf: raw) }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) } }
    mutating func string(_ value: String) {
        u32(UInt32(value.utf8.count))
        buffer.append(contentsOf: value.utf8)
    }
}

/// Reads what `BinaryWriter` wrote, throwing `Malformed` (which names what was being read) on a read past the end
/// and on a count that cannot fit in the bytes that remain.
struct BinaryReader {
    /// What could not be read: "truncated <what>", or "<what> too large".
    struct Malformed: Error, CustomStringConvertible {
        var what: String
        var description: String { what }
    }
    let data: Data
    var offset = 0

    init(_ data: Data) { self.data = data }

    /// Bytes not read yet.
    var remaining: Int { data.count - offset }

    mutating func slice(_ count: Int, _ what: @autoclosure () -> String = "data") throws(Malformed) -> Data {
        guard count >= 0, count <= remaining else { throw Malformed(what: "truncated \(what())") }
        let start = data.startIndex + offset
        offset += count
        return data[start..<start + count]
    }
    mutating func u32() throws(Malformed) -> UInt32 {
        let bytes = try slice(4, "integer")
        return bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
    }
    mutating func u64() throws(Malformed) -> UInt64 {
        let bytes = try slice(8, "integer")
        return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    }
    mutating func string(_ what: @autoclosure () -> String = "string") throws(Malformed) -> String {
        String(decoding: try slice(Int(try u32()), what()), as: UTF8.self)
    }

    /// A count read from the file, as an `Int`, after checking that `count` elements of at least `elementSize`
    /// bytes each fit in the bytes that remain: call it before allocating or reserving anything for them.
    func count<Count: FixedWidthInteger>(_ count: Count, elementSize: Int, _ what: @autoclosure () -> String) throws(Malformed) -> Int {
        guard let value = Int(exactly: count) else { throw Malformed(what: "\(what()) too large") }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: max(1, elementSize))
        guard !overflow, bytes <= remaining else { throw Malformed(what: "\(what()) too large") }
        return value
    }
}
