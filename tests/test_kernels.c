/* test_kernels.c: each kernel's forward and backward against float64 PyTorch
 * autograd (tests/fixtures/model/kernels_ref.safetensors), AdamW and clipping
 * against torch.optim.AdamW + clip_grad_norm_ (adamw_ref.safetensors), and the
 * dropout masks. Tolerances: fp32 kernels, 1e-5 of max(1, max |reference|);
 * AdamW, 1e-6 absolute on parameters (the bound). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "kernels/kernels.h"
#include "model/bert.h"
#include "train/optim.h"
#include "util/rng.h"

static gl_safetensors st;

/* fixture tensor as a fresh float array */
static float *ff(const char *name, int64_t *n) {
    int64_t k;
    double *d = fx_f64(&st, name, &k);
    if (!d) {
        CHECK_MSG(0, "fixture tensor %s", name);
        exit(1);
    }
    float *f = malloc(sizeof(float) * (size_t)k);
    for (int64_t i = 0; i < k; i++) f[i] = (float)d[i];
    free(d);
    if (n) *n = k;
    return f;
}

/* max |a - ref| / max(1, max |ref|): absolute for O(1) values, relative where
 * the reference is large (layernorm's dx on a row with a 1e-3 spread is ~1e3) */
static double maxdiff(const float *a, const char *ref_name) {
    int64_t n;
    double *r = fx_f64(&st, ref_name, &n), m = 0, scale = 1;
    for (int64_t i = 0; r && i < n; i++)
        if (fabs(r[i]) > scale) scale = fabs(r[i]);
    for (int64_t i = 0; r && i < n; i++) {
        double d = fabs((double)a[i] - r[i]) / scale;
        if (!(d <= m)) m = d;
    }
    free(r);
    return r ? m : INFINITY;
}

static void test_linear(void) {
    const int N = 10, IC = 8, OC = 16;
    float *x = ff("lin.x", NULL), *w = ff("lin.w", NULL), *b = ff("lin.b", NULL), *dout = ff("lin.dout", NULL);
    float out[160], dx[80] = {0}, dw[128] = {0}, db[16] = {0};
    linear_forward(out, x, w, b, N, IC, OC);
    linear_backward(dx, dw, db, dout, x, w, N, IC, OC);
    double e[4] = {maxdiff(out, "lin.out"), maxdiff(dx, "lin.dx"), maxdiff(dw, "lin.dw"), maxdiff(db, "lin.db")};
    printf("linear: out %.1e dx %.1e dw %.1e db %.1e\n", e[0], e[1], e[2], e[3]);
    for (int i = 0; i < 4; i++) CHECK(e[i] <= 1e-5);
    free(x), free(w), free(b), free(dout);
}

static void test_layernorm(const char *tag, float eps) {
    const int N = 10, C = 8;
    float *x = ff("ln.x", NULL), *w = ff("ln.w", NULL), *b = ff("ln.b", NULL), *dout = ff("ln.dout", NULL);
    float out[80], mean[10], rstd[10], dx[80] = {0}, dw[8] = {0}, db[8] = {0};
    layernorm_forward(out, mean, rstd, x, w, b, N, C, eps);
    layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, C);
    char k[4][32];
    snprintf(k[0], 32, "ln.%s.out", tag);
    snprintf(k[1], 32, "ln.%s.dx", tag);
    snprintf(k[2], 32, "ln.%s.dw", tag);
    snprintf(k[3], 32, "ln.%s.db", tag);
    double e[4] = {maxdiff(out, k[0]), maxdiff(dx, k[1]), maxdiff(dw, k[2]), maxdiff(db, k[3])};
    printf("layernorm eps=%g: out %.1e dx %.1e dw %.1e db %.1e\n", eps, e[0], e[1], e[2], e[3]);
    for (int i = 0; i < 4; i++) CHECK(e[i] <= 1e-5);
    free(x), free(w), free(b), free(dout);
}

static void test_gelu(void) {
    int64_t n;
    float *x = ff("gelu.x", &n), *dout = ff("gelu.dout", NULL);
    float *out = malloc(sizeof(float) * n), *dx = malloc(sizeof(float) * n);
    gelu_forward(out, x, (size_t)n);
    gelu_backward(dx, x, dout, (size_t)n);
    double e0 = maxdiff(out, "gelu.out"), e1 = maxdiff(dx, "gelu.dx");
    printf("gelu: out %.1e dx %.1e\n", e0, e1);
    CHECK(e0 <= 1e-5);
    CHECK(e1 <= 1e-5);
    free(x), free(dout), free(out), free(dx);
}

