#ifndef RAGVEC_H
#define RAGVEC_H
// Memory-bound dot products for single-query vector search. A query against a million rows reads the whole
// matrix once; the work per byte is tiny, so what matters is reading at memory speed. Debian's OpenBLAS sgemv
// stays well below that (about 23 GB/s on two cores where the machine reads 44 GB/s), so the single-query path
// uses this kernel, chosen at run time for the CPU: AVX-512F, AVX2 with FMA, or portable C.
#include <stddef.h>

#include "ragvec_compact.h"

/// out[r] = dot(matrix[r * dim ..< (r + 1) * dim], query) for r in 0 ..< rows.
void ragvec_dot_rows(const float *_Nonnull matrix, size_t rows, size_t dim, const float *_Nonnull query,
                     float *_Nonnull out);

/// The instruction set ragvec_dot_rows uses on this CPU: "avx512f", "avx2" or "portable".
const char *_Nonnull ragvec_kernel_name(void);

/// What this CPU runs, by its features: 3 AVX-512 (F, BW, VL, DQ, CD) with BF16, 2 the same without BF16, 1 AVX2 with
/// FMA, 0 less (or not x86-64).
int ragvec_cpu_level(void);

#endif
