/* test_model.c: the encoder forward and backward against PyTorch/HF references.
 *
 * tiny:   a random 2-layer BERT (tests/fixtures/model/tiny) whose float64 HF
 *         reference gives the last hidden state, the poolings and the FULL
 *         gradient of a fixed scalar loss for every parameter.
 *         Tolerances: forward 1e-5 max abs (fp32 vs fp64 through 2 layers of
 *         width 32); gradients 1e-4 relative L2 per tensor.
 * minilm: the real all-MiniLM-L6-v2 on real sentences: last hidden state and
 *         poolings within 1e-4 max abs; per-tensor gradient norm within 1e-3
 *         relative, an estimate of the relative L2 error from 4 random sign
 *         projections within 1e-3, and 64 sampled entries.
 *
 * inference activations (gl_bert_acts_init_inference, one layer's buffers
 *         reused): the same bits as the training activations, for tiny and
 *         MiniLM, eval and dropout forward, reused across batch shapes.
 *
 * The scalar loss (see tools/make_model_fixtures.py):
 *   L = sum mask*H*R1 + sum Mean*R2 + sum Pooler*R3 + sum Cls*R4
 * so dL/dH = mask*R1 plus the pooling backwards of R2, R3, R4. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "model/bert.h"
#include "util/rng.h"

typedef struct {
    int B, T, C;
    int32_t *ids;
    uint8_t *mask;
    double *R1, *R2, *R3, *R4;
} batch;

static int load_batch(const gl_safetensors *st, batch *b, int C) {
    int64_t n;
    double *ids = fx_f64(st, "input_ids", &n), *mask = fx_f64(st, "attention_mask", NULL);
    const gl_st_tensor *t = gl_st_find(st, "input_ids");
    if (!ids || !mask || !t) return -1;
    b->B = (int)t->shape[0];
    b->T = (int)t->shape[1];
    b->C = C;
    b->ids = malloc(sizeof(int32_t) * (size_t)n);
    b->mask = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) {
        b->ids[i] = (int32_t)ids[i];
        b->mask[i] = (uint8_t)(mask[i] != 0);
    }
    free(ids);
    free(mask);
    b->R1 = fx_f64(st, "R1", NULL);
    b->R2 = fx_f64(st, "R2", NULL);
    b->R3 = fx_f64(st, "R3", NULL);
    b->R4 = fx_f64(st, "R4", NULL);
    return (b->R1 && b->R2 && b->R3 && b->R4) ? 0 : -1;
}

static void free_batch(batch *b) {
    free(b->ids);
    free(b->mask);
    free(b->R1);
    free(b->R2);
    free(b->R3);
    free(b->R4);
}

static double max_abs_diff_f(const float *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* Forward + loss + backward; returns the loss. pooled outputs are returned in mean/pool/cls. */
static double run_model(gl_bert *m, const batch *b, float *mean, float *pool, float *cls, const float **hidden_out,
                        gl_bert_acts *acts) {
    const int B = b->B, T = b->T, C = b->C;
    const size_t N = (size_t)B * T;
    const float *H = gl_bert_forward(m, acts, b->ids, b->mask, B, T, 0, 0);
    *hidden_out = H;
    gl_pool_forward(m, GL_POOL_MEAN, mean, H, b->mask, B, T);
    gl_pool_forward(m, GL_POOL_CLS, cls, H, b->mask, B, T);
    if (m->has_pooler) gl_pool_forward(m, GL_POOL_POOLER, pool, H, b->mask, B, T);
    double L = 0;
    for (size_t i = 0; i < N * C; i++) L += b->mask[i / C] * (double)H[i] * b->R1[i];
    for (size_t i = 0; i < (size_t)B * C; i++) {
        L += (double)mean[i] * b->R2[i] + (double)cls[i] * b->R4[i];
        if (m->has_pooler) L += (double)pool[i] * b->R3[i];
    }
    /* backward */
    float *dH = malloc(sizeof(float) * N * C);
    float *r2 = malloc(sizeof(float) * B * C), *r3 = malloc(sizeof(float) * B * C), *r4 = malloc(sizeof(float) * B * C);
    for (size_t i = 0; i < N * C; i++) dH[i] = b->mask[i / C] ? (float)b->R1[i] : 0.0f;
    for (size_t i = 0; i < (size_t)B * C; i++) {
        r2[i] = (float)b->R2[i];
        r3[i] = (float)b->R3[i];
        r4[i] = (float)b->R4[i];
    }
    gl_bert_alloc_grads(m);
    gl_bert_zero_grads(m);
    gl_pool_backward(m, GL_POOL_MEAN, dH, r2, mean, H, b->mask, B, T);
    gl_pool_backward(m, GL_POOL_CLS, dH, r4, cls, H, b->mask, B, T);
    if (m->has_pooler) gl_pool_backward(m, GL_POOL_POOLER, dH, r3, pool, H, b->mask, B, T);
    CHECK(gl_bert_backward(m, acts, dH) == 0);
    free(dH);
    free(r2);
    free(r3);
    free(r4);
    return L;
}

