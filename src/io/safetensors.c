/* safetensors.c: reading (mmap + full validation) and atomic F32 writing of
 * the safetensors format.
 *
 * File layout: u64 little-endian header length N, then N bytes of JSON (an
 * object mapping tensor name -> {"dtype", "shape", "data_offsets"}, plus an
 * optional "__metadata__" string map), then the data area. data_offsets are
 * [begin, end) byte offsets relative to the start of the data area.
 *
 * Tensor bytes are little-endian and need not be aligned in the mapping, so
 * every element is loaded with memcpy. */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fileio.h"

#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000) /* headers are tiny; refuse absurd ones */
#define ST_METADATA_KEY "__metadata__"

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [GL_DT_F32] = {"F32", 4}, [GL_DT_F16] = {"F16", 2}, [GL_DT_BF16] = {"BF16", 2},
    [GL_DT_F64] = {"F64", 8}, [GL_DT_I64] = {"I64", 8}, [GL_DT_I32] = {"I32", 4},
    [GL_DT_U8] = {"U8", 1},
};
#define N_DTYPES ((int)(sizeof dtype_info / sizeof dtype_info[0]))

const char *gl_dtype_name(gl_dtype d) {
    if ((int)d < 0 || (int)d >= N_DTYPES) return "?";
    return dtype_info[d].name;
}

static int dtype_parse(const char *s, gl_dtype *d) {
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(s, dtype_info[i].name) == 0) {
            *d = (gl_dtype)i;
            return 0;
        }
    return -1;
}

/* ---- little-endian loads and stores ---------------------------------- */

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static uint64_t load_le(const unsigned char *p, int nbytes) {
    uint64_t v = 0;
    for (int i = nbytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double f64_from_bits(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* IEEE binary16 -> binary32, exact for every input (the f32 format has more
 * exponent and mantissa bits): subnormal halves become normal floats, inf
 * stays inf, NaN keeps its sign and payload. */
static uint32_t f16_to_f32_bits(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return sign | 0x7f800000u | (mant << 13); /* inf / nan */
    if (exp != 0) return sign | ((exp - 15 + 127) << 23) | (mant << 13);
    if (mant == 0) return sign; /* +-0 */
    /* subnormal: value = mant * 2^-24; shift the leading 1 up to bit 10 */
    int e = -14;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e--;
    }
    return sign | ((uint32_t)(e + 127) << 23) | ((mant & 0x3ffu) << 13);
}

/* bfloat16 is the top half of a binary32. */
static uint32_t bf16_to_f32_bits(uint16_t b) { return (uint32_t)b << 16; }

/* ---- opening ----------------------------------------------------------- */

static void st_free_tensors(gl_safetensors *st) {
    if (st->tensors)
        for (int i = 0; i < st->n; i++) free(st->tensors[i].name);
    free(st->tensors);
    st->tensors = NULL;
    st->n = 0;
}

void gl_st_close(gl_safetensors *st) {
    if (!st) return;
    st_free_tensors(st);
    if (st->map && st->size) munmap(st->map, st->size);
    free(st->metadata_json);
    free(st->path);
    memset(st, 0, sizeof *st);
}

/* A non-negative JSON integer (jansson rejects integers beyond long long itself). */
static int json_nonneg_int(const json_t *v, int64_t *out) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    if (x < 0) return -1;
    *out = (int64_t)x;
    return 0;
}

static int parse_metadata(gl_safetensors *st, json_t *meta) {
    const char *p = st->path;
    if (!json_is_object(meta)) return gl_error_k(GL_E_FORMAT, "%s: \"%s\" must be an object of strings", p, ST_METADATA_KEY);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v))
            return gl_error_k(GL_E_FORMAT, "%s: \"%s\" value for key '%s' must be a string", p, ST_METADATA_KEY, k);
    }
    char *s = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s) return gl_error_k(GL_E_FORMAT, "%s: out of memory serialising \"%s\"", p, ST_METADATA_KEY);
    st->metadata_json = gl_strdup(s);
    free(s);
    return st->metadata_json ? 0 : gl_error_prefix("%s: ", p);
}

