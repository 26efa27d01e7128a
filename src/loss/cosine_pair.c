/* cosine_pair.c: pairwise cosine-similarity loss, forward and exact backward
 * in double.
 *
 * Forward. z_i = h_i / max(|h_i|, 1e-12), c_ij = z_i.z_j (so a zero vector has
 * cosine 0 with everything), t_ij = [y_i = y_j],
 *   L = (1/P) sum_{i<j} (c_ij - t_ij)^2,  P = B(B-1)/2;  B < 2 -> L = 0.
 *
 * Backward. dL/dc_ij = 2 (c_ij - t_ij) / P =: g_ij for i < j; c_ij depends on
 * z_i and z_j, so dL/dz_i = sum_{j != i} g_ij z_j (g symmetric). Normalisation
 * as in supcon.c: dh = (dz - z (z.dz)) / |h| if |h| >= 1e-12, else
 * dz / 1e-12 (the clamped map is linear there). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss/metric_losses.h"
#include "util/error.h"

#define NORM_EPS 1e-12

double gl_cosine_pair_loss(const double *h, const int *y, int B, int C, double scale, double *dh) {
    if (dh && B > 0 && C > 0) memset(dh, 0, sizeof(double) * (size_t)B * C);
    if (B < 2 || C < 1) return 0.0;
    double *z = malloc(sizeof(double) * (size_t)B * C);
    double *norm = malloc(sizeof(double) * (size_t)B);
    double *g = dh ? malloc(sizeof(double) * (size_t)B * B) : NULL;
    double *dz = dh ? malloc(sizeof(double) * (size_t)C) : NULL;
    if (!z || !norm || (dh && (!g || !dz))) {
        free(z), free(norm), free(g), free(dz);
        gl_error_oom("cosine: out of memory (batch of %d)", B);
        return NAN;
    }
    for (int i = 0; i < B; i++) {
        const double *hi = h + (size_t)i * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += hi[c] * hi[c];
        norm[i] = sqrt(s);
        double inv = 1.0 / (norm[i] >= NORM_EPS ? norm[i] : NORM_EPS);
        for (int c = 0; c < C; c++) z[(size_t)i * C + c] = hi[c] * inv;
    }
    const double P = 0.5 * (double)B * (double)(B - 1);
    double total = 0.0;
    for (int i = 0; i < B; i++) {
        if (g) g[(size_t)i * B + i] = 0.0;
        const double *zi = z + (size_t)i * C;
        for (int j = i + 1; j < B; j++) {
            const double *zj = z + (size_t)j * C;
            double cij = 0.0;
            for (int c = 0; c < C; c++) cij += zi[c] * zj[c];
            double r = cij - (y[i] == y[j] ? 1.0 : 0.0);
            total += r * r;
            if (g) g[(size_t)i * B + j] = g[(size_t)j * B + i] = 2.0 * r / P * scale;
        }
    }
    if (dh) {
        for (int i = 0; i < B; i++) {
            memset(dz, 0, sizeof(double) * (size_t)C);
            for (int j = 0; j < B; j++) {
                double w = g[(size_t)i * B + j];
                if (j == i || w == 0.0) continue;
                const double *zj = z + (size_t)j * C;
                for (int c = 0; c < C; c++) dz[c] += w * zj[c];
            }
            const double *zi = z + (size_t)i * C;
            double *gi = dh + (size_t)i * C;
            if (norm[i] >= NORM_EPS) {
                double zd = 0.0;
                for (int c = 0; c < C; c++) zd += zi[c] * dz[c];
                for (int c = 0; c < C; c++) gi[c] = (dz[c] - zi[c] * zd) / norm[i];
            } else {
                for (int c = 0; c < C; c++) gi[c] = dz[c] / NORM_EPS;
            }
        }
    }
    free(z), free(norm), free(g), free(dz);
    return total / P;
}
