#include "ragvec_compact.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// MARK: - int8: quantization

static float quantize(const float *x, size_t dim, int8_t *codes, int32_t *sum) {
    float largest = 0;
    for (size_t i = 0; i < dim; i++) {
        float magnitude = fabsf(x[i]);
        if (magnitude > largest) largest = magnitude;  // NaN compares false and is skipped
    }
    float scale = largest > 0 && isfinite(largest) ? largest / 127.0f : 0.0f;
    float inverse = scale > 0 ? 127.0f / largest : 0.0f;
    int32_t total = 0;
    for (size_t i = 0; i < dim; i++) {
        float scaled = x[i] * inverse;
        long code = scaled == scaled ? lrintf(scaled) : 0;
        if (code > 127) code = 127;
        if (code < -127) code = -127;
        codes[i] = (int8_t)code;
        total += (int32_t)code;
    }
    if (sum) *sum = total;
    return scale;
}

void ragvec_i8_put_rows(const float *rows, size_t count, size_t dim, size_t first_row, int8_t *blocks, float *scales,
                        int32_t *sums) {
    int8_t codes[4096];
    int8_t *scratch = dim <= sizeof codes ? codes : malloc(dim);
    if (!scratch) abort();
    for (size_t i = 0; i < count; i++) {
        size_t row = first_row + i;
        scales[row] = quantize(rows + i * dim, dim, scratch, &sums[row]);
        int8_t *block = blocks + (row / 16) * 16 * dim;
        size_t lane = row % 16;
        for (size_t g = 0; g < dim / 4; g++) memcpy(block + g * 64 + lane * 4, scratch + g * 4, 4);
    }
    if (scratch != codes) free(scratch);
}

float ragvec_i8_quantize_query(const float *query, size_t dim, int8_t *codes) {
    return quantize(query, dim, codes, NULL);
}

// MARK: - int8: the stored form (a scale, then the codes, per row)

void ragvec_i8_encode_rows(const float *rows, size_t count, size_t dim, uint8_t *out) {
    for (size_t i = 0; i < count; i++) {
        uint8_t *row = out + i * (dim + 4);
        float scale = quantize(rows + i * dim, dim, (int8_t *)(row + 4), NULL);
        memcpy(row, &scale, 4);
    }
}

// Whether a stored row is one a writer makes: a finite scale >= 0 and codes in -127 ... 127 (the kernels' sums
// assume that range). Its scale in *scale.
static int stored_row_valid(const uint8_t *row, size_t dim, float *scale) {
    memcpy(scale, row, 4);
    if (!(*scale >= 0 && isfinite(*scale))) return 0;
    for (size_t d = 0; d < dim; d++)
        if ((int8_t)row[4 + d] == -128) return 0;
    return 1;
}

int ragvec_i8_decode_rows(const uint8_t *stored, size_t count, size_t dim, float *out) {
    for (size_t i = 0; i < count; i++) {
        const uint8_t *row = stored + i * (dim + 4);
        float scale;
        if (!stored_row_valid(row, dim, &scale)) return 0;
        for (size_t d = 0; d < dim; d++) out[i * dim + d] = (float)(int8_t)row[4 + d] * scale;
    }
    return 1;
}

int ragvec_i8_put_stored(const uint8_t *stored, size_t count, size_t dim, size_t padded, size_t first_row,
                         int8_t *blocks, float *scales, int32_t *sums) {
    for (size_t i = 0; i < count; i++) {
        const uint8_t *row = stored + i * (dim + 4);
        float scale;
        if (!stored_row_valid(row, dim, &scale)) return 0;
        size_t at = first_row + i;
        int8_t *block = blocks + (at / 16) * 16 * padded;
        size_t lane = at % 16;
        int32_t total = 0;
        for (size_t d = 0; d < dim; d++) {
            int8_t code = (int8_t)row[4 + d];
            block[(d / 4) * 64 + lane * 4 + d % 4] = code;
            total += code;
        }
        scales[at] = scale;
        sums[at] = total;
    }
    return 1;
}

void ragvec_i8_get_rows(const int8_t *blocks, const float *scales, size_t first_row, size_t count, size_t padded,
                        size_t dim, float *out) {
    for (size_t i = 0; i < count; i++) {
        size_t at = first_row + i;
        const int8_t *block = blocks + (at / 16) * 16 * padded;
        size_t lane = at % 16;
        for (size_t d = 0; d < dim; d++) out[i * dim + d] = (float)block[(d / 4) * 64 + lane * 4 + d % 4] * scales[at];
    }
}

