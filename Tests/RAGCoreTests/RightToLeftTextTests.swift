import Foundation
import RAGCore
import RAGTesting
import Testing

/// Right-to-left text (issue #12): PDF writers draw Hebrew and Arabic in visual order, which MuPDF returns as it is,
/// reversed; the loader returns it in reading order.
@Suite struct RightToLeftTextTests {
    private func load(_ data: Data) throws -> Document {
        try DocumentLoader().load(data: data, fileName: "rtl.pdf")
    }

    @Test func rightToLeftLinesComeOutInReadingOrder() throws {
        // Drawn as PDF writers draw them: glyphs left to right in visual order.
        let pdf = TestPDF.drawnText([
            String("שלום עולם".reversed()),
            String("مرحبا بالعالم".reversed()),
            "2.5 הסרג",  // "גרסה 2.5" (version 2.5): the number stays left to right
            "(שדח) הסרג",  // "גרסה (חדש)": brackets are drawn mirrored
            "Hello םלוע",  // a left-to-right line holding a Hebrew word
            "Hello world",
        ])
        let document = try load(pdf)
        let lines = document.pages.first?.text.split(separator: "\n").map(String.init)
        #expect(lines == ["שלום עולם", "مرحبا بالعالم", "גרסה 2.5", "גרסה (חדש)", "Hello עולם", "Hello world"])
    }

    @Test func rightToLeftTextDrawnInReadingOrderStaysInReadingOrder() throws {
        // Some writers draw each glyph left of the one before, in reading order; MuPDF returns them as drawn.
        let document = try load(TestPDF.drawnText(["שלום עולם"], leftwards: true))
        #expect(document.pages.first?.text == "שלום עולם")
    }

    @Test func aLigatureGlyphKeepsItsCharactersInOrder() throws {
        // "לא שלום" drawn in visual order, with one glyph for the ligature "לא" (its ToUnicode text is logical).
        let document = try load(TestPDF.drawnText([["ם", "ו", "ל", "ש", " ", "לא"]]))
        #expect(document.pages.first?.text == "לא שלום")
    }

    @Test func aSearchForAHebrewWordFindsThePageInReadingOrder() async throws {
        let engine = try await Engine()
        _ = try await engine.ingest(data: TestPDF.drawnText([String("שלום עולם".reversed())]), fileName: "a.pdf")
        _ = try await engine.ingest(data: TestPDF.drawnText([String("תודה רבה".reversed())]), fileName: "b.pdf")
        let hit = try #require(try await engine.search("שלום", k: 1).first)
        #expect(hit.chunk.fileName == "a.pdf")
        #expect(hit.chunk.text.contains("שלום"))
    }
}
