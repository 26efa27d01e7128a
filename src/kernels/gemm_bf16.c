/* gemm_bf16.c: C[M,N] (+)= op(A)[M,K] . op(B)[K,N] with the inputs rounded to
 * bf16 and the products summed in fp32, for mixed-precision training (fp32
 * master weights; only the matmul inputs are rounded).
 *
 * Hand-written because the BLAS gloss links (Debian's OpenBLAS 0.3.21) has no
 * bf16 GEMM (no sbgemm). Where the build has oneDNN, gemm_dnnl.c runs the
 * bf16 products instead (gemm_select.c says why); this kernel serves builds
 * without it.
 *
 * Two paths with the same arithmetic:
 *   gl_gemm_bf16_avx512  AVX512-BF16 (vcvtne2ps2bf16 while packing, vdpbf16ps in
 *                     the micro-kernel); only on CPUs where gl_cpu_has_avx512bf16().
 *   gl_gemm_bf16_scalar  plain C, for testing and for CPUs without AVX512-BF16.
 * Rounding is to nearest even, with the instruction's conventions: fp32
 * subnormals become (signed) zero, NaN stays NaN (quiet). The fp32 sum of
 * element (i, j) starts from C (accumulate) or +0 and adds, for k = 0, 2, 4, ...,
 * a[k+1] b[k+1] then a[k] b[k] (the order of vdpbf16ps as Intel documents it;
 * a product of two bf16 values is exact in fp32, so each step rounds once),
 * the missing element of an odd K counting as 0. Every element is summed by
 * one thread in that fixed order: results do not depend on the thread count
 * or the schedule. Whether the AVX512 path matches the scalar one bit for bit
 * depends on how the CPU implements vdpbf16ps; both are within the fp32
 * summation bound of the exact product of the rounded inputs (test_kernels).
 *
 * The AVX512 path is a GotoBLAS-style blocked GEMM: op(B) is converted and
 * packed once per call into NR-column micro-panels ([k pair][NR] 32-bit words,
 * each word a (k, k+1) pair of bf16), one block of KC k-values after another;
 * the output is cut into tiles (at most MC rows) that the OpenMP threads
 * share; for each KC block a thread packs the tile's rows of op(A) into its
 * own buffer and runs the MR x NR micro-kernel over the tile (MR x NR/16 zmm
 * accumulators, one vdpbf16ps per accumulator per k pair: 64 flops). */
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 10))
#define GL_BF16_CODE 1
#include <immintrin.h>
#else
#define GL_BF16_CODE 0
#endif

/* ------------------------------------------------------------ rounding */

/* fp32 -> bf16 bits, round to nearest even, subnormals to signed zero, NaN
 * quiet: what vcvtne2ps2bf16 does (Intel SDM, convert_fp32_to_bfloat16). */
static uint16_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);        /* zero, subnormal */
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);                  /* inf stays inf */
}

float gl_bf16_round(float x) {
    uint32_t u = (uint32_t)bf16_bits(x) << 16;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

int gl_cpu_has_avx512bf16(void) {
#if GL_BF16_CODE
    static int has = -1;
    if (has < 0) {
        __builtin_cpu_init();
        has = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512vl");
    }
    return has;
#else
    return 0;
#endif
}

/* --------------------------------------------------------- scalar path */

void gl_gemm_bf16_scalar(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc, int accumulate) {
    if (M <= 0 || N <= 0) return;
    const int K2 = (K + 1) / 2 * 2; /* odd K: one zero pair element */
    float *a = malloc(sizeof(float) * ((size_t)M * K2 + (size_t)K2 * N + 1));
    if (!a) abort();
    float *b = a + (size_t)M * K2; /* op(A) [M][K2] and op(B) [K2][N], rounded */
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K2; k++)
            a[(size_t)i * K2 + k] =
                k < K ? gl_bf16_round(transa ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) : 0.0f;
    for (int k = 0; k < K2; k++)
        for (int j = 0; j < N; j++)
            b[(size_t)k * N + j] = k < K ? gl_bf16_round(transb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]) : 0.0f;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        const float *ai = a + (size_t)i * K2;
        if (!accumulate)
            for (int j = 0; j < N; j++) c[j] = 0.0f;
        for (int k = 0; k < K2; k += 2) {
            const float a1 = ai[k + 1], a0 = ai[k];
            const float *b1 = b + (size_t)(k + 1) * N, *b0 = b + (size_t)k * N;
            for (int j = 0; j < N; j++) {
                float s = c[j] + a1 * b1[j]; /* exact products: one rounding per add */
                c[j] = s + a0 * b0[j];
            }
        }
    }
    free(a);
}

