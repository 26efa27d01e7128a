/* classify.c: `gloss eval` and `gloss predict`, which use a fine-tuned model
 * written by `gloss train` (Hugging Face layout with id2label). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "model/bert.h"
#include "model/hf_export.h"
#include "model/model_open.h"
#include "text/tokenizer.h"
#include "train/dataset.h"
#include "train/embed_quality.h"
#include "train/metrics.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/progress.h"

typedef struct {
    gl_bert m;
    gl_tokenizer *tok;
    char **labels;
    int K;
    gl_pool pool;
} clf_model;

static void clf_free(clf_model *c) {
    gl_model_close(&c->m, &c->tok);
    gl_hf_labels_free(c->labels, c->K);
}

static int clf_load(clf_model *c, const char *dir) {
    memset(c, 0, sizeof *c);
    if (gl_hf_labels(dir, &c->labels, &c->K, &c->pool) != 0) return -1;
    if (gl_model_open(dir, &c->m, &c->tok) != 0) return -1; /* config, weights, vocabulary, checked together */
    if (c->m.num_labels != c->K)
        return gl_error("%s: config.json has %d labels but the classifier has %d rows", dir, c->K, c->m.num_labels);
    if (c->pool == GL_POOL_POOLER && !c->m.has_pooler)
        return gl_error("%s: pooling is 'pooler' but model.safetensors has no pooler weights", dir);
    return 0;
}

/* Flush stdout and report a failed write (a full disk, a closed pipe, /dev/full)
 * as an error rather than exiting 0 with truncated output. */
static int stdout_finish(int ok) {
    int e = errno; /* still the failed write's error when ok is 0 */
    if (fflush(stdout) != 0) ok = 0, e = errno;
    if (!ok || ferror(stdout)) return gl_error("writing to stdout failed: %s", strerror(e ? e : EIO));
    return 0;
}

static const char *EVAL_HELP =
    "usage: gloss eval --model DIR --data FILE [options]\n"
    "\n"
    "Evaluate a model fine-tuned by `gloss train` on a labelled file and print\n"
    "the metrics as JSON (accuracy, macro/weighted F1, per-class precision,\n"
    "recall, F1 and support, confusion matrix, and the cosine silhouette of\n"
    "the documents' embeddings by class) on stdout.\n"
    "\n"
    "  --model DIR         a `gloss train --out` directory\n"
    "  --data FILE         .csv / .tsv / .jsonl with text and label columns\n"
    "  --text-col NAME     (default text)\n"
    "  --label-col NAME    (default label)\n"
    "  --max-length N      (default 128)\n"
    "  --batch-size N      (default 64)\n"
    "  --quiet             no progress display\n";

static const char *PREDICT_HELP =
    "usage: gloss predict --model DIR --input FILE|- [options]\n"
    "\n"
    "Predict a label and class probabilities for every document with a model\n"
    "fine-tuned by `gloss train`. One output row per document, in input order.\n"
    "\n"
    "  --model DIR         a `gloss train --out` directory\n"
    "  --input FILE|-      .csv / .tsv / .jsonl (text column) or plain text, one\n"
    "                      document per line; - reads plain text from stdin\n"
    "  --output FILE       where to write (default: stdout); written atomically\n"
    "  --format F          csv (default; columns: index,label,p_<label>...) or\n"
    "                      jsonl ({\"index\", \"label\", \"probs\": {label: p}})\n"
    "  --text-col NAME     (default text)\n"
    "  --max-length N      (default 128)\n"
    "  --batch-size N      (default 64)\n"
    "  --quiet             no progress display\n";

enum { O_MODEL = 300, O_DATA, O_INPUT, O_OUTPUT, O_FORMAT, O_TEXT, O_LABEL, O_MAXLEN, O_BATCH, O_QUIET };

/* gl_predict_split with a progress display on stderr (none with --quiet). */
static int on_progress(const gl_progress_event *e, void *user) {
    gl_progress *bar = user;
    if (e->done < e->total) gl_progress_update(bar, e->done, NULL);
    else if (e->total >= 256) {
        bar->done = e->done;
        gl_progress_finish(bar, NULL);
    }
    return 0;
}

