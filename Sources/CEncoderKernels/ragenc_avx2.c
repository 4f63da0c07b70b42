// The kernels with AVX2 and FMA: 8 floats per vector, 16 vector registers.
#if defined(__x86_64__)
#define W 8
#define NAME(x) ragenc_avx2_##x
#define ROWS 12
#define S_ROWS 4
#define S_VECTORS 2
#define P_ROWS 3
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include "kernels.h"
#pragma clang attribute pop
#endif
