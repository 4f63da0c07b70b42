// Dense layers in int8: weights quantized once per output (symmetric, one scale per output row), activations per
// token when they are needed (one scale and one zero point per row), products summed exactly in int32, one float
// multiply to finish. AVX-512 VNNI's `vpdpbusd` multiplies unsigned bytes by signed bytes and adds groups of four
// into 32-bit lanes: 64 multiply-adds per instruction, four times an fp32 `vfmadd` of the same width. Activation
// codes are unsigned with a zero point (128 for symmetric rows), and zero point × (each output's code sum) comes
// off at the end.
//
// Inputs come in groups of `group` columns (a divisor of the inputs), each quantized on its own: an activation
// column of outliers then costs precision in its own group only. Each group's weight codes have their own scale per
// output, and each token's activations one scale and zero point per group; the kernel sums a group's products in
// int32, then adds them, scaled, into float accumulators that stay in registers.
//
// Packed weights, per input group: outputs in panels of 64, inputs in quads. For panel p and quad q, 256 bytes hold
// the 4 codes of quad q of outputs 64p … 64p + 63, output by output, so that one 64-byte load is the quad of 16
// outputs one `vpdpbusd` needs, and the kernel reads a panel front to back.
#include "ragenc.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

size_t ragenc_i8_packed_bytes(size_t outputs, size_t inputs) { return outputs * inputs; }

void ragenc_i8_pack(const float *weight, size_t outputs, size_t inputs, size_t group, const float *factors,
                    int8_t *codes, float *scales, float *offsets) {
    size_t groups = inputs / group, quads = group / 4;
    for (size_t g = 0; g < groups; g++) {
        int8_t *packed = codes + g * outputs * group;
        for (size_t o = 0; o < outputs; o++) {
            const float *row = weight + o * inputs + g * group;
            const float *f = factors ? factors + g * group : NULL;
            float largest = 0;
            for (size_t i = 0; i < group; i++) largest = fmaxf(largest, fabsf(f ? row[i] / f[i] : row[i]));
            float scale = largest > 0 ? largest / 127 : 1;
            float inverse = 1 / scale;
            int32_t sum = 0;
            size_t panel = o / 64, lane = o % 64;
            for (size_t i = 0; i < group; i++) {
                long code = lrintf((f ? row[i] / f[i] : row[i]) * inverse);
                code = code > 127 ? 127 : code < -127 ? -127 : code;
                packed[(panel * quads + i / 4) * 256 + lane * 4 + i % 4] = (int8_t)code;
                sum += (int32_t)code;
            }
            scales[g * outputs + o] = scale;
            offsets[g * outputs + o] = (float)sum * scale;
        }
    }
}

void ragenc_transpose(const float *in, size_t rows, size_t columns, size_t in_stride, float *out, size_t out_stride) {
    // Tiles of 16 × 16, so that both sides are read and written a cache line at a time.
    for (size_t r0 = 0; r0 < rows; r0 += 16)
        for (size_t c0 = 0; c0 < columns; c0 += 16) {
            size_t r_end = r0 + 16 < rows ? r0 + 16 : rows, c_end = c0 + 16 < columns ? c0 + 16 : columns;
            for (size_t c = c0; c < c_end; c++)
                for (size_t r = r0; r < r_end; r++) out[c * out_stride + r] = in[r * in_stride + c];
        }
}

/// A group's scale and zero point from its smallest and largest value: symmetric (zero point 128, codes 1 … 255
/// for ±the largest magnitude) or asymmetric (the range from min(low, 0) to max(high, 0) over all 256 codes).
static inline void group_parameters(float low, float high, int asymmetric, float *scale, int32_t *zero) {
    if (asymmetric) {
        low = fminf(low, 0);
        high = fmaxf(high, 0);
        *scale = high > low ? (high - low) / 255 : 1;
        long z = lrintf(-low / *scale);
        *zero = (int32_t)(z < 0 ? 0 : z > 255 ? 255 : z);
    } else {
        float top = fmaxf(-low, high);
        *scale = top > 0 ? top / 127 : 1;
        *zero = 128;
    }
}

