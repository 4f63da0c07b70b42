// See ragocr.h for why this shim exists. The Tesseract C API (capi.h) is declared here as function pointer types
// and resolved with dlsym, so the build needs no Tesseract headers and the binaries no Tesseract at start.
#include "ragocr.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Tesseract's C API, as capi.h (4.x, 5.x) declares it. BOOL is int; the handles are opaque.
typedef struct TessBaseAPI TessBaseAPI;
typedef struct ETEXT_DESC ETEXT_DESC;
enum { PSM_AUTO_OSD = 1, PSM_AUTO = 3 };

static struct {
    const char *(*version)(void);
    TessBaseAPI *(*create)(void);
    void (*delete_api)(TessBaseAPI *);
    int (*init3)(TessBaseAPI *, const char *, const char *);
    int (*set_variable)(TessBaseAPI *, const char *, const char *);
    void (*set_page_seg_mode)(TessBaseAPI *, int);
    void (*set_image)(TessBaseAPI *, const unsigned char *, int, int, int, int);
    void (*set_source_resolution)(TessBaseAPI *, int);
    int (*recognize)(TessBaseAPI *, ETEXT_DESC *);
    char *(*get_utf8_text)(TessBaseAPI *);
    int (*mean_text_conf)(TessBaseAPI *);
    void (*delete_text)(const char *);
    void (*clear)(TessBaseAPI *);
    char **(*loaded_languages)(const TessBaseAPI *);
    void (*delete_text_array)(char **);
    const char *(*datapath)(TessBaseAPI *);
    ETEXT_DESC *(*monitor_create)(void);
    void (*monitor_delete)(ETEXT_DESC *);
    void (*monitor_set_deadline)(ETEXT_DESC *, int);
} tess;

struct ragocr_engine {
    TessBaseAPI *api;
    ETEXT_DESC *monitor;
};

static void ragocr_set_message(char *message, size_t capacity, const char *text) {
    if (capacity == 0) return;
    if (text == NULL) text = "";
    size_t n = strlen(text);
    if (n >= capacity) n = capacity - 1;
    memcpy(message, text, n);
    message[n] = 0;
}

// MARK: - Loading

static pthread_once_t ragocr_once = PTHREAD_ONCE_INIT;
static ragocr_status ragocr_load_status = RAGOCR_ERROR_UNAVAILABLE;
static char ragocr_load_message[512];

// Resolves `name` into `*slot`; returns 0 (and records which) when the library lacks it.
static int ragocr_resolve(void *library, const char *name, void **slot) {
    *slot = dlsym(library, name);
    if (*slot == NULL) {
        snprintf(ragocr_load_message, sizeof ragocr_load_message, "libtesseract has no %s", name);
        return 0;
    }
    return 1;
}

