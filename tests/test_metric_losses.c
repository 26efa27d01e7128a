/* test_metric_losses.c: gl_supcon_loss, gl_triplet_loss (batch-all, batch-hard) and
 * gl_cosine_pair_loss (src/loss/metric_losses.h).
 *
 * 1. Fixture: tests/fixtures/metric_losses/cases.safetensors, float64 PyTorch
 *    references written by tools/make_metric_loss_fixtures.py (9 batches,
 *    B = 2, 7, 32, K = 1..5, one-class / singleton-class / identical / zero-row
 *    / tied batches; temperatures 0.1, 0.5; margins 1, 5). Loss value to 1e-8
 *    relative (1e-12 absolute where the reference is 0); gradient to 1e-8
 *    relative L2 error, measured separately on the regular rows and on the
 *    rows whose norm is under the 1e-12 normalisation clamp (their gradient is
 *    ~1e12 times larger and would hide the others); a reference gradient with
 *    L2 norm < 1e-10 (0 in exact arithmetic) is compared absolutely.
 * 2. Central finite differences in double, Richardson-extrapolated
 *    ((4 D(s/2) - D(s)) / 3, s = 1e-4, error O(s^4)), on up to 4 coordinates
 *    per case and loss: the coordinate with the largest |gradient| and others
 *    with |gradient| >= 1e-2 of it, to 1e-5 relative. Coordinates where a
 *    perturbation of +-s could cross a relu kink or change a batch-hard
 *    argmax/argmin (worked out from the distances, see kink_near) are skipped,
 *    as are rows under the clamp. Coinciding rows are fine: their smoothed
 *    distance sqrt(|.|^2 + 1e-12) bends on a 1e-6 scale, but it is even in the
 *    step, so central differences see its true derivative 0. Where the whole
 *    gradient is 0 (max |g| < 1e-10) the differences must be 0 to 1e-9.
 * 3. Degenerate inputs (B = 0, 1, 2, identical rows, zero rows, one class,
 *    all singletons, tiny and large magnitudes, tiny temperature) give finite
 *    values and gradients; the empty-set conventions give exactly 0.
 *    A triplet whose value is exactly 0 is excluded from the batch-all mean
 *    and contributes no gradient (relu subgradient 0 at 0).
 * 4. `scale` multiplies the gradient (not the loss); dh is overwritten, not
 *    accumulated; dh = NULL gives the same loss. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "loss/metric_losses.h"

#define FIXTURE "tests/fixtures/metric_losses/cases.safetensors"
#define VALUE_TOL 1e-8
#define GRAD_TOL 1e-8
#define FD_TOL 1e-5
#define FD_STEP 1e-4
#define NORM_EPS 1e-12
#define ZERO_GRAD 1e-10 /* a gradient below this (L2) counts as exactly 0 */

typedef enum { L_SUPCON, L_TRIPLET_ALL, L_TRIPLET_HARD, L_COSINE } kind;
typedef struct {
    const char *name; /* fixture suffix */
    kind k;
    double param; /* temperature or margin */
} loss_cfg;

static const loss_cfg CFGS[] = {
    {"supcon_t0.1", L_SUPCON, 0.1},          {"supcon_t0.5", L_SUPCON, 0.5},
    {"triplet_all_m1", L_TRIPLET_ALL, 1.0},  {"triplet_all_m5", L_TRIPLET_ALL, 5.0},
    {"triplet_hard_m1", L_TRIPLET_HARD, 1.0}, {"triplet_hard_m5", L_TRIPLET_HARD, 5.0},
    {"cosine", L_COSINE, 0.0},
};
#define NCFG ((int)(sizeof CFGS / sizeof CFGS[0]))

static double run_loss(const loss_cfg *c, const double *h, const int *y, int B, int C, double scale, double *dh) {
    switch (c->k) {
    case L_SUPCON: return gl_supcon_loss(h, y, B, C, c->param, scale, dh);
    case L_TRIPLET_ALL: return gl_triplet_loss(h, y, B, C, c->param, 0, scale, dh);
    case L_TRIPLET_HARD: return gl_triplet_loss(h, y, B, C, c->param, 1, scale, dh);
    case L_COSINE: return gl_cosine_pair_loss(h, y, B, C, scale, dh);
    }
    return NAN;
}

static double row_norm(const double *h, int C) {
    double s = 0;
    for (int c = 0; c < C; c++) s += h[c] * h[c];
    return sqrt(s);
}

