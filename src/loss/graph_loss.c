/* graph_loss.c: G-Loss (../shared/docs/gloss-method.md) and its exact gradient,
 * all in float64. Forward and backward are written side by side below; the
 * notation is that of graph_loss.h. Checked against an independent PyTorch float64
 * implementation (tools/make_gloss_fixtures.py) and finite differences in
 * tests/test_gloss.c.
 *
 * Degenerate cases (never a NaN, never a division by zero):
 *  - U empty (every node labelled): skipped, stats->skipped_no_hidden++.
 *  - L empty (no node labelled): skipped, stats->skipped_no_labelled++.
 *    (U is tested first, so B = 0 counts as "no hidden".)
 *  - every hidden node has a weight of 0 (class weights): skipped, no counter.
 *  - paper: the kernel is shifted per row (build_kernel), so every degree is
 *    at least 1 and no node is isolated, whatever sigma; a very small sigma
 *    makes T approach "go to the nearest neighbour".
 *  - reference: a node whose degree (sum_j A_ij of the globally shifted
 *    kernel) is 0 or below 1e-300 (a very small sigma, an outlier) is
 *    isolated: its row and column of the symmetric normalisation are zero; a
 *    column sum or row sum below 1e-300 later in the chain likewise gives a
 *    zero column / row. Each such node counts once in stats->low_degree (per
 *    call, counted also when the batch is later skipped as singular). A
 *    hidden isolated node gets F_U row = 0, so logits all 0. No gradient
 *    flows through the zeroed rows/columns (they are constants).
 *  - a class with no visible node: F_U[:, c] = 0 (paper: a hidden node of
 *    that class has its true-class probability clamped to prob_floor,
 *    counted in stats->clamped, no gradient). Likewise a hidden node whose
 *    propagated probability of its true class is below prob_floor.
 *  - I - T_UU singular (dgetrf info > 0) or reciprocal condition number
 *    (dgecon, 1-norm) below rcond_min, or not a number: skipped,
 *    stats->skipped_singular++ (e.g. a group of hidden nodes whose edges to L
 *    all underflow).
 *  - labels outside [0, K): a labelled node with such a label adds no row of
 *    Y_L; a hidden one is left out of the loss (weight 0).
 *  - |h_i| < 1e-12: e_i = h_i / 1e-12 (torch's F.normalize convention).
 * A skipped call returns 0, sets *skipped = 1 and zeroes dh.
 * Allocation failure: an out-of-memory error is set (gl_error_oom), NaN
 * returned, *skipped = 1, dh zeroed. */
#include "loss/graph_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/lapack.h"
#include "util/rng.h"

#define NORM_EPS 1e-12 /* |h| clamp of the L2 normalisation */
#define TINY 1e-300    /* degree / sum below which a node is isolated */

void gl_gloss_params_default(gl_gloss_params *p) {
    p->sigma = 1.0;
    p->variant = GL_GLOSS_VARIANT_PAPER;
    p->prob_floor = 1e-10;
    p->rcond_min = 1e-12;
}

/* ------------------------------------------------------------------------ */
/* Choice of L: exactly n = round(gamma B) (clamped to [0, B]) nodes, a      */
/* partial Fisher-Yates shuffle of 0..B-1 driven by gl_rng seeded with seed. */
/* round() is C's: halves away from zero (gamma B = 2.5 -> 3).               */
/* ------------------------------------------------------------------------ */
void gl_gloss_pick_labelled(uint8_t *labelled, int B, double gamma, uint64_t seed) {
    if (B <= 0) return;
    double x = round(gamma * (double)B);
    int n = x >= (double)B ? B : x > 0 ? (int)x : 0; /* NaN -> 0 */
    memset(labelled, 0, (size_t)B);
    gl_rng r = {seed};
    int *idx = malloc(sizeof(int) * (size_t)B);
    if (!idx) { /* no memory: selection sampling (Knuth's algorithm S), same law */
        int need = n;
        for (int i = 0; i < B && need > 0; i++)
            if ((int)gl_rng_below(&r, (uint64_t)(B - i)) < need) labelled[i] = 1, need--;
        return;
    }
    for (int i = 0; i < B; i++) idx[i] = i;
    for (int i = 0; i < n; i++) {
        int j = i + (int)gl_rng_below(&r, (uint64_t)(B - i));
        int t = idx[i];
        idx[i] = idx[j], idx[j] = t;
        labelled[idx[i]] = 1;
    }
    free(idx);
}

