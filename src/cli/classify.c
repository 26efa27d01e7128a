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
#include "cli/progress.h"
#include "gloss.h"

/* Flush stdout and report a failed write (a full disk, a closed pipe, /dev/full)
 * as an error rather than exiting 0 with truncated output. */
static int stdout_finish(const char *cmd, int ok) {
    int e = errno; /* still the failed write's error when ok is 0 */
    if (fflush(stdout) != 0) ok = 0, e = errno;
    if (!ok || ferror(stdout)) {
        fprintf(stderr, "gloss %s: writing to stdout failed: %s\n", cmd, strerror(e ? e : EIO));
        return -1;
    }
    return 0;
}

/* The classifier in dir, or NULL after an error message. */
static gloss_model *load_classifier(const char *cmd, const char *dir) {
    gloss_model *m = gloss_model_load(dir);
    if (!m) {
        fprintf(stderr, "gloss %s: %s\n", cmd, gloss_last_error());
        return NULL;
    }
    if (gloss_model_num_labels(m) == 0) {
        fprintf(stderr, "gloss %s: %s: no classification head (config.json has no id2label): this is not a "
                        "fine-tuned classifier (train one with gloss train)\n", cmd, dir);
        gloss_model_free(m);
        return NULL;
    }
    return m;
}

/* The documents of path (text_col, and label_col unless NULL), or NULL after
 * an error message; an empty file is an error. */
static gloss_texts *read_texts(const char *cmd, const char *path, const char *text_col, const char *label_col) {
    gloss_texts *t = gloss_texts_read(path, text_col, label_col);
    if (!t) fprintf(stderr, "gloss %s: %s\n", cmd, gloss_last_error());
    else if (gloss_texts_count(t) == 0) {
        fprintf(stderr, "gloss %s: %s: no documents\n", cmd, path);
        gloss_texts_free(t);
        t = NULL;
    }
    return t;
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
    "  --bf16              matrix products on bf16 inputs with fp32 sums (CPUs\n"
    "                      with AVX512-BF16; fp32 where bf16 would be slower, or\n"
    "                      with a warning on a CPU without it)\n"
    "  --quiet             no progress display (and no kernels line on stderr)\n";

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
    "  --bf16              matrix products on bf16 inputs with fp32 sums (CPUs\n"
    "                      with AVX512-BF16; fp32 where bf16 would be slower, or\n"
    "                      with a warning on a CPU without it)\n"
    "  --quiet             no progress display (and no kernels line on stderr)\n";

enum { O_MODEL = 300, O_DATA, O_INPUT, O_OUTPUT, O_FORMAT, O_TEXT, O_LABEL, O_MAXLEN, O_BATCH, O_QUIET, O_BF16 };

/* --bf16 (a warning where the CPU cannot, the model staying fp32) and the
 * kernels line on stderr unless quiet */
static void set_kernels(const char *cmd, gloss_model *m, int bf16, int quiet) {
    if (bf16 && gloss_model_set_bf16(m, 1) != GLOSS_OK)
        fprintf(stderr, "gloss %s: warning: --bf16: %s\n", cmd, gloss_last_error());
    if (!quiet) fprintf(stderr, "kernels: %s\n", gloss_model_kernels(m));
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *text_col = "text", *label_col = "label";
    int max_length = 128, batch = 64, quiet = 0, bf16 = 0;
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"data", required_argument, 0, O_DATA},
        {"text-col", required_argument, 0, O_TEXT}, {"label-col", required_argument, 0, O_LABEL},
        {"max-length", required_argument, 0, O_MAXLEN}, {"batch-size", required_argument, 0, O_BATCH},
        {"quiet", no_argument, 0, O_QUIET}, {"bf16", no_argument, 0, O_BF16}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
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
        case O_BF16: bf16 = 1; break;
        case 'h': fputs(EVAL_HELP, stdout); return EXIT_OK;
        default: fputs("(gloss eval --help lists the options)\n", stderr); return EXIT_USAGE;
        }
    }
    if (!model || !data || optind < argc) {
        fprintf(stderr, "gloss eval: --model and --data are required (gloss eval --help)\n");
        return EXIT_USAGE;
    }
    gloss_model *m = load_classifier("eval", model);
    if (!m) return EXIT_ERROR;
    set_kernels("eval", m, bf16, quiet);
    gloss_texts *t = read_texts("eval", data, text_col, label_col);
    int rc = EXIT_ERROR;
    char *json = NULL;
    if (t) {
        cli_display disp;
        cli_display_init(&disp, quiet);
        gloss_callbacks cb = cli_callbacks(&disp);
        cli_catch_signals();
        gloss_status st = gloss_evaluate(m, gloss_texts_text(t), gloss_texts_labels(t), gloss_texts_count(t),
                                         max_length, batch, &json, &cb);
        if (st != GLOSS_OK) fprintf(stderr, "gloss eval: %s: %s\n", data, gloss_last_error());
        else if (stdout_finish("eval", fputs(json, stdout) != EOF && fputc('\n', stdout) != EOF) == 0) rc = EXIT_OK;
    }
    gloss_free(json);
    gloss_texts_free(t);
    gloss_model_free(m);
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
        fprintf(stderr, "gloss predict: cannot create a temporary file for stdin: %s\n", strerror(errno));
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
        fprintf(stderr, "gloss predict: cannot buffer stdin\n");
        return NULL;
    }
    return strdup(tmpl);
}

