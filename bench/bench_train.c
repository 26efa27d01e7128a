/* bench_train.c: gloss's side of `make bench` (bench/run_bench.sh runs it).
 *
 *   bench_train peak [reps]
 *       the machine's fp32 sgemm peak with the current thread count:
 *       cblas_sgemm on 2048^3 and on 4096x4096x1024, best of reps runs each;
 *       where this CPU runs linear layers in bf16, the chosen bf16 kernel's
 *       peak on the same shapes (BF16PEAK).
 *   bench_train train SHAPE [warmup] [steps] [batch] [seq]
 *       training steps of a randomly initialised encoder of SHAPE: forward with
 *       dropout, mean pooling, classifier dropout + linear head, class-weighted
 *       cross-entropy, backward, global-norm clip 1.0, AdamW (the step of
 *       src/train/epoch.c); per-kernel profile (src/util/profile.h) of the
 *       timed steps.
 *   bench_train infer SHAPE [warmup] [steps] [batch] [seq]
 *       evaluation-mode forward + mean pooling, as `gloss embed` does; profile
 *       of the timed passes ("head" is the pooling).
 *
 * SHAPE: minilm (all-MiniLM-L6-v2: 384 hidden, 6 layers, 12 heads, 1536),
 * base (BERT-base: 768, 12, 12, 3072) or tiny (64, 2, 4, 256; for testing).
 * Every token is real (mask all 1). Prints machine-readable lines:
 *   PEAK ..., BF16PEAK ..., RESULT key=value ..., PROFILE cat=... sec=... share=...
 * Times are medians of the timed steps; maxrss_mb is this process's peak
 * resident set (getrusage), so run one process per (shape, mode);
 * others_pct / steal_pct: the share of all CPUs' time that other processes /
 * the hypervisor took during the timed steps (a clean run has both near 0).
 *
 * GLOSS_BF16=1 asks for bf16 linear layers (gl_bert_set_bf16; the RESULT line
 * says bf16=1 and names the kernels, which are fp32 sgemm where bf16 would be
 * slower on this CPU: src/kernels/gemm_select.c). GLOSS_BF16_KERNEL=ours or
 * onednn forces bf16 on through that kernel, whatever the CPU's choice.
 * GLOSS_BF16=alt takes turns, step by step in this one process, between fp32
 * and bf16 variants (GLOSS_BF16_KERNEL a list of auto, ours, onednn: e.g.
 * "auto,ours,onednn"; auto, the CPU's choice, when unset) and prints a BF16
 * line per variant with its median step and its speed-up over fp32 (the
 * RESULT line then covers all steps). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "loss/cross_entropy.h"
#include "model/bert.h"
#include "train/optim.h"
#include "util/blas_core.h"
#include "util/error.h"
#include "util/profile.h"
#include "util/clock.h"
#include "util/rng.h"
#include "bench_common.h"

enum { NUM_CLASSES = 4 };

static double maxrss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

/* CPU time the rest of the machine used while we ran: busy time of all CPUs
 * (/proc/stat) minus this process's own CPU time, and the hypervisor's steal
 * time. Both in seconds, from a snapshot at start to one at end. */
typedef struct {
    double busy, steal, own, wall;
} cpu_snap;

static cpu_snap cpu_snapshot(void) {
    cpu_snap c = {0, 0, 0, gl_now()};
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]) != 8)
            memset(v, 0, sizeof v);
        fclose(f);
    }
    double hz = (double)sysconf(_SC_CLK_TCK);
    c.busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / hz; /* user nice system irq softirq */
    c.steal = (double)v[7] / hz;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    c.own = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
            1e-6 * (double)ru.ru_stime.tv_usec;
    return c;
}

/* "others_pct=.. steal_pct=..": shares of all CPUs' time between a and b */
static void print_noise(cpu_snap a, cpu_snap b) {
    double cap = (b.wall - a.wall) * (double)sysconf(_SC_NPROCESSORS_ONLN);
    double others = (b.busy - a.busy) - (b.own - a.own);
    printf(" others_pct=%.1f steal_pct=%.1f", cap > 0 ? 100.0 * (others > 0 ? others : 0) / cap : 0.0,
           cap > 0 ? 100.0 * (b.steal - a.steal) / cap : 0.0);
}

static void fill_uniform(float *x, size_t n, float a, uint64_t seed) {
    gl_rng r = {seed};
    for (size_t i = 0; i < n; i++) x[i] = a * (2.0f * (float)(gl_rng_next(&r) >> 40) / 16777216.0f - 1.0f);
}

