/* profile.c: the per-kernel time table (see profile.h). */
#include "util/profile.h"

#include <string.h>
#include <time.h>

int gl_profile_on = 0;
double gl_profile_sec[GL_PROF_COUNT];

static const char *const names[GL_PROF_COUNT] = {
    "linear_fwd", "linear_bwd", "attn_fwd", "attn_bwd", "layernorm", "gelu",
    "dropout",    "embed",      "residual", "head",     "clip",      "adamw",
};

void gl_profile_enable(int on) { gl_profile_on = on != 0; }

void gl_profile_reset(void) { memset(gl_profile_sec, 0, sizeof gl_profile_sec); }

double gl_profile_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void gl_profile_add(gl_prof_cat cat, double seconds) {
    if ((unsigned)cat >= GL_PROF_COUNT) return;
#pragma omp atomic
    gl_profile_sec[cat] += seconds;
}

const char *gl_profile_name(gl_prof_cat cat) { return (unsigned)cat < GL_PROF_COUNT ? names[cat] : "?"; }
