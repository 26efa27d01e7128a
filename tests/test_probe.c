/* test_probe.c: the linear probe (src/train/probe.h) against the exact
 * optimum of its objective (tests/fixtures/probe/cases.safetensors, from
 * tools/make_probe_fixtures.py: scipy L-BFGS-B to |g| < 1e-9, cross-checked
 * with scikit-learn's LogisticRegression).
 *
 * Tolerances: gl_probe_fit stops at |g| <= 1e-7 max(1, |theta|); near the
 * optimum the objective's error is then about |g|^2 / (2 l2) and the
 * parameters' error about |g| / l2 (the curvature is at least l2 along W).
 * With |theta| ~ 10 and l2 >= 1e-3 here that is a parameter error up to
 * about 1e-3; measured 5e-5 at worst. So: loss within 1e-8 relative, never
 * below the optimum by more than rounding; W and the centred b within 5e-4
 * of the largest |W|; the predicted class of every training row equal to
 * the optimum's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "io/safetensors.h"
#include "train/probe.h"

#define FIXTURE "tests/fixtures/probe/cases.safetensors"

static int argmax_row(const double *X, const double *W, const double *b, int C, int K) {
    int best = 0;
    double bv = -INFINITY;
    for (int k = 0; k < K; k++) {
        double v = b[k];
        for (int c = 0; c < C; c++) v += W[(size_t)k * C + c] * X[c];
        if (v > bv) bv = v, best = k;
    }
    return best;
}

static void test_fixture(void) {
    gl_safetensors st;
    if (fx_open_from(&st, FIXTURE, "make_probe_fixtures.py") != 0) {
        CHECK(0);
        return;
    }
    int ncases = 0;
    for (int k = 0;; k++) {
        const gl_st_tensor *tx = fx_case(&st, k, "X");
        if (!tx) break;
        ncases++;
        int64_t nx = 0, ny = 0, nw = 0;
        double *Xd = fx_case_f64(&st, k, "X", &nx);
        double *yd = fx_case_f64(&st, k, "y", &ny);
        double *Kd = fx_case_f64(&st, k, "K", NULL);
        double *cw = fx_case_f64(&st, k, "class_w", NULL);
        double *wtd = fx_case_f64(&st, k, "weighted", NULL);
        double *l2 = fx_case_f64(&st, k, "l2", NULL);
        double *Wref = fx_case_f64(&st, k, "W", &nw);
        double *bref = fx_case_f64(&st, k, "b", NULL);
        double *lref = fx_case_f64(&st, k, "loss", NULL);
        if (!Xd || !yd || !Kd || !cw || !wtd || !l2 || !Wref || !bref || !lref) {
            CHECK_MSG(0, "case %d: missing tensors", k);
        } else {
            const size_t n = (size_t)ny;
            const int C = (int)tx->shape[1], K = (int)Kd[0];
            CHECK(tx->dtype == GL_DT_F32 && (size_t)nx == n * (size_t)C && nw == (int64_t)K * C);
            float *X = malloc(sizeof(float) * n * C), *W = malloc(sizeof(float) * (size_t)K * C);
            float *b = malloc(sizeof(float) * K);
            double *Wd = malloc(sizeof(double) * (size_t)K * C), *bd = malloc(sizeof(double) * K);
            int *y = malloc(sizeof(int) * n);
            for (size_t i = 0; i < n * (size_t)C; i++) X[i] = (float)Xd[i];
            for (size_t i = 0; i < n; i++) y[i] = (int)yd[i];
            gl_probe_info info = {0};
            int rc = gl_probe_fit(X, y, n, C, K, wtd[0] ? cw : NULL, 1000, l2[0], W, b, &info);
            CHECK_MSG(rc == 0, "case %d: %s", k, gl_error_message());
            CHECK_MSG(info.converged, "case %d: not converged after %d iterations (|g| %.3g)", k, info.iterations,
                      info.grad_norm);
            double rel_loss = (info.loss - lref[0]) / lref[0];
            CHECK_MSG(fabs(rel_loss) <= 1e-8 && rel_loss >= -1e-12, "case %d: loss %.12g vs optimum %.12g", k,
                      info.loss, lref[0]);
            double wmax = 0, werr = 0, berr = 0, bmean = 0;
            for (int j = 0; j < K * C; j++) {
                wmax = fmax(wmax, fabs(Wref[j]));
                werr = fmax(werr, fabs(W[j] - Wref[j]));
                Wd[j] = W[j];
            }
            for (int j = 0; j < K; j++) bmean += b[j] / (double)K;
            for (int j = 0; j < K; j++) berr = fmax(berr, fabs(b[j] - bmean - bref[j])), bd[j] = b[j] - bmean;
            CHECK_MSG(werr <= 5e-4 * wmax && berr <= 5e-4 * fmax(1.0, wmax), "case %d: |dW| %.3g |db| %.3g (|W| %.3g)",
                      k, werr, berr, wmax);
            int same = 0;
            for (size_t i = 0; i < n; i++)
                same += argmax_row(Xd + i * C, Wd, bd, C, K) == argmax_row(Xd + i * C, Wref, bref, C, K);
            CHECK_MSG(same == (int)n, "case %d: %d of %zu predictions agree", k, same, n);
            printf("case %d: n %zu C %d K %d l2 %g: %d iterations, loss rel. error %.2e, |dW|/|W| %.2e\n", k, n, C, K,
                   l2[0], info.iterations, rel_loss, werr / wmax);
            free(X), free(W), free(b), free(Wd), free(bd), free(y);
        }
        free(Xd), free(yd), free(Kd), free(cw), free(wtd), free(l2), free(Wref), free(bref), free(lref);
    }
    CHECK(ncases == 4);
    gl_st_close(&st);
}

/* The iteration cap is honoured, the result is still usable, and bad
 * arguments are refused with a message instead of crashing. */
static void test_limits(void) {
    const size_t n = 50;
    const int C = 4, K = 3;
    float X[50 * 4], W[12], b[3];
    int y[50];
    for (size_t i = 0; i < n; i++) {
        y[i] = (int)(i % K);
        for (int c = 0; c < C; c++) X[i * C + c] = (float)((c == y[i]) * 2.0 + sin(1.7 * i + c));
    }
    gl_probe_info info = {0};
    CHECK(gl_probe_fit(X, y, n, C, K, NULL, 2, 1e-3, W, b, &info) == 0);
    CHECK(info.iterations <= 2 && !info.converged && isfinite(info.loss));
    CHECK(gl_probe_fit(X, y, n, C, K, NULL, 1000, 1e-3, W, b, &info) == 0);
    CHECK(info.converged && info.iterations > 2);
    CHECK(gl_probe_fit(X, y, 0, C, K, NULL, 10, 1e-3, W, b, &info) == -1);
    CHECK(gl_probe_fit(X, y, n, C, K, NULL, 10, -1.0, W, b, &info) == -1);
    X[5] = NAN;
    CHECK(gl_probe_fit(X, y, n, C, K, NULL, 10, 1e-3, W, b, &info) == -1);
    CHECK(strstr(gl_error_message(), "probe") != NULL);
}

int main(void) {
    test_fixture();
    test_limits();
    return check_summary("test_probe");
}
