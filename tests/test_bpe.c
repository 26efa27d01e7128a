/* test_bpe.c: byte-level BPE and tokenizer.json against Hugging Face
 * `tokenizers` / `transformers`.
 *
 * Fixtures (tests/fixtures/bpe, written by tools/make_bpe_fixtures.py, whose
 * docstring gives the formats): a byte-level BPE trained on the benchmark
 * sets as tokenizer.json (json/) and as vocab.json + merges.txt (files/), two
 * tiny BPEs for the rare options (probe1/, probe2/), two WordPiece
 * tokenizer.json files (wp/, wp_flags/), and HF's ids:
 *  - tricky.txt: hard strings, every mode (the modes are listed there), full
 *    id lists compared exactly;
 *  - codepoints.bin: every code point in a context string: the pre-tokenizer's
 *    split, the ids, and the ids of probe1's added tokens next to it (block
 *    CRCs);
 *  - docs.bin: every document of the five benchmark sets, add_prefix_space
 *    off and on, untruncated and at 128 (per-document CRCs and counts,
 *    per-split aggregates).
 * Also: gl_tokenizer_open's choice of files and its errors, export, every
 * malformed-file error, random inputs, all-MiniLM-L6-v2's tokenizer.json
 * against its vocab.txt (skipped without the model), and throughput beside
 * the WordPiece tokenizer's. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

#include "check.h"
#include "files.h"
#include "io/table.h"
#include "text/tokenizer.h"
#include "text/tokenizer_internal.h"
#include "tokenizer_fixtures.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/utf8.h"

#define FX "tests/fixtures/bpe"

static char g_tmp[256];

/* ---- helpers -------------------------------------------------------------- */

/* g_tmp/rel (static buffer, one of four in rotation) */
static const char *tmp_path(const char *rel) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmp, rel);
    return buf[k];
}

static void write_str(const char *path, const char *s) { write_file(path, s, strlen(s)); }

/* A fresh directory g_tmp/name (emptied when it exists). */
static const char *fresh_dir(const char *name) {
    const char *d = tmp_path(name);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", d, d);
    if (system(cmd) != 0) exit(2);
    return d;
}

static char *read_all(const char *path, size_t *n) {
    char *d;
    if (gl_read_file(path, &d, n)) {
        fprintf(stderr, "%s\n", gl_error_message());
        exit(2);
    }
    return d;
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    char *d = read_all(from, &n);
    write_file(to, d, n);
    free(d);
}

