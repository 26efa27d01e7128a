/* table.c: read CSV / TSV / JSONL / plain-text collections into a gl_table.
 *
 * The whole file is read once, checked for NUL bytes and strict UTF-8 (errors
 * name the file and line), then parsed in one pass:
 *  - CSV/TSV (RFC 4180): fields may be quoted; inside quotes the delimiter, CR,
 *    LF and doubled quotes ("") are literal. A quote inside an unquoted field is
 *    kept literally (as Python's csv does). Records end with LF or CRLF, the last
 *    one may lack it. Completely blank lines between records are skipped (as
 *    Python's csv.DictReader does). Errors: a record with a different number of
 *    fields than the header, an unterminated quote (reported at the line where
 *    the field started), text between a closing quote and the next delimiter, a
 *    bare CR outside quotes. The parse is in place: unquoting only shrinks, so
 *    the cell bytes are compacted into the file buffer as they are read.
 *  - JSONL: one JSON object per line (blank lines skipped). The keys of the
 *    first object, in their order, are the columns; every later object must
 *    have each of them (extra keys are ignored). Values: strings as they are,
 *    numbers as their text (integers in decimal, reals in the shortest form
 *    that reads back to the same double), booleans as "true"/"false"; null,
 *    arrays and objects are errors.
 *  - anything else: one document per line in a single column "text"; a trailing
 *    CR is stripped and the empty piece after a final newline is not a row.
 * A UTF-8 byte-order mark at the very start is skipped. A name ending in .gz
 * is decompressed first (util/gzip.h) and read by the extension before it.
 *
 * Memory: colnames and cells are each one allocation (pointer array followed by
 * the NUL-terminated strings), so freeing is a handful of free() calls. */
#include "io/table.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/utf8.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/gzip.h"

/* Cells gathered during parsing: byte ranges in an arena, plus where rows begin. */
typedef struct {
    char *arena;       /* the file buffer (CSV/TSV/text) or a growable buffer (JSONL) */
    size_t used, acap; /* bytes used / capacity (acap only for the growable arena) */
    size_t *off, *len; /* per cell */
    size_t ncells, ccap;
    size_t *row_line; /* per record, including the header record */
    size_t nrec, rcap;
} cells_builder;

/* Capacity for at least need elements: the new capacity, or 0 when out of
 * memory (*p unchanged). Doubling keeps appends amortised O(1). */
static size_t grow(void **p, size_t cap, size_t need, size_t elem) {
    if (need <= cap) return cap;
    size_t c = cap ? cap : 64;
    while (c < need) c *= 2;
    void *q = gl_realloc(*p, c * elem);
    if (!q) return 0;
    *p = q;
    return c;
}

static int add_cell(cells_builder *b, size_t off, size_t len) {
    if (b->ncells == b->ccap) {
        void *o = b->off, *l = b->len;
        size_t co = grow(&o, b->ccap, b->ncells + 1, sizeof(size_t));
        b->off = o;
        size_t cl = co ? grow(&l, b->ccap, b->ncells + 1, sizeof(size_t)) : 0;
        b->len = l;
        if (!co || !cl) return -1;
        b->ccap = co;
    }
    b->off[b->ncells] = off;
    b->len[b->ncells] = len;
    b->ncells++;
    return 0;
}

static int add_record(cells_builder *b, size_t line) {
    if (b->nrec == b->rcap) {
        void *r = b->row_line;
        size_t c = grow(&r, b->rcap, b->nrec + 1, sizeof(size_t));
        b->row_line = r;
        if (!c) return -1;
        b->rcap = c;
    }
    b->row_line[b->nrec++] = line;
    return 0;
}

/* Append bytes to the growable arena (JSONL), NUL-terminated; returns the offset. */
static int arena_append(cells_builder *b, const char *s, size_t n, size_t *off) {
    if (b->used + n + 1 > b->acap) {
        void *a = b->arena;
        size_t c = grow(&a, b->acap, b->used + n + 1, 1);
        b->arena = a;
        if (!c) return -1;
        b->acap = c;
    }
    memcpy(b->arena + b->used, s, n);
    b->arena[b->used + n] = 0;
    *off = b->used;
    b->used += n + 1;
    return 0;
}

