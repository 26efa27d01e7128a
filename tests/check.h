/* check.h: the tiny assertion layer every test program uses.
 * A failed CHECK prints file:line and the condition, counts the failure and
 * carries on; main() returns check_summary(), non-zero if anything failed. */
#ifndef GL_CHECK_H
#define GL_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        check_count++;                                                              \
        if (!(cond)) {                                                              \
            check_failures++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        check_count++;                                                       \
        if (!(cond)) {                                                       \
            check_failures++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

/* |a - b| <= tol */
#define CHECK_NEAR(a, b, tol)                                                                     \
    do {                                                                                          \
        double check_a_ = (a), check_b_ = (b);                                                    \
        CHECK_MSG(fabs(check_a_ - check_b_) <= (tol), "%.9g vs %.9g (tol %g)", check_a_, check_b_, \
                  (double)(tol));                                                                 \
    } while (0)

static inline int check_summary(const char *name) {
    if (check_failures)
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, check_failures, check_count);
    else
        printf("%s: all %d checks passed\n", name, check_count);
    return check_failures ? 1 : 0;
}

/* A part of a test that cannot run here (an optional CPU feature, tool or
 * library is missing): says "NAME: skipped: WHY" and records it for
 * tests/run.sh, which counts skipped parts apart from passed ones (through
 * the file named by GLOSS_SKIP_LOG). A test that cannot run at all returns
 * CHECK_SKIP_ALL (77) from main instead. */
#define CHECK_SKIP_ALL 77
static inline void check_skip(const char *name, const char *why) {
    printf("%s: skipped: %s\n", name, why);
    fflush(stdout);
    const char *log = getenv("GLOSS_SKIP_LOG");
    FILE *f = log && *log ? fopen(log, "a") : NULL;
    if (f) {
        fprintf(f, "%s: %s\n", name, why);
        fclose(f);
    }
}

/* Paths of the default model and the benchmark datasets, overridable by env:
 * the data sets that ship with the project (data/benchmarks/NAME/SPLIT.csv.gz,
 * tools/make_benchmark_data.py), or GLOSS_DATA_DIR (e.g. ../shared/data). */
static inline const char *check_model_dir(void) {
    const char *d = getenv("GLOSS_MODEL_DIR");
    return d ? d : "models/all-MiniLM-L6-v2";
}
static inline const char *check_data_dir(void) {
    const char *d = getenv("GLOSS_DATA_DIR");
    return d ? d : "data/benchmarks";
}
/* The file of split rel ("mr/train") in check_data_dir(): rel.csv.gz, or
 * rel.csv where only that exists (a folder of plain files). */
static inline void check_data_file(char *path, size_t cap, const char *rel) {
    snprintf(path, cap, "%s/%s.csv.gz", check_data_dir(), rel);
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    else snprintf(path, cap, "%s/%s.csv", check_data_dir(), rel);
}

#endif