/* ---------------------------------------------------------- AVX512 path */

#if GL_BF16_CODE

/* Blocking, for Zen 4 (32 KiB L1D, 1 MiB L2 a core): 24 independent zmm
 * accumulators; a B micro-panel (KCP x NR words, 24 KiB) stays in L1 across
 * the tile's rows, the tile's A block (at most 192 x 192 words) in L2. The
 * micro-tiles 6 x 64, 8 x 48, 14 x 32 and KC 256 or 512 measured no better
 * (bench_bf16). */
#define MR 12             /* micro-tile rows */
#define NR 32             /* micro-tile columns: NR / 16 zmm of fp32 */
#define KC 384            /* k values per block (multiple of 32) */
#define KCP (KC / 2)      /* k pairs per block: the row stride of a packed A row panel */
#define APANEL (16 * KCP) /* words per packed A panel (MR <= 16 rows) */
#define MC 192            /* tile rows at most (multiple of MR) */
#define NC_MAX 1536       /* widest tile (multiple of NR) */
_Static_assert(MR <= 16 && NR % 16 == 0 && KC % 32 == 0 && MC % MR == 0 && NC_MAX % NR == 0, "blocking");

#define BF16_TARGET __attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl")))

/* 32 floats (n of them valid, the rest read as 0) -> 16 words of bf16 pairs */
BF16_TARGET static inline __m512i cvt_pairs(const float *p, int n) {
    __mmask16 m0 = n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
    int n1 = n - 16;
    __mmask16 m1 = n1 >= 16 ? 0xffff : n1 <= 0 ? 0 : (__mmask16)((1u << n1) - 1);
    __m512 lo = _mm512_maskz_loadu_ps(m0, p), hi = _mm512_maskz_loadu_ps(m1, p + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo); /* bf16 0..15 from lo, 16..31 from hi */
}

/* rows r0 and r1 (16 floats each, n valid; r1 may be NULL: zeros) -> 16 words
 * (r0[j], r1[j]) */
BF16_TARGET static inline __m512i cvt_interleave(const float *r0, const float *r1, int n) {
    __m512 x0, x1;
    if (n >= 16) {
        x0 = _mm512_loadu_ps(r0);
        x1 = r1 ? _mm512_loadu_ps(r1) : _mm512_setzero_ps();
    } else {
        __mmask16 m = n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
        x0 = _mm512_maskz_loadu_ps(m, r0);
        x1 = r1 ? _mm512_maskz_loadu_ps(m, r1) : _mm512_setzero_ps();
    }
    __m512i w = (__m512i)_mm512_cvtne2ps_pbh(x1, x0); /* bf16 0..15 = r0, 16..31 = r1 */
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(idx, w);
}

/* in-register transpose of 16 x 16 32-bit words */
BF16_TARGET static inline void transpose16(__m512i r[16]) {
    __m512i a[16], b[16];
    for (int i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) { /* b[4g + c], 128-bit lane L: rows 4g..4g+3 at column 4L + c */
        b[4 * g + 0] = _mm512_unpacklo_epi64(a[4 * g], a[4 * g + 2]);
        b[4 * g + 1] = _mm512_unpackhi_epi64(a[4 * g], a[4 * g + 2]);
        b[4 * g + 2] = _mm512_unpacklo_epi64(a[4 * g + 1], a[4 * g + 3]);
        b[4 * g + 3] = _mm512_unpackhi_epi64(a[4 * g + 1], a[4 * g + 3]);
    }
    for (int c = 0; c < 4; c++) { /* 4 x 4 transpose of 128-bit lanes */
        __m512i s0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x44), s1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xee);
        __m512i s2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x44),
                s3 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xee);
        r[c] = _mm512_shuffle_i32x4(s0, s2, 0x88);
        r[4 + c] = _mm512_shuffle_i32x4(s0, s2, 0xdd);
        r[8 + c] = _mm512_shuffle_i32x4(s1, s3, 0x88);
        r[12 + c] = _mm512_shuffle_i32x4(s1, s3, 0xdd);
    }
}