static void builder_free(cells_builder *b, int owns_arena) {
    if (owns_arena) free(b->arena);
    free(b->off);
    free(b->len);
    free(b->row_line);
}

static size_t line_of(const char *data, size_t pos) {
    size_t line = 1;
    const char *p = data, *end = data + pos;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        line++;
        p++;
    }
    return line;
}

/* NUL bytes and invalid UTF-8 anywhere in the file are errors with a line number. */
static int check_bytes(const char *path, const char *data, size_t n) {
    const char *nul = memchr(data, 0, n);
    if (nul) {
        size_t pos = (size_t)(nul - data);
        return gl_error_k(GL_E_FORMAT, "%s:%zu: NUL byte at offset %zu (binary file? cells must be UTF-8 text)", path,
                        line_of(data, pos), pos);
    }
    size_t bad = gl_utf8_check(data, n);
    if (bad < n) {
        size_t line = line_of(data, bad);
        const char *ls = data + bad;
        while (ls > data && ls[-1] != '\n') ls--;
        return gl_error_k(GL_E_FORMAT, "%s:%zu: invalid UTF-8 (byte 0x%02X at column %zu)", path, line,
                        (unsigned)(unsigned char)data[bad], (size_t)(data + bad - ls) + 1);
    }
    return 0;
}

/* ---- CSV / TSV -------------------------------------------------------------- */

static int parse_delimited(cells_builder *b, const char *path, char *data, size_t n, char delim) {
    const char *p = data, *end = data + n;
    char *w = data; /* compacted output, never ahead of p */
    size_t line = 1;
    size_t ncols = 0; /* fields in the header record */
    while (p < end) {
        if (*p == '\n') { /* blank line */
            p++;
            line++;
            continue;
        }
        if (*p == '\r' && p + 1 < end && p[1] == '\n') {
            p += 2;
            line++;
            continue;
        }
        size_t rec_line = line, nf = 0;
        if (add_record(b, rec_line)) return -1;
        for (;;) {
            size_t start = (size_t)(w - data);
            if (p < end && *p == '"') {
                size_t qline = line;
                p++;
                for (;;) {
                    const char *q = p;
                    while (q < end && *q != '"' && *q != '\n') q++;
                    memmove(w, p, (size_t)(q - p));
                    w += q - p;
                    p = q;
                    if (p >= end)
                        return gl_error_k(GL_E_FORMAT, "%s:%zu: unterminated quoted field (the closing quote is missing)",
                                        path, qline);
                    if (*p == '\n') {
                        *w++ = *p++;
                        line++;
                    } else if (p + 1 < end && p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                    } else {
                        p++; /* closing quote */
                        break;
                    }
                }
                if (p < end && *p != delim && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n'))
                    return gl_error_k(GL_E_FORMAT, "%s:%zu: unexpected character '%c' after a closing quote "
                                    "(expected the delimiter or the end of the line)",
                                    path, line, *p >= 0x20 && *p < 0x7f ? *p : '?');
            } else {
                const char *q = p;
                while (q < end && *q != delim && *q != '\n' && *q != '\r') q++;
                if (q < end && *q == '\r' && !(q + 1 < end && q[1] == '\n'))
                    return gl_error_k(GL_E_FORMAT, "%s:%zu: bare CR (carriage return not followed by a line feed) in an "
                                    "unquoted field; quote the field",
                                    path, line);
                memmove(w, p, (size_t)(q - p));
                w += q - p;
                p = q;
            }
            size_t flen = (size_t)(w - data) - start;
            nf++;
            int more = 0;
            if (p < end) {
                if (*p == delim) {
                    more = 1;
                    p++;
                } else {
                    if (*p == '\r') p++;
                    p++; /* the LF */
                    line++;
                }
            }
            *w++ = 0; /* room: the terminator just consumed, or data[n] at the end */
            if (add_cell(b, start, flen)) return -1;
            if (!more) break;
        }
        if (b->nrec == 1) {
            ncols = nf;
        } else if (nf != ncols) {
            return gl_error_k(GL_E_FORMAT, "%s:%zu: row has %zu field%s but the header has %zu", path, rec_line, nf,
                            nf == 1 ? "" : "s", ncols);
        }
    }
    b->used = (size_t)(w - data);
    if (b->nrec == 0) return gl_error_k(GL_E_FORMAT, "%s: empty file: expected a header row", path);
    return 0;
}

/* ---- plain text ----------------------------------------------------------- */

static int parse_lines(cells_builder *b, char *data, size_t n) {
    size_t line = 1, pos = 0;
    while (pos < n) {
        char *nl = memchr(data + pos, '\n', n - pos);
        size_t e = nl ? (size_t)(nl - data) : n;
        size_t len = e - pos;
        if (len && data[e - 1] == '\r') len--;
        data[pos + len] = 0; /* overwrites CR, LF or the final NUL */
        if (add_record(b, line) || add_cell(b, pos, len)) return -1;
        pos = e + 1;
        line++;
    }
    b->used = n;
    return 0;
}

/* ---- JSONL ------------------------------------------------------------------ */

/* Text for a JSON scalar into buf (for numbers/booleans) or a pointer to the string. */
static int json_value_text(json_t *v, const char **s, size_t *n, char *buf, size_t bufsz) {
    switch (json_typeof(v)) {
    case JSON_STRING:
        *s = json_string_value(v);
        *n = json_string_length(v);
        return 0;
    case JSON_INTEGER:
        *n = (size_t)snprintf(buf, bufsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *s = buf;
        return 0;
    case JSON_REAL: {
        double d = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, bufsz, "%.*g", prec, d);
            if (strtod(buf, NULL) == d) break;
        }
        *n = strlen(buf);
        *s = buf;
        return 0;
    }
    case JSON_TRUE:
        *s = "true";
        *n = 4;
        return 0;
    case JSON_FALSE:
        *s = "false";
        *n = 5;
        return 0;
    default:
        return -1;
    }
}

