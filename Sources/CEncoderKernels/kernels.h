// The body of every kernel, written once over GCC/Clang vector types of W floats and compiled once per
// instruction set: ragenc_avx512.c (W 16), ragenc_avx2.c (W 8), ragenc_portable.c (W 4). Each includes this
// file after defining W, NAME(x) (the variant's suffix) and, on x86, a `#pragma clang attribute` with its target.
// Only the NAME(...) functions are visible outside the variant's file.
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#pragma clang fp contract(fast)

typedef float vf __attribute__((vector_size(W * 4)));
typedef int32_t vi __attribute__((vector_size(W * 4)));
typedef float vf_unaligned __attribute__((vector_size(W * 4), aligned(4)));

#define INLINE static inline __attribute__((always_inline))

INLINE vf load(const float *p) { return *(const vf_unaligned *)p; }
INLINE void store(float *p, vf x) { *(vf_unaligned *)p = x; }
// x · 1 folds to a plain broadcast, where 0 + x would keep an addition (it turns -0 into +0).
INLINE vf splat(float x) { return ((vf){0} + 1.0f) * x; }
INLINE vf select_where(vi mask, vf yes, vf no) { return (vf)(((vi)yes & mask) | ((vi)no & ~mask)); }
INLINE vf vmax(vf a, vf b) { return select_where(a > b, a, b); }
INLINE vf vmin(vf a, vf b) { return select_where(a < b, a, b); }

INLINE float hsum(vf x) {
    float s = 0;
    for (int i = 0; i < W; i++) s += x[i];
    return s;
}

