/* train_options.c: every option of a training run, declared once: its name,
 * help, type, range and where it lives in gl_train_opts. The CLI builds
 * `gloss train` (parsing and --help) from this table, and the Python package
 * its keyword arguments; gloss_train_config_set/get read and write it. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/train_config.h"
#include "util/error.h"

typedef enum { K_TEXT, K_INT, K_SIZE, K_SEED, K_NUMBER, K_SWITCH, K_CUSTOM } kind;

typedef struct opt_def opt_def;
struct opt_def {
    gloss_option_info info;
    kind k;
    size_t off; /* into gl_train_opts (K_TEXT: into gloss_train_config's text slots) */
    double lo, hi;
    int (*parse)(gloss_train_config *c, const opt_def *d, const char *v);
    void (*format)(const gloss_train_config *c, char *buf, size_t cap);
};

#define OFF(f) offsetof(gl_train_opts, f)

/* ---- custom parsers and formatters ---- */

static int bad(const opt_def *d, const char *what, const char *v) {
    return gl_error_k(GL_E_INVALID, "--%s expects %s, got '%s'", d->info.name, what, v);
}

static int parse_num(const opt_def *d, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || !(x >= lo && x <= hi)) {
        char what[96];
        snprintf(what, sizeof what, "a number in [%g, %g]", lo, hi);
        return bad(d, what, v);
    }
    *out = x;
    return 0;
}

static int parse_long(const opt_def *d, const char *v, double lo, double hi, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno == ERANGE || x < lo || x > hi) {
        char what[96];
        snprintf(what, sizeof what, "an integer in [%.0f, %.0f]", lo, hi);
        return bad(d, what, v);
    }
    *out = x;
    return 0;
}

static int parse_word(const opt_def *d, const char *v, const char *const *words, int n, const char *list) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v, words[i])) return i;
    char what[160];
    snprintf(what, sizeof what, "one of %s", list);
    return bad(d, what, v), -1;
}

static int p_loss(gloss_train_config *c, const opt_def *d, const char *v) {
    if (gl_loss_parse(v, &c->o.obj.kind) != 0) return bad(d, "ce, gloss, supcon, triplet or cosine", v);
    return 0;
}
static void f_loss(const gloss_train_config *c, char *b, size_t n) { snprintf(b, n, "%s", gl_loss_name(c->o.obj.kind)); }

static int p_balance(gloss_train_config *c, const opt_def *d, const char *v) {
    if (!strcmp(v, "auto")) {
        c->o.obj.balance = GL_BALANCE_AUTO;
        c->balance_set = 0;
        return 0;
    }
    if (parse_num(d, v, 0, 1e3, &c->o.obj.balance) != 0) return -1;
    c->balance_set = 1;
    return 0;
}
static void f_balance(const gloss_train_config *c, char *b, size_t n) {
    if (c->o.obj.balance == GL_BALANCE_AUTO) snprintf(b, n, "auto");
    else snprintf(b, n, "%.10g", c->o.obj.balance);
}

static int p_lambda(gloss_train_config *c, const opt_def *d, const char *v) {
    if (parse_num(d, v, 0, 1, &c->o.obj.lambda) != 0) return -1;
    c->lambda_set = 1;
    return 0;
}
static void f_lambda(const gloss_train_config *c, char *b, size_t n) { snprintf(b, n, "%.10g", c->o.obj.lambda); }

static int p_sigma(gloss_train_config *c, const opt_def *d, const char *v) {
    gl_objective *ob = &c->o.obj;
    if (!strncmp(v, "knn:", 4)) {
        double k;
        if (parse_num(d, v + 4, 1, 1e6, &k) != 0) return bad(d, "knn:K with K in [1, 1e6]", v);
        ob->sigma_mode = GL_SIGMA_KNN, ob->sigma_knn = k;
    } else if (!strcmp(v, "dicm")) ob->sigma_mode = GL_SIGMA_DICM;
    else if (!strcmp(v, "root")) ob->sigma_mode = GL_SIGMA_ROOT;
    else {
        double s;
        if (parse_num(d, v, 1e-6, 1e6, &s) != 0) return bad(d, "knn:K, dicm, root or a number in [1e-06, 1e+06]", v);
        ob->sigma_mode = GL_SIGMA_VALUE, ob->gloss.sigma = s;
    }
    return 0;
}
static void f_sigma(const gloss_train_config *c, char *b, size_t n) {
    const gl_objective *ob = &c->o.obj;
    switch (ob->sigma_mode) {
    case GL_SIGMA_KNN: snprintf(b, n, "knn:%.10g", ob->sigma_knn); break;
    case GL_SIGMA_DICM: snprintf(b, n, "dicm"); break;
    case GL_SIGMA_ROOT: snprintf(b, n, "root"); break;
    default: snprintf(b, n, "%.10g", ob->gloss.sigma);
    }
}