static const char *json_type_name(json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_NULL: return "null";
    default: return "a scalar";
    }
}

/* The keys of the first object become a header record (in the arena, like
 * CSV's header row); ncols receives their number. */
static int parse_jsonl(cells_builder *b, const char *path, const char *data, size_t n, size_t *ncols) {
    size_t nkeys = 0, line = 0, pos = 0;
    json_t *obj = NULL;
    while (pos < n) {
        const char *nl = memchr(data + pos, '\n', n - pos);
        size_t e = nl ? (size_t)(nl - data) : n;
        const char *s = data + pos;
        size_t len = e - pos;
        pos = e + 1;
        line++;
        size_t k = 0;
        while (k < len && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
        if (k == len) continue; /* blank line */
        json_error_t err;
        obj = json_loadb(s, len, JSON_REJECT_DUPLICATES, &err);
        if (!obj) return gl_error_k(GL_E_FORMAT, "%s:%zu: invalid JSON at column %d: %s", path, line, err.column, err.text);
        if (!json_is_object(obj)) {
            gl_error_k(GL_E_FORMAT, "%s:%zu: expected a JSON object, found %s", path, line, json_type_name(obj));
            goto fail;
        }
        if (b->nrec == 0) { /* the first object's keys are the columns */
            nkeys = json_object_size(obj);
            if (nkeys == 0) {
                gl_error_k(GL_E_FORMAT, "%s:%zu: the first object has no keys (they name the columns)", path, line);
                goto fail;
            }
            if (add_record(b, line)) goto fail;
            const char *key;
            json_t *v;
            json_object_foreach(obj, key, v) {
                size_t off;
                (void)v;
                if (arena_append(b, key, strlen(key), &off) || add_cell(b, off, strlen(key))) goto fail;
            }
        }
        if (add_record(b, line)) goto fail;
        for (size_t i = 0; i < nkeys; i++) {
            const char *key = b->arena + b->off[i]; /* re-read: the arena may move */
            json_t *v = json_object_get(obj, key);
            if (!v) {
                gl_error_k(GL_E_FORMAT, "%s:%zu: missing key \"%s\" (the first object's keys are the columns)", path, line,
                         key);
                goto fail;
            }
            char buf[64];
            const char *vs;
            size_t vn, off;
            if (json_value_text(v, &vs, &vn, buf, sizeof buf)) {
                gl_error_k(GL_E_FORMAT, "%s:%zu: key \"%s\": expected a string, number or boolean, found %s", path, line, key,
                         json_type_name(v));
                goto fail;
            }
            if (memchr(vs, 0, vn)) { /* jansson rejects \u0000 by default; be sure */
                gl_error_k(GL_E_FORMAT, "%s:%zu: key \"%s\": NUL character in value", path, line, key);
                goto fail;
            }
            if (arena_append(b, vs, vn, &off) || add_cell(b, off, vn)) goto fail;
        }
        json_decref(obj);
        obj = NULL;
    }
    if (b->nrec == 0) return gl_error_k(GL_E_FORMAT, "%s: no JSON objects (expected one object per line)", path);
    *ncols = nkeys;
    return 0;
fail:
    json_decref(obj);
    return -1;
}

/* ---- assembly ----------------------------------------------------------- */

/* One allocation: count pointers followed by the strings they point at. */
static char **pack_strings(const char *arena, const size_t *off, const size_t *len, size_t count) {
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++) bytes += len[i] + 1;
    char **ptrs = gl_malloc(count * sizeof(char *) + bytes);
    if (!ptrs) return NULL;
    char *dst = (char *)(ptrs + count);
    for (size_t i = 0; i < count; i++) {
        memcpy(dst, arena + off[i], len[i]);
        dst[len[i]] = 0;
        ptrs[i] = dst;
        dst += len[i] + 1;
    }
    return ptrs;
}

