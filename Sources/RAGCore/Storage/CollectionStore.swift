import CZlib
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads and writes a collection directory.
///
/// The directory holds one file, `collection.rag`, in a versioned binary format:
///
/// | field | encoding |
/// | --- | --- |
/// | magic | the 8 bytes `RAGCOLL\0` |
/// | format version | u32 (currently 1) |
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
/// Version 1 files (without the lexical index) are read, and their lexical index is built from the chunk texts;
/// the next save writes version 2. So is a lexical index written by another `TextAnalyzer.version`.
///
/// All integers and floats are little-endian. A save writes a temporary file (`.collection.rag.PID.tmp`), fsyncs it,
/// renames it over the old file and fsyncs the directory, so a crash leaves either the old or the new collection,
/// never a mix, and perhaps the temporary file: writers remove such orphans under the lock
/// (`removeOrphanedTemporaryFiles()`). Writers take an exclusive `flock` on `.lock` in the directory (`CollectionLock`). Files are created with mode
/// 0600 and directories with 0700 (owner only, whatever the umask).
public struct CollectionStore: Sendable {
    public static let formatVersion: UInt32 = 2
    /// Older format versions this build still reads.
    public static let readableVersions: ClosedRange<UInt32> = 1...2
    static let magic: [UInt8] = Array("RAGCOLL\0".utf8)

    /// The collection directory.
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    /// The collection file inside the directory.
    public var fileURL: URL { directory.appendingPathComponent("collection.rag") }

    /// Where a save by this process writes the collection before renaming it over ``fileURL``.
    package var temporaryFileURL: URL { directory.appendingPathComponent(".collection.rag.\(getpid()).tmp") }

    /// Whether a collection has been saved in the directory.
    public var exists: Bool { FileManager.default.fileExists(atPath: fileURL.path) }

    /// Loads the collection, or returns `nil` when the directory holds none yet.
    public func load() throws(CollectionError) -> DocumentCollection? {
        guard exists else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: fileURL, options: .alwaysMapped)
        } catch {
            throw CollectionError(.io, "cannot read the collection: \(CollectionStore.reason(of: error))", path: fileURL.path)
        }
        return try CollectionStore.decode(data, path: fileURL.path)
    }

    /// The fixed part of the file header, read without loading the collection.
    public struct Header: Sendable, Hashable {
        public var generation: UInt64
        public var embedderID: String
        public var dimension: Int
    }

    /// Reads the header (cheap), or `nil` when there is no readable collection file.
    public func header() -> Header? {
        guard let handle = FileHandle(forReadingAtPath: fileURL.path) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 4096), head.count >= 28, Array(head.prefix(8)) == CollectionStore.magic
        else { return nil }
        var reader = BinaryReader(head)
        reader.offset = 12
        guard let generation = try? reader.u64(), let embedderID = try? reader.string(), let dimension = try? reader.u32()
        else { return nil }
        return Header(generation: generation, embedderID: embedderID, dimension: Int(dimension))
    }

    /// The generation number in the file header, or `nil` when there is no collection.
    public func generationOnDisk() -> UInt64? { header()?.generation }

    /// Saves the collection atomically, incrementing its generation.
    ///
    /// - Throws: `CollectionError` with code `io` when the file cannot be written (a full disk, a read-only file
    ///   system); its message begins "the collection could not be saved" and gives the system's reason ("No space
    ///   left on device"). The file on disk is then the previous collection, untouched.
    public func save(_ collection: inout DocumentCollection) throws(CollectionError) {
        let notSaved = "the collection could not be saved"
        collection.generation += 1
        let bytes = CollectionStore.encode(collection)
        try createDirectory()
        let temporary = temporaryFileURL
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, CollectionStore.fileMode)
        guard fd >= 0 else {
            throw CollectionError(.io, "\(notSaved): cannot create its temporary file: \(CollectionStore.errnoText())", path: temporary.path)
        }
        // The mode `open` was given is masked by the umask, and a temporary file left by a crash keeps its old one.
        guard fchmod(fd, CollectionStore.fileMode) == 0 else {
            let reason = CollectionStore.errnoText()
            close(fd)
            unlink(temporary.path)
            throw CollectionError(.io, "\(notSaved): cannot set the mode of its temporary file: \(reason)", path: temporary.path)
        }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return fsync(fd) == 0
        }
        let reason = CollectionStore.errnoText()
        close(fd)
        guard ok else {
            unlink(temporary.path)
            throw CollectionError(.io, "\(notSaved): \(reason)", path: temporary.path)
        }
        guard rename(temporary.path, fileURL.path) == 0 else {
            let reason = CollectionStore.errnoText()
            unlink(temporary.path)
            throw CollectionError(.io, "\(notSaved): cannot replace the collection file: \(reason)", path: fileURL.path)
        }
        let dirFD = open(directory.path, O_RDONLY)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }

    /// Removes every `.collection.rag.*.tmp` file in the directory and returns their names: temporary files of saves
    /// that a crash interrupted, each as large as the collection, which nothing else would remove. Call it only while
    /// holding the collection's lock: saves happen only under it, so every such file is then an orphan, whichever
    /// process left it. Anything else of such a name (a directory) is not the store's and stays.
    @discardableResult
    func removeOrphanedTemporaryFiles() -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return names.filter { name in
            name.hasPrefix(".collection.rag.") && name.hasSuffix(".tmp")
                && unlink(directory.appendingPathComponent(name).path) == 0
        }.sorted()
    }

    /// The mode of the files the store creates (the collection, its temporary file, `.lock`): owner only. A
    /// collection holds the text of every document in it.
    static let fileMode: mode_t = 0o600
    /// The mode of the directories the store creates (the collection directory and any missing parent): owner only.
    static let directoryMode: mode_t = 0o700

    /// Creates the collection directory and any missing parents with ``directoryMode``, whatever the umask;
    /// directories that already exist keep their mode.
    func createDirectory() throws(CollectionError) {
        var missing: [String] = []
        var url = directory.standardizedFileURL
        while !FileManager.default.fileExists(atPath: url.path) {
            missing.append(url.path)
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { break }
            url = parent
        }
        for path in missing.reversed() {
            if mkdir(path, CollectionStore.directoryMode) != 0 {
                guard errno == EEXIST else {
                    throw CollectionError(.io, "cannot create the collection directory: \(CollectionStore.errnoText())", path: path)
                }
                continue  // made by someone else meanwhile: theirs to set
            }
            guard chmod(path, CollectionStore.directoryMode) == 0 else {
                throw CollectionError(.io, "cannot set the mode of the collection directory: \(CollectionStore.errnoText())", path: path)
            }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CollectionError(.io, "cannot create the collection directory: a file of that name is in the way", path: directory.path)
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// The system's reason for a failed Foundation file operation ("Permission denied"), without the file's name or
    /// path, which the error's own description holds.
    static func reason(of error: any Error) -> String {
        if let posix = (error as? CocoaError)?.underlying as? POSIXError ?? error as? POSIXError {
            return String(cString: strerror(posix.code.rawValue))
        }
        return "the file cannot be read"
    }

    // MARK: Encoding

    /// The file's bytes; `version` 1 (without the lexical index) exists for the compatibility tests.
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
        collection.index.storage.withUnsafeBytes { out.bytes($0) }  // little-endian hosts only (x86_64, arm64)
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
                embedderID: embedderID, documents: documents, chunks: chunks, index: index, lexicalIndex: lexicalIndex,
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