INLINE float hmax(vf x) {
    float m = x[0];
    for (int i = 1; i < W; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/// eˣ (Cephes expf: 2ⁿ · eʳ with |r| ≤ ln2/2 and a degree-5 polynomial for eʳ); inputs clamped to ±87.
INLINE vf vexp(vf x) {
    x = vmin(vmax(x, splat(-87.3f)), splat(88.3f));
    // Round x·log₂e to the nearest integer n with the 1.5·2²³ trick: after the addition n sits in the low
    // mantissa bits, so n as an integer is a difference of bit patterns.
    const float magic = 12582912.0f;
    vf shifted = x * 1.44269504f + magic;
    vf n = shifted - magic;
    vi integer = (vi)shifted - 0x4B400000;
    vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    return p * (vf)((integer + 127) << 23);
}

/// GELU(x) = x · (1 + erf(x / √2)) / 2, erf by Abramowitz and Stegun 7.1.26 (odd-symmetric).
INLINE vf vgelu(vf x) {
    vf z = x * 0.70710678f;
    vi sign = (vi)z & (int32_t)0x80000000;
    vf a = (vf)((vi)z & 0x7fffffff);
    vf t = 1.0f / (a * 0.3275911f + 1.0f);
    vf p = splat(1.061405429f);
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    vf y = 1.0f - p * t * vexp(-(a * a));
    vf erf = (vf)((vi)y | sign);
    return x * (erf * 0.5f + 0.5f);
}

void NAME(bias_gelu)(float *values, size_t rows, size_t columns, const float *bias) {
    for (size_t row = 0; row < rows; row++) {
        float *line = values + row * columns;
        size_t c = 0;
        for (; c + W <= columns; c += W) store(line + c, vgelu(load(line + c) + load(bias + c)));
        for (; c < columns; c++) {
            float x = line[c] + bias[c];
            line[c] = 0.5f * x * (1.0f + erff(x * 0.70710678f));
        }
    }
}

void NAME(bias_layer_norm)(const float *input, size_t rows, size_t columns, const float *bias, const float *gamma,
                           const float *beta, float epsilon, float *output) {
    const size_t whole = columns - columns % W;
    for (size_t row = 0; row < rows; row++) {
        const float *line = input + row * columns;
        float *out = output + row * columns;
        // With a bias, the biased row goes to `out` first (it may be `line`), and is normalised there.
        if (bias) {
            size_t c = 0;
            for (; c < whole; c += W) store(out + c, load(line + c) + load(bias + c));
            for (; c < columns; c++) out[c] = line[c] + bias[c];
            line = out;
        }
        vf sums = splat(0);
        size_t c = 0;
        for (; c < whole; c += W) sums += load(line + c);
        float sum = hsum(sums);
        for (; c < columns; c++) sum += line[c];
        const float mean = sum / (float)columns;
        vf squares = splat(0);
        for (c = 0; c < whole; c += W) {
            vf centred = load(line + c) - mean;
            squares += centred * centred;
        }
        float square = hsum(squares);
        for (c = whole; c < columns; c++) square += (line[c] - mean) * (line[c] - mean);
        const float scale = 1.0f / sqrtf(square / (float)columns + epsilon);
        for (c = 0; c < whole; c += W) store(out + c, (load(line + c) - mean) * scale * load(gamma + c) + load(beta + c));
        for (; c < columns; c++) out[c] = (line[c] - mean) * scale * gamma[c] + beta[c];
    }
}

// Attention for head size 32, in blocks of ROWS query rows: scores for the block (ROWS × length, in scratch),
// softmax numerators in place, then the block's outputs as weighted sums of value rows, divided by the row sums.
// The register tiles (S_ROWS × S_VECTORS accumulators for scores, P_ROWS × 32/W for outputs) fit the variant's
// register file: 32 vector registers with AVX-512, 16 otherwise.
#define HEAD 32
#define D (HEAD / W)

/// s[r][j0 + …] = Σ_d qs[r][d] · kt[d][j0 + …] for `rows` rows and `vectors` vectors of keys.
INLINE void score_tile(int rows, int vectors, const float *qs, const float *kt, size_t kt_stride, size_t j0,
                       float *s, size_t s_stride) {
    vf acc[S_ROWS][S_VECTORS];
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < vectors; c++) acc[r][c] = splat(0);
    for (int d = 0; d < HEAD; d++) {
        vf k[S_VECTORS];
        for (int c = 0; c < vectors; c++) k[c] = load(kt + d * kt_stride + j0 + c * W);
        for (int r = 0; r < rows; r++) {
            vf q = splat(qs[r * HEAD + d]);
            for (int c = 0; c < vectors; c++) acc[r][c] += q * k[c];
        }
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < vectors; c++) store(s + r * s_stride + j0 + c * W, acc[r][c]);
}

/// out[r] = (Σⱼ p[r][j] · v[j]) · inverse[r] + v_bias for `rows` rows.
INLINE void output_tile(int rows, const float *p, size_t p_stride, const float *v, size_t v_stride, size_t length,
                        const float *inverse, const float *v_bias, float *out, size_t out_stride) {
    vf acc[P_ROWS][D];
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < D; c++) acc[r][c] = splat(0);
    for (size_t j = 0; j < length; j++) {
        vf value[D];
        for (int c = 0; c < D; c++) value[c] = load(v + j * v_stride + c * W);
        for (int r = 0; r < rows; r++) {
            vf weight = splat(p[r * p_stride + j]);
            for (int c = 0; c < D; c++) acc[r][c] += weight * value[c];
        }
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < D; c++)
            store(out + r * out_stride + c * W, acc[r][c] * inverse[r] + load(v_bias + c * W));
}

