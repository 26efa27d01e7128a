/* blas_core.h: make OpenBLAS run the kernels this CPU can run.
 *
 * OpenBLAS picks its kernels (its "core") from the CPU model when the library
 * loads. A model newer than the library falls back to Prescott, its SSE3
 * kernels: on an Emerald Rapids Xeon (family 6, model 207) with Debian 12's
 * OpenBLAS 0.3.21, training steps then run 4x slower (sgemm peak 30 against
 * 158 GFLOP/s on one core). The choice is made before main and cannot be changed
 * afterwards, so the fix is to start the program again with OPENBLAS_CORETYPE
 * set to the best core the CPU's instruction sets allow. */
#ifndef GL_BLAS_CORE_H
#define GL_BLAS_CORE_H

/* The instruction sets that decide the core. */
typedef struct {
    int avx, avx2, fma, avx512f, avx512bw, avx512vl, avx512dq, avx512cd;
} gl_cpu_isa;

/* This CPU's instruction sets (from CPUID, through the compiler's builtins). */
gl_cpu_isa gl_cpu_isa_detect(void);

/* The core to force, given the one OpenBLAS detected and the CPU's
 * instruction sets: NULL when the detected one is fine (any core other than
 * the Prescott fallback, or a CPU without AVX); else "SkylakeX" (AVX-512 F,
 * BW, VL, DQ, CD), "Haswell" (AVX2 and FMA) or "Sandybridge" (AVX). */
const char *gl_blas_core_for(const char *detected, gl_cpu_isa isa);

/* Called first in main: when OPENBLAS_CORETYPE is unset and
 * gl_blas_core_for() names a better core, sets OPENBLAS_CORETYPE and
 * re-executes this program (/proc/self/exe) with the same arguments. Returns
 * only when there is nothing to do or the re-execution failed (the program
 * then goes on with the detected core). A user's OPENBLAS_CORETYPE is never
 * overridden, and the restarted program, which has it set, does not restart. */
void gl_blas_core_fix(char **argv);

/* OpenBLAS's own description of its build and the core in use; the core's
 * name alone, e.g. "SkylakeX". */
const char *gl_blas_config(void);
const char *gl_blas_corename(void);

#endif