static char *join(const char *dir, const char *name) {
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static gl_tokenizer *open_ok(const char *dir, int lowercase, int strip) {
    gl_tokenizer *t = gl_tokenizer_open(dir, lowercase, strip);
    CHECK_MSG(t != NULL, "%s: %s", dir, gl_error_message());
    return t;
}

/* ---- the tokenizers of the fixture modes ----------------------------------------- */

/* tokenizer_config.json of files/ with add_prefix_space set, or with plain
 * special tokens and no added_tokens_decoder (the S mode) */
static void write_config(const char *dir, int prefix, int plain) {
    char cfg[2048];
    const char *dec = "\"added_tokens_decoder\": {"
                      "\"0\": {\"content\": \"<s>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, "
                      "\"single_word\": false, \"special\": true},"
                      "\"1\": {\"content\": \"<pad>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, "
                      "\"single_word\": false, \"special\": true},"
                      "\"2\": {\"content\": \"</s>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, "
                      "\"single_word\": false, \"special\": true},"
                      "\"3\": {\"content\": \"<unk>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, "
                      "\"single_word\": false, \"special\": true},"
                      "\"4\": {\"content\": \"<mask>\", \"lstrip\": true, \"normalized\": false, \"rstrip\": false, "
                      "\"single_word\": false, \"special\": true}},";
    snprintf(cfg, sizeof cfg,
             "{\"add_prefix_space\": %s, %s \"bos_token\": \"<s>\", \"cls_token\": \"<s>\", \"eos_token\": \"</s>\", "
             "\"mask_token\": \"<mask>\", \"pad_token\": \"<pad>\", \"sep_token\": \"</s>\", \"unk_token\": \"<unk>\", "
             "\"tokenizer_class\": \"RobertaTokenizer\"}",
             prefix ? "true" : "false", plain ? "" : dec);
    write_str(join(dir, "tokenizer_config.json"), cfg);
}

/* files/ with another tokenizer_config.json (and no special_tokens_map.json) */
static const char *files_variant(const char *name, int prefix, int plain) {
    const char *d = fresh_dir(name);
    copy_file(FX "/files/vocab.json", join(d, "vocab.json"));
    copy_file(FX "/files/merges.txt", join(d, "merges.txt"));
    write_config(d, prefix, plain);
    return d;
}

/* json/ with the pre-tokenizer's add_prefix_space turned on */
static const char *json_prefix_variant(void) {
    const char *d = fresh_dir("json_prefix");
    size_t n;
    char *s = read_all(FX "/json/tokenizer.json", &n);
    static const char from[] = "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false";
    char *at = strstr(s, from);
    CHECK_MSG(at != NULL, "json/tokenizer.json: no compact ByteLevel pre_tokenizer to edit");
    if (at) {
        char *out = malloc(n + 8);
        size_t k = (size_t)(at - s) + sizeof from - 1 - 5; /* up to "false" */
        memcpy(out, s, k);
        memcpy(out + k, "true", 4);
        memcpy(out + k + 4, s + k + 5, n - k - 5);
        write_file(join(d, "tokenizer.json"), out, n - 1);
        free(out);
    }
    free(s);
    return d;
}

enum { M_F, M_F_FILES, M_T, M_T_FILES, M_S, M_X, M_Y, M_W, M_w, M_A, M_N, M_COUNT };
static gl_tokenizer *g_mode[M_COUNT];

static int open_modes(void) {
    g_mode[M_F] = open_ok(FX "/json", -1, -1);
    g_mode[M_F_FILES] = open_ok(FX "/files", -1, -1);
    g_mode[M_T] = open_ok(json_prefix_variant(), -1, -1);
    g_mode[M_T_FILES] = open_ok(files_variant("files_prefix", 1, 0), -1, -1);
    g_mode[M_S] = open_ok(files_variant("files_plain", 0, 1), -1, -1);
    g_mode[M_X] = open_ok(FX "/probe1", -1, -1);
    g_mode[M_Y] = open_ok(FX "/probe2", -1, -1);
    g_mode[M_W] = open_ok(FX "/wp", -1, -1);
    g_mode[M_w] = open_ok(FX "/wp", 0, -1);
    g_mode[M_A] = open_ok(FX "/wp", 0, 1);
    g_mode[M_N] = open_ok(FX "/wp_flags", -1, -1);
    for (int k = 0; k < M_COUNT; k++)
        if (!g_mode[k]) return -1;
    return 0;
}

/* ---- API ------------------------------------------------------------------ */

static void test_api(void) {
    const gl_tokenizer *t = g_mode[M_F], *tf = g_mode[M_F_FILES];
    CHECK(!strcmp(gl_tokenizer_kind(t), "bpe") && !strcmp(gl_tokenizer_kind(tf), "bpe"));
    CHECK(!strcmp(gl_tokenizer_kind(g_mode[M_W]), "wordpiece"));
    CHECK(gl_tokenizer_vocab_size(t) == 8000 && gl_tokenizer_vocab_size(tf) == 8000);
    for (int k = 0; k < 2; k++) {
        const gl_tokenizer *x = k ? tf : t;
        CHECK(gl_tokenizer_cls_id(x) == 0 && gl_tokenizer_pad_id(x) == 1 && gl_tokenizer_sep_id(x) == 2 &&
              gl_tokenizer_unk_id(x) == 3);
    }
    CHECK(!strcmp(gl_tokenizer_token(t, 0), "<s>") && !strcmp(gl_tokenizer_token(t, 4), "<mask>"));
    CHECK(!strcmp(gl_tokenizer_token(t, 1060), "\xC4\xA0world")); /* "Ġworld" */
    CHECK(gl_tokenizer_token(t, -1) == NULL && gl_tokenizer_token(t, 8000) == NULL);
    for (int id = 0; id < 8000; id++) {
        const char *a = gl_tokenizer_token(t, id), *b = gl_tokenizer_token(tf, id);
        if (!a || !b || strcmp(a, b)) {
            CHECK_MSG(0, "token %d differs between json/ and files/", id);
            break;
        }
    }
    int32_t *ids = NULL;
    size_t cap = 0;
    static const int32_t hello[] = {0, 44, 6621, 1060, 2}; /* <s> H ello Ġworld </s> */
    int n = encode_str(t, "Hello world", 0, &ids, &cap);
    CHECK(ids_equal(ids, n, hello, 5));
    n = encode_str(t, "Hello world", 4, &ids, &cap);
    CHECK(n == 4 && ids[2] == 6621 && ids[3] == 2);
    n = encode_str(t, "Hello world", 2, &ids, &cap);
    CHECK(n == 2 && ids[0] == 0 && ids[1] == 2);
    n = encode_str(t, "Hello world", -3, &ids, &cap);
    CHECK(ids_equal(ids, n, hello, 5));
    n = gl_tokenizer_encode(t, "Hello world", 5, 0, &ids, &cap); /* len bytes, not up to a NUL */
    CHECK(n == 4 && ids[1] == 44 && ids[2] == 6621);
    n = encode_str(t, "", 0, &ids, &cap);
    CHECK(n == 2 && ids[0] == 0 && ids[1] == 2);
    /* a first word that has no ids (probe2 drops byte 0x02: no token, no
     * fallback, no unknown token), so none was ever stored (found by
     * fuzz/fuzz_bpe_files.c: memcpy from NULL into the word cache) */
    gl_tokenizer *p2 = open_ok(FX "/probe2", -1, -1);
    if (p2) {
        n = encode_str(p2, "\x02", 0, &ids, &cap);
        CHECK(n == 2 && ids[0] == 0 && ids[1] == 2);
        n = encode_str(p2, "\x02", 0, &ids, &cap); /* again, from the cache */
        CHECK(n == 2 && ids[0] == 0 && ids[1] == 2);
    }
    gl_tokenizer_free(p2);
    /* a long input grows the buffer from NULL; truncated encodes stop early */
    free(ids);
    ids = NULL;
    cap = 0;
    size_t reps = 20000;
    char *big = malloc(reps * 6 + 1);
    for (size_t i = 0; i < reps; i++) memcpy(big + i * 6, "hello ", 6);
    big[reps * 6] = 0;
    n = encode_str(t, big, 0, &ids, &cap);
    CHECK(n > (int)reps && ids[n - 1] == 2);
    n = encode_str(t, big, 128, &ids, &cap);
    CHECK(n == 128 && ids[127] == 2);
    free(big);
    gl_error_clear();
    CHECK(gl_tokenizer_encode(t, "ok \xC3\x28", 5, 0, &ids, &cap) == -1);
    CHECK(strstr(gl_error_message(), "invalid UTF-8") && strstr(gl_error_message(), "byte 3"));
    CHECK(gl_tokenizer_encode(t, "\xED\xA0\x80", 3, 0, &ids, &cap) == -1);
    gl_error_clear();
    CHECK(encode_str(t, "hi", 1, &ids, &cap) == -1 && strstr(gl_error_message(), "max_length 1"));
    free(ids);
}

/* Export writes the files read, byte for byte, and they load again to the same ids. */
static void test_open_export(void) {
    /* tokenizer.json */
    const char *out = fresh_dir("export_json");
    CHECK_MSG(gl_tokenizer_export(g_mode[M_F], out) == 0, "%s", gl_error_message());
    CHECK(check_files_equal(FX "/json/tokenizer.json", join(out, "tokenizer.json")));
    CHECK(access(join(out, "vocab.json"), F_OK) != 0);
    /* vocab.json + merges.txt + both configs */
    out = fresh_dir("export_files");
    CHECK_MSG(gl_tokenizer_export(g_mode[M_F_FILES], out) == 0, "%s", gl_error_message());
    static const char *const names[] = {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"};
    for (int i = 0; i < 4; i++) {
        char src[300];
        snprintf(src, sizeof src, FX "/files/%s", names[i]);
        CHECK_MSG(check_files_equal(src, join(out, names[i])), "%s", names[i]);
    }
    gl_tokenizer *back = open_ok(out, -1, -1);
    int32_t *a = NULL, *b = NULL;
    size_t ca = 0, cb = 0;
    const char *text = "Round trip: <mask> don't 123 \xF0\x9F\x98\x80";
    if (back) {
        int na = encode_str(back, text, 0, &a, &ca), nb = encode_str(g_mode[M_F], text, 0, &b, &cb);
        CHECK(ids_equal(a, na, b, nb));
    }
    gl_tokenizer_free(back);
    /* vocab.txt (gl_tokenizer_load and open): written back as read */
    const char *vdir = fresh_dir("vocab_txt");
    const char *vocab = "[PAD]\r\n[UNK] \n[CLS]\n[SEP]\nhello\n##s\nx";
    write_str(join(vdir, "vocab.txt"), vocab);
    copy_file(FX "/json/tokenizer.json", join(vdir, "tokenizer.json")); /* vocab.txt comes first */
    gl_tokenizer *wp = open_ok(vdir, 1, -1);
    if (wp) {
        CHECK(!strcmp(gl_tokenizer_kind(wp), "wordpiece") && gl_tokenizer_vocab_size(wp) == 7);
        out = fresh_dir("export_txt");
        CHECK(gl_tokenizer_export(wp, out) == 0 && check_files_equal(join(vdir, "vocab.txt"), join(out, "vocab.txt")));
        CHECK(access(join(out, "tokenizer.json"), F_OK) != 0);
        int n = encode_str(wp, "Hellos", 0, &a, &ca);
        static const int32_t want[] = {2, 4, 5, 3};
        CHECK(ids_equal(a, n, want, 4));
    }
    gl_tokenizer_free(wp);
    /* tokenizer.json comes before vocab.json + merges.txt */
    const char *both = fresh_dir("both");
    copy_file(FX "/probe1/tokenizer.json", join(both, "tokenizer.json"));
    copy_file(FX "/files/vocab.json", join(both, "vocab.json"));
    copy_file(FX "/files/merges.txt", join(both, "merges.txt"));
    gl_tokenizer *t = open_ok(both, -1, -1);
    if (t) CHECK(gl_tokenizer_vocab_size(t) == gl_tokenizer_vocab_size(g_mode[M_X]));
    gl_tokenizer_free(t);
    /* the errors of a directory without a tokenizer */
    const char *none = fresh_dir("none");
    gl_error_clear();
    CHECK(gl_tokenizer_open(none, -1, -1) == NULL);
    CHECK_MSG(strstr(gl_error_message(), none) && strstr(gl_error_message(), "none of vocab.txt, tokenizer.json"), "%s",
              gl_error_message());
    CHECK(gl_error_get_kind() == GL_E_IO);
    copy_file(FX "/files/vocab.json", join(none, "vocab.json"));
    gl_error_clear();
    CHECK(gl_tokenizer_open(none, -1, -1) == NULL);
    CHECK_MSG(strstr(gl_error_message(), "vocab.json without merges.txt"), "%s", gl_error_message());
    /* export into a directory that is not there */
    gl_error_clear();
    CHECK(gl_tokenizer_export(g_mode[M_F], tmp_path("missing/dir")) == -1 && strstr(gl_error_message(), "missing/dir"));
    free(a);
    free(b);
}

/* ---- malformed files ---------------------------------------------------------- */

/* Write files into a fresh directory, open it, expect an error with all of
 * the given parts (NULL-terminated). */
static void expect_error(const char *name, const char *vocab_json, const char *merges, const char *tok_json,
                         const char *config, ...) {
    const char *d = fresh_dir(name);
    if (vocab_json) write_str(join(d, "vocab.json"), vocab_json);
    if (merges) write_str(join(d, "merges.txt"), merges);
    if (tok_json) write_str(join(d, "tokenizer.json"), tok_json);
    if (config) write_str(join(d, "tokenizer_config.json"), config);
    gl_error_clear();
    gl_tokenizer *t = gl_tokenizer_open(d, -1, -1);
    CHECK_MSG(t == NULL, "%s: expected an error", name);
    gl_tokenizer_free(t);
    const char *msg = gl_error_message();
    CHECK_MSG(strstr(msg, d) != NULL, "%s: \"%s\" does not name the directory", name, msg);
    CHECK_MSG(gl_error_get_kind() == GL_E_FORMAT, "%s: kind %d", name, (int)gl_error_get_kind());
    va_list ap;
    va_start(ap, config);
    for (const char *part; (part = va_arg(ap, const char *)) != NULL;)
        CHECK_MSG(strstr(msg, part) != NULL, "%s: \"%s\" lacks \"%s\"", name, msg, part);
    va_end(ap);
}

#define V_OK "{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3, \"<mask>\": 4, \"a\": 5, \"b\": 6, \"ab\": 7}"

/* a minimal byte-level tokenizer.json around a model */
static char *tok_json(const char *model, const char *extra) {
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"version\": \"1.0\", \"normalizer\": null,"
             " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false},"
             " \"post_processor\": {\"type\": \"RobertaProcessing\", \"sep\": [\"</s>\", 2], \"cls\": [\"<s>\", 0]},"
             " %s \"model\": %s}",
             extra, model);
    return buf;
}

static void test_bad_files(void) {
    /* merges.txt */
    expect_error("merges_line", V_OK, "#version: 0.2\na b\nab\n", NULL, NULL, "merges.txt:3:",
                 "two tokens separated by one space", NULL);
    expect_error("merges_spaces", V_OK, "a b\na  b\n", NULL, NULL, "merges.txt:2:", NULL);
    expect_error("merges_empty_line", V_OK, "a b\n\nb a\n", NULL, NULL, "merges.txt:2:", NULL);
    expect_error("merges_unknown", V_OK, "a b\nb zz\n", NULL, NULL, "merges.txt:2:", "\"zz\" is not in vocab.json", NULL);
    expect_error("merges_result", V_OK, "a b\nb a\n", NULL, NULL, "merges.txt:2:", "\"ba\" is not in vocab.json", NULL);
    expect_error("merges_utf8", V_OK, "a b\n\xFF b\n", NULL, NULL, "merges.txt:2:", "invalid UTF-8", NULL);
    /* vocab.json */
    expect_error("vocab_array", "[1, 2]", "a b\n", NULL, NULL, "vocab.json", "must be an object of token to id", NULL);
    expect_error("vocab_string", "{\"<s>\": 0, \"a\": \"5\"}", "", NULL, NULL, "vocab.json", "key \"a\"",
                 "must be an integer", NULL);
    expect_error("vocab_float", "{\"<s>\": 0, \"a\": 1.5}", "", NULL, NULL, "key \"a\"", "must be an integer", NULL);
    expect_error("vocab_negative", "{\"<s>\": 0, \"neg\": -3}", "", NULL, NULL, "key \"neg\"", "negative id -3", NULL);
    expect_error("vocab_duplicate_id", "{\"<s>\": 0, \"a\": 5, \"b\": 5}", "", NULL, NULL, "\"a\" and \"b\"",
                 "the same id 5", NULL);
    expect_error("vocab_duplicate_key", "{\"a\": 0, \"a\": 1}", "", NULL, NULL, "vocab.json:1:", "duplicate", NULL);
    expect_error("vocab_syntax", "{\"a\": 0,\n \"b\" 1}", "", NULL, NULL, "vocab.json:2:", NULL);
    expect_error("vocab_huge", "{\"a\": 99999999999}", "", NULL, NULL, "key \"a\"", "too large", NULL);
    expect_error("vocab_no_special", "{\"a\": 0, \"b\": 1, \"ab\": 2}", "a b\n", NULL, NULL, "\"<s>\"", "not in vocab.json", NULL);
    expect_error("config_type", V_OK, "a b\n", NULL, "{\"add_prefix_space\": 1}", "tokenizer_config.json",
                 "\"add_prefix_space\" must be true or false", NULL);
    expect_error("config_special", V_OK, "a b\n", NULL, "{\"cls_token\": \"<cls>\"}", "\"<cls>\"", "cls_token",
                 "not in vocab.json", NULL);
    /* tokenizer.json */
    expect_error("json_unigram", NULL, NULL, tok_json("{\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}", ""), NULL,
                 "tokenizer.json", "model type \"Unigram\" is not supported", NULL);
    expect_error("json_wordlevel", NULL, NULL, tok_json("{\"type\": \"WordLevel\", \"vocab\": {}}", ""), NULL,
                 "model type \"WordLevel\"", NULL);
    expect_error("json_syntax", NULL, NULL, "{\"model\": {\"type\": \"BPE\",\n\n \"vocab\": {]}}", NULL,
                 "tokenizer.json:3:", NULL);
    expect_error("json_no_model", NULL, NULL, "{\"version\": \"1.0\"}", NULL, "no \"model\" object", NULL);
    expect_error("json_vocab_negative", NULL, NULL,
                 tok_json("{\"type\": \"BPE\", \"vocab\": {\"<s>\": 0, \"x\": -1}, \"merges\": []}", ""), NULL,
                 "model vocab key \"x\"", "negative id -1", NULL);
    expect_error("json_vocab_duplicate", NULL, NULL,
                 tok_json("{\"type\": \"BPE\", \"vocab\": {\"<s>\": 0, \"</s>\": 0}, \"merges\": []}", ""), NULL,
                 "\"<s>\" and \"</s>\" have the same id 0", NULL);
    expect_error("json_merge_string", NULL, NULL, tok_json("{\"type\": \"BPE\", \"vocab\": " V_OK ", \"merges\": [\"a b\", \"ab\"]}", ""),
                 NULL, "model merges[1]", "two tokens", NULL);
    expect_error("json_merge_unknown", NULL, NULL,
                 tok_json("{\"type\": \"BPE\", \"vocab\": " V_OK ", \"merges\": [[\"a\", \"q\"]]}", ""), NULL,
                 "model merges[0]", "\"q\" is not in the vocab", NULL);
    /* vocabulary without the byte "a" alone (V_OK's bytes are a, b only), unknown token missing */
    expect_error("json_unk_missing", NULL, NULL,
                 tok_json("{\"type\": \"BPE\", \"unk_token\": \"<nope>\", \"vocab\": " V_OK ", \"merges\": []}", ""), NULL,
                 "\"unk_token\" \"<nope>\" is not in the vocab", NULL);
    expect_error("json_dropout", NULL, NULL,
                 tok_json("{\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": " V_OK ", \"merges\": []}", ""), NULL,
                 "\"dropout\"", NULL);
    expect_error("json_prefix", NULL, NULL,
                 tok_json("{\"type\": \"BPE\", \"continuing_subword_prefix\": \"##\", \"vocab\": " V_OK ", \"merges\": []}", ""),
                 NULL, "continuing_subword_prefix", NULL);
    expect_error("json_added_id", NULL, NULL,
                 tok_json("{\"type\": \"BPE\", \"vocab\": " V_OK ", \"merges\": []}",
                          "\"added_tokens\": [{\"id\": -2, \"content\": \"<x>\"}],"),
                 NULL, "added_tokens[0] \"id\"", "negative id -2", NULL);
    expect_error("json_post", NULL, NULL,
                 "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"post_processor\": "
                 "{\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": " V_OK ", \"merges\": []}}",
                 NULL, "post_processor type \"ByteLevel\" is not supported", NULL);
    const char *wp_model = "{\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, \"[SEP]\": 2}}";
    char json[4096];
    snprintf(json, sizeof json,
             "{\"normalizer\": {\"type\": \"NFKC\"}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": %s}",
             wp_model);
    expect_error("json_normalizer", NULL, NULL, json, NULL, "normalizer type \"NFKC\" is not supported", NULL);
    snprintf(json, sizeof json, "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"model\": %s}",
             wp_model);
    expect_error("json_pretok", NULL, NULL, json, NULL, "pre_tokenizer type \"Whitespace\" is not supported", NULL);
    snprintf(json, sizeof json,
             "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": %s, "
             "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": {\"id\": \"A\"}}], "
             "\"special_tokens\": {}}}",
             wp_model);
    expect_error("json_template", NULL, NULL, json, NULL, "TemplateProcessing", "not supported", NULL);
    snprintf(json, sizeof json,
             "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": %s, "
             "\"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 2], \"cls\": [\"[CLS]\", 7]}}",
             wp_model);
    expect_error("json_cls_range", NULL, NULL, json, NULL, "(cls) id 7 is not a token", NULL);
    /* an id below vocab_size that no token has (found by fuzz/fuzz_bpe_json.c) */
    snprintf(json, sizeof json,
             "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": {\"type\": "
             "\"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, \"x\": 5}}, "
             "\"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 3], \"cls\": [\"[CLS]\", 1]}}");
    expect_error("json_sep_hole", NULL, NULL, json, NULL, "(sep) id 3 is not a token", NULL);
    snprintf(json, sizeof json,
             "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"added_tokens\": "
             "[{\"id\": 5, \"content\": \"[X]\", \"normalized\": true}], \"model\": %s}",
             wp_model);
    expect_error("json_wp_normalized", NULL, NULL, json, NULL, "added_tokens[0] \"[X]\" is normalized", NULL);
    /* an unreadable file is an I/O error naming it */
    const char *d = fresh_dir("json_dir");
    mkdir(join(d, "tokenizer.json"), 0700);
    gl_error_clear();
    CHECK(gl_tokenizer_open(d, -1, -1) == NULL && strstr(gl_error_message(), "tokenizer.json"));
}

/* ---- tricky strings -------------------------------------------------------------- */

static void test_tricky(void) {
    size_t len;
    char *data = read_all(FX "/tricky.txt", &len);
    int32_t *ids = NULL, *want = malloc(65536 * sizeof *want);
    size_t cap = 0, tl = 0;
    char *text = malloc(len + 1);
    const char *label = "";
    int cases = 0, bad = 0, per_mode[M_COUNT] = {0};
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') {
            label = line;
            continue;
        }
        if (line[0] == '=') {
            tl = 0;
            const char *p = line + 2;
            if (*p != '-') tl = unhex(&p, text);
            continue;
        }
        char mode;
        int maxlen, off;
        if (sscanf(line, "%c %d : %n", &mode, &maxlen, &off) != 2) {
            CHECK_MSG(0, "bad fixture line: %s", line);
            continue;
        }
        int m = parse_ids(line + off, want, 65536);
        int use[2] = {-1, -1};
        switch (mode) {
        case 'F': use[0] = M_F, use[1] = M_F_FILES; break;
        case 'T': use[0] = M_T, use[1] = M_T_FILES; break;
        case 'S': use[0] = M_S; break;
        case 'X': use[0] = M_X; break;
        case 'Y': use[0] = M_Y; break;
        case 'W': use[0] = M_W; break;
        case 'w': use[0] = M_w; break;
        case 'A': use[0] = M_A; break;
        case 'N': use[0] = M_N; break;
        default: CHECK_MSG(0, "unknown mode in: %s", line); continue;
        }
        for (int k = 0; k < 2 && use[k] >= 0; k++) {
            cases++;
            per_mode[use[k]]++;
            int n = gl_tokenizer_encode(g_mode[use[k]], text, tl, maxlen, &ids, &cap);
            if (ids_equal(ids, n, want, m)) continue;
            if (bad++ < 10) {
                fprintf(stderr, "tricky %s [%c%s max_length %d]:\n", label, mode, k ? " files/" : "", maxlen);
                print_want_got(want, m, ids, n);
            }
        }
    }
    for (int k = 0; k < M_COUNT; k++) CHECK_MSG(per_mode[k] >= 100, "mode %d: only %d cases", k, per_mode[k]);
    CHECK_MSG(bad == 0, "%d of %d tricky cases differ", bad, cases);
    printf("test_bpe: tricky strings: %d cases in 11 modes, %d mismatches\n", cases, bad);
    free(ids);
    free(want);
    free(text);
    free(data);
}

