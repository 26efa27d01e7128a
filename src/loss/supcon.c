/* supcon.c: supervised contrastive loss (Khosla et al. 2020, "L_out", one view
 * per sample) on L2-normalised embeddings, forward and exact backward in double.
 *
 * Forward. n_i = |h_i|, z_i = h_i / max(n_i, 1e-12), S_ij = z_i.z_j / t.
 * For an anchor i with P_i = #{j != i : y_j = y_i} > 0 ("valid"):
 *   lse_i = log sum_{a != i} exp(S_ia)
 *   L_i   = lse_i - (1/P_i) sum_{p in P(i)} S_ip
 * L = (1/N) sum_{valid i} L_i, N = number of valid anchors; N = 0 -> L = 0.
 * (Khosla's reference code averages over all anchors and multiplies by
 * t / base_temperature; here the mean runs over valid anchors only and there is
 * no base-temperature factor, as metric_losses.h specifies.)
 *
 * Backward. For a valid anchor i and j != i,
 *   G_ij = dL/dS_ij = (softmax_i(j) - [y_j = y_i] / P_i) / N,
 *   softmax_i(j) = exp(S_ij - lse_i);  G_ij = 0 for invalid anchors and j = i.
 * S_ij = z_i.z_j / t enters through both z_i and z_j, so
 *   dL/dz_i = (1/t) sum_{j != i} (G_ij + G_ji) z_j.
 * Normalisation: if n_i >= 1e-12, dz -> dh is (dz - z (z.dz)) / n_i (the
 * projection orthogonal to z_i); below the clamp z_i = h_i / 1e-12 is linear
 * and dh = dz / 1e-12. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss/metric_losses.h"
#include "util/error.h"

#define NORM_EPS 1e-12

/* z = h / max(|h|, eps) row by row; norm[i] = |h_i| (unclamped). */
static void normalize_rows(const double *h, int B, int C, double *z, double *norm) {
    for (int i = 0; i < B; i++) {
        const double *hi = h + (size_t)i * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += hi[c] * hi[c];
        double n = sqrt(s);
        norm[i] = n;
        double inv = 1.0 / (n >= NORM_EPS ? n : NORM_EPS);
        for (int c = 0; c < C; c++) z[(size_t)i * C + c] = hi[c] * inv;
    }
}

/* dh = d(normalize)^T dz for one row (see the header comment). */
static void normalize_backward_row(const double *z, double n, const double *dz, int C, double *dh) {
    if (n >= NORM_EPS) {
        double zd = 0.0;
        for (int c = 0; c < C; c++) zd += z[c] * dz[c];
        for (int c = 0; c < C; c++) dh[c] = (dz[c] - z[c] * zd) / n;
    } else {
        for (int c = 0; c < C; c++) dh[c] = dz[c] / NORM_EPS;
    }
}

double gl_supcon_loss(const double *h, const int *y, int B, int C, double temperature, double scale, double *dh) {
    if (dh && B > 0 && C > 0) memset(dh, 0, sizeof(double) * (size_t)B * C);
    if (B < 2 || C < 1) return 0.0;
    const size_t BB = (size_t)B * B;
    double *z = malloc(sizeof(double) * (size_t)B * C);
    double *norm = malloc(sizeof(double) * (size_t)B);
    double *S = malloc(sizeof(double) * BB);
    double *lse = malloc(sizeof(double) * (size_t)B);
    int *npos = malloc(sizeof(int) * (size_t)B);
    if (!z || !norm || !S || !lse || !npos) {
        free(z), free(norm), free(S), free(lse), free(npos);
        gl_error_oom("supcon: out of memory (batch of %d)", B);
        return NAN;
    }
    normalize_rows(h, B, C, z, norm);
    const double inv_t = 1.0 / temperature;
    for (int i = 0; i < B; i++) {
        S[(size_t)i * B + i] = 0.0; /* never used */
        for (int j = i + 1; j < B; j++) {
            const double *zi = z + (size_t)i * C, *zj = z + (size_t)j * C;
            double d = 0.0;
            for (int c = 0; c < C; c++) d += zi[c] * zj[c];
            S[(size_t)i * B + j] = S[(size_t)j * B + i] = d * inv_t;
        }
    }
    int nvalid = 0;
    double total = 0.0;
    for (int i = 0; i < B; i++) {
        const double *Si = S + (size_t)i * B;
        int P = 0;
        for (int j = 0; j < B; j++)
            if (j != i && y[j] == y[i]) P++;
        npos[i] = P;
        if (P == 0) continue;
        nvalid++;
        double mx = -INFINITY;
        for (int j = 0; j < B; j++)
            if (j != i && Si[j] > mx) mx = Si[j];
        double se = 0.0, spos = 0.0;
        for (int j = 0; j < B; j++) {
            if (j == i) continue;
            se += exp(Si[j] - mx);
            if (y[j] == y[i]) spos += Si[j];
        }
        lse[i] = mx + log(se);
        total += lse[i] - spos / P;
    }
    double loss = nvalid ? total / nvalid : 0.0;

    if (dh && nvalid) {
        /* G overwrites S row by row (row i of S is no longer needed once G_i is formed). */
        double *G = S;
        const double invN = 1.0 / nvalid;
        for (int i = 0; i < B; i++) {
            double *Gi = G + (size_t)i * B;
            if (npos[i] == 0) {
                for (int j = 0; j < B; j++) Gi[j] = 0.0;
                continue;
            }
            const double invP = 1.0 / npos[i];
            for (int j = 0; j < B; j++) {
                if (j == i) {
                    Gi[j] = 0.0;
                    continue;
                }
                double g = exp(Gi[j] - lse[i]);
                if (y[j] == y[i]) g -= invP;
                Gi[j] = g * invN;
            }
        }
        double *dz = malloc(sizeof(double) * (size_t)C);
        if (!dz) {
            free(z), free(norm), free(S), free(lse), free(npos);
            gl_error_oom("supcon: out of memory (batch of %d)", B);
            return NAN;
        }
        for (int i = 0; i < B; i++) {
            memset(dz, 0, sizeof(double) * (size_t)C);
            for (int j = 0; j < B; j++) {
                if (j == i) continue;
                double w = (G[(size_t)i * B + j] + G[(size_t)j * B + i]) * inv_t * scale;
                if (w == 0.0) continue;
                const double *zj = z + (size_t)j * C;
                for (int c = 0; c < C; c++) dz[c] += w * zj[c];
            }
            normalize_backward_row(z + (size_t)i * C, norm[i], dz, C, dh + (size_t)i * C);
        }
        free(dz);
    }
    free(z), free(norm), free(S), free(lse), free(npos);
    return loss;
}
