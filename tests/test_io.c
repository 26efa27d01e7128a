/* test_io.c: safetensors, config.json and .npy reading/writing.
 *
 * Good inputs: fixtures written by the reference Python packages
 * (tools/make_io_fixtures.py) and the real all-MiniLM-L6-v2 checkpoint.
 * Bad inputs: generated here in a mkdtemp() directory, one per error path;
 * each must fail with a message naming the file (and tensor / key). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "io/config.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/fileio.h"

#define FIXTURES "tests/fixtures/io/"

static char g_tmp[256];

static char *tmp_path(const char *name) {
    static char buf[8][512];
    static int k = 0;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", g_tmp, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(2);
    }
    if (len) fwrite(data, 1, len, f);
    fclose(f);
}

/* GLOSS_TEST_VERBOSE=1 prints every expected error message, for review. */
static void show_error(void) {
    if (getenv("GLOSS_TEST_VERBOSE")) fprintf(stderr, "  expected error: %s\n", gl_error_message());
}

static int msg_has(const char *s) { return s && strstr(gl_error_message(), s) != NULL; }

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Equal bit for bit, or both NaN. */
static int same_f32(float a, float b) { return (isnan(a) && isnan(b)) || f32_bits(a) == f32_bits(b); }

/* A raw safetensors file: u64 LE header length + header + data_len bytes of data. */
static void write_st_raw_len(const char *path, uint64_t hlen_field, const char *header, size_t data_len) {
    size_t h = strlen(header);
    unsigned char *buf = calloc(1, 8 + h + data_len);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hlen_field >> (8 * i));
    memcpy(buf + 8, header, h);
    write_bytes(path, buf, 8 + h + data_len);
    free(buf);
}

static void write_st_raw(const char *path, const char *header, size_t data_len) {
    write_st_raw_len(path, strlen(header), header, data_len);
}

/* ---- dtype conversion against the Python-written fixture ------------- */

static int read_all_f32(const gl_safetensors *st, const char *name, float **out) {
    const gl_st_tensor *t = gl_st_find(st, name);
    *out = NULL;
    if (!t) return -1;
    *out = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    return gl_st_read_f32(st, t, *out);
}

static void check_f32_against_expected(const gl_safetensors *st, const char *name) {
    char ename[64];
    snprintf(ename, sizeof ename, "%s.expected", name);
    const gl_st_tensor *t = gl_st_find(st, name), *e = gl_st_find(st, ename);
    CHECK_MSG(t && e && t->numel == e->numel, "%s", name);
    if (!t || !e || t->numel != e->numel) return;
    CHECK(e->dtype == GL_DT_F32);
    float *got, *want;
    CHECK(read_all_f32(st, name, &got) == 0);
    CHECK(read_all_f32(st, ename, &want) == 0);
    double *got64 = malloc((size_t)t->numel * sizeof(double));
    CHECK(gl_st_read_f64(st, t, got64) == 0);
    int bad = 0, bad64 = 0, nans = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        if (!same_f32(got[i], want[i])) {
            bad++;
            fprintf(stderr, "%s[%lld]: got %a want %a\n", name, (long long)i, got[i], want[i]);
        }
        nans += isnan(want[i]) != 0;
        /* float64 output: exact widening of the same value (f64 tensors compared separately) */
        if (t->dtype != GL_DT_F64 && !(isnan(got64[i]) ? isnan(want[i]) : got64[i] == (double)want[i] &&
                                                                          !signbit(got64[i]) == !signbit(want[i])))
            bad64++;
    }
    CHECK_MSG(bad == 0, "%s: %d mismatches", name, bad);
    CHECK_MSG(bad64 == 0, "%s: %d float64 mismatches", name, bad64);
    CHECK_MSG(t->dtype == GL_DT_F64 || nans >= 2, "%s: fixture should contain NaNs", name);
    free(got);
    free(want);
    free(got64);
}

static void check_i64_against_expected(const gl_safetensors *st, const char *name, const char *ename) {
    const gl_st_tensor *t = gl_st_find(st, name), *e = gl_st_find(st, ename);
    CHECK_MSG(t && e && t->numel == e->numel && e->dtype == GL_DT_I64, "%s", name);
    if (!t || !e || t->numel != e->numel) return;
    int64_t *got = malloc((size_t)t->numel * 8), *want = malloc((size_t)t->numel * 8);
    CHECK(gl_st_read_i64(st, t, got) == 0);
    CHECK(gl_st_read_i64(st, e, want) == 0);
    for (int64_t i = 0; i < t->numel; i++) CHECK_MSG(got[i] == want[i], "%s[%lld]", name, (long long)i);
    free(got);
    free(want);
}

