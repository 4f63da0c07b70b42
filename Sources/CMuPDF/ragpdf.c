// See ragpdf.h for why this shim exists. Every MuPDF call that can throw runs inside fz_try here; variables
// assigned inside fz_try and read after it are `volatile`; resources are dropped in fz_always.
#include "ragpdf.h"

#include <fribidi.h>
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ragpdf_context {
    fz_context *ctx;
    // Reused across pages so extraction does not allocate per page.
    unsigned char *text;
    size_t text_capacity;
    // The lines of the last page asked for with its lines, reused like `text`.
    ragpdf_line *lines;
    size_t lines_capacity;
    // While ragpdf_page_text runs: the page's bounds and the area its images cover (ragpdf_note_image).
    fz_rect page_bounds;
    double image_area;
    // While ragpdf_render_gray runs: MuPDF's warnings about the page (a broken image stream is skipped with one).
    int render_warnings;
    char render_warning[200];
    int capture_warnings;
};

struct ragpdf_document {
    fz_document *doc;
    // Set by ragpdf_document_use_pages: the page objects read instead of the page tree, in page order.
    int *pages;
    int page_count;
};

// MuPDF prints warnings and errors to stderr by default; a library must not.
static void ragpdf_silent(void *user, const char *message) {
    (void)user;
    (void)message;
}

// The warning callback: silent, but while a page is rendered for OCR it counts the warnings that say something on
// the page could not be decoded, and keeps the first.
static void ragpdf_warning(void *user, const char *message) {
    struct ragpdf_context *context = user;
    if (context == NULL || !context->capture_warnings || message == NULL) return;
    if (strstr(message, "error") == NULL && strstr(message, "truncated") == NULL && strstr(message, "cannot") == NULL)
        return;
    if (context->render_warnings++ == 0) {
        size_t n = strlen(message);
        if (n >= sizeof context->render_warning) n = sizeof context->render_warning - 1;
        memcpy(context->render_warning, message, n);
        context->render_warning[n] = 0;
    }
}

static void ragpdf_set_message(char *message, size_t capacity, const char *text) {
    if (capacity == 0) return;
    if (text == NULL) text = "";
    size_t n = strlen(text);
    if (n >= capacity) n = capacity - 1;
    memcpy(message, text, n);
    message[n] = 0;
}

// The one place a caught MuPDF error becomes a status plus message.
static ragpdf_status ragpdf_caught(fz_context *ctx, ragpdf_status fallback, char *message, size_t capacity) {
    ragpdf_set_message(message, capacity, fz_caught_message(ctx));
    if (fz_caught(ctx) == FZ_ERROR_MEMORY) return RAGPDF_ERROR_MEMORY;
    return fallback;
}

ragpdf_status ragpdf_context_new(size_t store_bytes, ragpdf_context **out_context, char *message,
                                 size_t message_capacity) {
    *out_context = NULL;
    ragpdf_context *context = calloc(1, sizeof(*context));
    if (context == NULL) {
        ragpdf_set_message(message, message_capacity, "cannot allocate the context");
        return RAGPDF_ERROR_MEMORY;
    }
    context->ctx = fz_new_context(NULL, NULL, store_bytes);
    if (context->ctx == NULL) {
        free(context);
        ragpdf_set_message(message, message_capacity, "cannot create the MuPDF context");
        return RAGPDF_ERROR_MEMORY;
    }
    fz_context *ctx = context->ctx;
    fz_set_warning_callback(ctx, ragpdf_warning, context);
    fz_set_error_callback(ctx, ragpdf_silent, NULL);
    fz_set_user_context(ctx, context);
    fz_try(ctx) {
        fz_register_document_handlers(ctx);
    }
    fz_catch(ctx) {
        ragpdf_status status = ragpdf_caught(ctx, RAGPDF_ERROR_GENERIC, message, message_capacity);
        fz_drop_context(ctx);
        free(context);
        return status;
    }
    *out_context = context;
    return RAGPDF_OK;
}

void ragpdf_context_drop(ragpdf_context *context) {
    if (context == NULL) return;
    fz_drop_context(context->ctx);
    free(context->text);
    free(context->lines);
    free(context);
}

ragpdf_status ragpdf_document_open(ragpdf_context *context, const void *bytes, size_t length,
                                   ragpdf_document **out_document, char *message, size_t message_capacity) {
    *out_document = NULL;
    fz_context *ctx = context->ctx;
    ragpdf_document *document = calloc(1, sizeof(*document));
    if (document == NULL) {
        ragpdf_set_message(message, message_capacity, "cannot allocate the document");
        return RAGPDF_ERROR_MEMORY;
    }
    fz_stream *volatile stream = NULL;
    fz_document *volatile doc = NULL;
    fz_var(stream);
    fz_var(doc);
    fz_try(ctx) {
        stream = fz_open_memory(ctx, (const unsigned char *)bytes, length);
        doc = fz_open_document_with_stream(ctx, "application/pdf", stream);
    }
    fz_always(ctx) {
        fz_drop_stream(ctx, stream); // the document holds its own reference
    }
    fz_catch(ctx) {
        free(document);
        return ragpdf_caught(ctx, RAGPDF_ERROR_OPEN, message, message_capacity);
    }
    document->doc = doc;
    *out_document = document;
    return RAGPDF_OK;
}

void ragpdf_document_drop(ragpdf_context *context, ragpdf_document *document) {
    if (document == NULL) return;
    fz_drop_document(context->ctx, document->doc);
    free(document->pages);
    free(document);
}

ragpdf_status ragpdf_document_needs_password(ragpdf_context *context, ragpdf_document *document, int *out_needs,
                                             char *message, size_t message_capacity) {
    fz_context *ctx = context->ctx;
    volatile int needs = 0;
    fz_try(ctx) {
        needs = fz_needs_password(ctx, document->doc);
    }
    fz_catch(ctx) {
        return ragpdf_caught(ctx, RAGPDF_ERROR_GENERIC, message, message_capacity);
    }
    *out_needs = needs;
    return RAGPDF_OK;
}

ragpdf_status ragpdf_document_authenticate(ragpdf_context *context, ragpdf_document *document,
                                           const char *password, int *out_ok, char *message,
                                           size_t message_capacity) {
    fz_context *ctx = context->ctx;
    volatile int ok = 0;
    fz_try(ctx) {
        ok = fz_authenticate_password(ctx, document->doc, password) != 0;
    }
    fz_catch(ctx) {
        return ragpdf_caught(ctx, RAGPDF_ERROR_GENERIC, message, message_capacity);
    }
    *out_ok = ok;
    return RAGPDF_OK;
}

ragpdf_status ragpdf_document_page_count(ragpdf_context *context, ragpdf_document *document, int *out_count,
                                         char *message, size_t message_capacity) {
    fz_context *ctx = context->ctx;
    if (document->pages != NULL) {
        *out_count = document->page_count;
        return RAGPDF_OK;
    }
    volatile int count = 0;
    fz_try(ctx) {
        count = fz_count_pages(ctx, document->doc);
    }
    fz_catch(ctx) {
        return ragpdf_caught(ctx, RAGPDF_ERROR_OPEN, message, message_capacity);
    }
    *out_count = count;
    return RAGPDF_OK;
}

ragpdf_status ragpdf_document_repaired(ragpdf_context *context, ragpdf_document *document, int *out_repaired,
                                       char *message, size_t message_capacity) {
    fz_context *ctx = context->ctx;
    volatile int repaired = 0;
    fz_try(ctx) {
        pdf_document *pdf = pdf_specifics(ctx, document->doc);
        repaired = pdf != NULL && pdf_was_repaired(ctx, pdf);
    }
    fz_catch(ctx) {
        return ragpdf_caught(ctx, RAGPDF_ERROR_GENERIC, message, message_capacity);
    }
    *out_repaired = repaired;
    return RAGPDF_OK;
}

