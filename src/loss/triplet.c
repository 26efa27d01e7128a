/* triplet.c: batch-all and batch-hard triplet losses on Euclidean distances of
 * the raw embeddings (sentence-transformers BatchAllTripletLoss /
 * BatchHardTripletLoss, with the differences noted below), forward and exact
 * backward in double.
 *
 * Distances. d_ij = sqrt(|h_i - h_j|^2 + 1e-12), computed from the differences
 * (not from |h_i|^2 - 2 h_i.h_j + |h_j|^2, which cancels badly); smooth
 * everywhere, d_ii = 1e-6 is never used. dd_ij/dh_i = (h_i - h_j) / d_ij =
 * -dd_ij/dh_j.
 *
 * batch_all. Valid triplets (a, p, n): p != a, y_p = y_a, y_n != y_a (so n is
 * automatically distinct from a and p). v = d_ap - d_an + m. The loss is the
 * mean of v over the valid triplets with v > 0, 0 if there is none
 * (sentence-transformers uses v > 1e-16 and divides by count + 1e-16; the
 * difference is below rounding). The count is piecewise constant, so
 *   dL/dd_ap += 1/K and dL/dd_an -= 1/K for each counted triplet (K = count);
 * a triplet with v exactly 0 is not counted and contributes nothing (relu
 * subgradient 0 at 0).
 *
 * batch_hard. For an anchor a with at least one positive and one negative:
 *   p* = argmax_{p != a, y_p = y_a} d_ap,  n* = argmin_{y_n != y_a} d_an,
 *   v_a = relu(d_ap* - d_an* + m);
 * ties are broken by the FIRST (lowest) index achieving the max / min (what
 * torch.argmax / argmin return). L = mean of v_a over those anchors (M of
 * them), 0 if M = 0. sentence-transformers instead averages over all B anchors
 * and gives an anchor with no positive d_ap* = 0; both agree when every anchor
 * has a positive and a negative. Gradient: dL/dd_ap* += 1/M, dL/dd_an* -= 1/M
 * for each anchor with v_a > 0.
 *
 * Both variants accumulate W_ij = dL/dd_ij (not symmetric: row = anchor) and
 * then dL/dh_i += W_ij (h_i - h_j) / d_ij, dL/dh_j -= W_ij (h_i - h_j) / d_ij. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss/metric_losses.h"
#include "util/error.h"

#define DIST_EPS2 1e-12

double gl_triplet_loss(const double *h, const int *y, int B, int C, double margin, int batch_hard, double scale,
                    double *dh) {
    if (dh && B > 0 && C > 0) memset(dh, 0, sizeof(double) * (size_t)B * C);
    if (B < 2 || C < 1) return 0.0;
    const size_t BB = (size_t)B * B;
    double *D = malloc(sizeof(double) * BB);
    double *W = dh ? calloc(BB, sizeof(double)) : NULL;
    if (!D || (dh && !W)) {
        free(D);
        free(W);
        gl_error_oom("triplet: out of memory (batch of %d)", B);
        return NAN;
    }
    for (int i = 0; i < B; i++) {
        D[(size_t)i * B + i] = sqrt(DIST_EPS2);
        const double *hi = h + (size_t)i * C;
        for (int j = i + 1; j < B; j++) {
            const double *hj = h + (size_t)j * C;
            double s = 0.0;
            for (int c = 0; c < C; c++) {
                double d = hi[c] - hj[c];
                s += d * d;
            }
            D[(size_t)i * B + j] = D[(size_t)j * B + i] = sqrt(s + DIST_EPS2);
        }
    }

    double total = 0.0;
    long long count = 0; /* counted triplets (batch_all) or anchors (batch_hard) */
    if (!batch_hard) {
        for (int a = 0; a < B; a++) {
            const double *Da = D + (size_t)a * B;
            for (int p = 0; p < B; p++) {
                if (p == a || y[p] != y[a]) continue;
                const double base = Da[p] + margin;
                for (int n = 0; n < B; n++) {
                    if (y[n] == y[a]) continue;
                    double v = base - Da[n];
                    if (v > 0.0) {
                        total += v;
                        count++;
                        if (W) {
                            W[(size_t)a * B + p] += 1.0;
                            W[(size_t)a * B + n] -= 1.0;
                        }
                    }
                }
            }
        }
    } else {
        for (int a = 0; a < B; a++) {
            const double *Da = D + (size_t)a * B;
            int pbest = -1, nbest = -1;
            for (int j = 0; j < B; j++) {
                if (j == a) continue;
                if (y[j] == y[a]) {
                    if (pbest < 0 || Da[j] > Da[pbest]) pbest = j; /* strict: first index wins ties */
                } else {
                    if (nbest < 0 || Da[j] < Da[nbest]) nbest = j;
                }
            }
            if (pbest < 0 || nbest < 0) continue;
            count++;
            double v = Da[pbest] - Da[nbest] + margin;
            if (v > 0.0) {
                total += v;
                if (W) {
                    W[(size_t)a * B + pbest] += 1.0;
                    W[(size_t)a * B + nbest] -= 1.0;
                }
            }
        }
    }
    double loss = count ? total / (double)count : 0.0;

    if (dh && count) {
        const double f = scale / (double)count;
        for (int i = 0; i < B; i++) {
            const double *hi = h + (size_t)i * C;
            double *gi = dh + (size_t)i * C;
            for (int j = 0; j < B; j++) {
                double w = W[(size_t)i * B + j];
                if (w == 0.0) continue;
                /* W_ij (h_i - h_j) / d_ij goes to row i, its negative to row j. */
                const double *hj = h + (size_t)j * C;
                double *gj = dh + (size_t)j * C;
                double k = f * w / D[(size_t)i * B + j];
                for (int c = 0; c < C; c++) {
                    double g = k * (hi[c] - hj[c]);
                    gi[c] += g;
                    gj[c] -= g;
                }
            }
        }
    }
    free(D);
    free(W);
    return loss;
}