/* Packed op(B), one block of k values k0..k0+kb-1 (kcp = ceil(kb / 2) pairs):
 * NR-column micro-panels, panel jp at dst + jp * NR * kcp holding words
 * [kp][NR]; columns past N are zero. */

/* B stored [K][N] (op(B) = B): the k pairs p0..p1-1 of every panel, rows k
 * and k + 1 interleaved; rows are read whole, in order. */
BF16_TARGET __attribute__((noinline)) static void pack_b_rows(uint32_t *dst, const float *B, int ldb, int N, int k0,
                                                             int kb, int p0, int p1) {
    const int kcp = (kb + 1) / 2, npanels = (N + NR - 1) / NR;
    for (int p = p0; p < p1; p++) {
        const float *r0 = B + (size_t)(k0 + 2 * p) * ldb;
        const float *r1 = 2 * p + 1 < kb ? r0 + ldb : NULL;
        for (int jp = 0; jp < npanels; jp++)
            for (int h = 0; h < NR / 16; h++) {
                const int j = jp * NR + 16 * h;
                _mm512_store_si512(dst + (size_t)jp * NR * kcp + (size_t)p * NR + 16 * h,
                                   cvt_interleave(r0 + j, r1 ? r1 + j : NULL, N - j));
            }
    }
}

/* B stored [N][K] (op(B) = B^T): the panel of columns j0..j0+NR-1. The pairs
 * of a column are contiguous in a row: convert 16 rows x 16 pairs, transpose. */
BF16_TARGET __attribute__((noinline)) static void pack_b_panel_t(uint32_t *dst, const float *B, int ldb, int N, int k0,
                                                                int kb, int j0) {
    const int kcp = (kb + 1) / 2;
    for (int p0 = 0; p0 < kcp; p0 += 16) {
        for (int h = 0; h < NR / 16; h++) {
            __m512i r[16];
            for (int t = 0; t < 16; t++) {
                int n = j0 + 16 * h + t;
                r[t] = n < N ? cvt_pairs(B + (size_t)n * ldb + k0 + 2 * p0, kb - 2 * p0) : _mm512_setzero_si512();
            }
            transpose16(r);
            for (int t = 0; t < 16 && p0 + t < kcp; t++) _mm512_store_si512(dst + (size_t)(p0 + t) * NR + 16 * h, r[t]);
        }
    }
}

/* The rows i0..i0+mb-1 of op(A), k values k0..k0+kb-1, into MR-row panels of
 * APANEL words each:
 *   A stored [M][K] ("row" layout): word (i, kp) at panel[i * KCP + kp], the
 *           pairs of a row being contiguous in A; rows past mb are zero;
 *   A stored [K][M] ("column" layout): word (i, kp) at panel[kp * 16 + i],
 *           rows k and k + 1 of A interleaved, 16 columns at a time (whole
 *           aligned stores; the kernel reads the first MR). */
BF16_TARGET __attribute__((noinline)) static void pack_a_block(uint32_t *dst, int transa, const float *A, int lda,
                                                              int i0, int mb, int k0, int kb) {
    const int kcp = (kb + 1) / 2;
    if (!transa) {
        for (int ip = 0; ip < mb; ip += MR)
            for (int i = 0; i < MR; i++) {
                uint32_t *row = dst + (size_t)ip / MR * APANEL + (size_t)i * KCP;
                if (ip + i >= mb) {
                    memset(row, 0, sizeof(uint32_t) * (size_t)kcp);
                    continue;
                }
                const float *src = A + (size_t)(i0 + ip + i) * lda + k0;
                for (int p0 = 0; p0 < kcp; p0 += 16) /* KCP is a multiple of 16: stays in the row */
                    _mm512_store_si512(row + p0, cvt_pairs(src + 2 * p0, kb - 2 * p0));
            }
        return;
    }
    for (int p = 0; p < kcp; p++) { /* along the rows of A, in order */
        const float *r0 = A + (size_t)(k0 + 2 * p) * lda + i0;
        const float *r1 = 2 * p + 1 < kb ? r0 + lda : NULL;
        for (int ip = 0; ip < mb; ip += MR)
            _mm512_store_si512(dst + (size_t)ip / MR * APANEL + (size_t)p * 16,
                               cvt_interleave(r0 + ip, r1 ? r1 + ip : NULL, mb - ip));
    }
}