static int all_finite(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* ---------------------------------------------------------------- kinks */

static double dist(const double *h, int C, int i, int j) {
    double s = 0;
    for (int c = 0; c < C; c++) {
        double d = h[(size_t)i * C + c] - h[(size_t)j * C + c];
        s += d * d;
    }
    return sqrt(s + 1e-12);
}

/* Could moving row r by at most s (in one coordinate) cross a kink of the
 * triplet loss? Only the distances d_rj change, each by at most s, so a
 * triplet value moves by at most 2s, and for an anchor a != r only d_ar moves.
 * Conservatively (2s everywhere):
 *   batch_all:  a valid triplet involving r with |v| <= 2s.
 *   batch_hard: any anchor with |v_a| <= 2s; anchor a == r whose best and
 *               second-best positive (or negative) distances are within 2s;
 *               anchor a != r where r is a positive (negative) candidate and
 *               d_ar is within 2s of the best other candidate (this also
 *               catches exact ties involving r). */
static int kink_near(const double *h, const int *y, int B, int C, double m, int hard, int r, double s) {
    double *D = malloc(sizeof(double) * (size_t)B * B);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) D[(size_t)i * B + j] = dist(h, C, i, j);
    int near = 0;
    if (!hard) {
        for (int a = 0; a < B && !near; a++)
            for (int p = 0; p < B && !near; p++) {
                if (p == a || y[p] != y[a]) continue;
                for (int n = 0; n < B; n++) {
                    if (y[n] == y[a] || (a != r && p != r && n != r)) continue;
                    if (fabs(D[(size_t)a * B + p] - D[(size_t)a * B + n] + m) <= 2 * s) near = 1;
                }
            }
    } else {
        for (int a = 0; a < B && !near; a++) {
            const double *Da = D + (size_t)a * B;
            /* best candidate (pb / nb), best over candidates other than r
             * (pr / nr), and second best over candidates whose row differs
             * from the best's (p2 / n2): when a itself moves, coinciding rows
             * keep tying and the first index keeps winning. */
            int pb = -1, nb = -1;
            double pr = -INFINITY, nr = INFINITY, p2 = -INFINITY, n2 = INFINITY;
            for (int j = 0; j < B; j++) {
                if (j == a) continue;
                if (y[j] == y[a]) {
                    if (pb < 0 || Da[j] > Da[pb]) pb = j;
                    if (j != r && Da[j] > pr) pr = Da[j];
                } else {
                    if (nb < 0 || Da[j] < Da[nb]) nb = j;
                    if (j != r && Da[j] < nr) nr = Da[j];
                }
            }
            const int haspos = pb >= 0, hasneg = nb >= 0;
            for (int j = 0; j < B && haspos && hasneg; j++) {
                if (j == a) continue;
                const int q = y[j] == y[a] ? pb : nb;
                if (memcmp(h + (size_t)j * C, h + (size_t)q * C, sizeof(double) * (size_t)C) == 0) continue;
                if (y[j] == y[a] && Da[j] > p2) p2 = Da[j];
                if (y[j] != y[a] && Da[j] < n2) n2 = Da[j];
            }
            const double p1 = haspos ? Da[pb] : 0, n1 = hasneg ? Da[nb] : 0;
            if (!haspos || !hasneg) continue;
            if (fabs(p1 - n1 + m) <= 2 * s) near = 1;
            if (a == r) {
                if (p1 - p2 <= 2 * s || n2 - n1 <= 2 * s) near = 1;
            } else {
                if (y[r] == y[a] && fabs(Da[r] - pr) <= 2 * s) near = 1;
                if (y[r] != y[a] && fabs(Da[r] - nr) <= 2 * s) near = 1;
            }
        }
    }
    free(D);
    return near;
}

/* ------------------------------------------------------------ fixture */

static double max_val_err = 0, max_grad_err = 0, max_clamped_grad_err = 0, max_fd_err = 0;
static int n_fd = 0, n_fd_skipped = 0;

/* Relative L2 error of got vs want over the rows selected by sel; absolute
 * where |want| < ZERO_GRAD there (a gradient that is 0 in exact arithmetic,
 * e.g. identical embeddings, where both sides hold rounding noise ~1e-17).
 * Returns -1 if no row is selected. */
