/* optim.h: AdamW (decoupled weight decay, bias correction) and global-norm
 * gradient clipping over one flat parameter buffer. */
#ifndef GL_OPTIM_H
#define GL_OPTIM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double lr, beta1, beta2, eps, weight_decay; /* doubles, cast at use, as torch does */
    int64_t step;  /* number of steps taken so far */
    size_t n;
    float *m, *v;  /* first and second moments, n floats each */
    /* elements [tail, n) (the classification head) step with lr * tail_lr_scale,
     * as a second torch param group would; init sets tail = n, scale 1 */
    size_t tail;
    double tail_lr_scale;
} gl_adamw;

int gl_adamw_init(gl_adamw *opt, size_t n, double lr, double weight_decay);
void gl_adamw_free(gl_adamw *opt);
/* One step on params[0..n) with grads. decay_mask (n bytes or NULL = all decay)
 * marks the elements that receive weight decay. Same arithmetic as torch.optim.AdamW. */
void gl_adamw_step(gl_adamw *opt, float *params, const float *grads, const uint8_t *decay_mask);

/* Global L2 norm of grads (computed in double); if it exceeds max_norm, scale
 * grads by max_norm / (norm + 1e-6) as torch.nn.utils.clip_grad_norm_. Returns the norm. */
double gl_clip_grad_norm(float *grads, size_t n, double max_norm);

#endif