/* Fill *t from one header entry; data_size is the size of the data area. */
static int parse_entry(const char *path, const char *name, json_t *e, size_t data_size, gl_st_tensor *t) {
    if (!json_is_object(e)) return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': header entry is not an object", path, name);

    json_t *jd = json_object_get(e, "dtype");
    if (!jd) return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': missing \"dtype\"", path, name);
    if (!json_is_string(jd)) return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': \"dtype\" is not a string", path, name);
    if (dtype_parse(json_string_value(jd), &t->dtype) != 0)
        return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': unsupported dtype '%s' (supported: F32 F16 BF16 F64 I64 I32 U8)",
                        path, name, json_string_value(jd));
    size_t esize = dtype_info[t->dtype].size;

    json_t *js = json_object_get(e, "shape");
    if (!js) return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': missing \"shape\"", path, name);
    if (!json_is_array(js)) return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': \"shape\" is not an array", path, name);
    size_t nd = json_array_size(js);
    if (nd > GL_ST_MAX_DIMS)
        return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': %zu dimensions (at most %d supported)", path, name, nd, GL_ST_MAX_DIMS);
    t->ndim = (int)nd;
    int64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        int64_t d;
        if (json_nonneg_int(json_array_get(js, i), &d) != 0)
            return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer", path, name, i);
        t->shape[i] = d;
        if (d != 0 && numel > INT64_MAX / d)
            return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': shape product overflows int64", path, name);
        numel *= d;
    }
    t->numel = numel;

    json_t *jo = json_object_get(e, "data_offsets");
    if (!jo) return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': missing \"data_offsets\"", path, name);
    int64_t b, en;
    if (!json_is_array(jo) || json_array_size(jo) != 2 || json_nonneg_int(json_array_get(jo, 0), &b) != 0 ||
        json_nonneg_int(json_array_get(jo, 1), &en) != 0)
        return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': \"data_offsets\" must be [begin, end] with non-negative integers", path,
                        name);
    if (b > en)
        return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': data_offsets begin %lld > end %lld", path, name, (long long)b,
                        (long long)en);
    if ((uint64_t)en > (uint64_t)data_size)
        return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': data_offsets end %lld is beyond the data area (%zu bytes)", path, name,
                        (long long)en, data_size);
    /* en <= data_size, so the byte count of a valid tensor fits size_t; check
     * the product without overflowing. */
    uint64_t want_ok = (uint64_t)numel <= (uint64_t)(en - b) / esize;
    if (!want_ok || (uint64_t)numel * esize != (uint64_t)(en - b))
        return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': data_offsets span %lld bytes but shape needs %lld elements x %zu bytes",
                        path, name, (long long)(en - b), (long long)numel, esize);
    t->begin = (size_t)b;
    t->end = (size_t)en;
    return 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const gl_st_tensor *x = *(const gl_st_tensor *const *)a, *y = *(const gl_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Reject tensors whose byte ranges overlap (empty tensors occupy no bytes). */
static int check_overlaps(const gl_safetensors *st) {
    if (st->n < 2) return 0;
    const gl_st_tensor **order = gl_malloc((size_t)st->n * sizeof *order);
    if (!order) return gl_error_prefix("%s: ", st->path);
    int m = 0;
    for (int i = 0; i < st->n; i++)
        if (st->tensors[i].end > st->tensors[i].begin) order[m++] = &st->tensors[i];
    qsort(order, (size_t)m, sizeof *order, cmp_by_offset);
    int rc = 0;
    for (int i = 1; i < m; i++) {
        if (order[i]->begin < order[i - 1]->end) {
            rc = gl_error_k(GL_E_FORMAT, "%s: tensors '%s' [%zu, %zu) and '%s' [%zu, %zu) overlap", st->path, order[i - 1]->name,
                          order[i - 1]->begin, order[i - 1]->end, order[i]->name, order[i]->begin, order[i]->end);
            break;
        }
    }
    free(order);
    return rc;
}

static int parse_header(gl_safetensors *st, const char *json, size_t len) {
    const char *p = st->path;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return gl_error_k(GL_E_FORMAT, "%s: header JSON invalid at line %d, column %d: %s", p, jerr.line, jerr.column, jerr.text);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = gl_error_k(GL_E_FORMAT, "%s: header JSON is not an object", p);
        goto done;
    }
    size_t count = json_object_size(root);
    st->tensors = gl_calloc(count ? count : 1, sizeof *st->tensors);
    if (!st->tensors) {
        rc = gl_error_prefix("%s: ", p);
        goto done;
    }
    size_t data_size = st->size - st->data_start;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, ST_METADATA_KEY) == 0) {
            if ((rc = parse_metadata(st, val)) != 0) goto done;
            continue;
        }
        gl_st_tensor *t = &st->tensors[st->n];
        if ((rc = parse_entry(p, key, val, data_size, t)) != 0) goto done;
        if (!(t->name = gl_strdup(key))) {
            rc = gl_error_prefix("%s: ", p);
            goto done;
        }
        st->n++;
    }
    rc = check_overlaps(st);
