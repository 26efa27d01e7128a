/* profile.h: an optional per-kernel time profile.
 *
 * A global table of accumulated wall-clock seconds per category, switched on
 * at run time with gl_profile_enable(1) (bench/bench_train does). Switched off
 * (the default), GL_PROF(cat, call) costs one load and one predictable branch
 * around the call, nothing else.
 *
 * Meant for kernels called from the main thread (OpenMP parallelism inside
 * them): the accumulation is atomic, so calls from several threads do not
 * corrupt the table, but timings of overlapping calls simply add up. Regions
 * must not nest (the time would count twice). */
#ifndef GL_PROFILE_H
#define GL_PROFILE_H

typedef enum {
    GL_PROF_LINEAR_FWD = 0,
    GL_PROF_LINEAR_BWD,
    GL_PROF_ATTN_FWD,    /* QK^T, softmax, probability dropout, PV */
    GL_PROF_ATTN_BWD,
    GL_PROF_LAYERNORM,   /* forward and backward */
    GL_PROF_GELU,        /* forward and backward */
    GL_PROF_DROPOUT,     /* hidden dropout (forward and backward) */
    GL_PROF_EMBED,       /* embedding gather and gradient scatter */
    GL_PROF_RESIDUAL,    /* residual additions */
    GL_PROF_HEAD,        /* pooling, classification head, loss (set by the caller) */
    GL_PROF_CLIP,        /* zeroing and clipping the gradients (set by the caller) */
    GL_PROF_ADAMW,       /* optimiser (set by the caller) */
    GL_PROF_COUNT
} gl_prof_cat;

extern int gl_profile_on;                     /* read by the macros; change with gl_profile_enable */
extern double gl_profile_sec[GL_PROF_COUNT];  /* accumulated seconds */

void gl_profile_enable(int on);
void gl_profile_reset(void);
double gl_profile_now(void);                  /* monotonic seconds */
void gl_profile_add(gl_prof_cat cat, double seconds);
const char *gl_profile_name(gl_prof_cat cat); /* short name, e.g. "linear_fwd" */

/* GL_PROF(cat, statement): run statement, and time it into cat when enabled. */
#define GL_PROF(cat, ...)                                          \
    do {                                                           \
        if (__builtin_expect(gl_profile_on, 0)) {                  \
            double gl_prof_t0_ = gl_profile_now();                 \
            __VA_ARGS__;                                           \
            gl_profile_add((cat), gl_profile_now() - gl_prof_t0_); \
        } else {                                                   \
            __VA_ARGS__;                                           \
        }                                                          \
    } while (0)

/* For a region that cannot be a macro argument (it holds a #pragma):
 *   GL_PROF_BEGIN(t); ... GL_PROF_END(t, cat);   (t: a fresh identifier) */
#define GL_PROF_BEGIN(t) double t = __builtin_expect(gl_profile_on, 0) ? gl_profile_now() : 0.0
#define GL_PROF_END(t, cat) \
    do {                    \
        if (__builtin_expect(gl_profile_on, 0)) gl_profile_add((cat), gl_profile_now() - (t)); \
    } while (0)

#endif
