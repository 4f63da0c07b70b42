// zlib: `crc32` checksums collection files; RAGTesting's PDF writer uses `compress2` for /FlateDecode streams.
#ifndef RAG_CZLIB_SHIM_H
#define RAG_CZLIB_SHIM_H
#include <zlib.h>
#endif