ragpdf_status ragpdf_scan_page_objects(ragpdf_context *context, ragpdf_document *document, int64_t max_objects,
                                       int max_pages, int *out_numbers, int *out_count, char *message,
                                       size_t message_capacity) {
    fz_context *ctx = context->ctx;
    *out_count = 0;
    if (max_pages < 0 || max_objects < 0) {
        ragpdf_set_message(message, message_capacity, "the page or object limit is negative");
        return RAGPDF_ERROR_ARGUMENT;
    }
    pdf_document *pdf = pdf_specifics(ctx, document->doc);
    if (pdf == NULL) return RAGPDF_OK;
    volatile int length = 0;
    fz_try(ctx) {
        length = pdf_xref_len(ctx, pdf);
    }
    fz_catch(ctx) {
        return ragpdf_caught(ctx, RAGPDF_ERROR_GENERIC, message, message_capacity);
    }
    int found = 0;
    int64_t work = 0;
    for (int number = 1; number < length && found <= max_pages; number++) {
        // Free and missing entries cost nothing: only objects the file holds are loaded. An object in an object
        // stream that is not cached yet costs the whole stream's objects: MuPDF parses the stream to load it (and
        // caches them all, except null objects, which it parses again each time).
        pdf_xref_entry *entry = pdf_get_xref_entry_no_null(ctx, pdf, number);
        if (entry->type != 'n' && entry->type != 'o') continue;
        int64_t cost = 1;
        if (entry->type == 'o' && entry->obj == NULL) {
            int stream = (int)entry->ofs;
            volatile int64_t objects = 1;
            fz_try(ctx) {
                pdf_obj *container = pdf_load_object(ctx, pdf, stream);
                objects = pdf_dict_get_int(ctx, container, PDF_NAME(N));
                pdf_drop_obj(ctx, container);
            }
            fz_catch(ctx) {
                if (fz_caught(ctx) == FZ_ERROR_MEMORY)
                    return ragpdf_caught(ctx, RAGPDF_ERROR_MEMORY, message, message_capacity);
            }
            if (objects > cost) cost = objects;
        }
        work += cost;
        if (work > max_objects) {
            char text[160];
            snprintf(text, sizeof(text), "the scan for page objects stopped at its limit of %lld objects loaded for a"
                     " file of this size", (long long)max_objects);
            ragpdf_set_message(message, message_capacity, text);
            return RAGPDF_ERROR_LIMIT;
        }
        pdf_obj *volatile object = NULL;
        volatile int is_page = 0;
        fz_var(object);
        fz_try(ctx) {
            object = pdf_load_object(ctx, pdf, number);
            is_page = pdf_is_dict(ctx, object) &&
                      pdf_name_eq(ctx, pdf_dict_get(ctx, object, PDF_NAME(Type)), PDF_NAME(Page));
        }
        fz_always(ctx) {
            pdf_drop_obj(ctx, object);
        }
        fz_catch(ctx) {
            if (fz_caught(ctx) == FZ_ERROR_MEMORY)
                return ragpdf_caught(ctx, RAGPDF_ERROR_MEMORY, message, message_capacity);
            is_page = 0; // a broken object: not a page we can read
        }
        if (is_page) out_numbers[found++] = number;
    }
    *out_count = found;
    return RAGPDF_OK;
}

ragpdf_status ragpdf_document_use_pages(ragpdf_context *context, ragpdf_document *document, const int *numbers,
                                        int count, char *message, size_t message_capacity) {
    (void)context;
    if (count < 0) {
        ragpdf_set_message(message, message_capacity, "the page count is negative");
        return RAGPDF_ERROR_ARGUMENT;
    }
    int *pages = malloc(sizeof(int) * (size_t)(count > 0 ? count : 1));
    if (pages == NULL) {
        ragpdf_set_message(message, message_capacity, "cannot allocate the page list");
        return RAGPDF_ERROR_MEMORY;
    }
    if (count > 0) memcpy(pages, numbers, sizeof(int) * (size_t)count);
    free(document->pages);
    document->pages = pages;
    document->page_count = count;
    return RAGPDF_OK;
}

ragpdf_status ragpdf_document_metadata(ragpdf_context *context, ragpdf_document *document, const char *key,
                                       char **out_value, char *message, size_t message_capacity) {
    fz_context *ctx = context->ctx;
    *out_value = NULL;
    char small[512];
    volatile int size = -1;
    fz_try(ctx) {
        size = fz_lookup_metadata(ctx, document->doc, key, small, (int)sizeof(small));
    }
    fz_catch(ctx) {
        return ragpdf_caught(ctx, RAGPDF_ERROR_GENERIC, message, message_capacity);
    }
    if (size < 0) return RAGPDF_OK; // absent
    char *value = malloc((size_t)size + 1);
    if (value == NULL) {
        ragpdf_set_message(message, message_capacity, "cannot allocate the metadata value");
        return RAGPDF_ERROR_MEMORY;
    }
    if ((size_t)size <= sizeof(small)) {
        memcpy(value, small, (size_t)size);
        value[size] = 0;
    } else {
        fz_try(ctx) {
            fz_lookup_metadata(ctx, document->doc, key, value, size + 1);
        }
        fz_catch(ctx) {
            free(value);
            return ragpdf_caught(ctx, RAGPDF_ERROR_GENERIC, message, message_capacity);
        }
        value[size] = 0;
    }
    *out_value = value;
    return RAGPDF_OK;
}

// The deepest page tree ragpdf_walk_page_tree follows; deeper trees are looked up page by page.
#define RAGPDF_MAX_TREE_DEPTH 64

// The object number a page-tree kid names when it is a page object, else 0.
static int ragpdf_page_number_of(fz_context *ctx, pdf_obj *kid) {
    return pdf_is_indirect(ctx, kid) && pdf_is_dict(ctx, kid) ? pdf_to_num(ctx, kid) : 0;
}

// Whether a page-tree kid is an intermediate node, decided as pdf_lookup_page_obj decides it.
static int ragpdf_is_pages_node(fz_context *ctx, pdf_obj *kid) {
    pdf_obj *type = pdf_dict_get(ctx, kid, PDF_NAME(Type));
    if (type) return pdf_name_eq(ctx, type, PDF_NAME(Pages));
    return pdf_dict_get(ctx, kid, PDF_NAME(Kids)) && !pdf_dict_get(ctx, kid, PDF_NAME(MediaBox));
}

// Walks the page tree once, in page order, writing the object number of each of the first `count` pages. Returns
// 1 when the result is what pdf_lookup_page_obj gives page by page: every node's /Count equals the pages found
// under it (pdf_lookup_page_obj skips whole subtrees by /Count), no cycle, no deeper than RAGPDF_MAX_TREE_DEPTH,
// and at most 4 kids visited per page plus 4096 (shared subtrees cannot make it walk forever). Returns 0 otherwise,
// with `out_numbers` partly written. May throw.
static int ragpdf_walk_page_tree(fz_context *ctx, pdf_document *pdf, int count, int *out_numbers) {
    struct frame {
        pdf_obj *kids;
        int length, next, number, declared, first;
    } stack[RAGPDF_MAX_TREE_DEPTH];
    pdf_obj *root = pdf_dict_get(ctx, pdf_dict_get(ctx, pdf_trailer(ctx, pdf), PDF_NAME(Root)), PDF_NAME(Pages));
    if (!pdf_is_dict(ctx, root)) return 0;
    pdf_obj *kids = pdf_dict_get(ctx, root, PDF_NAME(Kids));
    stack[0] = (struct frame){kids, pdf_array_len(ctx, kids), 0, pdf_to_num(ctx, root), count, 0};
    int depth = 1, filled = 0;
    int64_t budget = (int64_t)count * 4 + 4096;
    while (depth > 0 && filled < count) {
        struct frame *top = &stack[depth - 1];
        if (top->next >= top->length) {
            // A finished node must hold exactly the pages it declares (the root's /Count is the page count).
            if (depth > 1 && filled - top->first != top->declared) return 0;
            depth--;
            continue;
        }
        if (--budget < 0) return 0;
        pdf_obj *kid = pdf_array_get(ctx, top->kids, top->next++);
        if (!ragpdf_is_pages_node(ctx, kid)) {
            out_numbers[filled++] = ragpdf_page_number_of(ctx, kid);
            continue;
        }
        int declared = pdf_dict_get_int(ctx, kid, PDF_NAME(Count));
        if (declared < 0) return 0;  // pdf_lookup_page_obj would count it as negative pages
        if (declared == 0) continue; // pdf_lookup_page_obj never enters it either
        int number = pdf_to_num(ctx, kid);
        if (depth == RAGPDF_MAX_TREE_DEPTH) return 0;
        for (int d = 0; d < depth; d++)
            if (number != 0 && stack[d].number == number) return 0; // a cycle
        pdf_obj *grandkids = pdf_dict_get(ctx, kid, PDF_NAME(Kids));
        stack[depth++] = (struct frame){grandkids, pdf_array_len(ctx, grandkids), 0, number, declared, filled};
    }
    // Stopped with nodes still open: each must declare at least the pages found in it so far.
    for (int d = 1; d < depth; d++)
        if (stack[d].declared < filled - stack[d].first) return 0;
    // Fewer pages than the document declares: the rest fail to load, and are unknown here.
    while (filled < count) out_numbers[filled++] = 0;
    return 1;
}