/* The micro-kernel: c[MR][NR] (row stride ldc) = (load ? c : 0) + a . b over
 * kcp k pairs; A word (i, p) at a[i * ars + p * aks], B words b[p][NR]. */
BF16_TARGET static inline __attribute__((always_inline)) void ukernel(int kcp, const uint32_t *a, const int ars,
                                                                      const int aks, const uint32_t *b, float *c,
                                                                      size_t ldc, int load) {
    __m512 acc[MR][NR / 16];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NR / 16; v++)
            acc[i][v] = load ? _mm512_loadu_ps(c + (size_t)i * ldc + 16 * v) : _mm512_setzero_ps();
    for (int p = 0; p < kcp; p++) {
        __m512bh bv[NR / 16];
#pragma GCC unroll 4
        for (int v = 0; v < NR / 16; v++) bv[v] = (__m512bh)_mm512_load_si512(b + (size_t)p * NR + 16 * v);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[i * ars + p * aks]);
#pragma GCC unroll 4
            for (int v = 0; v < NR / 16; v++) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], av, bv[v]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NR / 16; v++) _mm512_storeu_ps(c + (size_t)i * ldc + 16 * v, acc[i][v]);
}

BF16_TARGET __attribute__((noinline)) static void ukernel_rows(int kcp, const uint32_t *a, const uint32_t *b,
                                                              float *c, size_t ldc, int load) {
    ukernel(kcp, a, KCP, 1, b, c, ldc, load);
}

BF16_TARGET __attribute__((noinline)) static void ukernel_cols(int kcp, const uint32_t *a, const uint32_t *b,
                                                              float *c, size_t ldc, int load) {
    ukernel(kcp, a, 1, 16, b, c, ldc, load);
}

/* One tile: rows i0..i0+mb-1, columns j0..j0+nb-1 of C, all of K. */
BF16_TARGET __attribute__((noinline)) static void tile(uint32_t *abuf, const uint32_t *bp, int Npad, int transa,
                                                      const float *A, int lda, int K, float *C, int ldc, int i0,
                                                      int mb, int j0, int nb, int accumulate) {
    float edge[MR * NR] __attribute__((aligned(64)));
    for (int k0 = 0; k0 < K; k0 += KC) {
        const int kb = K - k0 < KC ? K - k0 : KC, kcp = (kb + 1) / 2;
        const int load = accumulate || k0 > 0;
        pack_a_block(abuf, transa, A, lda, i0, mb, k0, kb);
        const uint32_t *bblock = bp + (size_t)(k0 / 2) * Npad;
        for (int jr = 0; jr < nb; jr += NR) {
            const uint32_t *bpanel = bblock + (size_t)(j0 + jr) / NR * NR * kcp;
            const int n = nb - jr < NR ? nb - jr : NR;
            for (int ir = 0; ir < mb; ir += MR) {
                const uint32_t *apanel = abuf + (size_t)ir / MR * APANEL;
                const int m = mb - ir < MR ? mb - ir : MR;
                float *c = C + (size_t)(i0 + ir) * ldc + j0 + jr;
                if (m == MR && n == NR) {
                    if (transa) ukernel_cols(kcp, apanel, bpanel, c, (size_t)ldc, load);
                    else ukernel_rows(kcp, apanel, bpanel, c, (size_t)ldc, load);
                    continue;
                }
                /* edge: through a full-size buffer, same arithmetic */
                for (int i = 0; i < MR; i++)
                    for (int j = 0; j < NR; j++) edge[i * NR + j] = load && i < m && j < n ? c[(size_t)i * ldc + j] : 0.0f;
                if (transa) ukernel_cols(kcp, apanel, bpanel, edge, NR, 1);
                else ukernel_rows(kcp, apanel, bpanel, edge, NR, 1);
                for (int i = 0; i < m; i++) memcpy(c + (size_t)i * ldc, edge + i * NR, sizeof(float) * (size_t)n);
            }
        }
    }
}

/* The packing workspace is kept from call to call and grown when needed: a
 * training step makes dozens of calls of a few shapes, and allocating tens of
 * MB each time costs page faults. One call at a time uses it; a concurrent
 * caller gets a buffer of its own. */