float ragvec_i8_row_dot(const int8_t *blocks, const float *scales, size_t row, size_t padded, size_t dim,
                        const float *query) {
    const int8_t *block = blocks + (row / 16) * 16 * padded;
    size_t lane = row % 16;
    float total = 0;
    for (size_t d = 0; d < dim; d++) total += (float)block[(d / 4) * 64 + lane * 4 + d % 4] * query[d];
    return total * scales[row];
}

// MARK: - int8: scores

typedef void (*i8_scores_fn)(const int8_t *, const float *, const int32_t *, size_t, size_t, size_t, const int8_t *,
                             const float *, size_t, float *, size_t);

static void i8_scores_portable(const int8_t *blocks, const float *scales, const int32_t *sums, size_t first_block,
                               size_t block_count, size_t dim, const int8_t *queries, const float *query_scales,
                               size_t query_count, float *out, size_t out_stride) {
    (void)sums;
    for (size_t b = 0; b < block_count; b++) {
        const int8_t *block = blocks + (first_block + b) * 16 * dim;
        for (size_t q = 0; q < query_count; q++) {
            const int8_t *query = queries + q * dim;
            int32_t dots[16] = {0};
            for (size_t g = 0; g < dim / 4; g++) {
                const int8_t *group = block + g * 64;
                for (size_t lane = 0; lane < 16; lane++)
                    for (size_t j = 0; j < 4; j++) dots[lane] += (int32_t)group[lane * 4 + j] * query[g * 4 + j];
            }
            for (size_t lane = 0; lane < 16; lane++) {
                size_t row = (first_block + b) * 16 + lane;
                out[q * out_stride + b * 16 + lane] = (float)dots[lane] * query_scales[q] * scales[row];
            }
        }
    }
}

#if defined(__x86_64__)
// VNNI multiplies unsigned by signed bytes: the query goes in as code + 128, and 128 * (the row's code sum) comes off.
#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

VNNI_TARGET static inline __attribute__((always_inline)) void
i8_block_vnni(const int8_t *block, size_t groups, const uint32_t *packed, size_t stride, int count, __m512i *acc) {
    for (int q = 0; q < count; q++) acc[q] = _mm512_setzero_si512();
    for (size_t g = 0; g < groups; g++) {
        __m512i rows = _mm512_loadu_si512((const void *)(block + g * 64));
        for (int q = 0; q < count; q++)
            acc[q] = _mm512_dpbusd_epi32(acc[q], _mm512_set1_epi32((int)packed[q * stride + g]), rows);
    }
}

// Four blocks (64 rows) at once: each query's broadcast codes serve four blocks, so a group of 4 dimensions costs 4
// block loads and `count` broadcasts for 4 × count multiply-adds, which keeps the multiply-add ports, not the loads,
// busy (one block at a time needed a broadcast per multiply-add).
VNNI_TARGET static inline __attribute__((always_inline)) void
i8_four_blocks_vnni(const int8_t *block, size_t block_bytes, size_t groups, const uint32_t *packed, size_t stride, int count,
                    __m512i acc[4][4]) {
    for (int b = 0; b < 4; b++)
        for (int q = 0; q < count; q++) acc[b][q] = _mm512_setzero_si512();
    for (size_t g = 0; g < groups; g++) {
        __m512i rows0 = _mm512_loadu_si512((const void *)(block + g * 64));
        __m512i rows1 = _mm512_loadu_si512((const void *)(block + block_bytes + g * 64));
        __m512i rows2 = _mm512_loadu_si512((const void *)(block + 2 * block_bytes + g * 64));
        __m512i rows3 = _mm512_loadu_si512((const void *)(block + 3 * block_bytes + g * 64));
        for (int q = 0; q < count; q++) {
            __m512i codes = _mm512_set1_epi32((int)packed[q * stride + g]);
            acc[0][q] = _mm512_dpbusd_epi32(acc[0][q], codes, rows0);
            acc[1][q] = _mm512_dpbusd_epi32(acc[1][q], codes, rows1);
            acc[2][q] = _mm512_dpbusd_epi32(acc[2][q], codes, rows2);
            acc[3][q] = _mm512_dpbusd_epi32(acc[3][q], codes, rows3);
        }
    }
}