/* ------------------------------------------------------------------------ */
/* Workspace: every intermediate the backward pass needs. Matrices B x B are */
/* row-major; the U-sized system M = I - T_UU and F_U are column-major (the  */
/* LAPACK layout): M[a + b nU], F[a + k nU].                                 */
/* ------------------------------------------------------------------------ */
enum { LOW_DEG = 1, LOW_COL = 2, LOW_ROW = 4 };

typedef struct {
    int B, C, K, nU, nL;
    gl_gloss_variant variant;
    double sigma;
    int *U, *L, *ipiv, *iwork;
    uint8_t *low;
    double *r, *e;        /* clamped norms, normalised rows (B x C) */
    double *W, *T;        /* kernel, transition */
    double *deg;          /* paper: row sums of W; reference: row sums a of A */
    double *A, *u, *S, *c, *P, *q; /* reference chain */
    double *M, *F, *dF, *work;
    double *dT, *dX, *dY, *de, *du; /* backward scratch */
    int nlow;
    void *block;
} ws_t;

static void ws_free(ws_t *w) { free(w->block); }

static int ws_alloc(ws_t *w, int B, int C, int K, int nU, int nL, int want_grad) {
    size_t BB = (size_t)B * B, BC = (size_t)B * C, UU = (size_t)nU * nU, UK = (size_t)nU * K;
    size_t nd = B + BC + 2 * BB + B                       /* r e W T deg */
                + 3 * BB + 3 * (size_t)B                  /* A S P u c q */
                + UU + 2 * UK + 4 * (size_t)nU + B        /* M F dF work */
                + (want_grad ? 3 * BB + BC + B : 0);      /* dT dX dY de du */
    size_t ni = (size_t)nU + nL + 2 * (size_t)nU;
    size_t bytes = nd * sizeof(double) + ni * sizeof(int) + (size_t)B;
    memset(w, 0, sizeof *w);
    w->block = malloc(bytes ? bytes : 1);
    if (!w->block) return gl_error_oom("gloss: out of memory (%zu bytes for B=%d C=%d)", bytes, B, C);
    double *d = w->block;
    w->r = d, d += B;
    w->e = d, d += BC;
    w->W = d, d += BB;
    w->T = d, d += BB;
    w->deg = d, d += B;
    w->A = d, d += BB;
    w->S = d, d += BB;
    w->P = d, d += BB;
    w->u = d, d += B;
    w->c = d, d += B;
    w->q = d, d += B;
    w->M = d, d += UU;
    w->F = d, d += UK;
    w->dF = d, d += UK;
    w->work = d, d += 4 * (size_t)nU + B; /* dgecon's 4 nU, or B for neff_median */
    if (want_grad) {
        w->dT = d, d += BB;
        w->dX = d, d += BB;
        w->dY = d, d += BB;
        w->de = d, d += BC;
        w->du = d, d += B;
    }
    int *ip = (int *)d;
    w->U = ip, ip += nU;
    w->L = ip, ip += nL;
    w->ipiv = ip, ip += nU;
    w->iwork = ip, ip += nU;
    w->low = (uint8_t *)ip;
    w->B = B, w->C = C, w->K = K, w->nU = nU, w->nL = nL;
    return 0;
}