/* The model in dir, its reference tensors and the batch they were made on;
 * -1 (after a failed check) when any of them does not load. */
static int load_case(const char *dir, const char *ref_path, gl_bert *m, gl_safetensors *st, batch *b) {
    if (gl_bert_load(m, dir) != 0) {
        CHECK_MSG(0, "%s: %s", dir, gl_error_message());
        return -1;
    }
    if (gl_st_open(st, ref_path) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        gl_bert_free(m);
        return -1;
    }
    if (load_batch(st, b, m->cfg.hidden_size) != 0) {
        CHECK_MSG(0, "%s: the batch does not load", ref_path);
        gl_st_close(st);
        gl_bert_free(m);
        return -1;
    }
    return 0;
}

/* A reference case through the model: the model and its fixture
 * (load_case), forward and backward (run_model), and the forward's max abs
 * errors against the fixture's last_hidden, mean_pooled and pooler_output. */
typedef struct {
    gl_bert m;
    gl_safetensors st;
    batch b;
    gl_bert_acts acts;
    float *mean, *pool, *cls; /* the poolings, B x C */
    double loss, ref_loss;    /* the scalar loss and the fixture's */
    double e_h, e_m, e_p;
} model_run;

/* -1 (after a failed check) when the case does not load */
static int run_case(const char *dir, const char *ref_path, model_run *r) {
    if (load_case(dir, ref_path, &r->m, &r->st, &r->b) != 0) return -1;
    const int B = r->b.B, T = r->b.T, C = r->b.C;
    CHECK(gl_bert_acts_init(&r->acts, &r->m, B, T) == 0);
    r->mean = malloc(sizeof(float) * B * C);
    r->pool = malloc(sizeof(float) * B * C);
    r->cls = malloc(sizeof(float) * B * C);
    const float *H;
    r->loss = run_model(&r->m, &r->b, r->mean, r->pool, r->cls, &H, &r->acts);
    double *ref_h = fx_f64(&r->st, "last_hidden", NULL), *ref_mean = fx_f64(&r->st, "mean_pooled", NULL),
           *ref_pool = fx_f64(&r->st, "pooler_output", NULL), *ref_loss = fx_f64(&r->st, "loss", NULL);
    r->e_h = max_abs_diff_f(H, ref_h, (size_t)B * T * C);
    r->e_m = max_abs_diff_f(r->mean, ref_mean, (size_t)B * C);
    r->e_p = max_abs_diff_f(r->pool, ref_pool, (size_t)B * C);
    r->ref_loss = *ref_loss;
    free(ref_h);
    free(ref_mean);
    free(ref_pool);
    free(ref_loss);
    return 0;
}

static void free_run(model_run *r) {
    free(r->mean);
    free(r->pool);
    free(r->cls);
    free_batch(&r->b);
    gl_bert_acts_free(&r->acts);
    gl_st_close(&r->st);
    gl_bert_free(&r->m);
}

