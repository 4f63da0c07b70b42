// ragpdf: a small C shim over MuPDF for RAGCore's document loader.
//
// Why a shim: MuPDF reports errors with fz_try/fz_catch, which are setjmp/longjmp. A longjmp must never cross
// Swift frames, so every call into MuPDF that can throw happens here, inside fz_try, and comes back to Swift as a
// status code plus a message copied into a caller-provided buffer (from fz_caught_message).
//
// Threading: a ragpdf_context and everything opened with it must be used by one thread at a time. Separate
// contexts share nothing and may run on different threads at once, each with its own ragpdf_document opened from
// the same read-only bytes.
#ifndef RAGPDF_H
#define RAGPDF_H

#include <stddef.h>
#include <stdint.h>

#pragma clang assume_nonnull begin

/// Status codes returned by every ragpdf function that can fail.
typedef enum ragpdf_status {
    RAGPDF_OK = 0,
    /// MuPDF ran out of memory (or an allocation in the shim failed).
    RAGPDF_ERROR_MEMORY = 1,
    /// The document could not be opened at all.
    RAGPDF_ERROR_OPEN = 2,
    /// A page could not be loaded or its text could not be extracted.
    RAGPDF_ERROR_PAGE = 3,
    /// The page's text exceeded the character cap passed to ragpdf_page_text.
    RAGPDF_ERROR_TEXT_LIMIT = 4,
    /// An argument was out of range (a page index, for example).
    RAGPDF_ERROR_ARGUMENT = 5,
    /// Any other MuPDF error.
    RAGPDF_ERROR_GENERIC = 6,
    /// A work bound passed to the function was reached (ragpdf_scan_page_objects' object budget).
    RAGPDF_ERROR_LIMIT = 7,
} ragpdf_status;

/// A MuPDF context plus the shim's reusable text buffer. Opaque.
typedef struct ragpdf_context ragpdf_context;
/// An open document. Opaque; belongs to the context that opened it.
typedef struct ragpdf_document ragpdf_document;

/// Creates a context with a resource cache (`fz_store`) of `store_bytes` (fonts, decoded objects are reused
/// across pages) and registers the document handlers. The message buffer receives the error, if any.
ragpdf_status ragpdf_context_new(size_t store_bytes, ragpdf_context *_Nullable *_Nonnull out_context,
                                 char *message, size_t message_capacity);

/// Frees a context. Every document opened with it must have been dropped first. NULL is ignored.
void ragpdf_context_drop(ragpdf_context *_Nullable context);

/// Opens a PDF from memory. The bytes are NOT copied: the caller keeps them alive and unchanged until
/// ragpdf_document_drop.
ragpdf_status ragpdf_document_open(ragpdf_context *context, const void *bytes, size_t length,
                                   ragpdf_document *_Nullable *_Nonnull out_document,
                                   char *message, size_t message_capacity);

/// Frees a document. NULL is ignored.
void ragpdf_document_drop(ragpdf_context *context, ragpdf_document *_Nullable document);

/// Sets `*out_needs` to 1 if the document is encrypted and needs a password before its pages can be read.
ragpdf_status ragpdf_document_needs_password(ragpdf_context *context, ragpdf_document *document, int *out_needs,
                                             char *message, size_t message_capacity);

/// Tries a password. Sets `*out_ok` to 1 if it unlocked the document.
ragpdf_status ragpdf_document_authenticate(ragpdf_context *context, ragpdf_document *document,
                                           const char *password, int *out_ok,
                                           char *message, size_t message_capacity);

/// The number of pages the document says it has (it may lie; pages may fail to load).
ragpdf_status ragpdf_document_page_count(ragpdf_context *context, ragpdf_document *document, int *out_count,
                                         char *message, size_t message_capacity);

/// Writes the object number of each of the first `count` pages, in page order, to `out_numbers` (room for `count`
/// values). Two pages with the same number are the same page object: a page tree whose kids name one page many
/// times. 0 means unknown: the page is missing, is not an indirect object, or the document is not a PDF.
///
/// Why: the text of a page object that appears many times in the page tree need only be extracted once, and this
/// says so before any page's text is extracted. The page tree is walked once (a 10,000-kid tree costs 10,000 steps,
/// where `pdf_lookup_page_obj` per page costs 50 million); when the tree's /Count entries disagree with what is
/// under them, every page is looked up with `pdf_lookup_page_obj` instead, so the numbers always match the pages
/// ragpdf_page_text reads.
ragpdf_status ragpdf_page_object_numbers(ragpdf_context *context, ragpdf_document *document, int count,
                                         int *out_numbers, char *message, size_t message_capacity);