/* ---- every code point ------------------------------------------------------------ */

static size_t context(uint32_t c, char *out) {
    char ch[4];
    int k = gl_utf8_encode(c, ch);
    static const char *const parts[] = {"a", "b 1", "2 !", "? ", " x", "", "  y", "'s", ""};
    size_t n = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t l = strlen(parts[i]);
        memcpy(out + n, parts[i], l);
        n += l;
        if (i + 1 < sizeof parts / sizeof parts[0]) {
            memcpy(out + n, ch, (size_t)k);
            n += (size_t)k;
        }
    }
    return n;
}

static void test_codepoints(void) {
    size_t fxlen;
    char *fx = read_all(FX "/codepoints.bin", &fxlen);
    const uint32_t nblocks = CODEPOINT_BLOCKS;
    if (codepoints_check_header(fx, fxlen, "GLBPCPS1", 3)) {
        free(fx);
        return;
    }
    int32_t *ids = NULL;
    size_t cap = 0;
    int bad[3] = {0, 0, 0};
    static const char *const what[3] = {"pre-tokenizer split", "ids", "probe1 added tokens"};
    for (uint32_t b = 0; b < nblocks; b++) {
        uint32_t crc[3] = {0, 0, 0};
        for (uint32_t c = b * 256; c < b * 256 + 256; c++) {
            if (c >= 0xD800 && c <= 0xDFFF) continue;
            char s[64];
            size_t n = context(c, s);
            uint32_t pieces[64], np = 0;
            for (size_t pos = 0; pos < n && np < 64;) {
                size_t end = gl_bytelevel_split(s, n, pos);
                pieces[np++] = (uint32_t)(end - pos);
                pos = end;
            }
            crc[0] = crc32_u32(crc[0], np);
            for (uint32_t i = 0; i < np; i++) crc[0] = crc32_u32(crc[0], pieces[i]);
            int m = gl_tokenizer_encode(g_mode[M_F], s, n, 0, &ids, &cap);
            crc[1] = crc32_ids(crc32_u32(crc[1], (uint32_t)m), ids, m);
            char ch[4], p[64];
            int k = gl_utf8_encode(c, ch);
            size_t pn = 0;
            static const char *const parts[] = {"x", "qqq", "<mask>", "y", "[n]"};
            for (int i = 0; i < 5; i++) {
                size_t l = strlen(parts[i]);
                memcpy(p + pn, parts[i], l);
                pn += l;
                if (i < 4) {
                    memcpy(p + pn, ch, (size_t)k);
                    pn += (size_t)k;
                }
            }
            m = gl_tokenizer_encode(g_mode[M_X], p, pn, 0, &ids, &cap);
            crc[2] = crc32_ids(crc32_u32(crc[2], (uint32_t)m), ids, m);
        }
        for (int k = 0; k < 3; k++) {
            if (crc[k] != codepoints_crc(fx, k, b) && bad[k]++ < 5)
                fprintf(stderr, "codepoints: %s of block U+%04X..U+%04X differs\n", what[k], b * 256, b * 256 + 255);
        }
    }
    for (int k = 0; k < 3; k++) {
        CHECK_MSG(bad[k] == 0, "%s: %d of %u code point blocks differ (utf8proc has Unicode %s; src/text/unicode_compat.c was measured with 15.0.0)",
                  what[k], bad[k], nblocks, utf8proc_unicode_version());
        printf("test_bpe: every code point (%s): %d mismatching blocks\n", what[k], bad[k]);
    }
    free(ids);
    free(fx);
}