static const char *const VARIANTS[] = {"paper", "reference"};
static int p_variant(gloss_train_config *c, const opt_def *d, const char *v) {
    int i = parse_word(d, v, VARIANTS, 2, "paper, reference");
    if (i < 0) return -1;
    c->o.obj.gloss.variant = i ? GL_GLOSS_VARIANT_REFERENCE : GL_GLOSS_VARIANT_PAPER;
    return 0;
}
static void f_variant(const gloss_train_config *c, char *b, size_t n) {
    snprintf(b, n, "%s", c->o.obj.gloss.variant == GL_GLOSS_VARIANT_REFERENCE ? "reference" : "paper");
}

static const char *const MINING[] = {"all", "hard"};
static int p_mining(gloss_train_config *c, const opt_def *d, const char *v) {
    int i = parse_word(d, v, MINING, 2, "all, hard");
    if (i < 0) return -1;
    c->o.obj.batch_hard = i;
    return 0;
}
static void f_mining(const gloss_train_config *c, char *b, size_t n) { snprintf(b, n, "%s", MINING[c->o.obj.batch_hard != 0]); }

static int p_probe_l2(gloss_train_config *c, const opt_def *d, const char *s) {
    double vals[GL_PROBE_L2_MAX];
    int n = 0;
    for (const char *p = s;; n++) {
        char item[64];
        size_t len = strcspn(p, ",");
        if (n == GL_PROBE_L2_MAX || len == 0 || len >= sizeof item) {
            char what[96];
            snprintf(what, sizeof what, "1 to %d comma-separated numbers", GL_PROBE_L2_MAX);
            return bad(d, what, s);
        }
        memcpy(item, p, len);
        item[len] = 0;
        if (parse_num(d, item, 0, 1e3, &vals[n]) != 0) return -1;
        if (!p[len]) break;
        p += len + 1;
    }
    memcpy(c->o.probe_l2, vals, sizeof(double) * (size_t)(n + 1));
    c->o.n_probe_l2 = n + 1;
    return 0;
}
static void f_probe_l2(const gloss_train_config *c, char *b, size_t n) {
    size_t k = 0;
    b[0] = 0;
    for (int i = 0; i < c->o.n_probe_l2 && k < n; i++) {
        int w = snprintf(b + k, n - k, "%s%.10g", i ? "," : "", c->o.probe_l2[i]);
        if (w < 0) break;
        k += (size_t)w;
    }
}

static int p_pool(gloss_train_config *c, const opt_def *d, const char *v) {
    if (gl_pool_parse(v, &c->o.pool) != 0) return bad(d, "auto, mean, cls, pooler, max or mean_sqrt_len", v);
    return 0;
}
static void f_pool(const gloss_train_config *c, char *b, size_t n) { snprintf(b, n, "%s", gl_pool_name(c->o.pool)); }

static const char *const WEIGHTS[] = {"none", "balanced"};
static int p_weights(gloss_train_config *c, const opt_def *d, const char *v) {
    int i = parse_word(d, v, WEIGHTS, 2, "balanced, none");
    if (i < 0) return -1;
    c->o.class_weights = i;
    return 0;
}
static void f_weights(const gloss_train_config *c, char *b, size_t n) { snprintf(b, n, "%s", WEIGHTS[c->o.class_weights != 0]); }