/* ---- forward, step 1-2: L2 normalisation and the Gaussian kernel ----------
 *   r_i = max(|h_i|, eps), e_i = h_i / r_i
 *   d2_ij = sum_c (e_ic - e_jc)^2 (differences, exact 0 for equal rows),
 *   W_ij = exp(-d2_ij / (2 sigma^2)), W_ii = 0.
 * Stored shifted, so that a small sigma does not underflow the kernel:
 *   paper:      W'_ij = W_ij exp(m_i / (2 sigma^2)), m_i = min_{j != i} d2_ij
 *               (each row's largest entry is 1). T = D^-1 W is invariant to a
 *               scale per row, so T is exactly the row softmax of
 *               -d2_ij / (2 sigma^2): no node is ever isolated by underflow.
 *   reference:  W'_ij = W_ij exp(m / (2 sigma^2)), m = min_{i != j} d2_ij;
 *               the authors' chain (symmetric, column, row normalisation) is
 *               invariant to one global scale only, so rows far from every
 *               other node can still underflow there (see the guards below).
 * The shifts are constants for the gradient: the result does not depend on
 * them. W' is symmetric for the reference variant, not for the paper one.  */
static void build_kernel(ws_t *w, const double *h) {
    const int B = w->B, C = w->C;
    for (int i = 0; i < B; i++) {
        const double *hi = h + (size_t)i * C;
        double s = 0;
        for (int k = 0; k < C; k++) s += hi[k] * hi[k];
        double n = sqrt(s);
        w->r[i] = n > NORM_EPS ? n : NORM_EPS;
        double *ei = w->e + (size_t)i * C;
        for (int k = 0; k < C; k++) ei[k] = hi[k] / w->r[i];
    }
    double *D2 = w->W; /* d2 first, then the kernel in place */
    for (int i = 0; i < B; i++) {
        const double *ei = w->e + (size_t)i * C;
        D2[(size_t)i * B + i] = 0.0;
        for (int j = i + 1; j < B; j++) {
            const double *ej = w->e + (size_t)j * C;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0; /* four partial sums: vectorisable */
            int k = 0;
            for (; k + 4 <= C; k += 4) {
                double t0 = ei[k] - ej[k], t1 = ei[k + 1] - ej[k + 1];
                double t2 = ei[k + 2] - ej[k + 2], t3 = ei[k + 3] - ej[k + 3];
                s0 += t0 * t0, s1 += t1 * t1, s2 += t2 * t2, s3 += t3 * t3;
            }
            for (; k < C; k++) {
                double t = ei[k] - ej[k];
                s0 += t * t;
            }
            double s = (s0 + s1) + (s2 + s3);
            D2[(size_t)i * B + j] = s;
            D2[(size_t)j * B + i] = s;
        }
    }
    const double g = 1.0 / (2.0 * w->sigma * w->sigma);
    double mall = INFINITY; /* NaN distances are ignored by the minima */
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++)
            if (j != i && D2[(size_t)i * B + j] < mall) mall = D2[(size_t)i * B + j];
    for (int i = 0; i < B; i++) {
        double *row = w->W + (size_t)i * B;
        double m = mall;
        if (w->variant == GL_GLOSS_VARIANT_PAPER) {
            m = INFINITY;
            for (int j = 0; j < B; j++)
                if (j != i && row[j] < m) m = row[j];
        }
        if (!isfinite(m)) m = 0.0;
        for (int j = 0; j < B; j++) row[j] = j == i ? 0.0 : exp(-(row[j] - m) * g);
    }
}

/* ---- forward, step 3: the transition matrix T --------------------------------
 * paper:      deg_i = sum_j W_ij,  T_ij = W_ij / deg_i      (0 if deg_i < TINY)
 * reference:  A = W + W^T, a_i = sum_j A_ij, u_i = a_i^-1/2 (0 if a_i < TINY)
 *             S_ij = u_i A_ij u_j
 *             c_j = sum_i S_ij, P_ij = S_ij / c_j           (0 if c_j < TINY)
 *             q_i = sum_j P_ij, T_ij = P_ij / q_i           (0 if q_i < TINY)  */