static double rel_l2_rows(const double *got, const double *want, const int *sel, int want_sel, int B, int C) {
    double e = 0, w = 0;
    int any = 0;
    for (int i = 0; i < B; i++) {
        if (sel[i] != want_sel) continue;
        any = 1;
        for (int c = 0; c < C; c++) {
            double d = got[(size_t)i * C + c] - want[(size_t)i * C + c];
            e += d * d;
            w += want[(size_t)i * C + c] * want[(size_t)i * C + c];
        }
    }
    if (!any) return -1;
    return sqrt(w) >= ZERO_GRAD ? sqrt(e / w) : sqrt(e);
}

static double fd_derivative(const loss_cfg *cfg, double *h, const int *y, int B, int C, size_t idx, double s) {
    const double x0 = h[idx];
    double D[2];
    for (int k = 0; k < 2; k++) {
        double st = k ? s / 2 : s;
        h[idx] = x0 + st;
        double lp = run_loss(cfg, h, y, B, C, 1.0, NULL);
        h[idx] = x0 - st;
        double lm = run_loss(cfg, h, y, B, C, 1.0, NULL);
        D[k] = (lp - lm) / (2 * st);
    }
    h[idx] = x0;
    return (4 * D[1] - D[0]) / 3;
}

static void check_fd(const loss_cfg *cfg, double *h, const int *y, int B, int C, const double *g, const int *clamped,
                     int k) {
    const int triplet = cfg->k == L_TRIPLET_ALL || cfg->k == L_TRIPLET_HARD;
    const size_t n = (size_t)B * C;
    double gmax = 0;
    for (size_t i = 0; i < n; i++)
        if (!clamped[i / C] && fabs(g[i]) > gmax) gmax = fabs(g[i]);
    /* candidates: largest |g| first, then a deterministic stride through the rest */
    size_t picked[4];
    int np = 0;
    size_t best = n;
    for (size_t i = 0; i < n; i++)
        if (!clamped[i / C] && (best == n || fabs(g[i]) > fabs(g[best]))) best = i;
    size_t stride = (n > 7) ? (n / 7) | 1 : 1, start = (size_t)(k * 131 + (int)(cfg - CFGS) * 17) % n;
    for (size_t t = 0; t <= n && np < 4; t++) {
        size_t i = t == 0 ? best : (start + t * stride) % n;
        if (i >= n || clamped[i / C] || row_norm(h + (i / C) * C, C) < 1e-3) continue;
        if (t > 0 && (i == best || fabs(g[i]) < 1e-2 * gmax)) continue;
        int dup = 0;
        for (int q = 0; q < np; q++) dup |= picked[q] == i;
        if (dup) continue;
        if (triplet && kink_near(h, y, B, C, cfg->param, cfg->k == L_TRIPLET_HARD, (int)(i / C), FD_STEP)) {
            n_fd_skipped++;
            continue;
        }
        picked[np++] = i;
    }
    for (int q = 0; q < np; q++) {
        size_t i = picked[q];
        double fd = fd_derivative(cfg, h, y, B, C, i, FD_STEP);
        n_fd++;
        if (gmax < ZERO_GRAD) {
            CHECK_MSG(fabs(fd) <= 1e-9, "case%d %s: zero gradient but FD %.3g at %zu", k, cfg->name, fd, i);
            continue;
        }
        double err = fabs(fd - g[i]) / fabs(g[i]);
        if (err > max_fd_err) max_fd_err = err;
        CHECK_MSG(err <= FD_TOL, "case%d %s: FD at (%zu,%zu): %.12g vs analytic %.12g (rel %.3g)", k, cfg->name,
                  i / C, i % C, fd, g[i], err);
    }
}