static int p_head_lr(gloss_train_config *c, const opt_def *d, const char *v) {
    if (!strcmp(v, "lr")) c->o.head_lr = 0; /* the library's "same as lr" */
    else if (parse_num(d, v, 1e-12, 10, &c->o.head_lr) != 0) return -1;
    c->head_lr_set = 1;
    return 0;
}
static void f_head_lr(const gloss_train_config *c, char *b, size_t n) {
    if (c->o.head_lr > 0) snprintf(b, n, "%.10g", c->o.head_lr);
    else snprintf(b, n, "lr");
}

static int p_schedule(gloss_train_config *c, const opt_def *d, const char *v) {
    if (gl_schedule_parse(v, &c->o.schedule) != 0) return bad(d, "linear, constant or step", v);
    return 0;
}
static void f_schedule(const gloss_train_config *c, char *b, size_t n) { snprintf(b, n, "%s", gl_schedule_name(c->o.schedule)); }

/* ---- the table ---- */

#define TEXT(name, slot, meta, sec, req, help) {{name, meta, sec, help, GLOSS_OPTION_TEXT, req}, K_TEXT, slot, 0, 0, NULL, NULL}
#define INT(name, f, lo, hi, meta, sec, help) {{name, meta, sec, help, GLOSS_OPTION_INT, 0}, K_INT, OFF(f), lo, hi, NULL, NULL}
#define SIZE(name, f, lo, hi, meta, sec, help) {{name, meta, sec, help, GLOSS_OPTION_INT, 0}, K_SIZE, OFF(f), lo, hi, NULL, NULL}
#define NUM(name, f, lo, hi, meta, sec, help) {{name, meta, sec, help, GLOSS_OPTION_NUMBER, 0}, K_NUMBER, OFF(f), lo, hi, NULL, NULL}
#define SWITCH(name, f, sec, help) {{name, NULL, sec, help, GLOSS_OPTION_SWITCH, 0}, K_SWITCH, OFF(f), 0, 1, NULL, NULL}
#define CUSTOM(name, type, p, fm, meta, sec, help) {{name, meta, sec, help, type, 0}, K_CUSTOM, 0, 0, 0, p, fm}