ragpdf_status ragpdf_page_object_numbers(ragpdf_context *context, ragpdf_document *document, int count,
                                         int *out_numbers, char *message, size_t message_capacity) {
    fz_context *ctx = context->ctx;
    if (count < 0) {
        ragpdf_set_message(message, message_capacity, "the page count is negative");
        return RAGPDF_ERROR_ARGUMENT;
    }
    memset(out_numbers, 0, sizeof(int) * (size_t)count);
    if (document->pages != NULL) {
        for (int index = 0; index < count && index < document->page_count; index++)
            out_numbers[index] = document->pages[index];
        return RAGPDF_OK;
    }
    pdf_document *volatile pdf = NULL;
    volatile int walked = 0;
    fz_try(ctx) {
        pdf = pdf_specifics(ctx, document->doc);
        if (pdf != NULL) walked = ragpdf_walk_page_tree(ctx, pdf, count, out_numbers);
    }
    fz_catch(ctx) {
        if (fz_caught(ctx) == FZ_ERROR_MEMORY)
            return ragpdf_caught(ctx, RAGPDF_ERROR_MEMORY, message, message_capacity);
        walked = 0; // a broken tree: look every page up as ragpdf_page_text will
    }
    if (pdf == NULL || walked) return RAGPDF_OK;
    for (int index = 0; index < count; index++) {
        volatile int number = 0;
        fz_try(ctx) {
            number = ragpdf_page_number_of(ctx, pdf_lookup_page_obj(ctx, pdf, index));
        }
        fz_catch(ctx) {
            if (fz_caught(ctx) == FZ_ERROR_MEMORY)
                return ragpdf_caught(ctx, RAGPDF_ERROR_MEMORY, message, message_capacity);
            number = 0; // the page cannot be found; ragpdf_page_text will report it
        }
        out_numbers[index] = number;
    }
    return RAGPDF_OK;
}

void ragpdf_free(void *pointer) { free(pointer); }

void ragpdf_outline_free(ragpdf_outline_entry *entries, int count) {
    if (entries == NULL) return;
    for (int i = 0; i < count; i++) free(entries[i].title);
    free(entries);
}

// A copy of `text` cut to at most `limit` bytes at a UTF-8 character boundary, or NULL when allocation fails.
static char *ragpdf_copy_utf8(const char *text, size_t limit) {
    size_t length = strlen(text);
    if (length > limit) {
        length = limit;
        while (length > 0 && ((unsigned char)text[length] & 0xC0) == 0x80) length--;
    }
    char *copy = malloc(length + 1);
    if (copy == NULL) return NULL;
    memcpy(copy, text, length);
    copy[length] = 0;
    return copy;
}

ragpdf_status ragpdf_document_outline(ragpdf_context *context, ragpdf_document *document, int max_entries,
                                      int max_depth, ragpdf_outline_entry **out_entries, int *out_count,
                                      char *message, size_t message_capacity) {
    fz_context *ctx = context->ctx;
    *out_entries = NULL;
    *out_count = 0;
    if (max_entries <= 0 || max_depth <= 0 || document->pages != NULL) return RAGPDF_OK;
    fz_outline *volatile root = NULL;
    fz_try(ctx) {
        root = fz_load_outline(ctx, document->doc);
    }
    fz_catch(ctx) {
        return ragpdf_caught(ctx, RAGPDF_ERROR_GENERIC, message, message_capacity);
    }
    if (root == NULL) return RAGPDF_OK;

    ragpdf_outline_entry *entries = calloc((size_t)max_entries, sizeof(ragpdf_outline_entry));
    fz_outline **stack = calloc((size_t)max_depth, sizeof(fz_outline *));
    if (entries == NULL || stack == NULL) {
        free(entries);
        free(stack);
        fz_drop_outline(ctx, root);
        ragpdf_set_message(message, message_capacity, "cannot allocate the outline");
        return RAGPDF_ERROR_MEMORY;
    }
    // Depth-first without recursion: stack[d] is the next entry to visit at depth d.
    int count = 0;
    int depth = 0;
    stack[0] = root;
    ragpdf_status status = RAGPDF_OK;
    while (depth >= 0 && count < max_entries) {
        fz_outline *node = stack[depth];
        if (node == NULL) {
            depth--;
            continue;
        }
        stack[depth] = node->next;
        volatile int page = -1;
        fz_try(ctx) {
            if (node->page.page >= 0) {
                page = fz_page_number_from_location(ctx, document->doc, node->page);
            } else if (node->uri != NULL && !fz_is_external_link(ctx, node->uri)) {
                float x = 0, y = 0;
                page = fz_page_number_from_location(ctx, document->doc, fz_resolve_link(ctx, document->doc, node->uri, &x, &y));
            }
        }
        fz_catch(ctx) {
            page = -1;  // a broken destination: keep the entry, pointing nowhere
        }
        char *title = ragpdf_copy_utf8(node->title != NULL ? node->title : "", 512);
        if (title == NULL) {
            status = RAGPDF_ERROR_MEMORY;
            ragpdf_set_message(message, message_capacity, "cannot allocate an outline title");
            break;
        }
        entries[count].title = title;
        entries[count].depth = depth;
        entries[count].page_index = page;
        entries[count].y = (node->page.page >= 0 && node->y == node->y) ? node->y : -1;
        count++;
        if (node->down != NULL && depth + 1 < max_depth) stack[++depth] = node->down;
    }
    free(stack);
    fz_drop_outline(ctx, root);
    if (status != RAGPDF_OK) {
        ragpdf_outline_free(entries, count);
        return status;
    }
    if (count == 0) {
        free(entries);
        return RAGPDF_OK;
    }
    *out_entries = entries;
    *out_count = count;
    return RAGPDF_OK;
}

// Makes room for at least `extra` more bytes in the context's text buffer. Returns 0 on allocation failure.
static int ragpdf_reserve(ragpdf_context *context, size_t used, size_t extra) {
    if (used + extra <= context->text_capacity) return 1;
    size_t capacity = context->text_capacity ? context->text_capacity : 16384;
    while (capacity < used + extra) capacity *= 2;
    unsigned char *grown = realloc(context->text, capacity);
    if (grown == NULL) return 0;
    context->text = grown;
    context->text_capacity = capacity;
    return 1;
}

// Makes room for one more line in the context's line buffer. Returns 0 on allocation failure.
static int ragpdf_reserve_line(ragpdf_context *context, size_t used) {
    if (used < context->lines_capacity) return 1;
    size_t capacity = context->lines_capacity ? context->lines_capacity * 2 : 256;
    ragpdf_line *grown = realloc(context->lines, capacity * sizeof(*grown));
    if (grown == NULL) return 0;
    context->lines = grown;
    context->lines_capacity = capacity;
    return 1;
}

