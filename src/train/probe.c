/* probe.c: linear probe (class-weighted multinomial logistic regression with
 * an L2 penalty) fitted to convergence by L-BFGS (liblbfgs). The features
 * are standardised internally (mean 0, unit variance per channel) so one
 * penalty scale suits any encoder; W and b are mapped back at the end so the
 * probe applies to raw embeddings. The objective is strictly convex in W,
 * so the fit is the optimum, not a point on an optimiser's path. */
#include "train/probe.h"

#include <cblas.h>
#include <lbfgs.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

typedef struct {
    const double *Z; /* n x C, standardised */
    const int *y;
    const double *w; /* per-document weight / sum of weights */
    size_t n;
    int C, K;
    double l2;
    double *logits; /* n x K, then d loss / d logits */
    int iterations;
} probe_problem;

static int progress(void *inst, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g, const lbfgsfloatval_t fx,
                    const lbfgsfloatval_t xnorm, const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int nv,
                    int k, int ls) {
    (void)x, (void)g, (void)fx, (void)xnorm, (void)gnorm, (void)step, (void)nv, (void)ls;
    ((probe_problem *)inst)->iterations = k;
    return 0;
}

/* loss(theta) and its gradient; theta = [W (K x C) | b (K)] */
static lbfgsfloatval_t evaluate(void *inst, const lbfgsfloatval_t *theta, lbfgsfloatval_t *g, const int nv,
                                const lbfgsfloatval_t step) {
    (void)nv, (void)step;
    const probe_problem *p = inst;
    const int C = p->C, K = p->K;
    const double *W = theta, *b = theta + (size_t)K * C;
    double *L = p->logits, loss = 0.0;
    for (size_t i = 0; i < p->n; i++) memcpy(L + i * K, b, sizeof(double) * K);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p->n, K, C, 1.0, p->Z, C, W, C, 1.0, L, K);
    double *gb = g + (size_t)K * C;
    memset(gb, 0, sizeof(double) * K);
    for (size_t i = 0; i < p->n; i++) {
        double *z = L + i * K, mx = z[0], se = 0.0;
        for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
        for (int k = 0; k < K; k++) se += exp(z[k] - mx);
        double lse = mx + log(se);
        loss += p->w[i] * (lse - z[p->y[i]]);
        for (int k = 0; k < K; k++) z[k] = p->w[i] * (exp(z[k] - lse) - (k == p->y[i]));
        for (int k = 0; k < K; k++) gb[k] += z[k];
    }
    /* gW = dL^T Z + l2 W */
    memcpy(g, W, sizeof(double) * (size_t)K * C);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, C, (int)p->n, 1.0, L, K, p->Z, C, p->l2, g, C);
    double sq = 0.0;
    for (size_t j = 0; j < (size_t)K * C; j++) sq += W[j] * W[j];
    return loss + 0.5 * p->l2 * sq;
}

int gl_probe_fit(const float *X, const int *y, size_t n, int C, int K, const double *class_w, int max_iters,
                 double l2, float *W, float *b, gl_probe_info *info) {
    if (n == 0 || C <= 0 || K <= 0 || max_iters <= 0 || !(l2 >= 0)) return gl_error("linear probe: nothing to fit");
    const size_t P = (size_t)K * C + K;
    double *Z = gl_malloc(sizeof(double) * n * (size_t)C), *L = gl_malloc(sizeof(double) * n * (size_t)K);
    double *w = gl_malloc(sizeof(double) * n), *mu = gl_calloc((size_t)C, sizeof(double));
    double *sd = gl_calloc((size_t)C, sizeof(double));
    lbfgsfloatval_t *theta = lbfgs_malloc((int)P);
    int rc = 0;
    if (!Z || !L || !w || !mu || !sd || !theta) {
        rc = gl_error("linear probe: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < C; c++) mu[c] += X[i * C + c];
    for (int c = 0; c < C; c++) mu[c] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < C; c++) sd[c] += (X[i * C + c] - mu[c]) * (X[i * C + c] - mu[c]);
    for (int c = 0; c < C; c++) sd[c] = sqrt(sd[c] / (double)n) + 1e-8;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < C; c++) Z[i * C + c] = (X[i * C + c] - mu[c]) / sd[c];
    double wsum = 0.0;
    for (size_t i = 0; i < n; i++) wsum += (w[i] = class_w ? class_w[y[i]] : 1.0);
    if (!(wsum > 0)) wsum = 1.0;
    for (size_t i = 0; i < n; i++) w[i] /= wsum;
    memset(theta, 0, sizeof(lbfgsfloatval_t) * P);

    probe_problem prob = {Z, y, w, n, C, K, l2, L, 0};
    lbfgs_parameter_t par;
    lbfgs_parameter_init(&par);
    par.max_iterations = max_iters;
    par.epsilon = GL_PROBE_EPSILON; /* stop at |g| <= epsilon * max(1, |theta|) */
    lbfgsfloatval_t fx = 0;
    int st = lbfgs((int)P, theta, &fx, evaluate, progress, &prob, &par);
    /* A line search that can no longer make progress (rounding) or the
     * iteration cap leaves the best point reached in theta: usable. */
    int usable = st == LBFGS_SUCCESS || st == LBFGS_ALREADY_MINIMIZED || st == LBFGSERR_MAXIMUMITERATION ||
                 st == LBFGSERR_ROUNDING_ERROR || st == LBFGSERR_MINIMUMSTEP || st == LBFGSERR_MAXIMUMSTEP ||
                 st == LBFGSERR_MAXIMUMLINESEARCH || st == LBFGSERR_WIDTHTOOSMALL;
    if (!usable) {
        rc = gl_error("linear probe: L-BFGS failed (status %d)", st);
        goto done;
    }
    lbfgsfloatval_t *g = lbfgs_malloc((int)P);
    if (!g) {
        rc = gl_error("linear probe: out of memory");
        goto done;
    }
    fx = evaluate(&prob, theta, g, (int)P, 0);
    double gn = 0.0;
    for (size_t j = 0; j < P; j++) gn += g[j] * g[j];
    lbfgs_free(g);
    if (!isfinite(fx)) {
        rc = gl_error("linear probe: the fit is not finite (non-finite embeddings?)");
        goto done;
    }
    if (info) {
        info->iterations = prob.iterations;
        info->loss = fx;
        info->grad_norm = sqrt(gn);
        info->converged = st == LBFGS_SUCCESS || st == LBFGS_ALREADY_MINIMIZED;
        info->status = st;
    }
    /* logits = Wz (x - mu)/sd + bz = (Wz/sd) x + (bz - sum Wz mu/sd) */
    const double *Wz = theta, *bz = theta + (size_t)K * C;
    for (int k = 0; k < K; k++) {
        double bias = bz[k];
        for (int c = 0; c < C; c++) {
            double v = Wz[(size_t)k * C + c] / sd[c];
            W[(size_t)k * C + c] = (float)v;
            bias -= v * mu[c];
        }
        b[k] = (float)bias;
    }
done:
    free(Z), free(L), free(w), free(mu), free(sd);
    lbfgs_free(theta);
    return rc;
}