/* ------------------------------------------------------------------ peak */

/* best GFLOP/s of C = A B (M x K times K x N, row-major) over reps runs after
 * one warm-up: cblas_sgemm (bf16 = 0) or gl_gemm_bf16, the bf16 kernel this
 * CPU chose (bf16 = 1; its time includes rounding A and B) */
/* spaces to '_', so that s is one token for the table's key=value parser */
static void one_field(char *s) {
    for (; *s; s++)
        if (*s == ' ') *s = '_';
}

static double gemm_best(int M, int N, int K, int reps, int bf16) {
    float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N),
          *C = malloc(sizeof(float) * (size_t)M * N);
    if (!A || !B || !C) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    fill_uniform(A, (size_t)M * K, 1.0f, 1);
    fill_uniform(B, (size_t)K * N, 1.0f, 2);
    memset(C, 0, sizeof(float) * (size_t)M * N);
    double best = 0.0;
    for (int r = 0; r < reps + 1; r++) { /* the first run warms up */
        double t0 = gl_now();
        if (bf16)
            gl_gemm_bf16(0, 0, M, N, K, A, K, B, N, C, N, 0);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
        double gf = 2.0 * M * N * (double)K / (gl_now() - t0) / 1e9;
        if (r > 0 && gf > best) best = gf;
    }
    free(A);
    free(B);
    free(C);
    return best;
}

/* the fp32 peak, and where linear layers would run bf16 (GLOSS_BF16 rows),
 * the bf16 kernel's peak on the same shapes */
static int run_peak(int reps) {
    double a = gemm_best(2048, 2048, 2048, reps, 0);
    double b = gemm_best(4096, 4096, 1024, reps, 0);
    printf("PEAK threads=%d sgemm_2048=%.1f sgemm_4096x4096x1024=%.1f peak_gflops=%.1f blas=\"%s\"\n",
           omp_get_max_threads(), a, b, a > b ? a : b, openblas_get_config());
    if (gl_linear_bf16_active()) {
        double c = gemm_best(2048, 2048, 2048, reps, 1);
        double d = gemm_best(4096, 4096, 1024, reps, 1);
        char name[128];
        snprintf(name, sizeof name, "%s", gl_gemm_kernel_name(gl_gemm_bf16_kernel()));
        one_field(name);
        printf("BF16PEAK threads=%d bf16_2048=%.1f bf16_4096x4096x1024=%.1f peak_gflops=%.1f kernel=%s\n",
               omp_get_max_threads(), c, d, c > d ? c : d, name);
    }
    return 0;
}

/* ----------------------------------------------------------------- model */

static int shape_config(const char *name, gl_bert_config *c) {
    memset(c, 0, sizeof *c);
    c->vocab_size = 30522;
    c->max_position_embeddings = 512;
    c->type_vocab_size = 2;
    c->layer_norm_eps = 1e-12f;
    c->num_heads = 12;
    if (!strcmp(name, "minilm")) {
        c->hidden_size = 384;
        c->num_layers = 6;
        c->intermediate_size = 1536;
    } else if (!strcmp(name, "base")) {
        c->hidden_size = 768;
        c->num_layers = 12;
        c->intermediate_size = 3072;
    } else if (!strcmp(name, "tiny")) {
        c->vocab_size = 1000;
        c->hidden_size = 64;
        c->num_layers = 2;
        c->num_heads = 4;
        c->intermediate_size = 256;
    } else {
        return -1;
    }
    return 0;
}

/* Analytic FLOPs of one forward pass (matmuls only): linear layers 2 N in out,
 * attention scores and context 2 * 2 B NH T T HS per layer; the head (B x C x K)
 * when with_head. A training step counts 3x (backward = 2x forward). */
static double forward_flops(const gl_bert_config *c, int B, int T, int with_head) {
    const double N = (double)B * T, C = c->hidden_size, FF = c->intermediate_size, L = c->num_layers,
                 NH = c->num_heads, HS = C / NH;
    double lin = 2.0 * N * (3 * C * C + C * C + C * FF + FF * C);
    double attn = 2.0 * 2.0 * B * NH * (double)T * T * HS;
    return L * (lin + attn) + (with_head ? 2.0 * B * C * NUM_CLASSES : 0.0);
}

