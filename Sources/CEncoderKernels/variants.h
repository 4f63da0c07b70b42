// The per-instruction-set variants ragenc.c chooses from (see kernels.h).
#include <stddef.h>

#define DECLARE(prefix)                                                                                             \
    void prefix##_bias_gelu(float *values, size_t rows, size_t columns, const float *bias);                        \
    void prefix##_bias_layer_norm(const float *input, size_t rows, size_t columns, const float *bias,              \
                                  const float *gamma, const float *beta, float epsilon, float *output);            \
    void prefix##_attention(const float *q, size_t q_stride, const float *q_bias, const float *kt,                 \
                            size_t kt_stride, const float *v, size_t v_stride, const float *v_bias, float *out,    \
                            size_t out_stride, size_t length, size_t head_size, float scale, float *scratch);

DECLARE(ragenc_portable)
#if defined(__x86_64__)
DECLARE(ragenc_avx512)
DECLARE(ragenc_avx2)
#endif