static void test_fixture_dtypes(void) {
    gl_safetensors st;
    const char *path = FIXTURES "dtypes.safetensors";
    if (gl_st_open(&st, path) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    CHECK(st.n == 14);
    CHECK(st.metadata_json && strstr(st.metadata_json, "\"made_by\":\"make_io_fixtures.py\""));

    const gl_st_tensor *t = gl_st_find(&st, "f16");
    CHECK(t && t->dtype == GL_DT_F16 && t->ndim == 1 && t->numel == 28);
    t = gl_st_find(&st, "bf16");
    CHECK(t && t->dtype == GL_DT_BF16 && t->numel == 24);
    check_f32_against_expected(&st, "f16");
    check_f32_against_expected(&st, "bf16");
    check_f32_against_expected(&st, "f64"); /* F64 -> F32 rounds like a C cast, as torch does */

    /* F64 read as float64 is the stored value itself; spot-check a few */
    t = gl_st_find(&st, "f64");
    if (t) {
        double d[12];
        CHECK(t->numel == 12 && gl_st_read_f64(&st, t, d) == 0);
        CHECK(d[0] == 0 && !signbit(d[0]) && d[1] == 0 && signbit(d[1]));
        CHECK(d[2] == 1.0 / 3.0 && d[3] == 1e-310 && d[4] == 1e300);
        CHECK(isinf(d[7]) && d[7] > 0 && isinf(d[8]) && d[8] < 0 && isnan(d[9]) && d[11] == -7.25);
    }

    check_i64_against_expected(&st, "i32", "i32.expected");
    check_i64_against_expected(&st, "u8", "u8.expected");
    t = gl_st_find(&st, "i64");
    if (t) {
        int64_t v[5];
        CHECK(t->numel == 5 && gl_st_read_i64(&st, t, v) == 0);
        CHECK(v[0] == 0 && v[1] == -1 && v[2] == INT64_MAX && v[3] == INT64_MIN && v[4] == ((int64_t)1 << 40) + 7);
    }

    t = gl_st_find(&st, "f16_matrix");
    CHECK(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6);
    if (t) {
        float m[6];
        CHECK(gl_st_read_f32(&st, t, m) == 0);
        for (int i = 0; i < 6; i++) CHECK(m[i] == (float)i - 2.5f);
    }
    t = gl_st_find(&st, "f32_scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1 && t->end - t->begin == 4);
    if (t) {
        float s = 0;
        CHECK(gl_st_read_f32(&st, t, &s) == 0 && s == 4.5f);
    }
    t = gl_st_find(&st, "f32_empty");
    CHECK(t && t->ndim == 2 && t->shape[1] == 0 && t->numel == 0 && t->begin == t->end);
    if (t) {
        float dummy = 7;
        CHECK(gl_st_read_f32(&st, t, &dummy) == 0 && dummy == 7);
    }
    CHECK(gl_st_find(&st, "nope") == NULL);

    /* wrong-kind reads fail naming file and tensor */
    t = gl_st_find(&st, "i32");
    float f[6];
    double d[6];
    CHECK(t && gl_st_read_f32(&st, t, f) != 0 && msg_has(path) && msg_has("'i32'") && msg_has("I32"));
    CHECK(t && gl_st_read_f64(&st, t, d) != 0 && msg_has(path) && msg_has("'i32'"));
    t = gl_st_find(&st, "bf16");
    int64_t iv[24];
    CHECK(t && gl_st_read_i64(&st, t, iv) != 0 && msg_has(path) && msg_has("'bf16'") && msg_has("BF16"));

    CHECK(strcmp(gl_dtype_name(GL_DT_BF16), "BF16") == 0 && strcmp(gl_dtype_name(GL_DT_U8), "U8") == 0);
    gl_st_close(&st);
    CHECK(st.map == NULL && st.tensors == NULL && st.n == 0);
}

/* Every one of the 65536 half-precision patterns against an independent
 * formula (and the compiler's _Float16 where it has one). */
static void test_f16_exhaustive(void) {
    const char *path = tmp_path("all_f16.safetensors");
    char header[128];
    snprintf(header, sizeof header, "{\"h\":{\"dtype\":\"F16\",\"shape\":[65536],\"data_offsets\":[0,131072]}}");
    size_t hl = strlen(header);
    unsigned char *buf = malloc(8 + hl + 131072);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    for (uint32_t h = 0; h < 65536; h++) {
        buf[8 + hl + 2 * h] = (unsigned char)h;
        buf[8 + hl + 2 * h + 1] = (unsigned char)(h >> 8);
    }
    write_bytes(path, buf, 8 + hl + 131072);
    free(buf);

    gl_safetensors st;
    if (gl_st_open(&st, path) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    float *out = malloc(65536 * sizeof(float));
    CHECK(gl_st_read_f32(&st, &st.tensors[0], out) == 0);
    int bad = 0, bad_native = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
        double v;
        if (exp == 31)
            v = mant ? NAN : INFINITY;
        else if (exp == 0)
            v = ldexp(mant, -24);
        else
            v = ldexp(1024 + mant, exp - 25);
        float want = (float)(sign ? -v : v);
        int ok = isnan(want) ? isnan(out[h]) != 0 : f32_bits(out[h]) == f32_bits(want);
        if (isnan(want)) /* NaN keeps sign and payload */
            ok = ok && (f32_bits(out[h]) >> 31) == (uint32_t)sign && ((f32_bits(out[h]) >> 13) & 1023) == (uint32_t)mant;
        bad += !ok;
#ifdef __FLT16_MAX__
        _Float16 x;
        uint16_t hb = (uint16_t)h;
        memcpy(&x, &hb, 2);
        float nat = (float)x;
        bad_native += !(isnan(nat) ? isnan(out[h]) != 0 : f32_bits(nat) == f32_bits(out[h]));
#endif
    }
    CHECK_MSG(bad == 0, "%d of 65536 halves converted wrongly", bad);
    CHECK_MSG(bad_native == 0, "%d of 65536 halves differ from _Float16", bad_native);
    free(out);
    gl_st_close(&st);
}

/* ---- writer ------------------------------------------------------------ */

static void test_st_roundtrip(void) {
    const char *path = tmp_path("rt.safetensors");
    float a[6] = {1.0f, -2.0f, 3.5f, 0.25f, -0.0f, 1e-3f};
    float b[2] = {7.0f, 8.0f};
    float c = -1.5f;
    float big[3 * 5 * 7];
    for (int i = 0; i < 105; i++) big[i] = sinf((float)i) * 1e3f;
    gl_st_entry e[5] = {
        {"a.weight", a, 2, {2, 3}},
        {"b.bias", b, 1, {2}},
        {"c.scalar", &c, 0, {0}},
        {"z.empty", NULL, 2, {4, 0}},
        {"d.3d", big, 3, {3, 5, 7}},
    };
    const char *meta[] = {"format", "pt", "note", "gloss \"quoted\" ü", NULL};
    CHECK(gl_st_write_f32(path, e, 5, meta) == 0);

    char *raw;
    size_t len;
    if (gl_read_file(path, &raw, &len) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | (unsigned char)raw[i];
    CHECK(hl % 8 == 0 && 8 + hl + (6 + 2 + 1 + 105) * 4 == len);
    /* header starts with the metadata and keeps the given tensor order; padded with spaces */
    const char *expect_prefix = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"gloss \\\"quoted\\\" \xc3\xbc\"},"
                                "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                                "\"b.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
                                "\"c.scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[32,36]},"
                                "\"z.empty\":{\"dtype\":\"F32\",\"shape\":[4,0],\"data_offsets\":[36,36]},"
                                "\"d.3d\":{\"dtype\":\"F32\",\"shape\":[3,5,7],\"data_offsets\":[36,456]}}";
    size_t pl = strlen(expect_prefix);
    CHECK(hl >= pl && hl - pl < 8 && memcmp(raw + 8, expect_prefix, pl) == 0);
    for (size_t i = 8 + pl; i < 8 + hl; i++) CHECK(raw[i] == ' ');
    free(raw);

    gl_safetensors st;
    if (gl_st_open(&st, path) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    CHECK(st.n == 5);
    CHECK(st.metadata_json && strcmp(st.metadata_json, "{\"format\":\"pt\",\"note\":\"gloss \\\"quoted\\\" \xc3\xbc\"}") == 0);
    for (int i = 0; i < 5; i++) {
        const gl_st_tensor *t = gl_st_find(&st, e[i].name);
        CHECK_MSG(t && t->dtype == GL_DT_F32 && t->ndim == e[i].ndim, "%s", e[i].name);
        if (!t) continue;
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            CHECK(t->shape[d] == e[i].shape[d]);
            numel *= e[i].shape[d];
        }
        CHECK(t->numel == numel);
        float got[105];
        CHECK(gl_st_read_f32(&st, t, got) == 0);
        for (int64_t k = 0; k < numel; k++) CHECK(same_f32(got[k], e[i].data[k]));
    }
    CHECK(st.tensors[0].begin == 0 && strcmp(st.tensors[4].name, "d.3d") == 0);
    gl_st_close(&st);

    /* No metadata: no __metadata__ key at all. */
    CHECK(gl_st_write_f32(path, e, 1, NULL) == 0);
    CHECK(gl_st_open(&st, path) == 0 && st.n == 1 && st.metadata_json == NULL);
    gl_st_close(&st);

    /* Same bytes as the reference Python writer for the same tensors. */
    const char *ref_meta[] = {"format", "pt", NULL};
    const char *mine = tmp_path("ref_mine.safetensors");
    CHECK(gl_st_write_f32(mine, e, 3, ref_meta) == 0);
    char *x, *y;
    size_t lx, ly;
    if (gl_read_file(mine, &x, &lx) == 0 && gl_read_file(FIXTURES "reference.safetensors", &y, &ly) == 0) {
        CHECK_MSG(lx == ly && memcmp(x, y, lx) == 0, "C writer differs from python safetensors (%zu vs %zu bytes)",
                  lx, ly);
        free(x);
        free(y);
    } else {
        CHECK_MSG(0, "%s", gl_error_message());
    }

    /* Bad writer input: error names file and tensor, and the old file survives. */
    gl_st_entry dup[2] = {{"w", a, 1, {2}}, {"w", b, 1, {2}}};
    CHECK(gl_st_write_f32(path, dup, 2, NULL) != 0 && msg_has(path) && msg_has("'w'"));
    gl_st_entry neg = {"neg", a, 1, {-1}};
    CHECK(gl_st_write_f32(path, &neg, 1, NULL) != 0 && msg_has(path) && msg_has("'neg'"));
    gl_st_entry nodata = {"nodata", NULL, 1, {3}};
    CHECK(gl_st_write_f32(path, &nodata, 1, NULL) != 0 && msg_has("'nodata'"));
    gl_st_entry toomany = {"deep", a, 9, {1, 1, 1, 1, 1, 1, 1, 1}};
    CHECK(gl_st_write_f32(path, &toomany, 1, NULL) != 0 && msg_has("'deep'"));
    gl_st_entry reserved = {"__metadata__", a, 1, {1}};
    CHECK(gl_st_write_f32(path, &reserved, 1, NULL) != 0 && msg_has(path));
    const char *odd_meta[] = {"key_without_value", NULL, NULL};
    CHECK(gl_st_write_f32(path, e, 1, odd_meta) != 0 && msg_has("key_without_value"));
    CHECK(gl_st_write_f32(tmp_path("no/such/dir/x.safetensors"), e, 1, NULL) != 0 && msg_has("no/such/dir"));
    CHECK(gl_st_open(&st, path) == 0 && st.n == 1 && gl_st_find(&st, "a.weight"));
    gl_st_close(&st);
    char tmpname[64];
    snprintf(tmpname, sizeof tmpname, "rt.safetensors.tmp.%ld", (long)getpid());
    CHECK(access(tmp_path(tmpname), F_OK) != 0); /* failed writes leave no temp file */
}

/* ---- the real checkpoint ---------------------------------------------- */

static void test_real_model(void) {
    char *path = gl_path_join(check_model_dir(), "model.safetensors");
    gl_safetensors st;
    if (gl_st_open(&st, path) != 0) {
        CHECK_MSG(0, "%s (run `make model`)", gl_error_message());
        free(path);
        return;
    }
    CHECK_MSG(st.n == 104, "%d tensors", st.n);
    int n_f32 = 0, n_i64 = 0;
    for (int i = 0; i < st.n; i++) {
        n_f32 += st.tensors[i].dtype == GL_DT_F32;
        n_i64 += st.tensors[i].dtype == GL_DT_I64;
    }
    CHECK(n_f32 == 103 && n_i64 == 1);
    CHECK(st.metadata_json && strstr(st.metadata_json, "\"format\":\"pt\""));

    const gl_st_tensor *t = gl_st_find(&st, "embeddings.word_embeddings.weight");
    CHECK(t && t->ndim == 2 && t->shape[0] == 30522 && t->shape[1] == 384);
    if (t) {
        float *w = malloc((size_t)t->numel * sizeof(float));
        CHECK(gl_st_read_f32(&st, t, w) == 0);
        double ss = 0;
        int finite = 1;
        for (int64_t i = 0; i < t->numel; i++) {
            finite &= isfinite(w[i]) != 0;
            ss += (double)w[i] * w[i];
        }
        CHECK(finite && ss > 0);
        free(w);
    }
    t = gl_st_find(&st, "encoder.layer.5.intermediate.dense.weight");
    CHECK(t && t->ndim == 2 && t->shape[0] == 1536 && t->shape[1] == 384);
    t = gl_st_find(&st, "encoder.layer.0.attention.self.query.bias");
    CHECK(t && t->ndim == 1 && t->shape[0] == 384);
    t = gl_st_find(&st, "embeddings.position_ids");
    CHECK(t && t->dtype == GL_DT_I64 && t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == 512);
    if (t) {
        int64_t *ids = malloc(512 * sizeof(int64_t));
        CHECK(gl_st_read_i64(&st, t, ids) == 0);
        int ok = 1;
        for (int i = 0; i < 512; i++) ok &= ids[i] == i;
        CHECK(ok);
        free(ids);
    }
    gl_st_close(&st);
    free(path);

    gl_bert_config cfg;
    if (gl_config_load(&cfg, check_model_dir()) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    CHECK(cfg.vocab_size == 30522 && cfg.hidden_size == 384 && cfg.num_layers == 6 && cfg.num_heads == 12);
    CHECK(cfg.intermediate_size == 1536 && cfg.max_position_embeddings == 512 && cfg.type_vocab_size == 2);
    CHECK(cfg.layer_norm_eps == 1e-12f && cfg.pad_token_id == 0);
    CHECK(cfg.do_lower_case == 1 && cfg.strip_accents == -1 && cfg.model_max_length == 512);
}

/* ---- malformed safetensors -------------------------------------------- */

/* Opening must fail, naming the file and (if given) the tensor and another fragment. */
static void expect_st_fail(const char *path, const char *tensor, const char *fragment, int line) {
    gl_safetensors st;
    int rc = gl_st_open(&st, path);
    CHECK_MSG(rc != 0, "line %d: %s opened", line, path);
    if (rc == 0) {
        gl_st_close(&st);
        return;
    }
    show_error();
    CHECK_MSG(msg_has(path), "line %d: message lacks path: %s", line, gl_error_message());
    if (tensor) CHECK_MSG(msg_has(tensor), "line %d: message lacks tensor %s: %s", line, tensor, gl_error_message());
    if (fragment) CHECK_MSG(msg_has(fragment), "line %d: message lacks '%s': %s", line, fragment, gl_error_message());
    CHECK(st.map == NULL && st.tensors == NULL && st.path == NULL);
}

static void bad_st(const char *name, const char *header, size_t data_len, const char *tensor, const char *frag,
                   int line) {
    const char *path = tmp_path(name);
    write_st_raw(path, header, data_len);
    expect_st_fail(path, tensor, frag, line);
}

static void test_st_bad(void) {
    const char *p;

    expect_st_fail(tmp_path("missing.safetensors"), NULL, "cannot open", __LINE__);

    p = tmp_path("empty.safetensors");
    write_bytes(p, "", 0);
    expect_st_fail(p, NULL, "too short", __LINE__);

    p = tmp_path("short.safetensors");
    write_bytes(p, "\x02\x00\x00", 3);
    expect_st_fail(p, NULL, "too short", __LINE__);

    p = tmp_path("truncated.safetensors");
    write_st_raw_len(p, 100, "{\"a\":{\"dtype\":\"F32\"", 0);
    expect_st_fail(p, NULL, "exceeds the file", __LINE__);

    p = tmp_path("absurd.safetensors");
    write_st_raw_len(p, (uint64_t)1 << 40, "{}", 0);
    expect_st_fail(p, NULL, "absurdly large", __LINE__);
    write_st_raw_len(p, UINT64_MAX, "{}", 0);
    expect_st_fail(p, NULL, "absurdly large", __LINE__);

    bad_st("badjson.safetensors", "{\"a\": {\"dtype\": \"F32\",\n  \"shape\": [1] ", 0, NULL, "line 2", __LINE__);
    bad_st("badjson2.safetensors", "{\"a\": tru}", 0, NULL, "column", __LINE__);
    bad_st("notobject.safetensors", "[1, 2, 3]", 0, NULL, "not an object", __LINE__);
    bad_st("dupkey.safetensors",
           "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
           4, NULL, "duplicate", __LINE__);
    bad_st("entry_not_obj.safetensors", "{\"w\": 3}", 0, "'w'", NULL, __LINE__);

    bad_st("dtype.safetensors", "{\"w8\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "'w8'",
           "F8_E4M3", __LINE__);
    bad_st("dtype_type.safetensors", "{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'w'", "dtype",
           __LINE__);
    bad_st("nodtype.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'w'", "dtype", __LINE__);
    bad_st("noshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "'w'", "shape", __LINE__);
    bad_st("nooffsets.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "'w'", "data_offsets", __LINE__);

    bad_st("mismatch.safetensors",
           "{\"ok\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"mm\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[4,16]}}",
           16, "'mm'", "12 bytes", __LINE__);
    bad_st("mismatch_dtype.safetensors", "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16,
           "'h'", NULL, __LINE__);
    bad_st("range.safetensors", "{\"far\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "'far'",
           "beyond", __LINE__);
    bad_st("range2.safetensors", "{\"far\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[9,9]}}", 8, "'far'",
           "beyond", __LINE__);
    bad_st("overlap.safetensors",
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
           16, "'a'", "overlap", __LINE__);
    CHECK(msg_has("'b'"));
    bad_st("same.safetensors",
           "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"y\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
           8, "'x'", "overlap", __LINE__);
    bad_st("beginend.safetensors", "{\"be\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "'be'",
           "begin", __LINE__);
    bad_st("offsets_shape.safetensors", "{\"o\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "'o'",
           "data_offsets", __LINE__);
    bad_st("offsets_neg.safetensors", "{\"o\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "'o'",
           "data_offsets", __LINE__);
    bad_st("offsets_huge.safetensors",
           "{\"o\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999999]}}", 4, NULL, NULL,
           __LINE__);
    bad_st("overflow.safetensors",
           "{\"big\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0, "'big'",
           "overflow", __LINE__);
    bad_st("overflow2.safetensors",
           "{\"big\":{\"dtype\":\"F32\",\"shape\":[3037000500,3037000500,0],\"data_offsets\":[0,0]}}", 0, "'big'",
           "overflow", __LINE__);
    /* numel fits int64 but numel * 8 bytes does not */
    bad_st("overflow_bytes.safetensors",
           "{\"big\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}", 0, "'big'",
           "shape needs", __LINE__);
    bad_st("negdim.safetensors", "{\"neg\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, "'neg'",
           "shape[0]", __LINE__);
    bad_st("floatdim.safetensors", "{\"fd\":{\"dtype\":\"F32\",\"shape\":[2,2.5],\"data_offsets\":[0,20]}}", 20,
           "'fd'", "shape[1]", __LINE__);
    bad_st("strdim.safetensors", "{\"sd\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "'sd'",
           "shape[0]", __LINE__);
    bad_st("shape_obj.safetensors", "{\"so\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,4]}}", 4, "'so'",
           "shape", __LINE__);
    bad_st("manydims.safetensors",
           "{\"md\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, "'md'", "dimensions",
           __LINE__);
    bad_st("meta.safetensors", "{\"__metadata__\":{\"format\":1}}", 0, NULL, "format", __LINE__);
    bad_st("meta2.safetensors", "{\"__metadata__\":[\"x\"]}", 0, NULL, "__metadata__", __LINE__);

    /* Valid edge cases still open: empty header object, zero-size tensor
     * sitting inside another, unpadded header (unaligned data). */
    gl_safetensors st;
    p = tmp_path("empty_obj.safetensors");
    write_st_raw(p, "{}", 0);
    CHECK(gl_st_open(&st, p) == 0 && st.n == 0);
    gl_st_close(&st);
    p = tmp_path("inside.safetensors");
    write_st_raw(p,
                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
                 8);
    CHECK(gl_st_open(&st, p) == 0 && st.n == 2);
    gl_st_close(&st);
    p = tmp_path("unaligned.safetensors");
    {
        const char *h = "{\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"; /* odd length */
        size_t hl = strlen(h);
        unsigned char buf[128] = {0};
        buf[0] = (unsigned char)hl;
        memcpy(buf + 8, h, hl);
        float v[2] = {1.25f, -3.0f};
        memcpy(buf + 8 + hl, v, 8);
        write_bytes(p, buf, 8 + hl + 8);
        float got[2] = {0, 0};
        CHECK(gl_st_open(&st, p) == 0 && st.n == 1 && gl_st_read_f32(&st, &st.tensors[0], got) == 0);
        CHECK(got[0] == 1.25f && got[1] == -3.0f);
        gl_st_close(&st);
    }
}

/* ---- config.json ------------------------------------------------------ */

static const char *cfg_keys[][2] = {
    {"model_type", "\"bert\""},       {"architectures", "[\"BertModel\"]"}, {"hidden_act", "\"gelu\""},
    {"vocab_size", "100"},            {"hidden_size", "32"},                {"num_hidden_layers", "2"},
    {"num_attention_heads", "4"},     {"intermediate_size", "64"},          {"max_position_embeddings", "40"},
    {"type_vocab_size", "2"},         {"layer_norm_eps", "1e-12"},          {"pad_token_id", "0"},
};
#define N_CFG_KEYS ((int)(sizeof cfg_keys / sizeof cfg_keys[0]))

/* Write <dir>/config.json from the defaults above with key set to value
 * (raw JSON), or removed when value is NULL. key NULL: defaults only. */
static char *make_cfg_dir(const char *name, const char *key, const char *value) {
    char *dir = gl_strdup(tmp_path(name));
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", dir);
        exit(2);
    }
    char json[2048];
    size_t n = 0;
    n += (size_t)snprintf(json + n, sizeof json - n, "{\n");
    int first = 1, found = 0;
    for (int i = 0; i < N_CFG_KEYS; i++) {
        const char *v = cfg_keys[i][1];
        if (key && strcmp(key, cfg_keys[i][0]) == 0) {
            found = 1;
            v = value;
        }
        if (!v) continue;
        n += (size_t)snprintf(json + n, sizeof json - n, "%s  \"%s\": %s", first ? "" : ",\n", cfg_keys[i][0], v);
        first = 0;
    }
    if (key && !found && value)
        n += (size_t)snprintf(json + n, sizeof json - n, ",\n  \"%s\": %s", key, value);
    snprintf(json + n, sizeof json - n, "\n}\n");
    char *path = gl_path_join(dir, "config.json");
    write_bytes(path, json, strlen(json));
    free(path);
    return dir;
}

static void expect_cfg_fail(const char *dir, const char *file, const char *frag, const char *frag2, int line) {
    gl_bert_config cfg;
    char *path = gl_path_join(dir, file);
    int rc = gl_config_load(&cfg, dir);
    CHECK_MSG(rc != 0, "line %d: config in %s loaded", line, dir);
    show_error();
    CHECK_MSG(msg_has(path), "line %d: message lacks %s: %s", line, path, gl_error_message());
    if (frag) CHECK_MSG(msg_has(frag), "line %d: message lacks '%s': %s", line, frag, gl_error_message());
    if (frag2) CHECK_MSG(msg_has(frag2), "line %d: message lacks '%s': %s", line, frag2, gl_error_message());
    free(path);
}

static void bad_cfg(const char *name, const char *key, const char *value, const char *frag, const char *frag2,
                    int line) {
    char *dir = make_cfg_dir(name, key, value);
    expect_cfg_fail(dir, "config.json", frag, frag2, line);
    free(dir);
}

static void write_tok_cfg(const char *dir, const char *json) {
    char *path = gl_path_join(dir, "tokenizer_config.json");
    write_bytes(path, json, strlen(json));
    free(path);
}

static void test_config(void) {
    gl_bert_config cfg;

    /* defaults: optional keys absent, no tokenizer_config.json */
    char *dir = make_cfg_dir("cfg_min", "type_vocab_size", NULL);
    char *p = gl_path_join(dir, "config.json");
    {
        /* drop layer_norm_eps, pad_token_id, hidden_act, model_type, architectures as well */
        const char *min = "{\"vocab_size\": 100, \"hidden_size\": 32, \"num_hidden_layers\": 2,"
                          " \"num_attention_heads\": 4, \"intermediate_size\": 64, \"max_position_embeddings\": 40}";
        write_bytes(p, min, strlen(min));
    }
    CHECK(gl_config_load(&cfg, dir) == 0);
    CHECK(cfg.vocab_size == 100 && cfg.hidden_size == 32 && cfg.num_layers == 2 && cfg.num_heads == 4);
    CHECK(cfg.intermediate_size == 64 && cfg.max_position_embeddings == 40);
    CHECK(cfg.type_vocab_size == 2 && cfg.layer_norm_eps == 1e-12f && cfg.pad_token_id == 0);
    CHECK(cfg.do_lower_case == 1 && cfg.strip_accents == -1 && cfg.model_max_length == 0);

    /* tokenizer_config.json: explicit values, HF's "no limit" float */
    write_tok_cfg(dir, "{\"do_lower_case\": false, \"strip_accents\": true, \"model_max_length\": 1e30}");
    CHECK(gl_config_load(&cfg, dir) == 0 && cfg.do_lower_case == 0 && cfg.strip_accents == 1 &&
          cfg.model_max_length == 0);
    write_tok_cfg(dir, "{\"strip_accents\": false, \"model_max_length\": 1000000000000000019884624838656}");
    CHECK(gl_config_load(&cfg, dir) != 0 && msg_has("tokenizer_config.json")); /* jansson: integer too big */
    write_tok_cfg(dir, "{\"strip_accents\": false, \"model_max_length\": 2000000}");
    CHECK(gl_config_load(&cfg, dir) == 0 && cfg.do_lower_case == 1 && cfg.strip_accents == 0 &&
          cfg.model_max_length == 0);
    write_tok_cfg(dir, "{\"strip_accents\": null, \"model_max_length\": 128}");
    CHECK(gl_config_load(&cfg, dir) == 0 && cfg.strip_accents == -1 && cfg.model_max_length == 128);
    write_tok_cfg(dir, "{\"do_lower_case\": \"yes\"}");
    expect_cfg_fail(dir, "tokenizer_config.json", "do_lower_case", NULL, __LINE__);
    write_tok_cfg(dir, "{\"strip_accents\": 1}");
    expect_cfg_fail(dir, "tokenizer_config.json", "strip_accents", NULL, __LINE__);
    write_tok_cfg(dir, "{\"do_lower_case\": true,");
    expect_cfg_fail(dir, "tokenizer_config.json", "line", "column", __LINE__);
    free(p);
    free(dir);

    /* full default config loads; explicit values are taken */
    dir = make_cfg_dir("cfg_ok", "layer_norm_eps", "1e-5");
    CHECK(gl_config_load(&cfg, dir) == 0 && cfg.layer_norm_eps == 1e-5f);
    free(dir);
    dir = make_cfg_dir("cfg_eps_int", "layer_norm_eps", "1");
    expect_cfg_fail(dir, "config.json", "layer_norm_eps", NULL, __LINE__);
    free(dir);

    /* config.json missing */
    dir = gl_strdup(tmp_path("cfg_none"));
    CHECK(mkdir(dir, 0755) == 0);
    expect_cfg_fail(dir, "config.json", "cannot open", NULL, __LINE__);
    free(dir);

    /* invalid JSON, not an object */
    dir = make_cfg_dir("cfg_badjson", NULL, NULL);
    p = gl_path_join(dir, "config.json");
    write_bytes(p, "{\n  \"vocab_size\": 100,\n  \"hidden_size\" 32\n}", 43);
    expect_cfg_fail(dir, "config.json", "line 3", "column", __LINE__);
    write_bytes(p, "[]", 2);
    expect_cfg_fail(dir, "config.json", "not a JSON object", NULL, __LINE__);
    write_bytes(p, "", 0);
    expect_cfg_fail(dir, "config.json", "invalid JSON", NULL, __LINE__);
    free(p);
    free(dir);

    bad_cfg("cfg_missing", "hidden_size", NULL, "\"hidden_size\"", "missing", __LINE__);
    bad_cfg("cfg_missing2", "num_attention_heads", NULL, "\"num_attention_heads\"", "missing", __LINE__);
    bad_cfg("cfg_type", "hidden_size", "\"384\"", "\"hidden_size\"", "integer", __LINE__);
    bad_cfg("cfg_type2", "num_hidden_layers", "6.0", "\"num_hidden_layers\"", "integer", __LINE__);
    bad_cfg("cfg_type3", "layer_norm_eps", "\"1e-12\"", "\"layer_norm_eps\"", "number", __LINE__);
    /* found by fuzz/fuzz_config.c: in (0, 1) as a double, but 0 or 1 as the float32 that is used */
    bad_cfg("cfg_eps_tiny", "layer_norm_eps", "1e-300", "\"layer_norm_eps\"", "0 < eps < 1", __LINE__);
    bad_cfg("cfg_eps_one", "layer_norm_eps", "0.99999999999", "\"layer_norm_eps\"", "0 < eps < 1", __LINE__);
    bad_cfg("cfg_type4", "hidden_act", "null", "\"hidden_act\"", "string", __LINE__);
    bad_cfg("cfg_zero", "vocab_size", "0", "\"vocab_size\"", NULL, __LINE__);
    bad_cfg("cfg_neg", "intermediate_size", "-5", "\"intermediate_size\"", NULL, __LINE__);
    bad_cfg("cfg_big", "hidden_size", "4294967296", "\"hidden_size\"", NULL, __LINE__);
    bad_cfg("cfg_relu", "hidden_act", "\"relu\"", "\"hidden_act\"", "relu", __LINE__);
    bad_cfg("cfg_heads", "num_attention_heads", "5", "hidden_size", "num_attention_heads", __LINE__);
    bad_cfg("cfg_model", "model_type", "\"gpt2\"", "\"model_type\"", "gpt2", __LINE__);
    bad_cfg("cfg_arch", "architectures", "[\"RobertaModel\"]", "architectures", "RobertaModel", __LINE__);
    bad_cfg("cfg_pos", "position_embedding_type", "\"relative_key\"", "position_embedding_type", "relative_key",
            __LINE__);
    bad_cfg("cfg_pad", "pad_token_id", "100", "\"pad_token_id\"", NULL, __LINE__);
    bad_cfg("cfg_dup", "extra", "1, \"hidden_size\": 64", "duplicate", NULL, __LINE__);
}

/* ---- hostile JSON: deep nesting, invalid UTF-8 ------------------------- */

/* n opening brackets, then n closing ones: "[[[...]]]" (or objects {"a":...}) */
static char *nested_json(size_t n, int objects, const char *prefix, const char *suffix) {
    size_t pl = strlen(prefix), sl = strlen(suffix), open = objects ? 5 : 1;
    char *s = malloc(pl + n * (open + 1) + sl + 1), *q = s;
    memcpy(q, prefix, pl);
    q += pl;
    for (size_t i = 0; i < n; i++) {
        memcpy(q, objects ? "{\"a\":" : "[", open);
        q += open;
    }
    for (size_t i = 0; i < n; i++) *q++ = objects ? '}' : ']';
    memcpy(q, suffix, sl + 1);
    return s;
}

/* config.json, tokenizer_config.json and a safetensors header nested 100000
 * deep (arrays, and objects as a key's value) are errors naming the file, not
 * a stack overflow (jansson stops at its depth limit, 2048); invalid UTF-8 in
 * a value, in a key, and a lone surrogate escape are errors naming the file. */
static void test_hostile_json(void) {
    const size_t deep = 100000;
    struct {
        int objects;
        const char *prefix, *suffix;
    } shapes[] = {{0, "", ""}, {1, "", ""}, {0, "{\"vocab_size\": ", "}"}, {1, "{\"x\": ", ", \"vocab_size\": 3}"}};
    char *dir = make_cfg_dir("cfg_deep", NULL, NULL);
    char *cfg = gl_path_join(dir, "config.json");
    for (int k = 0; k < 4; k++) {
        char *js = nested_json(deep, shapes[k].objects, shapes[k].prefix, shapes[k].suffix);
        write_bytes(cfg, js, strlen(js));
        expect_cfg_fail(dir, "config.json", "invalid JSON", "depth", __LINE__);
        free(js);
    }
    /* a valid config.json, then a deep tokenizer_config.json */
    free(make_cfg_dir("cfg_deep", NULL, NULL));
    gl_bert_config c;
    CHECK(gl_config_load(&c, dir) == 0);
    char *js = nested_json(deep, 1, "{\"do_lower_case\": ", "}");
    write_tok_cfg(dir, js);
    free(js);
    expect_cfg_fail(dir, "tokenizer_config.json", "invalid JSON", "depth", __LINE__);
    write_tok_cfg(dir, "{\"do_lower_case\": \"\xC3\x28\"}");
    expect_cfg_fail(dir, "tokenizer_config.json", "invalid JSON", NULL, __LINE__);
    free(cfg);
    free(dir);

    bad_cfg("cfg_utf8_value", "model_type", "\"be\xFFrt\"", "invalid JSON", NULL, __LINE__);
    bad_cfg("cfg_utf8_key", "hidden_\xC0\xAFsize", "32", "invalid JSON", NULL, __LINE__);
    bad_cfg("cfg_utf8_overlong", "model_type", "\"\xE0\x80\xAF\"", "invalid JSON", NULL, __LINE__);
    bad_cfg("cfg_utf8_cesu", "model_type", "\"\xED\xA0\x80\"", "invalid JSON", NULL, __LINE__);
    bad_cfg("cfg_utf8_truncated", "model_type", "\"bert\xE2\x82\"", "invalid JSON", NULL, __LINE__);
    bad_cfg("cfg_lone_surrogate", "model_type", "\"\\ud800\"", "invalid JSON", NULL, __LINE__);

    /* the same in a safetensors header */
    for (int k = 0; k < 2; k++) {
        js = nested_json(deep, k, k ? "{\"w\": " : "", k ? "}" : "");
        bad_st("deep.safetensors", js, 0, NULL, "header JSON invalid", __LINE__);
        CHECK(msg_has("depth"));
        free(js);
    }
    bad_st("utf8_key.safetensors", "{\"w\xFF\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL,
           "header JSON invalid", __LINE__);
    bad_st("utf8_dtype.safetensors", "{\"w\":{\"dtype\":\"F3\xC3\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL,
           "header JSON invalid", __LINE__);
}

/* ---- npy ---------------------------------------------------------------- */

static void test_npy(void) {
    const char *path = tmp_path("m.npy");
    float m[6] = {1.0f, -2.0f, 3.5f, 0.25f, -0.0f, 1e-3f};
    CHECK(gl_npy_write_f32(path, m, 2, 3) == 0);
    char *raw;
    size_t len;
    if (gl_read_file(path, &raw, &len) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return;
    }
    /* exact header: magic, version 1.0, u16 length 118, dict, spaces, '\n' at byte 127 */
    char want[129];
    memcpy(want, "\x93NUMPY\x01\x00\x76\x00", 10);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    size_t dl = strlen(dict);
    memcpy(want + 10, dict, dl);
    memset(want + 10 + dl, ' ', 127 - 10 - dl);
    want[127] = '\n';
    CHECK(len == 128 + 24 && memcmp(raw, want, 128) == 0 && memcmp(raw + 128, m, 24) == 0);
    free(raw);

    /* identical to numpy.save's bytes */
    char *ref;
    size_t rlen;
    if (gl_read_file(path, &raw, &len) == 0 && gl_read_file(FIXTURES "reference_2d.npy", &ref, &rlen) == 0) {
        CHECK(len == rlen && memcmp(raw, ref, len) == 0);
        free(raw);
        free(ref);
    } else {
        CHECK_MSG(0, "%s", gl_error_message());
    }

    float *d;
    int64_t r, c;
    CHECK(gl_npy_read_f32(path, &d, &r, &c) == 0 && r == 2 && c == 3);
    if (d)
        for (int i = 0; i < 6; i++) CHECK(same_f32(d[i], m[i]));
    free(d);

    CHECK(gl_npy_read_f32(FIXTURES "reference_1d.npy", &d, &r, &c) == 0 && r == 5 && c == 1);
    if (d) CHECK(d[0] == 1.5f && d[1] == -2.0f && d[2] == 0.0f && d[3] == 1e-20f && d[4] == 3e20f);
    free(d);

    /* empty shapes work; data always starts at a multiple of 64 */
    CHECK(gl_npy_write_f32(path, NULL, 0, 7) == 0);
    CHECK(gl_npy_read_f32(path, &d, &r, &c) == 0 && r == 0 && c == 7);
    free(d);
    float one = 2.0f;
    CHECK(gl_npy_write_f32(path, &one, 1, 1) == 0);
    CHECK(gl_read_file(path, &raw, &len) == 0 && len == 128 + 4 && raw[127] == '\n');
    free(raw);

    CHECK(gl_npy_write_f32(path, m, -1, 3) != 0 && msg_has(path));
    CHECK(gl_npy_write_f32(path, NULL, 2, 3) != 0 && msg_has(path));
    CHECK(gl_npy_write_f32(tmp_path("no/dir/x.npy"), m, 2, 3) != 0 && msg_has("no/dir/x.npy"));
    CHECK(gl_npy_read_f32(path, &d, &r, &c) == 0 && r == 1 && c == 1 && d[0] == 2.0f); /* untouched */
    free(d);
}

/* A .npy with the given dict (padded to 64 bytes) followed by data_len zero bytes. */
static void write_npy_raw(const char *path, const char *magic, const char *dict, size_t data_len) {
    unsigned char buf[512] = {0};
    size_t dl = strlen(dict), total = (10 + dl + 1 + 63) / 64 * 64;
    memcpy(buf, magic, 8);
    buf[8] = (unsigned char)((total - 10) & 0xff);
    buf[9] = (unsigned char)((total - 10) >> 8);
    memcpy(buf + 10, dict, dl);
    memset(buf + 10 + dl, ' ', total - 10 - dl - 1);
    buf[total - 1] = '\n';
    write_bytes(path, buf, total + data_len);
}

static void bad_npy(const char *name, const char *magic, const char *dict, size_t data_len, const char *frag,
                    int line) {
    const char *path = tmp_path(name);
    write_npy_raw(path, magic, dict, data_len);
    float *d = (float *)1;
    int64_t r = -1, c = -1;
    int rc = gl_npy_read_f32(path, &d, &r, &c);
    CHECK_MSG(rc != 0, "line %d: %s read", line, name);
    if (rc == 0) free(d);
    CHECK_MSG(rc == 0 || d == NULL, "line %d", line);
    show_error();
    CHECK_MSG(msg_has(path), "line %d: message lacks path: %s", line, gl_error_message());
    if (frag) CHECK_MSG(msg_has(frag), "line %d: message lacks '%s': %s", line, frag, gl_error_message());
}

static void test_npy_bad(void) {
    const char *v1 = "\x93NUMPY\x01\x00";
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    /* the helper itself writes a valid file */
    const char *good = tmp_path("good.npy");
    write_npy_raw(good, v1, ok, 24);
    float *d;
    int64_t r, c;
    CHECK(gl_npy_read_f32(good, &d, &r, &c) == 0 && r == 2 && c == 3);
    free(d);

    bad_npy("magic.npy", "\x93NUMPZ\x01\x00", ok, 24, "magic", __LINE__);
    bad_npy("version.npy", "\x93NUMPY\x09\x00", ok, 24, "version", __LINE__);
    bad_npy("f8.npy", v1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48, "<f8", __LINE__);
    bad_npy("be.npy", v1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, ">f4", __LINE__);
    bad_npy("fortran.npy", v1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, "fortran",
            __LINE__);
    bad_npy("3d.npy", v1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 1), }", 24, "3-D", __LINE__);
    bad_npy("0d.npy", v1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, "0-D", __LINE__);
    bad_npy("short.npy", v1, ok, 20, "too few", __LINE__);
    bad_npy("long.npy", v1, ok, 28, "needs 24", __LINE__);
    bad_npy("huge.npy", v1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 0,
            "too few", __LINE__);
    bad_npy("nokey.npy", v1, "{'descr': '<f4', 'shape': (2, 3), }", 24, "fortran_order", __LINE__);
    bad_npy("extrakey.npy", v1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24, "'x'",
            __LINE__);
    bad_npy("garbage.npy", v1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 24, "shape",
            __LINE__);
    bad_npy("nodict.npy", v1, "not a dict", 24, "header byte 10", __LINE__);

    const char *p = tmp_path("hlen.npy");
    write_bytes(p, "\x93NUMPY\x01\x00\xff\x7f{'descr'", 17);
    float *dd = NULL;
    CHECK(gl_npy_read_f32(p, &dd, &r, &c) != 0 && msg_has(p) && msg_has("header length"));
    p = tmp_path("tiny.npy");
    write_bytes(p, "\x93NUM", 4);
    CHECK(gl_npy_read_f32(p, &dd, &r, &c) != 0 && msg_has(p));
    p = tmp_path("absent.npy");
    CHECK(gl_npy_read_f32(p, &dd, &r, &c) != 0 && msg_has(p) && dd == NULL);
}

/* ---- mutation smoke fuzz ------------------------------------------------ */

/* Flip, overwrite, insert and truncate bytes of valid files (fixed seed) and
 * make sure opening and reading never crashes or misbehaves under ASan/UBSan;
 * whatever opens must read back fully. */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

static size_t mutate(unsigned char *buf, size_t len, size_t cap) {
    int edits = 1 + (int)(rnd() % 4);
    for (int k = 0; k < edits && len; k++) {
        size_t at = rnd() % len;
        switch (rnd() % 5) {
        case 0: buf[at] ^= (unsigned char)(1u << (rnd() % 8)); break;
        case 1: buf[at] = "{}[]\",:0123456789-e. \\"[rnd() % 22]; break;
        case 2: buf[at] = (unsigned char)rnd(); break;
        case 3: len = at + 1; break;
        case 4:
            if (len < cap) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (unsigned char)"9,]}\""[rnd() % 5];
                len++;
            }
            break;
        }
    }
    return len;
}

static void test_mutations(void) {
    const char *seeds[] = {FIXTURES "dtypes.safetensors", FIXTURES "reference.safetensors"};
    const char *path = tmp_path("fuzz.safetensors");
    int opened = 0;
    for (int s = 0; s < 2; s++) {
        char *orig;
        size_t olen;
        if (gl_read_file(seeds[s], &orig, &olen) != 0) {
            CHECK_MSG(0, "%s", gl_error_message());
            continue;
        }
        unsigned char *buf = malloc(olen + 64);
        for (int it = 0; it < 1500; it++) {
            memcpy(buf, orig, olen);
            size_t len = mutate(buf, olen, olen + 64);
            write_bytes(path, buf, len);
            gl_safetensors st;
            if (gl_st_open(&st, path) != 0) {
                CHECK(msg_has(path));
                continue;
            }
            opened++;
            for (int i = 0; i < st.n; i++) {
                const gl_st_tensor *t = &st.tensors[i];
                CHECK(t->begin <= t->end && st.data_start + t->end <= st.size);
                void *out = malloc((size_t)t->numel * 8 + 8);
                int is_float = t->dtype == GL_DT_F32 || t->dtype == GL_DT_F16 || t->dtype == GL_DT_BF16 ||
                               t->dtype == GL_DT_F64;
                if (is_float)
                    CHECK(gl_st_read_f32(&st, t, out) == 0 && gl_st_read_f64(&st, t, out) == 0);
                else
                    CHECK(gl_st_read_i64(&st, t, out) == 0);
                free(out);
            }
            gl_st_close(&st);
        }
        free(buf);
        free(orig);
    }
    CHECK(opened > 0);

    char *orig;
    size_t olen;
    path = tmp_path("fuzz.npy");
    if (gl_read_file(FIXTURES "reference_2d.npy", &orig, &olen) == 0) {
        unsigned char *buf = malloc(olen + 64);
        for (int it = 0; it < 1500; it++) {
            memcpy(buf, orig, olen);
            size_t len = mutate(buf, olen, olen + 64);
            write_bytes(path, buf, len);
            float *d;
            int64_t r, c;
            if (gl_npy_read_f32(path, &d, &r, &c) == 0) {
                CHECK(r >= 0 && c >= 0 && r * c <= 6);
                free(d);
            } else {
                CHECK(msg_has(path) && d == NULL);
            }
        }
        free(buf);
        free(orig);
    }
}

/* ---- atomic writes when the disk is full -------------------------------- */

/* Names in dir containing ".tmp." (leftover temporary files). */
static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static int file_is(const char *path, const char *want) {
    char *got;
    size_t len;
    if (gl_read_file(path, &got, &len) != 0) return 0;
    int same = len == strlen(want) && !memcmp(got, want, len);
    free(got);
    return same;
}

enum { W_RAW, W_NPY, W_ST };

/* One of the writers, 64 KB of output. */
static int write_with(int which, const char *path, const float *x) {
    switch (which) {
    case W_RAW: return gl_write_file_atomic(path, x, 65536);
    case W_NPY: return gl_npy_write_f32(path, x, 128, 128);
    default: {
        gl_st_entry e = {"w", x, 2, {128, 128}};
        return gl_st_write_f32(path, &e, 1, NULL);
    }
    }
}

/* Disk full, simulated by RLIMIT_FSIZE (no root needed): with SIGXFSZ ignored
 * a write past the limit fails with EFBIG after a short write, as it would
 * with ENOSPC. Every writer must fail naming the file and the reason, leave
 * the earlier file byte-identical and remove its temporary file. Also: /dev/full
 * (ENOSPC) and a FIFO are written in place, not replaced by a renamed temp
 * file; a directory is refused. */
static void test_atomic_write(void) {
    static const char *names[] = {"full.bin", "full.npy", "full.safetensors"};
    float *x = calloc(128 * 128, sizeof(float));
    for (int i = 0; i < 128 * 128; i++) x[i] = (float)i;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim0;
    getrlimit(RLIMIT_FSIZE, &lim0);
    for (int which = 0; which < 3; which++) {
        for (int limit = 0; limit <= 1; limit++) {
            const char *path = tmp_path(names[which]);
            CHECK(gl_write_file_atomic(path, "earlier output\n", 15) == 0);
            /* a limit of 0 fails the first write; 4 KB, one part-way through */
            struct rlimit lim = lim0;
            lim.rlim_cur = limit ? 4096 : 0;
            int rc = setrlimit(RLIMIT_FSIZE, &lim) == 0 ? write_with(which, path, x) : 0;
            setrlimit(RLIMIT_FSIZE, &lim0);
            show_error();
            CHECK_MSG(rc != 0, "%s written past the file-size limit", path);
            CHECK_MSG(msg_has(path) && msg_has("File too large"), "%s", gl_error_message());
            CHECK_MSG(file_is(path, "earlier output\n"), "%s changed", path);
            CHECK_MSG(count_tmp_files(g_tmp) == 0, "temp file left next to %s", path);
            /* without the limit the same write succeeds */
            CHECK(write_with(which, path, x) == 0 && count_tmp_files(g_tmp) == 0);
            unlink(path);
        }
    }
    signal(SIGXFSZ, old_handler);

    /* a directory is not a file name */
    CHECK(gl_write_file_atomic(g_tmp, "x", 1) != 0 && msg_has(g_tmp) && msg_has("is a directory"));
    /* a missing directory */
    const char *p = tmp_path("no/such/dir.bin");
    CHECK(gl_write_file_atomic(p, "x", 1) != 0 && msg_has(p) && msg_has("cannot create"));

    /* /dev/full: ENOSPC at fflush. Only when not root: the bug this guards
     * against (a temp file renamed over the destination) would, as root,
     * replace the device node. tests/test_robust.sh runs it as nobody. */
    struct stat st;
    if (geteuid() != 0 && stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
        CHECK(gl_npy_write_f32("/dev/full", x, 128, 128) != 0 && msg_has("/dev/full") &&
              msg_has("No space left on device"));
        CHECK(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode));
    }

    /* a FIFO is written in place: a reader gets all the bytes, the FIFO stays */
    p = tmp_path("fifo");
    if (mkfifo(p, 0600) == 0) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(20); /* a regression (FIFO replaced by a file) must fail, not hang */
            FILE *f = fopen(p, "rb");
            static char got[128 * 128 * sizeof(float) + 1]; /* one byte more: detects extra output */
            size_t n = f ? fread(got, 1, sizeof got, f) : 0;
            _exit(n == sizeof got - 1 && !memcmp(got, x, n) ? 0 : 1);
        }
        CHECK(gl_write_file_atomic(p, x, 128 * 128 * sizeof(float)) == 0);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "FIFO reader status %d", status);
        CHECK(lstat(p, &st) == 0 && S_ISFIFO(st.st_mode));
        CHECK(count_tmp_files(g_tmp) == 0);
        unlink(p);
    }
    free(x);
}

static void remove_tree(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
    const char *tmpdir = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/gloss_test_io_XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 2;
    }
    test_fixture_dtypes();
    test_f16_exhaustive();
    test_st_roundtrip();
    test_real_model();
    test_st_bad();
    test_config();
    test_hostile_json();
    test_npy();
    test_npy_bad();
    test_mutations();
    test_atomic_write();
    remove_tree(g_tmp);
    return check_summary("test_io");
}
