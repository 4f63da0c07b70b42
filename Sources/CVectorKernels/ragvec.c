#include "ragvec.h"

#include <pthread.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static void dot_rows_avx512(const float *matrix, size_t rows, size_t dim,
                                                               const float *query, float *out) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = matrix + r * dim;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        size_t j = 0;
        for (; j + 64 <= dim; j += 64) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(row + j), _mm512_loadu_ps(query + j), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(row + j + 16), _mm512_loadu_ps(query + j + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(row + j + 32), _mm512_loadu_ps(query + j + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(row + j + 48), _mm512_loadu_ps(query + j + 48), a3);
        }
        for (; j + 16 <= dim; j += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(row + j), _mm512_loadu_ps(query + j), a0);
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
        for (; j < dim; j++) sum += row[j] * query[j];
        out[r] = sum;
    }
}

__attribute__((target("avx2,fma"))) static void dot_rows_avx2(const float *matrix, size_t rows, size_t dim,
                                                              const float *query, float *out) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = matrix + r * dim;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        size_t j = 0;
        for (; j + 32 <= dim; j += 32) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(query + j), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + j + 8), _mm256_loadu_ps(query + j + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(row + j + 16), _mm256_loadu_ps(query + j + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(row + j + 24), _mm256_loadu_ps(query + j + 24), a3);
        }
        for (; j + 8 <= dim; j += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(query + j), a0);
        __m256 total = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
        __m128 half = _mm_add_ps(_mm256_castps256_ps128(total), _mm256_extractf128_ps(total, 1));
        half = _mm_add_ps(half, _mm_movehl_ps(half, half));
        half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 1));
        float sum = _mm_cvtss_f32(half);
        for (; j < dim; j++) sum += row[j] * query[j];
        out[r] = sum;
    }
}
#endif

static void dot_rows_portable(const float *matrix, size_t rows, size_t dim, const float *query, float *out) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = matrix + r * dim;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        size_t j = 0;
        for (; j + 4 <= dim; j += 4) {
            s0 += row[j] * query[j];
            s1 += row[j + 1] * query[j + 1];
            s2 += row[j + 2] * query[j + 2];
            s3 += row[j + 3] * query[j + 3];
        }
        float sum = (s0 + s1) + (s2 + s3);
        for (; j < dim; j++) sum += row[j] * query[j];
        out[r] = sum;
    }
}

typedef void (*dot_rows_fn)(const float *, size_t, size_t, const float *, float *);

static dot_rows_fn choose(const char **name) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        *name = "avx512f";
        return dot_rows_avx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *name = "avx2";
        return dot_rows_avx2;
    }
#endif
    *name = "portable";
    return dot_rows_portable;
}

static dot_rows_fn chosen = dot_rows_portable;
static const char *chosen_name = "portable";
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose_once(void) { chosen = choose(&chosen_name); }

static dot_rows_fn kernel(void) {
    pthread_once(&chosen_once, choose_once);
    return chosen;
}

void ragvec_dot_rows(const float *matrix, size_t rows, size_t dim, const float *query, float *out) {
    kernel()(matrix, rows, dim, query, out);
}

int ragvec_cpu_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512cd");
    if (avx512 && __builtin_cpu_supports("avx512bf16")) return 3;
    if (avx512) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

const char *ragvec_kernel_name(void) {
    kernel();
    return chosen_name;
}