/* The rows of `gloss predict` for n documents with K classes. */
static int write_rows(FILE *f, const gloss_model *m, const float *probs, const int *label, size_t n, int jsonl) {
    const int K = gloss_model_num_labels(m);
    if (!jsonl) {
        fputs("index,label", f);
        for (int k = 0; k < K; k++) {
            char name[512];
            snprintf(name, sizeof name, "p_%s", gloss_model_label(m, k));
            fputc(',', f);
            csv_field(f, name);
        }
        fputc('\n', f);
    }
    for (size_t i = 0; i < n; i++) {
        const float *p = probs + i * (size_t)K;
        if (jsonl) {
            json_t *pr = json_object();
            for (int k = 0; k < K; k++) json_object_set_new(pr, gloss_model_label(m, k), json_real(p[k]));
            json_t *row = json_pack("{s:I, s:s, s:o}", "index", (json_int_t)i, "label", gloss_model_label(m, label[i]),
                                    "probs", pr);
            if (!row || json_dumpf(row, f, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0) {
                json_decref(row);
                return -1;
            }
            fputc('\n', f);
            json_decref(row);
        } else {
            fprintf(f, "%zu,", i);
            csv_field(f, gloss_model_label(m, label[i]));
            for (int k = 0; k < K; k++) fprintf(f, ",%.6g", p[k]);
            fputc('\n', f);
        }
    }
    return ferror(f) ? -1 : 0;
}

int cmd_predict(int argc, char **argv) {
    const char *model = NULL, *input = NULL, *output = NULL, *format = "csv", *text_col = "text";
    int max_length = 128, batch = 64, quiet = 0, bf16 = 0;
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"input", required_argument, 0, O_INPUT},
        {"output", required_argument, 0, O_OUTPUT}, {"format", required_argument, 0, O_FORMAT},
        {"text-col", required_argument, 0, O_TEXT}, {"max-length", required_argument, 0, O_MAXLEN},
        {"batch-size", required_argument, 0, O_BATCH}, {"quiet", no_argument, 0, O_QUIET},
        {"bf16", no_argument, 0, O_BF16}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
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
        case O_BF16: bf16 = 1; break;
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
    gloss_model *m = load_classifier("predict", model);
    if (!m) return EXIT_ERROR;
    set_kernels("predict", m, bf16, quiet);
    char *tmp = NULL;
    if (!strcmp(input, "-") && !(input = tmp = stdin_to_file())) {
        gloss_model_free(m);
        return EXIT_ERROR;
    }
    gloss_texts *t = read_texts("predict", input, text_col, NULL);
    const size_t n = t ? gloss_texts_count(t) : 0;
    const int K = gloss_model_num_labels(m);
    float *probs = t ? malloc(n * (size_t)K * sizeof(float)) : NULL;
    int *label = t ? malloc(n * sizeof(int)) : NULL;
    char *buf = NULL;
    size_t len = 0;
    int rc = EXIT_ERROR;
    if (t && (!probs || !label)) fprintf(stderr, "gloss predict: out of memory for %zu documents\n", n);
    else if (t) {
        cli_display disp;
        cli_display_init(&disp, quiet);
        gloss_callbacks cb = cli_callbacks(&disp);
        cli_catch_signals();
        if (gloss_predict(m, gloss_texts_text(t), n, max_length, batch, label, probs, &cb) != GLOSS_OK) {
            fprintf(stderr, "gloss predict: %s: %s\n", tmp ? "stdin" : input, gloss_last_error());
        } else if (!output) {
            if (stdout_finish("predict", write_rows(stdout, m, probs, label, n, jsonl) == 0) == 0) rc = EXIT_OK;
        } else { /* in memory first, then one atomic write */
            FILE *f = open_memstream(&buf, &len);
            int ok = f && write_rows(f, m, probs, label, n, jsonl) == 0;
            if (f && fclose(f) != 0) ok = 0;
            if (!ok) fprintf(stderr, "gloss predict: out of memory formatting the output\n");
            else if (gloss_write_file(output, buf, len) != GLOSS_OK)
                fprintf(stderr, "gloss predict: %s\n", gloss_last_error());
            else rc = EXIT_OK;
        }
    }
    free(buf);
    free(probs);
    free(label);
    gloss_texts_free(t);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    gloss_model_free(m);
    return rc;
}