static void test_tiny(void) {
    model_run r;
    if (run_case("tests/fixtures/model/tiny", "tests/fixtures/model/tiny_ref.safetensors", &r) != 0) return;
    const gl_bert *m = &r.m;
    printf("tiny: forward max abs err: hidden %.2e mean %.2e pooler %.2e; loss %.9g vs %.9g\n", r.e_h, r.e_m, r.e_p,
           r.loss, r.ref_loss);
    CHECK(r.e_h <= 1e-5);
    CHECK(r.e_m <= 1e-5);
    CHECK(r.e_p <= 1e-5);
    CHECK_NEAR(r.loss, r.ref_loss, 1e-4 * fabs(r.ref_loss) + 1e-6);

    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m->nparams; i++) {
        const gl_param *p = &m->table[i];
        char key[160];
        snprintf(key, sizeof key, "grad.%s", p->name);
        double *ref = fx_f64(&r.st, key, NULL);
        CHECK_MSG(ref != NULL, "%s", key);
        if (!ref) continue;
        double num = 0, den = 0;
        for (size_t j = 0; j < p->numel; j++) {
            double d = (double)m->grads[p->offset + j] - ref[j];
            num += d * d;
            den += ref[j] * ref[j];
        }
        /* The key bias has an exactly zero gradient (softmax ignores a per-row
         * constant); there only float round-off is left, so bound it absolutely. */
        if (sqrt(den) < 1e-10) {
            CHECK_MSG(sqrt(num) <= 1e-5, "%s: gradient should vanish, |g| = %.3e", p->name, sqrt(num));
            free(ref);
            continue;
        }
        double rel = sqrt(num) / sqrt(den);
        CHECK_MSG(rel <= 1e-4, "%s: relative gradient error %.3e (|g| %.3e)", p->name, rel, sqrt(den));
        if (rel > worst) worst = rel, worst_name = p->name;
        free(ref);
    }
    printf("tiny: %d parameter gradients, worst relative L2 error %.2e (%s)\n", m->nparams, worst, worst_name);
    free_run(&r);
}

/* Checkpoints stored as F16 / BF16, with a "bert." prefix or without pooler. */
static void test_tiny_dtypes(const char *dir, const char *ref_path) {
    gl_bert m;
    CHECK_MSG(gl_bert_load(&m, dir) == 0, "%s", gl_error_message());
    gl_safetensors st;
    CHECK_MSG(gl_st_open(&st, ref_path) == 0, "%s", gl_error_message());
    batch b = {0};
    int64_t n;
    double *ids = fx_f64(&st, "input_ids", &n), *mask = fx_f64(&st, "attention_mask", NULL),
           *ref = fx_f64(&st, "last_hidden", NULL);
    const gl_st_tensor *t = gl_st_find(&st, "input_ids");
    if (!ids || !mask || !ref || !t) {
        CHECK(0);
        return;
    }
    b.B = (int)t->shape[0];
    b.T = (int)t->shape[1];
    b.ids = malloc(sizeof(int32_t) * n);
    b.mask = malloc(n);
    for (int64_t i = 0; i < n; i++) b.ids[i] = (int32_t)ids[i], b.mask[i] = mask[i] != 0;
    gl_bert_acts acts;
    CHECK(gl_bert_acts_init(&acts, &m, b.B, b.T) == 0);
    const float *H = gl_bert_forward(&m, &acts, b.ids, b.mask, b.B, b.T, 0, 0);
    double e = max_abs_diff_f(H, ref, (size_t)n * m.cfg.hidden_size);
    printf("%s: pooler %s, forward max abs err %.2e\n", dir, m.has_pooler ? "present" : "absent", e);
    CHECK(e <= 1e-5);
    free(ids);
    free(mask);
    free(ref);
    free(b.ids);
    free(b.mask);
    gl_bert_acts_free(&acts);
    gl_st_close(&st);
    gl_bert_free(&m);
}