static void build_transition(ws_t *w) {
    const int B = w->B;
    const double *W = w->W;
    double *T = w->T;
    memset(w->low, 0, (size_t)B);
    if (w->variant == GL_GLOSS_VARIANT_PAPER) {
        for (int i = 0; i < B; i++) {
            double s = 0;
            for (int j = 0; j < B; j++) s += W[(size_t)i * B + j];
            w->deg[i] = s;
            if (!(s >= TINY)) {
                w->low[i] |= LOW_DEG;
                memset(T + (size_t)i * B, 0, sizeof(double) * B);
            } else
                for (int j = 0; j < B; j++) T[(size_t)i * B + j] = W[(size_t)i * B + j] / s;
        }
    } else {
        double *A = w->A, *S = w->S, *P = w->P;
        for (int i = 0; i < B; i++) {
            double s = 0;
            for (int j = 0; j < B; j++) {
                double v = W[(size_t)i * B + j] + W[(size_t)j * B + i];
                A[(size_t)i * B + j] = v;
                s += v;
            }
            w->deg[i] = s;
            if (!(s >= TINY)) {
                w->low[i] |= LOW_DEG;
                w->u[i] = 0.0;
            } else
                w->u[i] = 1.0 / sqrt(s);
        }
        for (int i = 0; i < B; i++)
            for (int j = 0; j < B; j++) S[(size_t)i * B + j] = w->u[i] * A[(size_t)i * B + j] * w->u[j];
        for (int j = 0; j < B; j++) w->c[j] = 0.0;
        for (int i = 0; i < B; i++)
            for (int j = 0; j < B; j++) w->c[j] += S[(size_t)i * B + j];
        for (int j = 0; j < B; j++)
            if (!(w->c[j] >= TINY)) w->low[j] |= LOW_COL;
        for (int i = 0; i < B; i++) {
            double s = 0;
            for (int j = 0; j < B; j++) {
                double v = (w->low[j] & LOW_COL) ? 0.0 : S[(size_t)i * B + j] / w->c[j];
                P[(size_t)i * B + j] = v;
                s += v;
            }
            w->q[i] = s;
            if (!(s >= TINY)) {
                w->low[i] |= LOW_ROW;
                memset(T + (size_t)i * B, 0, sizeof(double) * B);
            } else
                for (int j = 0; j < B; j++) T[(size_t)i * B + j] = P[(size_t)i * B + j] / s;
        }
    }
    w->nlow = 0;
    for (int i = 0; i < B; i++) w->nlow += w->low[i] != 0;
}

/* ---- forward, step 4: F_U = M^-1 R, M = I - T_UU, R = T_UL Y_L ---------------
 * R[a, k] = sum over labelled l of class k of T[U_a, l]. LU with partial
 * pivoting (dgetrf) and dgetrs; never an inverse. Returns 0, or 1 when M is
 * singular or its 1-norm reciprocal condition number is below rcond_min.     */
static int solve_harmonic(ws_t *w, const int *y, double rcond_min, double *rcond_out) {
    const int B = w->B, K = w->K, nU = w->nU;
    double *M = w->M, *F = w->F;
    for (int b = 0; b < nU; b++)
        for (int a = 0; a < nU; a++)
            M[a + (size_t)b * nU] = (a == b) - w->T[(size_t)w->U[a] * B + w->U[b]];
    memset(F, 0, sizeof(double) * (size_t)nU * K);
    for (int a = 0; a < nU; a++)
        for (int t = 0; t < w->nL; t++) {
            int l = w->L[t];
            if (y[l] >= 0 && y[l] < K) F[a + (size_t)y[l] * nU] += w->T[(size_t)w->U[a] * B + l];
        }
    int info = 0;
    double anorm = dlange_("1", &nU, &nU, M, &nU, w->work, 1);
    dgetrf_(&nU, &nU, M, &nU, w->ipiv, &info);
    if (info != 0) {
        if (rcond_out) *rcond_out = 0.0;
        return 1;
    }
    double rcond = 0.0;
    dgecon_("1", &nU, M, &nU, &anorm, &rcond, w->work, w->iwork, &info, 1);
    if (rcond_out) *rcond_out = rcond;
    if (info != 0 || !(rcond >= rcond_min)) return 1;
    dgetrs_("N", &nU, &K, M, &nU, w->ipiv, F, &nU, &info, 1);
    return info != 0;
}

