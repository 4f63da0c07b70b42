import Foundation

/// Bounds on the work and memory spent loading one document, and how many threads to spend on it.
///
/// Exceeding a bound is an error that names the bound (``DocumentError/Code/tooLarge``,
/// ``DocumentError/Code/tooManyPages``, ``DocumentError/Code/tooMuchText``), never silent truncation.
///
/// ```swift
/// var limits = ExtractionLimits()
/// limits.maxPages = 500
/// let loader = DocumentLoader(limits: limits)
/// ```
public struct ExtractionLimits: Sendable, Hashable {
    /// Largest source file accepted, in bytes, checked before the file is read or parsed. Default 256 MiB.
    public var maxBytes: Int
    /// Most pages a document may have, checked against the count the PDF declares before any page is read
    /// (and against the number of form-feed separated pages of a text file). Default 10,000.
    public var maxPages: Int
    /// Most characters (Unicode scalars, separators included) of text a document may yield, enforced while
    /// extracting. Default 50,000,000.
    public var maxCharacters: Int
    /// A page whose non-blank characters are more than this fraction unmappable (U+FFFD, typically a font
    /// without a Unicode mapping) is left out with an `unmappableText` warning. Default 0.3.
    public var maxUnmappableFraction: Double
    /// After this many pages in a row fail to load, the remaining pages are not tried (one `pageFailed` warning
    /// says which were skipped). Stops a lying or shredded page tree from costing one failed load per page.
    /// Default 50.
    public var maxConsecutivePageFailures: Int
    /// Worker threads used to extract one document's pages (and, in ``DocumentLoader/loadAll(_:)``, shared
    /// across documents). Each worker has its own MuPDF context and its own parse of the document.
    /// Default: the number of active processors.
    public var threads: Int
    /// MuPDF's resource cache (fonts, decoded objects) per worker, in bytes. Default 64 MiB.
    public var cacheBytesPerThread: Int

    public init(
        maxBytes: Int = 256 << 20,
        maxPages: Int = 10_000,
        maxCharacters: Int = 50_000_000,
        maxUnmappableFraction: Double = 0.3,
        maxConsecutivePageFailures: Int = 50,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        cacheBytesPerThread: Int = 64 << 20
    ) {
        self.maxBytes = maxBytes
        self.maxPages = maxPages
        self.maxCharacters = maxCharacters
        self.maxUnmappableFraction = maxUnmappableFraction
        self.maxConsecutivePageFailures = maxConsecutivePageFailures
        self.threads = threads
        self.cacheBytesPerThread = cacheBytesPerThread
    }
}
