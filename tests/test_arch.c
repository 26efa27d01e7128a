/* test_arch.c: the DistilBERT and RoBERTa encoders and their classification
 * heads against Hugging Face transformers (tools/make_arch_fixtures.py, float64
 * references of tiny random checkpoints).
 *
 *  - classifier checkpoints (tiny_distilbert_cls, tiny_roberta_cls, as
 *    save_pretrained writes them): last hidden state and logits within 1e-5
 *    max abs (fp32 against fp64 through 2 layers of width 32, as the BERT
 *    fixture); the gradient of L = sum mask*H*R1 + CE(logits, y; class
 *    weights) w.r.t. every parameter, head included, within 1e-4 relative L2
 *    per tensor, computed as a training step does (encoder, cls pooling,
 *    train/head.c's step, pooling and encoder backward);
 *  - the bare DistilBERT encoder (no "distilbert." prefix) with ReLU;
 *  - encoder checkpoints with the model's prefix ("distilbert.", "roberta."
 *    with a pooler that is ignored): same forward; --pool auto gives cls;
 *  - the head's dropout: its gradients are those of the loss the step
 *    computed (central differences with the same dropout key);
 *  - a fresh head: encoder untouched, the hidden layer counted as head by
 *    --head-lr; export in Hugging Face layout read back bit for bit;
 *  - config.json: DistilBERT's names mapped, RoBERTa's position offset, and
 *    the errors (unknown model_type, SentencePiece relatives, sinusoidal
 *    positions, missing files and tensors) naming the file and the key. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "model/bert.h"
#include "model/hf_export.h"
#include "model/model_open.h"
#include "model/pool_auto.h"
#include "train/train_internal.h"
#include "util/error.h"
#include "util/fileio.h"

#define FX "tests/fixtures/model/"
#define SCRIPT "tools/make_arch_fixtures.py"

static char g_tmp[64];

typedef struct {
    int B, T;
    int32_t *ids;
    uint8_t *mask;
    double *R1, *R4, *hidden, *logits, *loss, *class_w;
    int y[8];
} ref_batch;

static int load_ref(gl_safetensors *st, const char *path, ref_batch *r, int with_head) {
    memset(r, 0, sizeof *r);
    if (fx_open_from(st, path, SCRIPT) != 0) return -1;
    const gl_st_tensor *t = gl_st_find(st, "input_ids");
    int64_t n = 0;
    double *ids = fx_f64(st, "input_ids", &n), *mask = fx_f64(st, "attention_mask", NULL);
    if (!t || !ids || !mask) return -1;
    r->B = (int)t->shape[0];
    r->T = (int)t->shape[1];
    r->ids = malloc(sizeof(int32_t) * (size_t)n);
    r->mask = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) r->ids[i] = (int32_t)ids[i], r->mask[i] = mask[i] != 0;
    free(ids);
    free(mask);
    r->R1 = fx_f64(st, "R1", NULL);
    r->hidden = fx_f64(st, "last_hidden", NULL);
    r->loss = fx_f64(st, "loss", NULL);
    if (with_head) {
        r->logits = fx_f64(st, "logits", NULL);
        r->class_w = fx_f64(st, "class_w", NULL);
        double *y = fx_f64(st, "y", NULL);
        if (!y || r->B > 8) return -1;
        for (int b = 0; b < r->B; b++) r->y[b] = (int)y[b];
        free(y);
        return r->R1 && r->hidden && r->loss && r->logits && r->class_w ? 0 : -1;
    }
    r->R4 = fx_f64(st, "R4", NULL);
    return r->R1 && r->hidden && r->loss && r->R4 ? 0 : -1;
}

static void free_ref(ref_batch *r) {
    free(r->ids), free(r->mask), free(r->R1), free(r->R4), free(r->hidden), free(r->logits), free(r->loss);
    free(r->class_w);
}

/* The checkpoint in dir and its reference batch; -1 (after a failed CHECK)
 * when either does not load. */
