/* dataset.h: labelled text collections for training and evaluation, tokenized
 * once up front. A data directory holds train.{csv,tsv,jsonl}[.gz], optionally
 * val.* (otherwise a seeded, stratified fraction of train) and test.*. Labels
 * are strings; the label set comes from train. */
#ifndef GL_DATASET_H
#define GL_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

typedef struct {
    size_t n;
    int32_t *ids;  /* all documents' token ids ([CLS] ... [SEP]), concatenated */
    size_t *off;   /* n + 1 offsets into ids */
    int *label;    /* class index per document */
    char *path;    /* source file (for messages) */
} gl_split;

typedef struct {
    int K;
    char **labels;          /* K label strings, in class-index order */
    gl_split train, val, test;
    int val_from_train;     /* 1: val was carved out of train */
    int has_test;
    double *class_weights;  /* K balanced weights N / (K * N_k) on train */
} gl_dataset;

static inline int gl_split_len(const gl_split *s, size_t i) { return (int)(s->off[i + 1] - s->off[i]); }
static inline const int32_t *gl_split_doc(const gl_split *s, size_t i) { return s->ids + s->off[i]; }

/* Load a data directory. val_frac: fraction of train per class moved to val
 * when there is no val file (e.g. 0.1), chosen with seed. Errors name the file
 * and line (unknown label in val/test, empty text, empty file, missing column). */
int gl_dataset_load(gl_dataset *d, const char *dir, const char *text_col, const char *label_col,
                    const gl_tokenizer *tok, int max_length, double val_frac, uint64_t seed);
void gl_dataset_free(gl_dataset *d);

/* Load one labelled file against a fixed label set (for evaluation). */
int gl_split_load(gl_split *s, const char *path, const char *text_col, const char *label_col, char *const *labels,
                  int K, const gl_tokenizer *tok, int max_length);
void gl_split_free(gl_split *s);

/* Find "<dir>/<stem>.csv|.tsv|.jsonl", else the same with .gz (gzip, read
 * by io/table.h); returns a heap path or NULL (no error set). */
char *gl_find_data_file(const char *dir, const char *stem);

#endif
