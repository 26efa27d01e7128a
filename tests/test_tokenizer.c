/* test_tokenizer.c: the WordPiece tokenizer against Hugging Face `tokenizers`.
 *
 * Fixtures (tests/fixtures/tokenizer, written by tools/make_tokenizer_fixture.py,
 * whose docstring gives the formats):
 *  - tricky.txt: hand-picked strings with their full id lists, uncased (U) and
 *    cased (C), max_length 0 (none), 2, 3, 8; compared exactly;
 *  - codepoints.bin: every code point between "a" and "b", in a synthetic
 *    vocabulary holding every character, both modes (block CRCs);
 *  - docs.bin: every document of the five datasets (train/val/test), uncased
 *    and cased, untruncated and truncated at 128 (per-document CRCs and counts,
 *    per-split aggregates).
 * Plus the API, the vocabulary loader's error paths and input errors. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

#include "check.h"
#include "io/table.h"
#include "text/tokenizer.h"
#include "tokenizer_fixtures.h"
#include "util/utf8.h"
#include "util/error.h"
#include "util/fileio.h"

#define FIXTURE_DIR "tests/fixtures/tokenizer"

static char g_tmp[256];

/* ---- helpers -------------------------------------------------------------- */

static const char *tmp_path(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    return path;
}

static const char *write_tmp(const char *name, const char *content, size_t n) {
    const char *path = tmp_path(name);
    write_file(path, content, n);
    return path;
}

/* ---- API, errors, small cases -------------------------------------------- */

static void test_api(const gl_tokenizer *tu, const gl_tokenizer *tc) {
    CHECK(gl_tokenizer_vocab_size(tu) == 30522);
    CHECK(gl_tokenizer_cls_id(tu) == 101 && gl_tokenizer_sep_id(tu) == 102);
    CHECK(gl_tokenizer_pad_id(tu) == 0 && gl_tokenizer_unk_id(tu) == 100);
    CHECK(!strcmp(gl_tokenizer_token(tu, 101), "[CLS]") && !strcmp(gl_tokenizer_token(tu, 7592), "hello"));
    CHECK(!strcmp(gl_tokenizer_token(tu, 2015), "##s"));
    CHECK(gl_tokenizer_token(tu, -1) == NULL && gl_tokenizer_token(tu, 30522) == NULL);

    int32_t *ids = NULL;
    size_t cap = 0;
    static const int32_t hello[] = {101, 7592, 1010, 2088, 999, 102};
    int n = encode_str(tu, "Hello, World!", 0, &ids, &cap);
    CHECK(ids_equal(ids, n, hello, 6));
    CHECK(cap >= 6);
    /* truncation keeps [CLS] first tokens [SEP] */
    static const int32_t hello4[] = {101, 7592, 1010, 102};
    n = encode_str(tu, "Hello, World!", 4, &ids, &cap);
    CHECK(ids_equal(ids, n, hello4, 4));
    n = encode_str(tu, "Hello, World!", 2, &ids, &cap);
    CHECK(n == 2 && ids[0] == 101 && ids[1] == 102);
    n = encode_str(tu, "Hello, World!", 100, &ids, &cap);
    CHECK(ids_equal(ids, n, hello, 6));
    n = encode_str(tu, "Hello, World!", -5, &ids, &cap); /* negative: no truncation */
    CHECK(ids_equal(ids, n, hello, 6));
    /* the bytes given by len, not up to a NUL */
    n = gl_tokenizer_encode(tu, "hello world", 5, 0, &ids, &cap);
    CHECK(n == 3 && ids[1] == 7592);
    /* cased: "Hello" is not in the uncased vocabulary */
    n = encode_str(tc, "Hello", 0, &ids, &cap);
    CHECK(n == 3 && ids[1] == 100);
    /* a long input grows the buffer from NULL */
    free(ids);
    ids = NULL;
    cap = 0;
    size_t reps = 5000;
    char *big = malloc(reps * 6 + 1);
    for (size_t i = 0; i < reps; i++) memcpy(big + i * 6, "hello ", 6);
    big[reps * 6] = 0;
    n = encode_str(tu, big, 0, &ids, &cap);
    CHECK(n == (int)reps + 2 && cap >= reps + 2 && ids[reps] == 7592 && ids[reps + 1] == 102);
    n = encode_str(tu, big, 128, &ids, &cap);
    CHECK(n == 128 && ids[126] == 7592 && ids[127] == 102);
    free(big);

    /* errors on input */
    gl_error_clear();
    CHECK(gl_tokenizer_encode(tu, "ok \xC3\x28", 5, 0, &ids, &cap) == -1);
    CHECK(strstr(gl_error_message(), "invalid UTF-8") && strstr(gl_error_message(), "byte 3"));
    CHECK(gl_tokenizer_encode(tu, "abc\xE2\x82", 5, 0, &ids, &cap) == -1);
    CHECK(gl_tokenizer_encode(tu, "\xED\xA0\x80", 3, 0, &ids, &cap) == -1); /* surrogate */
    CHECK(gl_tokenizer_encode(tu, "\xF4\x90\x80\x80", 4, 0, &ids, &cap) == -1); /* > U+10FFFF */
    gl_error_clear();
    CHECK(encode_str(tu, "hi", 1, &ids, &cap) == -1 && strstr(gl_error_message(), "max_length 1"));
    free(ids);
}

