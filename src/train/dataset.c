/* dataset.c: load, label and tokenize train/val/test splits. */
#include "train/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "io/table.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/rng.h"

char *gl_find_data_file(const char *dir, const char *stem) {
    static const char *ext[] = {".csv", ".tsv", ".jsonl", ".csv.gz", ".tsv.gz", ".jsonl.gz"};
    char name[64];
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        snprintf(name, sizeof name, "%s%s", stem, ext[i]);
        char *p = gl_path_join(dir, name);
        if (p && gl_file_exists(p)) return p;
        free(p);
    }
    return NULL;
}

/* Integers sort numerically ("2" < "10"), everything else by bytes; an
 * integer-looking label sorts before any other. */
static int is_int(const char *s) {
    if (*s == '-') s++;
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}
static int label_cmp(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int ix = is_int(x), iy = is_int(y);
    if (ix && iy) {
        long long vx = atoll(x), vy = atoll(y);
        return vx < vy ? -1 : vx > vy;
    }
    if (ix != iy) return ix ? -1 : 1;
    return strcmp(x, y);
}

static int find_label(char *const *labels, int K, const char *s) {
    for (int k = 0; k < K; k++) /* K is small (tens); a linear scan per row is cheap next to tokenizing */
        if (!strcmp(labels[k], s)) return k;
    return -1;
}