static inline uint8_t code_of(float value, float inverse, int32_t zero) {
    long q = lrintf(value * inverse) + zero;
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

// ---- portable C ------------------------------------------------------------------------------------------------

static void quantize_portable(const float *x, size_t rows, size_t columns, size_t stride, size_t group,
                              const float *factors, int asymmetric, uint8_t *codes, float *scales, int32_t *zeros) {
    size_t groups = columns / group;
    for (size_t r = 0; r < rows; r++)
        for (size_t g = 0; g < groups; g++) {
            const float *row = x + r * stride + g * group;
            const float *f = factors ? factors + g * group : NULL;
            float low = INFINITY, high = -INFINITY;
            for (size_t c = 0; c < group; c++) {
                float v = f ? row[c] * f[c] : row[c];
                low = fminf(low, v);
                high = fmaxf(high, v);
            }
            size_t k = r * groups + g;
            group_parameters(low, high, asymmetric, &scales[k], &zeros[k]);
            float inverse = 1 / scales[k];
            for (size_t c = 0; c < group; c++)
                codes[r * columns + g * group + c] = code_of(f ? row[c] * f[c] : row[c], inverse, zeros[k]);
        }
}

// The float steps mirror the AVX-512 kernel's, fused multiply-adds included, so that both give the same bits.
static void gemm_portable(const uint8_t *a, const float *a_scales, const int32_t *a_zeros, size_t rows, size_t inputs,
                          size_t group, const int8_t *codes, const float *scales, const float *offsets, size_t outputs,
                          float *out, size_t out_stride, int accumulate) {
    size_t groups = inputs / group, quads = group / 4;
    for (size_t r = 0; r < rows; r++)
        for (size_t o = 0; o < outputs; o++) {
            float total = accumulate ? out[r * out_stride + o] : 0;
            for (size_t g = 0; g < groups; g++) {
                const int8_t *panel = codes + g * outputs * group + (o / 64) * quads * 256 + (o % 64) * 4;
                int32_t sum = 0;
                for (size_t q = 0; q < quads; q++)
                    for (int t = 0; t < 4; t++) sum += (int32_t)a[r * inputs + g * group + 4 * q + t] * panel[q * 256 + t];
                size_t k = r * groups + g;
                float value = (float)sum * scales[g * outputs + o];
                value = fmaf(-offsets[g * outputs + o], (float)a_zeros[k], value);
                total = fmaf(value, a_scales[k], total);
            }
            out[r * out_stride + o] = total;
        }
}

// ---- AVX-512 VNNI ----------------------------------------------------------------------------------------------

#if defined(__x86_64__)
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

VNNI static void quantize_avx512(const float *x, size_t rows, size_t columns, size_t stride, size_t group,
                                 const float *factors, int asymmetric, uint8_t *codes, float *scales, int32_t *zeros) {
    size_t groups = columns / group;
    for (size_t r = 0; r < rows; r++)
        for (size_t g = 0; g < groups; g++) {
            const float *row = x + r * stride + g * group;
            const float *f = factors ? factors + g * group : NULL;
            __m512 lows = _mm512_set1_ps(INFINITY), highs = _mm512_set1_ps(-INFINITY);
            size_t c = 0;
            for (; c + 16 <= group; c += 16) {
                __m512 v = _mm512_loadu_ps(row + c);
                if (f) v = _mm512_mul_ps(v, _mm512_loadu_ps(f + c));
                lows = _mm512_min_ps(lows, v);
                highs = _mm512_max_ps(highs, v);
            }
            float low = _mm512_reduce_min_ps(lows), high = _mm512_reduce_max_ps(highs);
            for (; c < group; c++) {
                float v = f ? row[c] * f[c] : row[c];
                low = fminf(low, v);
                high = fmaxf(high, v);
            }
            size_t k = r * groups + g;
            group_parameters(low, high, asymmetric, &scales[k], &zeros[k]);
            const float inverse = 1 / scales[k];
            __m512 inverses = _mm512_set1_ps(inverse);
            __m512i zero = _mm512_set1_epi32(zeros[k]), floor = _mm512_setzero_si512(), ceiling = _mm512_set1_epi32(255);
            uint8_t *out = codes + r * columns + g * group;
            for (c = 0; c + 16 <= group; c += 16) {
                __m512 v = _mm512_loadu_ps(row + c);
                if (f) v = _mm512_mul_ps(v, _mm512_loadu_ps(f + c));
                __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, inverses)), zero);
                q = _mm512_min_epi32(_mm512_max_epi32(q, floor), ceiling);
                _mm_storeu_si128((__m128i *)(out + c), _mm512_cvtepi32_epi8(q));
            }
            for (; c < group; c++) out[c] = code_of(f ? row[c] * f[c] : row[c], inverse, zeros[k]);
        }
}