/// Sets `*out_repaired` to 1 if MuPDF had to rebuild the document's cross-reference table by scanning the file for
/// objects (`pdf_was_repaired`): the file is damaged. MuPDF may repair lazily, when a broken object is first read, so
/// ask after the page count.
ragpdf_status ragpdf_document_repaired(ragpdf_context *context, ragpdf_document *document, int *out_repaired,
                                       char *message, size_t message_capacity);

/// Scans every object of a (repaired) PDF, in object-number order, for page objects (dictionaries with
/// `/Type /Page`), and writes their object numbers to `out_numbers` (room for `max_pages` + 1 values); `*out_count` is
/// how many were found, stopping at `max_pages` + 1.
///
/// Why: when a file is cut off, its page tree and catalog are usually lost with its end (TeX, and most writers that
/// stream pages out as they finish them, write them last), and MuPDF's repair, which rebuilds the cross-reference
/// table by scanning for `N 0 obj` and finds the objects that remain, then has no root and reports no pages. The
/// page objects themselves, and their content streams, are in the part that remains; object-number order is page
/// order for such writers (every one of 72 cut-off TeX manuals measured). Bounded: at most `max_objects` objects are
/// loaded, beyond which the scan stops with RAGPDF_ERROR_LIMIT. Loading an object of an object stream that MuPDF has
/// not cached yet counts as loading all the stream's objects, since MuPDF parses the whole stream for it (it caches
/// them all, but parses again for each null object). A non-PDF document has no page objects.
ragpdf_status ragpdf_scan_page_objects(ragpdf_context *context, ragpdf_document *document, int64_t max_objects,
                                       int max_pages, int *out_numbers, int *out_count,
                                       char *message, size_t message_capacity);

/// Makes the document's pages the page objects numbered `numbers` (copied), in that order, instead of its page
/// tree: ragpdf_document_page_count, ragpdf_page_object_numbers and ragpdf_page_text then use them. For the numbers
/// a ragpdf_scan_page_objects of the same bytes found, so that each extraction worker's document does not scan again.
ragpdf_status ragpdf_document_use_pages(ragpdf_context *context, ragpdf_document *document, const int *numbers,
                                        int count, char *message, size_t message_capacity);

/// Looks up a metadata entry such as "info:Title" or "info:Author". On success `*out_value` is a malloc'd,
/// NUL-terminated UTF-8 string to free with ragpdf_free, or NULL when the entry is absent.
ragpdf_status ragpdf_document_metadata(ragpdf_context *context, ragpdf_document *document, const char *key,
                                       char *_Nullable *_Nonnull out_value,
                                       char *message, size_t message_capacity);

/// One entry of a document's outline (its bookmarks, the table of contents a PDF viewer shows in its side bar).
typedef struct ragpdf_outline_entry {
    /// The entry's title: malloc'd, NUL-terminated UTF-8, at most 512 bytes; freed by ragpdf_outline_free.
    char *_Nullable title;
    /// 0 for a top-level entry, 1 for its children, and so on.
    int depth;
    /// The 0-based page the entry points to, or -1 when it points outside the document (a web link) or nowhere.
    int page_index;
    /// Where on that page the entry points, in points from the page's top, or a negative value when unknown.
    float y;
} ragpdf_outline_entry;

/// Reads the document's outline in reading order (each entry, then its children, then its next sibling) into a
/// malloc'd array of `*out_count` entries, to free with ragpdf_outline_free; a document without an outline gives
/// 0 entries and NULL. Bounded for hostile files: at most `max_entries` entries are returned (the rest are left
/// out) and entries deeper than `max_depth` are skipped. A document whose pages were replaced by
/// ragpdf_document_use_pages (a repaired file) reports no outline, since its page indexes would not match.
ragpdf_status ragpdf_document_outline(ragpdf_context *context, ragpdf_document *document, int max_entries,
                                      int max_depth, ragpdf_outline_entry *_Nullable *_Nonnull out_entries,
                                      int *out_count, char *message, size_t message_capacity);

/// Frees what ragpdf_document_outline returned. NULL is ignored.
void ragpdf_outline_free(ragpdf_outline_entry *_Nullable entries, int count);

/// Frees memory returned by the shim. NULL is ignored.
void ragpdf_free(void *_Nullable pointer);