static void test_fixture(void) {
    gl_safetensors st;
    if (gl_st_open(&st, FIXTURE) != 0) {
        CHECK_MSG(0, "cannot open %s", FIXTURE);
        return;
    }
    double *nc = fx_f64(&st, "ncases", NULL);
    CHECK(nc != NULL);
    int ncases = nc ? (int)nc[0] : 0;
    free(nc);
    CHECK(ncases >= 9);
    for (int k = 0; k < ncases; k++) {
        char name[96];
        snprintf(name, sizeof name, "case%d.h", k);
        const gl_st_tensor *th = gl_st_find(&st, name);
        double *h = fx_f64(&st, name, NULL);
        snprintf(name, sizeof name, "case%d.y", k);
        double *yd = fx_f64(&st, name, NULL);
        CHECK(th && h && yd && th->ndim == 2);
        if (!th || !h || !yd) {
            free(h), free(yd);
            continue;
        }
        const int B = (int)th->shape[0], C = (int)th->shape[1];
        int *y = malloc(sizeof(int) * (size_t)B), *clamped = malloc(sizeof(int) * (size_t)B);
        for (int i = 0; i < B; i++) {
            y[i] = (int)yd[i];
            clamped[i] = row_norm(h + (size_t)i * C, C) < NORM_EPS;
        }
        double *dh = malloc(sizeof(double) * (size_t)B * C);
        for (int c = 0; c < NCFG; c++) {
            const loss_cfg *cfg = &CFGS[c];
            snprintf(name, sizeof name, "case%d.%s.value", k, cfg->name);
            double *want_v = fx_f64(&st, name, NULL);
            snprintf(name, sizeof name, "case%d.%s.grad", k, cfg->name);
            double *want_g = fx_f64(&st, name, NULL);
            CHECK(want_v && want_g);
            if (!want_v || !want_g) {
                free(want_v), free(want_g);
                continue;
            }
            double v = run_loss(cfg, h, y, B, C, 1.0, dh);
            double ve = want_v[0] != 0 ? fabs(v - want_v[0]) / fabs(want_v[0]) : fabs(v);
            if (ve > max_val_err) max_val_err = ve;
            CHECK_MSG(ve <= (want_v[0] != 0 ? VALUE_TOL : 1e-12), "case%d %s: loss %.17g vs %.17g", k, cfg->name, v,
                      want_v[0]);
            double ge = rel_l2_rows(dh, want_g, clamped, 0, B, C);
            double gc = rel_l2_rows(dh, want_g, clamped, 1, B, C);
            if (ge > max_grad_err) max_grad_err = ge;
            if (gc > max_clamped_grad_err) max_clamped_grad_err = gc;
            CHECK_MSG(ge <= GRAD_TOL, "case%d %s: gradient rel L2 error %.3g", k, cfg->name, ge);
            CHECK_MSG(gc <= GRAD_TOL, "case%d %s: clamped-row gradient rel L2 error %.3g", k, cfg->name, gc);
            check_fd(cfg, h, y, B, C, dh, clamped, k);
            free(want_v), free(want_g);
        }
        free(dh), free(y), free(clamped), free(h), free(yd);
    }
    gl_st_close(&st);
    printf("fixture: worst loss rel err %.2e, gradient rel L2 %.2e (clamped rows %.2e); "
           "FD: %d coordinates, worst rel err %.2e, %d skipped near kinks\n",
           max_val_err, max_grad_err, max_clamped_grad_err, n_fd, max_fd_err, n_fd_skipped);
}

/* ------------------------------------------------------------ degenerate */

static void check_all_finite(const char *what, const double *h, const int *y, int B, int C) {
    double *dh = malloc(sizeof(double) * (size_t)(B * C > 0 ? B * C : 1));
    const double temps[] = {0.01, 0.1, 0.5};
    for (int c = 0; c < NCFG; c++) {
        double v = run_loss(&CFGS[c], h, y, B, C, 1.0, dh);
        CHECK_MSG(isfinite(v) && all_finite(dh, (size_t)B * C), "%s: %s not finite (%g)", what, CFGS[c].name, v);
    }
    for (int t = 0; t < 3; t++) {
        double v = gl_supcon_loss(h, y, B, C, temps[t], 1.0, dh);
        CHECK_MSG(isfinite(v) && all_finite(dh, (size_t)B * C), "%s: supcon t=%g not finite", what, temps[t]);
    }
    free(dh);
}

static int grad_is_zero(const double *dh, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (dh[i] != 0.0) return 0;
    return 1;
}

