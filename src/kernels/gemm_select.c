/* gemm_select.c: which kernel runs a matrix product asked for in bf16.
 *
 * Two questions, each answered once per process from the CPU:
 *
 * 1. The bf16 kernel (gl_gemm_bf16): oneDNN's matmul (gemm_dnnl.c) where
 *    oneDNN dispatches to AMX-BF16; else, on AVX512-BF16, our kernel
 *    (gemm_bf16.c); else the scalar reference. Why not oneDNN everywhere: on
 *    AVX512-BF16 without AMX it was no faster than ours on the MiniLM GEMM
 *    shapes (bench_bf16, Intel Xeon family 6 model 207 with AMX hidden by the
 *    VM, two runs: 0.53-0.56x sgemm against ours' 0.56-0.57x at 1 thread,
 *    0.50-0.53x against 0.60-0.63x at 2; docs/bf16.md), it needs a separate
 *    pass rounding its inputs, and ours gives the same bits for any thread
 *    count. AMX tiles are oneDNN's alone.
 *
 * 2. Whether the linear layers use bf16 at all (gl_linear_bf16_active): bf16
 *    must never make a step slower than fp32. With AMX (oneDNN dispatching to
 *    it), yes. With AVX512-BF16 only, it depends on the core: a vdpbf16ps does
 *    twice the flops of an fp32 FMA, but some cores issue it at a quarter of
 *    the FMA's rate (the Xeon above: 0.50x the FMA's flops; bf16 GEMMs at
 *    0.5-0.6x OpenBLAS's sgemm, in oneDNN and in ours alike), others at the
 *    FMA's rate (AMD Zen 4: our bf16 GEMMs at 1.9x sgemm). So a probe times
 *    both instructions on one core (about 2 ms, best of 5 alternating runs,
 *    24 independent accumulators each): bf16 is used when its dot products
 *    deliver at least GL_BF16_MIN_GAIN times the FMA's flops, else the layers
 *    stay on OpenBLAS sgemm and gl_linear_kernels() says why. The two known
 *    cases are 4x apart, far from the threshold, so load on the machine does
 *    not flip the choice.
 *
 * gl_gemm_select_force() overrides both, for benchmarks and tests. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

#include "kernels/kernels.h"
#include "util/blas_core.h"

#if defined(__x86_64__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 10))
#define GL_PROBE_CODE 1
#include <immintrin.h>
#else
#define GL_PROBE_CODE 0
#endif

/* the bf16 dot product's flops over the FMA's at which bf16 pays: the bf16
 * GEMM also rounds its inputs (about 10% of its time) */
#define GL_BF16_MIN_GAIN 1.3

static pthread_once_t once = PTHREAD_ONCE_INIT;
static gl_gemm_kernel auto_kernel;
static int auto_active;
static double probe_ratio = -1.0;
static char why[256];
static atomic_int forced_kernel = -1, forced_active = -1;

#if GL_PROBE_CODE
static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define PROBE_ACC 24
/* n rounds of PROBE_ACC independent vdpbf16ps; returns seconds */
__attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl"), noinline)) static double time_dpbf16(long n, float *sink) {
    __m512 acc[PROBE_ACC];
    for (int i = 0; i < PROBE_ACC; i++) acc[i] = _mm512_set1_ps((float)i);
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x00010001);
    double t0 = seconds();
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 24
        for (int i = 0; i < PROBE_ACC; i++) acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
        __asm__ volatile("" : "+v"(x)); /* keep the loop */
    }
    double t = seconds() - t0;
    __m512 s = acc[0];
    for (int i = 1; i < PROBE_ACC; i++) s = _mm512_add_ps(s, acc[i]);
    *sink += _mm512_reduce_add_ps(s);
    return t;
}

__attribute__((target("avx512f,fma"), noinline)) static double time_fma(long n, float *sink) {
    __m512 acc[PROBE_ACC];
    for (int i = 0; i < PROBE_ACC; i++) acc[i] = _mm512_set1_ps((float)i);
    __m512 x = _mm512_set1_ps(1.0f), y = _mm512_set1_ps(1e-9f);
    double t0 = seconds();
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 24
        for (int i = 0; i < PROBE_ACC; i++) acc[i] = _mm512_fmadd_ps(x, y, acc[i]);
        __asm__ volatile("" : "+v"(x));
    }
    double t = seconds() - t0;
    __m512 s = acc[0];
    for (int i = 1; i < PROBE_ACC; i++) s = _mm512_add_ps(s, acc[i]);
    *sink += _mm512_reduce_add_ps(s);
    return t;
}