// The int32 sums of `R` rows (R ≤ 6, `inputs` bytes apart from `x`) by one panel of 64 outputs over `quads` quads of
// inputs: per quad 4 weight loads and R broadcasts for 4 × R `vpdpbusd`.
VNNI static inline __attribute__((always_inline)) void
dot_group(const uint8_t *x, size_t inputs, const int8_t *w, size_t quads, __m512i acc[6][4], const int R) {
    for (int r = 0; r < R; r++)
        for (int p = 0; p < 4; p++) acc[r][p] = _mm512_setzero_si512();
    for (size_t q = 0; q < quads; q++, w += 256) {
        __m512i w0 = _mm512_loadu_si512((const void *)w);
        __m512i w1 = _mm512_loadu_si512((const void *)(w + 64));
        __m512i w2 = _mm512_loadu_si512((const void *)(w + 128));
        __m512i w3 = _mm512_loadu_si512((const void *)(w + 192));
        for (int r = 0; r < R; r++) {
            int32_t four;
            memcpy(&four, x + r * inputs + 4 * q, 4);
            __m512i b = _mm512_set1_epi32(four);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], b, w0);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], b, w1);
            acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], b, w2);
            acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], b, w3);
        }
    }
}

// `R` rows of activations (R ≤ 6, a constant at each call) by one panel of 64 outputs, over input group `g`: the
// int32 sums (24 registers), then
//     out (+)= a_scale · (sum · w_scale − zero · w_offset)
// with `add` saying whether `out` already holds a sum to add to.
VNNI static inline __attribute__((always_inline)) void
tile_avx512(const uint8_t *a, size_t inputs, size_t group, size_t g, const float *a_scales, const int32_t *a_zeros,
            const int8_t *weights, const float *scales, const float *offsets, float *out, size_t out_stride, int add,
            const int R) {
    const size_t groups = inputs / group, quads = group / 4;
    __m512i acc[6][4];
    dot_group(a + g * group, inputs, weights, quads, acc, R);
    for (int p = 0; p < 4; p++) {
        __m512 weight_scales = _mm512_loadu_ps(scales + 16 * p);
        __m512 weight_offsets = _mm512_loadu_ps(offsets + 16 * p);
        for (int r = 0; r < R; r++) {
            size_t k = (size_t)r * groups + g;
            float *target = out + r * out_stride + 16 * p;
            __m512 value = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][p]), weight_scales);
            value = _mm512_fnmadd_ps(weight_offsets, _mm512_set1_ps((float)a_zeros[k]), value);
            __m512 total = add ? _mm512_loadu_ps(target) : _mm512_setzero_ps();
            _mm512_storeu_ps(target, _mm512_fmadd_ps(value, _mm512_set1_ps(a_scales[k]), total));
        }
    }
}