/* ---- backward of steps 4, 3, 2, 1 ----------------------------------------- */

/* Solve: F = M^-1 R.  dR = M^-T dF (dgetrs with "T" on the same LU);
 * dM = -dR F^T. With M = I - T_UU: dT_UU = dR F^T; with R = T_UL Y_L:
 * dT[U_a, l] = dR[a, y_l]. Everything else of dT is 0 (rows of L, diagonal
 * of T_UU included: T_ii = 0 is a constant, its gradient is dropped later). */
static void backward_solve(ws_t *w, const int *y) {
    const int B = w->B, K = w->K, nU = w->nU;
    double *dR = w->dF; /* overwritten in place */
    int info = 0;
    dgetrs_("T", &nU, &K, w->M, &nU, w->ipiv, dR, &nU, &info, 1);
    memset(w->dT, 0, sizeof(double) * (size_t)B * B);
    for (int a = 0; a < nU; a++) {
        double *row = w->dT + (size_t)w->U[a] * B;
        for (int b = 0; b < nU; b++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += dR[a + (size_t)k * nU] * w->F[b + (size_t)k * nU];
            row[w->U[b]] = s;
        }
        for (int t = 0; t < w->nL; t++) {
            int l = w->L[t];
            if (y[l] >= 0 && y[l] < K) row[l] = dR[a + (size_t)y[l] * nU];
        }
    }
}

/* Row normalisation Y_ij = X_ij / s_i, s_i = sum_j X_ij:
 *   dX_ij = (dY_ij - sum_k dY_ik Y_ik) / s_i          (rows flagged: dX = 0)
 * used for both T = D^-1 W (paper) and T = P / q (reference). */
static void backward_rownorm(int B, const double *dY, const double *Y, const double *s, const uint8_t *low,
                             uint8_t flag, double *dX) {
    for (int i = 0; i < B; i++) {
        const double *dy = dY + (size_t)i * B, *yy = Y + (size_t)i * B;
        double *dx = dX + (size_t)i * B;
        if (low[i] & flag) {
            memset(dx, 0, sizeof(double) * B);
            continue;
        }
        double t = 0;
        for (int j = 0; j < B; j++) t += dy[j] * yy[j];
        for (int j = 0; j < B; j++) dx[j] = (dy[j] - t) / s[i];
    }
}

/* Transition backward: dT -> dW (in w->dX). */
static void backward_transition(ws_t *w) {
    const int B = w->B;
    if (w->variant == GL_GLOSS_VARIANT_PAPER) {
        /* T = W / deg (row normalisation of W) */
        backward_rownorm(B, w->dT, w->T, w->deg, w->low, LOW_DEG, w->dX);
        return;
    }
    double *dP = w->dX, *dS = w->dY, *dA = w->dT; /* dT is dead after dP */
    const double *A = w->A, *P = w->P, *u = w->u;
    /* T = P / q (row normalisation of P) */
    backward_rownorm(B, w->dT, w->T, w->q, w->low, LOW_ROW, dP);
    /* P = S / c (column normalisation): dS_ij = (dP_ij - sum_k dP_kj P_kj) / c_j */
    double *t = w->du; /* scratch: column dot products */
    for (int j = 0; j < B; j++) t[j] = 0.0;
    for (int k = 0; k < B; k++)
        for (int j = 0; j < B; j++) t[j] += dP[(size_t)k * B + j] * P[(size_t)k * B + j];
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++)
            dS[(size_t)i * B + j] = (w->low[j] & LOW_COL) ? 0.0 : (dP[(size_t)i * B + j] - t[j]) / w->c[j];
    /* S_ij = u_i A_ij u_j:  dA_ij = dS_ij u_i u_j,
     *   du_i = sum_j (dS_ij + dS_ji) A_ij u_j      (A symmetric)
     * u_i = a_i^-1/2: da_i = -1/2 a_i^-3/2 du_i = -1/2 u_i^3 du_i (0 if isolated)
     * a_i = sum_j A_ij: dA_ij += da_i.
     * A = W + W^T: dW = dA + dA^T. */
    for (int i = 0; i < B; i++) {
        double s = 0;
        for (int j = 0; j < B; j++) s += (dS[(size_t)i * B + j] + dS[(size_t)j * B + i]) * A[(size_t)i * B + j] * u[j];
        t[i] = -0.5 * u[i] * u[i] * u[i] * s; /* da_i */
    }
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) dA[(size_t)i * B + j] = dS[(size_t)i * B + j] * u[i] * u[j] + t[i];
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) w->dX[(size_t)i * B + j] = dA[(size_t)i * B + j] + dA[(size_t)j * B + i];
}

