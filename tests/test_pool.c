/* test_pool.c: poolings and the sentence-transformers layout.
 *
 * numerics: gl_pool_forward / gl_pool_backward for mean, cls, max and
 *           mean_sqrt_len against tests/fixtures/model/pool_ref.safetensors
 *           (tools/make_pool_fixtures.py: float64 torch, cross-checked there
 *           with sentence-transformers' own Pooling). Padding positions hold
 *           +-100, so a pooling that reads them is off by ~100. Tolerances:
 *           cls and max select values, so they and max's gradient must be exact;
 *           mean and mean_sqrt_len sum at most 7 float32 values of size ~1:
 *           2e-6 abs (forward and gradient).
 * st_config: modules.json, <k>_Pooling/config.json (both layouts), Dense,
 *           Normalize, sentence_bert_config.json; every malformed or
 *           inconsistent file is an error naming the file and the key.
 * resolve:  --pool auto on the tiny fixture model (trained pooler) and on
 *           variants of it; explicit requests win; Normalize; a declared
 *           pooler's Dense weights must be the model's; export round trips. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "fixture.h"
#include "io/st_config.h"
#include "model/bert.h"
#include "model/hf_export.h"
#include "model/pool_auto.h"
#include "util/error.h"

static char g_tmp[256];

/* GLOSS_TEST_VERBOSE=1 prints every expected error message, for review. */
static void show_error(void) {
    if (getenv("GLOSS_TEST_VERBOSE")) fprintf(stderr, "  expected error: %s\n", gl_error_message());
}

static int msg_has(const char *s) { return strstr(gl_error_message(), s) != NULL; }

/* ------------------------------------------------------------- numerics */