static const opt_def OPTS[] = {
    TEXT("model", GL_CFG_MODEL, "DIR", "data", 1, "checkpoint to start from (config.json, model.safetensors,\nvocab.txt)"),
    TEXT("data", GL_CFG_DATA, "DIR", "data", 1,
         "train.csv|.tsv|.jsonl (each may be .gz), optional val.*\n(otherwise a seeded, stratified --val-fraction of\ntrain) and optional test.*"),
    TEXT("out", GL_CFG_OUT, "DIR", "data", 1, "output directory (created)"),
    TEXT("text-col", GL_CFG_TEXT_COL, "NAME", "data", 0, "text column"),
    TEXT("label-col", GL_CFG_LABEL_COL, "NAME", "data", 0, "label column; labels are strings"),
    NUM("val-fraction", val_frac, 0.001, 0.9, "F", "data", "share of train used for validation without val.*"),
    SIZE("limit-train", limit_train, 0, 1 << 30, "N", "data", "use only the first N training documents (quick\ntrials; 0: all)"),

    CUSTOM("loss", GLOSS_OPTION_CHOICE, p_loss, f_loss, "L", "objective",
           "ce, gloss, supcon, triplet or cosine. Except for\nce, the embedding loss E is combined with\ncross-entropy, unless --standalone"),
    CUSTOM("balance", GLOSS_OPTION_SPECIAL, p_balance, f_balance, "R", "objective",
           "combine as CE + beta E, beta set at every step so\nthat the gradient of beta E at the pooled vector\n"
           "has R times the norm of cross-entropy's: E shapes\nthe encoder without swamping the classifier's\n"
           "loss. auto: R = " GL_STR(GL_GLOSS_BALANCE_DEFAULT) " for --loss gloss, otherwise off\n"
           "(--lambda); 0: off. The training loss logged is\nthen CE + beta E with each step's beta (epochs.csv:\n"
           "the mean beta as embedding_weight): compare runs\nand epochs by validation macro-F1, not by that loss"),
    CUSTOM("lambda", GLOSS_OPTION_NUMBER, p_lambda, f_lambda, "X", "objective",
           "the fixed combination (1 - lambda) CE + lambda E\ninstead (used by supcon, triplet, cosine; by gloss\n"
           "when given). epochs.csv logs the ratio of the two\ngradients (grad_ratio) every epoch, whichever is used"),
    SWITCH("standalone", obj.standalone, "objective",
           "train the encoder with E alone; the classifier is\nthen a linear probe (logistic regression) fitted to\n"
           "convergence on frozen training embeddings after\neach epoch"),
    NUM("gamma", obj.gamma, 0.01, 0.99, "X", "objective", "G-Loss: labelled (visible) fraction of each batch"),
    CUSTOM("sigma", GLOSS_OPTION_SPECIAL, p_sigma, f_sigma, "S", "objective",
           "G-Loss kernel width: knn:K: the sigma at which the\nmedian row of T has K effective neighbours\n"
           "(1 / sum_j T_ij^2) in batches of --batch-size; a\nnumber; dicm (smallest distance between classes /\n"
           "3) or root (sqrt(median distance / 3)), both raised\nwhere needed to leave at least --sigma-floor\n"
           "effective neighbours (logged). All on the\nnormalised training embeddings of the initial model\n"
           "with the pooling used (a seeded sample of\n--sigma-sample documents; the value used is logged\nand in metrics.json)"),
    SIZE("sigma-sample", sigma_sample, 2, 100000, "N", "objective", "documents for the sigma heuristics"),
    NUM("sigma-floor", obj.sigma_floor, 0, 1e6, "N", "objective",
        "effective neighbours dicm and root are raised to\n(0: off, as before this floor existed)"),
    CUSTOM("gloss-variant", GLOSS_OPTION_CHOICE, p_variant, f_variant, "V", "objective",
           "paper: T = D^-1 W and the negative log-likelihood\nof the propagated labels of the hidden nodes.\n"
           "reference: exactly the authors' code: their\nnormalisation of W (symmetric, then column, then\n"
           "row), softmax cross-entropy on F_U taken as logits,\nand in combined mode an extra 1/|U| on G (it does\n"
           "not rerun the encoder for G as their code does)"),
    NUM("temperature", obj.temperature, 1e-3, 100, "X", "objective", "SupCon temperature"),
    NUM("margin", obj.margin, 0, 1e6, "X", "objective", "triplet margin on Euclidean distances"),
    CUSTOM("triplet-mining", GLOSS_OPTION_CHOICE, p_mining, f_mining, "M", "objective", "all (batch-all) or hard (batch-hard)"),
    CUSTOM("probe-l2", GLOSS_OPTION_SPECIAL, p_probe_l2, f_probe_l2, "LIST", "objective",
           "standalone: the probe's L2 penalties,\ncomma-separated, on standardised embeddings; one\n"
           "probe is fitted per value, the best by validation\nmacro-F1 becomes the head (a tie: the larger penalty)"),
    INT("probe-iters", probe_iters, 1, 100000, "N", "objective",
        "standalone: at most N L-BFGS iterations per probe\nfit (the fit stops earlier when it converges)"),

    CUSTOM("pool", GLOSS_OPTION_CHOICE, p_pool, f_pool, "MODE", "model",
           "auto: the checkpoint's own pooling where it\ndeclares one (sentence-transformers' modules.json /\n"
           "1_Pooling/config.json), else the tanh pooler where\nit has trained pooler weights, else mean; the\n"
           "choice is logged. pooler: tanh(W h_[CLS] + b),\nexactly what BertForSequenceClassification\n"
           "computes; mean; cls; max (per channel over the\ntokens); mean_sqrt_len (sum over the tokens /\n"
           "sqrt(their number)). The head sits on the pooled\nvector, before any L2 normalisation the checkpoint\n"
           "declares (a Normalize module, which the export\nkeeps). The pooling is recorded as gloss_pooling in\n"
           "config.json (gloss eval and predict honour it;\ntransformers' class always uses the pooler) and as\n"
           "modules.json, 1_Pooling/ (and 2_Dense/ for the\npooler), so that sentence-transformers loads --out\nwith it"),
    CUSTOM("class-weights", GLOSS_OPTION_CHOICE, p_weights, f_weights, "W", "model",
           "balanced (N / (K * N_k), as sklearn) or none"),
    INT("max-length", max_length, 3, 1 << 20, "N", "model", "tokens per document incl. [CLS]/[SEP]"),

    INT("epochs", epochs, 1, 100000, "N", "optimisation", "maximum epochs"),
    INT("batch-size", batch_size, 1, 1 << 16, "N", "optimisation", "documents per step"),
    NUM("lr", lr, 0, 10, "X", "optimisation", "peak learning rate of AdamW"),
    CUSTOM("head-lr", GLOSS_OPTION_SPECIAL, p_head_lr, f_head_lr, "X", "optimisation",
           "peak learning rate of the classification head, on\nthe same schedule (a freshly initialised\n"
           "head needs larger steps than the pre-trained\nencoder; 'lr': the same as --lr). The defaults of\n"
           "--lr, --head-lr, --epochs and --pool come from the\nstudy in docs/defaults.md"),
    NUM("weight-decay", weight_decay, 0, 10, "X", "optimisation", "decoupled weight decay, not on biases/LayerNorm"),
    CUSTOM("schedule", GLOSS_OPTION_CHOICE, p_schedule, f_schedule, "S", "optimisation",
           "linear (warm-up then linear decay to 0), constant,\nor step (x --step-gamma from --step-epoch on)"),
    NUM("warmup", warmup, 0, 1, "F", "optimisation", "warm-up share of all steps for linear"),
    INT("step-epoch", step_epoch, 1, 100000, "N", "optimisation", "first epoch (1-based) at the reduced rate for step"),
    NUM("step-gamma", step_gamma, 0, 1, "X", "optimisation", "factor for step"),
    NUM("clip", clip, 0, 1e9, "X", "optimisation", "global gradient-norm clip (0 = off)"),
    SWITCH("bucket", bucket, "optimisation",
           "length bucketing: batches of documents of similar\nlength (sorted within chunks of 50 batches),\n"
           "visited in random order; less padding, faster\nepochs. Every batch is always padded only to its\nlongest document"),
    SWITCH("pad-to-max", pad_to_max, "optimisation", "pad every training batch to --max-length (slow; for\ncomparison)"),
    SWITCH("bf16", bf16, "optimisation",
           "the encoder's matrix products in training steps\ntake bf16 inputs (fp32 sums, fp32 master weights\n"
           "and optimiser state): about 1.6x faster steps;\nneeds AVX512-BF16. Results differ slightly from\n"
           "fp32. Validation, test and the exported model stay\nfp32"),
    INT("patience", patience, 0, 100000, "N", "optimisation",
        "stop after N epochs without a better validation\nmacro-F1 (0 = never); the best epoch's weights are kept"),
    {{"seed", "N", "optimisation", "seed for head init, data order, dropout, val split", GLOSS_OPTION_INT, 0}, K_SEED,
     OFF(seed), 0, 2147483647, NULL, NULL},
    INT("eval-batch-size", eval_batch_size, 1, 1 << 16, "N", "optimisation", "documents per evaluation pass"),

    SWITCH("resume", resume, "runs",
           "continue from --out/checkpoint.safetensors (same\noptions); ends with exactly the weights of an\nuninterrupted run"),
    INT("stop-after", stop_after, 0, 100000, "N", "runs", "stop after epoch N with a checkpoint (exit status\n3; 0: never)"),
    INT("map-points", map_points, 0, 20000, "N", "runs",
        "at most N points in the t-SNE map\nembedding_map.svg (0: no maps)"),
    SWITCH("quiet", quiet, "runs", "no progress display and no information messages\n(warnings still)"),
    SWITCH("log-steps", log_steps, "runs",
           "write steps.csv in --out: one row per training step\n(epoch, step, loss, gradient norm before clipping,\n"
           "learning rate, skipped), to the last bit"),
    NUM("comm-timeout", comm_timeout, 0, 1e6, "S", "runs",
        "distributed runs (mpirun, docs/distributed.md): stop\nwith an error when the other processes have not\n"
        "answered for S seconds (one died or hangs; 0: wait\nfor ever)"),
};