done:
    json_decref(root);
    return rc;
}

int gl_st_open(gl_safetensors *st, const char *path) {
    memset(st, 0, sizeof *st);
    if (!(st->path = gl_strdup(path))) return gl_error_prefix("%s: ", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        gl_error_k(GL_E_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        gl_error_k(GL_E_FORMAT, "%s: not a regular file", path);
        goto fail;
    }
    if (sb.st_size < 8) {
        close(fd);
        gl_error_k(GL_E_FORMAT, "%s: file is %lld bytes, too short for a safetensors header (8-byte length + JSON)", path,
                 (long long)sb.st_size);
        goto fail;
    }
    size_t size = (size_t)sb.st_size;
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) {
        gl_error_k(GL_E_IO, "%s: mmap failed: %s", path, strerror(e));
        goto fail;
    }
    st->map = m;
    st->size = size;

    uint64_t hlen = load_le(st->map, 8);
    if (hlen > ST_MAX_HEADER) {
        gl_error_k(GL_E_FORMAT, "%s: header length %llu is absurdly large (limit %llu)", path, (unsigned long long)hlen,
                 (unsigned long long)ST_MAX_HEADER);
        goto fail;
    }
    if (hlen > size - 8) {
        gl_error_k(GL_E_FORMAT, "%s: header length %llu exceeds the file (%zu bytes after the length field); truncated?", path,
                 (unsigned long long)hlen, size - 8);
        goto fail;
    }
    st->data_start = 8 + (size_t)hlen;
    if (parse_header(st, (const char *)st->map + 8, (size_t)hlen) != 0) goto fail;
    return 0;
fail:
    gl_st_close(st);
    return -1;
}

const gl_st_tensor *gl_st_find(const gl_safetensors *st, const char *name) {
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

/* ---- conversion ------------------------------------------------------- */

static const unsigned char *tensor_bytes(const gl_safetensors *st, const gl_st_tensor *t) {
    return st->map + st->data_start + t->begin;
}

/* element i of an F32, F16 or BF16 tensor as float32 bits (exact; NaN payloads
 * kept: a detour through double would quiet signalling NaNs) */
static inline uint32_t f32_elem_bits(gl_dtype dt, const unsigned char *p, int64_t i) {
    switch (dt) {
    case GL_DT_F16: return f16_to_f32_bits((uint16_t)load_le(p + 2 * i, 2));
    case GL_DT_BF16: return bf16_to_f32_bits((uint16_t)load_le(p + 2 * i, 2));
    default: return (uint32_t)load_le(p + 4 * i, 4); /* GL_DT_F32 */
    }
}

static int is_float_dtype(gl_dtype dt) {
    return dt == GL_DT_F32 || dt == GL_DT_F16 || dt == GL_DT_BF16 || dt == GL_DT_F64;
}

int gl_st_read_f32(const gl_safetensors *st, const gl_st_tensor *t, float *out) {
    if (!is_float_dtype(t->dtype))
        return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': dtype %s cannot be read as float32", st->path, t->name,
                        gl_dtype_name(t->dtype));
    const unsigned char *p = tensor_bytes(st, t);
    if (t->dtype == GL_DT_F32 && host_is_little_endian()) {
        if (t->numel) memcpy(out, p, (size_t)t->numel * 4);
        return 0;
    }
    if (t->dtype == GL_DT_F64)
        for (int64_t i = 0; i < t->numel; i++) out[i] = (float)f64_from_bits(load_le(p + 8 * i, 8));
    else
        for (int64_t i = 0; i < t->numel; i++) out[i] = f32_from_bits(f32_elem_bits(t->dtype, p, i));
    return 0;
}