static double max_abs_diff(const float *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

static void test_numerics(void) {
    gl_safetensors st;
    if (fx_open_from(&st, "tests/fixtures/model/pool_ref.safetensors", "make_pool_fixtures.py") != 0) {
        CHECK(0);
        return;
    }
    const gl_st_tensor *th = gl_st_find(&st, "hidden");
    CHECK(th && th->ndim == 3);
    if (!th || th->ndim != 3) return;
    const int B = (int)th->shape[0], T = (int)th->shape[1], C = (int)th->shape[2];
    const size_t N = (size_t)B * T * C;
    float *H = malloc(sizeof(float) * N), *out = malloc(sizeof(float) * B * C), *R = malloc(sizeof(float) * B * C),
          *dH = malloc(sizeof(float) * N);
    double *mask_d = fx_f64(&st, "mask", NULL), *R_d = fx_f64(&st, "R", NULL);
    uint8_t *mask = malloc((size_t)B * T);
    CHECK(gl_st_read_f32(&st, th, H) == 0 && mask_d && R_d);
    for (int i = 0; i < B * T; i++) mask[i] = mask_d[i] != 0;
    for (int i = 0; i < B * C; i++) R[i] = (float)R_d[i];
    gl_bert m;
    memset(&m, 0, sizeof m);
    m.cfg.hidden_size = C;
    static const struct {
        gl_pool pool;
        const char *name;
        double tol;
    } cases[] = {{GL_POOL_MEAN, "mean", 2e-6},
                 {GL_POOL_CLS, "cls", 0},
                 {GL_POOL_MAX, "max", 0},
                 {GL_POOL_MEAN_SQRT_LEN, "mean_sqrt_len", 2e-6}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char dname[32];
        snprintf(dname, sizeof dname, "d_%s", cases[k].name);
        double *ref = fx_f64(&st, cases[k].name, NULL), *dref = fx_f64(&st, dname, NULL);
        CHECK(ref && dref);
        if (!ref || !dref) continue;
        CHECK(gl_pool_forward(&m, cases[k].pool, out, H, mask, B, T) == 0);
        double ef = max_abs_diff(out, ref, (size_t)B * C);
        memset(dH, 0, sizeof(float) * N);
        CHECK(gl_pool_backward(&m, cases[k].pool, dH, R, out, H, mask, B, T) == 0);
        double eb = max_abs_diff(dH, dref, N);
        /* the backward accumulates: a second call doubles the gradient */
        CHECK(gl_pool_backward(&m, cases[k].pool, dH, R, out, H, mask, B, T) == 0);
        for (size_t i = 0; i < N; i++) dH[i] *= 0.5f;
        double eb2 = max_abs_diff(dH, dref, N);
        printf("pool %-13s forward max abs err %.2e, gradient %.2e (tolerance %g)\n", cases[k].name, ef, eb,
               cases[k].tol);
        CHECK_MSG(ef <= cases[k].tol, "%s forward %.3g", cases[k].name, ef);
        CHECK_MSG(eb <= cases[k].tol && eb2 <= cases[k].tol, "%s gradient %.3g %.3g", cases[k].name, eb, eb2);
        free(ref);
        free(dref);
    }
    /* name <-> enum, and AUTO is a request only */
    for (int p = GL_POOL_AUTO; p <= GL_POOL_MEAN_SQRT_LEN; p++) {
        gl_pool q;
        CHECK(gl_pool_parse(gl_pool_name((gl_pool)p), &q) == 0 && q == (gl_pool)p);
    }
    gl_pool q;
    CHECK(gl_pool_parse("maximum", &q) != 0 && msg_has("maximum"));
    CHECK(gl_pool_forward(&m, GL_POOL_AUTO, out, H, mask, B, T) != 0 && msg_has("auto"));
    CHECK(gl_pool_backward(&m, GL_POOL_AUTO, dH, R, out, H, mask, B, T) != 0);
    free(H);
    free(out);
    free(R);
    free(dH);
    free(mask);
    free(mask_d);
    free(R_d);
    gl_st_close(&st);
}

/* max with ties: the whole gradient goes to the first of the tied tokens, and
 * a padding token never wins even when it holds the largest value */
static void test_max_ties(void) {
    enum { B = 1, T = 4, C = 2 };
    const float H[B * T * C] = {1, 5, 3, 5, 3, 2, 9, 9}; /* channel 0: 1 3 3 (9 pad); channel 1: 5 5 2 (9 pad) */
    const uint8_t mask[B * T] = {1, 1, 1, 0};
    float out[C], dH[B * T * C] = {0}, dout[C] = {0.5f, -2.0f};
    gl_bert m;
    memset(&m, 0, sizeof m);
    m.cfg.hidden_size = C;
    CHECK(gl_pool_forward(&m, GL_POOL_MAX, out, H, mask, B, T) == 0);
    CHECK(out[0] == 3 && out[1] == 5);
    CHECK(gl_pool_backward(&m, GL_POOL_MAX, dH, dout, out, H, mask, B, T) == 0);
    const float want[B * T * C] = {0, -2.0f, 0.5f, 0, 0, 0, 0, 0};
    CHECK(memcmp(dH, want, sizeof want) == 0);
}

/* ------------------------------------------------------------ st_config */

static void write_file(const char *rel, const char *text) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", g_tmp, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    mkdir(path, 0777);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static void clear_tmp(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/* '%s'/.[!.]*", g_tmp, g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not clear %s\n", g_tmp);
}

#define MODULES_HEAD "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"}"
#define POOLING_MOD ",{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}"
#define NORMALIZE_MOD ",{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_transformers.models.Normalize\"}"
#define POOL_CFG(dim, cls, mean, max, sqrt)                                                                   \
    "{\"word_embedding_dimension\": " dim ", \"pooling_mode_cls_token\": " cls ", \"pooling_mode_mean_tokens\": " \
    mean ", \"pooling_mode_max_tokens\": " max ", \"pooling_mode_mean_sqrt_len_tokens\": " sqrt "}"

