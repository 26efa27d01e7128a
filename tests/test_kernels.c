/* test_kernels.c: each kernel's forward and backward against float64 PyTorch
 * autograd (tests/fixtures/model/kernels_ref.safetensors), AdamW and clipping
 * against torch.optim.AdamW + clip_grad_norm_ (adamw_ref.safetensors), and the
 * dropout masks; the vectorised erf/exp/GELU against double libm on dense
 * grids; the chunked reductions (LayerNorm, bias gradients, clip norm, AdamW)
 * give the same bits at 1 and 3 threads. Tolerances: fp32 kernels, 1e-5 of
 * max(1, max |reference|); AdamW, 1e-6 absolute on parameters; erf/exp/GELU
 * as stated at test_vecmath. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "kernels/kernels.h"
#include "kernels/vecmath.h"
#include "model/bert.h"
#include "train/optim.h"
#include "util/blas_core.h"
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
    gl_linear_forward(out, x, w, b, N, IC, OC, 0);
    gl_linear_backward(dx, dw, db, dout, x, w, N, IC, OC, 0);
    double e[4] = {maxdiff(out, "lin.out"), maxdiff(dx, "lin.dx"), maxdiff(dw, "lin.dw"), maxdiff(db, "lin.db")};
    printf("linear: out %.1e dx %.1e dw %.1e db %.1e\n", e[0], e[1], e[2], e[3]);
    for (int i = 0; i < 4; i++) CHECK(e[i] <= 1e-5);
    free(x), free(w), free(b), free(dout);
}

static void test_layernorm(const char *tag, float eps) {
    const int N = 10, C = 8;
    float *x = ff("ln.x", NULL), *w = ff("ln.w", NULL), *b = ff("ln.b", NULL), *dout = ff("ln.dout", NULL);
    float out[80], mean[10], rstd[10], dx[80] = {0}, dw[8] = {0}, db[8] = {0};
    gl_layernorm_forward(out, mean, rstd, x, w, b, N, C, eps);
    gl_layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, C);
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
    gl_gelu_forward(out, x, (size_t)n);
    gl_gelu_backward(dx, x, dout, (size_t)n);
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
    float *scratch = malloc(sizeof(float) * gl_attention_scratch_floats(T) * 64);
    gl_attention_forward(ctx, probs, qkv, mask, B, T, C, NH, 0.0f, 0, 0, scratch);
    gl_attention_backward(dqkv, dout, qkv, probs, B, T, C, NH, 0.0f, 0, 0, scratch);
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

/* The float grid of the erf/GELU tests: every multiple of 2^-14 in [-10, 10]
 * (327681 points, so every float step of the polynomial branches' switch at
 * 0.875 and the clamp at 4 is crossed finely), plus 2000 magnitudes spread
 * log-uniformly over [1e-30, 10] of both signs. */
static float *vm_grid(size_t *n) {
    size_t k = 0, cap = 327681 + 4000;
    float *x = malloc(sizeof(float) * cap);
    for (int i = -10 * 16384; i <= 10 * 16384; i++) x[k++] = (float)i / 16384.0f;
    for (int i = 0; i < 2000; i++) {
        float v = (float)pow(10.0, -30.0 + 31.0 * i / 1999.0);
        x[k++] = v;
        x[k++] = -v;
    }
    *n = k;
    return x;
}

static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double gelu_grad_d(double x) { return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }

/* The vectorised erf, exp and GELU of kernels/vecmath.h against double libm.
 * Tolerances: erf 1e-7 absolute (the max over every float is 7.6e-8, see
 * tools/check_vecmath.c; rounding the exact value to float alone costs up to 3.0e-8);
 * exp 4 float ulps relative (2^-22) down to FLT_MIN, 1 subnormal ulp below;
 * GELU and its derivative 1.5e-7 * max(1, |x|) absolute: the inputs of erf
 * (x / sqrt 2) and the sum 1 + erf are rounded to float either way, which costs
 * up to ~1.2e-7 |x| (libm's erff gives the same order; both are printed). */
