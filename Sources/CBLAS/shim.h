// OpenBLAS's CBLAS header. Debian installs it as <cblas.h> (alternatives) and under openblas-pthread/.
#ifndef RAG_CBLAS_SHIM_H
#define RAG_CBLAS_SHIM_H
#include <cblas.h>
#endif