/// One line of a page's text and the style most of its characters are set in, as produced by ragpdf_page_text when
/// asked for lines (for finding headings by font size and weight where a PDF has no outline).
typedef struct ragpdf_line {
    /// Where the line's text starts in the page's `utf8`, in bytes, and how many bytes it has (no separators).
    int64_t start;
    int64_t length;
    /// Characters written for the line.
    int32_t characters;
    /// Of them, characters set in a bold font (fz_font_is_bold, or a font name saying Bold, Black, Heavy, Semibold,
    /// Demi, or TeX's bold extended CMBX).
    int32_t bold_characters;
    /// The font size (points, as drawn: the font matrix times the transform) most of the line's characters have.
    float size;
    /// The 0-based text block of the page the line is in, and how many lines with text that block has.
    int32_t block;
    int32_t block_lines;
} ragpdf_line;

/// The text of one page, as produced by ragpdf_page_text.
typedef struct ragpdf_page_text_result {
    /// UTF-8 text, not NUL-terminated. Owned by the context; valid until the next ragpdf_page_text call on it.
    const char *_Nullable utf8;
    /// Length of `utf8` in bytes.
    size_t length;
    /// Unicode scalars written to `utf8`, separators included.
    int64_t characters;
    /// Non-whitespace characters the page's text holds (the base for the unmappable fraction).
    int64_t glyphs;
    /// Characters MuPDF could not map to Unicode (U+FFFD); they are counted but not written.
    int64_t unmappable;
    /// The page's lines with text, in the order written, when ragpdf_page_text was asked for them (else NULL). Owned
    /// by the context; valid until the next ragpdf_page_text call on it. At most one per character written.
    const ragpdf_line *_Nullable lines;
    /// How many `lines` there are.
    int64_t line_count;
    /// The fraction of the page's area covered by its text lines' boxes (invisible text included), and by the images
    /// it draws (each image's box, summed, so overlapping images count twice; images under 50 % opacity left out).
    /// Both at most 1. A scanned page is nearly all image; a thin text layer of OCR junk on it covers little.
    float text_coverage;
    float image_coverage;
} ragpdf_page_text_result;

/// Extracts the text of the page at 0-based `page_index`: characters of a line in order, `\n` between lines,
/// `\n\n` between blocks; NUL and other control characters dropped, U+FFFD counted and dropped.
///
/// A line holding right-to-left characters (Hebrew, Arabic and the other RTL scripts) is returned in reading
/// (logical) order: its characters are put in the order they stand on the page, left to right, and reordered by the
/// Unicode bidirectional algorithm (libfribidi), with mirrored brackets turned back. PDF writers draw such text in
/// visual order, which MuPDF returns as it is, reversed; lines without RTL characters are written as they come.
/// If more than `max_characters` characters would be written, stops and returns RAGPDF_ERROR_TEXT_LIMIT.
///
/// With `with_lines` nonzero, also reports each line's place in the text and its dominant font size and weight
/// (`lines`), read in the same pass over the structured text; its memory is bounded by the characters written.
ragpdf_status ragpdf_page_text(ragpdf_context *context, ragpdf_document *document, int page_index,
                               int64_t max_characters, int with_lines, ragpdf_page_text_result *out_result,
                               char *message, size_t message_capacity);

/// A stop switch for one long MuPDF run (drawing a page, reading its characters). Opaque.
///
/// Why: a hostile page's content stream can take very long to interpret; MuPDF checks its cookie's abort flag as it
/// goes, so a watchdog on another thread can stop it at a deadline.
typedef struct ragpdf_cookie ragpdf_cookie;

/// A new cookie, not aborted; NULL when memory runs out.
ragpdf_cookie *_Nullable ragpdf_cookie_new(void);

/// Frees a cookie. NULL is ignored. No run may still use it.
void ragpdf_cookie_drop(ragpdf_cookie *_Nullable cookie);

/// Asks the run using the cookie to stop as soon as it next checks. Safe from any thread, at any time.
void ragpdf_cookie_abort(ragpdf_cookie *cookie);

/// One character of a page's structured text, for finding a passage on the page (citations).
typedef struct ragpdf_char {
    /// The Unicode code point (ligatures expanded: each character has its own box).
    uint32_t c;
    /// The line the character is on, counted over the page from 0: characters of one line are highlighted together.
    int32_t line;
    /// The character's box in page space (points, origin at the top left, y down): its quad's bounding box.
    float x0, y0, x1, y1;
} ragpdf_char;

