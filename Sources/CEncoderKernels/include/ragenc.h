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
#include <stdint.h>

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

// ---- int8 dense layers (ragenc_i8.c) ----------------------------------------------------------------------------
// out (rows × outputs) = x (rows × inputs) · Wᵀ, with W (outputs × inputs) quantized once and x before each use, both
// to 8 bits by groups of `group` inputs: W symmetric (±127) with one scale per output and group, x with one scale and
// one zero point per row and group. Each group's products are summed exactly in int32. AVX-512 VNNI when the CPU
// has it, else portable C (correct, but slower than `cblas_sgemm`: callers use fp32 there, see
// `ragenc_i8_accelerated`). `group` must divide `inputs` and be a multiple of 4; `outputs` must be a multiple of 64.

/// Bytes of packed codes for a weight matrix of `outputs` × `inputs`.
size_t ragenc_i8_packed_bytes(size_t outputs, size_t inputs);

/// Quantizes `weight` (`outputs` rows of `inputs` floats) into `codes` (`ragenc_i8_packed_bytes`), `scales` and
/// `offsets` (`inputs / group × outputs` each: the dequantizing factor, and the code sum times it). With `factors`
/// (`inputs` floats, or NULL) column i is divided by factors[i]: the activations are then quantized multiplied by
/// the same factors, which moves range from activation columns with outliers into the weights (SmoothQuant).
void ragenc_i8_pack(const float *_Nonnull weight, size_t outputs, size_t inputs, size_t group,
                    const float *_Nullable factors, int8_t *_Nonnull codes, float *_Nonnull scales,
                    float *_Nonnull offsets);

/// Quantizes `rows` rows of `columns` floats (`stride` apart), each multiplied column by column by `factors` when
/// it is not NULL, to unsigned codes (`rows × columns` bytes, packed), with one scale and one zero point per row and
/// group (`rows × columns / group` each, row by row): symmetric (zero point 128) or, with `asymmetric`, over the
/// group's own range (for one-sided values such as GELU's).
void ragenc_i8_quantize(const float *_Nonnull x, size_t rows, size_t columns, size_t stride, size_t group,
                        const float *_Nullable factors, int asymmetric, uint8_t *_Nonnull codes,
                        float *_Nonnull scales, int32_t *_Nonnull zeros);

/// out[r][o] (= or +=, with `accumulate`) Σ over groups g of a_scales[r,g] · (scales[g,o] · Σᵢ a[r][i] · W[o][i] −
/// a_zeros[r,g] · offsets[g,o]), for activations from `ragenc_i8_quantize` and weights from `ragenc_i8_pack` with the
/// same `group`; rows of `out` are `out_stride` apart.
void ragenc_i8_gemm(const uint8_t *_Nonnull a, const float *_Nonnull a_scales, const int32_t *_Nonnull a_zeros,
                    size_t rows, size_t inputs, size_t group, const int8_t *_Nonnull codes,
                    const float *_Nonnull scales, const float *_Nonnull offsets, size_t outputs, float *_Nonnull out,
                    size_t out_stride, int accumulate);

/// out[c][r] = in[r][c] for `rows` × `columns` floats (rows `in_stride` and `out_stride` apart).
void ragenc_transpose(const float *_Nonnull in, size_t rows, size_t columns, size_t in_stride, float *_Nonnull out,
                      size_t out_stride);

/// Whether `ragenc_i8_gemm` runs a SIMD kernel on this CPU (AVX-512 VNNI); 0 means portable C.
int ragenc_i8_accelerated(void);

/// The instruction set of the int8 kernels on this CPU: "avx512vnni" or "portable".
const char *_Nonnull ragenc_i8_kernel_name(void);

/// The portable C kernels, whatever the CPU, for tests to compare with (they give the same bits).
void ragenc_i8_quantize_portable(const float *_Nonnull x, size_t rows, size_t columns, size_t stride, size_t group,
                                 const float *_Nullable factors, int asymmetric, uint8_t *_Nonnull codes,
                                 float *_Nonnull scales, int32_t *_Nonnull zeros);
void ragenc_i8_gemm_portable(const uint8_t *_Nonnull a, const float *_Nonnull a_scales,
                             const int32_t *_Nonnull a_zeros, size_t rows, size_t inputs, size_t group,
                             const int8_t *_Nonnull codes, const float *_Nonnull scales,
                             const float *_Nonnull offsets, size_t outputs, float *_Nonnull out, size_t out_stride,
                             int accumulate);

#endif
