/* main.c: the `gloss` command line: dispatch to subcommands. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "gloss.h"

#if defined(__SSE__) || defined(__x86_64__)
#include <pmmintrin.h>
#include <xmmintrin.h>
#endif

/* Subnormal floats (below 1.2e-38) flush to zero in this thread and in every
 * thread it starts later (OpenMP workers inherit the setting). Tiny gradients
 * (G-Loss with a small sigma reaches them) otherwise take a microcode assist
 * per operation and slow the GEMMs several times over; values that small carry
 * no information for training. */
static void flush_subnormals(void) {
#if defined(__SSE__) || defined(__x86_64__)
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
#endif
}

static const char *USAGE =
    "gloss " GLOSS_VERSION ": fine-tune BERT-family text encoders with G-Loss and standard losses\n"
    "\n"
    "usage: gloss <command> [options]      (gloss <command> --help for its options)\n"
    "\n"
    "commands:\n"
    "  train     fine-tune an encoder + classifier on a labelled data directory\n"
    "  eval      metrics of a fine-tuned model on a labelled file, as JSON\n"
    "  predict   labels and class probabilities for documents, as CSV or JSONL\n"
    "  embed     encode documents with a checkpoint and write a float32 .npy matrix\n"
    "\n"
    "Models are Hugging Face checkpoint directories (config.json, model.safetensors,\n"
    "vocab.txt). `make model` fetches the default, all-MiniLM-L6-v2, into\n"
    "models/all-MiniLM-L6-v2. Threads: set OMP_NUM_THREADS (default: all cores).\n";

int cli_int(const char *opt, const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "gloss: %s expects an integer in [%d, %d], got '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int run(int argc, char **argv) {
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(USAGE, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        fputs(gloss_build_info(), stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (gloss_distributed_size() > 1) { /* started by mpirun: only training is shared between processes */
        if (gloss_distributed_rank() == 0)
            fprintf(stderr, "gloss: '%s' runs in one process; only 'gloss train' runs under mpirun or srun\n", cmd);
        return EXIT_USAGE;
    }
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "embed")) return cmd_embed(argc - 1, argv + 1);
    fprintf(stderr, "gloss: unknown command '%s' (try gloss --help)\n", cmd);
    return EXIT_USAGE;
}

int main(int argc, char **argv) {
    gloss_prefer_fast_blas(argv); /* may re-execute the program: before MPI starts */
    flush_subnormals();
    /* A write past the file-size limit (ulimit -f) then fails with EFBIG and is
     * reported like a full disk, with the temp file removed, instead of the
     * default SIGXFSZ killing the process and leaving the temp file behind. */
    signal(SIGXFSZ, SIG_IGN);
    /* one of several processes of `mpirun gloss train` (docs/distributed.md) */
    if (gloss_distributed_init(&argc, &argv) != GLOSS_OK) {
        fprintf(stderr, "gloss: %s\n", gloss_last_error());
        return EXIT_ERROR;
    }
    int rc = run(argc, argv);
    gloss_distributed_finalize();
    return rc;
}