static void test_vecmath(void) {
    size_t n;
    float *x = vm_grid(&n);
    double e_erf = 0, e_erf_libm = 0, x_erf = 0;
    for (size_t i = 0; i < n; i++) {
        double ref = erf((double)x[i]);
        double d = fabs(gl_erff_v(x[i]) - ref), dl = fabs(erff(x[i]) - ref);
        if (d > e_erf) e_erf = d, x_erf = x[i];
        if (dl > e_erf_libm) e_erf_libm = dl;
    }
    printf("erf: max |erf_v - double erf| %.2e at x = %.7g (libm erff: %.2e), %zu points in [-10, 10]\n", e_erf,
           x_erf, e_erf_libm, n);
    CHECK(e_erf <= 1e-7);

    /* exp over [-104, 89] in steps of 2^-10, plus tiny arguments */
    double e_exp = 0, x_exp = 0;
    int sub_ok = 1;
    for (int i = -104 * 1024; i <= 89 * 1024; i++) {
        float y = (float)i / 1024.0f;
        double ref = exp((double)y), v = gl_expf_v(y);
        if (ref >= 0x1p-126 && ref <= 3.4e38) {
            double d = fabs(v - ref) / ref;
            if (d > e_exp) e_exp = d, x_exp = y;
        } else if (ref < 0x1p-126) {
            sub_ok &= fabs(v - ref) <= 1.5e-45;
        }
    }
    for (int i = -40; i <= -8; i++) {
        float y = (float)pow(10.0, i / 4.0);
        e_exp = fmax(e_exp, fabs(gl_expf_v(y) - exp((double)y)) / exp((double)y));
        e_exp = fmax(e_exp, fabs(gl_expf_v(-y) - exp(-(double)y)) / exp(-(double)y));
    }
    printf("exp: max relative error %.2e (%.2f ulp of 1) at y = %.6g; subnormal range %s\n", e_exp,
           e_exp / 0x1p-23, x_exp, sub_ok ? "ok" : "WRONG");
    CHECK(e_exp <= 0x1p-22);
    CHECK(sub_ok);

    /* special values */
    CHECK(gl_erff_v(INFINITY) == 1.0f && gl_erff_v(-INFINITY) == -1.0f);
    CHECK(isnan(gl_erff_v(NAN)));
    CHECK(gl_erff_v(0.0f) == 0.0f && !signbit(gl_erff_v(0.0f)) && signbit(gl_erff_v(-0.0f)));
    CHECK(gl_erff_v(4.0f) == 1.0f && gl_erff_v(1e30f) == 1.0f && gl_erff_v(-1e30f) == -1.0f);
    CHECK(fabs(gl_erff_v(1e-30f) / (1e-30f * 2.0 / sqrt(M_PI)) - 1) < 0x1p-22); /* relative accuracy near 0 */
    CHECK(gl_expf_v(0.0f) == 1.0f && gl_expf_v(-INFINITY) == 0.0f && gl_expf_v(-200.0f) == 0.0f);
    CHECK(gl_expf_v(INFINITY) == INFINITY && gl_expf_v(89.0f) == INFINITY && isnan(gl_expf_v(NAN)));
    CHECK(gl_expf_v(88.7f) < INFINITY && fabs(gl_expf_v(88.7f) / exp((double)88.7f) - 1) < 0x1p-22);

    /* GELU forward and backward, through the kernels (the vectorised clones) */
    float *out = malloc(sizeof(float) * n), *dx = malloc(sizeof(float) * n), *one = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) one[i] = 1.0f;
    gl_gelu_forward(out, x, n);
    gl_gelu_backward(dx, x, one, n);
    double e_f = 0, e_b = 0, e_fl = 0, e_bl = 0;
    for (size_t i = 0; i < n; i++) {
        double xi = x[i], s = fmax(1.0, fabs(xi));
        e_f = fmax(e_f, fabs(out[i] - gelu_d(xi)) / s);
        e_b = fmax(e_b, fabs(dx[i] - gelu_grad_d(xi)) / s);
        /* the previous libm formulation, for comparison */
        float lf = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        float lb = 0.5f * (1.0f + erff(x[i] * 0.70710678118654752f)) +
                   x[i] * (expf(-0.5f * x[i] * x[i]) * 0.39894228040143268f);
        e_fl = fmax(e_fl, fabs(lf - gelu_d(xi)) / s);
        e_bl = fmax(e_bl, fabs(lb - gelu_grad_d(xi)) / s);
    }
    printf("gelu vs double: forward %.2e, backward %.2e (x max(1,|x|)); libm erff/expf formulation: %.2e, %.2e\n",
           e_f, e_b, e_fl, e_bl);
    CHECK(e_f <= 1.5e-7);
    CHECK(e_b <= 1.5e-7);

    /* element i does not depend on where it falls in a vector or the scalar tail */
    int same = 1;
    for (size_t i = 0; i < n; i += 7) {
        float o1, d1;
        gl_gelu_forward(&o1, x + i, 1);
        gl_gelu_backward(&d1, x + i, one + i, 1);
        same &= memcmp(&o1, out + i, sizeof o1) == 0 && memcmp(&d1, dx + i, sizeof d1) == 0;
    }
    CHECK_MSG(same, "gelu of one element differs from the same element in a long array");
    /* in place (dinp aliasing dout), as gl_bert_backward calls it */
    memcpy(one, dx, sizeof(float) * n);
    for (size_t i = 0; i < n; i++) one[i] = 1.0f;
    gl_gelu_backward(one, x, one, n);
    CHECK(memcmp(one, dx, sizeof(float) * n) == 0);

    /* special values through GELU: as the formula 0.5 x (1 + erf(x / sqrt 2)) gives */
    float sx[5] = {NAN, INFINITY, -INFINITY, -30.0f, 30.0f}, so[5], sd[5], s1[5] = {1, 1, 1, 1, 1};
    gl_gelu_forward(so, sx, 5);
    gl_gelu_backward(sd, sx, s1, 5);
    CHECK(isnan(so[0]) && so[1] == INFINITY && isnan(so[2]) && so[3] == 0.0f && so[4] == 30.0f);
    CHECK(isnan(sd[0]) && isnan(sd[1]) && isnan(sd[2]) && sd[3] == 0.0f && sd[4] == 1.0f);
    free(x), free(out), free(dx), free(one);
}

/* Attention against a double-precision reference written here, at a length
 * that is not a multiple of the 16-lane row reductions (T = 37), with padding,
 * one sequence whose keys are all padding (its probabilities must be all 0),
 * and probability dropout (whose mask must be rng.h's). Forward and backward.
 * Tolerance: 1e-6 of max(1, max |reference|) (float rounding of O(T) sums). */