/* Load gl_tmp with hidden size 32; expect success. */
static int load_ok(gl_st_config *st, int line) {
    int rc = gl_st_config_load(st, g_tmp, 32);
    CHECK_MSG(rc == 0, "line %d: %s", line, gl_error_message());
    return rc == 0;
}

/* Expect an error naming the file (relative to gl_tmp) and the fragment (the key). */
static void expect_fail(const char *file, const char *frag, int line) {
    gl_st_config st;
    int rc = gl_st_config_load(&st, g_tmp, 32);
    CHECK_MSG(rc != 0, "line %d: no error (want %s: %s)", line, file, frag);
    if (rc == 0) return;
    show_error();
    char path[600];
    snprintf(path, sizeof path, "%s/%s", g_tmp, file);
    CHECK_MSG(msg_has(path) && msg_has(frag), "line %d: message lacks '%s' or '%s': %s", line, path, frag,
              gl_error_message());
}

/* Write text to file (relative to gl_tmp), then expect_fail. */
static void expect_fail_with(const char *file, const char *text, const char *frag, int line) {
    write_file(file, text);
    expect_fail(file, frag, line);
}

static void test_st_config(void) {
    gl_st_config st;
    clear_tmp();
    if (load_ok(&st, __LINE__)) CHECK(!st.has_modules && !st.pooling[0] && !st.normalize && !st.max_seq_length);
    /* 1_Pooling alone (no modules.json) */
    write_file("1_Pooling/config.json", POOL_CFG("32", "false", "true", "false", "false"));
    if (load_ok(&st, __LINE__))
        CHECK(!strcmp(st.pooling, "mean") && !strcmp(st.pooling_file, "1_Pooling/config.json") && !st.normalize);
    /* modules.json as all-MiniLM-L6-v2's, with a Normalize module */
    write_file("modules.json", MODULES_HEAD POOLING_MOD NORMALIZE_MOD "]");
    write_file("sentence_bert_config.json", "{\"max_seq_length\": 256, \"do_lower_case\": false}");
    if (load_ok(&st, __LINE__))
        CHECK(st.has_modules && !strcmp(st.pooling, "mean") && st.normalize && st.max_seq_length == 256 &&
              st.do_lower_case == 0 && !st.unsupported[0]);
    /* each mode, legacy booleans */
    write_file("1_Pooling/config.json", POOL_CFG("32", "false", "false", "true", "false"));
    if (load_ok(&st, __LINE__)) CHECK(!strcmp(st.pooling, "max"));
    write_file("1_Pooling/config.json", POOL_CFG("32", "false", "false", "false", "true"));
    if (load_ok(&st, __LINE__)) CHECK(!strcmp(st.pooling, "mean_sqrt_len"));
    write_file("1_Pooling/config.json", POOL_CFG("32", "true", "false", "false", "false"));
    if (load_ok(&st, __LINE__)) CHECK(!strcmp(st.pooling, "cls"));
    /* sentence-transformers 6.x layout: embedding_dimension, pooling_mode (the booleans are then ignored) */
    write_file("1_Pooling/config.json", "{\"embedding_dimension\": 32, \"pooling_mode\": \"mean_sqrt_len_tokens\", "
                                        "\"pooling_mode_cls_token\": true, \"include_prompt\": true}");
    if (load_ok(&st, __LINE__)) CHECK(!strcmp(st.pooling, "mean_sqrt_len"));
    write_file("1_Pooling/config.json", "{\"embedding_dimension\": 32, \"pooling_mode\": [\"max\"]}");
    if (load_ok(&st, __LINE__)) CHECK(!strcmp(st.pooling, "max"));
    /* modules gloss does not compute are recorded, not errors */
    write_file("3_Dense/config.json", "{\"in_features\": 32, \"out_features\": 8, \"bias\": true, "
                                      "\"activation_function\": \"torch.nn.modules.activation.Tanh\"}");
    write_file("1_Pooling/config.json", POOL_CFG("32", "true", "false", "false", "false"));
    write_file("modules.json", MODULES_HEAD POOLING_MOD
               ",{\"idx\":2,\"name\":\"2\",\"path\":\"3_Dense\",\"type\":\"sentence_transformers.models.Dense\"}]");
    if (load_ok(&st, __LINE__)) CHECK(!strcmp(st.unsupported, "sentence_transformers.models.Dense"));
    write_file("modules.json", MODULES_HEAD POOLING_MOD ",{\"idx\":2,\"name\":\"2\",\"path\":\"\",\"type\":\"a.b.Foo\"}]");
    if (load_ok(&st, __LINE__)) CHECK(!strcmp(st.unsupported, "a.b.Foo"));
    /* a Dense(32 -> 32, Tanh) after cls pooling is the pooler, unless it adds a residual */
    write_file("3_Dense/config.json", "{\"in_features\": 32, \"out_features\": 32, \"bias\": true, "
                                      "\"activation_function\": \"torch.nn.modules.activation.Tanh\"}");
    write_file("modules.json", MODULES_HEAD POOLING_MOD
               ",{\"idx\":2,\"name\":\"2\",\"path\":\"3_Dense\",\"type\":\"sentence_transformers.models.Dense\"}"
               NORMALIZE_MOD "]");
    if (load_ok(&st, __LINE__))
        CHECK(!strcmp(st.pooling, "pooler") && !strcmp(st.dense_dir, "3_Dense") && st.normalize && !st.unsupported[0]);
    write_file("3_Dense/config.json", "{\"in_features\": 32, \"out_features\": 32, \"use_residual\": true}");
    if (load_ok(&st, __LINE__)) CHECK(!strcmp(st.pooling, "cls") && st.unsupported[0]);
    expect_fail_with("3_Dense/config.json", "{\"in_features\": 32, \"out_features\": 32, \"use_residual\": 1}",
                     "\"use_residual\"", __LINE__);
    expect_fail_with("3_Dense/config.json", "{\"in_features\": \"32\", \"out_features\": 32}", "\"in_features\"",
                     __LINE__);
    /* sentence-transformers 6.x: a Normalize of the token embeddings does not touch the pooled vector */
    write_file("modules.json", MODULES_HEAD POOLING_MOD NORMALIZE_MOD "]");
    write_file("2_Normalize/config.json", "{\"module_input_name\": \"token_embeddings\"}");
    if (load_ok(&st, __LINE__)) CHECK(!st.normalize && st.unsupported[0]);
    write_file("2_Normalize/config.json", "{\"module_input_name\": \"sentence_embedding\"}");
    if (load_ok(&st, __LINE__)) CHECK(st.normalize && !st.unsupported[0]);
    expect_fail_with("2_Normalize/config.json", "{\"module_input_name\": 4}", "\"module_input_name\"", __LINE__);
    clear_tmp();

    /* errors: modules.json */
    expect_fail_with("modules.json", "[{\"idx\": 0,", "invalid JSON", __LINE__);
    expect_fail_with("modules.json", "{\"idx\": 0}", "not a JSON array", __LINE__);
    expect_fail_with("modules.json", "[3]", "entry 0 is not an object", __LINE__);
    expect_fail_with("modules.json", MODULES_HEAD ",{\"path\":\"1_Pooling\",\"type\":7}]", "\"type\"", __LINE__);
    expect_fail_with("modules.json", MODULES_HEAD ",{\"path\":null,\"type\":\"sentence_transformers.models.Pooling\"}]",
                     "\"path\"", __LINE__);
    expect_fail_with("modules.json",
                     MODULES_HEAD ",{\"path\":\"9_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]",
                     "\"path\" is \"9_Pooling\"", __LINE__);
    expect_fail_with("modules.json", "[{\"path\":\"sub\",\"type\":\"sentence_transformers.models.Transformer\"}]",
                     "\"path\"", __LINE__);
    /* errors: the Pooling config */
    write_file("modules.json", MODULES_HEAD POOLING_MOD NORMALIZE_MOD "]");
    expect_fail_with("1_Pooling/config.json", "{\"word_embedding_dimension\": 32,", "invalid JSON", __LINE__);
    expect_fail_with("1_Pooling/config.json", "[]", "not a JSON object", __LINE__);
    write_file("1_Pooling/config.json", POOL_CFG("384", "false", "true", "false", "false"));
    expect_fail("1_Pooling/config.json", "\"word_embedding_dimension\" is 384 but the model's hidden_size is 32",
                __LINE__);
    expect_fail_with("1_Pooling/config.json", POOL_CFG("\"32\"", "false", "true", "false", "false"),
                     "\"word_embedding_dimension\" must be an integer", __LINE__);
    expect_fail_with("1_Pooling/config.json", "{\"pooling_mode_mean_tokens\": true}", "\"word_embedding_dimension\"",
                     __LINE__);
    expect_fail_with("1_Pooling/config.json", POOL_CFG("32", "false", "\"yes\"", "false", "false"),
                     "\"pooling_mode_mean_tokens\" must be true or false", __LINE__);
    expect_fail_with("1_Pooling/config.json", POOL_CFG("32", "false", "false", "false", "false"), "no pooling mode",
                     __LINE__);
    expect_fail_with("1_Pooling/config.json", POOL_CFG("32", "true", "true", "false", "false"),
                     "more than one pooling mode", __LINE__);
    expect_fail_with("1_Pooling/config.json",
                     "{\"word_embedding_dimension\": 32, \"pooling_mode_weightedmean_tokens\": true}",
                     "\"pooling_mode_weightedmean_tokens\" is true", __LINE__);
    expect_fail_with("1_Pooling/config.json", "{\"word_embedding_dimension\": 32, \"pooling_mode_frobnicate\": true}",
                     "\"pooling_mode_frobnicate\"", __LINE__);
    expect_fail_with("1_Pooling/config.json", "{\"embedding_dimension\": 32, \"pooling_mode\": \"lasttoken\"}",
                     "\"pooling_mode\" names \"lasttoken\"", __LINE__);
    expect_fail_with("1_Pooling/config.json", "{\"embedding_dimension\": 32, \"pooling_mode\": [\"mean\", \"max\"]}",
                     "more than one pooling mode", __LINE__);
    expect_fail_with("1_Pooling/config.json", "{\"embedding_dimension\": 32, \"pooling_mode\": 1}", "\"pooling_mode\"",
                     __LINE__);
    expect_fail_with("1_Pooling/config.json", "{\"embedding_dimension\": 16, \"pooling_mode\": \"mean\"}",
                     "\"embedding_dimension\" is 16", __LINE__);
    /* the same checks hold for 1_Pooling/config.json without modules.json */
    clear_tmp();
    expect_fail_with("1_Pooling/config.json", POOL_CFG("31", "false", "true", "false", "false"),
                     "\"word_embedding_dimension\" is 31", __LINE__);
    /* errors: sentence_bert_config.json */
    write_file("1_Pooling/config.json", POOL_CFG("32", "false", "true", "false", "false"));
    expect_fail_with("sentence_bert_config.json", "{\"max_seq_length\": \"256\"}", "\"max_seq_length\"", __LINE__);
    expect_fail_with("sentence_bert_config.json", "{\"max_seq_length\": 0}", "\"max_seq_length\"", __LINE__);
    expect_fail_with("sentence_bert_config.json", "{\"do_lower_case\": 1}", "\"do_lower_case\"", __LINE__);
    expect_fail_with("sentence_bert_config.json", "{\"max_seq_length\": 12", "invalid JSON", __LINE__);
    clear_tmp();
}