static int predict(gl_bert *m, const gl_split *s, gl_pool pool, int batch, float *probs, float *emb, int quiet,
                   const char *label) {
    gl_progress bar;
    gl_progress_start(&bar, stderr, label, s->n, "docs", quiet);
    gl_hooks hooks = {NULL, on_progress, &bar};
    return gl_predict_split(m, s, pool, batch, probs, emb, quiet ? NULL : &hooks, GL_STAGE_PREDICT);
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *text_col = "text", *label_col = "label";
    int max_length = 128, batch = 64, quiet = 0;
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"data", required_argument, 0, O_DATA},
        {"text-col", required_argument, 0, O_TEXT}, {"label-col", required_argument, 0, O_LABEL},
        {"max-length", required_argument, 0, O_MAXLEN}, {"batch-size", required_argument, 0, O_BATCH},
        {"quiet", no_argument, 0, O_QUIET}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_DATA: data = optarg; break;
        case O_TEXT: text_col = optarg; break;
        case O_LABEL: label_col = optarg; break;
        case O_MAXLEN: if (cli_int("--max-length", optarg, 3, 1 << 20, &max_length)) return EXIT_USAGE; break;
        case O_BATCH: if (cli_int("--batch-size", optarg, 1, 1 << 16, &batch)) return EXIT_USAGE; break;
        case O_QUIET: quiet = 1; break;
        case 'h': fputs(EVAL_HELP, stdout); return EXIT_OK;
        default: fputs("(gloss eval --help lists the options)\n", stderr); return EXIT_USAGE;
        }
    }
    if (!model || !data || optind < argc) {
        fprintf(stderr, "gloss eval: --model and --data are required (gloss eval --help)\n");
        return EXIT_USAGE;
    }
    clf_model cm;
    gl_split s = {0};
    gl_metrics met = {0};
    float *probs = NULL, *emb = NULL;
    int *pred = NULL, rc = EXIT_ERROR;
    if (clf_load(&cm, model) != 0) goto fail;
    if (max_length > cm.m.cfg.max_position_embeddings) max_length = cm.m.cfg.max_position_embeddings;
    if (gl_split_load(&s, data, text_col, label_col, cm.labels, cm.K, cm.tok, max_length) != 0) goto fail;
    probs = malloc(s.n * (size_t)cm.K * sizeof(float));
    pred = malloc(s.n * sizeof(int));
    emb = malloc(s.n * (size_t)cm.m.cfg.hidden_size * sizeof(float));
    if (!probs || !pred || !emb) {
        gl_error("out of memory");
        goto fail;
    }
    if (predict(&cm.m, &s, cm.pool, batch, probs, emb, quiet, "eval") != 0) goto fail;
    for (size_t i = 0; i < s.n; i++) {
        int b = 0;
        for (int k = 1; k < cm.K; k++)
            if (probs[i * cm.K + k] > probs[i * cm.K + b]) b = k;
        pred[i] = b;
    }
    if (gl_metrics_compute(&met, s.label, pred, s.n, cm.K) != 0) goto fail;
    json_t *j = gl_metrics_to_json(&met, (const char *const *)cm.labels);
    double micro, macro;
    if (gl_silhouette_cosine(emb, s.label, s.n, cm.m.cfg.hidden_size, cm.K, &micro, &macro, NULL) == 0)
        json_object_set_new(j, "silhouette", json_pack("{s:f, s:f, s:s}", "micro", micro, "macro", macro,
                                                       "distance", "cosine"));
    int wrote = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 && fputc('\n', stdout) != EOF;
    json_decref(j);
    if (stdout_finish(wrote) != 0) goto fail;
    rc = EXIT_OK;
fail:
    if (rc != EXIT_OK) fprintf(stderr, "gloss eval: %s\n", gl_error_message());
    gl_metrics_free(&met);
    free(probs);
    free(emb);
    free(pred);
    gl_split_free(&s);
    clf_free(&cm);
    return rc;
}

/* Write a CSV field with RFC 4180 quoting when needed. */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* stdin -> a temporary plain-text file, so every input goes through one reader. */
static char *stdin_to_file(void) {
    char tmpl[] = "/tmp/gloss-stdin-XXXXXX.txt";
    int fd = mkstemps(tmpl, 4);
    if (fd < 0) {
        gl_error("cannot create a temporary file for stdin");
        return NULL;
    }
    FILE *f = fdopen(fd, "wb");
    char buf[65536];
    size_t n;
    int ok = f != NULL;
    while (ok && (n = fread(buf, 1, sizeof buf, stdin)) > 0) ok = fwrite(buf, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) {
        unlink(tmpl);
        gl_error("cannot buffer stdin");
        return NULL;
    }
    return gl_strdup(tmpl);
}