int gl_st_read_f64(const gl_safetensors *st, const gl_st_tensor *t, double *out) {
    if (!is_float_dtype(t->dtype))
        return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': dtype %s cannot be read as float64", st->path, t->name,
                        gl_dtype_name(t->dtype));
    const unsigned char *p = tensor_bytes(st, t);
    if (t->dtype == GL_DT_F64)
        for (int64_t i = 0; i < t->numel; i++) out[i] = f64_from_bits(load_le(p + 8 * i, 8));
    else
        for (int64_t i = 0; i < t->numel; i++) out[i] = f32_from_bits(f32_elem_bits(t->dtype, p, i));
    return 0;
}

int gl_st_read_i64(const gl_safetensors *st, const gl_st_tensor *t, int64_t *out) {
    const unsigned char *p = tensor_bytes(st, t);
    int64_t n = t->numel;
    switch (t->dtype) {
    case GL_DT_I64:
        for (int64_t i = 0; i < n; i++) out[i] = (int64_t)load_le(p + 8 * i, 8);
        return 0;
    case GL_DT_I32:
        for (int64_t i = 0; i < n; i++) out[i] = (int32_t)(uint32_t)load_le(p + 4 * i, 4);
        return 0;
    case GL_DT_U8:
        for (int64_t i = 0; i < n; i++) out[i] = p[i];
        return 0;
    default:
        return gl_error_k(GL_E_FORMAT, "%s: tensor '%s': dtype %s cannot be read as int64", st->path, t->name,
                        gl_dtype_name(t->dtype));
    }
}

/* ---- writing ---------------------------------------------------------- */

/* Build the header JSON: "__metadata__" first (if any), then the tensors in
 * the given order with contiguous offsets. */
