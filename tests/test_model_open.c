/* test_model_open.c: the checked model opener (src/model/model_open.h) and
 * allocation failures that are reported as such.
 *  - gl_model_open: the tiny fixture opens; a copy whose vocab.txt has more
 *    entries than config.json's vocab_size is refused (vocab.txt, its entry
 *    count and vocab_size named), through the public API too, leaving nothing
 *    allocated;
 *  - the second guard: gl_model_check_ids, and gl_predict_split on a split
 *    holding a token id past the embedding table (an error naming the file and
 *    the document, never a read past the table);
 *  - gl_objective_embedding_loss when the loss's workspace cannot be
 *    allocated (a batch of 2^20 embeddings: terabytes of pairwise matrices),
 *    for each embedding loss: -1 with an out-of-memory error, not a NaN loss;
 *    while a NaN embedding still gives a NaN loss and no error. Run in a
 *    forked child with an address-space limit (RLIMIT_AS) so that no
 *    overcommit setting can let the allocation succeed; under AddressSanitizer
 *    (which reserves its shadow memory up front) the limit is left out and
 *    allocator_may_return_null makes ASan return NULL. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "gloss.h"
#include "model/model_open.h"
#include "train/dataset.h"
#include "train/objective.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/fileio.h"

#define TINY "tests/fixtures/model/tiny"

/* AddressSanitizer reads this at start-up (in a build without it, an unused
 * function): a huge malloc returns NULL instead of aborting the test. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static char g_dir[256];

static void copy_file(const char *from, const char *to) {
    char *d;
    size_t n;
    if (gl_read_file(from, &d, &n) != 0 || gl_write_file_atomic(to, d, n) != 0) {
        fprintf(stderr, "%s\n", gl_error_message());
        exit(2);
    }
    free(d);
}

/* g_dir/big: the tiny model with `extra` more lines in vocab.txt. */
static const char *model_with_vocab_extra(int extra) {
    static char dir[300];
    snprintf(dir, sizeof dir, "%s/big", g_dir);
    mkdir(dir, 0755);
    static const char *files[] = {"config.json", "model.safetensors", "tokenizer_config.json"};
    for (int i = 0; i < 3; i++) {
        char a[400], b[400];
        snprintf(a, sizeof a, "%s/%s", TINY, files[i]);
        snprintf(b, sizeof b, "%s/%s", dir, files[i]);
        copy_file(a, b);
    }
    char *v;
    size_t n;
    if (gl_read_file(TINY "/vocab.txt", &v, &n) != 0) exit(2);
    char *w = malloc(n + (size_t)extra * 16 + 1);
    memcpy(w, v, n);
    for (int i = 0; i < extra; i++) n += (size_t)sprintf(w + n, "extra%d\n", i);
    char path[400];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    if (gl_write_file_atomic(path, w, n) != 0) exit(2);
    free(v);
    free(w);
    return dir;
}

static void test_open(void) {
    gl_bert m;
    gl_tokenizer *tok = NULL;
    CHECK_MSG(gl_model_open(TINY, &m, &tok) == 0, "%s", gl_error_message());
    if (tok) {
        CHECK(gl_tokenizer_vocab_size(tok) == 120 && m.cfg.vocab_size == 120);
        gl_model_close(&m, &tok);
        CHECK(tok == NULL && m.params == NULL);
    }

    /* 130 entries for a table of 120 rows */
    const char *dir = model_with_vocab_extra(10);
    char want[512];
    snprintf(want, sizeof want, "%s/vocab.txt: 130 entries but config.json's vocab_size is 120", dir);
    tok = (gl_tokenizer *)1; /* must come back NULL */
    CHECK(gl_model_open(dir, &m, &tok) == -1);
    CHECK_MSG(strstr(gl_error_message(), want) != NULL, "message \"%s\" lacks \"%s\"", gl_error_message(), want);
    CHECK(tok == NULL && m.params == NULL && m.table == NULL);
    gloss_model *gm = gloss_model_load(dir);
    CHECK(gm == NULL);
    CHECK_MSG(strstr(gloss_last_error(), want) != NULL, "API: \"%s\"", gloss_last_error());
    gloss_model_free(gm);

    /* equal sizes are fine */
    dir = model_with_vocab_extra(0);
    CHECK_MSG(gl_model_open(dir, &m, &tok) == 0, "%s", gl_error_message());
    if (tok) gl_model_close(&m, &tok);

    /* a directory without a model: the error names config.json */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none", g_dir);
    CHECK(gl_model_open(missing, &m, &tok) == -1 && tok == NULL);
    CHECK(strstr(gl_error_message(), "config.json") != NULL);
}

