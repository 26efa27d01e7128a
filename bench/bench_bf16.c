/* bench_bf16.c: the bf16 GEMMs (oneDNN's matmul, src/kernels/gemm_dnnl.c, and
 * our AVX512-BF16 kernel, src/kernels/gemm_bf16.c) against OpenBLAS
 * cblas_sgemm on the linear-layer GEMMs of an all-MiniLM-L6-v2 training step
 * (batch 32 x length 128: N = 4096 token rows; hidden 384, QKV 1152,
 * intermediate 1536), with 1 and 2 threads; and the peaks.
 *
 *   bench_bf16 [reps]        (make bench-bf16; reps default 7)
 *
 * First the machine: the choice gemm_select.c makes (and its probe: the flops
 * of AVX512-BF16 dot products over those of fp32 FMAs on one core), and per
 * thread count the peaks: cblas_sgemm and each bf16 kernel on 2048^3 and on
 * 4096x4096x1024 (M x N x K), best of reps runs after a warm-up.
 * Then for each layer (in -> out features) the three GEMMs of linear.c:
 *   fwd  Y = X W^T       M = 4096, N = out, K = in   (A, B^T)
 *   dX   dX += dY W      M = 4096, N = in,  K = out  (A, B)
 *   dW   dW += dY^T X    M = out,  N = in,  K = 4096 (A^T, B)
 * Each is timed reps times per kernel after one warm-up run of each, the
 * kernels taking turns (in a rotating order) within the same process, so
 * that a change in the machine's load hits all alike; the table gives the
 * median GFLOP/s of each and their ratios to sgemm. "layer total" sums the
 * median times of all the GEMMs: the ratio a training step's linear layers
 * would see. Inputs are uniform in [-1, 1]. The ratios are the figures to
 * read on a busy machine; GFLOP/s only mean something on an idle one (the
 * header prints the load average). */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include "util/blas_core.h"
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

enum { SIDE_SGEMM, SIDE_OURS, SIDE_DNNL, NSIDES };
static const char *const side_name[NSIDES] = {"sgemm", "ours", "oneDNN"};

/* one run of one kernel; returns seconds */
static double run_once(const gemm_case *g, int side, const float *A, const float *B, float *C) {
    const int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
    double t0 = now();
    if (side == SIDE_OURS)
        gl_gemm_bf16_avx512(g->ta, g->tb, g->M, g->N, g->K, A, lda, B, ldb, C, g->N, g->accumulate);
    else if (side == SIDE_DNNL) {
        if (gl_gemm_bf16_dnnl(g->ta, g->tb, g->M, g->N, g->K, A, lda, B, ldb, C, g->N, g->accumulate) != 0) {
            fprintf(stderr, "bench_bf16: oneDNN refused M %d N %d K %d\n", g->M, g->N, g->K);
            exit(1);
        }
    } else
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, g->M, g->N,
                    g->K, 1.0f, A, lda, B, ldb, g->accumulate ? 1.0f : 0.0f, C, g->N);
    return now() - t0;
}

/* median seconds per kernel of reps rotating runs (after a warm-up of each) */
static void time_case(const gemm_case *g, const int *sides, int nsides, int reps, double *med) {
    float *A = rand_matrix((size_t)g->M * g->K, 1 + (uint64_t)g->M), *B = rand_matrix((size_t)g->K * g->N, 2),
          *C = rand_matrix((size_t)g->M * g->N, 3);
    double *t = malloc(sizeof(double) * (size_t)reps * NSIDES);
    if (!t) exit(1);
    for (int s = 0; s < nsides; s++) run_once(g, sides[s], A, B, C); /* warm-up (oneDNN: the primitive) */
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < nsides; i++) { /* the order rotates from rep to rep */
            const int s = (r + i) % nsides;
            t[(size_t)s * reps + r] = run_once(g, sides[s], A, B, C);
        }
    for (int s = 0; s < nsides; s++) med[s] = bench_median(t + (size_t)s * reps, reps);
    free(A), free(B), free(C), free(t);
}