static void test_attention(void) {
    const int B = 2, T = 5, C = 8, NH = 2;
    float *q = ff("attn.q", NULL), *k = ff("attn.k", NULL), *v = ff("attn.v", NULL), *dout = ff("attn.dout", NULL),
          *m = ff("attn.mask", NULL);
    float qkv[2 * 5 * 24], ctx[80], probs[2 * 2 * 25], dqkv[2 * 5 * 24];
    uint8_t mask[10];
    for (int i = 0; i < B * T; i++) {
        mask[i] = m[i] != 0;
        memcpy(qkv + i * 3 * C, q + i * C, sizeof(float) * C);
        memcpy(qkv + i * 3 * C + C, k + i * C, sizeof(float) * C);
        memcpy(qkv + i * 3 * C + 2 * C, v + i * C, sizeof(float) * C);
    }
    float *scratch = malloc(sizeof(float) * attention_scratch_floats(T) * 64);
    attention_forward(ctx, probs, qkv, mask, B, T, C, NH, 0.0f, 0, scratch);
    attention_backward(dqkv, dout, qkv, probs, B, T, C, NH, 0.0f, 0, scratch);
    float dq[80], dk[80], dv[80];
    for (int i = 0; i < B * T; i++) {
        memcpy(dq + i * C, dqkv + i * 3 * C, sizeof(float) * C);
        memcpy(dk + i * C, dqkv + i * 3 * C + C, sizeof(float) * C);
        memcpy(dv + i * C, dqkv + i * 3 * C + 2 * C, sizeof(float) * C);
    }
    double e[5] = {maxdiff(ctx, "attn.out"), maxdiff(probs, "attn.probs"), maxdiff(dq, "attn.dq"),
                   maxdiff(dk, "attn.dk"), maxdiff(dv, "attn.dv")};
    printf("attention: out %.1e probs %.1e dq %.1e dk %.1e dv %.1e\n", e[0], e[1], e[2], e[3], e[4]);
    for (int i = 0; i < 5; i++) CHECK(e[i] <= 1e-5);
    free(q), free(k), free(v), free(dout), free(m), free(scratch);
}

/* Dropout: the rate, the 1/(1-p) scale, the same mask for the same key (so
 * backward matches forward), different masks for different keys. */
static void test_dropout(void) {
    enum { N = 100000 };
    float *a = malloc(sizeof(float) * N), *b = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) a[i] = b[i] = 1.0f;
    dropout_apply(a, N, 0.1f, 1234);
    dropout_apply(b, N, 0.1f, 1234);
    int zeros = 0, same = 1, scale_ok = 1;
    for (int i = 0; i < N; i++) {
        zeros += a[i] == 0.0f;
        same &= a[i] == b[i];
        scale_ok &= a[i] == 0.0f || fabsf(a[i] - 1.0f / 0.9f) < 1e-6f;
    }
    CHECK(same);
    CHECK(scale_ok);
    CHECK(fabs(zeros / (double)N - 0.1) < 0.005);
    for (int i = 0; i < N; i++) b[i] = 1.0f;
    dropout_apply(b, N, 0.1f, 1235);
    int differ = 0;
    for (int i = 0; i < N; i++) differ += (a[i] == 0.0f) != (b[i] == 0.0f);
    CHECK(differ > N / 10);
    free(a);
    free(b);
}

/* AdamW + clipping, three steps, against torch (float32). */
static void test_adamw(void) {
    gl_safetensors ast;
    CHECK_MSG(gl_st_open(&ast, "tests/fixtures/model/adamw_ref.safetensors") == 0, "%s", gl_error_message());
    gl_safetensors saved = st;
    st = ast;
    /* one flat buffer: p0 (35, decay) then p1 (5, no decay) */
    float params[40], grads[40];
    uint8_t decay[40];
    float *i0 = ff("init.p0", NULL), *i1 = ff("init.p1", NULL);
    memcpy(params, i0, sizeof(float) * 35);
    memcpy(params + 35, i1, sizeof(float) * 5);
    memset(decay, 1, 35);
    memset(decay + 35, 0, 5);
    gl_adamw opt;
    CHECK(gl_adamw_init(&opt, 40, 1e-3, 0.01) == 0);
    double worst = 0, worst_norm = 0;
    for (int s = 1; s <= 3; s++) {
        char k0[64], k1[64], kn[64];
        snprintf(k0, 64, "grad.step%d.p0", s);
        snprintf(k1, 64, "grad.step%d.p1", s);
        snprintf(kn, 64, "clip_norm.step%d", s);
        float *g0 = ff(k0, NULL), *g1 = ff(k1, NULL), *rn = ff(kn, NULL);
        memcpy(grads, g0, sizeof(float) * 35);
        memcpy(grads + 35, g1, sizeof(float) * 5);
        double norm = gl_clip_grad_norm(grads, 40, 1.0);
        double en = fabs(norm - *rn) / *rn;
        if (en > worst_norm) worst_norm = en;
        gl_adamw_step(&opt, params, grads, decay);
        snprintf(k0, 64, "after.step%d.p0", s);
        snprintf(k1, 64, "after.step%d.p1", s);
        double e0 = maxdiff(params, k0), e1 = maxdiff(params + 35, k1);
        if (e0 > worst) worst = e0;
        if (e1 > worst) worst = e1;
        snprintf(k0, 64, "exp_avg_sq.step%d.p0", s);
        CHECK(maxdiff(opt.v, k0) <= 1e-9);
        free(g0), free(g1), free(rn);
    }
    printf("adamw: 3 steps with clipping, max |param - torch| %.2e, clip norm rel err %.1e\n", worst, worst_norm);
    CHECK(worst <= 1e-6);
    CHECK(worst_norm <= 1e-6);
    gl_adamw_free(&opt);
    free(i0), free(i1);
    st = saved;
    gl_st_close(&ast);
}

int main(void) {
    if (gl_st_open(&st, "tests/fixtures/model/kernels_ref.safetensors") != 0) {
        fprintf(stderr, "%s\n", gl_error_message());
        return 1;
    }
    test_linear();
    test_layernorm("e12", 1e-12f);
    test_layernorm("e5", 1e-5f);
    test_gelu();
    test_attention();
    test_dropout();
    test_adamw();
    gl_st_close(&st);
    return check_summary("test_kernels");
}