/* ---- every document ------------------------------------------------------------------ */

static void test_documents(void) {
    size_t fxlen;
    char *fx = read_all(FX "/docs.bin", &fxlen);
    reader r;
    if (docs_open(&r, fx, fxlen, "GLBPDOC1")) {
        free(fx);
        return;
    }
    uint32_t tok_crc = rd_u32(&r), nsplits = rd_u32(&r);
    size_t tn;
    char *tj = read_all(FX "/json/tokenizer.json", &tn);
    uint32_t have = crc32_bytes(0, tj, tn);
    free(tj);
    if (have != tok_crc) {
        CHECK_MSG(0, "json/tokenizer.json is not the one docs.bin was made with (CRC %08x, fixture %08x)", have, tok_crc);
        free(fx);
        return;
    }
    /* slots 0-3: F, F at 128, T, T at 128; slot 4: F read from files/ */
    const gl_tokenizer *const toks[3] = {g_mode[M_F], g_mode[M_T], g_mode[M_F_FILES]};
    static const char *const variant[4] = {"add_prefix_space off", "off, max_length 128", "add_prefix_space on",
                                           "on, max_length 128"};
    size_t total = 0, f_bad = 0, count_bad = 0, t_bad = 0, files_bad = 0, trunc_bad = 0, shown = 0;
    int agg_bad = 0;
    for (uint32_t s = 0; s < nsplits && !r.bad; s++) {
        docs_split sp;
        if (docs_split_begin(&r, toks, &sp)) break;
        for (uint32_t i = 0; i < sp.ndocs; i++) {
            doc_want w = rd_doc(&r);
            const doc_result *d = &sp.res[i];
            int bf = doc_ids_differ(d, 0, &w);
            int bt = doc_check_differs(d, &w);
            int bfiles = doc_ids_differ(d, 4, &w);
            f_bad += bf;
            count_bad += doc_count_differs(d, &w);
            t_bad += bt;
            files_bad += bfiles;
            trunc_bad += !d->trunc_ok;
            if ((bf || bt || bfiles || !d->trunc_ok) && shown++ < 5)
                fprintf(stderr, "document %s row %u (line %zu): %s%s%s%s%s(fixture: %u ids, crc %08x)\n", sp.name,
                        i, sp.tab.row_line[i], d->err ? "encode error; " : "", bf ? "ids differ; " : "",
                        bt ? "add_prefix_space ids differ; " : "", bfiles ? "files/ ids differ; " : "",
                        d->trunc_ok ? "" : "truncation inconsistent; ", w.n, w.crc);
        }
        total += sp.ndocs;
        agg_bad += docs_split_end(&sp, variant);
    }
    docs_close(&r, total);
    CHECK_MSG(f_bad == 0, "%zu documents differ (%zu in length)", f_bad, count_bad);
    CHECK_MSG(t_bad == 0, "%zu documents differ with add_prefix_space", t_bad);
    CHECK_MSG(files_bad == 0, "%zu documents differ read from vocab.json + merges.txt", files_bad);
    CHECK_MSG(trunc_bad == 0, "%zu documents truncate inconsistently", trunc_bad);
    CHECK_MSG(agg_bad == 0, "%d split aggregates differ", agg_bad);
    printf("test_bpe: %zu documents x {add_prefix_space off, on} x {full, 128} + vocab.json/merges.txt: %zu, %zu, %zu "
           "files/, %zu truncation mismatches, %d aggregate mismatches\n",
           total, f_bad, t_bad, files_bad, trunc_bad, agg_bad);
    free(fx);
}

