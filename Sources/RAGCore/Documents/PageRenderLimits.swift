/// Bounds on rendering pages for citations (`Engine.renderPage`): image size, work at once, and the cache.
///
/// Exceeding a bound is an error that names it, never a silently smaller image.
///
/// ```swift
/// var configuration = EngineConfiguration()
/// configuration.pageRendering.maxWidth = 1200
/// ```
public struct PageRenderLimits: Sendable, Hashable {
    /// The width of an image when the request names none, in pixels. Default 900.
    public var defaultWidth: Int
    /// The narrowest image a request may ask for, in pixels. Default 100.
    public var minWidth: Int
    /// The widest image a request may ask for, in pixels. Default 2,000.
    public var maxWidth: Int
    /// Most pixels of one image (its width times the height the page's shape gives it): a page far taller than wide
    /// is refused instead of rendered. Default 8,000,000 (about 32 MB of RGB while it is drawn).
    public var maxPixels: Int
    /// Most characters of a page's text read to find the cited passage on it; a page with more is rendered without a
    /// highlight. Default 200,000.
    public var maxPageCharacters: Int
    /// Longest time one image may take to draw (reading the page's text for the passage included); a page whose content
    /// takes longer is stopped and refused (`EngineError.Code.invalidPageRequest`). Default 10 seconds.
    public var timeout: Duration
    /// Renders at once (each holds one image and one parse of the document). Default 2.
    public var concurrency: Int
    /// Requests that may wait for a render; more are refused at once (`EngineError.Code.renderBusy`). Default 16.
    public var maxWaiting: Int
    /// Bytes of PNG kept in the least-recently-used cache of rendered pages; 0 turns the cache off. Default 64 MiB.
    public var cacheBytes: Int

    public init(
        defaultWidth: Int = 900, minWidth: Int = 100, maxWidth: Int = 2000, maxPixels: Int = 8_000_000,
        maxPageCharacters: Int = 200_000, timeout: Duration = .seconds(10), concurrency: Int = 2, maxWaiting: Int = 16,
        cacheBytes: Int = 64 << 20
    ) {
        self.timeout = timeout
        self.defaultWidth = defaultWidth
        self.minWidth = minWidth
        self.maxWidth = maxWidth
        self.maxPixels = maxPixels
        self.maxPageCharacters = maxPageCharacters
        self.concurrency = concurrency
        self.maxWaiting = maxWaiting
        self.cacheBytes = cacheBytes
    }

    /// Checks that every bound is usable; the error names the field, so executables can name their own flag for it.
    public func validate() throws(InvalidLimit) {
        func check(_ ok: Bool, _ field: String, _ rule: String) throws(InvalidLimit) {
            if !ok { throw InvalidLimit(field: field, rule: rule) }
        }
        try check(minWidth > 0, "minWidth", "must be more than 0")
        try check(maxWidth >= minWidth && maxWidth <= 20_000, "maxWidth", "must be between minWidth and 20000")
        try check((minWidth...maxWidth).contains(defaultWidth), "defaultWidth", "must be between minWidth and maxWidth")
        try check(maxPixels >= maxWidth, "maxPixels", "must be at least maxWidth")
        try check(maxPageCharacters > 0, "maxPageCharacters", "must be more than 0")
        try check(timeout > .zero, "timeout", "must be more than 0")
        try check(concurrency > 0, "concurrency", "must be more than 0")
        try check(maxWaiting >= 0, "maxWaiting", "must be 0 or more")
        try check(cacheBytes >= 0, "cacheBytes", "must be 0 or more")
    }
}
