/* test_api.c: the public API (include/gloss.h) as a program outside the
 * library sees it: linked against libgloss.so, which exports nothing else.
 * Statuses and messages of bad input, the option table, texts from files,
 * embedding, a short training run with callbacks (log lines, progress,
 * cancellation with a checkpoint, resume), prediction and evaluation on its
 * output, and that the library itself writes nothing to stderr. The tiny
 * random BERT of tests/fixtures/model/tiny keeps it fast. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "gloss.h"

#define TINY "tests/fixtures/model/tiny"

static char tmpdir[] = "/tmp/gloss-test-api-XXXXXX";

/* ---- stderr capture: the library must not write there ---- */
static int saved_fd = -1;
static char capture_path[256];
static void capture_begin(void) {
    fflush(stderr);
    snprintf(capture_path, sizeof capture_path, "%s/stderr.txt", tmpdir);
    int fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    saved_fd = dup(2);
    dup2(fd, 2);
    close(fd);
}
static long capture_end(void) {
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    struct stat st;
    return stat(capture_path, &st) == 0 ? (long)st.st_size : -1;
}

typedef struct {
    int lines, warnings, train_events, eval_events, cancel_after, finals;
    int last_epoch;
    double last_loss;
} observer;

static void on_log(gloss_log_level level, const char *msg, void *user) {
    observer *o = user;
    o->lines++;
    if (level == GLOSS_LOG_WARN) o->warnings++;
    CHECK_MSG(strchr(msg, '\n') == NULL, "a log message is one line: \"%s\"", msg);
}

static int on_progress(const gloss_progress *p, void *user) {
    observer *o = user;
    CHECK(p->done <= p->total);
    if (p->done == p->total) o->finals++;
    if (p->stage == GLOSS_STAGE_TRAIN) {
        o->train_events++;
        o->last_epoch = p->epoch;
        o->last_loss = p->loss;
        CHECK(p->epoch >= 1 && p->epoch <= p->epochs);
        CHECK(p->lr >= 0);
    } else
        o->eval_events++;
    return o->cancel_after > 0 && o->train_events >= o->cancel_after;
}

static void test_status(void) {
    CHECK(!strcmp(gloss_status_name(GLOSS_OK), "ok"));
    CHECK(!strcmp(gloss_status_name(GLOSS_CANCELLED), "cancelled"));
    CHECK(!strcmp(gloss_status_name((gloss_status)99), "unknown status"));
    CHECK(!strcmp(gloss_version(), GLOSS_VERSION));
    CHECK(strstr(gloss_build_info(), "BLAS kernels: ") != NULL);
}

static void test_models(void) {
    CHECK(gloss_model_load("/nonexistent/model") == NULL);
    CHECK(gloss_last_status() == GLOSS_IO);
    CHECK_MSG(strstr(gloss_last_error(), "/nonexistent/model") != NULL, "%s", gloss_last_error());
    CHECK(gloss_model_load(NULL) == NULL && gloss_last_status() == GLOSS_MISUSE);

    gloss_model *m = gloss_model_load(TINY);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(gloss_model_hidden_size(m) == 32 && gloss_model_num_labels(m) == 0);
    CHECK(gloss_model_label(m, 0) == NULL);
    const char *texts[] = {"the cat sat", "a dog"};
    float emb[2 * 32], again[2 * 32];
    CHECK(gloss_embed(m, texts, 2, GLOSS_POOL_MEAN, 0, 0, emb, NULL) == GLOSS_OK);
    CHECK(gloss_embed(m, texts, 2, GLOSS_POOL_MEAN, 0, 1, again, NULL) == GLOSS_OK);
    double worst = 0; /* batch 2 pads "a dog" to 5 tokens; batch 1 does not: the same within rounding */
    for (int i = 0; i < 2 * 32; i++) worst = fmax(worst, fabs(emb[i] - again[i]));
    CHECK_MSG(worst < 1e-5, "%g", worst);
    CHECK(gloss_embed(m, texts, 0, GLOSS_POOL_MEAN, 0, 0, emb, NULL) == GLOSS_INVALID);
    CHECK(gloss_embed(m, texts, 2, (gloss_pool)42, 0, 0, emb, NULL) == GLOSS_INVALID);
    int lab[2];
    CHECK(gloss_predict(m, texts, 2, 0, 0, lab, NULL, NULL) == GLOSS_MISUSE);
    CHECK_MSG(strstr(gloss_last_error(), "classification head") != NULL, "%s", gloss_last_error());
    const char *bad_utf8[] = {"ok", "\xff\xfe"};
    CHECK(gloss_embed(m, bad_utf8, 2, GLOSS_POOL_MEAN, 0, 0, emb, NULL) != GLOSS_OK);
    gloss_pool p;
    CHECK(gloss_pool_parse("nope", &p) == GLOSS_INVALID && gloss_pool_parse("max", &p) == GLOSS_OK &&
          p == GLOSS_POOL_MAX);
    gloss_model_free(m);
    gloss_model_free(NULL);
}

