/* gemm_dnnl.c: the bf16 GEMM of gemm_bf16.c's contract (C (+)= op(A) op(B),
 * inputs rounded to bf16, fp32 sums) on oneDNN's matmul primitive, which
 * dispatches at run time to the CPU's matrix units: AMX-BF16 tiles where the
 * CPU and the kernel allow them, else AVX512-BF16 dot products.
 *
 * Built with oneDNN when the build finds its header (the Makefile defines
 * GL_HAVE_DNNL: 1 for <oneapi/dnnl/dnnl.h>, 2 for <dnnl.h>); without it every
 * function here reports "not available" and callers use gemm_bf16.c.
 *
 * Per call: A and B (fp32, any leading dimension) are rounded to bf16 into a
 * workspace by our own AVX512-BF16 loop (vcvtne2ps2bf16: the rounding of
 * gl_bf16_round), kept in their stored layout; the primitive reads them
 * through strides (a transposed operand is a column-major view, which
 * oneDNN's brgemm matmul packs itself), writes C through its row stride, and
 * accumulates with a sum post-op. A primitive that oneDNN could only give
 * its reference (unoptimised) code is declined: the caller then runs ours.
 * gemm_select.c runs this path where oneDNN dispatches to AMX (on
 * AVX512-BF16 alone it is no faster than ours). Primitives are cached per
 * shape (creating one costs 0.1-1 ms, a training step makes a dozen GEMM
 * shapes per batch length): the key is the shape, the transposes, ldc,
 * accumulate and the OpenMP thread count (oneDNN plans its blocking for the
 * threads it will have). A primitive does the same work in the same order
 * every time: the same bits run after run at one thread count (tested);
 * unlike gemm_bf16.c, another thread count may change the last bits.
 *
 * AMX on Linux needs the process to ask for the tile data state
 * (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), kernel 5.16+); it is
 * asked here before oneDNN first looks at the CPU (harmless if oneDNN asks
 * too), and gl_dnnl_isa() says whether oneDNN then dispatches to AMX. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

int gl_cpu_has_amx_bf16(void) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (d >> 22 & 1) && (d >> 24 & 1); /* AMX-BF16, AMX-TILE */
#else
    return 0;
#endif
}

#if defined(GL_HAVE_DNNL) && GL_HAVE_DNNL && defined(__x86_64__)

#if GL_HAVE_DNNL == 2
#include <dnnl.h>
#else
#include <oneapi/dnnl/dnnl.h>
#endif
#include <immintrin.h>
#include <omp.h>

/* ------------------------------------------------------------ engine */

static dnnl_engine_t engine;
static int dnnl_ok;
static char isa_name[64];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void request_amx(void) {
#if defined(SYS_arch_prctl)
    if (gl_cpu_has_amx_bf16()) syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */);
#endif
}

static void dnnl_init(void) {
    if (!gl_cpu_has_avx512bf16()) return; /* bf16 only where the CPU has it; fp32 stays on OpenBLAS */
    request_amx();
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) return;
    const dnnl_version_t *v = dnnl_version();
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const char *what = isa == dnnl_cpu_isa_avx512_core_amx ? "AMX-BF16"
                       : isa == dnnl_cpu_isa_avx512_core_bf16 ? "AVX512-BF16"
                                                               : "without bf16 instructions";
    snprintf(isa_name, sizeof isa_name, "oneDNN %d.%d.%d, %s", v->major, v->minor, v->patch, what);
    dnnl_ok = 1;
}

int gl_dnnl_available(void) {
    pthread_once(&init_once, dnnl_init);
    return dnnl_ok;
}

const char *gl_dnnl_isa(void) { return gl_dnnl_available() ? isa_name : "oneDNN not available"; }

int gl_dnnl_uses_amx(void) { return gl_dnnl_available() && strstr(isa_name, "AMX") != NULL; }

/* ------------------------------------------------------- conversion */

#define BF16_TARGET __attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl")))