static void test_attention_long(void) {
    enum { B = 3, T = 37, NH = 2, HS = 8, C = NH * HS, C3 = 3 * C };
    const float p = 0.2f;
    const uint64_t key = 99;
    float *qkv = malloc(sizeof(float) * B * T * C3), *ctx = malloc(sizeof(float) * B * T * C),
          *probs = malloc(sizeof(float) * B * NH * T * T), *dctx = malloc(sizeof(float) * B * T * C),
          *dqkv = malloc(sizeof(float) * B * T * C3);
    double *P = malloc(sizeof(double) * T * T), *Pd = malloc(sizeof(double) * T * T),
           *dP = malloc(sizeof(double) * T * T), *rctx = calloc(B * T * C, sizeof(double)),
           *rprobs = calloc(B * NH * T * T, sizeof(double)), *rdqkv = calloc(B * T * C3, sizeof(double));
    uint8_t mask[B * T];
    gl_rng r = {5};
    for (int i = 0; i < B * T * C3; i++) qkv[i] = 4.0f * ((float)(gl_rng_next(&r) >> 40) / 16777216.0f - 0.5f);
    for (int i = 0; i < B * T * C; i++) dctx[i] = (float)(gl_rng_next(&r) >> 40) / 16777216.0f - 0.5f;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) mask[b * T + t] = b == 0 ? 1 : b == 1 ? t < 30 : 0;
    float *scratch = malloc(sizeof(float) * gl_attention_scratch_floats(T) * 64);
    gl_attention_forward(ctx, probs, qkv, mask, B, T, C, NH, p, key, 0, scratch);
    gl_attention_backward(dqkv, dctx, qkv, probs, B, T, C, NH, p, key, 0, scratch);

    const double scale = 1.0 / sqrt((double)HS), keep = 1.0 / (1.0 - p);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *Q = qkv + (size_t)b * T * C3 + h * HS, *K = Q + C, *V = Q + 2 * C;
            const float *dO = dctx + (size_t)b * T * C + h * HS;
            size_t base = (size_t)(b * NH + h) * T * T;
            for (int i = 0; i < T; i++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    double sc = 0;
                    for (int d = 0; d < HS; d++) sc += (double)Q[i * C3 + d] * K[j * C3 + d];
                    P[i * T + j] = sc * scale;
                    if (mask[b * T + j] && P[i * T + j] > mx) mx = P[i * T + j];
                }
                for (int j = 0; j < T; j++) sum += P[i * T + j] = mask[b * T + j] ? exp(P[i * T + j] - mx) : 0;
                for (int j = 0; j < T; j++) {
                    P[i * T + j] = sum > 0 ? P[i * T + j] / sum : 0;
                    int drop = gl_rng_uniform(key, base + (size_t)i * T + j) < p;
                    Pd[i * T + j] = drop ? 0 : P[i * T + j] * keep;
                    rprobs[base + (size_t)i * T + j] = P[i * T + j];
                }
                for (int d = 0; d < HS; d++) {
                    double o = 0;
                    for (int j = 0; j < T; j++) o += Pd[i * T + j] * V[j * C3 + d];
                    rctx[((size_t)b * T + i) * C + h * HS + d] = o;
                }
            }
            /* backward: dV = Pd^T dO; dPd = dO V^T; dP = dropout(dPd); dS = P (dP - rowsum(P dP)) */
            double *dQ = rdqkv + (size_t)b * T * C3 + h * HS, *dK = dQ + C, *dV = dQ + 2 * C;
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++) {
                    double g = 0;
                    for (int d = 0; d < HS; d++) g += (double)dO[i * C + d] * V[j * C3 + d];
                    int drop = gl_rng_uniform(key, base + (size_t)i * T + j) < p;
                    dP[i * T + j] = drop ? 0 : g * keep;
                    for (int d = 0; d < HS; d++) dV[j * C3 + d] += Pd[i * T + j] * dO[i * C + d];
                }
            for (int i = 0; i < T; i++) {
                double dot = 0;
                for (int j = 0; j < T; j++) dot += P[i * T + j] * dP[i * T + j];
                for (int j = 0; j < T; j++) dP[i * T + j] = P[i * T + j] * (dP[i * T + j] - dot);
            }
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++)
                    for (int d = 0; d < HS; d++) {
                        dQ[i * C3 + d] += scale * dP[i * T + j] * K[j * C3 + d];
                        dK[j * C3 + d] += scale * dP[i * T + j] * Q[i * C3 + d];
                    }
        }
    double e[3] = {0, 0, 0}, m[3] = {1, 1, 1};
    for (int i = 0; i < B * T * C; i++) m[0] = fmax(m[0], fabs(rctx[i]));
    for (int i = 0; i < B * T * C3; i++) m[2] = fmax(m[2], fabs(rdqkv[i]));
    for (int i = 0; i < B * T * C; i++) e[0] = fmax(e[0], fabs(ctx[i] - rctx[i]) / m[0]);
    for (int i = 0; i < B * NH * T * T; i++) e[1] = fmax(e[1], fabs(probs[i] - rprobs[i]));
    for (int i = 0; i < B * T * C3; i++) e[2] = fmax(e[2], fabs(dqkv[i] - rdqkv[i]) / m[2]);
    int zero_row = 1; /* sequence 2: every key is padding */
    for (int i = 2 * NH * T * T; i < B * NH * T * T; i++) zero_row &= probs[i] == 0.0f;
    printf("attention T=%d with padding and dropout vs double: ctx %.1e probs %.1e dqkv %.1e\n", T, e[0], e[1],
           e[2]);
    for (int i = 0; i < 3; i++) CHECK(e[i] <= 1e-6);
    CHECK(zero_row);
    free(qkv), free(ctx), free(probs), free(dctx), free(dqkv), free(P), free(Pd), free(dP), free(rctx),
        free(rprobs), free(rdqkv), free(scratch);
}

/* Dropout: the rate, the 1/(1-p) scale, the same mask for the same key (so
 * backward matches forward), different masks for different keys. */
static void test_dropout(void) {
    enum { N = 100000 };
    float *a = malloc(sizeof(float) * N), *b = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) a[i] = b[i] = 1.0f;
    gl_dropout_apply(a, N, 0.1f, 1234);
    gl_dropout_apply(b, N, 0.1f, 1234);
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
    gl_dropout_apply(b, N, 0.1f, 1235);
    int differ = 0;
    for (int i = 0; i < N; i++) differ += (a[i] == 0.0f) != (b[i] == 0.0f);
    CHECK(differ > N / 10);
    /* exactly the mask of rng.h's gl_rng_uniform (what checkpoints and resumed runs rely on) */
    int exact = 1;
    for (int i = 0; i < N; i++) exact &= (a[i] == 0.0f) == (gl_rng_uniform(1234, (uint64_t)i) < 0.1f);
    CHECK(exact);
    free(a);
    free(b);
}

/* AdamW with the head (the buffer's tail) at 30x the encoder's lr, on a
 * changing schedule, against torch param groups (adamw_groups_ref). */
