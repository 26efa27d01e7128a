/* activation.c: GELU (erf form) and inverted dropout, forward and backward. */
#include <math.h>

#include "kernels/kernels.h"
#include "util/rng.h"

void gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
        float pdf = expf(-0.5f * x * x) * 0.39894228040143268f;
        dinp[i] = dout[i] * (cdf + x * pdf);
    }
}

/* Forward and backward are the same operation: the mask depends only on (key, i). */
void dropout_apply(float *x, size_t n, float p, uint64_t key) {
    if (p <= 0.0f) return;
    float scale = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = gl_rng_uniform(key, i) < p ? 0.0f : x[i] * scale;
}