static uint32_t *ws_kept;
static size_t ws_kept_words;
static atomic_int ws_busy;

static uint32_t *workspace_get(size_t words, int *kept) {
    const size_t bytes = (sizeof(uint32_t) * words + 63) / 64 * 64;
    if (!atomic_exchange(&ws_busy, 1)) {
        if (ws_kept_words < words) {
            free(ws_kept);
            ws_kept = aligned_alloc(64, bytes);
            ws_kept_words = ws_kept ? words : 0;
        }
        if (ws_kept) {
            *kept = 1;
            return ws_kept;
        }
        atomic_store(&ws_busy, 0);
    }
    *kept = 0;
    uint32_t *p = aligned_alloc(64, bytes);
    if (!p) abort();
    return p;
}

static void workspace_put(uint32_t *p, int kept) {
    if (kept) atomic_store(&ws_busy, 0);
    else free(p);
}

void gl_gemm_bf16_avx512(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, sizeof(float) * (size_t)N);
        return;
    }
    const int Npad = (N + NR - 1) / NR * NR, npanels = Npad / NR, nkb = (K + KC - 1) / KC;
    const size_t bwords = (size_t)(K + 1) / 2 * Npad;
    /* Tiles: mblocks x nblocks of them, at least one per thread where the
     * shape allows (the tiling does not change any result). Each tile reads its
     * columns of packed B (2 bytes a value) and packs its rows of A (4 bytes
     * read a value): pick the grid that reads least. */
    const int nthreads = omp_get_max_threads(), min_tiles = nthreads;
    const int mpanels = (M + MR - 1) / MR, mb0 = (M + MC - 1) / MC, nb0 = (Npad + NC_MAX - 1) / NC_MAX;
    int mblocks = mb0, nblocks = nb0;
    double best = -1.0;
    for (int mb = mb0; mb <= mb0 + min_tiles && mb <= mpanels; mb++)
        for (int nb = nb0; nb <= nb0 + min_tiles && nb <= npanels; nb++) {
            const int enough = mb * nb >= min_tiles || (mb == mpanels && nb == npanels);
            const double cost = (enough ? 0.0 : 1e30) + 2.0 * mb * K * (double)Npad + 4.0 * nb * K * (double)M;
            if (best < 0 || cost < best) best = cost, mblocks = mb, nblocks = nb;
        }
    const int mc = (mpanels + mblocks - 1) / mblocks * MR, nc = (npanels + nblocks - 1) / nblocks * NR;
    mblocks = (M + mc - 1) / mc;
    nblocks = (Npad + nc - 1) / nc;
    const int ntiles = mblocks * nblocks;
    const size_t awords = (size_t)mc / MR * APANEL; /* per thread */
    int kept;
    uint32_t *ws = workspace_get(bwords + awords * (size_t)nthreads, &kept);
    uint32_t *bp = ws, *abufs = ws + bwords;
#pragma omp parallel
    {
        /* tasks: per k block, a panel each (B^T) or 16 k pairs of every panel (B) */
        const int per_block = transb ? npanels : KCP / 16;
#pragma omp for schedule(static)
        for (int t = 0; t < nkb * per_block; t++) {
            const int u = t % per_block, k0 = t / per_block * KC, kb = K - k0 < KC ? K - k0 : KC, kcp = (kb + 1) / 2;
            uint32_t *block = bp + (size_t)(k0 / 2) * Npad;
            if (transb) pack_b_panel_t(block + (size_t)u * NR * kcp, B, ldb, N, k0, kb, u * NR);
            else if (16 * u < kcp) pack_b_rows(block, B, ldb, N, k0, kb, 16 * u, 16 * u + 16 < kcp ? 16 * u + 16 : kcp);
        }
        uint32_t *abuf = abufs + awords * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < ntiles; t++) {
            const int i0 = t / nblocks * mc, j0 = t % nblocks * nc;
            tile(abuf, bp, Npad, transa, A, lda, K, C, ldc, i0, M - i0 < mc ? M - i0 : mc, j0,
                 N - j0 < nc ? N - j0 : nc, accumulate);
        }
    }
    workspace_put(ws, kept);
}

#else /* no AVX512-BF16 code on this compiler or architecture */

void gl_gemm_bf16_avx512(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc, int accumulate) {
    gl_gemm_bf16_scalar(transa, transb, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

#endif