/* ---- all-MiniLM-L6-v2: tokenizer.json against vocab.txt --------------------------------- */

static void test_wordpiece_json(void) {
    char vocab[512], tj[512];
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", check_model_dir());
    snprintf(tj, sizeof tj, "%s/tokenizer.json", check_model_dir());
    if (access(vocab, R_OK) != 0 || access(tj, R_OK) != 0) {
        check_skip("test_bpe", "tokenizer.json against vocab.txt: the model is missing (make setup)");
        return;
    }
    const char *d = fresh_dir("minilm_json");
    copy_file(tj, join(d, "tokenizer.json"));
    gl_tokenizer *ju = open_ok(d, -1, -1); /* the file's normalizer: lowercase */
    gl_tokenizer *jc = open_ok(d, 0, -1);  /* do_lower_case false replaces it */
    gl_tokenizer *vu = gl_tokenizer_load(vocab, 1, -1), *vc = gl_tokenizer_load(vocab, 0, -1);
    CHECK_MSG(ju && jc && vu && vc, "%s", gl_error_message());
    if (!ju || !jc || !vu || !vc) goto done;
    CHECK(!strcmp(gl_tokenizer_kind(ju), "wordpiece"));
    CHECK(gl_tokenizer_vocab_size(ju) == gl_tokenizer_vocab_size(vu));
    CHECK(gl_tokenizer_cls_id(ju) == gl_tokenizer_cls_id(vu) && gl_tokenizer_sep_id(ju) == gl_tokenizer_sep_id(vu) &&
          gl_tokenizer_pad_id(ju) == gl_tokenizer_pad_id(vu) && gl_tokenizer_unk_id(ju) == gl_tokenizer_unk_id(vu));
    int tok_bad = 0;
    for (int id = 0; id < gl_tokenizer_vocab_size(vu); id++) {
        const char *a = gl_tokenizer_token(ju, id), *b = gl_tokenizer_token(vu, id);
        tok_bad += !a || !b || strcmp(a, b);
    }
    CHECK_MSG(tok_bad == 0, "%d token strings differ", tok_bad);
    static const char *const sets[] = {"mr", "r8", "r52", "ohsumed", "20ng"};
    static const char *const splits[] = {"train", "val", "test"};
    size_t docs = 0, bad = 0;
    for (int s = 0; s < 5; s++)
        for (int p = 0; p < 3; p++) {
            char rel[64], path[512];
            snprintf(rel, sizeof rel, "%s/%s", sets[s], splits[p]);
            check_data_file(path, sizeof path, rel);
            gl_table tab;
            if (gl_table_read(&tab, path)) {
                CHECK_MSG(0, "%s", gl_error_message());
                continue;
            }
            int col = gl_table_col(&tab, "text");
            size_t split_bad = 0;
#pragma omp parallel reduction(+ : split_bad)
            {
                int32_t *a = NULL, *b = NULL;
                size_t ca = 0, cb = 0;
#pragma omp for schedule(dynamic, 16)
                for (long i = 0; i < (long)tab.nrows; i++) {
                    const char *text = gl_table_cell(&tab, (size_t)i, col);
                    size_t len = tab.cell_len[(size_t)i * (size_t)tab.ncols + (size_t)col];
                    int differs = 0;
                    for (int k = 0; k < 4; k++) {
                        const gl_tokenizer *x = k & 1 ? jc : ju, *y = k & 1 ? vc : vu;
                        int L = k < 2 ? 0 : 128;
                        int na = gl_tokenizer_encode(x, text, len, L, &a, &ca), nb = gl_tokenizer_encode(y, text, len, L, &b, &cb);
                        differs |= na < 0 || !ids_equal(a, na, b, nb);
                    }
                    split_bad += (size_t)differs;
                }
                free(a);
                free(b);
            }
            docs += tab.nrows;
            bad += split_bad;
            gl_table_free(&tab);
        }
    CHECK_MSG(bad == 0, "%zu documents differ between tokenizer.json and vocab.txt", bad);
    printf("test_bpe: all-MiniLM-L6-v2 tokenizer.json against vocab.txt, %zu documents x {uncased, cased} x {full, 128}: "
           "%zu mismatches\n",
           docs, bad);
done:
    gl_tokenizer_free(ju);
    gl_tokenizer_free(jc);
    gl_tokenizer_free(vu);
    gl_tokenizer_free(vc);
}