#define N_OPTS (sizeof OPTS / sizeof *OPTS)

GLOSS_API size_t gloss_train_option_count(void) { return N_OPTS; }

GLOSS_API const gloss_option_info *gloss_train_option(size_t i) { return i < N_OPTS ? &OPTS[i].info : NULL; }

static const opt_def *find(const char *name) {
    char n[64];
    size_t len = strlen(name);
    if (len >= sizeof n) return NULL;
    for (size_t i = 0; i <= len; i++) n[i] = name[i] == '_' ? '-' : name[i];
    for (size_t i = 0; i < N_OPTS; i++)
        if (!strcmp(OPTS[i].info.name, n)) return &OPTS[i];
    return NULL;
}

static int parse_switch(const opt_def *d, const char *v, int *out) {
    static const char *const on[] = {"1", "true", "yes", "on", "True"}, *const off[] = {"0", "false", "no", "off", "False"};
    for (int i = 0; i < 5; i++) {
        if (!strcmp(v, on[i])) return *out = 1, 0;
        if (!strcmp(v, off[i])) return *out = 0, 0;
    }
    return bad(d, "1/true/yes or 0/false/no", v);
}

GLOSS_API gloss_status gloss_train_config_set(gloss_train_config *c, const char *name, const char *value) {
    if (!c || !name || !value) return gl_error_k(GL_E_MISUSE, "gloss_train_config_set: NULL argument"), GLOSS_MISUSE;
    const opt_def *d = find(name);
    if (!d) return gl_error_k(GL_E_INVALID, "unknown option '%s' (gloss train --help lists them)", name), GLOSS_INVALID;
    gloss_train_config tmp = *c; /* parse into a copy: a bad value leaves the configuration unchanged */
    char *o = (char *)&tmp.o + d->off;
    int rc = 0;
    long long iv;
    double dv;
    switch (d->k) {
    case K_TEXT: {
        if (!value[0]) return gl_error_k(GL_E_INVALID, "--%s expects a non-empty value", d->info.name), GLOSS_INVALID;
        char *s = gl_strdup(value);
        if (!s) return GLOSS_NOMEM;
        free(c->text[d->off]);
        c->text[d->off] = s;
        gl_train_config_sync(c);
        return GLOSS_OK;
    }
    case K_INT:
        if ((rc = parse_long(d, value, d->lo, d->hi, &iv)) == 0) *(int *)o = (int)iv;
        break;
    case K_SIZE:
        if ((rc = parse_long(d, value, d->lo, d->hi, &iv)) == 0) *(size_t *)o = (size_t)iv;
        break;
    case K_SEED:
        if ((rc = parse_long(d, value, d->lo, d->hi, &iv)) == 0) *(uint64_t *)o = (uint64_t)iv;
        break;
    case K_NUMBER:
        if ((rc = parse_num(d, value, d->lo, d->hi, &dv)) == 0) *(double *)o = dv;
        break;
    case K_SWITCH: rc = parse_switch(d, value, (int *)o); break;
    case K_CUSTOM: rc = d->parse(&tmp, d, value); break;
    }
    if (rc != 0) return GLOSS_INVALID;
    *c = tmp;
    return GLOSS_OK;
}

GLOSS_API int gloss_train_config_get(const gloss_train_config *c, const char *name, char *buf, size_t cap) {
    const opt_def *d = c && name ? find(name) : NULL;
    if (!d) return -1;
    char tmp[512];
    const char *o = (const char *)&c->o + d->off;
    switch (d->k) {
    case K_TEXT: snprintf(tmp, sizeof tmp, "%s", c->text[d->off] ? c->text[d->off] : ""); break;
    case K_INT: snprintf(tmp, sizeof tmp, "%d", *(const int *)o); break;
    case K_SIZE: snprintf(tmp, sizeof tmp, "%zu", *(const size_t *)o); break;
    case K_SEED: snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)*(const uint64_t *)o); break;
    case K_NUMBER: snprintf(tmp, sizeof tmp, "%.10g", *(const double *)o); break;
    case K_SWITCH: snprintf(tmp, sizeof tmp, "%s", *(const int *)o ? "true" : "false"); break;
    case K_CUSTOM: d->format(c, tmp, sizeof tmp); break;
    }
    if (buf && cap) snprintf(buf, cap, "%s", tmp);
    return (int)strlen(tmp);
}
