/* layernorm.c: layer normalisation over the last dimension, forward and backward.
 * Row statistics are accumulated in double: a row with a large mean and a tiny
 * spread (the case where eps matters) would otherwise lose most of its digits
 * to cancellation; the cost is O(C) per row next to O(C^2) in the GEMMs. */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C, float eps) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        double m = 0.0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        double v = 0.0;
        for (int c = 0; c < C; c++) {
            double d = x[c] - m;
            v += d * d;
        }
        v /= C;
        double s = 1.0 / sqrt(v + (double)eps);
        for (int c = 0; c < C; c++) y[c] = (float)((x[c] - m) * s) * w[c] + b[c];
        mean[n] = (float)m;
        rstd[n] = (float)s;
    }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C) {
    (void)mean; /* the float mean is recomputed in double: rounding it costs digits when the spread is tiny */
    double *md = malloc(sizeof(double) * (size_t)(N > 0 ? N : 1));
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        const float *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        double m = 0.0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        if (md) md[n] = m;
        double s = rstd[n];
        double sum_g = 0.0, sum_gx = 0.0;
        for (int c = 0; c < C; c++) {
            double g = (double)dy[c] * w[c];
            sum_g += g;
            sum_gx += g * (x[c] - m) * s;
        }
        sum_g /= C;
        sum_gx /= C;
        for (int c = 0; c < C; c++) {
            double xh = (x[c] - m) * s;
            dx[c] += (float)(((double)dy[c] * w[c] - sum_g - xh * sum_gx) * s);
        }
    }
    /* parameter gradients: each thread owns a block of channels, rows in order */
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += 32) {
        int c1 = c0 + 32 < C ? c0 + 32 : C;
        double aw[32] = {0}, ab[32] = {0};
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            const float *dy = dout + (size_t)n * C;
            double m = md ? md[n] : mean[n], s = rstd[n];
            for (int c = c0; c < c1; c++) {
                aw[c - c0] += dy[c] * ((x[c] - m) * s);
                ab[c - c0] += dy[c];
            }
        }
        for (int c = c0; c < c1; c++) {
            dw[c] += (float)aw[c - c0];
            db[c] += (float)ab[c - c0];
        }
    }
    free(md);
}
