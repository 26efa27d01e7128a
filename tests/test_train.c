/* test_train.c: end-to-end fine-tuning of the default model on the shipped
 * sample data (a subset, so it runs in well under a minute), checkpoint resume
 * reproducing an uninterrupted run bit for bit, the HF-layout export, and
 * dataset errors that name the file and line. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "model/bert.h"
#include "train/dataset.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/fileio.h"

static char tmpdir[64];

static char *tpath(const char *name) { return gl_path_join(tmpdir, name); }

/* The tensors of two checkpoints are bit-identical (their metadata holds timings). */
static int checkpoints_equal(const char *a, const char *b) {
    gl_safetensors x, y;
    if (gl_st_open(&x, a) != 0) return 0;
    if (gl_st_open(&y, b) != 0) {
        gl_st_close(&x);
        return 0;
    }
    int eq = x.n == y.n && x.n == 4;
    for (int i = 0; eq && i < x.n; i++) {
        const gl_st_tensor *tx = &x.tensors[i], *ty = gl_st_find(&y, tx->name);
        eq = ty && tx->end - tx->begin == ty->end - ty->begin &&
             memcmp(x.map + x.data_start + tx->begin, y.map + y.data_start + ty->begin, tx->end - tx->begin) == 0;
    }
    gl_st_close(&x);
    gl_st_close(&y);
    return eq;
}

/* The checks of what training learned hold for the pre-trained default model.
 * tools/valgrind_all.sh runs this test on the tiny random fixture model
 * (MiniLM under memcheck would take about five hours) and sets
 * GLOSS_TEST_MEMCHECK=1, which turns just those checks off. */
static int quality_checks(void) { return getenv("GLOSS_TEST_MEMCHECK") == NULL; }

static void base_opts(gl_train_opts *o, const char *out) {
    gl_train_opts_default(o);
    o->model_dir = check_model_dir();
    o->data_dir = "data/sample";
    o->out_dir = out;
    o->quiet = 1;
    o->max_length = 48;
    /* a smaller model (GLOSS_MODEL_DIR; tools/valgrind_all.sh uses the tiny
     * fixture) may have fewer positions */
    gl_bert_config cfg;
    if (gl_config_load(&cfg, o->model_dir) == 0 && cfg.max_position_embeddings < o->max_length)
        o->max_length = cfg.max_position_embeddings;
}

/* base_opts for a short run: `epochs` epochs over the first `limit` training documents, batch 16, no early stop */
static void short_opts(gl_train_opts *o, const char *out, int epochs, size_t limit) {
    base_opts(o, out);
    o->epochs = epochs;
    o->limit_train = limit;
    o->batch_size = 16;
    o->patience = 0;
}

/* epochs.csv of a combined G-Loss run: every epoch's gradient ratio at the
 * pooled vector is the balance asked for (it is set per step to exactly that),
 * propagation accuracy is a fraction, T has more than one effective neighbour. */
static void check_gloss_diagnostics(const char *out, int epochs, double balance) {
    char *p = gl_path_join(out, "epochs.csv");
    FILE *f = fopen(p, "r");
    CHECK_MSG(f != NULL, "%s", p);
    char line[1024];
    int rows = 0;
    CHECK(f && fgets(line, sizeof line, f) &&
          strstr(line, "grad_ratio,embedding_weight,lp_accuracy,neighbours_median,gloss_skipped,gloss_clamped\n"));
    while (f && fgets(line, sizeof line, f)) {
        double v[13];
        char *q = line;
        int k = 0;
        for (; k < 13; k++) {
            char *end;
            v[k] = strtod(q, &end);
            if (end == q) break;
            q = *end == ',' ? end + 1 : end;
        }
        CHECK_MSG(k == 13, "%s: row %d has %d numbers", p, rows + 1, k);
        CHECK_NEAR(v[7], balance, 1e-6 * balance);
        CHECK(v[8] > 0);                /* the mean weight beta of G */
        CHECK(v[9] >= 0 && v[9] <= 1);  /* propagation accuracy */
        CHECK(v[10] > 1 && v[10] < 16); /* effective neighbours, batch 16 */
        CHECK(v[11] == 0);              /* no batch skipped */
        rows++;
    }
    CHECK(rows == epochs);
    if (f) fclose(f);
    free(p);
}