/* bf16 for embed/predict/evaluate, whatever this CPU offers: with AVX512-BF16
 * the switch succeeds and the kernels line says whether bf16 runs (or why it
 * stays fp32); without, it fails with GLOSS_INVALID and the model stays fp32.
 * Either way the embeddings stay within cosine 0.999 of fp32's, and switching
 * back gives fp32's bits again. */
static void test_bf16(void) {
    CHECK(gloss_model_set_bf16(NULL, 1) == GLOSS_MISUSE);
    CHECK(!strcmp(gloss_model_kernels(NULL), ""));
    gloss_model *m = gloss_model_load(TINY);
    CHECK(m != NULL);
    if (!m) return;
    CHECK_MSG(!strncmp(gloss_model_kernels(m), "fp32 ", 5), "%s", gloss_model_kernels(m));
    const char *texts[] = {"the cat sat on the mat", "a dog", "birds fly south in winter"};
    float f32[3 * 32], b16[3 * 32], back[3 * 32];
    CHECK(gloss_embed(m, texts, 3, GLOSS_POOL_MEAN, 0, 0, f32, NULL) == GLOSS_OK);
    gloss_status st = gloss_model_set_bf16(m, 1);
    const char *k = gloss_model_kernels(m);
    if (st == GLOSS_OK) {
        CHECK_MSG(!strncmp(k, "bf16 ", 5) || strstr(k, "bf16 not used") != NULL, "%s", k);
    } else {
        CHECK(st == GLOSS_INVALID);
        CHECK_MSG(strstr(gloss_last_error(), "AVX512-BF16") != NULL, "%s", gloss_last_error());
        CHECK_MSG(!strncmp(k, "fp32 ", 5), "%s", k);
    }
    fprintf(stderr, "test_api: bf16 asked: %s\n", k);
    CHECK(gloss_embed(m, texts, 3, GLOSS_POOL_MEAN, 0, 0, b16, NULL) == GLOSS_OK);
    for (int i = 0; i < 3; i++) {
        double dot = 0, na = 0, nb = 0;
        for (int h = 0; h < 32; h++) {
            dot += (double)f32[i * 32 + h] * b16[i * 32 + h];
            na += (double)f32[i * 32 + h] * f32[i * 32 + h];
            nb += (double)b16[i * 32 + h] * b16[i * 32 + h];
        }
        double cosine = dot / sqrt(na * nb);
        CHECK_MSG(cosine >= 0.999, "text %d: cosine %.6f", i, cosine);
    }
    CHECK(gloss_model_set_bf16(m, 0) == GLOSS_OK);
    CHECK_MSG(!strncmp(gloss_model_kernels(m), "fp32 ", 5), "%s", gloss_model_kernels(m));
    CHECK(gloss_embed(m, texts, 3, GLOSS_POOL_MEAN, 0, 0, back, NULL) == GLOSS_OK);
    CHECK(memcmp(f32, back, sizeof f32) == 0);
    gloss_model_free(m);
}