// Whether `font` is bold: MuPDF's flag (from the font file or its descriptor), or a name that says so. TeX's bold
// fonts (CMBX, the Latin Modern and other bold extended ones) often carry no bold flag.
static int ragpdf_font_is_bold(fz_context *ctx, fz_font *font) {
    if (font == NULL) return 0;
    if (fz_font_is_bold(ctx, font)) return 1;
    const char *name = fz_font_name(ctx, font);
    if (name == NULL) return 0;
    static const char *const marks[] = {"Bold", "bold", "BOLD", "Black", "Heavy", "Semibold", "SemiBold", "Demi",
                                        "CMBX", "cmbx", "-bx", "Bx"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (strstr(name, marks[i]) != NULL) return 1;
    return 0;
}

// The style of one line being written: the sizes its characters have (the first few distinct ones, with how many
// characters each) and how many are bold. The font last asked about is remembered: a line rarely changes fonts.
struct ragpdf_line_style {
    float sizes[4];
    int32_t counts[4];
    int distinct;
    int32_t bold;
    fz_font *font;
    int font_bold;
};

static void ragpdf_style_add(fz_context *ctx, struct ragpdf_line_style *style, const fz_stext_char *ch) {
    if (ch->font != style->font) {
        style->font = ch->font;
        style->font_bold = ragpdf_font_is_bold(ctx, ch->font);
    }
    style->bold += style->font_bold;
    for (int i = 0; i < style->distinct; i++)
        if (fabsf(style->sizes[i] - ch->size) < 0.05f) {
            style->counts[i]++;
            return;
        }
    if (style->distinct < 4) {
        style->sizes[style->distinct] = ch->size;
        style->counts[style->distinct++] = 1;
    }
}

static float ragpdf_style_size(const struct ragpdf_line_style *style) {
    int best = 0;
    for (int i = 1; i < style->distinct; i++)
        if (style->counts[i] > style->counts[best]) best = i;
    return style->distinct > 0 ? style->sizes[best] : 0;
}

// What one character of the structured text becomes: 0 when it is not written (off the page, a control character,
// or unmappable, which is counted), else the code point to write.
static unsigned int ragpdf_char_value(const fz_stext_char *ch, fz_rect clip, int64_t *glyphs, int64_t *unmappable) {
    unsigned int c = (unsigned int)ch->c;
    if (ch->origin.x < clip.x0 || ch->origin.x > clip.x1 || ch->origin.y < clip.y0 || ch->origin.y > clip.y1)
        return 0; // off the page: hidden or stray text
    if (c == 0xFFFD || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        (*unmappable)++;
        (*glyphs)++;
        return 0;
    }
    if (c < 0x20) return c == '\t' ? ' ' : 0; // NUL, CR and other controls are dropped
    return c;
}

// Whether `c` belongs to a right-to-left script block (Hebrew, Arabic, Syriac, Thaana, N'Ko and their presentation
// forms, and the RTL blocks beyond the BMP). A cheap test that decides which lines go through the bidi algorithm,
// which then classifies every character exactly.
static int ragpdf_is_rtl(unsigned int c) {
    return (c >= 0x0590 && c <= 0x08FF) || (c >= 0xFB1D && c <= 0xFDFF) || (c >= 0xFE70 && c <= 0xFEFF) ||
           (c >= 0x10800 && c <= 0x10FFF) || (c >= 0x1E800 && c <= 0x1EFFF);
}

// Writes code point `c` as UTF-8 at `*out`, after any pending line or block separator.
static void ragpdf_put(unsigned char **out, unsigned int c, int *pending_newlines, int64_t *characters,
                       int64_t *glyphs) {
    unsigned char *p = *out;
    if (*pending_newlines) {
        *p++ = '\n';
        if (*pending_newlines == 2) *p++ = '\n';
        *characters += *pending_newlines;
        *pending_newlines = 0;
    }
    if (c < 0x80) {
        *p++ = (unsigned char)c;
        if (c != ' ') (*glyphs)++;
    } else {
        if (c < 0x800) {
            *p++ = (unsigned char)(0xC0 | (c >> 6));
        } else if (c < 0x10000) {
            *p++ = (unsigned char)(0xE0 | (c >> 12));
            *p++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        } else {
            *p++ = (unsigned char)(0xF0 | (c >> 18));
            *p++ = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
            *p++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        }
        *p++ = (unsigned char)(0x80 | (c & 0x3F));
        if (c != 0xA0 && c != 0x3000) (*glyphs)++;
    }
    (*characters)++;
    *out = p;
}

// One written character of a right-to-left line: its code point, its place along the line, its place in the line.
struct ragpdf_placed {
    unsigned int c;
    float position;
    int index;
};

static int ragpdf_compare_placed(const void *a, const void *b) {
    const struct ragpdf_placed *x = a, *y = b;
    if (x->position != y->position) return x->position < y->position ? -1 : 1;
    return x->index - y->index; // one glyph's characters (a ligature's) keep their order
}

// Puts the `count` characters of a line holding right-to-left text into reading order, in place: sorted by their
// place along the line (visual order, whatever order the content stream drew them in), then reordered by the Unicode
// bidirectional algorithm as if that visual string were logical text, which turns right-to-left runs back (not an
// exact inverse of laying a line out in every case, but for the common ones: RTL words, numbers and Latin words
// among them, mirrored brackets). Characters with one place (a glyph and the rest of its
// ligature text or its combining marks, which are already in logical order) are turned first so that the reversal
// keeps them in order. Returns 0 when memory runs out.
static int ragpdf_reorder_rtl(struct ragpdf_placed *placed, int count) {
    qsort(placed, (size_t)count, sizeof(*placed), ragpdf_compare_placed);
    FriBidiChar *str = malloc(sizeof(FriBidiChar) * (size_t)count);
    FriBidiCharType *types = malloc(sizeof(FriBidiCharType) * (size_t)count);
    FriBidiBracketType *brackets = malloc(sizeof(FriBidiBracketType) * (size_t)count);
    FriBidiLevel *levels = malloc(sizeof(FriBidiLevel) * (size_t)count);
    int ok = str != NULL && types != NULL && brackets != NULL && levels != NULL;
    if (ok) {
        for (int i = 0; i < count; i++) str[i] = placed[i].c;
        fribidi_get_bidi_types(str, count, types);
        fribidi_get_bracket_types(str, count, types, brackets);
        FriBidiParType base = FRIBIDI_PAR_ON;
        ok = fribidi_get_par_embedding_levels_ex(types, brackets, count, &base, levels) != 0;
        if (ok) {
            for (int start = 0; start < count;) {
                int end = start + 1;
                while (end < count && placed[end].position == placed[start].position) end++;
                if (end - start > 1 && FRIBIDI_LEVEL_IS_RTL(levels[start]))
                    for (int i = start, j = end - 1; i < j; i++, j--) {
                        FriBidiChar swap = str[i];
                        str[i] = str[j];
                        str[j] = swap;
                    }
                start = end;
            }
            fribidi_shape_mirroring(levels, count, str);
            ok = fribidi_reorder_line(0, types, count, 0, base, levels, str, NULL) != 0;
        }
        if (ok)
            for (int i = 0; i < count; i++) placed[i].c = str[i];
    }
    free(str);
    free(types);
    free(brackets);
    free(levels);
    return ok;
}

// Walks the structured text and writes UTF-8 straight into the context's buffer. No MuPDF call here can throw,
// so this runs outside fz_try.
static ragpdf_status ragpdf_write_text(ragpdf_context *context, fz_stext_page *page, int64_t max_characters,
                                       int with_lines, ragpdf_page_text_result *result, char *message,
                                       size_t message_capacity) {
    size_t used = 0;
    int64_t characters = 0, glyphs = 0, unmappable = 0;
    size_t line_count = 0;
    int32_t block_index = 0;
    // Characters whose origin lies outside the page (with a small margin) are not shown to a reader.
    fz_rect clip = fz_is_empty_rect(page->mediabox) ? fz_infinite_rect : fz_expand_rect(page->mediabox, 2);
    int pending_newlines = 0; // separators are written lazily, so the text never ends with one
    for (fz_stext_block *block = page->first_block; block; block = block->next) {
        if (block->type != FZ_STEXT_BLOCK_TEXT) continue;
        if (used > 0) pending_newlines = 2;
        size_t block_first_line = line_count;
        for (fz_stext_line *line = block->u.t.first_line; line; line = line->next) {
            if (used > 0 && pending_newlines == 0) pending_newlines = 1;
            // The separator before the line is written with its first character, and counted with it.
            size_t line_start = used + (size_t)pending_newlines;
            int64_t characters_before = characters, separators = pending_newlines;
            struct ragpdf_line_style style = {0};
            // Worst case 4 bytes per character plus separators; reserve per line, not per character.
            size_t count = 0;
            int rtl = 0;
            for (fz_stext_char *ch = line->first_char; ch; ch = ch->next) {
                count++;
                rtl |= ragpdf_is_rtl((unsigned int)ch->c);
            }
            if (!ragpdf_reserve(context, used, count * 4 + 2)) {
                ragpdf_set_message(message, message_capacity, "cannot grow the text buffer");
                return RAGPDF_ERROR_MEMORY;
            }
            unsigned char *out = context->text + used;
            if (!rtl) {
                for (fz_stext_char *ch = line->first_char; ch; ch = ch->next) {
                    unsigned int c = ragpdf_char_value(ch, clip, &glyphs, &unmappable);
                    if (c == 0) continue;
                    ragpdf_put(&out, c, &pending_newlines, &characters, &glyphs);
                    if (with_lines) ragpdf_style_add(context->ctx, &style, ch);
                }
            } else {
                struct ragpdf_placed *placed = malloc(sizeof(*placed) * count);
                if (placed == NULL) {
                    ragpdf_set_message(message, message_capacity, "cannot allocate a right-to-left line");
                    return RAGPDF_ERROR_MEMORY;
                }
                int kept = 0;
                for (fz_stext_char *ch = line->first_char; ch; ch = ch->next) {
                    unsigned int c = ragpdf_char_value(ch, clip, &glyphs, &unmappable);
                    if (c == 0) continue;
                    if (with_lines) ragpdf_style_add(context->ctx, &style, ch);
                    float position = ch->origin.x * line->dir.x + ch->origin.y * line->dir.y;
                    // A character without width continues the glyph before it: the rest of a ligature's text
                    // (MuPDF puts it at the glyph's end) or a combining mark. It keeps that glyph's place.
                    fz_point width = {ch->quad.ur.x - ch->quad.ul.x, ch->quad.ur.y - ch->quad.ul.y};
                    if (kept > 0 && width.x * width.x + width.y * width.y < 1e-4f) position = placed[kept - 1].position;
                    placed[kept] = (struct ragpdf_placed){c, position, kept};
                    kept++;
                }
                if (kept > 0 && !ragpdf_reorder_rtl(placed, kept)) {
                    free(placed);
                    ragpdf_set_message(message, message_capacity, "cannot reorder a right-to-left line");
                    return RAGPDF_ERROR_MEMORY;
                }
                for (int i = 0; i < kept; i++) ragpdf_put(&out, placed[i].c, &pending_newlines, &characters, &glyphs);
                free(placed);
            }
            used = (size_t)(out - context->text);
            if (characters > max_characters) {
                ragpdf_set_message(message, message_capacity, "the page has more text than the character limit");
                return RAGPDF_ERROR_TEXT_LIMIT;
            }
            if (with_lines && characters > characters_before) {
                if (!ragpdf_reserve_line(context, line_count)) {
                    ragpdf_set_message(message, message_capacity, "cannot grow the line buffer");
                    return RAGPDF_ERROR_MEMORY;
                }
                int32_t written = (int32_t)(characters - characters_before - separators);
                context->lines[line_count++] = (ragpdf_line){(int64_t)line_start, (int64_t)(used - line_start), written,
                                                             style.bold, ragpdf_style_size(&style), block_index, 0};
            }
        }
        if (line_count > block_first_line) {
            for (size_t i = block_first_line; i < line_count; i++)
                context->lines[i].block_lines = (int32_t)(line_count - block_first_line);
            block_index++;
        }
    }
    result->lines = with_lines ? context->lines : NULL;
    result->line_count = (int64_t)line_count;
    result->utf8 = (const char *)context->text;
    result->length = used;
    result->characters = characters;
    result->glyphs = glyphs;
    result->unmappable = unmappable;
    return RAGPDF_OK;
}

// The page object of the page at 0-based `page_index`: from the pages ragpdf_document_use_pages set (then loaded,
// and also stored in `*loaded` for the caller to drop), else from the page tree. Throws when it is out of range or
// missing. Call inside fz_try.
static pdf_obj *ragpdf_page_object(fz_context *ctx, pdf_document *pdf, ragpdf_document *document, int page_index,
                                   pdf_obj **loaded) {
    pdf_obj *page_object;
    if (document->pages != NULL) {
        if (page_index < 0 || page_index >= document->page_count)
            fz_throw(ctx, FZ_ERROR_GENERIC, "page %d is out of range", page_index + 1);
        page_object = *loaded = pdf_load_object(ctx, pdf, document->pages[page_index]);
    } else {
        if (page_index < 0 || page_index >= pdf_count_pages(ctx, pdf))
            fz_throw(ctx, FZ_ERROR_GENERIC, "page %d is out of range", page_index + 1);
        page_object = pdf_lookup_page_obj(ctx, pdf, page_index);
    }
    if (!pdf_is_dict(ctx, page_object))
        fz_throw(ctx, FZ_ERROR_GENERIC, "page %d is missing from the page tree", page_index + 1);
    return page_object;
}

// Runs a PDF page's content stream straight into `device`, without fz_load_page. Loading a page also loads its
// links and annotations, and resolving hyperlink destinations is about a fifth of the extraction time for a
// typical LaTeX manual; text extraction needs neither. Annotation appearances are not text we index.
static void ragpdf_run_pdf_page(fz_context *ctx, pdf_document *pdf, pdf_obj *page_object, fz_device *device,
                                fz_matrix ctm, fz_cookie *cookie) {
    pdf_processor *volatile processor = NULL;
    fz_default_colorspaces *volatile colorspaces = NULL;
    fz_var(processor);
    fz_var(colorspaces);
    fz_try(ctx) {
        pdf_obj *resources = pdf_dict_get_inheritable(ctx, page_object, PDF_NAME(Resources));
        pdf_obj *contents = pdf_dict_get(ctx, page_object, PDF_NAME(Contents));
        colorspaces = fz_new_default_colorspaces(ctx);
        processor = pdf_new_run_processor(ctx, device, ctm, "View", NULL, colorspaces, NULL);
        pdf_process_contents(ctx, processor, pdf, resources, contents, cookie);
        pdf_close_processor(ctx, processor);
    }
    fz_always(ctx) {
        pdf_drop_processor(ctx, processor);
        fz_drop_default_colorspaces(ctx, colorspaces);
    }
    fz_catch(ctx) {
        fz_rethrow(ctx);
    }
}

// The area of `rect` inside `bounds`, in square points (0 for an empty or non-finite rectangle).
static double ragpdf_area_within(fz_rect rect, fz_rect bounds) {
    fz_rect inside = fz_intersect_rect(rect, bounds);
    if (fz_is_empty_rect(inside) || fz_is_infinite_rect(inside)) return 0;
    double area = ((double)inside.x1 - inside.x0) * ((double)inside.y1 - inside.y0);
    return isfinite(area) && area > 0 ? area : 0;
}

// Installed as the text device's fill_image and fill_image_mask (which it leaves empty without
// FZ_STEXT_PRESERVE_IMAGES): adds the drawn image's box to the page's image area, so a scanned page is known by what
// its images cover, without image blocks splitting the page's text blocks. An image fills the unit square of `ctm`.
static void ragpdf_note_image_area(fz_context *ctx, fz_matrix ctm) {
    ragpdf_context *context = fz_user_context(ctx);
    if (context != NULL)
        context->image_area += ragpdf_area_within(fz_transform_rect(fz_unit_rect, ctm), context->page_bounds);
}

static void ragpdf_note_image(fz_context *ctx, fz_device *device, fz_image *image, fz_matrix ctm, float alpha,
                              fz_color_params color_params) {
    (void)device;
    (void)image;
    (void)color_params;
    if (alpha >= 0.5f) ragpdf_note_image_area(ctx, ctm);
}

static void ragpdf_note_image_mask(fz_context *ctx, fz_device *device, fz_image *image, fz_matrix ctm,
                                   fz_colorspace *colorspace, const float *color, float alpha,
                                   fz_color_params color_params) {
    (void)device;
    (void)image;
    (void)colorspace;
    (void)color;
    (void)color_params;
    if (alpha >= 0.5f) ragpdf_note_image_area(ctx, ctm);
}

// The fractions of the page's area its text lines' boxes and its images cover (each at most 1).
static void ragpdf_coverage(ragpdf_context *context, fz_stext_page *page, ragpdf_page_text_result *result) {
    fz_rect bounds = context->page_bounds;
    double page_area = ((double)bounds.x1 - bounds.x0) * ((double)bounds.y1 - bounds.y0);
    if (!(page_area > 0) || !isfinite(page_area)) return;
    double text_area = 0;
    for (fz_stext_block *block = page->first_block; block; block = block->next) {
        if (block->type != FZ_STEXT_BLOCK_TEXT) continue;
        for (fz_stext_line *line = block->u.t.first_line; line; line = line->next)
            text_area += ragpdf_area_within(line->bbox, bounds);
    }
    result->text_coverage = (float)fmin(1.0, text_area / page_area);
    result->image_coverage = (float)fmin(1.0, context->image_area / page_area);
}

ragpdf_status ragpdf_page_text(ragpdf_context *context, ragpdf_document *document, int page_index,
                               int64_t max_characters, int with_lines, ragpdf_page_text_result *out_result,
                               char *message, size_t message_capacity) {
    fz_context *ctx = context->ctx;
    memset(out_result, 0, sizeof(*out_result));
    fz_page *volatile page = NULL;
    fz_stext_page *volatile text = NULL;
    fz_device *volatile device = NULL;
    pdf_obj *volatile loaded = NULL;
    fz_var(page);
    fz_var(text);
    fz_var(device);
    fz_var(loaded);
    // Speed: no images, ligatures kept as they are. Mediabox clipping is done while writing (a point test on the
    // character's origin) instead of FZ_STEXT_MEDIABOX_CLIP, which bounds every glyph.
    fz_stext_options options = {0};
    options.flags = FZ_STEXT_PRESERVE_LIGATURES;
    context->page_bounds = fz_empty_rect;
    context->image_area = 0;
    fz_try(ctx) {
        pdf_document *pdf = pdf_specifics(ctx, document->doc);
        if (pdf != NULL) {
            pdf_obj *page_object = ragpdf_page_object(ctx, pdf, document, page_index, (pdf_obj **)&loaded);
            fz_rect mediabox;
            fz_matrix ctm;
            pdf_page_obj_transform(ctx, page_object, &mediabox, &ctm);
            context->page_bounds = fz_transform_rect(mediabox, ctm);
            text = fz_new_stext_page(ctx, context->page_bounds);
            device = fz_new_stext_device(ctx, text, &options);
            device->fill_image = ragpdf_note_image;
            device->fill_image_mask = ragpdf_note_image_mask;
            ragpdf_run_pdf_page(ctx, pdf, page_object, device, ctm, NULL);
        } else {
            page = fz_load_page(ctx, document->doc, page_index);
            context->page_bounds = fz_bound_page(ctx, page);
            text = fz_new_stext_page(ctx, context->page_bounds);
            device = fz_new_stext_device(ctx, text, &options);
            device->fill_image = ragpdf_note_image;
            device->fill_image_mask = ragpdf_note_image_mask;
            fz_run_page_contents(ctx, page, device, fz_identity, NULL);
        }
        fz_close_device(ctx, device);
    }
    fz_always(ctx) {
        fz_drop_device(ctx, device);
        fz_drop_page(ctx, page);
        pdf_drop_obj(ctx, loaded);
    }
    fz_catch(ctx) {
        fz_drop_stext_page(ctx, text);
        return ragpdf_caught(ctx, RAGPDF_ERROR_PAGE, message, message_capacity);
    }
    ragpdf_status status =
        ragpdf_write_text(context, text, max_characters, with_lines, out_result, message, message_capacity);
    ragpdf_coverage(context, text, out_result);
    fz_drop_stext_page(ctx, text);
    return status;
}

// MARK: - Citations: characters with boxes, rendering with highlights, page labels

struct ragpdf_cookie {
    fz_cookie cookie;
};

ragpdf_cookie *ragpdf_cookie_new(void) { return calloc(1, sizeof(ragpdf_cookie)); }

void ragpdf_cookie_drop(ragpdf_cookie *cookie) { free(cookie); }

void ragpdf_cookie_abort(ragpdf_cookie *cookie) { __atomic_store_n(&cookie->cookie.abort, 1, __ATOMIC_RELAXED); }

static int ragpdf_cookie_aborted(ragpdf_cookie *cookie) {
    return cookie != NULL && __atomic_load_n(&cookie->cookie.abort, __ATOMIC_RELAXED) != 0;
}

ragpdf_status ragpdf_page_chars(ragpdf_context *context, ragpdf_document *document, int page_index,
                                int64_t max_characters, ragpdf_cookie *cookie, ragpdf_char **out_chars,
                                int64_t *out_count, float *out_width, float *out_height, char *message,
                                size_t message_capacity) {
    fz_context *ctx = context->ctx;
    *out_chars = NULL;
    *out_count = 0;
    *out_width = 0;
    *out_height = 0;
    fz_page *volatile page = NULL;
    fz_stext_page *volatile text = NULL;
    fz_device *volatile device = NULL;
    fz_var(page);
    fz_var(text);
    fz_var(device);
    volatile fz_rect bounds = fz_empty_rect;
    volatile ragpdf_status status = RAGPDF_OK;
    fz_stext_options options = {0}; // ligatures expanded, whitespace as drawn
    fz_try(ctx) {
        if (page_index < 0 || page_index >= fz_count_pages(ctx, document->doc))
            fz_throw(ctx, FZ_ERROR_GENERIC, "page %d is out of range", page_index + 1);
        page = fz_load_page(ctx, document->doc, page_index);
        bounds = fz_bound_page(ctx, page);
        text = fz_new_stext_page(ctx, bounds);
        device = fz_new_stext_device(ctx, text, &options);
        fz_run_page(ctx, page, device, fz_identity, cookie != NULL ? &cookie->cookie : NULL);
        fz_close_device(ctx, device);
        if (ragpdf_cookie_aborted(cookie)) {
            status = RAGPDF_ERROR_LIMIT;
            fz_throw(ctx, FZ_ERROR_GENERIC, "reading page %d stopped at the time limit", page_index + 1);
        }
    }
    fz_always(ctx) {
        fz_drop_device(ctx, device);
        fz_drop_page(ctx, page);
    }
    fz_catch(ctx) {
        fz_drop_stext_page(ctx, text);
        return ragpdf_caught(ctx, status != RAGPDF_OK ? status : RAGPDF_ERROR_PAGE, message, message_capacity);
    }
    int64_t count = 0;
    for (fz_stext_block *block = text->first_block; block; block = block->next) {
        if (block->type != FZ_STEXT_BLOCK_TEXT) continue;
        for (fz_stext_line *line = block->u.t.first_line; line; line = line->next)
            for (fz_stext_char *ch = line->first_char; ch; ch = ch->next) count++;
    }
    if (count > max_characters) {
        fz_drop_stext_page(ctx, text);
        ragpdf_set_message(message, message_capacity, "the page has more characters than the limit");
        return RAGPDF_ERROR_TEXT_LIMIT;
    }
    ragpdf_char *chars = NULL;
    if (count > 0) {
        chars = malloc(sizeof(*chars) * (size_t)count);
        if (chars == NULL) {
            fz_drop_stext_page(ctx, text);
            ragpdf_set_message(message, message_capacity, "cannot allocate the characters");
            return RAGPDF_ERROR_MEMORY;
        }
    }
    int64_t index = 0;
    int32_t line_number = 0;
    for (fz_stext_block *block = text->first_block; block; block = block->next) {
        if (block->type != FZ_STEXT_BLOCK_TEXT) continue;
        for (fz_stext_line *line = block->u.t.first_line; line; line = line->next, line_number++)
            for (fz_stext_char *ch = line->first_char; ch; ch = ch->next) {
                fz_rect box = fz_rect_from_quad(ch->quad);
                chars[index++] = (ragpdf_char){(uint32_t)ch->c, line_number, box.x0 - bounds.x0, box.y0 - bounds.y0,
                                               box.x1 - bounds.x0, box.y1 - bounds.y0};
            }
    }
    fz_drop_stext_page(ctx, text);
    *out_chars = chars;
    *out_count = count;
    *out_width = bounds.x1 - bounds.x0;
    *out_height = bounds.y1 - bounds.y0;
    return RAGPDF_OK;
}

// Tints the pixels of `rect` (page space) yellow: each pixel is multiplied by (255, 230, 60), so that white becomes
// yellow and dark text stays dark. No MuPDF call here can throw.
static void ragpdf_tint(unsigned char *samples, int stride, int components, int width, int height, float scale,
                        ragpdf_rect rect) {
    static const int tint[3] = {255, 230, 60};
    float fx0 = rect.x0 * scale, fy0 = rect.y0 * scale, fx1 = rect.x1 * scale, fy1 = rect.y1 * scale;
    if (!(fx0 < fx1) || !(fy0 < fy1)) return; // empty, inverted or NaN
    int x0 = fx0 < 0 ? 0 : fx0 > width ? width : (int)fx0;
    int y0 = fy0 < 0 ? 0 : fy0 > height ? height : (int)fy0;
    int x1 = fx1 < 0 ? 0 : fx1 > width ? width : (int)(fx1 + 0.999f);
    int y1 = fy1 < 0 ? 0 : fy1 > height ? height : (int)(fy1 + 0.999f);
    for (int y = y0; y < y1; y++) {
        unsigned char *row = samples + (size_t)y * (size_t)stride;
        for (int x = x0; x < x1; x++)
            for (int c = 0; c < 3 && c < components; c++) {
                unsigned char *p = row + (size_t)x * (size_t)components + c;
                *p = (unsigned char)((*p * tint[c] + 127) / 255);
            }
    }
}

ragpdf_status ragpdf_render_page(ragpdf_context *context, ragpdf_document *document, int page_index, int width,
                                 int64_t max_pixels, ragpdf_cookie *cookie, const ragpdf_rect *highlights,
                                 int highlight_count, ragpdf_rendered *out_rendered, char *message,
                                 size_t message_capacity) {
    fz_context *ctx = context->ctx;
    memset(out_rendered, 0, sizeof(*out_rendered));
    if (width < 1 || max_pixels < 1 || highlight_count < 0) {
        ragpdf_set_message(message, message_capacity, "the width, pixel limit or highlight count is not valid");
        return RAGPDF_ERROR_ARGUMENT;
    }
    fz_page *volatile page = NULL;
    fz_pixmap *volatile pixmap = NULL;
    fz_buffer *volatile png = NULL;
    fz_device *volatile device = NULL;
    fz_var(page);
    fz_var(pixmap);
    fz_var(png);
    fz_var(device);
    volatile ragpdf_status status = RAGPDF_OK;
    volatile float scale = 1;
    fz_try(ctx) {
        if (page_index < 0 || page_index >= fz_count_pages(ctx, document->doc))
            fz_throw(ctx, FZ_ERROR_GENERIC, "page %d is out of range", page_index + 1);
        page = fz_load_page(ctx, document->doc, page_index);
        fz_rect bounds = fz_bound_page(ctx, page);
        float page_width = bounds.x1 - bounds.x0, page_height = bounds.y1 - bounds.y0;
        if (!(page_width >= 1) || !(page_height >= 1) || !isfinite(page_width) || !isfinite(page_height))
            fz_throw(ctx, FZ_ERROR_GENERIC, "page %d has no usable size (%g x %g points)", page_index + 1,
                     page_width, page_height);
        scale = (float)width / page_width;
        double height = (double)page_height * scale;
        if (height * (double)width > (double)max_pixels) {
            // MuPDF's own formatter knows no %lld: the C library formats the numbers.
            char reason[160];
            snprintf(reason, sizeof reason, "page %d would be %d x %.0f pixels, more than the limit of %lld",
                     page_index + 1, width, height, (long long)max_pixels);
            status = RAGPDF_ERROR_LIMIT;
            fz_throw(ctx, FZ_ERROR_GENERIC, "%s", reason);
        }
        // The pixmap covers the scaled page bounds, so its pixel (0, 0) is the page's corner: a highlight's pixels
        // are its page-space box, relative to that corner, times `scale`.
        // As fz_new_pixmap_from_page draws, but with the cookie, so that a watchdog can stop a page that takes too long.
        fz_matrix ctm = fz_scale(scale, scale);
        pixmap = fz_new_pixmap_with_bbox(ctx, fz_device_rgb(ctx), fz_round_rect(fz_transform_rect(bounds, ctm)), NULL, 0);
        fz_clear_pixmap_with_value(ctx, pixmap, 0xFF);
        device = fz_new_draw_device(ctx, ctm, pixmap);
        fz_run_page(ctx, page, device, fz_identity, cookie != NULL ? &cookie->cookie : NULL);
        fz_close_device(ctx, device);
        if (ragpdf_cookie_aborted(cookie)) {
            status = RAGPDF_ERROR_LIMIT;
            fz_throw(ctx, FZ_ERROR_GENERIC, "drawing page %d stopped at the time limit", page_index + 1);
        }
        unsigned char *samples = fz_pixmap_samples(ctx, pixmap);
        int stride = fz_pixmap_stride(ctx, pixmap), components = fz_pixmap_components(ctx, pixmap);
        int pixmap_width = fz_pixmap_width(ctx, pixmap), pixmap_height = fz_pixmap_height(ctx, pixmap);
        for (int i = 0; i < highlight_count; i++)
            ragpdf_tint(samples, stride, components, pixmap_width, pixmap_height, scale, highlights[i]);
        png = fz_new_buffer_from_pixmap_as_png(ctx, pixmap, fz_default_color_params);
        unsigned char *data = NULL;
        size_t length = fz_buffer_storage(ctx, png, &data);
        out_rendered->png = malloc(length > 0 ? length : 1);
        if (out_rendered->png == NULL) fz_throw(ctx, FZ_ERROR_MEMORY, "cannot allocate the PNG");
        memcpy(out_rendered->png, data, length);
        out_rendered->length = length;
        out_rendered->width = pixmap_width;
        out_rendered->height = pixmap_height;
    }
    fz_always(ctx) {
        fz_drop_device(ctx, device);
        fz_drop_buffer(ctx, png);
        fz_drop_pixmap(ctx, pixmap);
        fz_drop_page(ctx, page);
    }
    fz_catch(ctx) {
        return ragpdf_caught(ctx, status != RAGPDF_OK ? status : RAGPDF_ERROR_PAGE, message, message_capacity);
    }
    return RAGPDF_OK;
}

// Writes `number` (>= 1) as a roman numeral, lower case when `lower`, at most 15 characters ("mmmdccclxxxviii"); numbers
// past 3999 are written as decimals.
static void ragpdf_roman(char *out, size_t capacity, int number, int lower) {
    if (number < 1 || number > 3999) {
        snprintf(out, capacity, "%d", number);
        return;
    }
    static const int values[] = {1000, 900, 500, 400, 100, 90, 50, 40, 10, 9, 5, 4, 1};
    static const char *upper[] = {"M", "CM", "D", "CD", "C", "XC", "L", "XL", "X", "IX", "V", "IV", "I"};
    static const char *lowers[] = {"m", "cm", "d", "cd", "c", "xc", "l", "xl", "x", "ix", "v", "iv", "i"};
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < 13; i++)
        while (number >= values[i]) {
            const char *part = lower ? lowers[i] : upper[i];
            size_t n = strlen(part);
            if (used + n + 1 > capacity) return;
            memcpy(out + used, part, n + 1);
            used += n;
            number -= values[i];
        }
}