static void ragocr_load_once(void) {
    // One page per thread: OpenMP's threads inside a page would compete with the other pages' threads.
    setenv("OMP_THREAD_LIMIT", "1", 0);
    static const char *const names[] = {"libtesseract.so.5", "libtesseract.so.4", "libtesseract.so"};
    void *library = NULL;
    // RAG_TESSERACT_LIBRARY names another build (a path, or a file name the loader searches for) instead.
    const char *chosen = getenv("RAG_TESSERACT_LIBRARY");
    if (chosen != NULL && chosen[0] != 0) {
        library = dlopen(chosen, RTLD_NOW | RTLD_LOCAL);
    } else {
        for (size_t i = 0; i < sizeof names / sizeof names[0] && library == NULL; i++)
            library = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(ragocr_load_message, sizeof ragocr_load_message, "libtesseract is not installed (%s)",
                 reason != NULL ? reason : "not found");
        return;
    }
    int ok = ragocr_resolve(library, "TessVersion", (void **)&tess.version) &&
             ragocr_resolve(library, "TessBaseAPICreate", (void **)&tess.create) &&
             ragocr_resolve(library, "TessBaseAPIDelete", (void **)&tess.delete_api) &&
             ragocr_resolve(library, "TessBaseAPIInit3", (void **)&tess.init3) &&
             ragocr_resolve(library, "TessBaseAPISetVariable", (void **)&tess.set_variable) &&
             ragocr_resolve(library, "TessBaseAPISetPageSegMode", (void **)&tess.set_page_seg_mode) &&
             ragocr_resolve(library, "TessBaseAPISetImage", (void **)&tess.set_image) &&
             ragocr_resolve(library, "TessBaseAPISetSourceResolution", (void **)&tess.set_source_resolution) &&
             ragocr_resolve(library, "TessBaseAPIRecognize", (void **)&tess.recognize) &&
             ragocr_resolve(library, "TessBaseAPIGetUTF8Text", (void **)&tess.get_utf8_text) &&
             ragocr_resolve(library, "TessBaseAPIMeanTextConf", (void **)&tess.mean_text_conf) &&
             ragocr_resolve(library, "TessDeleteText", (void **)&tess.delete_text) &&
             ragocr_resolve(library, "TessBaseAPIClear", (void **)&tess.clear) &&
             ragocr_resolve(library, "TessBaseAPIGetLoadedLanguagesAsVector", (void **)&tess.loaded_languages) &&
             ragocr_resolve(library, "TessDeleteTextArray", (void **)&tess.delete_text_array) &&
             ragocr_resolve(library, "TessBaseAPIGetDatapath", (void **)&tess.datapath) &&
             ragocr_resolve(library, "TessMonitorCreate", (void **)&tess.monitor_create) &&
             ragocr_resolve(library, "TessMonitorDelete", (void **)&tess.monitor_delete) &&
             ragocr_resolve(library, "TessMonitorSetDeadlineMSecs", (void **)&tess.monitor_set_deadline);
    if (!ok) {
        memset(&tess, 0, sizeof tess);
        dlclose(library);
        return;
    }
    ragocr_load_status = RAGOCR_OK;
}

ragocr_status ragocr_load(char *message, size_t message_capacity) {
    pthread_once(&ragocr_once, ragocr_load_once);
    if (ragocr_load_status != RAGOCR_OK) ragocr_set_message(message, message_capacity, ragocr_load_message);
    return ragocr_load_status;
}

const char *ragocr_version(void) {
    pthread_once(&ragocr_once, ragocr_load_once);
    return ragocr_load_status == RAGOCR_OK ? tess.version() : NULL;
}

// MARK: - Engines

// The first of the '+'-separated `languages` that `api` did not load, malloc'd; NULL when all loaded (or on an
// allocation failure, which the first recognition will report).
static char *ragocr_missing_language(TessBaseAPI *api, const char *languages) {
    char **loaded = tess.loaded_languages(api);
    char *missing = NULL;
    const char *start = languages;
    while (missing == NULL) {
        const char *end = strchr(start, '+');
        size_t length = end != NULL ? (size_t)(end - start) : strlen(start);
        int found = 0;
        for (char **name = loaded; name != NULL && *name != NULL && !found; name++)
            found = strlen(*name) == length && strncmp(*name, start, length) == 0;
        if (!found && length > 0) {
            missing = malloc(length + 1);
            if (missing == NULL) break;
            memcpy(missing, start, length);
            missing[length] = 0;
        }
        if (end == NULL) break;
        start = end + 1;
    }
    if (loaded != NULL) tess.delete_text_array(loaded);
    return missing;
}

