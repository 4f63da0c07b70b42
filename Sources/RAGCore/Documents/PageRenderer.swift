import Foundation
import Synchronization

/// Renders PDF pages to PNG with a cited passage highlighted, within ``PageRenderLimits``: at most
/// ``PageRenderLimits/concurrency`` renders at once on the blocking pool (never on the cooperative executor), at most
/// ``PageRenderLimits/maxWaiting`` waiting, and a least-recently-used cache of PNGs bounded in bytes.
///
/// The cache key is the document's id (its content hash: the bytes behind an id never change), the page, the width and
/// the passage, so a cached image is never stale; the engine checks that the document is still in the collection
/// before it asks.
final class PageRenderer: Sendable {
    let limits: PageRenderLimits
    private let slots: AsyncSemaphore
    private let cache: Mutex<PNGCache>

    init(limits: PageRenderLimits) {
        self.limits = limits
        self.slots = AsyncSemaphore(permits: max(1, limits.concurrency), maxWaiters: max(0, limits.maxWaiting))
        self.cache = Mutex(PNGCache(capacity: max(0, limits.cacheBytes)))
    }

    /// What identifies one rendered image.
    struct Key: Hashable, Sendable {
        var document: DocumentID
        var page: Int
        var width: Int
        /// The highlighted passage's text, or empty for none.
        var passage: String
    }

    /// The cached image for `key`, if any (and makes it the most recently used).
    func cached(_ key: Key) -> RenderedPage? { cache.withLock { $0.get(key) } }

    /// Renders page `key.page` (1-based) of the PDF `source`, waiting for a slot; throws `AsyncSemaphore.Full` when
    /// ``PageRenderLimits/maxWaiting`` requests are waiting already, and the loader's `DocumentError`s.
    func render(_ key: Key, source: Data, fileName: String, password: String?) async throws -> RenderedPage {
        let limits = self.limits
        let page = try await slots.withPermit { () async throws -> RenderedPage in
            // The watchdog: at the deadline it stops MuPDF's run, which then fails with a limit error.
            guard let cookie = MuPDFCookie() else {
                throw DocumentError(code: .damaged, fileName: fileName, message: "out of memory")
            }
            let watchdog = Task {
                try await Task.sleep(for: limits.timeout)
                cookie.abort()
            }
            defer { watchdog.cancel() }
            return try await BlockingPool.shared.runIfActive { () throws -> RenderedPage in
                try Self.render(key, source: source, fileName: fileName, password: password, limits: limits, cookie: cookie)
            }
        }
        cache.withLock { $0.put(key, page) }
        return page
    }

    /// Renders on the caller's thread: opens the document (unlocking an encrypted one with `password`, the one it
    /// was ingested with), finds the passage on the page, draws it.
    static func render(
        _ key: Key, source: Data, fileName: String, password: String?, limits: PageRenderLimits, cookie: MuPDFCookie? = nil
    ) throws(DocumentError) -> RenderedPage {
        let context = try MuPDFContext(cacheBytes: 16 << 20, fileName: fileName)
        let document = try MuPDFDocument(context: context, bytes: SourceBytes(copying: source))
        if try document.needsPassword() {
            guard let password, try document.authenticate(password: password) else {
                throw DocumentError(
                    code: .wrongPassword, fileName: fileName,
                    message: "the PDF is encrypted and this engine's password does not open it, so its pages cannot be drawn")
            }
        }
        let index = key.page - 1
        var highlights: [PageRect] = []
        if !key.passage.isEmpty {
            do {
                let characters = try document.pageCharacters(at: index, maxCharacters: limits.maxPageCharacters, cookie: cookie).characters
                highlights = PassageLocator.highlights(of: key.passage, in: characters)
            } catch where error.code == .tooMuchText {
                highlights = []  // too much text to search: the page without a highlight
            }
        }
        let image = try document.renderPNG(
            at: index, width: key.width, maxPixels: limits.maxPixels, highlights: highlights, cookie: cookie)
        let label = (try? document.pageLabel(at: index)) ?? nil
        return RenderedPage(
            png: image.png, width: image.width, height: image.height, page: key.page, pageLabel: label,
            highlights: highlights)
    }
}

/// A least-recently-used cache of rendered pages, bounded by the bytes of their PNGs.
struct PNGCache {
    let capacity: Int
    private(set) var bytes = 0
    private var entries: [PageRenderer.Key: (page: RenderedPage, stamp: UInt64)] = [:]
    private var clock: UInt64 = 0

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { entries.count }

    mutating func get(_ key: PageRenderer.Key) -> RenderedPage? {
        guard let entry = entries[key] else { return nil }
        clock += 1
        entries[key] = (entry.page, clock)
        return entry.page
    }

    /// Keeps `page`, dropping the least recently used pages until the cache fits; a page larger than the whole
    /// cache is not kept.
    mutating func put(_ key: PageRenderer.Key, _ page: RenderedPage) {
        let size = page.png.count
        guard size <= capacity else { return }
        if let old = entries.removeValue(forKey: key) { bytes -= old.page.png.count }
        while bytes + size > capacity, let oldest = entries.min(by: { $0.value.stamp < $1.value.stamp }) {
            entries[oldest.key] = nil
            bytes -= oldest.value.page.png.count
        }
        clock += 1
        entries[key] = (page, clock)
        bytes += size
    }
}

/// A page rendered for a citation: a PNG with the cited passage highlighted.
public struct RenderedPage: Sendable, Hashable {
    /// The PNG image (RGB).
    public var png: Data
    /// Its size in pixels.
    public var width: Int
    public var height: Int
    /// The 1-based page number.
    public var page: Int
    /// The page's printed label ("iv", "A-3") when the PDF defines page labels, else `nil`.
    public var pageLabel: String?
    /// Where the passage was found and highlighted, in points from the page's top-left corner; empty when no passage
    /// was asked for or none of it is on the page.
    public var highlights: [PageRect]

    public init(png: Data, width: Int, height: Int, page: Int, pageLabel: String?, highlights: [PageRect]) {
        self.png = png
        self.width = width
        self.height = height
        self.page = page
        self.pageLabel = pageLabel
        self.highlights = highlights
    }
}
