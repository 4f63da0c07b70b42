// SQLite: the collection's store (Sources/RAGCore/Storage/SQLite). The C API is used as it is, except for the two
// destructor sentinels, which are macros casting -1 and 0 to a function pointer and so do not reach Swift: the
// typed helpers below bind text and blobs that SQLite copies (SQLITE_TRANSIENT) or reads in place until the
// statement is reset (SQLITE_STATIC).
#ifndef RAG_CSQLITE_SHIM_H
#define RAG_CSQLITE_SHIM_H
#include <sqlite3.h>

/// Binds `length` bytes of UTF-8 text, copied by SQLite before it returns.
static inline int ragsql_bind_text_copy(sqlite3_stmt *_Nonnull statement, int index, const char *_Nonnull text,
                                        int length) {
    return sqlite3_bind_text(statement, index, text, length, SQLITE_TRANSIENT);
}

/// Binds `length` bytes of a blob that SQLite reads in place: the bytes must stay valid and unchanged until the
/// statement is stepped to its end, reset or finalized.
static inline int ragsql_bind_blob_static(sqlite3_stmt *_Nonnull statement, int index, const void *_Nullable bytes,
                                          sqlite3_uint64 length) {
    return sqlite3_bind_blob64(statement, index, bytes, length, SQLITE_STATIC);
}

#endif