static void test_degenerate(void) {
    enum { C = 6 };
    double h[8 * C], dh[8 * C];
    int y[8];
    for (int i = 0; i < 8 * C; i++) h[i] = sin(1.3 * i + 0.7) * 2.0;

    /* B = 0 and B = 1: every loss is 0 (no pair), gradient 0. */
    y[0] = 3;
    for (int c = 0; c < NCFG; c++) {
        CHECK(run_loss(&CFGS[c], h, y, 0, C, 1.0, NULL) == 0.0);
        for (int i = 0; i < C; i++) dh[i] = NAN;
        CHECK(run_loss(&CFGS[c], h, y, 1, C, 1.0, dh) == 0.0);
        CHECK(grad_is_zero(dh, C));
    }
    check_all_finite("B=1", h, y, 1, C);

    /* B = 2, two classes: no positive -> supcon and triplet are 0 with zero
     * gradient; cosine is (cos - 0)^2. */
    y[0] = 0, y[1] = 1;
    for (int c = 0; c < NCFG; c++) {
        double v = run_loss(&CFGS[c], h, y, 2, C, 1.0, dh);
        if (CFGS[c].k != L_COSINE) {
            CHECK_MSG(v == 0.0 && grad_is_zero(dh, 2 * C), "B=2 two classes: %s", CFGS[c].name);
        } else {
            double c01 = 0, n0 = row_norm(h, C), n1 = row_norm(h + C, C);
            for (int k = 0; k < C; k++) c01 += h[k] * h[C + k];
            c01 /= n0 * n1;
            CHECK_NEAR(v, c01 * c01, 1e-15);
        }
    }
    /* B = 2, one class: supcon is exactly 0 (the only other sample is the
     * positive: softmax 1 - 1/1), triplet has no negative. */
    y[1] = 0;
    for (int c = 0; c < NCFG; c++) {
        double v = run_loss(&CFGS[c], h, y, 2, C, 1.0, dh);
        if (CFGS[c].k != L_COSINE) CHECK_MSG(fabs(v) <= 1e-15 && all_finite(dh, 2 * C), "B=2 one class: %s", CFGS[c].name);
    }
    check_all_finite("B=2 one class", h, y, 2, C);

    /* One class, B = 8: triplet 0 / zero gradient, supcon finite and > 0. */
    for (int i = 0; i < 8; i++) y[i] = 7;
    CHECK(gl_triplet_loss(h, y, 8, C, 1.0, 0, 1.0, dh) == 0.0 && grad_is_zero(dh, 8 * C));
    CHECK(gl_triplet_loss(h, y, 8, C, 1.0, 1, 1.0, dh) == 0.0 && grad_is_zero(dh, 8 * C));
    CHECK(gl_supcon_loss(h, y, 8, C, 0.1, 1.0, dh) > 0.0);
    check_all_finite("one class", h, y, 8, C);

    /* All singletons: supcon and triplet 0. */
    for (int i = 0; i < 8; i++) y[i] = i;
    CHECK(gl_supcon_loss(h, y, 8, C, 0.1, 1.0, dh) == 0.0 && grad_is_zero(dh, 8 * C));
    CHECK(gl_triplet_loss(h, y, 8, C, 5.0, 0, 1.0, dh) == 0.0 && grad_is_zero(dh, 8 * C));
    CHECK(gl_triplet_loss(h, y, 8, C, 5.0, 1, 1.0, dh) == 0.0 && grad_is_zero(dh, 8 * C));
    check_all_finite("singletons", h, y, 8, C);

    /* Identical embeddings, two classes: supcon = log(B-1) - 0 ... exactly
     * log(7) (all similarities equal), triplet = margin with zero gradient
     * (every difference vector is 0), cosine = share of cross-class pairs. */
    for (int i = 0; i < 8; i++) {
        y[i] = i % 2;
        memcpy(h + i * C, h, sizeof(double) * C);
    }
    CHECK_NEAR(gl_supcon_loss(h, y, 8, C, 0.1, 1.0, dh), log(7.0), 1e-12);
    CHECK(all_finite(dh, 8 * C));
    CHECK_NEAR(gl_triplet_loss(h, y, 8, C, 5.0, 0, 1.0, dh), 5.0, 1e-12);
    CHECK(grad_is_zero(dh, 8 * C));
    CHECK_NEAR(gl_triplet_loss(h, y, 8, C, 1.0, 1, 1.0, dh), 1.0, 1e-12);
    CHECK(grad_is_zero(dh, 8 * C));
    CHECK_NEAR(gl_cosine_pair_loss(h, y, 8, C, 1.0, dh), 16.0 / 28.0, 1e-12);
    check_all_finite("identical", h, y, 8, C);

    /* All-zero embeddings: cosines are 0, supcon = log(B-1). */
    memset(h, 0, sizeof h);
    CHECK_NEAR(gl_supcon_loss(h, y, 8, C, 0.5, 1.0, dh), log(7.0), 1e-12);
    CHECK(grad_is_zero(dh, 8 * C));
    CHECK_NEAR(gl_cosine_pair_loss(h, y, 8, C, 1.0, dh), 12.0 / 28.0, 1e-12);
    CHECK(grad_is_zero(dh, 8 * C));
    check_all_finite("zero", h, y, 8, C);

    /* One zero row among regular ones, tiny rows (under the clamp, and
     * subnormal-squared), large rows. */
    for (int i = 0; i < 8 * C; i++) h[i] = cos(0.9 * i + 0.2);
    memset(h + 2 * C, 0, sizeof(double) * C);
    for (int k = 0; k < C; k++) h[4 * C + k] = 1e-13 * (k + 1);
    for (int k = 0; k < C; k++) h[5 * C + k] = 1e-170 * (k + 1);
    for (int k = 0; k < C; k++) h[6 * C + k] *= 1e30;
    check_all_finite("zero/tiny/large rows", h, y, 8, C);
}