/* Random weights: matrices uniform with std 0.02, LayerNorm weights 1, biases 0. */
static void random_weights(gl_bert *m, uint64_t seed) {
    for (int i = 0; i < m->nparams; i++) {
        const gl_param *p = &m->table[i];
        float *x = m->params + p->offset;
        if (p->ndim == 2) fill_uniform(x, p->numel, 0.02f * 1.7320508f, seed + (uint64_t)i);
        else if (strstr(p->name, "LayerNorm.weight"))
            for (size_t j = 0; j < p->numel; j++) x[j] = 1.0f;
        else memset(x, 0, p->numel * sizeof(float));
    }
}

static void make_batch(int32_t *ids, uint8_t *mask, int *y, int B, int T, int V) {
    gl_rng r = {7};
    for (int i = 0; i < B * T; i++) {
        ids[i] = (V > 2000 ? 1000 : 3) + (int)gl_rng_below(&r, (uint64_t)(V > 2000 ? V - 1000 : V - 3));
        mask[i] = 1;
    }
    for (int b = 0; b < B; b++) {
        ids[(size_t)b * T] = V > 2000 ? 101 : 1;
        ids[(size_t)b * T + T - 1] = V > 2000 ? 102 : 2;
        y[b] = b % NUM_CLASSES;
    }
}

static void print_result(const char *mode, const char *shape, int B, int T, double flops, double *times, int steps,
                         cpu_snap t0, cpu_snap t1, int bf16) {
    double med = bench_median(times, steps);
    char kern[384];
    gl_linear_kernels(bf16, kern, sizeof kern);
    one_field(kern);
    printf("RESULT side=gloss mode=%s shape=%s batch=%d seq=%d threads=%d steps=%d step_s=%.4f seq_per_s=%.2f "
           "gflop=%.1f gflops=%.1f maxrss_mb=%.0f bf16=%d",
           mode, shape, B, T, omp_get_max_threads(), steps, med, B / med, flops / 1e9, flops / med / 1e9,
           maxrss_mb(), bf16);
    print_noise(t0, t1);
    printf(" kernels=%s\n", kern);
}

/* The variants of GLOSS_BF16=alt: 0 fp32, then bf16 with each forced kernel
 * (or the CPU's choice when GLOSS_BF16_KERNEL is unset). kernel -1: not forced. */
typedef struct {
    int bf16, kernel;
    const char *name;
} variant;

static int parse_variants(variant *v, int alt, int on) {
    const char *k = getenv("GLOSS_BF16_KERNEL");
    int n = 0;
    if (alt) v[n++] = (variant){0, -1, "fp32"};
    if (!alt && !on) return n;
    if (!k || !*k) {
        v[n++] = (variant){1, -1, "bf16-auto"};
        return n;
    }
    if (strstr(k, "auto")) v[n++] = (variant){1, -1, "bf16-auto"};
    if (strstr(k, "ours")) v[n++] = (variant){1, GL_GEMM_BF16_AVX512, "bf16-ours"};
    if (strstr(k, "onednn")) v[n++] = (variant){1, GL_GEMM_BF16_DNNL, "bf16-onednn"};
    return n;
}

static void use_variant(gl_bert *m, const variant *v) {
    gl_bert_set_bf16(m, v->bf16);
    gl_gemm_select_force(v->kernel, v->kernel >= 0 ? 1 : -1);
}

/* timed step i ran variant (warmup + i) % nv */
static void print_variants(const char *mode, const char *shape, const variant *v, int nv, int warmup,
                           const double *times, int steps) {
    double base = 0.0;
    for (int j = 0; j < nv; j++) {
        double t[256];
        int n = 0;
        for (int i = 0; i < steps && n < 256; i++)
            if ((warmup + i) % nv == j) t[n++] = times[i];
        if (!n) continue;
        double med = bench_median(t, n);
        if (j == 0) base = med;
        printf("BF16 mode=%s shape=%s variant=%s steps=%d step_s=%.4f speedup=%.3f\n", mode, shape, v[j].name, n,
               med, base > 0 ? base / med : 0.0);
    }
}

/* The profile of the timed steps (total seconds over `steps` steps): seconds per
 * step and share of the time per category; "other" is the unaccounted rest. */
static void print_profile(const char *mode, const char *shape, double total, int steps, int bf16) {
    double known = 0.0;
    for (int c = 0; c < GL_PROF_COUNT; c++) {
        known += gl_profile_sec[c];
        printf("PROFILE mode=%s shape=%s bf16=%d cat=%s sec=%.4f share=%.2f\n", mode, shape, bf16,
               gl_profile_name((gl_prof_cat)c), gl_profile_sec[c] / steps, 100.0 * gl_profile_sec[c] / total);
    }
    printf("PROFILE mode=%s shape=%s bf16=%d cat=other sec=%.4f share=%.2f\n", mode, shape, bf16,
           (total - known) / steps, 100.0 * (total - known) / total);
}