/* rows x cols floats (row stride ld) -> rows x cols bf16, packed */
BF16_TARGET static void round_rows(uint16_t *dst, const float *src, int rows, int cols, int ld) {
    const size_t n = (size_t)rows * cols;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * ld;
        uint16_t *d = dst + (size_t)r * cols;
        int j = 0;
        for (; j + 32 <= cols; j += 32) {
            __m512bh w = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + j + 16), _mm512_loadu_ps(s + j));
            _mm512_storeu_si512(d + j, (__m512i)w);
        }
        if (j < cols) {
            const int t = cols - j;
            const __mmask16 m0 = t >= 16 ? 0xffff : (__mmask16)((1u << t) - 1);
            const __mmask16 m1 = t > 16 ? (__mmask16)((1u << (t - 16)) - 1) : 0;
            __m512bh w = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, s + j + 16), _mm512_maskz_loadu_ps(m0, s + j));
            _mm512_mask_storeu_epi16(d + j, (__mmask32)((1ull << t) - 1), (__m512i)w);
        }
    }
}

/* The workspace is kept from call to call (tens of MB a training step), as in
 * gemm_bf16.c: one call at a time uses it, a concurrent caller allocates. */
static uint16_t *ws_kept;
static size_t ws_kept_n;
static atomic_int ws_busy;

static uint16_t *workspace_get(size_t n, int *kept) {
    const size_t bytes = (n * sizeof(uint16_t) + 63) / 64 * 64;
    if (!atomic_exchange(&ws_busy, 1)) {
        if (ws_kept_n < n) {
            free(ws_kept);
            ws_kept = aligned_alloc(64, bytes);
            ws_kept_n = ws_kept ? n : 0;
        }
        if (ws_kept) {
            *kept = 1;
            return ws_kept;
        }
        atomic_store(&ws_busy, 0);
    }
    *kept = 0;
    return aligned_alloc(64, bytes);
}

static void workspace_put(uint16_t *p, int kept) {
    if (kept) atomic_store(&ws_busy, 0);
    else free(p);
}

/* ------------------------------------------------------ primitives */

typedef struct {
    int ta, tb, M, N, K, ldc, acc, nthr;
} prim_key;

typedef struct {
    prim_key key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a, b, c;
    int refs;             /* calls running it now: not evicted while > 0 */
    unsigned long used;   /* for least-recently-used eviction */
} prim_entry;

/* Enough for every batch length of a run (up to 128 lengths x 12 GEMMs of a
 * BERT layer would be more; the least recently used go first). */
#define CACHE_SLOTS 768
static prim_entry cache[CACHE_SLOTS];
static int cache_n;
static unsigned long cache_tick;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int make_prim(prim_entry *e, const prim_key *k) {
    const dnnl_dims_t da = {k->M, k->K}, db = {k->K, k->N}, dc = {k->M, k->N};
    /* stored layouts: A [M][K] or (ta) [K][M]; B [K][N] or (tb) [N][K]; packed rows */
    const dnnl_dims_t sa = {k->ta ? 1 : k->K, k->ta ? k->M : 1}, sb = {k->tb ? 1 : k->N, k->tb ? k->K : 1},
                      sc = {k->ldc, 1};
    if (dnnl_memory_desc_init_by_strides(&e->a, 2, da, dnnl_bf16, sa) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&e->b, 2, db, dnnl_bf16, sb) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&e->c, 2, dc, dnnl_f32, sc) != dnnl_success)
        return -1;
    dnnl_matmul_desc_t md;
    if (dnnl_matmul_desc_init(&md, &e->a, &e->b, NULL, &e->c) != dnnl_success) return -1;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int rc = -1;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) goto done;
    if (k->acc) {
        if (dnnl_post_ops_create(&po) != dnnl_success || dnnl_post_ops_append_sum(po, 1.0f) != dnnl_success ||
            dnnl_primitive_attr_set_post_ops(attr, po) != dnnl_success)
            goto done;
    }
    if (dnnl_primitive_desc_create(&pd, &md, attr, engine, NULL) != dnnl_success) goto done;
    /* a reference (unoptimised) implementation would be far slower than ours: decline */
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl ||
        strstr(impl, "ref"))
        goto done;
    if (dnnl_primitive_create(&e->prim, pd) != dnnl_success) goto done;
    e->key = *k;
    rc = 0;
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* The cached entry for k (refs taken), or a fresh uncached one in *tmp when
 * every slot is running; NULL when oneDNN cannot make it. */
