/* train.c: `gloss train`: fine-tune an encoder and classifier on a data
 * directory. Its options, their help and their checks come from the
 * library's option table (gloss_train_option), so each is declared once. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "gloss.h"

static const char *HELP_HEAD =
    "usage: gloss train --model DIR --data DIR --out DIR [options]\n"
    "\n"
    "Fine-tune a BERT-family encoder with a linear classification head and\n"
    "report accuracy and macro-F1. Writes into --out: metrics.json (with the\n"
    "silhouette of the test embeddings), epochs.csv, training.svg, the test\n"
    "embeddings (test_embeddings.npy) and their maps (embedding_map.svg, t-SNE;\n"
    "embedding_pca.svg), checkpoint.safetensors (for --resume) and the fine-tuned\n"
    "model in Hugging Face layout (config.json with id2label, model.safetensors,\n"
    "vocab.txt, tokenizer_config.json) that transformers loads with\n"
    "AutoModelForSequenceClassification, with the sentence-transformers files\n"
    "(modules.json, 1_Pooling/, sentence_bert_config.json) that\n"
    "SentenceTransformer loads: its embeddings are gloss embed's.\n";

static const char *HELP_TAIL =
    "  Ctrl-C / SIGTERM     finish the current step, write a checkpoint, exit with\n"
    "                       status 3 (a second signal stops at once)\n"
    "  -h, --help           this help\n"
    "\n"
    "Same seed and same OMP_NUM_THREADS give the same numbers, run after run.\n"
    "A step with a NaN/Inf loss or gradient is skipped with a warning and counted\n"
    "in metrics.json; 5 in a row stop the run (exit status 1).\n"
    "Exit status: 0 done, 1 error, 2 usage, 3 stopped with a checkpoint (resumable).\n";

static void print_help(const gloss_train_config *defaults) {
    static const char *const sections[] = {"data", "objective", "model", "optimisation", "runs"};
    fputs(HELP_HEAD, stdout);
    for (size_t s = 0; s < sizeof sections / sizeof *sections; s++) {
        printf("\n%s:\n", sections[s]);
        for (size_t i = 0; i < gloss_train_option_count(); i++) {
            const gloss_option_info *o = gloss_train_option(i);
            if (strcmp(o->section, sections[s])) continue;
            char head[64], def[256];
            snprintf(head, sizeof head, "  --%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
            printf("%-22s ", head);
            if (strlen(head) > 22) printf("\n%23s", "");
            for (const char *p = o->help; *p; p++) {
                putchar(*p);
                if (*p == '\n') printf("%23s", "");
            }
            if (o->type != GLOSS_OPTION_SWITCH && !o->required &&
                gloss_train_config_get(defaults, o->name, def, sizeof def) > 0)
                printf("\n%23s(default %s)", "", def);
            putchar('\n');
        }
    }
    fputs(HELP_TAIL, stdout);
}

int cmd_train(int argc, char **argv) {
    gloss_train_config *cfg = gloss_train_config_new();
    if (!cfg) {
        fprintf(stderr, "gloss train: %s\n", gloss_last_error());
        return EXIT_ERROR;
    }
    /* getopt's table from the library's: long option i has val 256 + i */
    size_t n = gloss_train_option_count();
    struct option *opts = calloc(n + 2, sizeof *opts);
    if (!opts) {
        gloss_train_config_free(cfg);
        fputs("gloss train: out of memory\n", stderr);
        return EXIT_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        const gloss_option_info *o = gloss_train_option(i);
        opts[i] = (struct option){o->name, o->type == GLOSS_OPTION_SWITCH ? no_argument : required_argument, 0,
                                  256 + (int)i};
    }
    opts[n] = (struct option){"help", no_argument, 0, 'h'};
    optind = 1;
    int c, rc = EXIT_OK;
    while (rc == EXIT_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            gloss_train_config *d = gloss_train_config_new();
            if (d) print_help(d);
            gloss_train_config_free(d);
            free(opts);
            gloss_train_config_free(cfg);
            return d ? EXIT_OK : EXIT_ERROR;
        }
        if (c < 256 || c >= 256 + (int)n) {
            fputs("(gloss train --help lists the options)\n", stderr);
            rc = EXIT_USAGE;
            break;
        }
        const gloss_option_info *o = gloss_train_option((size_t)(c - 256));
        if (gloss_train_config_set(cfg, o->name, optarg ? optarg : "true") != GLOSS_OK) {
            fprintf(stderr, "gloss train: %s\n", gloss_last_error());
            rc = EXIT_USAGE;
        }
    }
    free(opts);
    if (rc == EXIT_OK && optind < argc) {
        fprintf(stderr, "gloss train: unexpected argument '%s'\n", argv[optind]);
        rc = EXIT_USAGE;
    }
    if (rc != EXIT_OK) {
        gloss_train_config_free(cfg);
        return rc;
    }
    char quiet[8];
    gloss_train_config_get(cfg, "quiet", quiet, sizeof quiet);
    cli_display disp; /* of a distributed run, rank 0 shows progress and messages; every rank its error */
    cli_display_init(&disp, !strcmp(quiet, "true") || gloss_distributed_rank() != 0);
    gloss_callbacks cb = cli_callbacks(&disp);
    cli_catch_signals();
    gloss_status st = gloss_train(cfg, &cb, NULL);
    gloss_train_config_free(cfg);
    switch (st) {
    case GLOSS_OK: return EXIT_OK;
    case GLOSS_CANCELLED:
    case GLOSS_STOPPED: return EXIT_STOPPED;
    case GLOSS_INVALID:
        fprintf(stderr, "gloss train: %s (gloss train --help)\n", gloss_last_error());
        return EXIT_USAGE;
    default: fprintf(stderr, "gloss train: %s\n", gloss_last_error()); return EXIT_ERROR;
    }
}
