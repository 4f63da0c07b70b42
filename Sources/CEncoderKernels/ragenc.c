#include "ragenc.h"

#include <pthread.h>

#include "variants.h"

#define KERNELS(prefix, label) {label, prefix##_bias_gelu, prefix##_bias_layer_norm, prefix##_attention}

/// Every variant, best first; `supported` skips those this CPU lacks.
static const ragenc_kernels all[] = {
#if defined(__x86_64__)
    KERNELS(ragenc_avx512, "avx512f"),
    KERNELS(ragenc_avx2, "avx2"),
#endif
    KERNELS(ragenc_portable, "portable"),
};
static const size_t all_count = sizeof all / sizeof all[0];

static size_t first_supported;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    first_supported = all_count - 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) first_supported = 0;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) first_supported = 1;
#endif
}

static const ragenc_kernels *kernels(void) {
    pthread_once(&chosen_once, choose);
    return &all[first_supported];
}

void ragenc_bias_gelu(float *values, size_t rows, size_t columns, const float *bias) {
    kernels()->bias_gelu(values, rows, columns, bias);
}

void ragenc_bias_layer_norm(const float *input, size_t rows, size_t columns, const float *bias, const float *gamma,
                            const float *beta, float epsilon, float *output) {
    kernels()->bias_layer_norm(input, rows, columns, bias, gamma, beta, epsilon, output);
}

// Room for blocks of up to 16 query rows (the variants use 4 to 12) by the keys rounded up to whole vectors.
size_t ragenc_attention_scratch_floats(size_t length) { return 16 * ((length + 15) / 16 * 16); }

// Vectors of keys are at most 16 floats, so a read runs at most 15 columns past the last key.
size_t ragenc_attention_key_padding(void) { return 16; }

void ragenc_attention(const float *q, size_t q_stride, const float *q_bias, const float *kt, size_t kt_stride,
                      const float *v, size_t v_stride, const float *v_bias, float *out, size_t out_stride,
                      size_t length, size_t head_size, float scale, float *scratch) {
    kernels()->attention(q, q_stride, q_bias, kt, kt_stride, v, v_stride, v_bias, out, out_stride, length, head_size,
                         scale, scratch);
}

const char *ragenc_kernel_name(void) { return kernels()->name; }

const ragenc_kernels *ragenc_variants(size_t *count) {
    const ragenc_kernels *first = kernels();
    *count = all_count - first_supported;
    return first;
}
