#ifndef RAGENC_H
#define RAGENC_H
// The element-wise steps and the attention of the MiniLM (BERT) encoder, in C so that they can use the widest
// vectors the CPU has: Swift targets baseline x86-64, where SIMD code is SSE-width. Each function is compiled
// three times (AVX-512F, AVX2 with FMA, portable C) and the variant for this CPU is chosen once, at first use.
// The dense layers stay in OpenBLAS `cblas_sgemm`; these kernels do everything between them.
//
// `exp` and `erf` are polynomial approximations: Cephes `expf` (relative error about 1e-7) and Abramowitz and
// Stegun 7.1.26 for `erf` (absolute error below 1.5e-7), far below float32 noise in the model's output.
#include <stddef.h>

/// values[r][c] = GELU(values[r][c] + bias[c]), the exact (erf) form BERT uses; rows `columns` floats apart.
void ragenc_bias_gelu(float *_Nonnull values, size_t rows, size_t columns, const float *_Nonnull bias);

/// output[r] = LayerNorm(input[r] + bias) · gamma + beta for each row (`bias` may be NULL; `output` may be
/// `input`); rows `columns` floats apart.
void ragenc_bias_layer_norm(const float *_Nonnull input, size_t rows, size_t columns, const float *_Nullable bias,
                            const float *_Nonnull gamma, const float *_Nonnull beta, float epsilon,
                            float *_Nonnull output);

/// Floats of scratch `ragenc_attention` needs for a sequence of `length` tokens.
size_t ragenc_attention_scratch_floats(size_t length);

/// Columns of padding `kt` needs after the last key a call reads (the kernel reads whole vectors of keys).
size_t ragenc_attention_key_padding(void);

/// Self-attention of one head over one sequence of `length` tokens, with the query and value biases folded in:
///
///     out[i] = Σⱼ softmaxⱼ(scale · (q[i] + q_bias) · kt[·][j]) · v[j] + v_bias
///
/// `q`, `v` and `out` hold `length` rows of `head_size` floats (`q_stride`, `v_stride`, `out_stride` apart). `kt`
/// holds the keys transposed: `head_size` rows, `kt_stride` apart, whose columns 0 ..< length are the keys; it is
/// read up to `ragenc_attention_key_padding()` columns further (their values do not matter). The keys come
/// without their bias: adding the same vector to every key shifts all scores of a row by one amount, which
/// softmax cancels. Likewise the value bias is added once to the output, since each row's weights sum to 1.
void ragenc_attention(const float *_Nonnull q, size_t q_stride, const float *_Nonnull q_bias,
                      const float *_Nonnull kt, size_t kt_stride, const float *_Nonnull v, size_t v_stride,
                      const float *_Nonnull v_bias, float *_Nonnull out, size_t out_stride, size_t length,
                      size_t head_size, float scale, float *_Nonnull scratch);

/// The instruction set the kernels use on this CPU: "avx512f", "avx2" or "portable".
const char *_Nonnull ragenc_kernel_name(void);

/// One instruction set's variant of the kernels above.
typedef struct ragenc_kernels {
    const char *_Nonnull name;
    void (*_Nonnull bias_gelu)(float *_Nonnull values, size_t rows, size_t columns, const float *_Nonnull bias);
    void (*_Nonnull bias_layer_norm)(const float *_Nonnull input, size_t rows, size_t columns,
                                     const float *_Nullable bias, const float *_Nonnull gamma,
                                     const float *_Nonnull beta, float epsilon, float *_Nonnull output);
    void (*_Nonnull attention)(const float *_Nonnull q, size_t q_stride, const float *_Nonnull q_bias,
                               const float *_Nonnull kt, size_t kt_stride, const float *_Nonnull v, size_t v_stride,
                               const float *_Nonnull v_bias, float *_Nonnull out, size_t out_stride, size_t length,
                               size_t head_size, float scale, float *_Nonnull scratch);
} ragenc_kernels;

/// Every variant this CPU can run, best first (the first is the one the functions above use), so that tests can
/// check each of them; `*count` receives how many.
const ragenc_kernels *_Nonnull ragenc_variants(size_t *_Nonnull count);

#endif
