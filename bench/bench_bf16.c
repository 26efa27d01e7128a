/* bench_bf16.c: the bf16 GEMM (src/kernels/gemm_bf16.c) against OpenBLAS
 * cblas_sgemm on the linear-layer GEMMs of an all-MiniLM-L6-v2 training step
 * (batch 32 x length 128: N = 4096 token rows; hidden 384, QKV 1152,
 * intermediate 1536), with 1 and 2 threads.
 *
 *   bench_bf16 [reps]        (make bench-bf16; reps default 7)
 *
 * For each layer (in -> out features) the three GEMMs of linear.c:
 *   fwd  Y = X W^T       M = 4096, N = out, K = in   (A, B^T)
 *   dX   dX += dY W      M = 4096, N = in,  K = out  (A, B)
 *   dW   dW += dY^T X    M = out,  N = in,  K = 4096 (A^T, B)
 * Each is timed reps times per side after one warm-up run of each, sgemm and
 * bf16 alternating within the same process, so that a change in the machine's
 * load hits both sides alike; the table gives the median GFLOP/s of each side
 * and their ratio. "layer total" sums the median times of all the GEMMs: the
 * ratio a training step's linear layers would see. Inputs are uniform in
 * [-1, 1]. The ratio is the figure to read on a busy machine; GFLOP/s only
 * mean something on an idle one (the header prints the load average). */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include "util/rng.h"
#include "bench_common.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *rand_matrix(size_t n, uint64_t seed) {
    float *x = malloc(sizeof(float) * n);
    if (!x) {
        fprintf(stderr, "bench_bf16: out of memory\n");
        exit(1);
    }
    gl_rng r = {seed};
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * (float)(gl_rng_next(&r) >> 40) / 16777216.0f - 1.0f;
    return x;
}

typedef struct {
    const char *layer, *op;
    int ta, tb, M, N, K, accumulate;
} gemm_case;

/* one run of one side; returns seconds */
static double run_once(const gemm_case *g, int bf16, const float *A, const float *B, float *C) {
    const int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
    double t0 = now();
    if (bf16)
        gl_gemm_bf16(g->ta, g->tb, g->M, g->N, g->K, A, lda, B, ldb, C, g->N, g->accumulate);
    else
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, g->M, g->N,
                    g->K, 1.0f, A, lda, B, ldb, g->accumulate ? 1.0f : 0.0f, C, g->N);
    return now() - t0;
}

int main(int argc, char **argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1) {
        fprintf(stderr, "usage: bench_bf16 [reps >= 1]\n");
        return 2;
    }
    const int rows = 32 * 128;
    static const struct {
        const char *name;
        int in, out;
    } layers[] = {{"qkv", 384, 1152}, {"attn_out", 384, 384}, {"ffn_in", 384, 1536}, {"ffn_out", 1536, 384}};
    gemm_case cases[12];
    int nc = 0;
    for (int l = 0; l < 4; l++) {
        const int in = layers[l].in, out = layers[l].out;
        cases[nc++] = (gemm_case){layers[l].name, "fwd", 0, 1, rows, out, in, 0};
        cases[nc++] = (gemm_case){layers[l].name, "dX", 0, 0, rows, in, out, 1};
        cases[nc++] = (gemm_case){layers[l].name, "dW", 1, 0, out, in, rows, 1};
    }
    double load[3] = {0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
        fclose(f);
    }
    const int has = gl_cpu_has_avx512bf16();
    printf("bf16 GEMM (%s path) vs OpenBLAS cblas_sgemm (%s); MiniLM linear layers, %d token rows; "
           "median of %d alternating runs; load average %.2f\n",
           has ? "AVX512-BF16" : "scalar: this CPU has no AVX512-BF16", openblas_get_config(), rows, reps, load[0]);
    const int max_threads = omp_get_max_threads();
    for (int threads = 1; threads <= 2; threads++) {
        if (threads > 1 && max_threads < 2 && omp_get_num_procs() < 2) break;
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
        printf("\nthreads %d\n%-9s %-4s %5s %5s %5s %12s %12s %7s\n", threads, "layer", "op", "M", "N", "K",
               "sgemm GF/s", "bf16 GF/s", "ratio");
        double tot_s = 0, tot_b = 0, tot_flop = 0;
        for (int c = 0; c < nc; c++) {
            const gemm_case *g = &cases[c];
            float *A = rand_matrix((size_t)g->M * g->K, 1 + (uint64_t)c), *B = rand_matrix((size_t)g->K * g->N, 2),
                  *C = rand_matrix((size_t)g->M * g->N, 3);
            double *ts = malloc(sizeof(double) * (size_t)reps * 2), *tb = ts + reps;
            run_once(g, 0, A, B, C); /* warm-up */
            run_once(g, 1, A, B, C);
            for (int r = 0; r < reps; r++) { /* alternate, starting side alternating too */
                int first = r & 1;
                double t1 = run_once(g, first, A, B, C);
                double t2 = run_once(g, !first, A, B, C);
                ts[r] = first ? t2 : t1;
                tb[r] = first ? t1 : t2;
            }
            const double flop = 2.0 * g->M * (double)g->N * g->K, ms = bench_median(ts, reps), mb = bench_median(tb, reps);
            printf("%-9s %-4s %5d %5d %5d %12.1f %12.1f %7.2f\n", g->layer, g->op, g->M, g->N, g->K, flop / ms / 1e9,
                   flop / mb / 1e9, ms / mb);
            fflush(stdout);
            tot_s += ms, tot_b += mb, tot_flop += flop;
            free(A), free(B), free(C), free(ts);
        }
        printf("%-9s %-4s %5s %5s %5s %12.1f %12.1f %7.2f\n", "layer", "total", "", "", "", tot_flop / tot_s / 1e9,
               tot_flop / tot_b / 1e9, tot_s / tot_b);
    }
    return 0;
}