/* flops per second of vdpbf16ps (64 a zmm) over those of vfmadd231ps (32) */
static double probe_dot_vs_fma(void) {
    const long n = 4000;
    double best_dp = 1e30, best_fma = 1e30;
    float sink = 0.0f;
    for (int r = 0; r < 5; r++) {
        double a = time_dpbf16(n, &sink), b = time_fma(n, &sink);
        if (a < best_dp) best_dp = a;
        if (b < best_fma) best_fma = b;
    }
    volatile float keep = sink;
    (void)keep;
    return best_dp > 0 ? (64.0 / best_dp) / (32.0 / best_fma) : 0.0;
}
#endif

static void select_once(void) {
    if (!gl_cpu_has_avx512bf16()) {
        auto_kernel = GL_GEMM_BF16_SCALAR;
        auto_active = 0;
        snprintf(why, sizeof why, "this CPU has no AVX512-BF16");
        return;
    }
    if (gl_dnnl_uses_amx()) {
        auto_kernel = GL_GEMM_BF16_DNNL;
        auto_active = 1;
        snprintf(why, sizeof why, "AMX-BF16");
        return;
    }
    auto_kernel = GL_GEMM_BF16_AVX512;
#if GL_PROBE_CODE
    probe_ratio = probe_dot_vs_fma();
#endif
    auto_active = probe_ratio >= GL_BF16_MIN_GAIN;
    snprintf(why, sizeof why, "%s; this CPU's AVX512-BF16 dot products do %.2fx the flops of its fp32 FMAs%s",
             gl_cpu_has_amx_bf16() ? (gl_dnnl_available() ? "AMX not usable" : "AMX needs oneDNN, not built in")
                                   : "no AMX",
             probe_ratio, auto_active ? "" : ", too few to beat fp32");
}

gl_gemm_kernel gl_gemm_bf16_kernel(void) {
    int f = atomic_load(&forced_kernel);
    if (f >= 0) return (gl_gemm_kernel)f;
    pthread_once(&once, select_once);
    return auto_kernel;
}

int gl_linear_bf16_active(void) {
    int f = atomic_load(&forced_active);
    if (f >= 0) return f;
    pthread_once(&once, select_once);
    return auto_active;
}

double gl_bf16_probe_ratio(void) {
    pthread_once(&once, select_once);
    return probe_ratio;
}

void gl_gemm_select_force(int kernel, int active) {
    atomic_store(&forced_kernel, kernel);
    atomic_store(&forced_active, active);
}

const char *gl_gemm_kernel_name(gl_gemm_kernel k) {
    switch (k) {
    case GL_GEMM_BF16_DNNL: return gl_dnnl_isa();
    case GL_GEMM_BF16_AVX512: return "gloss AVX512-BF16 kernel";
    default: return "gloss scalar bf16 kernel";
    }
}

int gl_linear_kernels(int bf16, char *buf, size_t cap) {
    pthread_once(&once, select_once);
    char fp32[96];
    snprintf(fp32, sizeof fp32, "fp32 OpenBLAS sgemm (%s)", gl_blas_corename());
    if (!bf16) return snprintf(buf, cap, "%s", fp32);
    if (!gl_cpu_has_avx512bf16() || !gl_linear_bf16_active())
        return snprintf(buf, cap, "%s; bf16 not used: %s", fp32, why);
    const int forced = atomic_load(&forced_kernel) >= 0 || atomic_load(&forced_active) >= 0;
    return snprintf(buf, cap, "bf16 inputs, fp32 sums: %s (%s)", gl_gemm_kernel_name(gl_gemm_bf16_kernel()),
                    forced ? "forced" : why);
}

void gl_gemm_bf16(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float *C, int ldc, int accumulate) {
    switch (gl_gemm_bf16_kernel()) {
    case GL_GEMM_BF16_DNNL:
        if (gl_gemm_bf16_dnnl(transa, transb, M, N, K, A, lda, B, ldb, C, ldc, accumulate) == 0) return;
        /* oneDNN could not make this primitive: ours, same contract */
        /* fall through */
    case GL_GEMM_BF16_AVX512:
        if (gl_cpu_has_avx512bf16()) {
            gl_gemm_bf16_avx512(transa, transb, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
            return;
        }
        /* fall through */
    default: gl_gemm_bf16_scalar(transa, transb, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
    }
}