// Finds the page-label range that starts at or before `page_index` in the number tree `node`: the value whose key is
// the largest one <= page_index. Visits at most `*budget` nodes and array entries.
static pdf_obj *ragpdf_label_range(fz_context *ctx, pdf_obj *node, int page_index, int *budget, int depth,
                                   int *out_start) {
    if (node == NULL || depth > 32 || --(*budget) < 0 || !pdf_is_dict(ctx, node)) return NULL;
    pdf_obj *volatile found = NULL;
    fz_var(found);
    pdf_obj *nums = pdf_dict_get(ctx, node, PDF_NAME(Nums));
    if (pdf_is_array(ctx, nums)) {
        int n = pdf_array_len(ctx, nums);
        for (int i = 0; i + 1 < n; i += 2) {
            if (--(*budget) < 0) return found;
            int key = pdf_to_int(ctx, pdf_array_get(ctx, nums, i));
            if (key <= page_index && key >= *out_start) {
                *out_start = key;
                found = pdf_array_get(ctx, nums, i + 1);
            }
        }
    }
    pdf_obj *kids = pdf_dict_get(ctx, node, PDF_NAME(Kids));
    if (pdf_is_array(ctx, kids)) {
        int n = pdf_array_len(ctx, kids);
        for (int i = 0; i < n; i++) {
            if (*budget < 0) break;
            pdf_obj *kid = pdf_array_get(ctx, kids, i);
            if (pdf_mark_obj(ctx, kid)) continue; // a cycle
            fz_try(ctx) {
                pdf_obj *deeper = ragpdf_label_range(ctx, kid, page_index, budget, depth + 1, out_start);
                if (deeper != NULL) found = deeper;
            }
            fz_always(ctx) {
                pdf_unmark_obj(ctx, kid);
            }
            fz_catch(ctx) {
                fz_rethrow(ctx);
            }
        }
    }
    return found;
}