static void test_texts(void) {
    gloss_texts *t = gloss_texts_read("data/sample/train.csv", "text", "label");
    CHECK(t != NULL);
    if (t) {
        CHECK(gloss_texts_count(t) > 100 && gloss_texts_labels(t) != NULL && gloss_texts_text(t)[0][0]);
        gloss_texts_free(t);
    }
    CHECK(gloss_texts_read("data/sample/train.csv", "text", "no_such_column") == NULL);
    CHECK_MSG(gloss_last_status() == GLOSS_FORMAT && strstr(gloss_last_error(), "no_such_column"), "%s: %s",
              gloss_status_name(gloss_last_status()), gloss_last_error());
    char path[300];
    snprintf(path, sizeof path, "%s/bad.csv", tmpdir);
    FILE *f = fopen(path, "w");
    fputs("text,label\n\"unterminated,x\n", f);
    fclose(f);
    CHECK(gloss_texts_read(path, "text", "label") == NULL);
    CHECK_MSG(gloss_last_status() == GLOSS_FORMAT && strstr(gloss_last_error(), "bad.csv"), "%s",
              gloss_last_error());
    CHECK(gloss_texts_read("/nonexistent.csv", "text", NULL) == NULL && gloss_last_status() == GLOSS_IO);
}

static void test_options(void) {
    size_t n = gloss_train_option_count();
    CHECK(n > 30 && gloss_train_option(n) == NULL);
    gloss_train_config *c = gloss_train_config_new();
    char buf[128];
    int required = 0;
    for (size_t i = 0; i < n; i++) {
        const gloss_option_info *o = gloss_train_option(i);
        CHECK(o->name && o->help && o->section && o->help[0]);
        CHECK((o->metavar == NULL) == (o->type == GLOSS_OPTION_SWITCH));
        CHECK(gloss_train_config_get(c, o->name, buf, sizeof buf) >= 0);
        /* every default reads back as a value the option accepts */
        if (!o->required) CHECK_MSG(gloss_train_config_set(c, o->name, buf) == GLOSS_OK, "%s=%s: %s", o->name, buf,
                                    gloss_last_error());
        required += o->required;
    }
    CHECK(required == 3);
    CHECK(gloss_train_config_get(c, "lr", buf, sizeof buf) > 0 && !strcmp(buf, "0.0001"));
    CHECK(gloss_train_config_set(c, "batch_size", "8") == GLOSS_OK);
    CHECK(gloss_train_config_get(c, "batch-size", buf, sizeof buf) == 1 && !strcmp(buf, "8"));
    CHECK(gloss_train_config_set(c, "batch-size", "0") == GLOSS_INVALID);
    CHECK_MSG(strstr(gloss_last_error(), "--batch-size") != NULL, "%s", gloss_last_error());
    CHECK(gloss_train_config_get(c, "batch-size", buf, sizeof buf) == 1 && !strcmp(buf, "8")); /* unchanged */
    CHECK(gloss_train_config_set(c, "lr", "fast") == GLOSS_INVALID);
    CHECK(gloss_train_config_set(c, "no-such-option", "1") == GLOSS_INVALID);
    CHECK(gloss_train_config_set(c, "sigma", "knn:8") == GLOSS_OK);
    CHECK(gloss_train_config_get(c, "sigma", buf, sizeof buf) > 0 && !strcmp(buf, "knn:8"));
    CHECK(gloss_train_config_set(c, "sigma", "knn:x") == GLOSS_INVALID);
    CHECK(gloss_train_config_set(c, "bf16", "maybe") == GLOSS_INVALID);
    CHECK(gloss_train_config_set(c, "probe-l2", "1e-3,1e-2") == GLOSS_OK);
    CHECK(gloss_train_config_get(c, "probe-l2", buf, sizeof buf) > 0 && !strcmp(buf, "0.001,0.01"));
    CHECK(gloss_train_config_set(c, "model", "") == GLOSS_INVALID);
    CHECK(gloss_train_config_set(NULL, "lr", "1") == GLOSS_MISUSE);
    /* combinations are checked by gloss_train before any work */
    CHECK(gloss_train(c, NULL, NULL) == GLOSS_INVALID && strstr(gloss_last_error(), "--model"));
    gloss_train_config_set(c, "model", TINY);
    gloss_train_config_set(c, "data", "data/sample");
    gloss_train_config_set(c, "out", "/proc/gloss-cannot-write-here");
    gloss_train_config_set(c, "standalone", "true");
    CHECK(gloss_train(c, NULL, NULL) == GLOSS_INVALID && strstr(gloss_last_error(), "--standalone"));
    gloss_train_config_set(c, "standalone", "false");
    gloss_train_config_set(c, "loss", "gloss");
    gloss_train_config_set(c, "lambda", "0.5");
    gloss_train_config_set(c, "balance", "0.3");
    CHECK(gloss_train(c, NULL, NULL) == GLOSS_INVALID && strstr(gloss_last_error(), "--lambda"));
    gloss_train_config_set(c, "balance", "auto");
    CHECK(gloss_train(c, NULL, NULL) != GLOSS_OK); /* /proc is not writable */
    gloss_train_config_free(c);
    gloss_train_config_free(NULL);
}

