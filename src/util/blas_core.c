/* blas_core.c: detect OpenBLAS's Prescott fallback and restart with the right
 * kernels (see blas_core.h). */
#include "util/blas_core.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

gl_cpu_isa gl_cpu_isa_detect(void) {
    gl_cpu_isa isa = {0};
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    isa.avx = __builtin_cpu_supports("avx") != 0;
    isa.avx2 = __builtin_cpu_supports("avx2") != 0;
    isa.fma = __builtin_cpu_supports("fma") != 0;
    isa.avx512f = __builtin_cpu_supports("avx512f") != 0;
    isa.avx512bw = __builtin_cpu_supports("avx512bw") != 0;
    isa.avx512vl = __builtin_cpu_supports("avx512vl") != 0;
    isa.avx512dq = __builtin_cpu_supports("avx512dq") != 0;
    isa.avx512cd = __builtin_cpu_supports("avx512cd") != 0;
#endif
    return isa;
}

const char *gl_blas_core_for(const char *detected, gl_cpu_isa isa) {
    if (!detected || strcasecmp(detected, "prescott") != 0) return NULL;
    if (isa.avx512f && isa.avx512bw && isa.avx512vl && isa.avx512dq && isa.avx512cd) return "SkylakeX";
    if (isa.avx2 && isa.fma) return "Haswell";
    if (isa.avx) return "Sandybridge";
    return NULL;
}

void gl_blas_core_fix(char **argv) {
    if (getenv("OPENBLAS_CORETYPE")) return;
    const char *core = gl_blas_core_for(openblas_get_corename(), gl_cpu_isa_detect());
    if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* not restarted (no /proc, say): go on with the slow kernels, as before */
    unsetenv("OPENBLAS_CORETYPE");
}

const char *gl_blas_config(void) { return openblas_get_config(); }
const char *gl_blas_corename(void) { return openblas_get_corename(); }
