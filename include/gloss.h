/* gloss.h: the public C API of gloss, which fine-tunes BERT-family text
 * encoders for text classification with G-Loss (a graph-guided loss built on
 * label propagation) or a standard loss, then embeds and classifies text.
 * Everything outside the library (the `gloss` program, the Python package)
 * goes through this header; link with `pkg-config --libs gloss`.
 *
 * A worked example: fine-tune, then classify two sentences.
 *
 *     #include <gloss.h>
 *     #include <stdio.h>
 *
 *     static void log_line(gloss_log_level level, const char *msg, void *user) {
 *         (void)user;
 *         fprintf(stderr, "%s%s\n", level == GLOSS_LOG_WARN ? "warning: " : "", msg);
 *     }
 *
 *     int main(void) {
 *         gloss_train_config *cfg = gloss_train_config_new();
 *         gloss_train_config_set(cfg, "model", "models/all-MiniLM-L6-v2");
 *         gloss_train_config_set(cfg, "data", "data/sample");   // train.csv, val.csv, test.csv
 *         gloss_train_config_set(cfg, "out", "out/sample");
 *         gloss_train_config_set(cfg, "loss", "gloss");          // CE + G-Loss
 *         gloss_callbacks cb = {.log = log_line};
 *         char *metrics = NULL;                                  // metrics.json's text
 *         gloss_status st = gloss_train(cfg, &cb, &metrics);
 *         gloss_train_config_free(cfg);
 *         if (st != GLOSS_OK) {
 *             fprintf(stderr, "%s: %s\n", gloss_status_name(st), gloss_last_error());
 *             return 1;
 *         }
 *         gloss_free(metrics);
 *
 *         gloss_model *m = gloss_model_load("out/sample");     // the fine-tuned classifier
 *         if (!m) return fprintf(stderr, "%s\n", gloss_last_error()), 1;
 *         const char *texts[] = {"a gripping, funny film", "dull and far too long"};
 *         int label[2];
 *         float probs[2 * 8];                                   // n x gloss_model_num_labels(m)
 *         if (gloss_predict(m, texts, 2, 0, 0, label, probs, NULL) == GLOSS_OK)
 *             for (int i = 0; i < 2; i++) printf("%s\n", gloss_model_label(m, label[i]));
 *         gloss_model_free(m);
 *         return 0;
 *     }
 *
 * Errors. Every call that can fail returns a gloss_status (or NULL) and leaves
 * a message in gloss_last_error() that names the file, line, option or tensor
 * that was wrong; gloss_last_status() gives the status of that failure. Both
 * are per thread and stay until the thread's next failure. The library never
 * aborts on bad input and never writes to stdout or stderr: messages go to the
 * log callback of gloss_callbacks when one is given, and nowhere otherwise.
 *
 * Ownership. An object returned by a *_new or *_load call belongs to the
 * caller, who releases it with the matching *_free (NULL is accepted and
 * ignored). Strings and arrays the caller passes in are only read during the
 * call, except where a comment says otherwise. A `char **` result is allocated
 * by the library and released with gloss_free. A `const char *` result (a
 * label name, an option's help) lives as long as the object it came from, or
 * for ever for static information.
 *
 * Threads. There is no process-wide state: each model, configuration and
 * training run is independent. One object must not be used by two threads at
 * once; different objects can. Each call may itself run OpenMP threads
 * (OMP_NUM_THREADS sets how many). Results are deterministic for the same
 * inputs, seed and thread count. */
#ifndef GLOSS_H
#define GLOSS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* GLOSS_API marks what the shared library exports; everything else in it is
 * hidden. */
#if defined(_WIN32)
#define GLOSS_API
#elif defined(__GNUC__) && defined(GLOSS_BUILDING_LIBRARY)
#define GLOSS_API __attribute__((visibility("default")))
#else
#define GLOSS_API
#endif

#define GLOSS_VERSION "0.2.0"

/* ---- status and messages ---------------------------------------------- */

typedef enum {
    GLOSS_OK = 0,
    GLOSS_ERROR = 1,     /* a failure not covered below */
    GLOSS_NOMEM = 2,     /* an allocation failed */
    GLOSS_IO = 3,        /* a file could not be opened, read or written */
    GLOSS_FORMAT = 4,    /* a file is malformed or inconsistent (config, weights, vocabulary, data) */
    GLOSS_INVALID = 5,   /* an option or argument value is unknown or out of range */
    GLOSS_MISUSE = 6,    /* a call made wrongly: a NULL object, a classifier call on an encoder */
    GLOSS_CANCELLED = 7, /* a progress callback asked to stop (training: a checkpoint was written) */
    GLOSS_STOPPED = 8    /* training stopped at "stop-after" with a checkpoint; "resume" continues */
} gloss_status;