/* Kernel and normalisation backward: dW (w->dX) -> dh.
 *   W'_ij = exp(-(d2_ij - m) / (2 sigma^2)) (i != j; W_ii and the shift m
 *   constant):
 *     dd2_ij = -dW'_ij W'_ij / (2 sigma^2); d2 is symmetric, so with
 *     g_ij = dd2_ij + dd2_ji:  de_i = sum_{j != i} 2 g_ij (e_i - e_j), done once
 *     per pair i < j (differences, not the Gram form: equal rows give exactly 0)
 *   e_i = h_i / r_i:  r_i = |h_i| > eps: dh_i = (de_i - e_i (e_i . de_i)) / r_i
 *                      otherwise (r_i = eps constant): dh_i = de_i / eps   */
static void backward_embed(ws_t *w, const double *h, double scale, double *dh) {
    const int B = w->B, C = w->C;
    const double gam = 1.0 / (2.0 * w->sigma * w->sigma);
    double *de = w->de;
    memset(de, 0, sizeof(double) * (size_t)B * C);
    for (int i = 0; i < B; i++) {
        const double *ei = w->e + (size_t)i * C;
        double *dei = de + (size_t)i * C;
        for (int j = i + 1; j < B; j++) {
            double g = -(w->dX[(size_t)i * B + j] * w->W[(size_t)i * B + j] +
                         w->dX[(size_t)j * B + i] * w->W[(size_t)j * B + i]) * gam;
            if (g == 0.0) continue;
            const double *ej = w->e + (size_t)j * C;
            double *dej = de + (size_t)j * C;
            double g2 = 2.0 * g;
            for (int k = 0; k < C; k++) {
                double t = g2 * (ei[k] - ej[k]);
                dei[k] += t;
                dej[k] -= t;
            }
        }
    }
    for (int i = 0; i < B; i++) {
        const double *ei = w->e + (size_t)i * C, *dei = de + (size_t)i * C, *hi = h + (size_t)i * C;
        double *o = dh + (size_t)i * C;
        double s = 0, n2 = 0;
        for (int k = 0; k < C; k++) n2 += hi[k] * hi[k];
        if (sqrt(n2) > NORM_EPS) {
            for (int k = 0; k < C; k++) s += ei[k] * dei[k];
            for (int k = 0; k < C; k++) o[k] = scale * (dei[k] - ei[k] * s) / w->r[i];
        } else
            for (int k = 0; k < C; k++) o[k] = scale * dei[k] / NORM_EPS;
    }
}