static void expect_load_error(const char *name, const char *content, size_t n, const char *where,
                              const char *what) {
    const char *path = write_tmp(name, content, n);
    char want[600];
    snprintf(want, sizeof want, "%s%s", path, where);
    gl_error_clear();
    gl_tokenizer *t = gl_tokenizer_load(path, 1, -1);
    CHECK_MSG(t == NULL, "%s: expected failure", name);
    gl_tokenizer_free(t);
    const char *msg = gl_error_message();
    CHECK_MSG(strstr(msg, want) != NULL, "%s: \"%s\" lacks \"%s\"", name, msg, want);
    CHECK_MSG(strstr(msg, what) != NULL, "%s: \"%s\" lacks \"%s\"", name, msg, what);
}
#define LOAD_ERROR(name, lit, where, what) expect_load_error(name, lit, sizeof(lit) - 1, where, what)

static void test_vocab_loading(void) {
    LOAD_ERROR("nocls.txt", "[PAD]\n[UNK]\n[SEP]\nhello\n", ":", "no [CLS] token");
    LOAD_ERROR("nosep.txt", "[PAD]\n[UNK]\n[CLS]\n", ":", "no [SEP] token");
    LOAD_ERROR("nopad.txt", "[UNK]\n[CLS]\n[SEP]\n", ":", "no [PAD] token");
    LOAD_ERROR("nounk.txt", "[PAD]\n[CLS]\n[SEP]\n", ":", "no [UNK] token");
    LOAD_ERROR("utf8.txt", "[PAD]\n[UNK]\nbad\xFF\n[CLS]\n[SEP]\n", ":3:", "invalid UTF-8");
    LOAD_ERROR("nul.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nx\0y\n", ":5:", "NUL byte");
    LOAD_ERROR("empty.txt", "", ":", "empty vocabulary");
    gl_error_clear();
    const char *missing = tmp_path("missing.txt");
    CHECK(gl_tokenizer_load(missing, 1, -1) == NULL && strstr(gl_error_message(), missing));

    /* CRLF, trailing spaces trimmed (Rust lines() + trim_end), no final newline,
     * a repeated token maps to its last line, [MASK] optional */
    const char *v = "[PAD]\r\n[UNK] \n[CLS]\t\n[SEP]\u3000\nab\nab\n##c\nx";
    const char *path = write_tmp("small.txt", v, strlen(v));
    gl_tokenizer *t = gl_tokenizer_load(path, 1, -1);
    CHECK_MSG(t != NULL, "%s", gl_error_message());
    if (!t) return;
    CHECK(gl_tokenizer_vocab_size(t) == 8);
    CHECK(gl_tokenizer_pad_id(t) == 0 && gl_tokenizer_unk_id(t) == 1 && gl_tokenizer_cls_id(t) == 2 &&
          gl_tokenizer_sep_id(t) == 3);
    CHECK(!strcmp(gl_tokenizer_token(t, 1), "[UNK]") && !strcmp(gl_tokenizer_token(t, 3), "[SEP]"));
    CHECK(!strcmp(gl_tokenizer_token(t, 4), "ab") && !strcmp(gl_tokenizer_token(t, 7), "x"));
    int32_t *ids = NULL;
    size_t cap = 0;
    static const int32_t want[] = {2, 5, 5, 6, 1, 7, 0, 3};
    int n = encode_str(t, "AB abc zz x [PAD]", 0, &ids, &cap);
    CHECK(ids_equal(ids, n, want, 8));
    free(ids);
    gl_tokenizer_free(t);
    gl_tokenizer_free(NULL);
}