/* Fine-tune with CE + G-Loss on the sample data; test accuracy must beat the majority class clearly. */
static void test_end_to_end(void) {
    char *out = tpath("e2e");
    gl_train_opts o;
    base_opts(&o, out);
    o.epochs = 4;
    o.batch_size = 16;
    o.lr = 1e-4;
    o.pool = GL_POOL_MEAN;
    o.patience = 0;
    o.obj.kind = GL_LOSS_GLOSS;
    int rc = gl_train(&o);
    CHECK_MSG(rc == 0, "%s", gl_error_message());
    char *mp = gl_path_join(out, "metrics.json");
    json_error_t err;
    json_t *m = json_load_file(mp, 0, &err);
    CHECK_MSG(m != NULL, "%s: %s", mp, err.text);
    double acc = json_real_value(json_object_get(json_object_get(m, "test"), "accuracy"));
    double f1 = json_real_value(json_object_get(json_object_get(m, "test"), "macro_f1"));
    json_t *support = json_object_get(json_object_get(m, "test"), "per_class");
    double n = 0, majority = 0;
    const char *key;
    json_t *v;
    json_object_foreach(support, key, v) {
        double s = (double)json_integer_value(json_object_get(v, "support"));
        n += s;
        if (s > majority) majority = s;
    }
    majority = n > 0 ? majority / n : 1;
    printf("e2e: test accuracy %.3f macro-F1 %.3f (majority class %.3f), best epoch %lld\n", acc, f1, majority,
           (long long)json_integer_value(json_object_get(m, "best_epoch")));
    if (quality_checks()) CHECK(acc >= majority + 0.3);
    CHECK(json_integer_value(json_object_get(m, "epochs_run")) == 4);
    /* embedding quality and the G-Loss bookkeeping are reported */
    json_t *sil = json_object_get(m, "silhouette"), *obj = json_object_get(m, "objective");
    double s_micro = json_real_value(json_object_get(sil, "micro"));
    printf("e2e: silhouette %.3f, sigma %.4f\n", s_micro, json_real_value(json_object_get(obj, "sigma")));
    if (quality_checks()) CHECK(s_micro > 0.1 && s_micro <= 1.0);
    /* a missing or non-numeric key reads as 0, which is in range: require the number */
    CHECK_MSG(json_is_real(json_object_get(sil, "micro")), "metrics.json: no silhouette.micro number");
    CHECK(s_micro >= -1.0 && s_micro <= 1.0);
    CHECK(json_real_value(json_object_get(obj, "sigma")) > 0);
    CHECK(json_integer_value(json_object_get(json_object_get(m, "gloss_stats"), "batches")) == 4 * 15);
    /* the default weighting and kernel width of G-Loss, and its diagnostics per epoch */
    CHECK(json_real_value(json_object_get(obj, "balance")) == GL_GLOSS_BALANCE_DEFAULT);
    CHECK(json_object_get(obj, "lambda") == NULL);
    /* batch 16: the default K, if above 14, aims at (16 - 1) / 2 */
    CHECK_NEAR(json_real_value(json_object_get(obj, "sigma_effective_neighbours")),
               GL_GLOSS_KNN_DEFAULT > 14 ? 7.5 : GL_GLOSS_KNN_DEFAULT, 0.05);
    check_gloss_diagnostics(out, 4, GL_GLOSS_BALANCE_DEFAULT);
    json_decref(m);
    /* outputs a user reads exist */
    static const char *files[] = {"epochs.csv",         "training.svg",      "config.json",
                                  "model.safetensors",  "vocab.txt",         "tokenizer_config.json",
                                  "checkpoint.safetensors", "test_embeddings.npy", "embedding_map.svg",
                                  "embedding_pca.svg"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *p = gl_path_join(out, files[i]);
        CHECK_MSG(gl_file_exists(p), "missing %s", p);
        free(p);
    }
    /* the export loads back with its head and labels */
    gl_bert b;
    CHECK_MSG(gl_bert_load(&b, out) == 0, "%s", gl_error_message());
    CHECK(b.num_labels == 4);
    gl_bert_free(&b);
    free(mp);
    free(out);
}

/* --stop-after then --resume ends with the same bytes as an uninterrupted run
 * (with length bucketing, whose batch order is drawn per epoch). */