VNNI_TARGET static void i8_scores_vnni(const int8_t *blocks, const float *scales, const int32_t *sums,
                                       size_t first_block, size_t block_count, size_t dim, const int8_t *queries,
                                       const float *query_scales, size_t query_count, float *out, size_t out_stride) {
    size_t groups = dim / 4;
    uint32_t *packed = malloc(4 * groups * sizeof(uint32_t));
    if (!packed) abort();
    for (size_t q0 = 0; q0 < query_count; q0 += 4) {
        int count = query_count - q0 < 4 ? (int)(query_count - q0) : 4;
        for (int q = 0; q < count; q++)
            for (size_t g = 0; g < groups; g++) {
                const int8_t *codes = queries + (q0 + q) * dim + g * 4;
                packed[q * groups + g] = (uint32_t)(uint8_t)(codes[0] + 128) | (uint32_t)(uint8_t)(codes[1] + 128) << 8 |
                                         (uint32_t)(uint8_t)(codes[2] + 128) << 16 |
                                         (uint32_t)(uint8_t)(codes[3] + 128) << 24;
            }
        size_t b = 0;
        for (; b + 4 <= block_count; b += 4) {
            const int8_t *block = blocks + (first_block + b) * 16 * dim;
            __m512i acc[4][4];
            switch (count) {
            case 4: i8_four_blocks_vnni(block, 16 * dim, groups, packed, groups, 4, acc); break;
            case 3: i8_four_blocks_vnni(block, 16 * dim, groups, packed, groups, 3, acc); break;
            case 2: i8_four_blocks_vnni(block, 16 * dim, groups, packed, groups, 2, acc); break;
            default: i8_four_blocks_vnni(block, 16 * dim, groups, packed, groups, 1, acc); break;
            }
            for (int k = 0; k < 4; k++) {
                size_t row = (first_block + b + k) * 16;
                __m512i offset = _mm512_slli_epi32(_mm512_loadu_si512((const void *)(sums + row)), 7);
                __m512 row_scales = _mm512_loadu_ps(scales + row);
                for (int q = 0; q < count; q++) {
                    __m512 dots = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[k][q], offset));
                    __m512 factor = _mm512_mul_ps(row_scales, _mm512_set1_ps(query_scales[q0 + q]));
                    _mm512_storeu_ps(out + (q0 + q) * out_stride + (b + k) * 16, _mm512_mul_ps(dots, factor));
                }
            }
        }
        for (; b < block_count; b++) {
            const int8_t *block = blocks + (first_block + b) * 16 * dim;
            __m512i acc[4];
            // Constant counts, so that each is compiled with its accumulators in registers.
            switch (count) {
            case 4: i8_block_vnni(block, groups, packed, groups, 4, acc); break;
            case 3: i8_block_vnni(block, groups, packed, groups, 3, acc); break;
            case 2: i8_block_vnni(block, groups, packed, groups, 2, acc); break;
            default: i8_block_vnni(block, groups, packed, groups, 1, acc); break;
            }
            size_t row = (first_block + b) * 16;
            __m512i offset = _mm512_slli_epi32(_mm512_loadu_si512((const void *)(sums + row)), 7);
            __m512 row_scales = _mm512_loadu_ps(scales + row);
            for (int q = 0; q < count; q++) {
                __m512 dots = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[q], offset));
                __m512 factor = _mm512_mul_ps(row_scales, _mm512_set1_ps(query_scales[q0 + q]));
                _mm512_storeu_ps(out + (q0 + q) * out_stride + b * 16, _mm512_mul_ps(dots, factor));
            }
        }
    }
    free(packed);
}

// AVX2 has no VNNI: |query| (unsigned) times the row's codes with the query's sign (signed) in 16-bit pairs, which
// cannot overflow with codes within ±127, then pairs of those summed into 32 bits.
#define AVX2_TARGET __attribute__((target("avx2,fma")))

