/* tokenizer_fixtures.h: what the tokenizer tests (test_tokenizer.c for
 * WordPiece, test_bpe.c for byte-level BPE and tokenizer.json) share to check
 * the ids of Hugging Face's tokenizers that tools/make_tokenizer_fixture.py
 * and tools/make_bpe_fixtures.py recorded (their docstrings give the
 * formats): zlib's CRC-32, the lines of tricky.txt, the header and the block
 * CRCs of codepoints.bin, the reader of docs.bin and the encodes of its
 * documents, random text and a throughput pass.
 * Call crc_init() first. */
#ifndef GL_TOKENIZER_FIXTURES_H
#define GL_TOKENIZER_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "io/table.h"
#include "text/tokenizer.h"
#include "util/error.h"

/* ---- CRC-32, time, files, ids ------------------------------------------------ */

static uint32_t crc_table[256];

static inline void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* zlib's crc32(prev, data): continue a CRC-32 over more bytes */
static inline uint32_t crc32_bytes(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    uint32_t c = crc ^ 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* v as 4 little-endian bytes */
static inline uint32_t crc32_u32(uint32_t crc, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return crc32_bytes(crc, b, 4);
}

static inline uint32_t crc32_ids(uint32_t crc, const int32_t *ids, int n) {
    for (int i = 0; i < n; i++) crc = crc32_u32(crc, (uint32_t)ids[i]);
    return crc;
}

static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* path holds the n bytes of data (exits on failure) */
static inline void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static inline int ids_equal(const int32_t *got, int n, const int32_t *want, int m) {
    return n == m && (n == 0 || memcmp(got, want, (size_t)n * sizeof(int32_t)) == 0);
}

static inline int encode_str(const gl_tokenizer *t, const char *s, int max_length, int32_t **ids, size_t *cap) {
    return gl_tokenizer_encode(t, s, strlen(s), max_length, ids, cap);
}

/* 1 when tids (m ids) is ids (n ids, untruncated) truncated at max_length:
 * min(n, max_length) ids, the first m - 1 of ids and then sep. */
static inline int is_truncation(const int32_t *ids, int n, const int32_t *tids, int m, int max_length, int32_t sep) {
    int want = n < max_length ? n : max_length;
    return m == want && memcmp(tids, ids, (size_t)(m - 1) * sizeof(int32_t)) == 0 && tids[m - 1] == sep;
}

/* Random text into buf (at most cap - 1 bytes): up to 119 pieces, about one
 * in 200 of them from invalid, drawn with the LCG *rng. Returns its length. */
static inline size_t random_text(uint32_t *rng, const char *const *pieces, size_t np, const char *const *invalid,
                                 size_t ni, char *buf, size_t cap) {
    size_t len = 0;
    *rng = *rng * 1664525u + 1013904223u;
    int count = (int)(*rng >> 24) % 120;
    for (int j = 0; j < count; j++) {
        *rng = *rng * 1664525u + 1013904223u;
        const char *p = (*rng >> 8) % 200 == 0 ? invalid[(*rng >> 16) % ni] : pieces[(*rng >> 16) % np];
        size_t l = strlen(p);
        if (len + l >= cap) break;
        memcpy(buf + len, p, l);
        len += l;
    }
    return len;
}

/* ---- tricky.txt ----------------------------------------------------------------- */

static inline int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decodes lowercase hex pairs from *p into out while there are any; *p ends
 * after them. Returns the bytes written. */
static inline size_t unhex(const char **p, char *out) {
    const char *s = *p;
    size_t n = 0;
    for (; hexval(s[0]) >= 0 && hexval(s[1]) >= 0; s += 2) out[n++] = (char)(hexval(s[0]) * 16 + hexval(s[1]));
    *p = s;
    return n;
}

/* The decimal ids of p into want (at most cap of them); returns how many. */
static inline int parse_ids(const char *p, int32_t *want, int cap) {
    int m = 0;
    char *endp;
    for (long v = strtol(p, &endp, 10); endp != p && m < cap; v = strtol(p, &endp, 10)) {
        want[m++] = (int32_t)v;
        p = endp;
    }
    return m;
}

/* The two id lists of a mismatch, on stderr, after a line that names it. */
static inline void print_want_got(const int32_t *want, int m, const int32_t *got, int n) {
    fprintf(stderr, "  want");
    for (int i = 0; i < m; i++) fprintf(stderr, " %d", want[i]);
    fprintf(stderr, "\n  got ");
    if (n < 0) fprintf(stderr, " error: %s", gl_error_message());
    for (int i = 0; i < n; i++) fprintf(stderr, " %d", got[i]);
    fprintf(stderr, "\n");
}

/* ---- codepoints.bin ------------------------------------------------------------- */

/* blocks of 256 code points up to U+10FFFF */
#define CODEPOINT_BLOCKS (0x110000 / 256)

/* The header and size of codepoints.bin: magic (8 bytes), u32 number of
 * blocks, then nvariants arrays of a u32 CRC-32 per block. 0, or -1 after a
 * failed CHECK. */
static inline int codepoints_check_header(const char *fx, size_t fxlen, const char *magic, int nvariants) {
    uint32_t got_blocks = 0;
    if (fxlen != 12 + (size_t)nvariants * 4 * CODEPOINT_BLOCKS || memcmp(fx, magic, 8) != 0 ||
        (memcpy(&got_blocks, fx + 8, 4), got_blocks != CODEPOINT_BLOCKS)) {
        CHECK_MSG(0, "codepoints.bin: bad header or size %zu", fxlen);
        return -1;
    }
    return 0;
}

/* codepoints.bin's CRC-32 of block b of a variant */
static inline uint32_t codepoints_crc(const char *fx, int variant, uint32_t b) {
    uint32_t crc;
    memcpy(&crc, fx + 12 + 4 * ((size_t)variant * CODEPOINT_BLOCKS + b), 4);
    return crc;
}

/* ---- docs.bin -------------------------------------------------------------------- */

/* the number of documents of the five benchmark sets (train, val, test) */
#define DOCS_TOTAL 53682
#define DOCS_TRUNC 128

/* little-endian fields of a fixture; bad is set on reading past the end */
typedef struct {
    const unsigned char *p, *end;
    int bad;
} reader;

static inline uint32_t rd_u32(reader *r) {
    if (r->end - r->p < 4) {
        r->bad = 1;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static inline unsigned rd_u8(reader *r) {
    if (r->p >= r->end) {
        r->bad = 1;
        return 0;
    }
    return *r->p++;
}

static inline uint32_t rd_varint(reader *r) {
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        unsigned b = rd_u8(r);
        v |= (uint32_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) break;
    }
    return v;
}

/* A reader over docs.bin after its magic; 0, or -1 after a failed CHECK. */
static inline int docs_open(reader *r, const char *fx, size_t fxlen, const char *magic) {
    r->p = (const unsigned char *)fx + 8;
    r->end = (const unsigned char *)fx + fxlen;
    r->bad = 0;
    if (fxlen < 16 || memcmp(fx, magic, 8) != 0) {
        CHECK_MSG(0, "docs.bin: bad magic");
        return -1;
    }
    return 0;
}

/* After the splits: docs.bin was read to its end, and total is every document. */
static inline void docs_close(const reader *r, size_t total) {
    CHECK_MSG(!r->bad && r->p == r->end, "docs.bin: truncated or trailing bytes");
    CHECK_MSG(total == DOCS_TOTAL, "%zu documents checked", total);
}

/* One document's entry: the CRC-32 and count of variant 0's ids, the check
 * byte of variant 2's */
typedef struct {
    uint32_t crc, n;
    unsigned check;
} doc_want;

static inline doc_want rd_doc(reader *r) {
    doc_want w;
    w.crc = rd_u32(r);
    w.check = rd_u8(r);
    w.n = rd_varint(r);
    return w;
}

/* The encodes of one document. Slots 0-3 are the fixture's four variants:
 * the full ids and those at max_length DOCS_TRUNC of a first and a second
 * tokenizer; slot 4 the full ids of a third (where there is one), compared
 * with the entry of slot 0. */
typedef struct {
    uint32_t crc[5]; /* CRC-32 of the ids */
    int n[5];
    int trunc_ok; /* each truncated encode is the full one truncated */
    int err;
} doc_result;

static inline void encode_doc(const gl_tokenizer *const t[3], const char *text, size_t len, doc_result *r,
                              int32_t **ids, size_t *cap, int32_t **tids, size_t *tcap) {
    memset(r, 0, sizeof *r);
    r->trunc_ok = 1;
    for (int k = 0; k < 3 && t[k]; k++) {
        int n = gl_tokenizer_encode(t[k], text, len, 0, ids, cap);
        if (n < 0) {
            r->err = 1;
            return;
        }
        r->n[k < 2 ? 2 * k : 4] = n;
        r->crc[k < 2 ? 2 * k : 4] = crc32_ids(0, *ids, n);
        if (k == 2) break;
        int m = gl_tokenizer_encode(t[k], text, len, DOCS_TRUNC, tids, tcap);
        if (m < 0) {
            r->err = 1;
            return;
        }
        r->n[2 * k + 1] = m;
        r->crc[2 * k + 1] = crc32_ids(0, *tids, m);
        if (!is_truncation(*ids, n, *tids, m, DOCS_TRUNC, gl_tokenizer_sep_id(t[k]))) r->trunc_ok = 0;
    }
}

/* res[i]: encode_doc of row i's column col, on OpenMP's threads; t[2] may be NULL */
static inline void encode_docs(const gl_tokenizer *const t[3], const gl_table *tab, int col, doc_result *res) {
#pragma omp parallel
    {
        int32_t *ids = NULL, *tids = NULL;
        size_t cap = 0, tcap = 0;
#pragma omp for schedule(dynamic, 16)
        for (long i = 0; i < (long)tab->nrows; i++) {
            size_t c = (size_t)i * (size_t)tab->ncols + (size_t)col;
            encode_doc(t, tab->cells[c], tab->cell_len[c], &res[i], &ids, &cap, &tids, &tcap);
        }
        free(ids);
        free(tids);
    }
}

/* slot k's ids (0 or 4) are not the entry's: an encode error, another CRC or count */
static inline int doc_ids_differ(const doc_result *d, int k, const doc_want *w) {
    return d->err || d->crc[k] != w->crc || (uint32_t)d->n[k] != w->n;
}

/* slot 0's id count is not the entry's (or an encode error) */
static inline int doc_count_differs(const doc_result *d, const doc_want *w) {
    return d->err || (uint32_t)d->n[0] != w->n;
}

/* slot 2's ids are not the entry's: an encode error or another check byte */
static inline int doc_check_differs(const doc_result *d, const doc_want *w) {
    uint32_t h = d->crc[2];
    unsigned check = (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & 0xFF;
    return d->err || check != w->check;
}

/* A split of docs.bin, read and encoded */
typedef struct {
    char name[256]; /* "mr/train" */
    uint32_t ndocs, agg_want[4];
    gl_table tab; /* its table (path from check_data_file) */
    int col;      /* the column "text" */
    doc_result *res;
    double seconds; /* encode_docs' time */
} docs_split;

/* Reads the head of the next split of r, its table, and encodes its
 * documents with t (encode_docs). 0, or -1 when the loop over the splits
 * should stop (after a failed CHECK where the table is wrong). */
static inline int docs_split_begin(reader *r, const gl_tokenizer *const t[3], docs_split *sp) {
    unsigned nl = rd_u8(r);
    if (r->end - r->p < (long)nl) return -1;
    memcpy(sp->name, r->p, nl);
    sp->name[nl] = 0;
    r->p += nl;
    sp->ndocs = rd_u32(r);
    for (int k = 0; k < 4; k++) sp->agg_want[k] = rd_u32(r);
    char path[512];
    check_data_file(path, sizeof path, sp->name);
    if (gl_table_read(&sp->tab, path)) {
        CHECK_MSG(0, "%s", gl_error_message());
        return -1;
    }
    sp->col = gl_table_col(&sp->tab, "text");
    CHECK_MSG(sp->col >= 0 && sp->tab.nrows == sp->ndocs, "%s: %zu rows, fixture has %u", path, sp->tab.nrows,
              sp->ndocs);
    if (sp->col < 0 || sp->tab.nrows != sp->ndocs) {
        gl_table_free(&sp->tab);
        return -1;
    }
    sp->res = calloc(sp->ndocs, sizeof *sp->res);
    double t0 = now();
    encode_docs(t, &sp->tab, sp->col, sp->res);
    sp->seconds = now() - t0;
    return 0;
}

/* After the documents' entries: compares the split's aggregates of the four
 * variants with the fixture's (each that differs said on stderr, variant[k]
 * naming variant k), frees the split and returns how many differ. */
static inline int docs_split_end(docs_split *sp, const char *const variant[4]) {
    uint32_t agg[4] = {0, 0, 0, 0};
    for (uint32_t i = 0; i < sp->ndocs; i++)
        for (int k = 0; k < 4; k++) {
            agg[k] = crc32_u32(agg[k], (uint32_t)sp->res[i].n[k]);
            agg[k] = crc32_u32(agg[k], sp->res[i].crc[k]);
        }
    int bad = 0;
    for (int k = 0; k < 4; k++)
        if (agg[k] != sp->agg_want[k]) {
            bad++;
            fprintf(stderr, "%s: %s ids differ (aggregate CRC %08x, fixture %08x)\n", sp->name, variant[k], agg[k],
                    sp->agg_want[k]);
        }
    free(sp->res);
    gl_table_free(&sp->tab);
    return bad;
}

/* ---- throughput -------------------------------------------------------------------- */

/* Encodes column 0 of every row of tab on this thread, untruncated; returns
 * the seconds taken, with the bytes read and the ids made in *bytes, *tokens. */
static inline double encode_table_seconds(const gl_tokenizer *t, const gl_table *tab, size_t *bytes, size_t *tokens) {
    int32_t *ids = NULL;
    size_t cap = 0;
    *bytes = *tokens = 0;
    double t0 = now();
    for (size_t i = 0; i < tab->nrows; i++) {
        size_t c = i * (size_t)tab->ncols;
        int n = gl_tokenizer_encode(t, tab->cells[c], tab->cell_len[c], 0, &ids, &cap);
        *bytes += tab->cell_len[c];
        *tokens += n > 0 ? (size_t)n : 0;
    }
    double dt = now() - t0;
    free(ids);
    return dt;
}

#endif
