// ragocr: a small C shim over Tesseract's C API for RAGCore's OCR of scanned pages.
//
// Why a shim: Tesseract is optional. The shim loads libtesseract at run time (dlopen), so `rag` and `rag-server`
// start, and read text PDFs, on a machine without it; OCR is then reported as unavailable with how to enable it.
// The shim declares the few functions of Tesseract's C API it uses (capi.h, stable across 4.x and 5.x), resolves
// them once, and turns every failure into a status plus a message copied into a caller-provided buffer. No
// Tesseract type crosses into Swift.
//
// Threading: a ragocr_engine (one TessBaseAPI) must be used by one thread at a time. Separate engines share
// nothing and may recognize pages on different threads at once.
#ifndef RAGOCR_H
#define RAGOCR_H

#include <stddef.h>
#include <stdint.h>

#pragma clang assume_nonnull begin

/// Status codes returned by every ragocr function that can fail.
typedef enum ragocr_status {
    RAGOCR_OK = 0,
    /// libtesseract could not be loaded, or lacks a function the shim needs.
    RAGOCR_ERROR_UNAVAILABLE = 1,
    /// Tesseract could not be initialised for the languages (a traineddata file missing or unreadable).
    RAGOCR_ERROR_LANGUAGE = 2,
    /// An allocation failed.
    RAGOCR_ERROR_MEMORY = 3,
    /// An argument was out of range (an image size, a resolution).
    RAGOCR_ERROR_ARGUMENT = 4,
    /// Recognition stopped at the deadline.
    RAGOCR_ERROR_TIMEOUT = 5,
    /// Recognition failed for another reason.
    RAGOCR_ERROR_RECOGNITION = 6,
} ragocr_status;

/// One initialised Tesseract (a TessBaseAPI with its languages loaded). Opaque.
typedef struct ragocr_engine ragocr_engine;

/// Loads libtesseract (libtesseract.so.5, else .so.4, else .so; or what the environment variable
/// RAG_TESSERACT_LIBRARY names) once per process and resolves the functions the shim uses. Safe to call from any thread, any number of times; later calls return the first call's outcome.
///
/// Before loading, sets OMP_THREAD_LIMIT=1 unless the environment already sets it: Debian builds Tesseract with
/// OpenMP, whose threads inside one page compete with the shim's callers, which run one page per thread.
ragocr_status ragocr_load(char *message, size_t message_capacity);

/// Tesseract's version ("5.3.0"), or NULL before a successful ragocr_load.
const char *_Nullable ragocr_version(void);

/// Creates an engine for `languages` (Tesseract codes joined by '+', "eng+deu") from `datapath` (the folder
/// holding the .traineddata files; NULL for Tesseract's default: TESSDATA_PREFIX, else the compiled-in folder).
/// With `detect_orientation` nonzero, pages are segmented with orientation and script detection (PSM_AUTO_OSD:
/// needs osd.traineddata), so a page scanned sideways or upside down is read; else with PSM_AUTO.
/// Tesseract's own diagnostics are discarded (debug_file /dev/null).
ragocr_status ragocr_engine_new(const char *_Nullable datapath, const char *languages, int detect_orientation,
                                ragocr_engine *_Nullable *_Nonnull out_engine, char *message,
                                size_t message_capacity);

/// Frees an engine. NULL is ignored.
void ragocr_engine_drop(ragocr_engine *_Nullable engine);

/// What ragocr_recognize read.
typedef struct ragocr_result {
    /// The page's text as UTF-8, malloc'd and NUL-terminated: free with ragocr_free.
    char *_Nullable utf8;
    /// Length of `utf8` in bytes.
    size_t length;
    /// Tesseract's mean word confidence, 0–100 (0 when no word was found).
    int32_t confidence;
} ragocr_result;

/// Recognizes an 8-bit grayscale image (`width` x `height` pixels, `stride` bytes per row, 0 black, 255 white)
/// scanned at `dpi`. Stops at `timeout_ms` milliseconds of recognition (RAGOCR_ERROR_TIMEOUT; Tesseract checks the
/// deadline between words, after layout analysis). The pixels are only read, and only during the call.
ragocr_status ragocr_recognize(ragocr_engine *engine, const uint8_t *pixels, int width, int height, int stride,
                               int dpi, int timeout_ms, ragocr_result *out_result, char *message,
                               size_t message_capacity);

/// Frees memory returned by the shim. NULL is ignored.
void ragocr_free(void *_Nullable pointer);

#pragma clang assume_nonnull end

#endif