ragpdf_status ragpdf_page_label(ragpdf_context *context, ragpdf_document *document, int page_index, int max_nodes,
                                char *out_label, size_t label_capacity, char *message, size_t message_capacity) {
    fz_context *ctx = context->ctx;
    if (label_capacity == 0) return RAGPDF_ERROR_ARGUMENT;
    out_label[0] = 0;
    pdf_document *pdf = pdf_specifics(ctx, document->doc);
    if (pdf == NULL || page_index < 0) return RAGPDF_OK;
    fz_try(ctx) {
        pdf_obj *root = pdf_dict_get(ctx, pdf_trailer(ctx, pdf), PDF_NAME(Root));
        pdf_obj *labels = pdf_dict_gets(ctx, root, "PageLabels");
        int budget = max_nodes;
        int start = -1;
        pdf_obj *range = ragpdf_label_range(ctx, labels, page_index, &budget, 0, &start);
        if (range != NULL && pdf_is_dict(ctx, range) && start >= 0) {
            const char *prefix = pdf_to_text_string(ctx, pdf_dict_get(ctx, range, PDF_NAME(P)));
            const char *style = pdf_to_name(ctx, pdf_dict_get(ctx, range, PDF_NAME(S)));
            pdf_obj *first = pdf_dict_gets(ctx, range, "St");
            long long number = (long long)(first != NULL ? pdf_to_int(ctx, first) : 1) + (page_index - start);
            char value[32] = "";
            if (number < 1) number = 1;
            if (number > 1000000000) number = 1000000000;
            if (strcmp(style, "D") == 0) {
                snprintf(value, sizeof value, "%lld", number);
            } else if (strcmp(style, "R") == 0 || strcmp(style, "r") == 0) {
                ragpdf_roman(value, sizeof value, (int)number, style[0] == 'r');
            } else if (strcmp(style, "A") == 0 || strcmp(style, "a") == 0) {
                // A..Z, then AA..ZZ, AAA..: the letter repeated (number - 1) / 26 + 1 times, at most 26.
                long long repeat = (number - 1) / 26 + 1;
                if (repeat > 26) repeat = 26;
                char letter = (char)((style[0] == 'a' ? 'a' : 'A') + (number - 1) % 26);
                for (long long i = 0; i < repeat; i++) value[i] = letter;
                value[repeat] = 0;
            }
            snprintf(out_label, label_capacity, "%s%s", prefix, value);
        }
    }
    fz_catch(ctx) {
        out_label[0] = 0;
        return ragpdf_caught(ctx, RAGPDF_ERROR_GENERIC, message, message_capacity);
    }
    return RAGPDF_OK;
}