/* "ok", "error", "out of memory", "I/O error", "format error", "invalid
 * argument", "misuse", "cancelled", "stopped"; "unknown status" otherwise. */
GLOSS_API const char *gloss_status_name(gloss_status status);
/* The message of this thread's last failure ("" before any). */
GLOSS_API const char *gloss_last_error(void);
/* The status of this thread's last failure (GLOSS_OK before any). */
GLOSS_API gloss_status gloss_last_status(void);

GLOSS_API const char *gloss_version(void);
/* The build, as four lines each ending in a newline: "gloss VERSION",
 * "BLAS: <OpenBLAS's configuration>", "BLAS kernels: <the core in use>",
 * "MPI: <the MPI library, e.g. Open MPI v4.1.4>" or "MPI: none" (a build
 * without MPI, which trains in one process). */
GLOSS_API const char *gloss_build_info(void);
/* Release a string or array the library allocated for the caller. */
GLOSS_API void gloss_free(void *p);

/* ---- callbacks ---------------------------------------------------------- */

typedef enum { GLOSS_LOG_INFO = 0, GLOSS_LOG_WARN = 1 } gloss_log_level;

/* A message: one complete line, without its newline. */
typedef void (*gloss_log_fn)(gloss_log_level level, const char *message, void *user);

typedef enum {
    GLOSS_STAGE_TRAIN = 0, /* optimiser steps of one epoch (done/total count steps) */
    GLOSS_STAGE_VALIDATE,  /* the validation pass after an epoch (documents) */
    GLOSS_STAGE_TEST,      /* the test pass of the best epoch's model (documents) */
    GLOSS_STAGE_PREDICT,   /* gloss_predict / gloss_evaluate (documents) */
    GLOSS_STAGE_EMBED      /* gloss_embed and embedding passes inside training (documents) */
} gloss_stage;

typedef struct {
    gloss_stage stage;
    int epoch, epochs;  /* 1-based epoch and the maximum (0 outside training) */
    size_t done, total; /* done == total is the last event of a pass */
    double elapsed_s;   /* seconds since the pass began */
    double loss;        /* TRAIN: running mean training loss of the epoch */
    double lr;          /* TRAIN: the encoder's learning rate at this step */
    double docs_per_s;  /* documents per second in this pass */
} gloss_progress;

/* Called often (every step, every batch); return non-zero to cancel. */
typedef int (*gloss_progress_fn)(const gloss_progress *progress, void *user);

/* Either member may be NULL; a NULL gloss_callbacks pointer means both are. */
typedef struct {
    gloss_log_fn log;
    gloss_progress_fn progress;
    void *user; /* passed to both */
} gloss_callbacks;

/* ---- models ------------------------------------------------------------- */

typedef struct gloss_model gloss_model;

/* Pooling of the last hidden state over the non-padding tokens. AUTO: the
 * checkpoint's own (gloss_model_pooling says which). */
typedef enum {
    GLOSS_POOL_AUTO = -1,
    GLOSS_POOL_MEAN = 0,         /* mean (sentence-transformers' mean pooling) */
    GLOSS_POOL_CLS = 1,          /* the last hidden state of [CLS] */
    GLOSS_POOL_POOLER = 2,       /* tanh(W h_[CLS] + b), BERT's pooler */
    GLOSS_POOL_MAX = 3,          /* maximum per channel */
    GLOSS_POOL_MEAN_SQRT_LEN = 4 /* sum / sqrt(number of tokens) */
} gloss_pool;

/* "auto", "mean", "cls", "pooler", "max", "mean_sqrt_len"; GLOSS_INVALID on
 * an unknown name. */
GLOSS_API gloss_status gloss_pool_parse(const char *name, gloss_pool *out);
GLOSS_API const char *gloss_pool_name(gloss_pool pool);

/* Load a Hugging Face BERT-family checkpoint directory: config.json,
 * model.safetensors (F32, F16 or BF16), vocab.txt (no more entries than
 * config.json's vocab_size, so that no token id reads past the embedding
 * table), optional tokenizer_config.json, and the optional
 * sentence-transformers files (modules.json, 1_Pooling/config.json,
 * sentence_bert_config.json), which must then be well-formed and agree with
 * the weights. A directory written by gloss_train (or any
 * BertForSequenceClassification checkpoint with id2label) is a classifier:
 * gloss_model_num_labels is then its number of classes. */