static int run(const char *mode, const char *shape, int warmup, int steps, int B, int T) {
    gl_bert_config cfg;
    if (shape_config(shape, &cfg) != 0) {
        fprintf(stderr, "unknown shape '%s' (minilm, base, tiny)\n", shape);
        return 2;
    }
    const int training = !strcmp(mode, "train");
    const char *bf16_env = getenv("GLOSS_BF16");
    const int bf16_alt = bf16_env && !strcmp(bf16_env, "alt");
    const int bf16_on = bf16_env && (bf16_alt || !strcmp(bf16_env, "1"));
    if (bf16_on && !gl_cpu_has_avx512bf16()) {
        fprintf(stderr, "bench_train: GLOSS_BF16: this CPU has no AVX512-BF16\n");
        return 2;
    }
    variant var[4];
    const int nvar = parse_variants(var, bf16_alt, bf16_on);
    if ((bf16_alt && nvar < 2) || (bf16_on && !bf16_alt && nvar != 1)) {
        fprintf(stderr, "bench_train: GLOSS_BF16_KERNEL: auto, ours or onednn (a list with GLOSS_BF16=alt)\n");
        return 2;
    }
    if (nvar && var[nvar - 1].kernel == GL_GEMM_BF16_DNNL && !gl_dnnl_available()) {
        fprintf(stderr, "bench_train: GLOSS_BF16_KERNEL=onednn: %s\n", gl_dnnl_isa());
        return 2;
    }
    const int C = cfg.hidden_size, K = NUM_CLASSES;
    gl_bert m;
    /* no pooler (mean pooling); the head only when training, as `gloss embed` has none */
    if (gl_bert_init(&m, &cfg, 0, training ? K : 0) != 0) goto fail;
    if (nvar) use_variant(&m, &var[bf16_alt ? 1 : 0]);
    random_weights(&m, 42);
    gl_bert_acts a; /* inference: forward-only activations, as src/api.c (gloss embed) */
    if ((training ? gl_bert_acts_init(&a, &m, B, T) : gl_bert_acts_init_inference(&a, &m, B, T)) != 0) goto fail;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * T);
    uint8_t *mask = malloc((size_t)B * T);
    int *y = malloc(sizeof(int) * (size_t)B);
    float *pooled = malloc(sizeof(float) * (size_t)B * C * 3);
    float *logits = malloc(sizeof(float) * (size_t)B * K * 2);
    double *times = malloc(sizeof(double) * (size_t)(steps + warmup));
    if (!ids || !mask || !y || !pooled || !logits || !times) goto fail;
    float *pooled_d = pooled + (size_t)B * C, *dpooled = pooled_d + (size_t)B * C, *dlogits = logits + (size_t)B * K;
    make_batch(ids, mask, y, B, T, cfg.vocab_size);

    double total = 0.0;
    cpu_snap snap0 = cpu_snapshot();
    if (!training) {
        for (int s = 0; s < warmup + steps; s++) {
            if (s == warmup) { /* profile the timed steps only */
                gl_profile_reset();
                gl_profile_enable(1);
                snap0 = cpu_snapshot();
            }
            if (bf16_alt) use_variant(&m, &var[s % nvar]);
            double t0 = gl_now();
            const float *H = gl_bert_forward(&m, &a, ids, mask, B, T, 0, 0);
            GL_PROF(GL_PROF_HEAD, gl_pool_forward(&m, GL_POOL_MEAN, pooled, H, mask, B, T));
            double dt = gl_now() - t0;
            fprintf(stderr, "  gloss infer %s step %d%s: %.3f s\n", shape, s + 1, s < warmup ? " (warm-up)" : "", dt);
            if (s >= warmup) {
                times[s - warmup] = dt;
                total += dt;
            }
        }
        gl_profile_enable(0);
        if (bf16_alt) print_variants(mode, shape, var, nvar, warmup, times, steps);
        print_result(mode, shape, B, T, forward_flops(&cfg, B, T, 0), times, steps, snap0, cpu_snapshot(), m.bf16);
        print_profile(mode, shape, total, steps, m.bf16);
        return 0;
    }

    if (gl_bert_alloc_grads(&m) != 0) goto fail;
    gl_adamw opt;
    if (gl_adamw_init(&opt, m.size, 2e-5, 0.01) != 0) goto fail;
    uint8_t *decay = malloc(m.size);
    float *dH = malloc(sizeof(float) * (size_t)B * T * C);
    if (!decay || !dH) goto fail;
    for (int i = 0; i < m.nparams; i++) memset(decay + m.table[i].offset, m.table[i].decay, m.table[i].numel);
    const double class_w[NUM_CLASSES] = {0.5, 1.0, 1.5, 2.0};
    for (int s = 0; s < warmup + steps; s++) {
        if (s == warmup) { /* profile the timed steps only */
            gl_profile_reset();
            gl_profile_enable(1);
            snap0 = cpu_snapshot();
        }
        uint64_t key = gl_rng_key(1234, (uint64_t)s);
        if (bf16_alt) use_variant(&m, &var[s % nvar]);
        double t0 = gl_now();
        const float *H = gl_bert_forward(&m, &a, ids, mask, B, T, 1, key);

        GL_PROF_BEGIN(t_head);
        gl_pool_forward(&m, GL_POOL_MEAN, pooled, H, mask, B, T);
        GL_PROF_END(t_head, GL_PROF_HEAD);
        GL_PROF(GL_PROF_CLIP, gl_bert_zero_grads(&m));
        GL_PROF_BEGIN(t_head2);
        uint64_t hkey = gl_rng_key(key, 0x68656164ull); /* classifier dropout, as the trainer */
        memcpy(pooled_d, pooled, (size_t)B * C * sizeof(float));
        gl_dropout_apply(pooled_d, (size_t)B * C, m.hidden_dropout, hkey);
        gl_linear_forward(logits, pooled_d, m.p.cls_w, m.p.cls_b, B, C, K, m.bf16);
        double loss = gl_ce_forward_backward(logits, y, class_w, B, K, dlogits, 1.0);
        memset(dpooled, 0, (size_t)B * C * sizeof(float));
        gl_linear_backward(dpooled, m.g.cls_w, m.g.cls_b, dlogits, pooled_d, m.p.cls_w, B, C, K, m.bf16);
        gl_dropout_apply(dpooled, (size_t)B * C, m.hidden_dropout, hkey);
        memset(dH, 0, (size_t)B * T * C * sizeof(float));
        gl_pool_backward(&m, GL_POOL_MEAN, dH, dpooled, pooled, H, mask, B, T);
        GL_PROF_END(t_head2, GL_PROF_HEAD);

        gl_bert_backward(&m, &a, dH);
        double norm;
        GL_PROF(GL_PROF_CLIP, norm = gl_clip_grad_norm(m.grads, m.size, 1.0));
        GL_PROF(GL_PROF_ADAMW, gl_adamw_step(&opt, m.params, m.grads, decay));
        double dt = gl_now() - t0;
        fprintf(stderr, "  gloss train %s step %d%s: %.3f s (loss %.4f, grad norm %.3g)\n", shape, s + 1,
                s < warmup ? " (warm-up)" : "", dt, loss, norm);
        if (s >= warmup) {
            times[s - warmup] = dt;
            total += dt;
        }
    }
    gl_profile_enable(0);
    if (bf16_alt) print_variants(mode, shape, var, nvar, warmup, times, steps);
    print_result(mode, shape, B, T, 3.0 * forward_flops(&cfg, B, T, 1), times, steps, snap0, cpu_snapshot(), m.bf16);
    print_profile(mode, shape, total, steps, m.bf16);
    return 0;
fail:
    fprintf(stderr, "bench_train: %s\n", gl_error_message());
    return 1;
}

int main(int argc, char **argv) {
    gl_blas_core_fix(argv); /* the kernels gloss itself runs with */
    if (argc >= 2 && !strcmp(argv[1], "peak")) return run_peak(argc > 2 ? atoi(argv[2]) : 5);
    if (argc >= 3 && (!strcmp(argv[1], "train") || !strcmp(argv[1], "infer"))) {
        int warmup = argc > 3 ? atoi(argv[3]) : 1;
        int steps = argc > 4 ? atoi(argv[4]) : 3;
        int B = argc > 5 ? atoi(argv[5]) : 32;
        int T = argc > 6 ? atoi(argv[6]) : 128;
        if (warmup < 0 || steps < 1 || B < 1 || T < 2) {
            fprintf(stderr, "bad warmup/steps/batch/seq\n");
            return 2;
        }
        return run(argv[1], argv[2], warmup, steps, B, T);
    }
    fprintf(stderr, "usage: bench_train peak [reps]\n"
                    "       bench_train train|infer minilm|base|tiny [warmup] [steps] [batch] [seq]\n");
    return 2;
}