static void test_adamw_groups(void) {
    gl_safetensors ast;
    CHECK_MSG(gl_st_open(&ast, "tests/fixtures/model/adamw_groups_ref.safetensors") == 0, "%s", gl_error_message());
    gl_safetensors saved = st;
    st = ast;
    enum { N0 = 24, N1 = 12, N2 = 3, N = N0 + N1 + N2 };
    const size_t off[3] = {0, N0, N0 + N1}, len[3] = {N0, N1, N2};
    float params[N], grads[N];
    uint8_t decay[N];
    memset(decay, 1, N0 + N1);
    memset(decay + N0 + N1, 0, N2);
    char k[64];
    for (int i = 0; i < 3; i++) {
        snprintf(k, 64, "init.p%d", i);
        float *x = ff(k, NULL);
        memcpy(params + off[i], x, sizeof(float) * len[i]);
        free(x);
    }
    gl_adamw opt;
    CHECK(gl_adamw_init(&opt, N, 3e-3, 0.01) == 0);
    opt.tail = N0;
    opt.tail_lr_scale = 30.0;
    const double factors[3] = {1.0, 0.5, 0.25};
    double worst = 0;
    for (int s = 1; s <= 3; s++) {
        for (int i = 0; i < 3; i++) {
            snprintf(k, 64, "grad.step%d.p%d", s, i);
            float *g = ff(k, NULL);
            memcpy(grads + off[i], g, sizeof(float) * len[i]);
            free(g);
        }
        opt.lr = 3e-3 * factors[s - 1];
        gl_adamw_step(&opt, params, grads, decay);
        for (int i = 0; i < 3; i++) {
            snprintf(k, 64, "after.step%d.p%d", s, i);
            double e = maxdiff(params + off[i], k);
            if (e > worst) worst = e;
        }
    }
    printf("adamw, head group at 30x lr: 3 scheduled steps, max |param - torch| %.2e\n", worst);
    CHECK(worst <= 1e-6);
    gl_adamw_free(&opt);
    st = saved;
    gl_st_close(&ast);
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

/* ------------------------------------------------------------ bf16 GEMM */
#include <omp.h>

/* C0 (accumulate) + op(A) op(B) in double from the bf16-rounded inputs, and
 * the magnitude |C0| + sum_k |a_ik b_kj| each element's error is measured against */
static void gemm_bf16_ref(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                          const float *C0, int ldc, int acc, double *ref, double *mag) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = acc ? C0[(size_t)i * ldc + j] : 0.0, m = fabs(s);
            for (int k = 0; k < K; k++) {
                double a = gl_bf16_round(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
                double b = gl_bf16_round(tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                s += a * b;
                m += fabs(a * b);
            }
            ref[(size_t)i * N + j] = s;
            mag[(size_t)i * N + j] = m;
        }
}

static void fill_pm1(float *x, size_t n, uint64_t seed) {
    gl_rng r = {seed};
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * (float)(gl_rng_next(&r) >> 40) / 16777216.0f - 1.0f;
}

typedef void gemm_fn(int, int, int, int, int, const float *, int, const float *, int, float *, int, int);

/* One shape through one path: overwrite and accumulate (into a nonzero C) with
 * padded leading dimensions, against the double reference. The bound is that
 * of K + 1 sequential fp32 additions of exact terms: (K + 2) 2^-24 |C0| + sum |a b|.
 * Returns the largest |C - ref| / mag; *out gets C (overwrite) for comparisons. */
static double gemm_bf16_case(gemm_fn *fn, int ta, int tb, int M, int N, int K, float *out) {
    const int pad = 3, ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    const int lda = ac + pad, ldb = bc + pad, ldc = N + pad;
    float *A = malloc(sizeof(float) * (size_t)ar * lda), *B = malloc(sizeof(float) * (size_t)br * ldb);
    float *C0 = malloc(sizeof(float) * (size_t)M * ldc), *C = malloc(sizeof(float) * (size_t)M * ldc);
    double *ref = malloc(sizeof(double) * (size_t)M * N), *mag = malloc(sizeof(double) * (size_t)M * N);
    fill_pm1(A, (size_t)ar * lda, 11 + (uint64_t)M);
    fill_pm1(B, (size_t)br * ldb, 13 + (uint64_t)N);
    fill_pm1(C0, (size_t)M * ldc, 17 + (uint64_t)K);
    double worst = 0.0;
    const double tol = (K + 2) * 0x1p-24;
    for (int acc = 0; acc <= 1; acc++) {
        memcpy(C, C0, sizeof(float) * (size_t)M * ldc);
        fn(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc);
        gemm_bf16_ref(ta, tb, M, N, K, A, lda, B, ldb, C0, ldc, acc, ref, mag);
        int pad_ok = 1;
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                double e = fabs(C[(size_t)i * ldc + j] - ref[(size_t)i * N + j]) / (mag[(size_t)i * N + j] + 1e-300);
                if (!(e <= worst)) worst = e;
            }
            for (int j = N; j < ldc; j++) pad_ok &= C[(size_t)i * ldc + j] == C0[(size_t)i * ldc + j];
        }
        CHECK_MSG(pad_ok, "gl_gemm_bf16 wrote past N (M %d N %d K %d)", M, N, K);
        if (!acc && out)
            for (int i = 0; i < M; i++) memcpy(out + (size_t)i * N, C + (size_t)i * ldc, sizeof(float) * (size_t)N);
    }
    CHECK_MSG(worst <= tol, "gl_gemm_bf16 ta %d tb %d M %d N %d K %d: error %.2e > %.2e", ta, tb, M, N, K, worst, tol);
    free(A), free(B), free(C0), free(C), free(ref), free(mag);
    return worst;
}

/* oneDNN's path as a gemm_fn: it must accept every shape here */
static void gemm_dnnl_checked(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                              float *C, int ldc, int acc) {
    int rc = gl_gemm_bf16_dnnl(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc);
    CHECK_MSG(rc == 0, "gl_gemm_bf16_dnnl refused ta %d tb %d M %d N %d K %d", ta, tb, M, N, K);
}