static void test_resume(void) {
    char *a = tpath("full"), *b = tpath("resumed");
    gl_train_opts o;
    short_opts(&o, a, 2, 48);
    o.bucket = 1;
    CHECK_MSG(gl_train(&o) == 0, "%s", gl_error_message());
    short_opts(&o, b, 2, 48);
    o.bucket = 1;
    o.stop_after = 1;
    CHECK_MSG(gl_train(&o) == 3, "%s", gl_error_message());
    o.stop_after = 0;
    o.resume = 1;
    CHECK_MSG(gl_train(&o) == 0, "%s", gl_error_message());
    char *ma = gl_path_join(a, "model.safetensors"), *mb = gl_path_join(b, "model.safetensors");
    char *ca = gl_path_join(a, "checkpoint.safetensors"), *cb = gl_path_join(b, "checkpoint.safetensors");
    CHECK_MSG(check_files_equal(ma, mb), "resumed model differs from the uninterrupted one");
    CHECK_MSG(checkpoints_equal(ca, cb), "resumed checkpoint (weights, optimiser state) differs");
    /* resuming with different options is refused */
    o.lr = 1e-3;
    CHECK(gl_train(&o) != 0);
    CHECK(strstr(gl_error_message(), "different options") != NULL);
    free(ma);
    free(mb);
    free(ca);
    free(cb);
    free(a);
    free(b);
}

/* mean |head weight - its initial value| after a one-epoch run with head_lr (0: --lr) */
static double head_movement(const char *name, double head_lr, double *enc_change) {
    char *out = tpath(name);
    gl_train_opts o;
    short_opts(&o, out, 1, 48);
    o.lr = 1e-5;
    o.head_lr = head_lr;
    o.map_points = 0;
    CHECK_MSG(gl_train(&o) == 0, "%s", gl_error_message());
    gl_bert init, done;
    CHECK_MSG(gl_bert_load(&init, o.model_dir) == 0, "%s", gl_error_message());
    CHECK(gl_bert_set_head(&init, 4, o.seed) == 0);
    CHECK_MSG(gl_bert_load(&done, out) == 0, "%s", gl_error_message());
    double d = 0, e = 0;
    size_t nh = (size_t)4 * init.cfg.hidden_size, ne = (size_t)init.cfg.hidden_size * init.cfg.hidden_size;
    for (size_t i = 0; i < nh; i++) d += fabs((double)done.p.cls_w[i] - init.p.cls_w[i]);
    for (size_t i = 0; i < ne; i++) e += fabs((double)done.p.layers[0].wo[i] - init.p.layers[0].wo[i]);
    *enc_change = e / (double)ne;
    /* the option is recorded where the run's other options are */
    char *mp = gl_path_join(out, "metrics.json");
    json_error_t err;
    json_t *m = json_load_file(mp, 0, &err);
    json_t *hl = json_object_get(json_object_get(m, "options"), "head_lr");
    CHECK(head_lr > 0 ? json_real_value(hl) == head_lr : hl == NULL);
    json_decref(m);
    free(mp);
    gl_bert_free(&init);
    gl_bert_free(&done);
    free(out);
    return d / (double)nh;
}

/* --head-lr: the head moves about head_lr/lr times as far; the encoder about as far as before. */
static void test_head_lr(void) {
    double enc_same, enc_fast;
    double same = head_movement("head_same", 0, &enc_same), fast = head_movement("head_fast", 1e-3, &enc_fast);
    printf("head-lr: mean |head change| %.3g at --lr, %.3g at 100x; encoder layer 0 %.3g and %.3g\n", same, fast,
           enc_same, enc_fast);
    CHECK(fast > 20 * same);
    CHECK(enc_fast < 3 * enc_same && enc_same < 3 * enc_fast);
}

/* Standalone mode: an embedding loss alone, then a linear probe on frozen embeddings. */
static void test_standalone(void) {
    char *out = tpath("standalone");
    gl_train_opts o;
    short_opts(&o, out, 1, 96);
    o.lr = 5e-5;
    o.pool = GL_POOL_MEAN;
    o.obj.kind = GL_LOSS_SUPCON;
    o.obj.standalone = 1;
    o.map_points = 0;
    CHECK_MSG(gl_train(&o) == 0, "%s", gl_error_message());
    char *mp = gl_path_join(out, "metrics.json");
    json_error_t err;
    json_t *m = json_load_file(mp, 0, &err);
    double acc = json_real_value(json_object_get(json_object_get(m, "test"), "accuracy"));
    printf("standalone SupCon + linear probe: test accuracy %.3f\n", acc);
    if (quality_checks()) CHECK(acc >= 0.6);
    /* one probe fit per default L2 penalty; the head is the best by validation macro-F1 */
    json_t *fits = json_object_get(json_array_get(json_object_get(m, "probe_fits"), 0), "fits");
    double chosen = json_real_value(json_object_get(json_array_get(json_object_get(m, "probe_fits"), 0), "l2"));
    CHECK(json_array_size(json_object_get(m, "probe_fits")) == 1 && json_array_size(fits) == 4);
    double best = -1, best_l2 = -1;
    for (size_t i = 0; i < json_array_size(fits); i++) {
        json_t *f = json_array_get(fits, i);
        double f1 = json_real_value(json_object_get(f, "val_macro_f1"));
        CHECK(json_is_true(json_object_get(f, "converged")));
        if (f1 > best) best = f1, best_l2 = json_real_value(json_object_get(f, "l2"));
    }
    CHECK_MSG(chosen == best_l2, "chosen l2 %g, best by validation %g", chosen, best_l2);
    CHECK(json_array_size(json_object_get(json_object_get(json_object_get(m, "options"), "probe"), "l2")) == 4);
    json_decref(m);
    free(mp);
    free(out);
}