// `R` rows (R ≤ 3) by one panel over every input group, the float sums kept in registers from group to group (12
// int32 and 12 float accumulators in use): for layers whose panel of weights (inputs × 64 bytes) fits in L1, so that the
// rows can pass over all of it.
VNNI static inline __attribute__((always_inline)) void
tile_groups_avx512(const uint8_t *a, size_t inputs, size_t group, const float *a_scales, const int32_t *a_zeros,
                   const int8_t *codes, size_t panel, size_t outputs, const float *scales, const float *offsets,
                   float *out, size_t out_stride, int accumulate, const int R) {
    const size_t groups = inputs / group, quads = group / 4;
    __m512 total[3][4];
    for (int r = 0; r < R; r++)
        for (int p = 0; p < 4; p++)
            total[r][p] = accumulate ? _mm512_loadu_ps(out + r * out_stride + 16 * p) : _mm512_setzero_ps();
    for (size_t g = 0; g < groups; g++) {
        __m512i acc[6][4];
        dot_group(a + g * group, inputs, codes + g * outputs * group + panel * quads * 256, quads, acc, R);
        for (int p = 0; p < 4; p++) {
            __m512 weight_scales = _mm512_loadu_ps(scales + g * outputs + 64 * panel + 16 * p);
            __m512 weight_offsets = _mm512_loadu_ps(offsets + g * outputs + 64 * panel + 16 * p);
            for (int r = 0; r < R; r++) {
                size_t k = (size_t)r * groups + g;
                __m512 value = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][p]), weight_scales);
                value = _mm512_fnmadd_ps(weight_offsets, _mm512_set1_ps((float)a_zeros[k]), value);
                total[r][p] = _mm512_fmadd_ps(value, _mm512_set1_ps(a_scales[k]), total[r][p]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int p = 0; p < 4; p++) _mm512_storeu_ps(out + r * out_stride + 16 * p, total[r][p]);
}

VNNI static void gemm_avx512(const uint8_t *a, const float *a_scales, const int32_t *a_zeros, size_t rows, size_t inputs,
                             size_t group, const int8_t *codes, const float *scales, const float *offsets,
                             size_t outputs, float *out, size_t out_stride, int accumulate) {
    const size_t panels = outputs / 64, groups = inputs / group, quads = group / 4;
    // Blocks of rows whose activations stay in L2 while the weights pass over them.
    const size_t block = 96;
    // Both orders give the same bits: each output's float sum takes the groups in order, by the same operations.
    if (inputs * 64 <= 32 * 1024) {
        // A panel (at most 32 KiB) stays in L1: 3-row tiles over all its groups, sums in registers.
        for (size_t r0 = 0; r0 < rows; r0 += block) {
            size_t end = r0 + block < rows ? r0 + block : rows;
            for (size_t p = 0; p < panels; p++) {
                size_t r = r0;
                for (; r + 3 <= end; r += 3)
                    tile_groups_avx512(a + r * inputs, inputs, group, a_scales + r * groups, a_zeros + r * groups, codes, p,
                                       outputs, scales, offsets, out + r * out_stride + 64 * p, out_stride, accumulate, 3);
                if (end - r == 2)
                    tile_groups_avx512(a + r * inputs, inputs, group, a_scales + r * groups, a_zeros + r * groups, codes, p,
                                       outputs, scales, offsets, out + r * out_stride + 64 * p, out_stride, accumulate, 2);
                else if (end - r == 1)
                    tile_groups_avx512(a + r * inputs, inputs, group, a_scales + r * groups, a_zeros + r * groups, codes, p,
                                       outputs, scales, offsets, out + r * out_stride + 64 * p, out_stride, accumulate, 1);
            }
        }
        return;
    }
    // A wider layer: one group of a panel at a time (at most 64 × 192 bytes for MiniLM's, in L1) under 6-row tiles,
    // the float sums going through `out` between groups.
    for (size_t r0 = 0; r0 < rows; r0 += block) {
        size_t end = r0 + block < rows ? r0 + block : rows;
        for (size_t p = 0; p < panels; p++)
            for (size_t g = 0; g < groups; g++) {
                const int8_t *w = codes + g * outputs * group + p * quads * 256;
                const float *s = scales + g * outputs + 64 * p, *o = offsets + g * outputs + 64 * p;
                const int add = accumulate || g > 0;
                size_t r = r0;
                for (; r + 6 <= end; r += 6)
                    tile_avx512(a + r * inputs, inputs, group, g, a_scales + r * groups, a_zeros + r * groups, w, s, o,
                                out + r * out_stride + 64 * p, out_stride, add, 6);
                const uint8_t *ra = a + r * inputs;
                const float *rs = a_scales + r * groups;
                const int32_t *rz = a_zeros + r * groups;
                float *ro = out + r * out_stride + 64 * p;
                switch (end - r) {
                case 5: tile_avx512(ra, inputs, group, g, rs, rz, w, s, o, ro, out_stride, add, 5); break;
                case 4: tile_avx512(ra, inputs, group, g, rs, rz, w, s, o, ro, out_stride, add, 4); break;
                case 3: tile_avx512(ra, inputs, group, g, rs, rz, w, s, o, ro, out_stride, add, 3); break;
                case 2: tile_avx512(ra, inputs, group, g, rs, rz, w, s, o, ro, out_stride, add, 2); break;
                case 1: tile_avx512(ra, inputs, group, g, rs, rz, w, s, o, ro, out_stride, add, 1); break;
                default: break;
                }
            }
    }
}
#endif