AVX2_TARGET static void i8_scores_avx2(const int8_t *blocks, const float *scales, const int32_t *sums,
                                       size_t first_block, size_t block_count, size_t dim, const int8_t *queries,
                                       const float *query_scales, size_t query_count, float *out, size_t out_stride) {
    (void)sums;
    size_t groups = dim / 4;
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t b = 0; b < block_count; b++) {
        const int8_t *block = blocks + (first_block + b) * 16 * dim;
        size_t row = (first_block + b) * 16;
        __m256 scale_lo = _mm256_loadu_ps(scales + row), scale_hi = _mm256_loadu_ps(scales + row + 8);
        for (size_t q = 0; q < query_count; q++) {
            const int8_t *query = queries + q * dim;
            __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
            for (size_t g = 0; g < groups; g++) {
                int32_t four;
                memcpy(&four, query + g * 4, 4);
                __m256i codes = _mm256_set1_epi32(four);
                __m256i magnitude = _mm256_abs_epi8(codes);
                __m256i rows_lo = _mm256_loadu_si256((const __m256i *)(block + g * 64));
                __m256i rows_hi = _mm256_loadu_si256((const __m256i *)(block + g * 64 + 32));
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(rows_lo, codes)), ones));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(rows_hi, codes)), ones));
            }
            __m256 factor = _mm256_set1_ps(query_scales[q]);
            float *target = out + q * out_stride + b * 16;
            _mm256_storeu_ps(target, _mm256_mul_ps(_mm256_cvtepi32_ps(lo), _mm256_mul_ps(scale_lo, factor)));
            _mm256_storeu_ps(target + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(hi), _mm256_mul_ps(scale_hi, factor)));
        }
    }
}
#endif

// MARK: - fp16

static uint16_t half_from_float(float value) {
    uint32_t x;
    memcpy(&x, &value, 4);
    uint32_t sign = (x >> 16) & 0x8000, exponent = (x >> 23) & 0xff, mantissa = x & 0x7fffff;
    if (exponent == 0xff) return (uint16_t)(sign | 0x7c00 | (mantissa ? 0x200 : 0));
    int e = (int)exponent - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mantissa |= 0x800000;
        int shift = 14 - e;
        uint32_t half = mantissa >> shift, rest = mantissa & ((1u << shift) - 1), middle = 1u << (shift - 1);
        if (rest > middle || (rest == middle && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (mantissa >> 13), rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++;  // a carry into the exponent is right (up to infinity)
    return (uint16_t)(sign | half);
}

static float float_from_half(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff, x;
    if (exponent == 0) {
        if (mantissa == 0) {
            x = sign;
        } else {
            int shifts = 0;
            while (!(mantissa & 0x400)) {
                mantissa <<= 1;
                shifts++;
            }
            x = sign | ((uint32_t)(113 - shifts) << 23) | ((mantissa & 0x3ff) << 13);
        }
    } else if (exponent == 31) {
        x = sign | 0x7f800000 | (mantissa << 13);
    } else {
        x = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
    float value;
    memcpy(&value, &x, 4);
    return value;
}

typedef void (*f16_dot_fn)(const uint16_t *, size_t, size_t, const float *, float *);

static void f16_dot_portable(const uint16_t *rows, size_t count, size_t dim, const float *query, float *out) {
    for (size_t r = 0; r < count; r++) {
        const uint16_t *row = rows + r * dim;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        size_t j = 0;
        for (; j + 4 <= dim; j += 4) {
            s0 += float_from_half(row[j]) * query[j];
            s1 += float_from_half(row[j + 1]) * query[j + 1];
            s2 += float_from_half(row[j + 2]) * query[j + 2];
            s3 += float_from_half(row[j + 3]) * query[j + 3];
        }
        float sum = (s0 + s1) + (s2 + s3);
        for (; j < dim; j++) sum += float_from_half(row[j]) * query[j];
        out[r] = sum;
    }
}

#if defined(__x86_64__)
// Rows ahead to prefetch (4 was fastest of 4, 8, 16 and 32 here); a prefetch past the end is harmless (prefetches
// never fault).
#define F16_PREFETCH_ROWS 4

__attribute__((target("avx512f"))) static void f16_dot_avx512(const uint16_t *rows, size_t count, size_t dim,
                                                              const float *query, float *out) {
    for (size_t r = 0; r < count; r++) {
        const uint16_t *row = rows + r * dim;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        size_t j = 0;
        for (; j + 32 <= dim; j += 32) {
            // The per-row sum keeps few loads in flight; prefetching rows ahead reads at memory speed.
            _mm_prefetch((const char *)(row + F16_PREFETCH_ROWS * dim + j), _MM_HINT_T0);
            a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + j))), _mm512_loadu_ps(query + j), a0);
            a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + j + 16))), _mm512_loadu_ps(query + j + 16), a1);
        }
        for (; j + 16 <= dim; j += 16)
            a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + j))), _mm512_loadu_ps(query + j), a0);
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        for (; j < dim; j++) sum += float_from_half(row[j]) * query[j];
        out[r] = sum;
    }
}