typedef struct {
    const char *name;
    int idx;
} name_index;

static int cmp_name_index(const void *a, const void *b) {
    const name_index *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* The first column (in file order) whose name repeats an earlier one, -1 when
 * the names are unique, -2 when out of memory. Sorted, so O(n log n): the
 * pairwise check took 30 s on a 1 MB header of 140k columns (found by
 * fuzz/fuzz_table.c). */
static int first_duplicate(char **names, int n) {
    if (n < 2) return -1;
    name_index *v = gl_malloc((size_t)n * sizeof *v);
    if (!v) return -2;
    for (int i = 0; i < n; i++) {
        v[i].name = names[i];
        v[i].idx = i;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_name_index);
    int dup = -1; /* equal names sort by index: each later copy follows its predecessor */
    for (int i = 1; i < n; i++)
        if (!strcmp(v[i].name, v[i - 1].name) && (dup < 0 || v[i].idx < dup)) dup = v[i].idx;
    free(v);
    return dup;
}

/* The format's extension of path ("csv" for "a/train.csv" and for
 * "a/train.csv.gz") into ext (empty when there is none). */
static void extension(const char *path, char *ext, size_t cap) {
    size_t n = strlen(path);
    if (gl_is_gzip_name(path)) n -= 3;
    size_t i = n;
    while (i > 0 && path[i - 1] != '.' && path[i - 1] != '/') i--;
    size_t k = i > 0 && path[i - 1] == '.' ? n - i : 0;
    if (k >= cap) k = 0; /* longer than any extension we know */
    memcpy(ext, path + i, k);
    ext[k] = 0;
}

int gl_table_read(gl_table *t, const char *path) {
    memset(t, 0, sizeof *t);
    char *data;
    size_t n;
    /* NAME.csv.gz (.tsv.gz, ...) is read as NAME.csv decompressed */
    if ((gl_is_gzip_name(path) ? gl_read_gzip_file(path, &data, &n) : gl_read_file(path, &data, &n)) != 0) return -1;
    cells_builder b;
    memset(&b, 0, sizeof b);
    int rc = -1, owns_arena = 0;
    char *body = data;
    size_t bn = n;
    if (bn >= 3 && (unsigned char)body[0] == 0xEF && (unsigned char)body[1] == 0xBB &&
        (unsigned char)body[2] == 0xBF) {
        body += 3;
        bn -= 3;
    }
    if (check_bytes(path, data, n)) goto done;

    char ext[8];
    extension(path, ext, sizeof ext);
    size_t hdr = 1, ncols = 0; /* hdr: records before the data rows */
    if (!strcasecmp(ext, "csv") || !strcasecmp(ext, "tsv")) {
        b.arena = body;
        if (parse_delimited(&b, path, body, bn, !strcasecmp(ext, "csv") ? ',' : '\t')) goto done;
        ncols = b.ncells / b.nrec;
        t->colnames = pack_strings(b.arena, b.off, b.len, ncols);
    } else if (!strcasecmp(ext, "jsonl")) {
        owns_arena = 1;
        if (parse_jsonl(&b, path, body, bn, &ncols)) goto done;
        t->colnames = pack_strings(b.arena, b.off, b.len, ncols);
    } else {
        static const size_t zero = 0, four = 4;
        b.arena = body;
        if (parse_lines(&b, body, bn)) goto done;
        hdr = 0;
        ncols = 1;
        t->colnames = pack_strings("text", &zero, &four, 1);
    }
    if (!t->colnames) goto done;
    if (ncols > 1000000) {
        gl_error_k(GL_E_FORMAT, "%s:%zu: %zu columns is too many", path, b.row_line[0], ncols);
        goto done;
    }
    t->ncols = (int)ncols;
    int dup = first_duplicate(t->colnames, t->ncols);
    if (dup == -2) {
        gl_error_prefix("%s: ", path);
        goto done;
    }
    if (dup >= 0) {
        gl_error_k(GL_E_FORMAT, "%s:%zu: duplicate column name \"%s\"", path, b.row_line[0], t->colnames[dup]);
        goto done;
    }

    /* rows: the header record's cells come first */
    t->nrows = b.nrec - hdr;
    size_t skip = hdr * ncols, ncells = t->nrows * ncols;
    /* no cells at all (an empty text file): b.off and b.len are NULL, and
     * NULL + 0 is undefined behaviour (found by fuzz/fuzz_table.c) */
    t->cells = pack_strings(b.arena, ncells ? b.off + skip : NULL, ncells ? b.len + skip : NULL, ncells);
    t->cell_len = gl_malloc(ncells * sizeof(size_t));
    t->row_line = gl_malloc(t->nrows * sizeof(size_t));
    t->path = gl_strdup(path);
    if (!t->cells || !t->cell_len || !t->row_line || !t->path) goto done;
    if (ncells) memcpy(t->cell_len, b.len + skip, ncells * sizeof(size_t));
    if (t->nrows) memcpy(t->row_line, b.row_line + hdr, t->nrows * sizeof(size_t));
    rc = 0;
done:
    builder_free(&b, owns_arena);
    free(data);
    if (rc != 0) gl_table_free(t);
    return rc;
}

int gl_table_col(const gl_table *t, const char *name) {
    for (int i = 0; i < t->ncols; i++)
        if (!strcmp(t->colnames[i], name)) return i;
    char list[512];
    size_t k = 0;
    list[0] = 0;
    for (int i = 0; i < t->ncols && k + 1 < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s\"%s\"", i ? ", " : "", t->colnames[i]);
    if (k >= sizeof list) strcpy(list + sizeof list - 4, "...");
    gl_error_k(GL_E_FORMAT, "%s: no column \"%s\" (columns: %s)", t->path ? t->path : "table", name, list);
    return -1;
}

void gl_table_free(gl_table *t) {
    free(t->path);
    free(t->colnames);
    free(t->cells);
    free(t->cell_len);
    free(t->row_line);
    memset(t, 0, sizeof *t);
}
