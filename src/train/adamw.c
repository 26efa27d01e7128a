/* adamw.c: AdamW and gradient clipping over the flat parameter buffer.
 * The operation order follows torch.optim.AdamW (single-tensor/foreach path)
 * so that one step matches it to float rounding:
 *   p *= 1 - lr*wd ; m = lerp(m, g, 1-b1) ; v = b2 v + (1-b2) g^2
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/vecmath.h"
#include "train/optim.h"
#include "util/error.h"

int gl_adamw_init(gl_adamw *opt, size_t n, double lr, double weight_decay) {
    memset(opt, 0, sizeof *opt);
    opt->lr = lr;
    opt->beta1 = 0.9;
    opt->beta2 = 0.999;
    opt->eps = 1e-8;
    opt->weight_decay = weight_decay;
    opt->n = n;
    opt->tail = n;
    opt->tail_lr_scale = 1.0;
    opt->m = gl_calloc(n, sizeof(float));
    opt->v = gl_calloc(n, sizeof(float));
    if (!opt->m || !opt->v) {
        gl_adamw_free(opt);
        return -1;
    }
    return 0;
}

void gl_adamw_free(gl_adamw *opt) {
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
}

/* elements [i0, i1) of one AdamW step: one vectorised pass (sqrt and division
 * are exact IEEE operations in every lane, so the bits match scalar code) */
GL_SIMD_CLONES
static void adamw_range(float *params, float *m, float *v, const float *grads, const uint8_t *decay_mask,
                        size_t i0, size_t i1, float decay, float one_minus_b1, float b2, float one_minus_b2,
                        float bc2_sqrt, float eps, float step_size) {
#pragma omp simd
    for (size_t i = i0; i < i1; i++) {
        float g = grads[i];
        float p = params[i];
        if (!decay_mask || decay_mask[i]) p *= decay;
        float mi = m[i] + one_minus_b1 * (g - m[i]);
        float vi = v[i] * b2 + one_minus_b2 * g * g;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        params[i] = p - step_size * (mi / denom);
    }
}

/* sum of squares of x[0, n) in double, in 8 lanes (element i in lane i % 8,
 * the lanes added in a fixed order): vectorised, same bits on every ISA */
GL_SIMD_CLONES
static double sum_squares(const float *x, size_t n) {
    double a[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += (double)x[i + k] * x[i + k];
    for (int k = 0; i + k < n; k++) a[k] += (double)x[i + k] * x[i + k];
    return gl_lanes8_total(a);
}

/* elements [i0, i1) of step t at learning rate lr */
static void adamw_span(gl_adamw *opt, float *params, const float *grads, const uint8_t *decay_mask, size_t i0,
                       size_t i1, double lr, double t) {
    const float b2 = (float)opt->beta2, eps = (float)opt->eps;
    const float decay = (float)(1.0 - lr * opt->weight_decay);
    const float step_size = (float)(lr / (1.0 - pow(opt->beta1, t)));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(opt->beta2, t));
    const float one_minus_b1 = (float)(1.0 - opt->beta1), one_minus_b2 = (float)(1.0 - opt->beta2);
    float *m = opt->m, *v = opt->v;
    /* elementwise: any split gives the same bits; blocks of 4096 elements per task */
    const size_t blk = 4096;
#pragma omp parallel for schedule(static)
    for (size_t b = i0; b < i1; b += blk)
        adamw_range(params, m, v, grads, decay_mask, b, b + blk < i1 ? b + blk : i1, decay, one_minus_b1, b2,
                    one_minus_b2, bc2_sqrt, eps, step_size);
}

void gl_adamw_step(gl_adamw *opt, float *params, const float *grads, const uint8_t *decay_mask) {
    opt->step++;
    const double t = (double)opt->step;
    const size_t tail = opt->tail < opt->n ? opt->tail : opt->n;
    /* with tail = n the second span is empty; with scale 1 both spans step at lr, the bits of one span */
    adamw_span(opt, params, grads, decay_mask, 0, tail, opt->lr, t);
    adamw_span(opt, params, grads, decay_mask, tail, opt->n, opt->lr * opt->tail_lr_scale, t);
}

double gl_clip_grad_norm(float *grads, size_t n, double max_norm) {
    /* fixed chunks summed in a fixed order: the result does not depend on the thread count */
    enum { CHUNKS = 256 };
    double part[CHUNKS];
    size_t per = (n + CHUNKS - 1) / CHUNKS;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < CHUNKS; k++) {
        size_t i0 = (size_t)k * per, i1 = i0 + per < n ? i0 + per : n;
        part[k] = i1 > i0 ? sum_squares(grads + i0, i1 - i0) : 0.0;
    }
    double ss = 0.0;
    for (int k = 0; k < CHUNKS; k++) ss += part[k];
    double norm = sqrt(ss);
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        float c = (float)coef;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) grads[i] *= c;
    }
    return norm;
}