static void test_ids(void) {
    gl_bert m;
    gl_tokenizer *tok;
    if (gl_model_open(TINY, &m, &tok) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    const int32_t good[] = {0, 2, 119}, big[] = {2, 120, 3}, neg[] = {2, -1};
    CHECK(gl_model_check_ids(&m, good, 3, "doc") == 0);
    CHECK(gl_model_check_ids(&m, big, 3, "doc 7") == -1);
    CHECK_MSG(strstr(gl_error_message(), "doc 7: token id 120 at position 1 is outside the embedding table "
                                         "(config.json vocab_size 120)") != NULL,
              "%s", gl_error_message());
    CHECK(gl_model_check_ids(&m, neg, 2, "doc") == -1 && strstr(gl_error_message(), "token id -1"));

    /* a split whose second document holds id 120: gl_predict_split stops
     * before the forward pass with the file and the document named */
    int32_t ids[] = {2, 5, 3, 2, 7, 120, 3};
    size_t off[] = {0, 3, 7};
    int label[] = {0, 0};
    gl_split s = {2, ids, off, label, "handmade.csv"};
    float emb[2 * 32], probs[2];
    CHECK(gl_predict_split(&m, &s, GL_POOL_MEAN, 8, probs, emb, NULL, GL_STAGE_PREDICT) == -1);
    CHECK_MSG(strstr(gl_error_message(), "handmade.csv: document 2: token id 120 at position 2") != NULL, "%s",
              gl_error_message());
    ids[5] = 119;
    CHECK_MSG(gl_predict_split(&m, &s, GL_POOL_MEAN, 8, probs, emb, NULL, GL_STAGE_PREDICT) == 0, "%s", gl_error_message());
    gl_model_close(&m, &tok);
}

/* In the child: each embedding loss on 2^20 embeddings runs out of memory. */
static int oom_child(void) {
#if !defined(__SANITIZE_ADDRESS__)
    /* the address space in use now plus 4 GB: terabytes cannot be had */
    long pages = 0, page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1) pages = 0;
        fclose(f);
    }
    struct rlimit rl = {(rlim_t)pages * (rlim_t)page + ((rlim_t)4 << 30), (rlim_t)pages * (rlim_t)page + ((rlim_t)4 << 30)};
    if (pages > 0) setrlimit(RLIMIT_AS, &rl);
#endif
    const int B = 1 << 20, C = 2, K = 2;
    float *emb = malloc(sizeof(float) * (size_t)B * C), *demb = calloc((size_t)B * C, sizeof(float));
    int *y = malloc(sizeof(int) * (size_t)B);
    if (!emb || !demb || !y) return 2;
    for (int i = 0; i < B; i++) {
        y[i] = i % K;
        emb[(size_t)i * C] = (float)(i % 7) + 1.0f;
        emb[(size_t)i * C + 1] = (float)(i % 5) - 2.0f;
    }
    static const gl_loss_kind kinds[] = {GL_LOSS_GLOSS, GL_LOSS_SUPCON, GL_LOSS_TRIPLET, GL_LOSS_COSINE};
    for (int k = 0; k < 4; k++) {
        gl_objective o;
        gl_objective_default(&o);
        o.kind = kinds[k];
        o.gloss.sigma = 1.0;
        gl_gloss_stats st = {0};
        int skipped = -1;
        double E = 1.0;
        int rc = gl_objective_embedding_loss(&o, emb, y, B, C, K, NULL, 1.0, 42, demb, &st, &skipped, &E);
        CHECK_MSG(rc == -1 && gl_error_is_oom(), "%s: rc %d, E %g, \"%s\"", gl_loss_name(kinds[k]), rc, E,
                  gl_error_message());
        CHECK_MSG(strstr(gl_error_message(), "out of memory") != NULL, "%s: \"%s\"", gl_loss_name(kinds[k]),
                  gl_error_message());
        printf("test_model_open: batch of %d: %s\n", B, gl_error_message());
        size_t touched = 0;
        for (size_t i = 0; i < (size_t)B * C; i++) touched += demb[i] != 0.0f;
        CHECK_MSG(touched == 0, "%s: the gradient was written after a failed allocation", gl_loss_name(kinds[k]));
    }
    free(emb);
    free(demb);
    free(y);
    fflush(stdout); /* the child leaves by _exit */
    return check_failures ? 1 : 0;
}

static void test_loss_oom(void) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) _exit(oom_child());
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "out-of-memory child: status %d", status);

    /* a small batch computes; a NaN embedding is a NaN loss, not an error */
    float emb[8 * 3], demb[8 * 3] = {0};
    int y[8];
    for (int i = 0; i < 8; i++) {
        y[i] = i % 2;
        for (int c = 0; c < 3; c++) emb[i * 3 + c] = (float)((i * 7 + c * 3) % 5) - 2.0f + 0.1f * (float)c;
    }
    gl_objective o;
    gl_objective_default(&o);
    o.kind = GL_LOSS_SUPCON;
    int skipped;
    double E = NAN;
    CHECK(gl_objective_embedding_loss(&o, emb, y, 8, 3, 2, NULL, 1.0, 1, demb, NULL, &skipped, &E) == 0 &&
          isfinite(E) && E > 0);
    emb[4] = NAN;
    CHECK(gl_objective_embedding_loss(&o, emb, y, 8, 3, 2, NULL, 1.0, 1, demb, NULL, &skipped, &E) == 0 && isnan(E) &&
          !gl_error_is_oom());
    o.kind = GL_LOSS_CE;
    CHECK(gl_objective_embedding_loss(&o, emb, y, 8, 3, 2, NULL, 1.0, 1, demb, NULL, &skipped, &E) == 0 && E == 0.0);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/gloss_open_XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_open();
    test_ids();
    test_loss_oom();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return check_summary("test_model_open");
}
