// libcurl for Swift. `curl_easy_setopt` and `curl_easy_getinfo` are variadic C functions, which Swift cannot
// call; each wrapper below fixes one argument type so the call is typed and checked on both sides.
#ifndef RAG_CCURL_SHIM_H
#define RAG_CCURL_SHIM_H
#include <curl/curl.h>

/// Sets a `long` option (timeouts, flags such as CURLOPT_NOSIGNAL).
static inline CURLcode ragcurl_setopt_long(CURL *_Nonnull handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
/// Sets a string option (URL, proxy, POST body when CURLOPT_POSTFIELDSIZE is set). libcurl copies the string.
static inline CURLcode ragcurl_setopt_string(CURL *_Nonnull handle, CURLoption option, const char *_Nullable value) {
    return curl_easy_setopt(handle, option, value);
}
/// Sets a pointer option (CURLOPT_WRITEDATA, CURLOPT_HTTPHEADER list, ...).
static inline CURLcode ragcurl_setopt_pointer(CURL *_Nonnull handle, CURLoption option, void *_Nullable value) {
    return curl_easy_setopt(handle, option, value);
}
/// Sets a 64-bit size option (CURLOPT_POSTFIELDSIZE_LARGE, CURLOPT_MAXFILESIZE_LARGE).
static inline CURLcode ragcurl_setopt_off(CURL *_Nonnull handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
/// Write and header callbacks share this signature.
typedef size_t (*ragcurl_write_callback)(char *_Nonnull data, size_t size, size_t count, void *_Nullable context);
/// Sets CURLOPT_WRITEFUNCTION or CURLOPT_HEADERFUNCTION.
static inline CURLcode ragcurl_setopt_write_function(CURL *_Nonnull handle, CURLoption option,
                                                     ragcurl_write_callback _Nullable callback) {
    return curl_easy_setopt(handle, option, callback);
}
/// Progress callback, used to abort a transfer when its task is cancelled.
typedef int (*ragcurl_xferinfo_callback)(void *_Nullable context, curl_off_t dltotal, curl_off_t dlnow,
                                         curl_off_t ultotal, curl_off_t ulnow);
static inline CURLcode ragcurl_setopt_xferinfo_function(CURL *_Nonnull handle, ragcurl_xferinfo_callback _Nullable cb) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, cb);
}
/// Reads a `long` info value (CURLINFO_RESPONSE_CODE).
static inline CURLcode ragcurl_getinfo_long(CURL *_Nonnull handle, CURLINFO info, long *_Nonnull value) {
    return curl_easy_getinfo(handle, info, value);
}
/// Reads a `double` info value (CURLINFO_TOTAL_TIME).
static inline CURLcode ragcurl_getinfo_double(CURL *_Nonnull handle, CURLINFO info, double *_Nonnull value) {
    return curl_easy_getinfo(handle, info, value);
}
/// Sets a `long` option on a multi handle (CURLMOPT_MAXCONNECTS).
static inline CURLMcode ragcurl_multi_setopt_long(CURLM *_Nonnull multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}
#endif