static void test_gemm_bf16(void) {
    /* rounding: ties to even, subnormals to zero, overflow to inf, NaN kept */
    CHECK(gl_bf16_round(1.0f + 0x1p-8f) == 1.0f);                 /* tie, even below */
    CHECK(gl_bf16_round(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);     /* tie, even above */
    CHECK(gl_bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);
    CHECK(gl_bf16_round(-1.0f - 0x1p-9f) == -1.0f);
    CHECK(gl_bf16_round(1e-40f) == 0.0f && signbit(gl_bf16_round(-1e-40f)));
    CHECK(gl_bf16_round(3.4e38f) == INFINITY && gl_bf16_round(-INFINITY) == -INFINITY);
    CHECK(isnan(gl_bf16_round(NAN)));

    const int has = gl_cpu_has_avx512bf16(), dnnl = gl_dnnl_available();
    if (!has) check_skip("test_kernels", "the AVX512-BF16 GEMM path (this CPU has no AVX512-BF16; scalar path tested)");
    if (!dnnl)
        check_skip("test_kernels", has ? "the oneDNN bf16 GEMM (not built in: no libdnnl-dev)"
                                       : "the oneDNN bf16 GEMM (this CPU has no AVX512-BF16)");
    else { /* without oneDNN or AVX512-BF16 it declines, and writes nothing */
        float c = 7.0f, one = 1.0f;
        CHECK(gl_gemm_bf16_dnnl(0, 0, 1, 1, 1, &one, 1, &one, 1, &c, 1, 1) == 0 && c == 8.0f);
    }
    if (!dnnl) {
        float c = 7.0f, one = 1.0f;
        CHECK(gl_gemm_bf16_dnnl(0, 0, 1, 1, 1, &one, 1, &one, 1, &c, 1, 1) == -1 && c == 7.0f);
    }
    /* (M, N, K): 1 row, 1 column, odd K, K across the 384-value blocks, M past
     * the 192-row tiles, nothing a multiple of the 12 x 32 micro-tile */
    static const int shapes[][3] = {{1, 1, 1},   {1, 37, 5},    {13, 33, 7},   {12, 32, 384}, {29, 65, 385},
                                    {37, 100, 769}, {397, 70, 130}, {200, 1, 33}, {5, 300, 64}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    double worst_s = 0.0, worst_v = 0.0, worst_d = 0.0;
    long differ = 0, total = 0;
    for (int s = 0; s < nshapes; s++)
        for (int t = 0; t < 4; t++) {
            const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ta = t >> 1, tb = t & 1;
            float *cs = malloc(sizeof(float) * (size_t)M * N), *cv = malloc(sizeof(float) * (size_t)M * N);
            double e = gemm_bf16_case(gl_gemm_bf16_scalar, ta, tb, M, N, K, cs);
            if (e > worst_s) worst_s = e;
            if (has) {
                e = gemm_bf16_case(gl_gemm_bf16_avx512, ta, tb, M, N, K, cv);
                if (e > worst_v) worst_v = e;
                for (size_t i = 0; i < (size_t)M * N; i++) differ += memcmp(cs + i, cv + i, sizeof(float)) != 0;
                total += (long)M * N;
            }
            if (dnnl) {
                e = gemm_bf16_case(gemm_dnnl_checked, ta, tb, M, N, K, NULL);
                if (e > worst_d) worst_d = e;
            }
            free(cs), free(cv);
        }
    printf("gl_gemm_bf16: %d shapes x 4 transpose cases x (overwrite, accumulate): max |C - ref| / (|C0| + sum |ab|): "
           "scalar %.2e, avx512 %s%.2e, oneDNN %s%.2e (bound (K+2) 2^-24); avx512 vs scalar: %ld of %ld elements "
           "differ\n",
           nshapes, worst_s, has ? "" : "skipped ", worst_v, dnnl ? "" : "skipped ", worst_d, differ, total);
    char line[512];
    gl_linear_kernels(1, line, sizeof line);
    printf("gl_gemm_bf16 runs: %s; linear layers asked for bf16: %s\n", gl_gemm_kernel_name(gl_gemm_bf16_kernel()),
           line);
    CHECK(gl_gemm_bf16_kernel() == (gl_dnnl_uses_amx() ? GL_GEMM_BF16_DNNL
                                    : has                ? GL_GEMM_BF16_AVX512
                                                         : GL_GEMM_BF16_SCALAR));
    CHECK(has || !gl_linear_bf16_active());

    /* the vector path's rounding: C = 1 x bf16(x) over specials and random values */
    if (has) {
        enum { NX = 4096 };
        float *x = malloc(sizeof(float) * NX), *c = malloc(sizeof(float) * NX), one = 1.0f;
        fill_pm1(x, NX, 5);
        const float sp[] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -1.0f - 0x1p-9f, 1e-40f, -1e-40f, 3.4e38f,
                            -3.4e38f, INFINITY, -INFINITY, 0.0f, -0.0f, 65504.0f, 1e-30f};
        for (int i = 0; i < (int)(sizeof sp / sizeof sp[0]); i++) x[i] = sp[i];
        for (int i = 100; i < NX; i++) x[i] *= exp2f((float)(i % 61 - 30));
        gl_gemm_bf16_avx512(0, 0, 1, NX, 1, &one, 1, x, NX, c, NX, 0);
        int same = 1;
        for (int i = 0; i < NX; i++) {
            float r = gl_bf16_round(x[i]);
            same &= memcmp(&r, c + i, sizeof r) == 0 || (r == 0.0f && c[i] == 0.0f);
        }
        CHECK_MSG(same, "vcvtne2ps2bf16 rounding differs from gl_bf16_round");
        x[0] = NAN;
        gl_gemm_bf16_avx512(0, 0, 1, 2, 1, &one, 1, x, NX, c, NX, 0);
        CHECK(isnan(c[0]) && c[1] == gl_bf16_round(x[1]));
        free(x), free(c);
    }

    /* determinism: the same bits with 1 and 2 threads, and run after run;
     * oneDNN (path 2): run after run at each thread count */
    const int nt = omp_get_max_threads();
    for (int path = 0; path < 3; path++) {
        if ((path == 1 && !has) || (path == 2 && !dnnl)) continue;
        gemm_fn *fn = path == 2 ? gemm_dnnl_checked : path ? gl_gemm_bf16_avx512 : gl_gemm_bf16_scalar;
        const char *pname = path == 2 ? "oneDNN" : path ? "avx512" : "scalar";
        for (int t = 0; t < 3; t++) { /* the linear layer's cases: X W^T, dY W, dY^T X */
            const int ta = t == 2, tb = t == 0, M = t == 2 ? 96 : 397, N = 200, K = t == 2 ? 397 : 777;
            const int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
            float *A = malloc(sizeof(float) * (size_t)ar * ac), *B = malloc(sizeof(float) * (size_t)br * bc);
            float *C[4];
            fill_pm1(A, (size_t)ar * ac, 21);
            fill_pm1(B, (size_t)br * bc, 22);
            for (int r = 0; r < 4; r++) { /* threads 1, 2, 2, 1 */
                C[r] = malloc(sizeof(float) * (size_t)M * N);
                fill_pm1(C[r], (size_t)M * N, 23);
                omp_set_num_threads(r == 0 || r == 3 ? 1 : 2);
                fn(ta, tb, M, N, K, A, ac, B, bc, C[r], N, 1);
            }
            omp_set_num_threads(nt);
            const size_t bytes = sizeof(float) * (size_t)M * N;
            if (path < 2)
                CHECK_MSG(memcmp(C[0], C[1], bytes) == 0, "gl_gemm_bf16 %s case %d: 1 and 2 threads differ", pname, t);
            CHECK_MSG(memcmp(C[1], C[2], bytes) == 0 && memcmp(C[0], C[3], bytes) == 0,
                      "gl_gemm_bf16 %s case %d: two runs differ", pname, t);
            free(A), free(B), free(C[0]), free(C[1]), free(C[2]), free(C[3]);
        }
    }
}

/* the linear layers with bf16 switched on: out, dinp, dw against the double
 * product of the bf16-rounded inputs (the bound of gemm_bf16_case), db and a
 * narrow (head-like) layer unchanged from fp32 */
static double bf16_err(const float *c, const double *ref, const double *mag, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(c[i] - ref[i]) / (mag[i] + 1e-300);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* One kernel choice (gl_gemm_select_force(kernel, active); -1: the CPU's own):
 * where bf16 is then used, the errors of out, dx, dw; else the same bits as
 * fp32. Returns the largest error over the bound (0 when not used). */
static double linear_bf16_case(int kernel, int active) {
    const int used = active >= 0 ? active : gl_linear_bf16_active();
    enum { N = 50, IC = 40, OC = 36 };
    float *x = malloc(sizeof(float) * N * IC), *w = malloc(sizeof(float) * OC * IC), *b = malloc(sizeof(float) * OC);
    float *dout = malloc(sizeof(float) * N * OC), *out = malloc(sizeof(float) * N * OC);
    float *out32 = malloc(sizeof(float) * N * OC), *brows = malloc(sizeof(float) * N * OC);
    float *dx0 = malloc(sizeof(float) * N * IC), *dx = malloc(sizeof(float) * N * IC);
    float *dw0 = malloc(sizeof(float) * OC * IC), *dw = malloc(sizeof(float) * OC * IC);
    float *dx32 = malloc(sizeof(float) * N * IC), *dw32 = malloc(sizeof(float) * OC * IC);
    float db[OC] = {0}, db32[OC] = {0};
    double *ref = malloc(sizeof(double) * N * IC * 2), *mag = malloc(sizeof(double) * N * IC * 2);
    fill_pm1(x, N * IC, 31), fill_pm1(w, OC * IC, 32), fill_pm1(b, OC, 33), fill_pm1(dout, N * OC, 34);
    fill_pm1(dx0, N * IC, 35), fill_pm1(dw0, OC * IC, 36);
    memcpy(dx, dx0, sizeof(float) * N * IC), memcpy(dx32, dx0, sizeof(float) * N * IC);
    memcpy(dw, dw0, sizeof(float) * OC * IC), memcpy(dw32, dw0, sizeof(float) * OC * IC);
    for (int n = 0; n < N; n++) memcpy(brows + n * OC, b, sizeof(float) * OC);

    gl_gemm_select_force(kernel, active);
    gl_linear_forward(out32, x, w, b, N, IC, OC, 0);
    gl_linear_backward(dx32, dw32, db32, dout, x, w, N, IC, OC, 0);
    gl_bert m = {0};
    CHECK(gl_bert_set_bf16(&m, 1) == 0 && m.bf16);
    gl_linear_forward(out, x, w, b, N, IC, OC, m.bf16);
    gl_linear_backward(dx, dw, db, dout, x, w, N, IC, OC, m.bf16);
    /* a 4-output layer (the classification head) stays fp32 */
    float h32[N * 4], h16[N * 4], hd32[N * IC], hd16[N * IC];
    memset(hd32, 0, sizeof hd32), memset(hd16, 0, sizeof hd16);
    gl_linear_forward(h16, x, w, b, N, IC, 4, m.bf16);
    gl_linear_backward(hd16, NULL, NULL, dout, x, w, N, IC, 4, m.bf16);
    CHECK(gl_bert_set_bf16(&m, 0) == 0 && !m.bf16);
    gl_linear_forward(h32, x, w, b, N, IC, 4, m.bf16);
    gl_linear_backward(hd32, NULL, NULL, dout, x, w, N, IC, 4, m.bf16);
    gl_gemm_select_force(-1, -1);
    CHECK(memcmp(h16, h32, sizeof h16) == 0 && memcmp(hd16, hd32, sizeof hd16) == 0);
    CHECK(memcmp(db, db32, sizeof db) == 0); /* bias gradient: fp32 as before */
    const int same = !memcmp(out, out32, sizeof(float) * N * OC) && !memcmp(dx, dx32, sizeof(float) * N * IC) &&
                     !memcmp(dw, dw32, sizeof(float) * OC * IC);
    double worst = 0.0;
    if (!used) {
        CHECK_MSG(same, "linear bf16 switched off by the kernel choice: not the fp32 bits");
    } else {
        CHECK(!same); /* the bf16 path did run */
        double e[3];
        gemm_bf16_ref(0, 1, N, OC, IC, x, IC, w, IC, brows, OC, 1, ref, mag);
        e[0] = bf16_err(out, ref, mag, (size_t)N * OC) / ((IC + 2) * 0x1p-24);
        gemm_bf16_ref(0, 0, N, IC, OC, dout, OC, w, IC, dx0, IC, 1, ref, mag);
        e[1] = bf16_err(dx, ref, mag, (size_t)N * IC) / ((OC + 2) * 0x1p-24);
        gemm_bf16_ref(1, 0, OC, IC, N, dout, OC, x, IC, dw0, IC, 1, ref, mag);
        e[2] = bf16_err(dw, ref, mag, (size_t)OC * IC) / ((N + 2) * 0x1p-24);
        for (int i = 0; i < 3; i++) worst = e[i] > worst ? e[i] : worst;
        CHECK_MSG(worst <= 1.0, "linear bf16 (%s): out %.2f dx %.2f dw %.2f of the bound",
                  gl_gemm_kernel_name((gl_gemm_kernel)kernel), e[0], e[1], e[2]);
    }
    free(x), free(w), free(b), free(dout), free(out), free(out32), free(brows), free(dx0), free(dx), free(dw0),
        free(dw), free(dx32), free(dw32), free(ref), free(mag);
    return worst;
}

static void test_linear_bf16(void) {
    if (!gl_cpu_has_avx512bf16()) {
        gl_bert m = {0};
        CHECK(gl_bert_set_bf16(&m, 1) == -1 && !m.bf16);
        CHECK(!gl_linear_bf16_active());
        printf("linear bf16: SKIP: this CPU has no AVX512-BF16 (gl_bert_set_bf16 refuses to turn it on)\n");
        return;
    }
    /* each bf16 kernel forced on, then the layers' bf16 forced off, then the
     * choice this CPU makes (gemm_select.c) */
    double e_ours = linear_bf16_case(GL_GEMM_BF16_AVX512, 1);
    double e_dnnl = gl_dnnl_available() ? linear_bf16_case(GL_GEMM_BF16_DNNL, 1) : -1.0;
    linear_bf16_case(GL_GEMM_BF16_AVX512, 0);
    linear_bf16_case(-1, -1);
    printf("linear bf16: out, dx, dw within %.2f (ours), %s%.2f (oneDNN) of the bound (K+2) 2^-24 (|C0| + sum |ab|); "
           "off: fp32 bits; this CPU: bf16 %s\n",
           e_ours, e_dnnl < 0 ? "skipped " : "", e_dnnl < 0 ? 0.0 : e_dnnl, gl_linear_bf16_active() ? "used" : "not used");
}

/* The row-chunked and lane-split reductions (LayerNorm, bias gradients, the
 * clip norm) on shapes that leave partial chunks and lane tails: the same
 * bits at 1 and 3 threads, and within 1e-5 of a plain double computation. */
static void test_thread_independence(void) {
    const int N = 200, C = 100, OC = 70; /* 3 full row chunks of 64 + 8; 100 = 12 x 8 + 4 lanes */
    const float eps = 1e-5f;
    gl_rng r = {99};
    float *x = malloc(sizeof(float) * N * C), *dy = malloc(sizeof(float) * N * C), *w = malloc(sizeof(float) * C),
          *b = malloc(sizeof(float) * C);
    for (int i = 0; i < N * C; i++) {
        x[i] = 3.0f + (float)(gl_rng_next(&r) >> 40) / 16777216.0f - 0.5f;
        dy[i] = (float)(gl_rng_next(&r) >> 40) / 16777216.0f - 0.5f;
    }
    for (int c = 0; c < C; c++) w[c] = 0.5f + (float)c / C, b[c] = (float)c / (2 * C) - 0.25f;
    int nt = omp_get_max_threads();
    float *y[2], *dx[2], *dw[2], *db[2], *mean = malloc(sizeof(float) * N), *rstd = malloc(sizeof(float) * N);
    float *dbl[2];
    double norm[2];
    float *g[2], *p[2];
    const size_t n = 10007;
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k == 0 ? 1 : 3);
        y[k] = malloc(sizeof(float) * N * C), dx[k] = calloc((size_t)N * C, sizeof(float));
        dw[k] = calloc(C, sizeof(float)), db[k] = calloc(C, sizeof(float)), dbl[k] = calloc(OC, sizeof(float));
        gl_layernorm_forward(y[k], mean, rstd, x, w, b, N, C, eps);
        gl_layernorm_backward(dx[k], dw[k], db[k], dy, x, w, mean, rstd, N, C);
        /* bias gradient of a linear layer with OC outputs: column sums of N x OC */
        gl_linear_backward(NULL, NULL, dbl[k], dy, x, w, N, C, OC, 0);
        gl_rng rr = {7};
        g[k] = malloc(sizeof(float) * n), p[k] = malloc(sizeof(float) * n);
        for (size_t i = 0; i < n; i++) {
            g[k][i] = (float)(gl_rng_next(&rr) >> 40) / 16777216.0f - 0.5f;
            p[k][i] = (float)(gl_rng_next(&rr) >> 40) / 16777216.0f;
        }
        norm[k] = gl_clip_grad_norm(g[k], n, 1.0);
        gl_adamw opt;
        CHECK(gl_adamw_init(&opt, n, 1e-3, 0.01) == 0);
        gl_adamw_step(&opt, p[k], g[k], NULL);
        gl_adamw_free(&opt);
    }
    omp_set_num_threads(nt);
    CHECK_MSG(memcmp(y[0], y[1], sizeof(float) * N * C) == 0 && memcmp(dx[0], dx[1], sizeof(float) * N * C) == 0 &&
                  memcmp(dw[0], dw[1], sizeof(float) * C) == 0 && memcmp(db[0], db[1], sizeof(float) * C) == 0,
              "layernorm differs between 1 and 3 threads");
    CHECK_MSG(memcmp(dbl[0], dbl[1], sizeof(float) * OC) == 0, "bias gradient differs between 1 and 3 threads");
    CHECK_MSG(norm[0] == norm[1] && memcmp(p[0], p[1], sizeof(float) * n) == 0,
              "clip norm or AdamW differs between 1 and 3 threads");

    /* plain double reference */
    double e[5] = {0}, rw[100] = {0}, rb[100] = {0}, rbl[70] = {0}, ss = 0;
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * C, *gi = dy + (size_t)i * C;
        double m = 0, v = 0, sg = 0, sgx = 0;
        for (int c = 0; c < C; c++) m += xi[c];
        m /= C;
        for (int c = 0; c < C; c++) v += (xi[c] - m) * (xi[c] - m);
        double s = 1.0 / sqrt(v / C + eps);
        for (int c = 0; c < C; c++) {
            double xh = (xi[c] - m) * s, gg = (double)gi[c] * w[c];
            sg += gg, sgx += gg * xh;
            rw[c] += gi[c] * xh, rb[c] += gi[c];
            e[0] = fmax(e[0], fabs(y[0][(size_t)i * C + c] - (xh * w[c] + b[c])));
        }
        for (int c = 0; c < C; c++) {
            double xh = (xi[c] - m) * s;
            double want = ((double)gi[c] * w[c] - sg / C - xh * sgx / C) * s;
            e[1] = fmax(e[1], fabs(dx[0][(size_t)i * C + c] - want) / s);
        }
        for (int o = 0; o < OC; o++) rbl[o] += dy[(size_t)i * OC + o];
    }
    for (int c = 0; c < C; c++) e[2] = fmax(e[2], fmax(fabs(dw[0][c] - rw[c]), fabs(db[0][c] - rb[c])) / N);
    for (int o = 0; o < OC; o++) e[3] = fmax(e[3], fabs(dbl[0][o] - rbl[o]) / N);
    gl_rng rr = {7};
    for (size_t i = 0; i < n; i++) {
        double gi = (float)(gl_rng_next(&rr) >> 40) / 16777216.0f - 0.5f;
        (void)gl_rng_next(&rr);
        ss += gi * gi;
    }
    e[4] = fabs(norm[0] - sqrt(ss)) / sqrt(ss);
    printf("1 vs 3 threads: identical; against double: layernorm out %.1e dx %.1e dw/db %.1e, bias grad %.1e, "
           "clip norm %.1e\n", e[0], e[1], e[2], e[3], e[4]);
    CHECK(e[0] <= 1e-5 && e[1] <= 1e-5 && e[2] <= 1e-5 && e[3] <= 1e-5 && e[4] <= 1e-12);
    for (int k = 0; k < 2; k++) free(y[k]), free(dx[k]), free(dw[k]), free(db[k]), free(dbl[k]), free(g[k]), free(p[k]);
    free(x), free(dy), free(w), free(b), free(mean), free(rstd);
}

