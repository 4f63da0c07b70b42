/*
 * Memory read-bandwidth probe for the search target's bandwidth limit.
 *
 *   bandwidth [--bytes N] [--runs R] [--threads T]
 *
 * Allocates N bytes (default 1,536,000,000 = 1M x 384 x 4, the size of the
 * vector matrix; far above the 32 MiB L3), writes every byte once (untimed),
 * then times R passes that read the whole buffer and sum it as 64-bit
 * integers (8 independent 256-bit accumulators, so the loop is load-bound,
 * not add-latency-bound). With T threads the buffer is cut into T contiguous
 * slices and each thread reads its own; a pass is timed from a barrier to the
 * last thread's finish. Prints one JSON object with the median GB/s (1e9
 * bytes/s) over the passes and the implied time to scan N bytes once.
 *
 * Built by Benchmarks/scripts/run.sh with: gcc -O2 -march=native -pthread
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef uint64_t v4u64 __attribute__((vector_size(32)));

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const v4u64 *base;
    size_t nvec; /* number of 32-byte vectors, multiple of 8 */
    uint64_t sum;
    pthread_barrier_t *start;
    double end;
} job_t;

static uint64_t sum_slice(const v4u64 *p, size_t n) {
    v4u64 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
    for (size_t i = 0; i < n; i += 8) {
        a0 += p[i + 0]; a1 += p[i + 1]; a2 += p[i + 2]; a3 += p[i + 3];
        a4 += p[i + 4]; a5 += p[i + 5]; a6 += p[i + 6]; a7 += p[i + 7];
    }
    v4u64 s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    return s[0] + s[1] + s[2] + s[3];
}

static void *worker(void *arg) {
    job_t *j = arg;
    pthread_barrier_wait(j->start);
    j->sum = sum_slice(j->base, j->nvec);
    j->end = now();
    return NULL;
}

int main(int argc, char **argv) {
    size_t bytes = 1536000000ull; /* 1,000,000 x 384 x 4 */
    int runs = 11, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bytes") && i + 1 < argc) bytes = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else { fprintf(stderr, "usage: %s [--bytes N] [--runs R] [--threads T]\n", argv[0]); return 2; }
    }
    if (threads < 1 || threads > 64 || runs < 1 || runs > 1000) return 2;
    size_t unit = 32 * 8 * (size_t)threads;
    size_t used = bytes / unit * unit;
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, used)) { perror("posix_memalign"); return 1; }
    memset(buf, 1, used); /* fault every page in, untimed */

    double *gbs = calloc(runs, sizeof *gbs);
    uint64_t check = 0;
    size_t per = used / 32 / threads;
    for (int r = 0; r < runs; r++) {
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, threads + 1);
        pthread_t tid[64];
        job_t jobs[64];
        for (int t = 0; t < threads; t++) {
            jobs[t] = (job_t){(const v4u64 *)buf + per * t, per, 0, &start, 0};
            pthread_create(&tid[t], NULL, worker, &jobs[t]);
        }
        double t0 = now();
        pthread_barrier_wait(&start);
        double t1 = t0;
        for (int t = 0; t < threads; t++) {
            pthread_join(tid[t], NULL);
            check += jobs[t].sum;
            if (jobs[t].end > t1) t1 = jobs[t].end;
        }
        pthread_barrier_destroy(&start);
        gbs[r] = used / (t1 - t0) / 1e9;
    }
    double *sorted = malloc(runs * sizeof *sorted);
    memcpy(sorted, gbs, runs * sizeof *sorted);
    qsort(sorted, runs, sizeof *sorted, cmp_double);
    double med = runs % 2 ? sorted[runs / 2] : 0.5 * (sorted[runs / 2 - 1] + sorted[runs / 2]);
    printf("{\"bench\": \"bandwidth\", \"threads\": %d, \"bytes\": %zu, \"runs\": %d, \"gbs\": [", threads, used, runs);
    for (int r = 0; r < runs; r++) printf("%s%.3f", r ? ", " : "", gbs[r]);
    printf("], \"median_gbs\": %.3f, \"max_gbs\": %.3f, \"min_gbs\": %.3f, "
           "\"scan_1m_384_f32_s\": %.6f, \"checksum\": %llu}\n",
           med, sorted[runs - 1], sorted[0], 1536000000.0 / (med * 1e9), (unsigned long long)check);
    free(sorted); free(gbs); free(buf);
    return 0;
}