/* ------------------------------------------------------------- resolve */

static int resolve(const gl_bert *m, gl_pool req, gl_pool_choice *pc, int line) {
    int rc = gl_pool_resolve(m, g_tmp, req, pc);
    CHECK_MSG(rc == 0, "line %d: %s", line, gl_error_message());
    return rc == 0;
}

static void test_resolve(void) {
    gl_bert m, nop;
    if (gl_bert_load(&m, "tests/fixtures/model/tiny") != 0 || gl_bert_load(&nop, "tests/fixtures/model/tiny_f16") != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    const int C = m.cfg.hidden_size;
    gl_pool_choice pc;
    clear_tmp();
    /* nothing declared: the tiny model's pooler is trained (random bias), the f16 variant has none */
    CHECK(gl_bert_pooler_trained(&m) == 1 && gl_bert_pooler_trained(&nop) == 0);
    if (resolve(&m, GL_POOL_AUTO, &pc, __LINE__)) CHECK(pc.pool == GL_POOL_POOLER && !pc.normalize);
    if (resolve(&nop, GL_POOL_AUTO, &pc, __LINE__)) CHECK(pc.pool == GL_POOL_MEAN && !pc.normalize);
    CHECK(gl_pool_resolve(&nop, g_tmp, GL_POOL_POOLER, &pc) != 0 && msg_has("no pooler weights"));
    /* an untrained pooler (bias exactly 0, weight std below 0.04) is not used; a larger std is */
    float *b = m.p.pool_b, *w = m.p.pool_w, *saved = malloc(sizeof(float) * (size_t)C * (C + 1));
    memcpy(saved, w, sizeof(float) * C * C);
    memcpy(saved + C * C, b, sizeof(float) * C);
    memset(b, 0, sizeof(float) * C);
    for (int i = 0; i < C * C; i++) w[i] = (i % 2 ? 0.03f : -0.03f);
    CHECK(gl_bert_pooler_trained(&m) == 0);
    if (resolve(&m, GL_POOL_AUTO, &pc, __LINE__)) CHECK(pc.pool == GL_POOL_MEAN);
    for (int i = 0; i < C * C; i++) w[i] = (i % 2 ? 0.05f : -0.05f);
    CHECK(gl_bert_pooler_trained(&m) == 1);
    b[3] = 1e-6f;
    for (int i = 0; i < C * C; i++) w[i] = 0;
    CHECK(gl_bert_pooler_trained(&m) == 1);
    memcpy(w, saved, sizeof(float) * C * C);
    memcpy(b, saved + C * C, sizeof(float) * C);
    free(saved);

    /* declared: it wins over the trained pooler; Normalize follows auto or the declared pooling */
    write_file("1_Pooling/config.json", POOL_CFG("32", "false", "false", "true", "false"));
    if (resolve(&m, GL_POOL_AUTO, &pc, __LINE__))
        CHECK(pc.pool == GL_POOL_MAX && !pc.normalize && strstr(pc.source, "1_Pooling/config.json"));
    write_file("modules.json", MODULES_HEAD POOLING_MOD NORMALIZE_MOD "]");
    if (resolve(&m, GL_POOL_AUTO, &pc, __LINE__)) CHECK(pc.pool == GL_POOL_MAX && pc.normalize);
    if (resolve(&m, GL_POOL_MAX, &pc, __LINE__)) CHECK(pc.pool == GL_POOL_MAX && pc.normalize);
    if (resolve(&m, GL_POOL_CLS, &pc, __LINE__))
        CHECK(pc.pool == GL_POOL_CLS && !pc.normalize && !strcmp(pc.source, "--pool"));
    /* a module gloss does not compute: an error for auto only */
    write_file("modules.json", MODULES_HEAD POOLING_MOD ",{\"path\":\"\",\"type\":\"a.b.Foo\"}]");
    CHECK(gl_pool_resolve(&m, g_tmp, GL_POOL_AUTO, &pc) != 0 && msg_has("modules.json") && msg_has("a.b.Foo"));
    show_error();
    if (resolve(&m, GL_POOL_MEAN, &pc, __LINE__)) CHECK(pc.pool == GL_POOL_MEAN);
    /* malformed files are errors whatever is requested */
    write_file("modules.json", "[");
    CHECK(gl_pool_resolve(&m, g_tmp, GL_POOL_MEAN, &pc) != 0 && msg_has("modules.json"));
    clear_tmp();

    /* export, then read back: every pooling, with and without Normalize */
    static const gl_pool pools[] = {GL_POOL_MEAN, GL_POOL_CLS, GL_POOL_MAX, GL_POOL_MEAN_SQRT_LEN, GL_POOL_POOLER};
    for (int k = 0; k < 5; k++)
        for (int norm = 0; norm < 2; norm++) {
            clear_tmp();
            CHECK(gl_st_export(g_tmp, gl_pool_name(pools[k]), norm, C, 24, 1, m.p.pool_w, m.p.pool_b) == 0);
            if (resolve(&m, GL_POOL_AUTO, &pc, __LINE__))
                CHECK_MSG(pc.pool == pools[k] && pc.normalize == norm && pc.st.max_seq_length == 24 &&
                              pc.st.do_lower_case == 1,
                          "%s normalize %d: got %s %d", gl_pool_name(pools[k]), norm, gl_pool_name(pc.pool),
                          pc.normalize);
        }
    /* a declared pooler whose Dense weights are not the model's pooler */
    m.p.pool_w[5] += 1.0f;
    CHECK(gl_pool_resolve(&m, g_tmp, GL_POOL_AUTO, &pc) != 0 && msg_has("2_Dense/model.safetensors") &&
          msg_has("linear.weight"));
    show_error();
    m.p.pool_w[5] -= 1.0f;
    CHECK(gl_pool_resolve(&nop, g_tmp, GL_POOL_AUTO, &pc) != 0 && msg_has("no pooler weights"));
    char dense_st[600];
    snprintf(dense_st, sizeof dense_st, "%s/2_Dense/model.safetensors", g_tmp);
    remove(dense_st);
    CHECK(gl_pool_resolve(&m, g_tmp, GL_POOL_AUTO, &pc) != 0 && msg_has("2_Dense/model.safetensors"));
    CHECK(gl_st_export(g_tmp, "auto", 0, C, 24, 1, NULL, NULL) != 0);
    CHECK(gl_st_export(g_tmp, "pooler", 0, C, 24, 1, NULL, NULL) != 0);
    clear_tmp();

    /* gloss_pooling in a fine-tuned model's config.json: every mode but auto */
    char **labels;
    int K;
    gl_pool p;
    write_file("config.json", "{\"id2label\": {\"0\": \"a\", \"1\": \"b\"}, \"gloss_pooling\": \"mean_sqrt_len\"}");
    CHECK(gl_hf_labels(g_tmp, &labels, &K, &p) == 0 && K == 2 && p == GL_POOL_MEAN_SQRT_LEN);
    gl_hf_labels_free(labels, K);
    write_file("config.json", "{\"id2label\": {\"0\": \"a\"}, \"gloss_pooling\": \"auto\"}");
    CHECK(gl_hf_labels(g_tmp, &labels, &K, &p) != 0 && msg_has("config.json") && msg_has("\"gloss_pooling\""));
    write_file("config.json", "{\"id2label\": {\"0\": \"a\"}, \"gloss_pooling\": 3}");
    CHECK(gl_hf_labels(g_tmp, &labels, &K, &p) != 0 && msg_has("\"gloss_pooling\" must be a string"));
    write_file("config.json", "{\"id2label\": {\"0\": \"a\"}, \"gloss_pooling\": \"maximum\"}");
    CHECK(gl_hf_labels(g_tmp, &labels, &K, &p) != 0 && msg_has("maximum"));
    clear_tmp();
    gl_bert_free(&m);
    gl_bert_free(&nop);
}

int main(void) {
    const char *tmpdir = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/gloss_test_pool_XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 2;
    }
    test_numerics();
    test_max_ties();
    test_st_config();
    test_resolve();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
    return check_summary("test_pool");
}
