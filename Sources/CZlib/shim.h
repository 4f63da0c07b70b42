// zlib: only `crc32` is used, to checksum collection files.
#ifndef RAG_CZLIB_SHIM_H
#define RAG_CZLIB_SHIM_H
#include <zlib.h>
#endif
