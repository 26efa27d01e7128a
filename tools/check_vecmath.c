/* check_vecmath.c: exhaustive accuracy check of src/kernels/vecmath.h over
 * every float (what tests/test_kernels.c samples on a grid). About a minute:
 *   gcc -std=c11 -O2 -Isrc tools/check_vecmath.c -o /tmp/check_vecmath -lm && /tmp/check_vecmath
 * erf: every float in [0, 4.5] (erf is odd and the code is exactly odd; past
 * 4.5 both sides are +-1 within 2e-10); exp: every float in [-87.33, 88.72],
 * where the result is a normal float. */
#include <stdint.h>
#include <stdio.h>

#include "kernels/vecmath.h"

static float from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

int main(void) {
    double worst = 0, at = 0;
    for (uint32_t b = 0; b <= 0x40900000u; b++) { /* 0x40900000 = 4.5f */
        float x = from_bits(b);
        double d = fabs((double)gl_erff_v(x) - erf((double)x));
        if (d > worst) worst = d, at = x;
    }
    printf("erf, every float in [0, 4.5]: max |erf_v - double erf| %.4e at x = %.9g\n", worst, at);
    worst = 0, at = 0;
    for (uint32_t b = 0; b < 0xffffffffu; b++) {
        float y = from_bits(b);
        if (!(y >= -87.33f && y <= 88.72f)) continue;
        double r = exp((double)y), d = fabs((double)gl_expf_v(y) - r) / r;
        if (d > worst) worst = d, at = y;
    }
    printf("exp, every float in [-87.33, 88.72]: max relative error %.4e at y = %.9g\n", worst, at);
    return 0;
}