static gloss_train_config *short_run(const char *out) {
    gloss_train_config *c = gloss_train_config_new();
    const char *kv[][2] = {{"model", TINY}, {"data", "data/sample"}, {"out", out}, {"epochs", "2"},
                           {"batch-size", "8"}, {"limit-train", "48"}, {"max-length", "32"}, {"patience", "0"},
                           {"map-points", "0"}, {"loss", "gloss"}, {"seed", "5"}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        CHECK_MSG(gloss_train_config_set(c, kv[i][0], kv[i][1]) == GLOSS_OK, "%s", gloss_last_error());
    return c;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 22);
    size_t n = fread(buf, 1, (1 << 22) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_training(void) {
    char out[300], out2[300], path[400];
    snprintf(out, sizeof out, "%s/run", tmpdir);
    snprintf(out2, sizeof out2, "%s/run-cancelled", tmpdir);

    /* an uninterrupted run, silent: nothing on stderr */
    gloss_train_config *c = short_run(out);
    char *metrics = NULL;
    capture_begin();
    gloss_status st = gloss_train(c, NULL, &metrics);
    long err_bytes = capture_end();
    CHECK_MSG(st == GLOSS_OK, "%s", gloss_last_error());
    CHECK_MSG(err_bytes == 0, "the library wrote %ld bytes to stderr", err_bytes);
    CHECK(metrics && strstr(metrics, "\"accuracy\""));
    gloss_free(metrics);
    gloss_train_config_free(c);

    /* the same run with callbacks, cancelled after 3 steps: a checkpoint, then resume */
    observer ob = {.cancel_after = 3};
    gloss_callbacks cb = {on_log, on_progress, &ob};
    c = short_run(out2);
    capture_begin();
    st = gloss_train(c, &cb, NULL);
    err_bytes = capture_end();
    CHECK_MSG(st == GLOSS_CANCELLED, "%s: %s", gloss_status_name(st), gloss_last_error());
    CHECK(err_bytes == 0);
    CHECK(ob.lines > 0 && ob.train_events == 3 && ob.last_epoch == 1);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", out2);
    CHECK(access(path, F_OK) == 0);
    observer ob2 = {0};
    cb.user = &ob2;
    gloss_train_config_set(c, "resume", "true");
    st = gloss_train(c, &cb, &metrics);
    CHECK_MSG(st == GLOSS_OK, "%s", gloss_last_error());
    CHECK(ob2.train_events > 0 && ob2.eval_events > 0 && ob2.finals >= 3 && ob2.last_epoch == 2);
    CHECK(isfinite(ob2.last_loss) && ob2.last_loss > 0);
    gloss_free(metrics);
    gloss_train_config_free(c);
    /* an interrupted and resumed run ends with the weights of an uninterrupted one */
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/model.safetensors", out);
    snprintf(b, sizeof b, "%s/model.safetensors", out2);
    char *x = slurp(a), *y = slurp(b);
    CHECK(x && y && !memcmp(x, y, 1 << 20));
    free(x);
    free(y);

    /* the fine-tuned model is a classifier */
    gloss_model *m = gloss_model_load(out);
    CHECK(m != NULL);
    if (!m) return;
    int K = gloss_model_num_labels(m);
    CHECK(K >= 2 && gloss_model_label(m, 0) && gloss_model_label(m, K) == NULL);
    gloss_texts *t = gloss_texts_read("data/sample/test.csv", "text", "label");
    size_t n = gloss_texts_count(t);
    float *probs = malloc(n * (size_t)K * sizeof(float));
    int *lab = malloc(n * sizeof(int));
    observer ob3 = {0};
    cb.user = &ob3;
    capture_begin();
    st = gloss_predict(m, gloss_texts_text(t), n, 32, 16, lab, probs, &cb);
    CHECK(capture_end() == 0);
    CHECK_MSG(st == GLOSS_OK, "%s", gloss_last_error());
    int sums_ok = 1, argmax_ok = 1;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < K; k++) {
            s += probs[i * K + k];
            if (probs[i * K + k] > probs[i * K + lab[i]]) argmax_ok = 0;
        }
        if (fabs(s - 1) > 1e-5) sums_ok = 0;
    }
    CHECK(sums_ok && argmax_ok && ob3.eval_events > 0);
    char *json = NULL;
    st = gloss_evaluate(m, gloss_texts_text(t), gloss_texts_labels(t), n, 32, 16, &json, NULL);
    CHECK_MSG(st == GLOSS_OK, "%s", gloss_last_error());
    CHECK(json && strstr(json, "\"macro_f1\"") && strstr(json, "\"silhouette\"") && strstr(json, "\"kernels\": \"fp32 "));
    gloss_free(json);
    const char *one[] = {"a text"}, *wrong[] = {"not-a-class"};
    CHECK(gloss_evaluate(m, one, wrong, 1, 0, 0, &json, NULL) == GLOSS_INVALID);
    CHECK(strstr(gloss_last_error(), "not-a-class") != NULL);
    CHECK(gloss_predict(m, one, 0, 0, 0, lab, probs, NULL) == GLOSS_INVALID);
    free(probs);
    free(lab);
    gloss_texts_free(t);
    gloss_model_free(m);
}