GLOSS_API gloss_model *gloss_model_load(const char *dir);
GLOSS_API void gloss_model_free(gloss_model *model);

GLOSS_API int gloss_model_hidden_size(const gloss_model *model);
GLOSS_API int gloss_model_num_layers(const gloss_model *model);
GLOSS_API int gloss_model_max_length(const gloss_model *model); /* position embeddings */
GLOSS_API int gloss_model_has_pooler(const gloss_model *model);
/* sentence_bert_config.json's max_seq_length; 0 when the checkpoint declares none. */
GLOSS_API int gloss_model_max_seq_length(const gloss_model *model);
/* Classes of a classifier; 0 for an encoder without a classification head. */
GLOSS_API int gloss_model_num_labels(const gloss_model *model);
/* The name of class k (config.json's id2label), NULL when k is out of range. */
GLOSS_API const char *gloss_model_label(const gloss_model *model, int k);

/* bf16 for embed, predict and evaluate: on = 1 runs the encoder's matrix
 * products on bf16 inputs with fp32 sums (weights stay fp32; embeddings move
 * by about 1e-3 relative, cosine similarity to fp32 above 0.999); on = 0 (the
 * default) in fp32. The kernels are chosen from the CPU: oneDNN on AMX-BF16
 * where the build has oneDNN, else AVX512-BF16 dot products, and fp32 where
 * bf16 would be slower than fp32 (a CPU that issues AVX512-BF16 dot products
 * at a fraction of its fp32 FMA rate and has no AMX): gloss_model_kernels
 * says which run. On a CPU without AVX512-BF16, on = 1 fails with
 * GLOSS_INVALID and the model stays fp32 (a program may warn and go on).
 * Results are reproducible for one CPU, thread count and kernel choice. */
GLOSS_API gloss_status gloss_model_set_bf16(gloss_model *model, int on);
/* One line naming the kernels of the model's matrix products as they are now
 * set, e.g. "fp32 OpenBLAS sgemm (SkylakeX)", "bf16 inputs, fp32 sums: oneDNN
 * 2.6.3, AMX-BF16 (AMX-BF16)", or with bf16 asked but not used, why; valid
 * until the next call on this model or gloss_model_free. */
GLOSS_API const char *gloss_model_kernels(gloss_model *model);

/* The pooling used for requested: requested itself unless GLOSS_POOL_AUTO,
 * which is the pooling the checkpoint declares (modules.json / 1_Pooling), else
 * for a classifier the pooling it was trained with, else the pooler where its
 * weights are trained, else mean. *normalize (may be NULL): 1 when the
 * checkpoint declares a Normalize module and requested is AUTO or the declared
 * pooling (what sentence-transformers' encode then does: see
 * gloss_normalize_rows). *source (may be NULL): why, e.g. "from
 * 1_Pooling/config.json", valid until the next call or gloss_model_free.
 * Fails when the checkpoint has no pooler weights for the pooler, or for AUTO
 * when it declares a module gloss does not compute. */
GLOSS_API gloss_status gloss_model_pooling(gloss_model *model, gloss_pool requested, gloss_pool *resolved,
                                           int *normalize, const char **source);

/* Scale each of n rows of dim floats to unit L2 norm, in place (x / max(|x|, 1e-12),
 * as sentence-transformers' Normalize module). */
GLOSS_API void gloss_normalize_rows(float *x, size_t n, int dim);

/* Tokenize one text as [CLS] ... [SEP] (truncated to max_length when > 0).
 * Writes at most cap ids; returns the full count, or -1 on error (invalid UTF-8). */
GLOSS_API int gloss_tokenize(const gloss_model *model, const char *text, int max_length, int32_t *ids, int cap);

/* Embed n texts into out (n x hidden floats, row-major), in evaluation mode,
 * pooled with pool (AUTO: as gloss_model_pooling resolves it; no normalisation
 * here). max_length <= 0: the model's positions; batch_size <= 0: 32. Batches
 * are padded to their longest document. */
GLOSS_API gloss_status gloss_embed(gloss_model *model, const char *const *texts, size_t n, gloss_pool pool,
                                   int max_length, int batch_size, float *out, const gloss_callbacks *cb);

/* Classify n texts with a classifier (gloss_model_num_labels > 0): labels
 * (n class indices; may be NULL) and probs (n x num_labels softmax
 * probabilities, row-major; may be NULL), with the pooling it was trained
 * with. max_length <= 0: 128 (capped by the model's positions); batch_size
 * <= 0: 64. Documents are batched by length; outputs are in input order. */
