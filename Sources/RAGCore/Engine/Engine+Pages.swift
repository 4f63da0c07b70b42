import Foundation
import Logging
import Prometheus

/// Page images for citations: any process renders any page of a PDF in the collection from the original bytes the
/// store keeps (`CollectionStore.source(of:)`), so that a replica need not be the one that ingested it.
extension Engine {
    /// Renders page `page` (1-based) of document `id` as a PNG `width` pixels wide (``PageRenderLimits/defaultWidth``
    /// when `nil`), with the passage of its chunk `chunk` (the chunk's ordinal in the document, as citations give it)
    /// highlighted, and the page's printed label when the PDF defines one. Served from a bounded cache when it can be.
    ///
    /// ```swift
    /// let source = answer.sources[0]
    /// let image = try await engine.renderPage(document: source.documentID, page: source.pageStart, chunk: source.chunkIndex)
    /// try image.png.write(to: URL(fileURLWithPath: "page.png"))
    /// ```
    ///
    /// - Throws: `EngineError` `documentNotFound`, `pageNotFound` (no such page, or the passage is not on it),
    ///   `noPageImage` (a text document), `sourceNotKept` (ingested before sources were kept: ingest it again),
    ///   `invalidPageRequest` (a width out of bounds, an image larger than ``PageRenderLimits/maxPixels``, or a page
    ///   that takes longer than ``PageRenderLimits/timeout`` to draw),
    ///   `renderBusy`; `DocumentError` when the page cannot be drawn; `CollectionError` when the store cannot be read.
    public func renderPage(document id: DocumentID, page: Int, width: Int? = nil, chunk: Int? = nil) async throws -> RenderedPage {
        do {
            let rendered = try await renderPageUncounted(document: id, page: page, width: width, chunk: chunk)
            metrics.pageRenders(outcome: rendered.cached ? "cached" : "rendered").increment()
            return rendered.page
        } catch let error as EngineError where [.invalidPageRequest, .renderBusy].contains(error.code) {
            metrics.pageRenders(outcome: "refused").increment()
            throw error
        } catch let error as EngineError {
            throw error  // a bad request (no such document or page): nothing was drawn
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            metrics.pageRenders(outcome: "error").increment()
            throw error
        }
    }

    private func renderPageUncounted(document id: DocumentID, page: Int, width: Int?, chunk: Int?) async throws -> (page: RenderedPage, cached: Bool) {
        let limits = configuration.pageRendering
        let width = width ?? limits.defaultWidth
        guard (limits.minWidth...limits.maxWidth).contains(width) else {
            throw EngineError(
                .invalidPageRequest, "the width \(width) is outside the allowed \(limits.minWidth)...\(limits.maxWidth) pixels")
        }
        let snapshot = collection
        guard let record = snapshot.document(id) else {
            throw EngineError(.documentNotFound, "no document has the id '\(id)'")
        }
        guard record.kind == .pdf else {
            throw EngineError(.noPageImage, "\(record.fileName) is a \(record.kind.rawValue) file: it has no pages to draw")
        }
        guard (1...max(1, record.pageCount)).contains(page), record.pageCount > 0 else {
            throw EngineError(.pageNotFound, "\(record.fileName) has no page \(page); it has \(record.pageCount)")
        }
        var passage = ""
        if let chunk {
            // The document's chunks are consecutive rows, in ordinal order: no scan of the whole collection.
            let rows = snapshot.rowRanges[id] ?? 0..<0
            guard chunk < rows.count, case let cited = snapshot.chunks[rows.lowerBound + chunk], cited.ordinal == chunk else {
                throw EngineError(.pageNotFound, "\(record.fileName) has no passage \(chunk); it has \(record.chunkCount)")
            }
            guard (cited.pageStart...cited.pageEnd).contains(page) else {
                throw EngineError(.pageNotFound, "passage \(chunk) of \(record.fileName) is on \(cited.pageLabel), not on page \(page)")
            }
            passage = cited.text
        }
        let key = PageRenderer.Key(document: id, page: page, width: width, passage: passage)
        if let cached = pageRenderer.cached(key) { return (cached, true) }
        guard let source = try await store.source(of: id) else {
            throw EngineError(
                .sourceNotKept,
                "\(record.fileName) was ingested before this collection kept the original PDFs, so its pages cannot be drawn; ingest it again")
        }
        let started = ContinuousClock.now
        do {
            let rendered = try await pageRenderer.render(key, source: source, fileName: record.fileName, password: configuration.pdfPassword)
            metrics.pageRenderLatency.record(Engine.seconds(since: started))
            logger.debug(
                "rendered a page", metadata: ["rag.document.id": "\(id)", "rag.page": "\(page)", "rag.page.highlights": "\(rendered.highlights.count)"])
            return (rendered, false)
        } catch is AsyncSemaphore.Full {
            throw EngineError(
                .renderBusy, "\(limits.maxWaiting) page images are waiting to be drawn already; try again shortly")
        } catch let error as DocumentError where (error.underlying as? MuPDFError)?.isLimit == true {
            throw EngineError(
                .invalidPageRequest, "page \(page) of \(record.fileName) cannot be drawn within the limits: \(error.message)")
        }
    }
}