static void test_minilm(void) {
    const char *dir = check_model_dir(); /* the default model: `make model` fetches it */
    model_run r;
    if (run_case(dir, "tests/fixtures/model/minilm_ref.safetensors", &r) != 0) return;
    const gl_bert *m = &r.m;
    double *ref_cls = fx_f64(&r.st, "cls", NULL);
    double e_c = max_abs_diff_f(r.cls, ref_cls, (size_t)r.b.B * r.b.C);
    free(ref_cls);
    printf("minilm: B=%d T=%d forward max abs err: hidden %.2e mean %.2e cls %.2e pooler %.2e; loss %.9g vs %.9g\n",
           r.b.B, r.b.T, r.e_h, r.e_m, e_c, r.e_p, r.loss, r.ref_loss);
    CHECK(r.e_h <= 1e-4);
    CHECK(r.e_m <= 1e-4);
    CHECK(e_c <= 1e-4);
    CHECK(r.e_p <= 1e-4);
    CHECK_NEAR(r.loss, r.ref_loss, 1e-4 * fabs(r.ref_loss));

    double worst_norm = 0, worst_proj = 0, worst_sample = 0;
    for (int i = 0; i < m->nparams; i++) {
        const gl_param *p = &m->table[i];
        const float *g = m->grads + p->offset;
        char key[160];
        snprintf(key, sizeof key, "gnorm.%s", p->name);
        double *rn = fx_f64(&r.st, key, NULL);
        snprintf(key, sizeof key, "gproj.%s", p->name);
        double *rp = fx_f64(&r.st, key, NULL);
        snprintf(key, sizeof key, "gidx.%s", p->name);
        int64_t ns;
        double *ri = fx_f64(&r.st, key, &ns);
        snprintf(key, sizeof key, "gval.%s", p->name);
        double *rv = fx_f64(&r.st, key, NULL);
        if (!rn || !rp || !ri || !rv) {
            CHECK_MSG(0, "fixture lacks gradient data for %s", p->name);
            continue;
        }
        double ss = 0, proj[4] = {0};
        for (size_t j = 0; j < p->numel; j++) {
            double v = g[j];
            ss += v * v;
            for (int k = 0; k < 4; k++) {
                uint64_t h = gl_splitmix64((uint64_t)(k + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)j);
                proj[k] += (h >> 63) ? -v : v;
            }
        }
        double norm = sqrt(ss);
        if (*rn < 1e-10) { /* key bias: exactly zero in theory, round-off here */
            CHECK_MSG(norm <= 1e-4, "%s: gradient should vanish, |g| = %.3e", p->name, norm);
            free(rn);
            free(rp);
            free(ri);
            free(rv);
            continue;
        }
        double rel_norm = fabs(norm - *rn) / *rn;
        /* E[(s . e)^2] = |e|^2 for random signs s: estimate the relative L2 error */
        double pe = 0;
        for (int k = 0; k < 4; k++) pe += (proj[k] - rp[k]) * (proj[k] - rp[k]);
        double rel_proj = sqrt(pe / 4) / *rn;
        double rms = *rn / sqrt((double)p->numel), worst_s = 0;
        for (int64_t s = 0; s < ns; s++) {
            double d = fabs((double)g[(size_t)ri[s]] - rv[s]) / (fabs(rv[s]) + rms);
            if (d > worst_s) worst_s = d;
        }
        CHECK_MSG(rel_norm <= 1e-3, "%s: gradient norm %.6g vs %.6g", p->name, norm, *rn);
        CHECK_MSG(rel_proj <= 1e-3, "%s: estimated relative gradient error %.3e", p->name, rel_proj);
        CHECK_MSG(worst_s <= 1e-3, "%s: sampled gradient entries off by %.3e (relative to |ref|+rms)", p->name,
                  worst_s);
        if (rel_norm > worst_norm) worst_norm = rel_norm;
        if (rel_proj > worst_proj) worst_proj = rel_proj;
        if (worst_s > worst_sample) worst_sample = worst_s;
        free(rn);
        free(rp);
        free(ri);
        free(rv);
    }
    printf("minilm: %d parameter gradients: worst norm rel err %.2e, projected rel err %.2e, sampled %.2e\n",
           m->nparams, worst_norm, worst_proj, worst_sample);
    free_run(&r);
}

/* Training mode (hidden and attention dropout on): the analytic gradient of
 * L = sum mask*H*R1 along its own direction against a central difference
 * with the same dropout masks (they depend only on the seed). fp32, so the
 * tolerance is 1e-3 relative; a wrong mask in backward is off by O(1). */