GLOSS_API gloss_status gloss_predict(gloss_model *model, const char *const *texts, size_t n, int max_length,
                                     int batch_size, int *labels, float *probs, const gloss_callbacks *cb);

/* Classify n labelled texts (labels: class names, each one of the model's)
 * and return the metrics as JSON in *json (free with gloss_free): accuracy,
 * macro_f1, weighted_f1, per_class (precision, recall, f1, support),
 * confusion, n, the cosine silhouette of the pooled embeddings, and kernels
 * (gloss_model_kernels: what ran the matrix products). Arguments
 * as gloss_predict. */
GLOSS_API gloss_status gloss_evaluate(gloss_model *model, const char *const *texts, const char *const *labels,
                                      size_t n, int max_length, int batch_size, char **json,
                                      const gloss_callbacks *cb);

/* ---- data files ----------------------------------------------------------- */

typedef struct gloss_texts gloss_texts;

/* Read documents from a file: .csv (RFC 4180, header row), .tsv, .jsonl (one
 * object per line), any of them gzip-compressed with a further .gz, or any
 * other extension as plain text (one document per line, column "text").
 * text_col names the text column; label_col (NULL: none) the label column.
 * Errors name the file and line. */
GLOSS_API gloss_texts *gloss_texts_read(const char *path, const char *text_col, const char *label_col);
GLOSS_API void gloss_texts_free(gloss_texts *texts);
GLOSS_API size_t gloss_texts_count(const gloss_texts *texts);
/* count UTF-8 strings, valid until gloss_texts_free */
GLOSS_API const char *const *gloss_texts_text(const gloss_texts *texts);
/* count label strings, or NULL when read without a label column */
GLOSS_API const char *const *gloss_texts_labels(const gloss_texts *texts);

/* ---- outputs ------------------------------------------------------------- */

/* Write rows x cols float32 values as a NumPy .npy file, atomically (a
 * temporary file, fsync, rename: an existing file is replaced whole or not at
 * all). */
GLOSS_API gloss_status gloss_write_npy(const char *path, const float *data, size_t rows, size_t cols);
/* Write len bytes to path, atomically as gloss_write_npy. */
GLOSS_API gloss_status gloss_write_file(const char *path, const void *data, size_t len);

/* ---- training ------------------------------------------------------------ */

typedef struct gloss_train_config gloss_train_config;

/* A configuration holding every option at its default (the defaults come from
 * the study in docs/defaults.md). */
GLOSS_API gloss_train_config *gloss_train_config_new(void);
GLOSS_API void gloss_train_config_free(gloss_train_config *config);

/* Set an option by name, from its text form: exactly the options and value
 * syntax of `gloss train --help` without the leading "--" ("lr", "1e-4";
 * "batch-size", "32"; "loss", "gloss"; "sigma", "knn:16"). '_' may stand for
 * '-' ("batch_size"). Switches ("resume", "bf16", ...) take "1"/"true"/"yes"
 * or "0"/"false"/"no". GLOSS_INVALID with a message naming the option when the
 * name is unknown or the value malformed or out of range; the configuration is
 * then unchanged. The strings are copied. */
GLOSS_API gloss_status gloss_train_config_set(gloss_train_config *config, const char *name, const char *value);

/* The option's current value in its text form (what set accepts), into buf
 * (NUL-terminated, truncated to cap). Returns the full length, or -1 for an
 * unknown name. An unset text option (model, data, out) reads "". */
GLOSS_API int gloss_train_config_get(const gloss_train_config *config, const char *name, char *buf, size_t cap);

/* What each option is, for help screens and bindings. */
typedef enum {
    GLOSS_OPTION_TEXT = 0,   /* a path or name */
    GLOSS_OPTION_INT,        /* an integer */
    GLOSS_OPTION_NUMBER,     /* a real number */
    GLOSS_OPTION_CHOICE,     /* one of a list of words (see help) */
    GLOSS_OPTION_SWITCH,     /* on or off; off by default */
    GLOSS_OPTION_SPECIAL     /* a syntax of its own (see help), e.g. "knn:16" */
} gloss_option_type;

typedef struct {
    const char *name;    /* "batch-size" */
    const char *metavar; /* "N" for help screens; NULL for switches */
    const char *section; /* "data", "objective", "model", "optimisation" or "runs" */
    const char *help;    /* lines of at most 60 columns, '\n'-separated, without the default */
    gloss_option_type type;
    int required;        /* model, data and out must be set before gloss_train */
} gloss_option_info;