static int load_case(const char *dir, const char *ref_path, int with_head, gl_bert *m, gl_safetensors *st,
                     ref_batch *r) {
    if (gl_bert_load(m, dir) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return -1;
    }
    if (load_ref(st, ref_path, r, with_head) != 0) {
        CHECK_MSG(0, "%s does not load", ref_path);
        gl_bert_free(m);
        return -1;
    }
    return 0;
}

static void free_case(gl_bert *m, gl_safetensors *st, ref_batch *r, gl_bert_acts *acts) {
    gl_bert_acts_free(acts);
    free_ref(r);
    gl_st_close(st);
    gl_bert_free(m);
}

static double max_abs_diff(const float *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* Every parameter's gradient against grad.<name>: relative L2 error <= 1e-4
 * (an exactly vanishing reference, the key biases', bounded absolutely). */
static void compare_grads(const gl_bert *m, const gl_safetensors *st, const char *what) {
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m->nparams; i++) {
        const gl_param *p = &m->table[i];
        char key[160];
        snprintf(key, sizeof key, "grad.%s", p->name);
        int64_t n = 0;
        double *ref = fx_f64(st, key, &n);
        CHECK_MSG(ref && (size_t)n == p->numel, "%s: %s", what, key);
        if (!ref || (size_t)n != p->numel) {
            free(ref);
            continue;
        }
        double num = 0, den = 0;
        for (size_t j = 0; j < p->numel; j++) {
            double d = (double)m->grads[p->offset + j] - ref[j];
            num += d * d;
            den += ref[j] * ref[j];
        }
        free(ref);
        if (sqrt(den) < 1e-10) {
            CHECK_MSG(sqrt(num) <= 1e-5, "%s: %s: gradient should vanish, |g| = %.3e", what, p->name, sqrt(num));
            continue;
        }
        double rel = sqrt(num / den);
        CHECK_MSG(rel <= 1e-4, "%s: %s: relative gradient error %.3e", what, p->name, rel);
        if (rel > worst) worst = rel, worst_name = p->name;
    }
    printf("%s: %d parameter gradients, worst relative L2 error %.2e (%s)\n", what, m->nparams, worst, worst_name);
}

/* ------------------------------------------------------- classifier checkpoints */

static void test_classifier(const char *dir, const char *ref_path, gl_arch arch) {
    gl_bert m;
    gl_safetensors st;
    ref_batch r;
    if (load_case(dir, ref_path, 1, &m, &st, &r) != 0) return;
    CHECK(m.cfg.arch == arch && m.num_labels == 3 && m.p.head_w && m.p.cls_w && !m.has_pooler);
    const int B = r.B, T = r.T, C = m.cfg.hidden_size, K = m.num_labels;
    gl_bert_acts acts;
    CHECK(gl_bert_acts_init(&acts, &m, B, T) == 0);
    const float *H = gl_bert_forward(&m, &acts, r.ids, r.mask, B, T, 0, 0);
    float *pooled = calloc((size_t)B * C * 3, sizeof(float)), *pooled_d = pooled + B * C, *dpooled = pooled_d + B * C;
    float *logits = calloc((size_t)B * K * 3, sizeof(float)), *dlogits = logits + B * K, *lg = dlogits + B * K;
    CHECK(gl_pool_forward(&m, GL_POOL_CLS, pooled, H, r.mask, B, T) == 0);
    CHECK(gl_head_logits(&m, pooled, lg, B) == 0);
    double e_h = max_abs_diff(H, r.hidden, (size_t)B * T * C), e_l = max_abs_diff(lg, r.logits, (size_t)B * K);
    CHECK_MSG(e_h <= 1e-5, "%s: hidden %.3e", dir, e_h);
    CHECK_MSG(e_l <= 1e-5, "%s: logits %.3e", dir, e_l);

    /* the training step's path, with the reference's eval-mode head (no dropout) */
    m.head_dropout = 0.0f;
    CHECK(gl_bert_alloc_grads(&m) == 0);
    gl_bert_zero_grads(&m);
    double ce = 0;
    CHECK(gl_head_ce_step(&m, pooled, r.y, r.class_w, B, 1.0, 99, pooled_d, logits, dlogits, dpooled, &ce) == 0);
    double L = ce;
    float *dH = malloc(sizeof(float) * B * T * C);
    for (size_t i = 0; i < (size_t)B * T * C; i++) {
        L += r.mask[i / C] * (double)H[i] * r.R1[i];
        dH[i] = r.mask[i / C] ? (float)r.R1[i] : 0.0f;
    }
    printf("%s: forward max abs err: hidden %.2e logits %.2e; loss %.9g vs %.9g\n", dir, e_h, e_l, L, *r.loss);
    CHECK_NEAR(L, *r.loss, 1e-4 * fabs(*r.loss) + 1e-6);
    CHECK(gl_pool_backward(&m, GL_POOL_CLS, dH, dpooled, pooled, H, r.mask, B, T) == 0);
    CHECK(gl_bert_backward(&m, &acts, dH) == 0);
    compare_grads(&m, &st, dir);
    free(dH);
    free(pooled);
    free(logits);
    free_case(&m, &st, &r, &acts);
}

/* The bare encoder (no prefix), ReLU: L = sum mask*H*R1 + sum H[:, 0]*R4. */
static void test_distilbert_relu(void) {
    const char *dir = FX "tiny_distilbert_relu";
    gl_bert m;
    gl_safetensors st;
    ref_batch r;
    if (load_case(dir, FX "tiny_distilbert_relu_ref.safetensors", 0, &m, &st, &r) != 0) return;
    CHECK(m.cfg.arch == GL_ARCH_DISTILBERT && m.cfg.hidden_act == GL_ACT_RELU && m.num_labels == 0 && !m.p.wtt);
    const int B = r.B, T = r.T, C = m.cfg.hidden_size;
    gl_bert_acts acts;
    CHECK(gl_bert_acts_init(&acts, &m, B, T) == 0);
    const float *H = gl_bert_forward(&m, &acts, r.ids, r.mask, B, T, 0, 0);
    double e_h = max_abs_diff(H, r.hidden, (size_t)B * T * C), L = 0;
    float *dH = malloc(sizeof(float) * B * T * C), *cls = malloc(sizeof(float) * B * C),
          *r4 = malloc(sizeof(float) * B * C);
    for (size_t i = 0; i < (size_t)B * T * C; i++) {
        L += r.mask[i / C] * (double)H[i] * r.R1[i];
        dH[i] = r.mask[i / C] ? (float)r.R1[i] : 0.0f;
    }
    gl_pool_forward(&m, GL_POOL_CLS, cls, H, r.mask, B, T);
    for (size_t i = 0; i < (size_t)B * C; i++) L += (double)cls[i] * r.R4[i], r4[i] = (float)r.R4[i];
    printf("%s: forward max abs err %.2e; loss %.9g vs %.9g\n", dir, e_h, L, *r.loss);
    CHECK(e_h <= 1e-5);
    CHECK_NEAR(L, *r.loss, 1e-4 * fabs(*r.loss) + 1e-6);
    CHECK(gl_bert_alloc_grads(&m) == 0);
    gl_bert_zero_grads(&m);
    gl_pool_backward(&m, GL_POOL_CLS, dH, r4, cls, H, r.mask, B, T);
    CHECK(gl_bert_backward(&m, &acts, dH) == 0);
    compare_grads(&m, &st, dir);
    free(dH), free(cls), free(r4);
    free_case(&m, &st, &r, &acts);
}

/* Encoder checkpoints with the model's prefix: the classifier's encoder, no
 * head, no pooler (RoBERTa's in the file is ignored); --pool auto is cls. */
static void test_encoder(const char *dir, const char *ref_path, gl_arch arch) {
    gl_bert m;
    gl_safetensors st;
    ref_batch r;
    if (load_case(dir, ref_path, 1, &m, &st, &r) != 0) return;
    CHECK(m.cfg.arch == arch && m.num_labels == 0 && !m.has_pooler && !m.p.cls_w);
    CHECK(arch == GL_ARCH_ROBERTA ? m.cfg.position_offset == 2 && m.cfg.max_position_embeddings == 40 &&
                                        m.cfg.type_vocab_size == 1 && m.cfg.layer_norm_eps == 1e-5f
                                  : m.cfg.position_offset == 0 && m.cfg.type_vocab_size == 0 && !m.p.wtt);
    gl_bert_acts acts;
    CHECK(gl_bert_acts_init_inference(&acts, &m, r.B, r.T) == 0);
    const float *H = gl_bert_forward(&m, &acts, r.ids, r.mask, r.B, r.T, 0, 0);
    double e = max_abs_diff(H, r.hidden, (size_t)r.B * r.T * m.cfg.hidden_size);
    printf("%s: prefix %s, forward max abs err %.2e\n", dir, gl_bert_prefix(&m), e);
    CHECK(e <= 1e-5);
    gl_pool_choice pc;
    CHECK_MSG(gl_pool_resolve(&m, dir, GL_POOL_AUTO, &pc) == 0, "%s", gl_error_message());
    CHECK_MSG(pc.pool == GL_POOL_CLS && strstr(pc.source, "first token"), "%s: auto -> %s (%s)", dir,
              gl_pool_name(pc.pool), pc.source);
    CHECK(gl_pool_resolve(&m, dir, GL_POOL_POOLER, &pc) != 0 && strstr(gl_error_message(), "pooler"));
    free_case(&m, &st, &r, &acts);
}

/* ------------------------------------------------------------- head dropout */

static double step_loss(gl_bert *m, const float *pooled, const int *y, int B, uint64_t key, float *scratch,
                        float *dpooled) {
    const int C = m->cfg.hidden_size, K = m->num_labels;
    float *pooled_d = scratch, *logits = scratch + B * C, *dlogits = logits + B * K;
    double loss = 0;
    memset(dpooled, 0, sizeof(float) * B * C);
    gl_bert_zero_grads(m);
    CHECK(gl_head_ce_step(m, pooled, y, NULL, B, 1.0, key, pooled_d, logits, dlogits, dpooled, &loss) == 0);
    return loss;
}

/* With dropout on, the step's gradients (head parameters and the pooled
 * input) are those of the loss it computed: the masks of the forward are
 * the masks of the backward. Central differences in float32, eps 1e-2. */
static void test_head_dropout(const char *dir) {
    gl_bert m;
    if (gl_bert_load(&m, dir) != 0 || gl_bert_alloc_grads(&m) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    const int B = 4, C = m.cfg.hidden_size, K = m.num_labels;
    int y[4] = {0, 2, 1, 2};
    float *pooled = malloc(sizeof(float) * B * C), *dpooled = malloc(sizeof(float) * B * C),
          *dp2 = malloc(sizeof(float) * B * C), *scratch = malloc(sizeof(float) * (B * C + 2 * B * K));
    float *g = malloc(sizeof(float) * m.size);
    uint64_t s = 12345;
    for (int i = 0; i < B * C; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        pooled[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 4.0 - 2.0);
    }
    m.head_dropout = 0.0f;
    double plain = step_loss(&m, pooled, y, B, 5, scratch, dpooled);
    m.head_dropout = 0.4f;
    double L0 = step_loss(&m, pooled, y, B, 5, scratch, dpooled);
    CHECK_MSG(fabs(L0 - plain) > 1e-4, "%s: dropout changes nothing (%.6g)", dir, L0);
    memcpy(g, m.grads, sizeof(float) * m.size);
    const float eps = 1e-2f;
    double worst = 0;
    /* a few entries of every head tensor, then of the pooled input */
    const gl_param *first = NULL;
    for (int i = 0; i < m.nparams && !first; i++)
        if (m.table[i].head) first = &m.table[i];
    for (int i = (int)(first - m.table); i < m.nparams; i++) {
        const gl_param *p = &m.table[i];
        for (size_t j = 0; j < p->numel; j += p->numel / 5 + 1) {
            float *w = m.params + p->offset + j, keep = *w;
            *w = keep + eps;
            double up = step_loss(&m, pooled, y, B, 5, scratch, dp2);
            *w = keep - eps;
            double dn = step_loss(&m, pooled, y, B, 5, scratch, dp2);
            *w = keep;
            double fd = (up - dn) / (2 * eps), an = g[p->offset + j], err = fabs(fd - an) / (fabs(an) + 1e-2);
            CHECK_MSG(err <= 2e-2, "%s: %s[%zu]: analytic %.6g, central difference %.6g", dir, p->name, j, an, fd);
            if (err > worst) worst = err;
        }
    }
    for (int j = 0; j < B * C; j += 7) {
        float keep = pooled[j];
        pooled[j] = keep + eps;
        double up = step_loss(&m, pooled, y, B, 5, scratch, dp2);
        pooled[j] = keep - eps;
        double dn = step_loss(&m, pooled, y, B, 5, scratch, dp2);
        pooled[j] = keep;
        double fd = (up - dn) / (2 * eps), an = dpooled[j], err = fabs(fd - an) / (fabs(an) + 1e-2);
        CHECK_MSG(err <= 2e-2, "%s: dpooled[%d]: analytic %.6g, central difference %.6g", dir, j, an, fd);
        if (err > worst) worst = err;
    }
    printf("%s: head dropout 0.4: loss %.6f (without %.6f), central differences within %.2e\n", dir, L0, plain,
           worst);
    free(pooled), free(dpooled), free(dp2), free(scratch), free(g);
    gl_bert_free(&m);
}

/* ------------------------------------------------------------------ fresh head */

static void test_fresh_head(void) {
    const char *dir = FX "tiny_distilbert";
    gl_bert m, ref;
    if (gl_bert_load(&m, dir) != 0 || gl_bert_load(&ref, dir) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    CHECK(gl_bert_set_head(&m, 4, 7) == 0);
    CHECK(m.num_labels == 4 && m.p.head_w && m.p.cls_w);
    CHECK(gl_bert_head_offset(&m) == ref.size && memcmp(m.params, ref.params, ref.size * sizeof(float)) == 0);
    const gl_param *pre = gl_bert_find(&m, "pre_classifier.weight"), *out = gl_bert_find(&m, "classifier.weight");
    CHECK(pre && out && pre->head && out->head && pre->offset == gl_bert_head_offset(&m));
    CHECK(out->shape[0] == 4 && out->shape[1] == 32 && pre->shape[0] == 32 && pre->shape[1] == 32);
    double s2 = 0, b = 0;
    for (int i = 0; i < 32 * 32; i++) s2 += (double)m.p.head_w[i] * m.p.head_w[i];
    for (int i = 0; i < 32; i++) b += fabs(m.p.head_b[i]);
    CHECK_MSG(fabs(sqrt(s2 / 1024) - 0.02) < 0.003 && b == 0, "hidden layer init: std %.4f", sqrt(s2 / 1024));
    CHECK(m.head_dropout == 0.2f); /* seq_classif_dropout */
    /* --head-lr: the hidden layer is head */
    gl_train_opts o;
    memset(&o, 0, sizeof o);
    o.lr = 1e-4;
    o.head_lr = 3e-3;
    gl_adamw opt;
    CHECK(gl_adamw_init(&opt, m.size, o.lr, 0.01) == 0);
    gl_head_set_lr(&opt, &m, &o);
    CHECK(opt.tail == pre->offset && fabs(opt.tail_lr_scale - 30.0) < 1e-12);
    gl_adamw_free(&opt);
    gl_bert_free(&m);
    gl_bert_free(&ref);

    /* BERT: the head is the linear layer, as before */
    CHECK(gl_bert_load(&m, FX "tiny") == 0 && gl_bert_set_head(&m, 3, 7) == 0);
    CHECK(!m.p.head_w && gl_bert_head_offset(&m) == gl_bert_find(&m, "classifier.weight")->offset);
    gl_bert_free(&m);
}

/* --------------------------------------------------------------------- export */

static void check_names(const char *path, const char *const *want, const char *const *absent) {
    gl_safetensors st;
    if (gl_st_open(&st, path) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    for (int i = 0; want[i]; i++) CHECK_MSG(gl_st_find(&st, want[i]) != NULL, "%s lacks %s", path, want[i]);
    for (int i = 0; absent[i]; i++) CHECK_MSG(gl_st_find(&st, absent[i]) == NULL, "%s has %s", path, absent[i]);
    gl_st_close(&st);
}

static void test_export(const char *dir, const char *const *want, const char *const *absent, const char *cls_name) {
    char **labels = NULL;
    int K = 0;
    gl_pool pool;
    /* a classifier saved by transformers names no gloss_pooling: its class takes the first token */
    CHECK_MSG(gl_hf_labels(dir, &labels, &K, &pool) == 0, "%s", gl_error_message());
    CHECK(K == 3 && labels && !strcmp(labels[0], "neg") && !strcmp(labels[2], "pos") && pool == GL_POOL_CLS);
    gl_bert m;
    gl_tokenizer *tok = NULL;
    if (gl_model_open(dir, &m, &tok) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        gl_hf_labels_free(labels, K);
        return;
    }
    char out[128];
    snprintf(out, sizeof out, "%s/export_%d", g_tmp, m.cfg.arch);
    CHECK(mkdir(out, 0755) == 0);
    CHECK_MSG(gl_hf_export(dir, out, &m, tok, labels, K, GL_POOL_CLS, 32) == 0, "%s", gl_error_message());
    gl_bert back;
    CHECK_MSG(gl_bert_load(&back, out) == 0, "%s", gl_error_message());
    CHECK(back.cfg.arch == m.cfg.arch && back.num_labels == 3 && back.size == m.size &&
          memcmp(back.params, m.params, m.size * sizeof(float)) == 0);
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    check_names(path, want, absent);
    snprintf(path, sizeof path, "%s/config.json", out);
    char *text = NULL;
    size_t len;
    CHECK(gl_read_file(path, &text, &len) == 0);
    CHECK_MSG(text && strstr(text, cls_name) && strstr(text, gl_arch_name(m.cfg.arch)) && strstr(text, "\"id2label\""),
              "%s", text ? text : "(none)");
    free(text);
    char **l2 = NULL;
    int K2 = 0;
    CHECK(gl_hf_labels(out, &l2, &K2, &pool) == 0 && K2 == 3 && pool == GL_POOL_CLS && !strcmp(l2[1], "neu"));
    gl_hf_labels_free(l2, K2);
    gl_hf_labels_free(labels, K);
    gl_bert_free(&back);
    gl_model_close(&m, &tok);
}

/* ---------------------------------------------------------------------- config */

static const char *write_cfg(const char *name, const char *json) {
    static char dir[160];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, name);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) exit(2);
    char path[200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (gl_write_file_atomic(path, json, strlen(json)) != 0) exit(2);
    return dir;
}

#define DISTIL "\"model_type\": \"distilbert\", \"vocab_size\": 50, \"dim\": 32, \"n_layers\": 2, \"n_heads\": 4, " \
               "\"hidden_dim\": 64, \"max_position_embeddings\": 40"
#define ROBERTA "\"model_type\": \"roberta\", \"vocab_size\": 50, \"hidden_size\": 32, \"num_hidden_layers\": 2, " \
                "\"num_attention_heads\": 4, \"intermediate_size\": 64, \"type_vocab_size\": 1"

static void expect_cfg_error(const char *name, const char *json, const char *frag1, const char *frag2) {
    const char *dir = write_cfg(name, json);
    gl_bert_config c;
    char path[200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    int rc = gl_config_load(&c, dir);
    const char *msg = gl_error_message();
    CHECK_MSG(rc != 0, "%s: loaded", name);
    CHECK_MSG(rc != 0 && strstr(msg, path) && strstr(msg, frag1) && (!frag2 || strstr(msg, frag2)),
              "%s: message \"%s\" lacks %s / %s / %s", name, msg, path, frag1, frag2 ? frag2 : "");
}

static void test_config(void) {
    gl_bert_config c;
    CHECK_MSG(gl_config_load(&c, write_cfg("d1", "{" DISTIL ", \"activation\": \"relu\", \"qa_dropout\": 0.3}")) == 0,
              "%s", gl_error_message());
    CHECK(c.arch == GL_ARCH_DISTILBERT && c.vocab_size == 50 && c.hidden_size == 32 && c.num_layers == 2 &&
          c.num_heads == 4 && c.intermediate_size == 64 && c.max_position_embeddings == 40);
    CHECK(c.type_vocab_size == 0 && c.position_offset == 0 && c.hidden_act == GL_ACT_RELU &&
          c.layer_norm_eps == 1e-12f && c.head_dropout == 0.2f && c.pad_token_id == 0 && c.do_lower_case == 1);
    CHECK(gl_config_load(&c, write_cfg("d2", "{" DISTIL ", \"seq_classif_dropout\": 0.1, \"sinusoidal_pos_embds\": "
                                             "false, \"architectures\": [\"DistilBertForSequenceClassification\"]}")) == 0 &&
          c.head_dropout == 0.1f && c.hidden_act == GL_ACT_GELU);
    CHECK_MSG(gl_config_load(&c, write_cfg("r1", "{" ROBERTA ", \"max_position_embeddings\": 514, \"pad_token_id\": 1, "
                                                 "\"classifier_dropout\": null, \"hidden_dropout_prob\": 0.15, "
                                                 "\"layer_norm_eps\": 1e-05}")) == 0,
              "%s", gl_error_message());
    CHECK(c.arch == GL_ARCH_ROBERTA && c.max_position_embeddings == 512 && c.position_offset == 2 &&
          c.pad_token_id == 1 && c.head_dropout == 0.15f && c.layer_norm_eps == 1e-5f && c.do_lower_case == 0);
    CHECK(gl_config_load(&c, write_cfg("r2", "{" ROBERTA ", \"max_position_embeddings\": 42, "
                                             "\"classifier_dropout\": 0.3}")) == 0 &&
          c.pad_token_id == 1 && c.max_position_embeddings == 40 && c.head_dropout == 0.3f);

    expect_cfg_error("e1", "{\"model_type\": \"gpt2\", \"vocab_size\": 50, \"hidden_size\": 32}", "\"model_type\"",
                     "\"gpt2\"");
    expect_cfg_error("e2", "{\"model_type\": \"xlm-roberta\"}", "xlm-roberta", "SentencePiece");
    expect_cfg_error("e3", "{\"model_type\": \"camembert\"}", "camembert", "SentencePiece");
    expect_cfg_error("e4", "{" DISTIL ", \"sinusoidal_pos_embds\": true}", "\"sinusoidal_pos_embds\"", NULL);
    expect_cfg_error("e5", "{" DISTIL ", \"activation\": \"silu\"}", "\"activation\"", "silu");
    expect_cfg_error("e6", "{\"model_type\": \"distilbert\", \"vocab_size\": 50, \"n_layers\": 2, \"n_heads\": 4, "
                           "\"hidden_dim\": 64, \"max_position_embeddings\": 40}",
                     "\"dim\"", "missing");
    expect_cfg_error("e7", "{" DISTIL ", \"architectures\": [\"BertModel\"]}", "architectures", "BertModel");
    expect_cfg_error("e8", "{" ROBERTA ", \"max_position_embeddings\": 2}", "\"max_position_embeddings\"", "pad_token_id");
    expect_cfg_error("e9", "{" DISTIL ", \"seq_classif_dropout\": 1.5}", "\"seq_classif_dropout\"", NULL);
    expect_cfg_error("e10", "{\"model_type\": \"distilbert\", \"vocab_size\": 50, \"dim\": 32, \"n_layers\": 2, "
                            "\"n_heads\": 5, \"hidden_dim\": 64, \"max_position_embeddings\": 40}",
                     "\"dim\"", "\"n_heads\"");
    expect_cfg_error("e11", "{" ROBERTA ", \"max_position_embeddings\": 42, \"architectures\": [\"BertModel\"]}",
                     "architectures", "Roberta");

    /* a missing model.safetensors and a missing tensor are errors naming them */
    gl_bert m;
    const char *dir = write_cfg("nomodel", "{" DISTIL "}");
    CHECK(gl_bert_load(&m, dir) != 0 && strstr(gl_error_message(), "model.safetensors") &&
          gl_error_get_kind() == GL_E_IO);
    char src[256], dst[256];
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    snprintf(src, sizeof src, "%s", FX "tiny/model.safetensors"); /* BERT's names */
    char *data;
    size_t len;
    CHECK(gl_read_file(src, &data, &len) == 0 && gl_write_file_atomic(dst, data, len) == 0);
    free(data);
    write_cfg("nomodel", "{\"model_type\": \"distilbert\", \"vocab_size\": 120, \"dim\": 32, \"n_layers\": 2, "
                         "\"n_heads\": 4, \"hidden_dim\": 64, \"max_position_embeddings\": 40}");
    CHECK(gl_bert_load(&m, dir) != 0);
    CHECK_MSG(strstr(gl_error_message(), "transformer.layer.0.attention.q_lin.weight") &&
                  strstr(gl_error_message(), "model.safetensors") && gl_error_get_kind() == GL_E_FORMAT,
              "%s", gl_error_message());
    /* no config.json */
    char none[200];
    snprintf(none, sizeof none, "%s/none", g_tmp);
    CHECK(gl_bert_load(&m, none) != 0 && strstr(gl_error_message(), "config.json"));
}

static void rm_rf(const char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/gloss-test-arch.XXXXXX");
    if (!mkdtemp(g_tmp)) return 2;
    test_config();
    test_classifier(FX "tiny_distilbert_cls", FX "tiny_distilbert_ref.safetensors", GL_ARCH_DISTILBERT);
    test_classifier(FX "tiny_roberta_cls", FX "tiny_roberta_ref.safetensors", GL_ARCH_ROBERTA);
    test_distilbert_relu();
    test_encoder(FX "tiny_distilbert", FX "tiny_distilbert_ref.safetensors", GL_ARCH_DISTILBERT);
    test_encoder(FX "tiny_roberta", FX "tiny_roberta_ref.safetensors", GL_ARCH_ROBERTA);
    test_head_dropout(FX "tiny_distilbert_cls");
    test_head_dropout(FX "tiny_roberta_cls");
    test_fresh_head();
    static const char *const d_want[] = {"distilbert.embeddings.word_embeddings.weight",
                                         "distilbert.transformer.layer.1.output_layer_norm.bias",
                                         "pre_classifier.weight", "classifier.bias", NULL};
    static const char *const d_absent[] = {"distilbert.embeddings.token_type_embeddings.weight", NULL};
    test_export(FX "tiny_distilbert_cls", d_want, d_absent, "DistilBertForSequenceClassification");
    static const char *const r_want[] = {"roberta.embeddings.token_type_embeddings.weight",
                                         "roberta.encoder.layer.1.output.LayerNorm.bias", "classifier.dense.weight",
                                         "classifier.out_proj.bias", NULL};
    static const char *const r_absent[] = {"roberta.pooler.dense.weight", NULL};
    test_export(FX "tiny_roberta_cls", r_want, r_absent, "RobertaForSequenceClassification");
    rm_rf(g_tmp);
    return check_summary("test_arch");
}