static double train_loss(gl_bert *m, gl_bert_acts *a, const batch *b, int backward) {
    const size_t N = (size_t)b->B * b->T, C = (size_t)b->C;
    const float *H = gl_bert_forward(m, a, b->ids, b->mask, b->B, b->T, 1, 777);
    double L = 0;
    for (size_t i = 0; i < N * C; i++) L += b->mask[i / C] * (double)H[i] * b->R1[i];
    if (backward) {
        float *dH = malloc(sizeof(float) * N * C);
        for (size_t i = 0; i < N * C; i++) dH[i] = b->mask[i / C] ? (float)b->R1[i] : 0.0f;
        gl_bert_zero_grads(m);
        CHECK(gl_bert_backward(m, a, dH) == 0);
        free(dH);
    }
    return L;
}

static void test_dropout_gradient(void) {
    gl_bert m;
    gl_safetensors st;
    batch b;
    if (load_case("tests/fixtures/model/tiny", "tests/fixtures/model/tiny_ref.safetensors", &m, &st, &b) != 0) return;
    gl_bert_acts acts;
    CHECK(gl_bert_acts_init(&acts, &m, b.B, b.T) == 0);
    gl_bert_alloc_grads(&m);
    m.hidden_dropout = 0.2f;
    m.attn_dropout = 0.2f;
    double L0 = train_loss(&m, &acts, &b, 1);
    double L_eval = 0;
    {
        const float *H = gl_bert_forward(&m, &acts, b.ids, b.mask, b.B, b.T, 0, 0);
        for (size_t i = 0; i < (size_t)b.B * b.T * b.C; i++) L_eval += b.mask[i / b.C] * (double)H[i] * b.R1[i];
    }
    /* direction: the gradient itself, normalised */
    double gn = 0;
    for (size_t i = 0; i < m.size; i++) gn += (double)m.grads[i] * m.grads[i];
    gn = sqrt(gn);
    float *p0 = malloc(sizeof(float) * m.size);
    memcpy(p0, m.params, sizeof(float) * m.size);
    const double eps = 1e-3;
    for (size_t i = 0; i < m.size; i++) m.params[i] = p0[i] + (float)(eps * m.grads[i] / gn);
    double Lp = train_loss(&m, &acts, &b, 0);
    for (size_t i = 0; i < m.size; i++) m.params[i] = p0[i] - (float)(eps * m.grads[i] / gn);
    double Lm = train_loss(&m, &acts, &b, 0);
    double fd = (Lp - Lm) / (2 * eps);
    printf("dropout: training loss %.4f (eval %.4f); directional derivative %.6g vs |g| %.6g\n", L0, L_eval, fd, gn);
    CHECK(fabs(L0 - L_eval) > 1e-3); /* dropout really was applied */
    CHECK_MSG(fabs(fd - gn) <= 1e-3 * gn, "finite difference %.6g vs analytic %.6g", fd, gn);
    free(p0);
    free_batch(&b);
    gl_bert_acts_free(&acts);
    gl_st_close(&st);
    gl_bert_free(&m);
}

/* Data parallelism at the model's level: the rows of a batch split between
 * two passes (gl_bert_forward_rows with row0 = where each part starts), in
 * training mode with dropout, give the whole batch's last hidden state row
 * by row: the same masks (a part drawn as a batch of its own is off by O(1));
 * 1e-5, the forward's fp32 tolerance, since BLAS may round a GEMM of fewer
 * rows differently. The two parts' parameter gradients sum to the whole
 * batch's (1e-5 relative L2: the sums over rows are split in two). */