/* lowercase and strip_accents set apart (HF BertWordPieceTokenizer with the
 * same flags and this vocabulary gave these ids): lowercasing without
 * stripping keeps U+0130's dot (i U+0307), stripping without lowercasing keeps
 * the capitals. */
static void test_flag_combinations(void) {
    const char *v = "[PAD]\n[UNK]\n[CLS]\n[SEP]\ni\xCC\x87stanbul\nistanbul\nIstanbul\ncafe\ncaf\xC3\xA9\nCafe\n"
                    "na\xC3\xAFve\nnaive\nAB\nab\n\xC3\xA0" "b\n";
    const char *path = write_tmp("flags.txt", v, strlen(v));
    const char *text = "\xC4\xB0stanbul Caf\xC3\xA9 na\xC3\xAFve \xC3\x80" "B";
    static const struct {
        int lowercase, strip;
        int32_t want[6];
    } cases[] = {{1, 0, {2, 4, 8, 10, 14, 3}},
                 {0, 1, {2, 6, 9, 11, 12, 3}},
                 {1, 1, {2, 5, 7, 11, 13, 3}},
                 {1, -1, {2, 5, 7, 11, 13, 3}},
                 {0, 0, {2, 1, 1, 10, 1, 3}},
                 {0, -1, {2, 1, 1, 10, 1, 3}}};
    int32_t *ids = NULL;
    size_t cap = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        gl_tokenizer *t = gl_tokenizer_load(path, cases[k].lowercase, cases[k].strip);
        CHECK_MSG(t != NULL, "%s", gl_error_message());
        if (!t) continue;
        int n = encode_str(t, text, 0, &ids, &cap);
        CHECK_MSG(ids_equal(ids, n, cases[k].want, 6), "lowercase %d strip_accents %d", cases[k].lowercase,
                  cases[k].strip);
        gl_tokenizer_free(t);
    }
    free(ids);
}

/* Canonical ordering of long runs of combining characters (regression:
 * fuzz/fuzz_tokenizer.c found the insertion sort quadratic, 0.5 s for one 64 KB
 * word of stacked marks). Mc characters with a combining class survive
 * strip_accents, so their sorted order shows in the ids: U+1D165 (class 216),
 * U+302E (224), U+1D16D (226); U+0301 (230, Mn) is sorted and then dropped. */
static void test_long_mark_runs(void) {
    const char *v = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nx\n##\xF0\x9D\x85\xA5\n##\xF0\x9D\x85\xAD\n##\xE3\x80\xAE\na\n";
    const char *path = write_tmp("marks.txt", v, strlen(v));
    gl_tokenizer *ts = gl_tokenizer_load(path, 0, 1), *tn = gl_tokenizer_load(path, 0, 0);
    CHECK_MSG(ts && tn, "%s", gl_error_message());
    if (!ts || !tn) {
        gl_tokenizer_free(ts);
        gl_tokenizer_free(tn);
        return;
    }
    static const char quad[] = "\xF0\x9D\x85\xAD\xE3\x80\xAE\xF0\x9D\x85\xA5\xCC\x81"; /* 226 224 216 230 */
    char text[64 + 20 * sizeof quad];
    int32_t *ids = NULL, want[64];
    size_t cap = 0;
    for (int reps = 1; reps <= 20; reps += 19) { /* a run of 4 (insertion sort) and of 80 */
        size_t n = 0;
        text[n++] = 'x';
        for (int r = 0; r < reps; r++) {
            memcpy(text + n, quad, sizeof quad - 1);
            n += sizeof quad - 1;
        }
        int m = 0;
        want[m++] = 2;
        want[m++] = 4;
        for (int r = 0; r < reps; r++) want[m++] = 5; /* U+1D165 */
        for (int r = 0; r < reps; r++) want[m++] = 7; /* U+302E */
        for (int r = 0; r < reps; r++) want[m++] = 6; /* U+1D16D */
        want[m++] = 3;
        int got = gl_tokenizer_encode(ts, text, n, 0, &ids, &cap);
        CHECK_MSG(ids_equal(ids, got, want, m), "run of %d marks: %d ids", 4 * reps, got);
        got = gl_tokenizer_encode(tn, text, n, 0, &ids, &cap); /* not stripped: not reordered, [UNK] */
        static const int32_t unk[] = {2, 1, 3};
        CHECK(ids_equal(ids, got, unk, 3));
    }
    /* 64 KB of alternating U+0301 / U+0316 after "a": stripped to "a" */
    size_t big = 1 + 4 * 16000;
    char *s = malloc(big);
    s[0] = 'a';
    for (size_t i = 1; i < big; i += 4) memcpy(s + i, "\xCC\x81\xCC\x96", 4);
    double t0 = now();
    int got = gl_tokenizer_encode(ts, s, big, 0, &ids, &cap);
    double dt = now() - t0;
    static const int32_t a[] = {2, 8, 3};
    CHECK_MSG(ids_equal(ids, got, a, 3), "%d ids", got);
    CHECK_MSG(dt < 0.25, "64 KB of marks took %.3f s (quadratic canonical ordering?)", dt);
    free(s);
    free(ids);
    gl_tokenizer_free(ts);
    gl_tokenizer_free(tn);
}