__attribute__((target("avx2,fma,f16c"))) static void f16_dot_avx2(const uint16_t *rows, size_t count, size_t dim,
                                                                  const float *query, float *out) {
    for (size_t r = 0; r < count; r++) {
        const uint16_t *row = rows + r * dim;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        size_t j = 0;
        for (; j + 16 <= dim; j += 16) {
            if (j % 32 == 0) _mm_prefetch((const char *)(row + F16_PREFETCH_ROWS * dim + j), _MM_HINT_T0);
            a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j))), _mm256_loadu_ps(query + j), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j + 8))), _mm256_loadu_ps(query + j + 8), a1);
        }
        for (; j + 8 <= dim; j += 8)
            a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j))), _mm256_loadu_ps(query + j), a0);
        __m256 total = _mm256_add_ps(a0, a1);
        __m128 half = _mm_add_ps(_mm256_castps256_ps128(total), _mm256_extractf128_ps(total, 1));
        half = _mm_add_ps(half, _mm_movehl_ps(half, half));
        half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 1));
        float sum = _mm_cvtss_f32(half);
        for (; j < dim; j++) sum += float_from_half(row[j]) * query[j];
        out[r] = sum;
    }
}
#endif

void ragvec_f16_from_f32(const float *values, size_t count, uint16_t *out) {
    for (size_t i = 0; i < count; i++) out[i] = half_from_float(values[i]);
}

void ragvec_f16_to_f32(const uint16_t *values, size_t count, float *out) {
    for (size_t i = 0; i < count; i++) out[i] = float_from_half(values[i]);
}

// MARK: - Choice at run time

static i8_scores_fn chosen_i8 = i8_scores_portable;
static f16_dot_fn chosen_f16 = f16_dot_portable;
static const char *i8_name = "portable", *f16_name = "portable";
static int forced = 0;  // 0: the best for this CPU, 1: portable, 2: AVX2
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose_once(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni")) {
        chosen_i8 = i8_scores_vnni;
        i8_name = "avx512vnni";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        chosen_i8 = i8_scores_avx2;
        i8_name = "avx2";
    }
    if (__builtin_cpu_supports("avx512f")) {
        chosen_f16 = f16_dot_avx512;
        f16_name = "avx512f";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        chosen_f16 = f16_dot_avx2;
        f16_name = "avx2";
    }
#endif
}

void ragvec_compact_force(int level) {
    pthread_once(&chosen_once, choose_once);
    __atomic_store_n(&forced, level, __ATOMIC_SEQ_CST);
}

static i8_scores_fn i8_kernel(const char **name) {
    pthread_once(&chosen_once, choose_once);
    switch (__atomic_load_n(&forced, __ATOMIC_SEQ_CST)) {
    case 1: *name = "portable"; return i8_scores_portable;
#if defined(__x86_64__)
    case 2:
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) { *name = "avx2"; return i8_scores_avx2; }
        break;
#endif
    default: break;
    }
    *name = i8_name;
    return chosen_i8;
}

static f16_dot_fn f16_kernel(const char **name) {
    pthread_once(&chosen_once, choose_once);
    switch (__atomic_load_n(&forced, __ATOMIC_SEQ_CST)) {
    case 1: *name = "portable"; return f16_dot_portable;
#if defined(__x86_64__)
    case 2:
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
            *name = "avx2";
            return f16_dot_avx2;
        }
        break;
#endif
    default: break;
    }
    *name = f16_name;
    return chosen_f16;
}

void ragvec_i8_scores(const int8_t *blocks, const float *scales, const int32_t *sums, size_t first_block,
                      size_t block_count, size_t dim, const int8_t *queries, const float *query_scales,
                      size_t query_count, float *out, size_t out_stride) {
    const char *name;
    i8_kernel(&name)(blocks, scales, sums, first_block, block_count, dim, queries, query_scales, query_count, out, out_stride);
}

void ragvec_f16_dot_rows(const uint16_t *rows, size_t count, size_t dim, const float *query, float *out) {
    const char *name;
    f16_kernel(&name)(rows, count, dim, query, out);
}

const char *ragvec_i8_kernel_name(void) {
    const char *name;
    i8_kernel(&name);
    return name;
}

const char *ragvec_f16_kernel_name(void) {
    const char *name;
    f16_kernel(&name);
    return name;
}
