/* probe.c: linear probe by full-batch Adam on weighted cross-entropy. The
 * features are standardised internally (mean 0, unit variance per channel) so
 * one learning rate suits any encoder; W and b are mapped back at the end so
 * the probe applies to raw embeddings. */
#include "train/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "loss/cross_entropy.h"
#include "util/error.h"

double gl_probe_fit(const float *X, const int *y, size_t n, int C, int K, const double *class_w, int iters,
                    double l2, float *W, float *b) {
    size_t nC = n * (size_t)C, nK = n * (size_t)K, P = (size_t)K * C + K;
    float *Z = gl_malloc(sizeof(float) * nC), *logits = gl_malloc(sizeof(float) * nK * 2);
    double *mu = gl_calloc((size_t)C, sizeof(double)), *sd = gl_calloc((size_t)C, sizeof(double));
    float *theta = gl_calloc(P, sizeof(float)), *grad = gl_calloc(P, sizeof(float));
    double *m = gl_calloc(P, sizeof(double)), *v = gl_calloc(P, sizeof(double));
    if (!Z || !logits || !mu || !sd || !theta || !grad || !m || !v) {
        free(Z), free(logits), free(mu), free(sd), free(theta), free(grad), free(m), free(v);
        return NAN;
    }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < C; c++) mu[c] += X[i * C + c];
    for (int c = 0; c < C; c++) mu[c] /= (double)(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < C; c++) sd[c] += (X[i * C + c] - mu[c]) * (X[i * C + c] - mu[c]);
    for (int c = 0; c < C; c++) sd[c] = sqrt(sd[c] / (double)(n ? n : 1)) + 1e-8;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < C; c++) Z[i * C + c] = (float)((X[i * C + c] - mu[c]) / sd[c]);
    float *Wz = theta, *bz = theta + (size_t)K * C, *gW = grad, *gb = grad + (size_t)K * C;
    float *dlogits = logits + nK;
    double loss = NAN;
    const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (int it = 1; it <= iters; it++) {
        linear_forward(logits, Z, Wz, bz, (int)n, C, K);
        loss = ce_forward_backward(logits, y, class_w, (int)n, K, dlogits, 1.0);
        memset(grad, 0, sizeof(float) * P);
        linear_backward(NULL, gW, gb, dlogits, Z, Wz, (int)n, C, K);
        for (size_t j = 0; j < (size_t)K * C; j++) {
            gW[j] += (float)(l2 * Wz[j]);
            loss += 0.5 * l2 * (double)Wz[j] * Wz[j];
        }
        double c1 = 1.0 - pow(b1, it), c2 = 1.0 - pow(b2, it);
        for (size_t j = 0; j < P; j++) {
            m[j] = b1 * m[j] + (1 - b1) * grad[j];
            v[j] = b2 * v[j] + (1 - b2) * (double)grad[j] * grad[j];
            theta[j] -= (float)(lr * (m[j] / c1) / (sqrt(v[j] / c2) + eps));
        }
    }
    /* logits = Wz (x - mu)/sd + bz = (Wz/sd) x + (bz - sum Wz mu/sd) */
    for (int k = 0; k < K; k++) {
        double bias = bz[k];
        for (int c = 0; c < C; c++) {
            double w = Wz[(size_t)k * C + c] / sd[c];
            W[(size_t)k * C + c] = (float)w;
            bias -= w * mu[c];
        }
        b[k] = (float)bias;
    }
    free(Z), free(logits), free(mu), free(sd), free(theta), free(grad), free(m), free(v);
    return loss;
}