GLOSS_API size_t gloss_train_option_count(void);
/* The i-th option (0-based), NULL when i is out of range. Static storage. */
GLOSS_API const gloss_option_info *gloss_train_option(size_t i);

/* Run one training job as configured: load the model and data, fine-tune,
 * select the best epoch on validation macro-F1, evaluate on test, and write
 * into "out" the fine-tuned model (Hugging Face and sentence-transformers
 * layout), metrics.json, epochs.csv, plots, test embeddings and a checkpoint.
 * *metrics_json (may be NULL) receives metrics.json's text (free with
 * gloss_free). Returns GLOSS_OK; GLOSS_CANCELLED when cb->progress asked to
 * stop, or GLOSS_STOPPED at "stop-after" (in both cases a checkpoint is
 * written and the option "resume" continues the run exactly); or an error.
 * Option combinations are checked first: "lambda" with "balance", "standalone"
 * with "ce", a missing "model", "data" or "out", or an "out" that exists but
 * cannot be written give GLOSS_INVALID or GLOSS_IO before any work. */
GLOSS_API gloss_status gloss_train(const gloss_train_config *config, const gloss_callbacks *cb,
                                   char **metrics_json);

/* ---- distributed training ------------------------------------------------
 *
 * One training job over several processes, on one machine or many: data
 * parallelism over MPI, in a build with MPI (gloss_build_info's "MPI:" line).
 * Start the program with mpirun or srun; its main calls
 * gloss_distributed_init first and gloss_distributed_finalize last, and in
 * between every process makes the same gloss_train call (with the same
 * configuration and metrics_json either NULL on all or on none). Each process
 * computes the encoder for its contiguous share of every batch ("batch-size"
 * is the global batch); the pooled embeddings and labels of the whole batch
 * are exchanged, so that cross-entropy, G-Loss's graph, SupCon, triplet and
 * cosine-pair see all of it, as in one process; gradients are summed in a
 * fixed order and every process takes the same optimiser step; evaluation
 * passes are shared. The numbers are those of one process up to float
 * rounding (docs/distributed.md). Rank 0 reads the checkpoint on "resume"
 * and writes every output; log messages come from rank 0 alone; progress
 * events come on every process, and a cancel on any one stops all of them
 * at the same step, with a checkpoint. An error on any process (a bad file,
 * different data or weights than rank 0's) stops all of them with its message,
 * "rank R of N: ...". A process that dies or hangs stops the others after
 * the option "comm-timeout" (the launcher usually stops them sooner).
 *
 * MPI is process-wide: these four are for a program's main thread. Without
 * gloss_distributed_init (or an MPI_Init of the program's own), gloss_train
 * runs in the calling process alone. */

/* Initialise MPI (MPI_Init_thread, MPI_THREAD_FUNNELED) when the program was
 * started by an MPI launcher (mpirun, mpiexec, srun: their environment says
 * so; GLOSS_MPI=1 forces it, GLOSS_MPI=0 prevents it); otherwise nothing.
 * argc and argv are MPI_Init's (either may be NULL). GLOSS_ERROR when MPI
 * fails to start, or when a build without MPI was started as one of several
 * processes (each would otherwise train alone and overwrite the others'
 * outputs). */
GLOSS_API gloss_status gloss_distributed_init(int *argc, char ***argv);
/* This process's rank (0-based) and the number of processes; 0 and 1 when
 * MPI is not running. */
GLOSS_API int gloss_distributed_rank(void);
GLOSS_API int gloss_distributed_size(void);
/* Leave MPI at the end of main: MPI_Finalize when gloss_distributed_init
 * started it, otherwise nothing. But after an exchange with the other
 * processes failed (one died or hung), it aborts every process of the job
 * (MPI_Abort) instead, since the others may be waiting for ever. */
GLOSS_API void gloss_distributed_finalize(void);

/* ---- programs ------------------------------------------------------------ */

/* For a program's main, before anything else: when OPENBLAS_CORETYPE is unset
 * and OpenBLAS detected a generic core on a CPU with AVX-512 or AVX2, set it and
 * re-execute the program (/proc/self/exe) with argv, so that OpenBLAS uses its
 * fast kernels. Returns only when there is nothing to do or re-execution
 * failed. Not for libraries or interpreters. */
GLOSS_API void gloss_prefer_fast_blas(char **argv);

#ifdef __cplusplus
}
#endif
#endif