/* ---- random inputs ------------------------------------------------------------------------ */

/* Every mode's tokenizer on random text: -1 exactly for invalid UTF-8, else
 * cls first, sep last, ids in range, truncation a prefix. */
static void test_random(void) {
    static const char *pieces[] = {"a", "B", " ", "  ", "\t", "\n", "\r\n", ".", "'s", "'", "'re", "1", "23",
                                   "<s>", "</s>", "<mask>", " <mask>", "<pad", "qqq", "[n]", "ab", "\xC3\xA9",
                                   "e\xCC\x81", "\xCC\x81", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xE2\x80\x8D",
                                   "\xC2\xA0", "\xE3\x80\x80", "hello", "world", "\x01", "\x7F", "\xEF\xBF\xBD",
                                   "[CLS]", "##", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    static const char *invalid[] = {"\xFF", "\xC3", "\xE4\xB8", "\xED\xA0\x80", "\xC0\x80", "\x80"};
    const size_t np = sizeof pieces / sizeof pieces[0], ni = sizeof invalid / sizeof invalid[0];
    uint32_t rng = 777;
    char buf[4096];
    int32_t *ids = NULL, *tids = NULL;
    size_t cap = 0, tcap = 0;
    int bad = 0;
    for (int iter = 0; iter < 4000; iter++) {
        size_t len = random_text(&rng, pieces, np, invalid, ni, buf, sizeof buf);
        int want_invalid = gl_utf8_check(buf, len) != len;
        const gl_tokenizer *t = g_mode[iter % M_COUNT];
        int maxlen = (int)(rng % 7) * 3 + 2;
        int n = gl_tokenizer_encode(t, buf, len, 0, &ids, &cap);
        int m = gl_tokenizer_encode(t, buf, len, maxlen, &tids, &tcap);
        if (want_invalid) {
            bad += n != -1 || m != -1;
            continue;
        }
        int cls = gl_tokenizer_cls_id(t), sep = gl_tokenizer_sep_id(t), V = gl_tokenizer_vocab_size(t);
        int ok = n >= 2 && ids[0] == cls && ids[n - 1] == sep;
        for (int k = 0; ok && k < n; k++) ok = ids[k] >= 0 && ids[k] < V && gl_tokenizer_token(t, ids[k]) != NULL;
        ok = ok && is_truncation(ids, n, tids, m, maxlen, sep);
        if (!ok && bad < 3) fprintf(stderr, "random input %d (mode %d) misbehaved\n", iter, iter % M_COUNT);
        bad += !ok;
    }
    CHECK_MSG(bad == 0, "%d of 4000 random inputs misbehaved", bad);
    free(ids);
    free(tids);
}

/* ---- throughput ---------------------------------------------------------------------------- */

static void throughput(const char *what, const gl_tokenizer *t, const gl_table *tab) {
    size_t bytes, tokens;
    double dt = encode_table_seconds(t, tab, &bytes, &tokens);
    printf("test_bpe: throughput %-40s %8.0f docs/s %6.1f MB/s %6.2f M tokens/s (%zu tokens)\n", what,
           (double)tab->nrows / dt, (double)bytes / dt / 1e6, (double)tokens / dt / 1e6, tokens);
}

/* One thread, untruncated, 20ng/train: BPE beside WordPiece (printed, not asserted). */
static void report_throughput(void) {
    char path[512], vocab[512];
    check_data_file(path, sizeof path, "20ng/train");
    gl_table tab;
    if (gl_table_read(&tab, path)) return;
    gl_tokenizer *bpe = open_ok(FX "/json", -1, -1); /* fresh: its cache fills during the pass */
    if (bpe) throughput("(20ng/train, 1 thread) byte-level BPE:", bpe, &tab);
    gl_tokenizer_free(bpe);
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", check_model_dir());
    gl_tokenizer *wp = access(vocab, R_OK) == 0 ? gl_tokenizer_load(vocab, 1, -1) : NULL;
    if (wp) throughput("(20ng/train, 1 thread) WordPiece, uncased:", wp, &tab);
    gl_tokenizer_free(wp);
    gl_table_free(&tab);
}

/* The fixtures are the ones tools/make_bpe_fixtures.py listed in SHA256SUMS. */
static void test_fixture_hashes(void) {
    if (system("command -v sha256sum >/dev/null 2>&1") != 0) {
        check_skip("test_bpe", "fixture hashes: no sha256sum");
        return;
    }
    CHECK_MSG(system("cd " FX " && sha256sum --quiet -c SHA256SUMS") == 0, FX "/SHA256SUMS does not match the fixtures");
}

int main(void) {
    crc_init();
    const char *tmp = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/gloss_bpe_XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 2;
    }
    test_fixture_hashes();
    if (open_modes() == 0) {
        test_api();
        test_open_export();
        test_bad_files();
        test_random();
        test_tricky();
        test_codepoints();
        test_documents();
        test_wordpiece_json();
        report_throughput();
    }
    for (int k = 0; k < M_COUNT; k++) gl_tokenizer_free(g_mode[k]);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
    return check_summary("test_bpe");
}