/* A triplet whose value is exactly 0: C = 1, h = 0, 1, 2, y = 0, 0, 1, the
 * margin chosen so that d_01 + m - d_02 == 0 in floating point (the same
 * expression triplet.c evaluates). Triplets: (0,1,2) v = 0, (1,0,2) v = m.
 * batch_all: (0,1,2) is not counted -> L = m over 1 triplet, gradient from
 *   (1,0,2) only: dh = (-1/d_01, 1/d_01 + 1/d_12, -1/d_12).
 * batch_hard: anchors 0 (v = 0) and 1 (v = m) have a positive and a negative,
 *   anchor 2 has no positive -> L = m / 2, gradient half the one above. */
static void test_relu_at_zero(void) {
    const double h[3] = {0.0, 1.0, 2.0};
    const int y[3] = {0, 0, 1};
    const double d01 = sqrt(1.0 + 1e-12), d02 = sqrt(4.0 + 1e-12), d12 = d01;
    double m = d02 - d01;
    for (int it = 0; it < 64 && (d01 + m) - d02 != 0.0; it++) m = nextafter(m, (d01 + m) - d02 > 0 ? 0.0 : 10.0);
    CHECK((d01 + m) - d02 == 0.0);
    const double want[3] = {-1.0 / d01, 1.0 / d01 + 1.0 / d12, -1.0 / d12};
    double dh[3];
    CHECK_NEAR(gl_triplet_loss(h, y, 3, 1, m, 0, 1.0, dh), m, 1e-15);
    for (int i = 0; i < 3; i++) CHECK_NEAR(dh[i], want[i], 1e-15);
    CHECK_NEAR(gl_triplet_loss(h, y, 3, 1, m, 1, 1.0, dh), m / 2, 1e-15);
    for (int i = 0; i < 3; i++) CHECK_NEAR(dh[i], want[i] / 2, 1e-15);
}

/* ------------------------------------------------------------ scale, NULL dh */

static void test_scale(void) {
    enum { B = 9, C = 7 };
    double h[B * C], g1[B * C], gs[B * C];
    int y[B] = {0, 1, 2, 0, 1, 2, 0, 1, 0};
    for (int i = 0; i < B * C; i++) h[i] = sin(0.37 * i * i + 0.1);
    const double scales[] = {2.5, -0.75, 0.0};
    for (int c = 0; c < NCFG; c++) {
        const loss_cfg *cfg = &CFGS[c];
        double v1 = run_loss(cfg, h, y, B, C, 1.0, g1);
        CHECK(v1 > 0);
        CHECK(!grad_is_zero(g1, B * C));
        CHECK(run_loss(cfg, h, y, B, C, 1.0, NULL) == v1);
        for (int s = 0; s < 3; s++) {
            for (int i = 0; i < B * C; i++) gs[i] = NAN; /* dh is overwritten */
            double vs = run_loss(cfg, h, y, B, C, scales[s], gs);
            CHECK_MSG(vs == v1, "%s: loss depends on scale", cfg->name);
            double e = 0, n = 0;
            for (int i = 0; i < B * C; i++) {
                double d = gs[i] - scales[s] * g1[i];
                e += d * d;
                n += g1[i] * g1[i];
            }
            CHECK_MSG(sqrt(e / n) <= 1e-14 && all_finite(gs, B * C), "%s: scale %g: rel err %.3g", cfg->name,
                      scales[s], sqrt(e / n));
        }
    }
}

int main(void) {
    test_fixture();
    test_degenerate();
    test_relu_at_zero();
    test_scale();
    return check_summary("test_metric_losses");
}