/* best GFLOP/s of reps runs of one kernel on an M x N x K product (A, B) */
static double peak_of(int side, int M, int N, int K, int reps) {
    const gemm_case g = {"peak", "", 0, 0, M, N, K, 0};
    float *A = rand_matrix((size_t)M * K, 5), *B = rand_matrix((size_t)K * N, 6), *C = rand_matrix((size_t)M * N, 7);
    double best = 0.0;
    for (int r = 0; r <= reps; r++) {
        const double gf = 2.0 * M * N * (double)K / run_once(&g, side, A, B, C) / 1e9;
        if (r > 0 && gf > best) best = gf;
    }
    free(A), free(B), free(C);
    return best;
}

int main(int argc, char **argv) {
    gl_blas_core_fix(argv); /* the OpenBLAS kernels gloss itself runs with */
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
    if (!gl_cpu_has_avx512bf16()) {
        printf("bench_bf16: this CPU has no AVX512-BF16: no bf16 kernel to time (gloss uses fp32 sgemm)\n");
        return 0;
    }
    int sides[NSIDES], nsides = 0;
    sides[nsides++] = SIDE_SGEMM;
    sides[nsides++] = SIDE_OURS;
    if (gl_dnnl_available()) sides[nsides++] = SIDE_DNNL;
    char choice[384];
    gl_linear_kernels(1, choice, sizeof choice);
    printf("CPU: %s; AMX-BF16 %s\nOpenBLAS: %s\nbf16 kernels: ours (AVX512-BF16)%s%s\n"
           "gloss --bf16 here: %s\nMiniLM linear layers, %d token rows; median of %d rotating runs; load average "
           "%.2f\n",
           bench_cpu_name(), gl_cpu_has_amx_bf16() ? "yes" : "no", openblas_get_config(),
           gl_dnnl_available() ? ", " : "; oneDNN: ", gl_dnnl_isa(), choice, rows, reps, load[0]);
    const int max_threads = omp_get_max_threads();
    for (int threads = 1; threads <= 2; threads++) {
        if (threads > 1 && max_threads < 2 && omp_get_num_procs() < 2) break;
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
        printf("\nthreads %d: peak GFLOP/s (best of %d) 2048^3 / 4096x4096x1024:", threads, reps);
        for (int s = 0; s < nsides; s++) {
            double a = peak_of(sides[s], 2048, 2048, 2048, reps), b = peak_of(sides[s], 4096, 4096, 1024, reps);
            printf(" %s %.1f / %.1f%s", side_name[sides[s]], a, b, s + 1 < nsides ? ";" : "\n");
        }
        printf("%-9s %-4s %5s %5s %5s", "layer", "op", "M", "N", "K");
        for (int s = 0; s < nsides; s++) printf(" %9s GF/s", side_name[sides[s]]);
        for (int s = 1; s < nsides; s++) printf(" %8s/sgemm", side_name[sides[s]]);
        printf("\n");
        double tot[NSIDES] = {0}, tot_flop = 0;
        for (int c = 0; c < nc; c++) {
            const gemm_case *g = &cases[c];
            double med[NSIDES];
            time_case(g, sides, nsides, reps, med);
            const double flop = 2.0 * g->M * (double)g->N * g->K;
            printf("%-9s %-4s %5d %5d %5d", g->layer, g->op, g->M, g->N, g->K);
            for (int s = 0; s < nsides; s++) printf(" %14.1f", flop / med[s] / 1e9);
            for (int s = 1; s < nsides; s++) printf(" %14.2f", med[0] / med[s]);
            printf("\n");
            fflush(stdout);
            for (int s = 0; s < nsides; s++) tot[s] += med[s];
            tot_flop += flop;
        }
        printf("%-9s %-4s %5s %5s %5s", "layer", "total", "", "", "");
        for (int s = 0; s < nsides; s++) printf(" %14.1f", tot_flop / tot[s] / 1e9);
        for (int s = 1; s < nsides; s++) printf(" %14.2f", tot[0] / tot[s]);
        printf("\n");
    }
    return 0;
}