static int cancel_now(const gloss_progress *p, void *user) {
    (void)p, (void)user;
    return 1;
}

static void test_cancel_embed(void) {
    gloss_model *m = gloss_model_load(TINY);
    const char *texts[] = {"one", "two", "three"};
    float emb[3 * 32];
    gloss_callbacks cb = {NULL, cancel_now, NULL};
    CHECK(gloss_embed(m, texts, 3, GLOSS_POOL_MEAN, 0, 1, emb, &cb) == GLOSS_CANCELLED);
    gloss_model_free(m);
}

static void test_outputs(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/x.npy", tmpdir);
    float v[6] = {1, 2, 3, 4, 5, 6};
    CHECK(gloss_write_npy(path, v, 2, 3) == GLOSS_OK);
    CHECK(gloss_write_npy("/nonexistent/dir/x.npy", v, 2, 3) == GLOSS_IO);
    snprintf(path, sizeof path, "%s/x.txt", tmpdir);
    CHECK(gloss_write_file(path, "hello\n", 6) == GLOSS_OK);
}

/* Without MPI running there is one process, rank 0 of 1; a process that a
 * launcher started as one of several (mpirun sets OMPI_COMM_WORLD_SIZE) but
 * that did not call gloss_distributed_init must not train alone: gloss_train
 * refuses before any work. */
static void test_distributed(void) {
    CHECK(gloss_distributed_size() == 1 && gloss_distributed_rank() == 0);
    CHECK(strstr(gloss_build_info(), "\nMPI: ") != NULL);
    char out[300];
    snprintf(out, sizeof out, "%s/alone", tmpdir);
    gloss_train_config *c = short_run(out);
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    CHECK_MSG(gloss_train(c, NULL, NULL) == GLOSS_ERROR && strstr(gloss_last_error(), "one of 2 processes"), "%s",
              gloss_last_error());
    unsetenv("OMPI_COMM_WORLD_SIZE");
    gloss_train_config_free(c);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    test_status();
    test_models();
    test_bf16();
    test_texts();
    test_options();
    test_outputs();
    test_cancel_embed();
    test_distributed();
    test_training();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary("test_api");
}