// ---- choice ----------------------------------------------------------------------------------------------------

typedef struct {
    const char *name;
    void (*quantize)(const float *, size_t, size_t, size_t, size_t, const float *, int, uint8_t *, float *, int32_t *);
    void (*gemm)(const uint8_t *, const float *, const int32_t *, size_t, size_t, size_t, const int8_t *, const float *,
                 const float *, size_t, float *, size_t, int);
} i8_kernels;

static const i8_kernels i8_all[] = {
#if defined(__x86_64__)
    {"avx512vnni", quantize_avx512, gemm_avx512},
#endif
    {"portable", quantize_portable, gemm_portable},
};
static const size_t i8_count = sizeof i8_all / sizeof i8_all[0];
static size_t i8_chosen;
static pthread_once_t i8_once = PTHREAD_ONCE_INIT;

static void i8_choose(void) {
    i8_chosen = i8_count - 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vnni"))
        i8_chosen = 0;
#endif
}

static const i8_kernels *i8(void) {
    pthread_once(&i8_once, i8_choose);
    return &i8_all[i8_chosen];
}

int ragenc_i8_accelerated(void) { return i8()->gemm != gemm_portable; }

const char *ragenc_i8_kernel_name(void) { return i8()->name; }

void ragenc_i8_quantize(const float *x, size_t rows, size_t columns, size_t stride, size_t group, const float *factors,
                        int asymmetric, uint8_t *codes, float *scales, int32_t *zeros) {
    i8()->quantize(x, rows, columns, stride, group, factors, asymmetric, codes, scales, zeros);
}

void ragenc_i8_gemm(const uint8_t *a, const float *a_scales, const int32_t *a_zeros, size_t rows, size_t inputs,
                    size_t group, const int8_t *codes, const float *scales, const float *offsets, size_t outputs,
                    float *out, size_t out_stride, int accumulate) {
    i8()->gemm(a, a_scales, a_zeros, rows, inputs, group, codes, scales, offsets, outputs, out, out_stride, accumulate);
}

void ragenc_i8_quantize_portable(const float *x, size_t rows, size_t columns, size_t stride, size_t group,
                                 const float *factors, int asymmetric, uint8_t *codes, float *scales, int32_t *zeros) {
    quantize_portable(x, rows, columns, stride, group, factors, asymmetric, codes, scales, zeros);
}

void ragenc_i8_gemm_portable(const uint8_t *a, const float *a_scales, const int32_t *a_zeros, size_t rows,
                             size_t inputs, size_t group, const int8_t *codes, const float *scales,
                             const float *offsets, size_t outputs, float *out, size_t out_stride, int accumulate) {
    gemm_portable(a, a_scales, a_zeros, rows, inputs, group, codes, scales, offsets, outputs, out, out_stride,
                  accumulate);
}