static void test_split_rows(void) {
    gl_bert m;
    gl_safetensors st;
    batch b;
    if (load_case("tests/fixtures/model/tiny", "tests/fixtures/model/tiny_ref.safetensors", &m, &st, &b) != 0) return;
    const int B = b.B, T = b.T, C = b.C, r = B / 2;
    const size_t N = (size_t)B * T, P = m.size;
    CHECK(B >= 2);
    m.hidden_dropout = m.attn_dropout = 0.2f;
    gl_bert_alloc_grads(&m);
    gl_bert_acts acts;
    CHECK(gl_bert_acts_init(&acts, &m, B, T) == 0);
    float *dH = malloc(sizeof(float) * N * C), *H = malloc(sizeof(float) * N * C);
    float *g_full = malloc(sizeof(float) * P), *g_sum = calloc(P, sizeof(float));
    for (size_t i = 0; i < N * C; i++) dH[i] = b.mask[i / C] ? (float)b.R1[i] : 0.0f;
    memcpy(H, gl_bert_forward(&m, &acts, b.ids, b.mask, B, T, 1, 99), sizeof(float) * N * C);
    float *d = malloc(sizeof(float) * N * C);
    memcpy(d, dH, sizeof(float) * N * C);
    gl_bert_zero_grads(&m);
    CHECK(gl_bert_backward(&m, &acts, d) == 0);
    memcpy(g_full, m.grads, sizeof(float) * P);
    double e_rows = 0, e_own = 0;
    int bits = 1;
    for (int part = 0; part < 2; part++) {
        const int r0 = part ? r : 0, nb = part ? B - r : r;
        const size_t off = (size_t)r0 * T;
        const float *Hp = gl_bert_forward_rows(&m, &acts, b.ids + off, b.mask + off, nb, T, 1, 99, r0);
        for (size_t i = 0; i < (size_t)nb * T * C; i++) {
            double e = fabs((double)Hp[i] - H[off * C + i]);
            e_rows = e > e_rows ? e : e_rows;
            bits &= Hp[i] == H[off * C + i];
        }
        memcpy(d, dH + off * C, sizeof(float) * (size_t)nb * T * C);
        gl_bert_zero_grads(&m);
        CHECK(gl_bert_backward(&m, &acts, d) == 0);
        for (size_t i = 0; i < P; i++) g_sum[i] += m.grads[i];
        if (part) { /* the second part drawn as a batch of its own: other masks */
            const float *Ho = gl_bert_forward_rows(&m, &acts, b.ids + off, b.mask + off, nb, T, 1, 99, 0);
            for (size_t i = 0; i < (size_t)nb * T * C; i++) {
                double e = fabs((double)Ho[i] - H[off * C + i]);
                e_own = e > e_own ? e : e_own;
            }
        }
    }
    double num = 0, den = 0;
    for (size_t i = 0; i < P; i++) {
        num += ((double)g_sum[i] - g_full[i]) * ((double)g_sum[i] - g_full[i]);
        den += (double)g_full[i] * g_full[i];
    }
    double rel = sqrt(num / den);
    printf("split rows (%d + %d of %d, dropout 0.2): hidden max abs diff %.2e (%s), own masks %.2e; gradient sum "
           "rel L2 %.2e\n", r, B - r, B, e_rows, bits ? "bit-identical" : "not bit-identical", e_own, rel);
    CHECK_MSG(e_rows <= 1e-5, "rows of a split batch: hidden differs by %.2e", e_rows);
    CHECK_MSG(e_own > 1e-2, "a part drawn as its own batch should get other masks (diff %.2e)", e_own);
    CHECK_MSG(rel <= 1e-5, "split batch: summed gradients differ by %.2e relative", rel);
    free(dH), free(H), free(g_full), free(g_sum), free(d);
    gl_bert_acts_free(&acts);
    free_batch(&b);
    gl_st_close(&st);
    gl_bert_free(&m);
}

/* Forward-only activations (one layer's buffers, reused by every layer) must
 * give exactly the bits of the training activations: evaluation and dropout
 * forward, on the fixture batch and on a smaller batch run on the same,
 * larger allocation afterwards (as gloss_embed reuses it); the last hidden
 * state is also within the HF tolerance. And they are much smaller. */
