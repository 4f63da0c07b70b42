// The kernels for any CPU: 4-float vectors (SSE2 on x86-64, NEON on arm64), 16 vector registers.
#define W 4
#define NAME(x) ragenc_portable_##x
#define ROWS 4
#define S_ROWS 4
#define S_VECTORS 2
#define P_ROWS 1
#include "kernels.h"
