// The kernels with AVX-512F: 16 floats per vector, 32 vector registers.
#if defined(__x86_64__)
#define W 16
#define NAME(x) ragenc_avx512_##x
#define ROWS 8
#define S_ROWS 4
#define S_VECTORS 4
#define P_ROWS 8
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#include "kernels.h"
#pragma clang attribute pop
#endif