static json_t *build_header(const char *path, const gl_st_entry *entries, int n, const char *const *metadata) {
    json_t *root = json_object();
    if (!root) {
        gl_error_k(GL_E_FORMAT, "%s: out of memory building header", path);
        return NULL;
    }
    if (metadata) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, ST_METADATA_KEY, meta) != 0) goto oom;
        for (int i = 0; metadata[i]; i += 2) {
            if (!metadata[i + 1]) {
                gl_error_k(GL_E_FORMAT, "%s: metadata key '%s' has no value", path, metadata[i]);
                goto fail;
            }
            json_t *s = json_string(metadata[i + 1]);
            if (!s) {
                gl_error_k(GL_E_FORMAT, "%s: metadata value for key '%s' is not valid UTF-8", path, metadata[i]);
                goto fail;
            }
            if (json_object_set_new(meta, metadata[i], s) != 0) {
                gl_error_k(GL_E_FORMAT, "%s: metadata key '%s' is not valid UTF-8", path, metadata[i]);
                goto fail;
            }
        }
    }
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const gl_st_entry *e = &entries[i];
        const char *name = e->name ? e->name : "(null)";
        if (!e->name || !e->name[0]) {
            gl_error_k(GL_E_FORMAT, "%s: entry %d has no name", path, i);
            goto fail;
        }
        if (strcmp(e->name, ST_METADATA_KEY) == 0 || json_object_get(root, e->name)) {
            gl_error_k(GL_E_FORMAT, "%s: tensor '%s': duplicate or reserved name", path, name);
            goto fail;
        }
        if (e->ndim < 0 || e->ndim > GL_ST_MAX_DIMS) {
            gl_error_k(GL_E_FORMAT, "%s: tensor '%s': ndim %d out of range [0, %d]", path, name, e->ndim, GL_ST_MAX_DIMS);
            goto fail;
        }
        json_t *shape = json_array();
        if (!shape) goto oom;
        uint64_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            int64_t s = e->shape[d];
            if (s < 0 || (s != 0 && numel > (uint64_t)INT64_MAX / 4 / (uint64_t)s)) {
                json_decref(shape);
                gl_error_k(GL_E_FORMAT, "%s: tensor '%s': invalid shape (dimension %d is %lld)", path, name, d, (long long)s);
                goto fail;
            }
            numel *= (uint64_t)s;
            json_array_append_new(shape, json_integer(s));
        }
        if (numel && !e->data) {
            json_decref(shape);
            gl_error_k(GL_E_FORMAT, "%s: tensor '%s': data is NULL", path, name);
            goto fail;
        }
        uint64_t bytes = numel * 4;
        if (offset > (uint64_t)INT64_MAX - bytes) {
            json_decref(shape);
            gl_error_k(GL_E_FORMAT, "%s: tensor '%s': total size overflows", path, name);
            goto fail;
        }
        json_t *info = json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape, "data_offsets",
                                 (json_int_t)offset, (json_int_t)(offset + bytes));
        if (!info) goto oom; /* json_pack steals shape even on failure */
        if (json_object_set_new(root, e->name, info) != 0) {
            gl_error_k(GL_E_FORMAT, "%s: tensor '%s': name is not valid UTF-8", path, name);
            goto fail;
        }
        offset += bytes;
    }
    return root;
oom:
    gl_error_k(GL_E_FORMAT, "%s: out of memory building header", path);
fail:
    json_decref(root);
    return NULL;
}

static int write_f32_le(FILE *f, const float *x, size_t n) {
    if (n == 0) return 0;
    if (host_is_little_endian()) return fwrite(x, 4, n, f) == n ? 0 : -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                              (unsigned char)(u >> 24)};
        if (fwrite(b, 1, 4, f) != 4) return -1;
    }
    return 0;
}

int gl_st_write_f32(const char *path, const gl_st_entry *entries, int n, const char *const *metadata) {
    if (n < 0 || (n > 0 && !entries)) return gl_error_k(GL_E_FORMAT, "%s: invalid tensor list", path);
    json_t *root = build_header(path, entries, n, metadata);
    if (!root) return -1;
    char *js = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!js) return gl_error_k(GL_E_FORMAT, "%s: out of memory serialising header", path);
    size_t len = strlen(js);
    size_t padded = (len + 7) / 8 * 8;
    char *hdr = gl_malloc(8 + padded);
    if (!hdr) {
        free(js);
        return gl_error_prefix("%s: ", path);
    }
    for (int i = 0; i < 8; i++) hdr[i] = (char)(unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(hdr + 8, js, len);
    memset(hdr + 8 + len, ' ', padded - len);
    free(js);

    gl_atomic_file af;
    if (gl_atomic_open(&af, path) != 0) {
        free(hdr);
        return -1;
    }
    int ok = fwrite(hdr, 1, 8 + padded, af.f) == 8 + padded;
    free(hdr);
    for (int i = 0; ok && i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < entries[i].ndim; d++) numel *= (size_t)entries[i].shape[d];
        ok = write_f32_le(af.f, entries[i].data, numel) == 0;
    }
    if (!ok) {
        int e = errno;
        gl_atomic_abort(&af);
        return gl_error_k(GL_E_IO, "%s: write failed: %s", path, strerror(e ? e : EIO));
    }
    return gl_atomic_commit(&af);
}