/* Split the nodes; returns the sum of hidden-node weights. */
static double split(ws_t *w, const uint8_t *labelled, const int *y, const double *class_w) {
    double wsum = 0;
    w->nU = w->nL = 0;
    for (int i = 0; i < w->B; i++) {
        if (labelled[i])
            w->L[w->nL++] = i;
        else {
            w->U[w->nU++] = i;
            if (y[i] >= 0 && y[i] < w->K) wsum += class_w ? class_w[y[i]] : 1.0;
        }
    }
    return wsum;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* median over the non-zero rows of T of 1 / sum_j T_ij^2; tmp holds B doubles */
static double neff_median(const ws_t *w, double *tmp) {
    const int B = w->B;
    int n = 0;
    for (int i = 0; i < B; i++) {
        const double *t = w->T + (size_t)i * B;
        double s = 0;
        for (int j = 0; j < B; j++) s += t[j] * t[j];
        if (s > 0) tmp[n++] = 1.0 / s;
    }
    if (n == 0) return 0.0;
    qsort(tmp, (size_t)n, sizeof(double), cmp_dbl);
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

static void count_split(const uint8_t *labelled, int B, int *nU, int *nL) {
    *nU = *nL = 0;
    for (int i = 0; i < B; i++) labelled[i] ? ++*nL : ++*nU;
}

double gl_gloss_loss(const gl_gloss_params *p, const double *h, const int *y, const uint8_t *labelled, int B, int C,
                  int K, const double *class_w, double scale, double *dh, gl_gloss_stats *stats, int *skipped) {
    int dummy;
    if (!skipped) skipped = &dummy;
    *skipped = 1;
    if (stats) stats->batches++;
    if (dh && B > 0 && C > 0) memset(dh, 0, sizeof(double) * (size_t)B * C);
    int nU, nL;
    count_split(labelled, B > 0 ? B : 0, &nU, &nL);
    if (nU == 0) {
        if (stats) stats->skipped_no_hidden++;
        return 0.0;
    }
    if (nL == 0) {
        if (stats) stats->skipped_no_labelled++;
        return 0.0;
    }
    ws_t w;
    if (ws_alloc(&w, B, C, K, nU, nL, dh != NULL) != 0) return NAN;
    w.variant = p->variant;
    w.sigma = p->sigma;
    double wsum = split(&w, labelled, y, class_w);
    if (!(wsum > 0)) { /* no hidden node carries weight: nothing to learn */
        ws_free(&w);
        return 0.0;
    }

    build_kernel(&w, h);
    build_transition(&w);
    if (stats) stats->low_degree += w.nlow;
    if (solve_harmonic(&w, y, p->rcond_min, NULL) != 0) {
        if (stats) stats->skipped_singular++;
        ws_free(&w);
        return 0.0;
    }
    if (stats) { /* diagnostics: propagation accuracy on U, effective neighbours */
        for (int a = 0; a < w.nU; a++) {
            int yi = y[w.U[a]], best = 0;
            if (yi < 0 || yi >= K) continue;
            for (int k = 1; k < K; k++)
                if (w.F[a + (size_t)k * w.nU] > w.F[a + (size_t)best * w.nU]) best = k;
            stats->hidden_nodes++;
            stats->hidden_correct += best == yi;
        }
        stats->neff_sum += neff_median(&w, w.work);
        stats->neff_batches++;
    }

    /* ---- forward, step 5: the loss; dF = dG/dF_U ----------------------------
     * paper:     G = -sum_a w_a log max(F[a, y_a], floor) / sum_a w_a
     *            dF[a, y_a] = -w_a / (F[a, y_a] sum w)  (0 when clamped)
     * reference: G = sum_a w_a (lse_k F[a, k] - F[a, y_a]) / sum_a w_a
     *            dF[a, k] = w_a (softmax_k(F[a, :]) - [k = y_a]) / sum w     */
    const int nUU = w.nU;
    double G = 0;
    long clamped = 0;
    memset(w.dF, 0, sizeof(double) * (size_t)nUU * K);
    for (int a = 0; a < nUU; a++) {
        int yi = y[w.U[a]];
        if (yi < 0 || yi >= K) continue;
        double wa = class_w ? class_w[yi] : 1.0;
        if (wa == 0.0) continue;
        if (p->variant == GL_GLOSS_VARIANT_PAPER) {
            double f = w.F[a + (size_t)yi * nUU];
            if (f >= p->prob_floor) {
                G -= wa * log(f);
                w.dF[a + (size_t)yi * nUU] = -wa / (f * wsum);
            } else {
                clamped++;
                G -= wa * log(p->prob_floor);
            }
        } else {
            double m = -INFINITY;
            for (int k = 0; k < K; k++) m = fmax(m, w.F[a + (size_t)k * nUU]);
            double s = 0;
            for (int k = 0; k < K; k++) s += exp(w.F[a + (size_t)k * nUU] - m);
            double lse = m + log(s);
            G += wa * (lse - w.F[a + (size_t)yi * nUU]);
            for (int k = 0; k < K; k++)
                w.dF[a + (size_t)k * nUU] = wa * (exp(w.F[a + (size_t)k * nUU] - lse) - (k == yi)) / wsum;
        }
    }
    G /= wsum;
    if (stats) stats->clamped += clamped;
    *skipped = 0;

    if (dh) {
        backward_solve(&w, y);
        backward_transition(&w);
        backward_embed(&w, h, scale, dh);
    }
    ws_free(&w);
    return G;
}

double gl_gloss_neff_median(const gl_gloss_params *p, const double *h, int B, int C) {
    if (B < 2) return 0.0;
    ws_t w;
    if (ws_alloc(&w, B, C, 1, 0, 0, 0) != 0) return NAN;
    w.variant = p->variant;
    w.sigma = p->sigma;
    build_kernel(&w, h);
    build_transition(&w);
    double med = neff_median(&w, w.work);
    ws_free(&w);
    return med;
}

int gl_gloss_propagate(const gl_gloss_params *p, const double *h, const int *y, const uint8_t *labelled, int B, int C,
                    int K, int iters, double *F_U) {
    int nU, nL;
    count_split(labelled, B > 0 ? B : 0, &nU, &nL);
    if (nU == 0 || nL == 0) return gl_error("gloss_propagate: %s", nU == 0 ? "no hidden node" : "no labelled node");
    ws_t w;
    if (ws_alloc(&w, B, C, K, nU, nL, 0) != 0) return -1;
    w.variant = p->variant;
    w.sigma = p->sigma;
    split(&w, labelled, y, NULL);
    build_kernel(&w, h);
    build_transition(&w);
    if (iters <= 0) {
        double rc = 0;
        if (solve_harmonic(&w, y, p->rcond_min, &rc) != 0) {
            ws_free(&w);
            return gl_error("gloss_propagate: I - T_UU singular or ill-conditioned (rcond %g)", rc);
        }
        for (int a = 0; a < nU; a++)
            for (int k = 0; k < K; k++) F_U[(size_t)a * K + k] = w.F[a + (size_t)k * nU];
    } else {
        /* F <- T F over all nodes, F_L clamped to Y_L, from F_U = 0 */
        double *F = calloc((size_t)B * K * 2, sizeof(double));
        if (!F) {
            ws_free(&w);
            return gl_error_oom("gloss_propagate: out of memory");
        }
        double *Fn = F + (size_t)B * K;
        for (int t = 0; t < nL; t++) {
            int l = w.L[t];
            if (y[l] >= 0 && y[l] < K) F[(size_t)l * K + y[l]] = 1.0;
        }
        memcpy(Fn, F, sizeof(double) * (size_t)B * K);
        for (int it = 0; it < iters; it++) {
            for (int a = 0; a < nU; a++) {
                int i = w.U[a];
                double *o = Fn + (size_t)i * K;
                for (int k = 0; k < K; k++) o[k] = 0.0;
                for (int j = 0; j < B; j++) {
                    double tij = w.T[(size_t)i * B + j];
                    if (tij != 0.0)
                        for (int k = 0; k < K; k++) o[k] += tij * F[(size_t)j * K + k];
                }
            }
            double *s = F;
            F = Fn, Fn = s;
        }
        for (int a = 0; a < nU; a++) memcpy(F_U + (size_t)a * K, F + (size_t)w.U[a] * K, sizeof(double) * K);
        free(F < Fn ? F : Fn);
    }
    ws_free(&w);
    return nU;
}
