extension DocumentLoader {
    /// Loads UTF-8 text or Markdown: NULs stripped, `\r\n` and lone `\r` made `\n`, a byte-order mark dropped,
    /// pages split on form feeds. Invalid UTF-8 becomes U+FFFD and counts as unmappable.
    func loadText(bytes: SourceBytes, fileName: String, kind: DocumentKind) throws(DocumentError) -> Document {
        var source = bytes.buffer[...]
        if source.starts(with: [0xEF, 0xBB, 0xBF]) { source = source.dropFirst(3) }
        var pageBytes: [[UInt8]] = [[]]
        pageBytes[0].reserveCapacity(source.count)
        var previousWasCR = false
        for byte in source {
            switch byte {
            case 0: continue
            case 0x0D:
                pageBytes[pageBytes.count - 1].append(0x0A)
                previousWasCR = true
                continue
            case 0x0A where previousWasCR: break
            case 0x0C: pageBytes.append([])
            default: pageBytes[pageBytes.count - 1].append(byte)
            }
            previousWasCR = false
        }
        // A form feed at the very end does not start another page.
        if pageBytes.count > 1, pageBytes.last!.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x09 }) {
            pageBytes.removeLast()
        }
        guard pageBytes.count <= limits.maxPages else {
            throw DocumentError(
                code: .tooManyPages, fileName: fileName,
                message: "the file has \(pageBytes.count) pages; the limit is \(limits.maxPages)")
        }
        var pages: [Page] = []
        var readings: [PageReading] = []
        var warnings: [DocumentWarning] = []
        var characters = 0
        let budget = limits.characterBudget(forBytes: bytes.count)
        for (index, raw) in pageBytes.enumerated() {
            let text = String(decoding: raw, as: UTF8.self)
            var scalars = 0
            var glyphs = 0
            var unmappable = 0
            for scalar in text.unicodeScalars {
                scalars += 1
                if scalar == "\u{FFFD}" { unmappable += 1 }
                if !scalar.properties.isWhitespace { glyphs += 1 }
            }
            characters += scalars
            if characters > budget { throw Self.tooMuchText(fileName, limits, byteCount: bytes.count) }
            if glyphs == 0 {
                readings.append(PageReading(page: index + 1, method: .empty))
                continue
            }
            if Double(unmappable) > Double(glyphs) * limits.maxUnmappableFraction {
                warnings.append(Self.unmappableWarning(page: index + 1, unmappable: unmappable, glyphs: glyphs))
                readings.append(PageReading(page: index + 1, method: .failed))
                continue
            }
            pages.append(Page(number: index + 1, text: text))
            readings.append(PageReading(page: index + 1, method: .text))
        }
        if pages.isEmpty { warnings.append(Self.noTextWarning) }
        return Document(
            fileName: fileName, kind: kind, pageCount: pageBytes.count, pages: pages, warnings: warnings,
            contentHash: SHA256.hexString(Self.hash(bytes)), byteCount: bytes.count, readings: readings)
    }

    static func hash(_ bytes: SourceBytes) -> [UInt8] {
        var sha = SHA256()
        sha.update(bytes.buffer)
        return sha.finalize()
    }

    static let noTextWarning = DocumentWarning(
        kind: .noText, page: nil,
        message: "the document has no extractable text (a scanned document without OCR?)")

    /// The one warning for pages that repeat an earlier page object: how many, and one example (1-based pages).
    static func repeatedPagesWarning(count: Int, example: (page: Int, of: Int), pageCount: Int) -> DocumentWarning {
        DocumentWarning(
            kind: .repeatedPages, page: nil,
            message: "\(count) of \(pageCount) pages are the same page object as an earlier page (page "
                + "\(example.page) is page \(example.of)); their text was indexed once, at the earlier page")
    }

    static func unmappableWarning(page: Int, unmappable: Int, glyphs: Int) -> DocumentWarning {
        DocumentWarning(
            kind: .unmappableText, page: page,
            message: "\(unmappable) of \(glyphs) characters have no Unicode mapping; the page was left out")
    }
}
