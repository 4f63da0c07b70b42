import Foundation

/// Bounds on the work and memory spent loading one document, and how many threads to spend on it.
///
/// Exceeding a bound is an error that names the bound (``DocumentError/Code/tooLarge``,
/// ``DocumentError/Code/tooManyPages``, ``DocumentError/Code/tooMuchText``,
/// ``DocumentError/Code/tooMuchTextForSize``), never silent truncation.
///
/// The text a document may yield is bounded relative to its size, not only in total: see
/// ``characterBudget(forBytes:)``. A page that is the same page object as an earlier page is read once.
///
/// ```swift
/// var limits = ExtractionLimits()
/// limits.maxPages = 500
/// let loader = DocumentLoader(limits: limits)
/// ```
public struct ExtractionLimits: Sendable, Hashable {
    /// Largest source file accepted, in bytes, checked before the file is read or parsed. Default 256 MiB.
    public var maxBytes: Int
    /// Most pages a document may have, checked against the count the PDF declares before any page is read (for a
    /// damaged PDF, against the pages recovery found, before any is read; and against the number of form-feed
    /// separated pages of a text file). Default 10,000.
    public var maxPages: Int
    /// Most characters (Unicode scalars, separators included) of text a document may yield, enforced while
    /// extracting. Default 50,000,000.
    public var maxCharacters: Int
    /// Most characters of text a document may yield per byte of its file, enforced while extracting (with at
    /// least ``minimumCharacterAllowance`` allowed): a small file cannot expand into a lot of text, and so into
    /// chunks and embedding work, by drawing the same compressed text on many pages. 0 turns the rule off.
    ///
    /// Default 8, about twelve times the densest real PDF measured: `rag extract` over the 340 PDFs Debian's
    /// documentation packages put on the build machine (`r-doc-pdf`, `texlive-latex-base-doc` and others) gave
    /// a median of 0.06 characters per byte, 0.30 at the 90th percentile and 0.68 at most (R's 2,415-page
    /// reference manual). A text file has at most 1 per byte; a PDF of plain compressed text without embedded
    /// fonts, the densest a writer makes, 2.4 (the `aDenseRealSizedPDFIsUnaffected` fixture). Issue #12's
    /// 62 KB file would have been 590 per byte; one page of text drawn from a Form XObject on 600 pages, 20.
    public var maxCharactersPerByte: Double
    /// Characters any document may yield whatever its size, so that small files are never refused by
    /// ``maxCharactersPerByte``. Default 100,000 (about 40 pages of dense text, 125 chunks).
    public var minimumCharacterAllowance: Int
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
    /// The most outline (bookmark) entries read from a PDF; the rest are left out. Default 10,000. Also the most
    /// headings found by font size and weight (``Document/headings``); a PDF with more than ten times as many lines
    /// that may be headings gets none.
    public var maxOutlineEntries: Int
    /// Outline entries nested deeper than this are left out. Default 16.
    public var maxOutlineDepth: Int

    public init(
        maxBytes: Int = 256 << 20,
        maxPages: Int = 10_000,
        maxCharacters: Int = 50_000_000,
        maxCharactersPerByte: Double = 8,
        minimumCharacterAllowance: Int = 100_000,
        maxUnmappableFraction: Double = 0.3,
        maxConsecutivePageFailures: Int = 50,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        cacheBytesPerThread: Int = 64 << 20,
        maxOutlineEntries: Int = 10_000,
        maxOutlineDepth: Int = 16
    ) {
        self.maxBytes = maxBytes
        self.maxPages = maxPages
        self.maxCharacters = maxCharacters
        self.maxCharactersPerByte = maxCharactersPerByte
        self.minimumCharacterAllowance = minimumCharacterAllowance
        self.maxUnmappableFraction = maxUnmappableFraction
        self.maxConsecutivePageFailures = maxConsecutivePageFailures
        self.threads = threads
        self.cacheBytesPerThread = cacheBytesPerThread
        self.maxOutlineEntries = maxOutlineEntries
        self.maxOutlineDepth = maxOutlineDepth
    }

    /// The most characters a source file of `byteCount` bytes may yield: ``maxCharacters``, or less for a small
    /// file, `max(minimumCharacterAllowance, maxCharactersPerByte × byteCount)`.
    public func characterBudget(forBytes byteCount: Int) -> Int {
        guard maxCharactersPerByte > 0, maxCharactersPerByte.isFinite else { return maxCharacters }
        let scaled = (maxCharactersPerByte * Double(max(0, byteCount))).rounded(.down)
        let perSize = scaled >= Double(Int.max) ? Int.max : Int(scaled)
        return min(maxCharacters, max(minimumCharacterAllowance, perSize))
    }

    /// Checks that every bound is usable: counts are positive, the fraction is in 0...1, and
    /// ``maxCharactersPerByte`` is finite and not negative. The error names the field (`maxCharactersPerByte`),
    /// so executables can name their own flag or variable for it.
    public func validate() throws(InvalidLimit) {
        func check(_ ok: Bool, _ field: String, _ rule: String) throws(InvalidLimit) {
            if !ok { throw InvalidLimit(field: field, rule: rule) }
        }
        try check(maxBytes > 0, "maxBytes", "must be more than 0")
        try check(maxPages > 0, "maxPages", "must be more than 0")
        try check(maxCharacters > 0, "maxCharacters", "must be more than 0")
        try check(maxCharactersPerByte.isFinite && maxCharactersPerByte >= 0, "maxCharactersPerByte",
                  "must be a finite number, 0 or more (0 turns the rule off)")
        try check(minimumCharacterAllowance >= 0, "minimumCharacterAllowance", "must be 0 or more")
        try check((0...1).contains(maxUnmappableFraction), "maxUnmappableFraction", "must be between 0 and 1")
        try check(maxConsecutivePageFailures > 0, "maxConsecutivePageFailures", "must be more than 0")
        try check(threads > 0, "threads", "must be more than 0")
        try check(cacheBytesPerThread >= 0, "cacheBytesPerThread", "must be 0 or more")
        try check(maxOutlineEntries >= 0, "maxOutlineEntries", "must be 0 or more (0 reads no outline)")
        try check(maxOutlineDepth > 0, "maxOutlineDepth", "must be more than 0")
    }
}

/// A limit that cannot be used, from ``ExtractionLimits/validate()``.
public struct InvalidLimit: Error, Sendable, Hashable, CustomStringConvertible {
    /// The field, as named in Swift (`maxCharactersPerByte`).
    public var field: String
    /// What the value must be (`must be more than 0`).
    public var rule: String

    public init(field: String, rule: String) {
        self.field = field
        self.rule = rule
    }

    public var description: String { "\(field) \(rule)" }
}