static int tokenize_table(gl_split *s, const gl_table *t, int tc, int lc, char *const *labels, int K,
                          const gl_tokenizer *tok, int max_length) {
    s->n = t->nrows;
    s->off = gl_malloc((t->nrows + 1) * sizeof(size_t));
    s->label = gl_malloc((t->nrows ? t->nrows : 1) * sizeof(int));
    size_t cap = 1024, used = 0;
    s->ids = gl_malloc(cap * sizeof(int32_t));
    int32_t *buf = NULL;
    size_t bcap = 0;
    int rc = (s->off && s->label && s->ids) ? 0 : -1;
    if (rc == 0) s->off[0] = 0;
    for (size_t i = 0; rc == 0 && i < t->nrows; i++) {
        const char *text = gl_table_cell(t, i, tc);
        size_t len = t->cell_len[i * (size_t)t->ncols + (size_t)tc];
        size_t k;
        for (k = 0; k < len && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' || text[k] == '\r'); k++) {}
        if (k == len) {
            rc = gl_error("%s:%zu: row %zu has no text", t->path, t->row_line[i], i + 1);
            break;
        }
        if (lc >= 0) {
            const char *lab = gl_table_cell(t, i, lc);
            int y = find_label(labels, K, lab);
            if (y < 0) {
                rc = gl_error("%s:%zu: label '%s' does not occur in the training data", t->path, t->row_line[i], lab);
                break;
            }
            s->label[i] = y;
        } else {
            s->label[i] = -1;
        }
        int n = gl_tokenizer_encode(tok, text, len, max_length, &buf, &bcap);
        if (n < 0) {
            rc = gl_error_prefix("%s:%zu: ", t->path, t->row_line[i]);
            break;
        }
        if (used + (size_t)n > cap) {
            while (used + (size_t)n > cap) cap *= 2;
            int32_t *q = gl_realloc(s->ids, cap * sizeof(int32_t));
            if (!q) {
                rc = -1;
                break;
            }
            s->ids = q;
        }
        memcpy(s->ids + used, buf, (size_t)n * sizeof(int32_t));
        used += (size_t)n;
        s->off[i + 1] = used;
    }
    free(buf);
    return rc;
}

static int open_split(gl_table *t, const char *path, const char *text_col, const char *label_col, int *tc, int *lc) {
    if (gl_table_read(t, path) != 0) return -1;
    if (t->nrows == 0) {
        gl_table_free(t);
        return gl_error("%s: no data rows", path);
    }
    *tc = gl_table_col(t, text_col);
    *lc = label_col ? gl_table_col(t, label_col) : -1;
    if (*tc < 0 || (label_col && *lc < 0)) {
        gl_table_free(t);
        return -1;
    }
    return 0;
}

int gl_split_load(gl_split *s, const char *path, const char *text_col, const char *label_col, char *const *labels,
                  int K, const gl_tokenizer *tok, int max_length) {
    memset(s, 0, sizeof *s);
    gl_table t;
    int tc, lc;
    if (open_split(&t, path, text_col, label_col, &tc, &lc) != 0) return -1;
    s->path = gl_strdup(path);
    int rc = tokenize_table(s, &t, tc, lc, labels, K, tok, max_length);
    gl_table_free(&t);
    if (rc != 0) gl_split_free(s);
    return rc;
}

void gl_split_free(gl_split *s) {
    free(s->ids);
    free(s->off);
    free(s->label);
    free(s->path);
    memset(s, 0, sizeof *s);
}

/* Move a stratified fraction of train into val: per class, a seeded shuffle of
 * its documents, the first round(frac * n_k) (at least 1 when n_k >= 2) go to val. */
static int carve_val(gl_dataset *d, double frac, uint64_t seed) {
    gl_split *tr = &d->train, *va = &d->val;
    size_t n = tr->n;
    char *to_val = gl_calloc(n, 1);
    size_t *idx = gl_malloc(n * sizeof(size_t));
    if (!to_val || !idx) {
        free(to_val);
        free(idx);
        return -1;
    }
    gl_rng r = {gl_splitmix64(seed ^ 0x76616c73706c6974ull)};
    for (int k = 0; k < d->K; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (tr->label[i] == k) idx[m++] = i;
        gl_rng_shuffle(&r, idx, m);
        size_t take = (size_t)(frac * (double)m + 0.5);
        if (take == 0 && m >= 2) take = 1;
        if (take >= m && m > 0) take = m - 1;
        for (size_t i = 0; i < take; i++) to_val[idx[i]] = 1;
    }
    free(idx);
    gl_split parts[2] = {{0}};
    int rc = 0;
    for (int p = 0; p < 2 && rc == 0; p++) {
        gl_split *o = &parts[p];
        size_t cnt = 0, tok = 0;
        for (size_t i = 0; i < n; i++)
            if (to_val[i] == p) cnt++, tok += tr->off[i + 1] - tr->off[i];
        o->n = cnt;
        o->ids = gl_malloc((tok ? tok : 1) * sizeof(int32_t));
        o->off = gl_malloc((cnt + 1) * sizeof(size_t));
        o->label = gl_malloc((cnt ? cnt : 1) * sizeof(int));
        o->path = gl_strdup(tr->path);
        if (!o->ids || !o->off || !o->label || !o->path) {
            rc = -1;
            break;
        }
        size_t j = 0, used = 0;
        o->off[0] = 0;
        for (size_t i = 0; i < n; i++) {
            if (to_val[i] != p) continue;
            size_t len = tr->off[i + 1] - tr->off[i];
            memcpy(o->ids + used, tr->ids + tr->off[i], len * sizeof(int32_t));
            used += len;
            o->label[j] = tr->label[i];
            o->off[++j] = used;
        }
    }
    free(to_val);
    if (rc != 0) {
        gl_split_free(&parts[0]);
        gl_split_free(&parts[1]);
        return -1;
    }
    gl_split_free(tr);
    *tr = parts[0];
    *va = parts[1];
    return 0;
}

int gl_dataset_load(gl_dataset *d, const char *dir, const char *text_col, const char *label_col,
                    const gl_tokenizer *tok, int max_length, double val_frac, uint64_t seed) {
    memset(d, 0, sizeof *d);
    char *train_p = gl_find_data_file(dir, "train");
    if (!train_p) return gl_error_k(GL_E_IO, "%s: no train.csv, train.tsv or train.jsonl (nor the same .gz)", dir);
    char *val_p = gl_find_data_file(dir, "val");
    char *test_p = gl_find_data_file(dir, "test");
    gl_table t;
    int tc, lc, rc = open_split(&t, train_p, text_col, label_col, &tc, &lc);
    if (rc == 0) {
        /* label set: distinct labels of train, sorted */
        char **all = gl_malloc(t.nrows * sizeof(char *));
        rc = all ? 0 : -1;
        if (rc == 0) {
            for (size_t i = 0; i < t.nrows; i++) all[i] = (char *)gl_table_cell(&t, i, lc);
            qsort(all, t.nrows, sizeof(char *), label_cmp);
            size_t K = 0;
            for (size_t i = 0; i < t.nrows; i++)
                if (i == 0 || label_cmp(&all[i], &all[i - 1]) != 0) all[K++] = all[i];
            d->labels = gl_calloc(K, sizeof(char *));
            for (size_t k = 0; d->labels && k < K; k++) d->labels[k] = gl_strdup(all[k]);
            d->K = (int)K;
            free(all);
            if (!d->labels) rc = -1;
            else if (K < 2) rc = gl_error("%s: only one label ('%s') in column '%s'; need at least two", train_p,
                                          d->labels[0], label_col);
        }
        if (rc == 0) {
            d->train.path = gl_strdup(train_p);
            rc = tokenize_table(&d->train, &t, tc, lc, d->labels, d->K, tok, max_length);
        }
        gl_table_free(&t);
    }
    if (rc == 0 && val_p) rc = gl_split_load(&d->val, val_p, text_col, label_col, d->labels, d->K, tok, max_length);
    else if (rc == 0) {
        d->val_from_train = 1;
        rc = carve_val(d, val_frac, seed);
    }
    if (rc == 0 && test_p) {
        rc = gl_split_load(&d->test, test_p, text_col, label_col, d->labels, d->K, tok, max_length);
        d->has_test = rc == 0;
    }
    if (rc == 0) {
        d->class_weights = gl_calloc((size_t)d->K, sizeof(double));
        size_t *cnt = gl_calloc((size_t)d->K, sizeof(size_t));
        if (!d->class_weights || !cnt) rc = -1;
        for (size_t i = 0; rc == 0 && i < d->train.n; i++) cnt[d->train.label[i]]++;
        for (int k = 0; rc == 0 && k < d->K; k++)
            d->class_weights[k] = cnt[k] ? (double)d->train.n / ((double)d->K * (double)cnt[k]) : 0.0;
        free(cnt);
    }
    free(train_p);
    free(val_p);
    free(test_p);
    if (rc != 0) gl_dataset_free(d);
    return rc;
}

void gl_dataset_free(gl_dataset *d) {
    for (int k = 0; d->labels && k < d->K; k++) free(d->labels[k]);
    free(d->labels);
    gl_split_free(&d->train);
    gl_split_free(&d->val);
    gl_split_free(&d->test);
    free(d->class_weights);
    memset(d, 0, sizeof *d);
}