static void write_text(const char *path, const char *s) { CHECK(gl_write_file_atomic(path, s, strlen(s)) == 0); }

/* Data errors name the file and the line. */
static void test_data_errors(void) {
    char *dir = tpath("bad");
    CHECK(mkdir(dir, 0755) == 0);
    char *train = gl_path_join(dir, "train.csv"), *val = gl_path_join(dir, "val.csv");
    gl_tokenizer *tok;
    char *vocab = gl_path_join(check_model_dir(), "vocab.txt");
    tok = gl_tokenizer_load(vocab, 1, -1);
    CHECK(tok != NULL);
    gl_dataset d;

    write_text(train, "text,label\nhello there,a\ngood day,b\n,a\n");
    CHECK(gl_dataset_load(&d, dir, "text", "label", tok, 32, 0.1, 1) != 0);
    CHECK_MSG(strstr(gl_error_message(), "train.csv:4") != NULL, "%s", gl_error_message());

    write_text(train, "text,label\nhello there,a\ngood day,b\nnice,a\n");
    write_text(val, "text,label\nfine,a\nstrange,c\n");
    CHECK(gl_dataset_load(&d, dir, "text", "label", tok, 32, 0.1, 1) != 0);
    CHECK_MSG(strstr(gl_error_message(), "val.csv:3") && strstr(gl_error_message(), "'c'"), "%s",
              gl_error_message());

    write_text(val, "text,label\n");
    CHECK(gl_dataset_load(&d, dir, "text", "label", tok, 32, 0.1, 1) != 0);
    CHECK_MSG(strstr(gl_error_message(), "val.csv") != NULL, "%s", gl_error_message());

    write_text(val, "words,label\nfine,a\n");
    CHECK(gl_dataset_load(&d, dir, "text", "label", tok, 32, 0.1, 1) != 0);
    CHECK_MSG(strstr(gl_error_message(), "text") != NULL, "%s", gl_error_message());

    /* no val file: a stratified split of train, labels sorted, balanced weights */
    unlink(val);
    write_text(train, "text,label\nt1,10\nt2,2\nt3,10\nt4,2\nt5,10\nt6,2\nt7,10\nt8,10\nt9,10\nt10,10\n");
    CHECK_MSG(gl_dataset_load(&d, dir, "text", "label", tok, 32, 0.2, 7) == 0, "%s", gl_error_message());
    CHECK(d.K == 2 && !strcmp(d.labels[0], "2") && !strcmp(d.labels[1], "10"));
    CHECK(d.val_from_train && d.val.n == 2 && d.train.n == 8);
    int v0 = 0, v1 = 0;
    for (size_t i = 0; i < d.val.n; i++) {
        if (d.val.label[i]) v1++;
        else v0++;
    }
    CHECK(v0 == 1 && v1 == 1);
    /* balanced weights on the 8 remaining training documents (2 of "2", 6 of "10") */
    CHECK_NEAR(d.class_weights[0], 8.0 / (2 * 2), 1e-12);
    CHECK_NEAR(d.class_weights[1], 8.0 / (2 * 6), 1e-12);
    gl_dataset_free(&d);
    gl_tokenizer_free(tok);
    free(vocab);
    free(train);
    free(val);
    free(dir);
}

int main(void) {
    strcpy(tmpdir, "/tmp/gloss-train-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_data_errors();
    test_resume();
    test_standalone();
    test_head_lr();
    test_end_to_end();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary("test_train");
}