static prim_entry *prim_get(const prim_key *k, prim_entry *tmp) {
    pthread_mutex_lock(&cache_lock);
    prim_entry *e = NULL, *victim = NULL;
    for (int i = 0; i < cache_n; i++)
        if (!memcmp(&cache[i].key, k, sizeof *k)) {
            e = &cache[i];
            break;
        }
    if (!e) {
        if (cache_n < CACHE_SLOTS) victim = &cache[cache_n];
        else
            for (int i = 0; i < CACHE_SLOTS; i++)
                if (cache[i].refs == 0 && (!victim || cache[i].used < victim->used)) victim = &cache[i];
        if (!victim) {
            pthread_mutex_unlock(&cache_lock);
            return make_prim(tmp, k) == 0 ? tmp : NULL;
        }
        prim_entry fresh;
        memset(&fresh, 0, sizeof fresh);
        if (make_prim(&fresh, k) != 0) {
            pthread_mutex_unlock(&cache_lock);
            return NULL;
        }
        if (victim == &cache[cache_n]) cache_n++;
        else dnnl_primitive_destroy(victim->prim);
        *victim = fresh;
        e = victim;
    }
    e->refs++;
    e->used = ++cache_tick;
    pthread_mutex_unlock(&cache_lock);
    return e;
}

static void prim_put(prim_entry *e, prim_entry *tmp) {
    if (e == tmp) {
        dnnl_primitive_destroy(tmp->prim);
        return;
    }
    pthread_mutex_lock(&cache_lock);
    e->refs--;
    pthread_mutex_unlock(&cache_lock);
}

/* -1 when the memory objects or the stream cannot be made (C untouched);
 * a failed execution (C may be half written) aborts, as the kernels do when
 * their workspace cannot be allocated */
static int execute(prim_entry *e, void *a, void *b, float *c) {
    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL;
    dnnl_stream_t s = NULL;
    int rc = -1;
    if (dnnl_memory_create(&ma, &e->a, engine, a) == dnnl_success &&
        dnnl_memory_create(&mb, &e->b, engine, b) == dnnl_success &&
        dnnl_memory_create(&mc, &e->c, engine, c) == dnnl_success &&
        dnnl_stream_create(&s, engine, dnnl_stream_default_flags) == dnnl_success) {
        const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
        if (dnnl_primitive_execute(e->prim, s, 3, args) != dnnl_success || dnnl_stream_wait(s) != dnnl_success)
            abort();
        rc = 0;
    }
    if (s) dnnl_stream_destroy(s);
    if (mc) dnnl_memory_destroy(mc);
    if (mb) dnnl_memory_destroy(mb);
    if (ma) dnnl_memory_destroy(ma);
    return rc;
}

int gl_gemm_bf16_dnnl(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc, int accumulate) {
    if (!gl_dnnl_available()) return -1;
    if (M <= 0 || N <= 0) return 0;
    if (K <= 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, sizeof(float) * (size_t)N);
        return 0;
    }
    const prim_key k = {transa != 0, transb != 0, M, N, K, ldc, accumulate != 0, omp_get_max_threads()};
    prim_entry tmp, *e = prim_get(&k, &tmp);
    if (!e) return -1;
    const size_t na = (size_t)M * K, nb = (size_t)K * N, na64 = (na + 31) / 32 * 32;
    int kept, rc;
    uint16_t *ws = workspace_get(na64 + nb, &kept);
    if (!ws) abort(); /* as gemm_bf16.c: the workspace is smaller than the operands themselves */
    uint16_t *a = ws, *b = ws + na64;
    if (transa) round_rows(a, A, K, M, lda);
    else round_rows(a, A, M, K, lda);
    if (transb) round_rows(b, B, N, K, ldb);
    else round_rows(b, B, K, N, ldb);
    rc = execute(e, a, b, C);
    workspace_put(ws, kept);
    prim_put(e, &tmp);
    return rc;
}

#else /* built without oneDNN */

int gl_dnnl_available(void) { return 0; }
const char *gl_dnnl_isa(void) { return "oneDNN not built in"; }
int gl_dnnl_uses_amx(void) { return 0; }
int gl_gemm_bf16_dnnl(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc, int accumulate) {
    (void)transa, (void)transb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)C, (void)ldc,
        (void)accumulate;
    return -1;
}

#endif
