/* layernorm.c: layer normalisation over the last dimension, forward and backward.
 * Row statistics are accumulated in double: a row with a large mean and a tiny
 * spread (the case where eps matters) would otherwise lose most of its digits
 * to cancellation; the cost is O(C) per row next to O(C^2) in the GEMMs.
 *
 * The row sums run in LANES independent double accumulators (element c goes
 * to lane c % LANES; the lanes are added in a fixed order at the end): the
 * compiler may not reorder one serial sum, but it vectorises this form, and
 * the order, hence every bit of the result, is the same whatever the
 * instruction set, vector width or thread count. */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "kernels/vecmath.h"

#define LANES 8 /* gl_lanes8_total adds them */

/* the mean of a row, in double */
static inline __attribute__((always_inline)) double row_mean(const float *x, int C) {
    double a[LANES] = {0};
    int c = 0;
    for (; c + LANES <= C; c += LANES)
        for (int k = 0; k < LANES; k++) a[k] += x[c + k];
    for (int k = 0; c + k < C; k++) a[k] += x[c + k];
    return gl_lanes8_total(a) / C;
}

/* one row: y = (x - mean) * rstd * w + b; returns mean and rstd */
GL_SIMD_CLONES
static void ln_row_forward(float *y, double *mean, double *rstd, const float *x, const float *w, const float *b, int C,
                           float eps) {
    double m = row_mean(x, C);
    int c;
    double v[LANES] = {0};
    for (c = 0; c + LANES <= C; c += LANES)
        for (int k = 0; k < LANES; k++) {
            double d = x[c + k] - m;
            v[k] += d * d;
        }
    for (int k = 0; c + k < C; k++) {
        double d = x[c + k] - m;
        v[k] += d * d;
    }
    double s = 1.0 / sqrt(gl_lanes8_total(v) / C + (double)eps);
#pragma omp simd
    for (c = 0; c < C; c++) y[c] = (float)((x[c] - m) * s) * w[c] + b[c];
    *mean = m;
    *rstd = s;
}

void gl_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C, float eps) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        double m, s;
        ln_row_forward(out + (size_t)n * C, &m, &s, inp + (size_t)n * C, w, b, C, eps);
        mean[n] = (float)m;
        rstd[n] = (float)s;
    }
}

/* one row: dx += rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w;
 * returns the row mean (recomputed in double) */
GL_SIMD_CLONES
static double ln_row_backward(float *dx, const float *dy, const float *x, const float *w, double s, int C) {
    double m = row_mean(x, C);
    int c;
    double sg[LANES] = {0}, sgx[LANES] = {0};
    for (c = 0; c + LANES <= C; c += LANES)
        for (int k = 0; k < LANES; k++) {
            double g = (double)dy[c + k] * w[c + k];
            sg[k] += g;
            sgx[k] += g * (x[c + k] - m) * s;
        }
    for (int k = 0; c + k < C; k++) {
        double g = (double)dy[c + k] * w[c + k];
        sg[k] += g;
        sgx[k] += g * (x[c + k] - m) * s;
    }
    double sum_g = gl_lanes8_total(sg) / C, sum_gx = gl_lanes8_total(sgx) / C;
#pragma omp simd
    for (c = 0; c < C; c++) {
        double xh = (x[c] - m) * s;
        dx[c] += (float)(((double)dy[c] * w[c] - sum_g - xh * sum_gx) * s);
    }
    return m;
}

/* Parameter gradients are summed in double by row chunks of CHUNK rows (each
 * chunk's partial sums in row order, then the chunks in order): the order
 * depends on N only, not on the thread count, and each row is read once,
 * while it is in cache from its dx. */
#define CHUNK 64

/* rows [n0, n1): dx of each row, and the chunk's partial sums pw, pb (C each) */
GL_SIMD_CLONES
static void ln_chunk_backward(float *dinp, double *pw, double *pb, const float *dout, const float *inp,
                              const float *w, const float *rstd, int n0, int n1, int C) {
    for (int c = 0; c < C; c++) pw[c] = pb[c] = 0.0;
    for (int n = n0; n < n1; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        double s = rstd[n];
        double m = ln_row_backward(dinp + (size_t)n * C, dy, x, w, s, C);
#pragma omp simd
        for (int c = 0; c < C; c++) {
            pw[c] += dy[c] * ((x[c] - m) * s);
            pb[c] += dy[c];
        }
    }
}

void gl_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C) {
    (void)mean; /* the float mean is recomputed in double: rounding it costs digits when the spread is tiny */
    int nchunks = (N + CHUNK - 1) / CHUNK;
    double *part = malloc(sizeof(double) * 2 * (size_t)C * (size_t)(nchunks > 0 ? nchunks : 1));
    if (!part) abort(); /* a few hundred KiB; the activations around it are far larger */
#pragma omp parallel for schedule(static)
    for (int k = 0; k < nchunks; k++) {
        int n1 = (k + 1) * CHUNK < N ? (k + 1) * CHUNK : N;
        double *pw = part + (size_t)k * 2 * C;
        ln_chunk_backward(dinp, pw, pw + C, dout, inp, w, rstd, k * CHUNK, n1, C);
    }
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double aw = 0.0, ab = 0.0;
        for (int k = 0; k < nchunks; k++) {
            aw += part[(size_t)k * 2 * C + c];
            ab += part[(size_t)k * 2 * C + C + c];
        }
        dw[c] += (float)aw;
        db[c] += (float)ab;
    }
    free(part);
}