static void test_inference_acts(const char *dir, const char *ref_path, double tol) {
    gl_bert m;
    gl_safetensors st;
    batch b;
    if (load_case(dir, ref_path, &m, &st, &b) != 0) return;
    const int B = b.B, T = b.T, C = b.C;
    gl_bert_acts full, inf;
    CHECK(gl_bert_acts_init(&full, &m, B, T) == 0);
    CHECK(gl_bert_acts_init_inference(&inf, &m, B + 3, T + 5) == 0);
    int same = 1;
    for (int training = 0; training <= 1; training++) {
        m.hidden_dropout = m.attn_dropout = training ? 0.2f : 0.1f;
        const float *H1 = gl_bert_forward(&m, &full, b.ids, b.mask, B, T, training, 4242);
        const float *H2 = gl_bert_forward(&m, &inf, b.ids, b.mask, B, T, training, 4242);
        same &= memcmp(H1, H2, sizeof(float) * (size_t)B * T * C) == 0;
        if (!training) {
            double *ref_h = fx_f64(&st, "last_hidden", NULL);
            double e = ref_h ? max_abs_diff_f(H2, ref_h, (size_t)B * T * C) : INFINITY;
            CHECK_MSG(e <= tol, "%s: inference activations, hidden max abs err %.2e", dir, e);
            free(ref_h);
        }
    }
    /* a smaller batch afterwards: the first 2 sequences cut to T - 2 tokens */
    const int B2 = B < 2 ? B : 2, T2 = T - 2;
    int32_t *ids2 = malloc(sizeof(int32_t) * (size_t)B2 * T2);
    uint8_t *mask2 = malloc((size_t)B2 * T2);
    for (int i = 0; i < B2; i++)
        for (int t = 0; t < T2; t++) {
            ids2[i * T2 + t] = b.ids[i * T + t];
            mask2[i * T2 + t] = b.mask[i * T + t];
        }
    const float *H1 = gl_bert_forward(&m, &full, ids2, mask2, B2, T2, 0, 0);
    const float *H2 = gl_bert_forward(&m, &inf, ids2, mask2, B2, T2, 0, 0);
    same &= memcmp(H1, H2, sizeof(float) * (size_t)B2 * T2 * C) == 0;
    CHECK_MSG(same, "%s: forward on inference activations differs from training activations", dir);
    /* backward has nothing to go through on inference activations: an error, not a crash */
    float *dH = calloc((size_t)B2 * T2 * C, sizeof(float));
    gl_bert_alloc_grads(&m);
    CHECK(gl_bert_backward(&m, &inf, dH) == -1 && strstr(gl_error_message(), "gl_bert_acts_init_inference"));
    free(dH);
    gl_bert_acts_free(&full);
    gl_bert_acts_free(&inf);

    /* sizes at batch 32 x 128 (allocated, never touched) */
    if (m.cfg.max_position_embeddings >= 128) {
        CHECK(gl_bert_acts_init(&full, &m, 32, 128) == 0);
        CHECK(gl_bert_acts_init_inference(&inf, &m, 32, 128) == 0);
        printf("%s: activations at 32 x 128: training %.0f MiB, inference %.0f MiB\n", dir,
               full.block_floats * 4.0 / 1048576, inf.block_floats * 4.0 / 1048576);
        CHECK(inf.block_floats * (size_t)m.cfg.num_layers < full.block_floats);
        gl_bert_acts_free(&full);
        gl_bert_acts_free(&inf);
    }
    printf("%s: inference activations give the same bits (eval, dropout, smaller batch after)\n", dir);
    free(ids2);
    free(mask2);
    free_batch(&b);
    gl_st_close(&st);
    gl_bert_free(&m);
}

int main(void) {
    test_tiny();
    test_dropout_gradient();
    test_split_rows();
    test_tiny_dtypes("tests/fixtures/model/tiny_f16", "tests/fixtures/model/tiny_f16_ref.safetensors");
    test_tiny_dtypes("tests/fixtures/model/tiny_bf16", "tests/fixtures/model/tiny_bf16_ref.safetensors");
    test_minilm();
    test_inference_acts("tests/fixtures/model/tiny", "tests/fixtures/model/tiny_ref.safetensors", 1e-5);
    test_inference_acts(check_model_dir(), "tests/fixtures/model/minilm_ref.safetensors", 1e-4);
    return check_summary("test_model");
}