// MARK: - OCR: grayscale rendering

ragpdf_status ragpdf_render_gray(ragpdf_context *context, ragpdf_document *document, int page_index, float dpi,
                                 int64_t max_pixels, ragpdf_cookie *cookie, ragpdf_gray *out_gray, char *message,
                                 size_t message_capacity) {
    fz_context *ctx = context->ctx;
    memset(out_gray, 0, sizeof(*out_gray));
    if (!(dpi >= 1 && dpi <= 4800) || max_pixels < 1) {
        ragpdf_set_message(message, message_capacity, "the resolution or pixel limit is not valid");
        return RAGPDF_ERROR_ARGUMENT;
    }
    fz_page *volatile page = NULL;
    pdf_obj *volatile loaded = NULL;
    fz_pixmap *volatile pixmap = NULL;
    fz_device *volatile device = NULL;
    unsigned char *volatile pixels = NULL;
    fz_var(page);
    fz_var(loaded);
    fz_var(pixmap);
    fz_var(device);
    fz_var(pixels);
    volatile ragpdf_status status = RAGPDF_OK;
    // Our own cookie when the caller gives none. Its error count says whether something on the page (an image
    // stream, most likely, on a scan) could not be decoded, which MuPDF's interpreter otherwise skips with a warning.
    fz_cookie local = {0};
    fz_cookie *run_cookie = cookie != NULL ? &cookie->cookie : &local;
    run_cookie->errors = 0;
    context->render_warnings = 0;
    context->render_warning[0] = 0;
    fz_try(ctx) {
        pdf_document *pdf = pdf_specifics(ctx, document->doc);
        fz_rect bounds;
        fz_matrix ctm = fz_identity;
        pdf_obj *page_object = NULL;
        if (pdf != NULL) {
            page_object = ragpdf_page_object(ctx, pdf, document, page_index, (pdf_obj **)&loaded);
            fz_rect mediabox;
            pdf_page_obj_transform(ctx, page_object, &mediabox, &ctm);
            bounds = fz_transform_rect(mediabox, ctm);
        } else {
            page = fz_load_page(ctx, document->doc, page_index);
            bounds = fz_bound_page(ctx, page);
        }
        float scale = dpi / 72.0f;
        fz_irect box = fz_round_rect(fz_transform_rect(bounds, fz_scale(scale, scale)));
        double width = (double)box.x1 - box.x0, height = (double)box.y1 - box.y0;
        if (!(width >= 1) || !(height >= 1) || fz_is_infinite_rect(bounds))
            fz_throw(ctx, FZ_ERROR_GENERIC, "page %d has no usable size", page_index + 1);
        if (width * height > (double)max_pixels) {
            // MuPDF's own formatter knows no %lld: the C library formats the numbers.
            char reason[200];
            snprintf(reason, sizeof reason,
                     "page %d would be %.0f x %.0f pixels at %.0f dpi, more than the limit of %lld", page_index + 1,
                     width, height, (double)dpi, (long long)max_pixels);
            status = RAGPDF_ERROR_LIMIT;
            fz_throw(ctx, FZ_ERROR_GENERIC, "%s", reason);
        }
        pixels = malloc((size_t)width * (size_t)height);
        if (pixels == NULL) fz_throw(ctx, FZ_ERROR_MEMORY, "cannot allocate the page's pixels");
        // The pixmap draws straight into `pixels`, which it does not own: dropping it leaves them to the caller.
        pixmap = fz_new_pixmap_with_bbox_and_data(ctx, fz_device_gray(ctx), box, NULL, 0, pixels);
        fz_clear_pixmap_with_value(ctx, pixmap, 0xFF);
        device = fz_new_draw_device(ctx, fz_identity, pixmap);
        context->capture_warnings = 1;
        if (pdf != NULL) {
            ragpdf_run_pdf_page(ctx, pdf, page_object, device, fz_concat(ctm, fz_scale(scale, scale)), run_cookie);
        } else {
            fz_run_page_contents(ctx, page, device, fz_scale(scale, scale), run_cookie);
        }
        fz_close_device(ctx, device);
        // MuPDF flushes repeated warnings when asked; the last ones arrive here.
        fz_flush_warnings(ctx);
        context->capture_warnings = 0;
        if (ragpdf_cookie_aborted(cookie)) {
            status = RAGPDF_ERROR_LIMIT;
            fz_throw(ctx, FZ_ERROR_GENERIC, "drawing page %d stopped at the time limit", page_index + 1);
        }
        if (run_cookie->errors > 0)
            fz_throw(ctx, FZ_ERROR_GENERIC, "page %d: %d of its images or drawings could not be drawn",
                     page_index + 1, run_cookie->errors);
        if (context->render_warnings > 0)
            fz_throw(ctx, FZ_ERROR_GENERIC, "page %d: an image could not be decoded (%s)", page_index + 1,
                     context->render_warning);
        out_gray->pixels = pixels;
        out_gray->width = (int32_t)width;
        out_gray->height = (int32_t)height;
        out_gray->stride = (int32_t)width;
        pixels = NULL;
    }
    fz_always(ctx) {
        context->capture_warnings = 0;
        fz_drop_device(ctx, device);
        fz_drop_pixmap(ctx, pixmap);
        fz_drop_page(ctx, page);
        pdf_drop_obj(ctx, loaded);
        free(pixels);
    }
    fz_catch(ctx) {
        return ragpdf_caught(ctx, status != RAGPDF_OK ? status : RAGPDF_ERROR_PAGE, message, message_capacity);
    }
    return RAGPDF_OK;
}