ragocr_status ragocr_engine_new(const char *datapath, const char *languages, int detect_orientation,
                                ragocr_engine **out_engine, char *message, size_t message_capacity) {
    *out_engine = NULL;
    ragocr_status status = ragocr_load(message, message_capacity);
    if (status != RAGOCR_OK) return status;
    ragocr_engine *engine = calloc(1, sizeof *engine);
    if (engine == NULL || (engine->api = tess.create()) == NULL || (engine->monitor = tess.monitor_create()) == NULL) {
        ragocr_engine_drop(engine);
        ragocr_set_message(message, message_capacity, "cannot allocate a Tesseract engine");
        return RAGOCR_ERROR_MEMORY;
    }
    // Tesseract writes its diagnostics ("Estimating resolution", "Detected N diacritics") to stderr; a library
    // must not. debug_file is a global parameter, so this also silences Init's messages.
    tess.set_variable(engine->api, "debug_file", "/dev/null");
    if (tess.init3(engine->api, datapath, languages) != 0) {
        ragocr_engine_drop(engine);
        char text[400];
        snprintf(text, sizeof text, "Tesseract cannot load the languages \"%s\" from %s", languages,
                 datapath != NULL ? datapath : "its data folder (TESSDATA_PREFIX or the default)");
        ragocr_set_message(message, message_capacity, text);
        return RAGOCR_ERROR_LANGUAGE;
    }
    // Init succeeds when the first language loads, whatever became of the others ("eng+xyz" loads eng alone):
    // every language asked for must be among those loaded.
    char *missing = ragocr_missing_language(engine->api, languages);
    if (missing != NULL) {
        char text[400];
        const char *path = tess.datapath(engine->api);
        snprintf(text, sizeof text, "Tesseract has no data for the language \"%s\" in %s (no %s.traineddata)", missing,
                 path != NULL && path[0] != 0 ? path : "its data folder", missing);
        free(missing);
        ragocr_engine_drop(engine);
        ragocr_set_message(message, message_capacity, text);
        return RAGOCR_ERROR_LANGUAGE;
    }
    tess.set_page_seg_mode(engine->api, detect_orientation ? PSM_AUTO_OSD : PSM_AUTO);
    *out_engine = engine;
    return RAGOCR_OK;
}

void ragocr_engine_drop(ragocr_engine *engine) {
    if (engine == NULL) return;
    if (engine->monitor != NULL) tess.monitor_delete(engine->monitor);
    if (engine->api != NULL) tess.delete_api(engine->api);
    free(engine);
}

static double ragocr_now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1000.0 + (double)now.tv_nsec / 1e6;
}

ragocr_status ragocr_recognize(ragocr_engine *engine, const uint8_t *pixels, int width, int height, int stride,
                               int dpi, int timeout_ms, ragocr_result *out_result, char *message,
                               size_t message_capacity) {
    memset(out_result, 0, sizeof *out_result);
    if (width < 1 || height < 1 || stride < width || dpi < 1 || timeout_ms < 1) {
        ragocr_set_message(message, message_capacity, "the image size, resolution or time limit is not valid");
        return RAGOCR_ERROR_ARGUMENT;
    }
    tess.set_image(engine->api, pixels, width, height, 1, stride);
    tess.set_source_resolution(engine->api, dpi);
    double start = ragocr_now_ms();
    tess.monitor_set_deadline(engine->monitor, timeout_ms);
    int recognized = tess.recognize(engine->api, engine->monitor);
    double elapsed = ragocr_now_ms() - start;
    if (recognized != 0) {
        tess.clear(engine->api);
        char text[160];
        if (elapsed >= (double)timeout_ms) {
            snprintf(text, sizeof text, "recognition stopped at the time limit of %d ms", timeout_ms);
            ragocr_set_message(message, message_capacity, text);
            return RAGOCR_ERROR_TIMEOUT;
        }
        ragocr_set_message(message, message_capacity, "Tesseract could not recognize the page");
        return RAGOCR_ERROR_RECOGNITION;
    }
    char *text = tess.get_utf8_text(engine->api);
    int confidence = tess.mean_text_conf(engine->api);
    ragocr_status status = RAGOCR_OK;
    if (text != NULL) {
        size_t length = strlen(text);
        out_result->utf8 = malloc(length + 1);
        if (out_result->utf8 == NULL) {
            ragocr_set_message(message, message_capacity, "cannot allocate the page's text");
            status = RAGOCR_ERROR_MEMORY;
        } else {
            memcpy(out_result->utf8, text, length + 1);
            out_result->length = length;
        }
        tess.delete_text(text);
    }
    out_result->confidence = confidence < 0 ? 0 : (confidence > 100 ? 100 : confidence);
    tess.clear(engine->api);
    return status;
}

void ragocr_free(void *pointer) { free(pointer); }