/// Extracts the characters of the page at 0-based `page_index` in structured-text order (MuPDF's, not reordered:
/// right-to-left lines stay as drawn), with their boxes, and the page's size in points. `*out_chars` is malloc'd (free
/// with ragpdf_free; NULL when the page has no characters). More than `max_characters` characters is
/// RAGPDF_ERROR_TEXT_LIMIT; a run stopped by `cookie` (ragpdf_cookie_abort) is RAGPDF_ERROR_LIMIT.
///
/// Why: a cited passage's text differs from the page's (whitespace, hyphenation, ligatures), so Swift aligns the
/// two normalised strings and highlights the boxes of the characters that matched, which MuPDF's own search
/// (fz_search_stext_page: verbatim but for whitespace) cannot do for a thousand-character passage.
ragpdf_status ragpdf_page_chars(ragpdf_context *context, ragpdf_document *document, int page_index,
                                int64_t max_characters, ragpdf_cookie *_Nullable cookie,
                                ragpdf_char *_Nullable *_Nonnull out_chars,
                                int64_t *out_count, float *out_width, float *out_height,
                                char *message, size_t message_capacity);

/// A rectangle in page space (points, origin at the top left, y down).
typedef struct ragpdf_rect {
    float x0, y0, x1, y1;
} ragpdf_rect;

/// A rendered page, as produced by ragpdf_render_page.
typedef struct ragpdf_rendered {
    /// The PNG, malloc'd: free with ragpdf_free.
    unsigned char *_Nullable png;
    size_t length;
    int32_t width, height;
} ragpdf_rendered;

/// Renders the page at 0-based `page_index` to an RGB PNG `width` pixels wide (its height follows from the page's
/// aspect), with each of the `highlight_count` rectangles of `highlights` (page space) tinted yellow by multiplying
/// its pixels (text stays dark and readable). A page that would need more than `max_pixels` pixels (a hostile
/// mediabox, thousands of times taller than wide) is RAGPDF_ERROR_LIMIT, before any memory is allocated for it; an
/// empty or degenerate page is RAGPDF_ERROR_PAGE; a run stopped by `cookie` (ragpdf_cookie_abort) is RAGPDF_ERROR_LIMIT.
ragpdf_status ragpdf_render_page(ragpdf_context *context, ragpdf_document *document, int page_index, int width,
                                 int64_t max_pixels, ragpdf_cookie *_Nullable cookie,
                                 const ragpdf_rect *_Nullable highlights, int highlight_count,
                                 ragpdf_rendered *out_rendered, char *message, size_t message_capacity);

/// The page label of the page at 0-based `page_index` ("iv", "A-3") when the PDF defines page labels
/// (`/PageLabels` in the catalog), written NUL-terminated into `out_label` (truncated to `label_capacity`); an empty
/// string when it defines none for the page. The number tree is walked with a budget of `max_nodes` nodes
/// (hostile trees: cycles, huge arrays); past it the label is empty.
///
/// Why: MuPDF 1.21 (Debian 12) has no fz_page_label.
ragpdf_status ragpdf_page_label(ragpdf_context *context, ragpdf_document *document, int page_index, int max_nodes,
                                char *out_label, size_t label_capacity, char *message, size_t message_capacity);

/// A page rendered in 8-bit grayscale, as produced by ragpdf_render_gray: 0 is black, 255 white.
typedef struct ragpdf_gray {
    /// `height` rows of `stride` bytes, malloc'd: free with ragpdf_free.
    unsigned char *_Nullable pixels;
    int32_t width, height, stride;
} ragpdf_gray;

/// Renders the page at 0-based `page_index` in grayscale at `dpi` dots per inch (the page's /Rotate applied), for
/// OCR. Reads the same page objects as ragpdf_page_text (those of ragpdf_document_use_pages, for a repaired file),
/// and only the page's content (not its annotations). A page that would need more than `max_pixels` pixels is
/// RAGPDF_ERROR_LIMIT before any pixel memory is allocated; a page with no usable size is RAGPDF_ERROR_PAGE; a run
/// stopped by `cookie` is RAGPDF_ERROR_LIMIT. An image that cannot be decoded fails the page (RAGPDF_ERROR_PAGE).
ragpdf_status ragpdf_render_gray(ragpdf_context *context, ragpdf_document *document, int page_index, float dpi,
                                 int64_t max_pixels, ragpdf_cookie *_Nullable cookie, ragpdf_gray *out_gray,
                                 char *message, size_t message_capacity);

#pragma clang assume_nonnull end

#endif