static void core_is(const char *detected, gl_cpu_isa isa, const char *want) {
    const char *got = gl_blas_core_for(detected, isa);
    CHECK_MSG(want ? got && !strcmp(got, want) : !got, "blas core for %s: %s, expected %s",
              detected ? detected : "(null)", got ? got : "(none)", want ? want : "(none)");
}

/* The core gloss makes OpenBLAS use where it fell back to Prescott. */
static void test_blas_core(void) {
    gl_cpu_isa none = {0}, avx = {.avx = 1}, avx2 = {.avx = 1, .avx2 = 1, .fma = 1};
    gl_cpu_isa avx512 = avx2;
    avx512.avx512f = avx512.avx512bw = avx512.avx512vl = avx512.avx512dq = avx512.avx512cd = 1;
    gl_cpu_isa avx512f_only = avx2;
    avx512f_only.avx512f = 1;
    gl_cpu_isa avx2_nofma = avx;
    avx2_nofma.avx2 = 1;
    core_is("Prescott", avx512, "SkylakeX");
    core_is("PRESCOTT", avx512, "SkylakeX");
    core_is("Prescott", avx512f_only, "Haswell");  /* AVX-512 F alone is not SkylakeX */
    core_is("Prescott", avx2, "Haswell");
    core_is("Prescott", avx2_nofma, "Sandybridge");
    core_is("Prescott", avx, "Sandybridge");
    core_is("Prescott", none, NULL);                 /* a real SSE3-only CPU keeps it */
    core_is("SkylakeX", avx512, NULL);               /* a detected core is never changed */
    core_is("Cooperlake", avx512, NULL);
    core_is("Zen", avx2, NULL);
    core_is("Haswell", avx512, NULL);
    core_is(NULL, avx512, NULL);
}

int main(void) {
    test_blas_core();
    if (gl_st_open(&st, "tests/fixtures/model/kernels_ref.safetensors") != 0) {
        fprintf(stderr, "%s\n", gl_error_message());
        return 1;
    }
    test_linear();
    test_layernorm("e12", 1e-12f);
    test_layernorm("e5", 1e-5f);
    test_gelu();
    test_vecmath();
    test_attention();
    test_attention_long();
    test_dropout();
    test_adamw();
    test_adamw_groups();
    test_gemm_bf16();
    test_linear_bf16();
    test_thread_independence();
    gl_st_close(&st);
    return check_summary("test_kernels");
}
