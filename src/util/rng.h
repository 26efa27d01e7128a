/* rng.h: counter-based random numbers. Every draw is a pure function of
 * (seed, site, index), so dropout masks can be regenerated in the backward pass
 * instead of stored, and results do not depend on the number of threads. */
#ifndef GL_RNG_H
#define GL_RNG_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t gl_splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Key for one random "site" (e.g. one dropout layer in one training step). */
static inline uint64_t gl_rng_key(uint64_t seed, uint64_t site) {
    return gl_splitmix64(gl_splitmix64(seed) ^ (site * 0xD1B54A32D192ED03ull));
}

/* Uniform in [0, 1) with 24 random bits, for draw `i` under `key`. */
static inline float gl_rng_uniform(uint64_t key, uint64_t i) {
    return (float)(gl_splitmix64(key ^ (i * 0x9E3779B97F4A7C15ull)) >> 40) * (1.0f / 16777216.0f);
}

/* Sequential generator (xorshift-style state) for shuffles and splits. */
typedef struct {
    uint64_t s;
} gl_rng;

static inline uint64_t gl_rng_next(gl_rng *r) {
    r->s += 0x9E3779B97F4A7C15ull;
    return gl_splitmix64(r->s);
}

/* Uniform integer in [0, n). */
static inline uint64_t gl_rng_below(gl_rng *r, uint64_t n) {
    return n ? (uint64_t)(((unsigned __int128)gl_rng_next(r) * n) >> 64) : 0;
}

/* Shuffle idx[0..n) in place (Fisher-Yates from the end). */
static inline void gl_rng_shuffle(gl_rng *r, size_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)gl_rng_below(r, i), t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* Move a uniform random sample of m of the n entries of idx to its front
 * (the first m steps of a forward Fisher-Yates). */
static inline void gl_rng_sample_prefix(gl_rng *r, size_t *idx, size_t n, size_t m) {
    for (size_t i = 0; i < m && i < n; i++) {
        size_t j = i + (size_t)gl_rng_below(r, n - i), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

#endif