/* Random inputs (valid and invalid UTF-8, specials, marks, CJK, long words):
 * encode never crashes, returns -1 exactly for invalid UTF-8, ids are in range,
 * [CLS] first and [SEP] last, and truncation gives a prefix. */
static void test_fuzz(const gl_tokenizer *tu, const gl_tokenizer *tc) {
    static const char *pieces[] = {"a", "B", " ", "\t", "\n", "\r", ".", "[CLS]", "[SEP", "[", "##", "\xC3\xA9",
                                   "e\xCC\x81", "\xCC\x81", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xE2\x80\x8B",
                                   "\xC2\xA0", "\xC4\xB0", "\xCE\xA3", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "\x01",
                                   "\xEF\xBF\xBD", "\xE1\x84\x80", "\xED\x95\x9C"};
    static const char *invalid[] = {"\xFF", "\xC3", "\xE4\xB8", "\xED\xA0\x80", "\xC0\x80", "\x80"};
    const size_t np = sizeof pieces / sizeof pieces[0], ni = sizeof invalid / sizeof invalid[0];
    uint32_t rng = 12345;
    char buf[4096];
    int32_t *ids = NULL, *tids = NULL;
    size_t cap = 0, tcap = 0;
    int bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = random_text(&rng, pieces, np, invalid, ni, buf, sizeof buf);
        int want_invalid = gl_utf8_check(buf, len) != len; /* an invalid piece may complete a character */
        const gl_tokenizer *t = iter % 2 ? tc : tu;
        int maxlen = (int)(rng % 7) * 3 + 2;
        int n = gl_tokenizer_encode(t, buf, len, 0, &ids, &cap);
        int m = gl_tokenizer_encode(t, buf, len, maxlen, &tids, &tcap);
        if (want_invalid) {
            bad += n != -1 || m != -1;
            continue;
        }
        int ok = n >= 2 && ids[0] == 101 && ids[n - 1] == 102;
        for (int k = 0; ok && k < n; k++) ok = ids[k] >= 0 && ids[k] < 30522;
        ok = ok && is_truncation(ids, n, tids, m, maxlen, 102);
        bad += !ok;
    }
    CHECK_MSG(bad == 0, "%d of 3000 random inputs misbehaved", bad);
    free(ids);
    free(tids);
}

/* ---- tricky strings ------------------------------------------------------- */

static void test_tricky(const gl_tokenizer *tu, const gl_tokenizer *tc) {
    char *data;
    size_t len;
    if (gl_read_file(FIXTURE_DIR "/tricky.txt", &data, &len)) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    int32_t *ids = NULL, want[4096];
    size_t cap = 0;
    char *text = malloc(len + 1);
    const char *label = "";
    int cases = 0, bad = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') {
            label = line;
            continue;
        }
        char mode;
        int maxlen, off;
        if (sscanf(line, "%c %d %n", &mode, &maxlen, &off) != 2) {
            CHECK_MSG(0, "bad fixture line: %s", line);
            continue;
        }
        const char *p = line + off;
        size_t tl = 0;
        if (*p == '-')
            p++;
        else
            tl = unhex(&p, text);
        if (strncmp(p, " :", 2) != 0) {
            CHECK_MSG(0, "bad fixture line: %s", line);
            continue;
        }
        int m = parse_ids(p + 2, want, 4096);
        cases++;
        int n = gl_tokenizer_encode(mode == 'U' ? tu : tc, text, tl, maxlen, &ids, &cap);
        if (!ids_equal(ids, n, want, m)) {
            bad++;
            fprintf(stderr, "tricky %s [%c max_length %d]:\n", label, mode, maxlen);
            print_want_got(want, m, ids, n);
        }
    }
    CHECK_MSG(cases >= 8 * 40, "only %d tricky cases", cases);
    CHECK_MSG(bad == 0, "%d of %d tricky cases differ", bad, cases);
    printf("test_tokenizer: tricky strings: %d cases, %d mismatches\n", cases, bad);
    free(ids);
    free(text);
    free(data);
}