int cmd_predict(int argc, char **argv) {
    const char *model = NULL, *input = NULL, *output = NULL, *format = "csv", *text_col = "text";
    int max_length = 128, batch = 64, quiet = 0;
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"input", required_argument, 0, O_INPUT},
        {"output", required_argument, 0, O_OUTPUT}, {"format", required_argument, 0, O_FORMAT},
        {"text-col", required_argument, 0, O_TEXT}, {"max-length", required_argument, 0, O_MAXLEN},
        {"batch-size", required_argument, 0, O_BATCH}, {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_INPUT: input = optarg; break;
        case O_OUTPUT: output = optarg; break;
        case O_FORMAT: format = optarg; break;
        case O_TEXT: text_col = optarg; break;
        case O_MAXLEN: if (cli_int("--max-length", optarg, 3, 1 << 20, &max_length)) return EXIT_USAGE; break;
        case O_BATCH: if (cli_int("--batch-size", optarg, 1, 1 << 16, &batch)) return EXIT_USAGE; break;
        case O_QUIET: quiet = 1; break;
        case 'h': fputs(PREDICT_HELP, stdout); return EXIT_OK;
        default: fputs("(gloss predict --help lists the options)\n", stderr); return EXIT_USAGE;
        }
    }
    if (!model || !input || optind < argc) {
        fprintf(stderr, "gloss predict: --model and --input are required (gloss predict --help)\n");
        return EXIT_USAGE;
    }
    int jsonl = !strcmp(format, "jsonl");
    if (!jsonl && strcmp(format, "csv")) {
        fprintf(stderr, "gloss predict: --format must be csv or jsonl, got '%s'\n", format);
        return EXIT_USAGE;
    }
    clf_model cm;
    gl_split s = {0};
    float *probs = NULL;
    char *tmp = NULL;
    int rc = EXIT_ERROR;
    gl_atomic_file af = {0};
    if (clf_load(&cm, model) != 0) goto fail;
    if (max_length > cm.m.cfg.max_position_embeddings) max_length = cm.m.cfg.max_position_embeddings;
    if (!strcmp(input, "-")) {
        if (!(tmp = stdin_to_file())) goto fail;
        input = tmp;
    }
    if (gl_split_load(&s, input, text_col, NULL, cm.labels, cm.K, cm.tok, max_length) != 0) goto fail;
    if (!(probs = malloc(s.n * (size_t)cm.K * sizeof(float)))) {
        gl_error("out of memory");
        goto fail;
    }
    if (predict(&cm.m, &s, cm.pool, batch, probs, NULL, quiet, "predict") != 0) goto fail;
    FILE *f = stdout;
    if (output) {
        if (gl_atomic_open(&af, output) != 0) goto fail;
        f = af.f;
    }
    if (!jsonl) {
        fputs("index,label", f);
        for (int k = 0; k < cm.K; k++) {
            char name[512];
            snprintf(name, sizeof name, "p_%s", cm.labels[k]);
            fputc(',', f);
            csv_field(f, name);
        }
        fputc('\n', f);
    }
    for (size_t i = 0; i < s.n; i++) {
        const float *p = probs + i * cm.K;
        int b = 0;
        for (int k = 1; k < cm.K; k++)
            if (p[k] > p[b]) b = k;
        if (jsonl) {
            json_t *pr = json_object();
            for (int k = 0; k < cm.K; k++) json_object_set_new(pr, cm.labels[k], json_real(p[k]));
            json_t *row = json_pack("{s:I, s:s, s:o}", "index", (json_int_t)i, "label", cm.labels[b], "probs", pr);
            json_dumpf(row, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
            fputc('\n', f);
            json_decref(row);
        } else {
            fprintf(f, "%zu,", i);
            csv_field(f, cm.labels[b]);
            for (int k = 0; k < cm.K; k++) fprintf(f, ",%.6g", p[k]);
            fputc('\n', f);
        }
    }
    if (output) {
        if (gl_atomic_commit(&af) != 0) goto fail;
    } else if (stdout_finish(1) != 0) {
        goto fail;
    }
    rc = EXIT_OK;
fail:
    if (rc != EXIT_OK) {
        if (af.f) gl_atomic_abort(&af);
        fprintf(stderr, "gloss predict: %s\n", gl_error_message());
    }
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(probs);
    gl_split_free(&s);
    clf_free(&cm);
    return rc;
}