/// Scores, softmax and outputs for query rows i0 ..< i0 + rows (at most ROWS).
INLINE void attention_block(size_t i0, int rows, const float *q, size_t q_stride, const float *q_bias,
                            const float *kt, size_t kt_stride, const float *v, size_t v_stride, const float *v_bias,
                            float *out, size_t out_stride, size_t length, float scale, float *scratch) {
    const size_t padded = (length + W - 1) / W * W;
    float qs[ROWS * HEAD];
    for (int r = 0; r < rows; r++)
        for (int d = 0; d < HEAD; d++) qs[r * HEAD + d] = (q[(i0 + r) * q_stride + d] + q_bias[d]) * scale;
    for (int r0 = 0; r0 < rows; r0 += S_ROWS) {
        const int tile = rows - r0 < S_ROWS ? rows - r0 : S_ROWS;
        size_t j = 0;
        for (; j + S_VECTORS * W <= padded; j += S_VECTORS * W) {
            if (tile == S_ROWS) score_tile(S_ROWS, S_VECTORS, qs + r0 * HEAD, kt, kt_stride, j, scratch + r0 * padded, padded);
            else score_tile(tile, S_VECTORS, qs + r0 * HEAD, kt, kt_stride, j, scratch + r0 * padded, padded);
        }
        for (; j < padded; j += W) score_tile(tile, 1, qs + r0 * HEAD, kt, kt_stride, j, scratch + r0 * padded, padded);
    }
    float inverse[ROWS];
    for (int r = 0; r < rows; r++) {
        float *s = scratch + r * padded;
        for (size_t j = length; j < padded; j++) s[j] = -INFINITY;
        vf maxima = splat(-INFINITY);
        for (size_t j = 0; j < padded; j += W) maxima = vmax(maxima, load(s + j));
        const float maximum = hmax(maxima);
        vf sums = splat(0);
        for (size_t j = 0; j < padded; j += W) {
            vf e = vexp(load(s + j) - maximum);
            store(s + j, e);
            sums += e;
        }
        // The padding lanes hold e^-87 ≈ 1e-38 (exp clamps its input), below float32 resolution of the sum.
        inverse[r] = 1.0f / hsum(sums);
    }
    for (int r0 = 0; r0 < rows; r0 += P_ROWS) {
        const int tile = rows - r0 < P_ROWS ? rows - r0 : P_ROWS;
        if (tile == P_ROWS)
            output_tile(P_ROWS, scratch + r0 * padded, padded, v, v_stride, length, inverse + r0, v_bias,
                        out + (i0 + r0) * out_stride, out_stride);
        else
            output_tile(tile, scratch + r0 * padded, padded, v, v_stride, length, inverse + r0, v_bias,
                        out + (i0 + r0) * out_stride, out_stride);
    }
}

/// Any head size: one query row at a time, plain loops (no model we load uses it; kept for correctness).
static void attention_any(const float *q, size_t q_stride, const float *q_bias, const float *kt, size_t kt_stride,
                          const float *v, size_t v_stride, const float *v_bias, float *out, size_t out_stride,
                          size_t length, size_t head_size, float scale, float *scores) {
    for (size_t i = 0; i < length; i++) {
        float maximum = -INFINITY;
        for (size_t j = 0; j < length; j++) {
            float s = 0;
            for (size_t d = 0; d < head_size; d++) s += (q[i * q_stride + d] + q_bias[d]) * kt[d * kt_stride + j];
            scores[j] = s * scale;
            maximum = scores[j] > maximum ? scores[j] : maximum;
        }
        float sum = 0;
        for (size_t j = 0; j < length; j++) sum += scores[j] = expf(scores[j] - maximum);
        for (size_t d = 0; d < head_size; d++) {
            float o = 0;
            for (size_t j = 0; j < length; j++) o += scores[j] * v[j * v_stride + d];
            out[i * out_stride + d] = o / sum + v_bias[d];
        }
    }
}

void NAME(attention)(const float *q, size_t q_stride, const float *q_bias, const float *kt, size_t kt_stride,
                     const float *v, size_t v_stride, const float *v_bias, float *out, size_t out_stride,
                     size_t length, size_t head_size, float scale, float *scratch) {
    if (head_size != HEAD) {
        attention_any(q, q_stride, q_bias, kt, kt_stride, v, v_stride, v_bias, out, out_stride, length, head_size,
                      scale, scratch);
        return;
    }
    size_t i = 0;
    for (; i + ROWS <= length; i += ROWS)
        attention_block(i, ROWS, q, q_stride, q_bias, kt, kt_stride, v, v_stride, v_bias, out, out_stride, length,
                        scale, scratch);
    if (i < length)
        attention_block(i, (int)(length - i), q, q_stride, q_bias, kt, kt_stride, v, v_stride, v_bias, out,
                        out_stride, length, scale, scratch);
}