/* ---- every code point ------------------------------------------------------ */

static int not_in_synth_vocab(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

static int put_utf8(uint32_t c, char *o) {
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static void test_codepoints(void) {
    char *fx;
    size_t fxlen;
    if (gl_read_file(FIXTURE_DIR "/codepoints.bin", &fx, &fxlen)) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    const uint32_t nblocks = CODEPOINT_BLOCKS;
    if (codepoints_check_header(fx, fxlen, "GLTKCPS1", 2)) {
        free(fx);
        return;
    }
    /* the synthetic vocabulary: every character c as "c" and "##c" */
    const char *vpath = tmp_path("synthetic_vocab.txt");
    FILE *f = fopen(vpath, "wb");
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
    for (uint32_t c = 1; c < 0x110000; c++) {
        if ((c >= 0xD800 && c <= 0xDFFF) || not_in_synth_vocab(c)) continue;
        char b[16];
        int k = put_utf8(c, b);
        fwrite(b, 1, (size_t)k, f);
        fputs("\n##", f);
        fwrite(b, 1, (size_t)k, f);
        fputc('\n', f);
    }
    fclose(f);
    int32_t *ids = NULL;
    size_t cap = 0;
    for (int mode = 0; mode < 2; mode++) {
        gl_tokenizer *t = gl_tokenizer_load(vpath, mode == 0, -1);
        CHECK_MSG(t != NULL, "%s", gl_error_message());
        if (!t) break;
        int bad = 0;
        for (uint32_t b = 0; b < nblocks; b++) {
            uint32_t crc = 0;
            for (uint32_t c = b * 256; c < b * 256 + 256; c++) {
                if (c >= 0xD800 && c <= 0xDFFF) continue;
                char s[8];
                s[0] = 'a';
                int k = put_utf8(c, s + 1);
                s[1 + k] = 'b';
                int n = gl_tokenizer_encode(t, s, (size_t)k + 2, 0, &ids, &cap);
                crc = crc32_u32(crc, (uint32_t)n);
                crc = crc32_ids(crc, ids, n);
            }
            if (crc != codepoints_crc(fx, mode, b) && bad++ < 5)
                fprintf(stderr, "codepoints %s: block U+%04X..U+%04X differs\n", mode ? "cased" : "uncased",
                        b * 256, b * 256 + 255);
        }
        CHECK_MSG(bad == 0,
                  "%s: %d of %u code point blocks differ (utf8proc has Unicode %s; src/text/unicode_compat.c "
                  "was measured with 15.0.0)",
                  mode ? "cased" : "uncased", bad, nblocks, utf8proc_unicode_version());
        printf("test_tokenizer: every code point (%s): %d mismatching blocks\n", mode ? "cased" : "uncased", bad);
        gl_tokenizer_free(t);
    }
    unlink(vpath);
    free(ids);
    free(fx);
}

/* ---- every document ------------------------------------------------------------ */

static uint32_t file_crc(const char *path) {
    char *d;
    size_t n;
    if (gl_read_file(path, &d, &n)) return 0;
    uint32_t c = crc32_bytes(0, d, n);
    free(d);
    return c;
}

static void test_documents(const gl_tokenizer *tu, const gl_tokenizer *tc, const char *vocab_path) {
    char *fx;
    size_t fxlen;
    if (gl_read_file(FIXTURE_DIR "/docs.bin", &fx, &fxlen)) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    reader r;
    if (docs_open(&r, fx, fxlen, "GLTKDOC1")) {
        free(fx);
        return;
    }
    uint32_t vocab_crc = rd_u32(&r), nsplits = rd_u32(&r);
    if (vocab_crc != file_crc(vocab_path)) {
        CHECK_MSG(0, "%s is not the vocabulary the fixture was made with (CRC %08x, fixture %08x)", vocab_path,
                  file_crc(vocab_path), vocab_crc);
        free(fx);
        return;
    }
    /* slots 0-3: uncased, uncased at 128, cased, cased at 128 */
    const gl_tokenizer *const toks[3] = {tu, tc, NULL};
    static const char *const variant[4] = {"uncased", "uncased max_length 128", "cased", "cased max_length 128"};
    size_t total_docs = 0, total_bytes = 0, doc_bad = 0, count_bad = 0, cased_bad = 0, trunc_bad = 0, shown = 0;
    int agg_bad = 0;
    double t_encode = 0;
    for (uint32_t s = 0; s < nsplits && !r.bad; s++) {
        docs_split sp;
        if (docs_split_begin(&r, toks, &sp)) break;
        t_encode += sp.seconds;
        for (uint32_t i = 0; i < sp.ndocs; i++) {
            total_bytes += sp.tab.cell_len[(size_t)i * (size_t)sp.tab.ncols + (size_t)sp.col];
            doc_want w = rd_doc(&r);
            const doc_result *d = &sp.res[i];
            int bad_u = doc_ids_differ(d, 0, &w);
            int bad_c = doc_check_differs(d, &w);
            doc_bad += bad_u;
            count_bad += doc_count_differs(d, &w);
            cased_bad += bad_c;
            trunc_bad += !d->trunc_ok;
            if ((bad_u || bad_c || !d->trunc_ok) && shown++ < 5)
                fprintf(stderr,
                        "document %s row %u (line %zu): %s%s%s%s ids (fixture: %u uncased ids, crc %08x)\n",
                        sp.name, i, sp.tab.row_line[i], d->err ? "encode error; " : "",
                        bad_u ? "uncased differs; " : "", bad_c ? "cased differs; " : "",
                        d->trunc_ok ? "" : "truncation inconsistent; ", w.n, w.crc);
        }
        total_docs += sp.ndocs;
        agg_bad += docs_split_end(&sp, variant);
    }
    docs_close(&r, total_docs);
    CHECK_MSG(doc_bad == 0, "%zu documents differ uncased (%zu in length)", doc_bad, count_bad);
    CHECK_MSG(cased_bad == 0, "%zu documents differ cased", cased_bad);
    CHECK_MSG(trunc_bad == 0, "%zu documents truncate inconsistently", trunc_bad);
    CHECK_MSG(agg_bad == 0, "%d split aggregates differ", agg_bad);
    printf("test_tokenizer: %zu documents x {uncased, cased} x {full, 128}: %zu uncased, %zu cased, %zu truncation "
           "mismatches, %d aggregate mismatches\n",
           total_docs, doc_bad, cased_bad, trunc_bad, agg_bad);
    printf("test_tokenizer: the 4 encodes of all %zu documents (%.1f MB) took %.2f s\n", total_docs,
           (double)total_bytes / 1e6, t_encode);
    free(fx);
}

/* Throughput of one uncased, untruncated encode on one thread (printed, not asserted). */
static void report_throughput(const gl_tokenizer *tu) {
    char path[512];
    check_data_file(path, sizeof path, "20ng/train");
    gl_table tab;
    if (gl_table_read(&tab, path)) return; /* already reported by test_documents */
    size_t bytes, tokens;
    double dt = encode_table_seconds(tu, &tab, &bytes, &tokens);
    printf("test_tokenizer: throughput (20ng/train, uncased, untruncated, 1 thread): %.0f docs/s, %.1f MB/s, "
           "%.2f M tokens/s\n",
           (double)tab.nrows / dt, (double)bytes / dt / 1e6, (double)tokens / dt / 1e6);
    gl_table_free(&tab);
}

int main(void) {
    crc_init();
    const char *tmp = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/gloss_tok_XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 2;
    }
    char *vocab = gl_path_join(check_model_dir(), "vocab.txt");
    gl_tokenizer *tu = gl_tokenizer_load(vocab, 1, -1);
    gl_tokenizer *tc = gl_tokenizer_load(vocab, 0, -1);
    CHECK_MSG(tu && tc, "%s", gl_error_message());
    if (tu && tc) {
        test_api(tu, tc);
        test_vocab_loading();
        test_flag_combinations();
        test_long_mark_runs();
        test_fuzz(tu, tc);
        test_tricky(tu, tc);
        test_codepoints();
        test_documents(tu, tc, vocab);
        report_throughput(tu);
    }
    gl_tokenizer_free(tu);
    gl_tokenizer_free(tc);
    free(vocab);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
    return check_summary("test_tokenizer");
}
