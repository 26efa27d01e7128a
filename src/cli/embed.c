/* embed.c: `gloss embed`: encode documents and write an (N, hidden) float32 .npy. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "gloss.h"

static const char *HELP =
    "usage: gloss embed --model DIR --input FILE --output OUT.npy [options]\n"
    "\n"
    "Encode every document of FILE with the checkpoint in DIR (evaluation mode,\n"
    "no dropout) and write a float32 (N, hidden) array that numpy.load reads.\n"
    "\n"
    "  --model DIR        Hugging Face checkpoint directory (config.json,\n"
    "                     model.safetensors, vocab.txt)\n"
    "  --input FILE       .csv / .tsv (header row; the text column is used),\n"
    "                     .jsonl (one object per line), or any other file:\n"
    "                     plain text, one document per line\n"
    "  --output OUT.npy   where to write the embeddings (atomically)\n"
    "  --text-col NAME    column holding the text in CSV/TSV/JSONL (default: text)\n"
    "  --pool MODE        auto (default): the checkpoint's own pooling where it\n"
    "                     declares one (sentence-transformers' modules.json /\n"
    "                     1_Pooling/config.json; a model written by gloss train\n"
    "                     declares the one it was trained with), else the pooler\n"
    "                     where its weights are trained, else mean; or one of\n"
    "                     mean: mean over non-padding tokens\n"
    "                     cls: the last hidden state of [CLS]\n"
    "                     pooler: the checkpoint's pooler, tanh(W h_[CLS] + b)\n"
    "                     max: maximum over non-padding tokens, per channel\n"
    "                     mean_sqrt_len: sum over non-padding tokens / sqrt(count)\n"
    "  --normalize WHEN   auto (default): scale each embedding to unit L2 norm when\n"
    "                     the checkpoint declares a Normalize module (modules.json)\n"
    "                     and --pool is auto or the declared pooling, as\n"
    "                     sentence-transformers' encode does; yes; no\n"
    "  --max-length N     truncate documents to N tokens including [CLS] and\n"
    "                     [SEP] (default: the checkpoint's sentence_bert_config.json\n"
    "                     max_seq_length, else 128; at most the model's positions)\n"
    "  --batch-size N     documents per forward pass (default 32)\n"
    "  --bf16             matrix products on bf16 inputs with fp32 sums (CPUs with\n"
    "                     AVX512-BF16; fp32 where bf16 would be slower, or with a\n"
    "                     warning on a CPU without it); the kernels are printed\n"
    "  --quiet            no progress display\n"
    "  -h, --help         this help\n";

int cmd_embed(int argc, char **argv) {
    const char *model_dir = NULL, *input = NULL, *output = NULL, *text_col = "text", *pool_s = "auto",
               *norm_s = "auto";
    int max_length = 0, batch = 32, quiet = 0, bf16 = 0;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},    {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'},   {"text-col", required_argument, 0, 't'},
        {"pool", required_argument, 0, 'p'},     {"max-length", required_argument, 0, 'L'},
        {"batch-size", required_argument, 0, 'b'}, {"quiet", no_argument, 0, 'q'},
        {"normalize", required_argument, 0, 'n'}, {"bf16", no_argument, 0, 'B'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'i': input = optarg; break;
        case 'o': output = optarg; break;
        case 't': text_col = optarg; break;
        case 'p': pool_s = optarg; break;
        case 'n': norm_s = optarg; break;
        case 'L':
            if (cli_int("--max-length", optarg, 3, 1 << 20, &max_length)) return EXIT_USAGE;
            break;
        case 'b':
            if (cli_int("--batch-size", optarg, 1, 1 << 16, &batch)) return EXIT_USAGE;
            break;
        case 'q': quiet = 1; break;
        case 'B': bf16 = 1; break;
        case 'h': fputs(HELP, stdout); return EXIT_OK;
        default: fputs("(gloss embed --help lists the options)\n", stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gloss embed: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!model_dir || !input || !output) {
        fprintf(stderr, "gloss embed: --model, --input and --output are required (gloss embed --help)\n");
        return EXIT_USAGE;
    }
    gloss_pool pool;
    if (gloss_pool_parse(pool_s, &pool) != 0) {
        fprintf(stderr, "gloss embed: --pool must be auto, mean, cls, pooler, max or mean_sqrt_len, got '%s'\n",
                pool_s);
        return EXIT_USAGE;
    }
    int normalize = -1; /* auto */
    if (!strcmp(norm_s, "yes")) normalize = 1;
    else if (!strcmp(norm_s, "no")) normalize = 0;
    else if (strcmp(norm_s, "auto")) {
        fprintf(stderr, "gloss embed: --normalize must be auto, yes or no, got '%s'\n", norm_s);
        return EXIT_USAGE;
    }

    gloss_model *model = gloss_model_load(model_dir);
    if (!model) {
        fprintf(stderr, "gloss embed: %s\n", gloss_last_error());
        return EXIT_ERROR;
    }
    int declared_norm;
    const char *source;
    if (gloss_model_pooling(model, pool, &pool, &declared_norm, &source) != GLOSS_OK) {
        fprintf(stderr, "gloss embed: %s\n", gloss_last_error());
        gloss_model_free(model);
        return EXIT_ERROR;
    }
    if (normalize < 0) normalize = declared_norm;
    if (max_length == 0) { /* the checkpoint's own limit where it declares one, capped by its positions */
        int msl = gloss_model_max_seq_length(model);
        max_length = msl > 0 ? msl : 128;
        if (max_length > gloss_model_max_length(model)) max_length = gloss_model_max_length(model);
    }
    if (bf16 && gloss_model_set_bf16(model, 1) != GLOSS_OK) /* no AVX512-BF16: fp32, one warning */
        fprintf(stderr, "gloss embed: warning: --bf16: %s\n", gloss_last_error());
    if (!quiet)
        fprintf(stderr, "pool %s (%s)%s, max length %d; kernels: %s\n", gloss_pool_name(pool), source,
                normalize ? ", L2-normalised" : "", max_length, gloss_model_kernels(model));
    if (max_length > gloss_model_max_length(model)) {
        fprintf(stderr, "gloss embed: --max-length %d exceeds the model's %d positions\n", max_length,
                gloss_model_max_length(model));
        gloss_model_free(model);
        return EXIT_USAGE;
    }
    gloss_texts *t = gloss_texts_read(input, text_col, NULL);
    if (!t) {
        fprintf(stderr, "gloss embed: %s\n", gloss_last_error());
        gloss_model_free(model);
        return EXIT_ERROR;
    }
    int rc = EXIT_ERROR;
    float *emb = NULL;
    const size_t n = gloss_texts_count(t);
    if (n == 0) {
        fprintf(stderr, "gloss embed: %s: no documents\n", input);
        goto done;
    }
    const int H = gloss_model_hidden_size(model);
    emb = malloc(n * (size_t)H * sizeof(float));
    if (!emb) {
        fprintf(stderr, "gloss embed: out of memory for %zu documents\n", n);
        goto done;
    }
    cli_display disp;
    cli_display_init(&disp, quiet);
    gloss_callbacks cb = cli_callbacks(&disp);
    cli_catch_signals();
    if (gloss_embed(model, gloss_texts_text(t), n, pool, max_length, batch, emb, &cb) != GLOSS_OK) {
        fprintf(stderr, "gloss embed: %s: %s\n", input, gloss_last_error());
        goto done;
    }
    if (normalize) gloss_normalize_rows(emb, n, H);
    if (gloss_write_npy(output, emb, n, (size_t)H) != GLOSS_OK) {
        fprintf(stderr, "gloss embed: %s\n", gloss_last_error());
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "wrote %s (%zu x %d float32, pool %s%s)\n", output, n, H, gloss_pool_name(pool),
                normalize ? ", L2-normalised" : "");
    rc = EXIT_OK;
done:
    free(emb);
    gloss_texts_free(t);
    gloss_model_free(model);
    return rc;
}
