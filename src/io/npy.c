/* npy.c: NumPy .npy files holding little-endian float32 in C order.
 *
 * Layout: "\x93NUMPY", major, minor, header length (u16 LE for 1.0; u32 LE
 * for 2.0/3.0), then an ASCII Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (R, C), }
 * padded with spaces and ended by '\n' so the data starts at a multiple of 64
 * bytes, then the raw data.
 *
 * Reading returns rows x cols; a 1-D array of length n reads as rows = n,
 * cols = 1. Anything but 1-D/2-D '<f4' C-order data is an error. */
#include "io/npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/fileio.h"

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
#define NPY_ALIGN 64

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

int gl_npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols) {
    if (rows < 0 || cols < 0) return gl_error_k(GL_E_FORMAT, "%s: invalid shape (%lld, %lld)", path, (long long)rows, (long long)cols);
    if (cols != 0 && rows > INT64_MAX / 4 / cols)
        return gl_error_k(GL_E_FORMAT, "%s: shape (%lld, %lld) is too large", path, (long long)rows, (long long)cols);
    size_t n = (size_t)(rows * cols);
    if (n && !data) return gl_error_k(GL_E_FORMAT, "%s: data is NULL", path);

    char dict[128];
    int dlen = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %lld), }",
                        (long long)rows, (long long)cols);
    /* 10 bytes of preamble + dict + padding + '\n' = multiple of 64 */
    size_t total = ((size_t)10 + (size_t)dlen + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    size_t hlen = total - 10;
    unsigned char hdr[256];
    memcpy(hdr, npy_magic, 6);
    hdr[6] = 1;
    hdr[7] = 0;
    hdr[8] = (unsigned char)(hlen & 0xff);
    hdr[9] = (unsigned char)(hlen >> 8);
    memcpy(hdr + 10, dict, (size_t)dlen);
    memset(hdr + 10 + dlen, ' ', hlen - (size_t)dlen - 1);
    hdr[total - 1] = '\n';

    gl_atomic_file af;
    if (gl_atomic_open(&af, path) != 0) return -1;
    int ok = fwrite(hdr, 1, total, af.f) == total;
    if (ok && n) {
        if (host_is_little_endian()) {
            ok = fwrite(data, 4, n, af.f) == n;
        } else {
            for (size_t i = 0; ok && i < n; i++) {
                uint32_t u;
                memcpy(&u, &data[i], 4);
                unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                                      (unsigned char)(u >> 24)};
                ok = fwrite(b, 1, 4, af.f) == 4;
            }
        }
    }
    if (!ok) {
        int e = errno;
        gl_atomic_abort(&af);
        return gl_error_k(GL_E_IO, "%s: write failed: %s", path, strerror(e ? e : EIO));
    }
    return gl_atomic_commit(&af);
}

/* ---- reading: a small parser for the header's Python dict literal ---- */

typedef struct {
    const char *s, *end, *file_start, *path;
} dict_parser;

/* Errors from the dict parser give the byte offset in the file. */
static int dict_error(const dict_parser *p, const char *what, ...) GL_PRINTF(2, 3);
static int dict_error(const dict_parser *p, const char *what, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, what);
    vsnprintf(msg, sizeof msg, what, ap);
    va_end(ap);
    return gl_error_k(GL_E_FORMAT, "%s: header byte %ld: %s", p->path, (long)(p->s - p->file_start), msg);
}

static void skip_ws(dict_parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static int expect_char(dict_parser *p, char c) {
    skip_ws(p);
    if (p->s >= p->end || *p->s != c) return dict_error(p, "expected '%c'", c);
    p->s++;
    return 0;
}

/* A quoted string ('...' or "...", no escapes) copied into buf. */
static int parse_str(dict_parser *p, char *buf, size_t cap) {
    skip_ws(p);
    if (p->s >= p->end || (*p->s != '\'' && *p->s != '"')) return dict_error(p, "expected a string");
    char q = *p->s++;
    size_t n = 0;
    while (p->s < p->end && *p->s != q) {
        if (*p->s == '\\' || n + 1 >= cap) return dict_error(p, "unsupported or overlong string");
        buf[n++] = *p->s++;
    }
    if (p->s >= p->end) return dict_error(p, "unterminated string");
    p->s++;
    buf[n] = 0;
    return 0;
}

static int parse_bool(dict_parser *p, int *out) {
    skip_ws(p);
    size_t left = (size_t)(p->end - p->s);
    if (left >= 4 && memcmp(p->s, "True", 4) == 0) {
        p->s += 4;
        *out = 1;
        return 0;
    }
    if (left >= 5 && memcmp(p->s, "False", 5) == 0) {
        p->s += 5;
        *out = 0;
        return 0;
    }
    return dict_error(p, "expected True or False");
}

/* A tuple of non-negative integers: (), (n,), (a, b), ... at most 8 dims. */
static int parse_shape(dict_parser *p, int64_t *shape, int *ndim) {
    if (expect_char(p, '(') != 0) return -1;
    *ndim = 0;
    for (;;) {
        skip_ws(p);
        if (p->s < p->end && *p->s == ')') {
            p->s++;
            return 0;
        }
        if (p->s >= p->end || *p->s < '0' || *p->s > '9')
            return dict_error(p, "shape must be a tuple of non-negative integers");
        int64_t v = 0;
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9') {
            int dgt = *p->s++ - '0';
            if (v > (INT64_MAX - dgt) / 10) return dict_error(p, "shape dimension too large");
            v = v * 10 + dgt;
        }
        if (p->s < p->end && *p->s == 'L') p->s++; /* Python 2 long suffix */
        if (*ndim >= 8) return dict_error(p, "too many dimensions");
        shape[(*ndim)++] = v;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == ')') {
            p->s++;
            return 0;
        }
        return dict_error(p, "malformed shape tuple");
    }
}

static int parse_dict(dict_parser *p, char *descr, size_t descr_cap, int *fortran, int64_t *shape, int *ndim) {
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (expect_char(p, '{') != 0) return -1;
    for (;;) {
        skip_ws(p);
        if (p->s < p->end && *p->s == '}') {
            p->s++;
            break;
        }
        char key[32];
        if (parse_str(p, key, sizeof key) != 0 || expect_char(p, ':') != 0) return -1;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (parse_str(p, descr, descr_cap) != 0) return -1;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            if (parse_bool(p, fortran) != 0) return -1;
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (parse_shape(p, shape, ndim) != 0) return -1;
            have_shape = 1;
        } else {
            return dict_error(p, "unexpected or repeated key '%s'", key);
        }
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (expect_char(p, '}') != 0) return -1;
        break;
    }
    skip_ws(p);
    if (p->s != p->end) return dict_error(p, "trailing characters after the dict");
    if (!have_descr || !have_fortran || !have_shape)
        return dict_error(p, "missing key '%s'",
                        !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    return 0;
}

int gl_npy_read_f32(const char *path, float **data, int64_t *rows, int64_t *cols) {
    *data = NULL;
    *rows = *cols = 0;
    char *buf;
    size_t len;
    if (gl_read_file(path, &buf, &len) != 0) return -1;
    const unsigned char *u = (const unsigned char *)buf;
    int rc = -1;
    if (len < 10 || memcmp(buf, npy_magic, 6) != 0) {
        gl_error_k(GL_E_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    int major = u[6];
    size_t hlen, pre;
    if (major == 1) {
        hlen = (size_t)u[8] | (size_t)u[9] << 8;
        pre = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) {
            gl_error_k(GL_E_FORMAT, "%s: truncated .npy preamble", path);
            goto done;
        }
        hlen = (size_t)u[8] | (size_t)u[9] << 8 | (size_t)u[10] << 16 | (size_t)u[11] << 24;
        pre = 12;
    } else {
        gl_error_k(GL_E_FORMAT, "%s: unsupported .npy format version %d.%d", path, major, u[7]);
        goto done;
    }
    if (hlen > len - pre) {
        gl_error_k(GL_E_FORMAT, "%s: header length %zu exceeds the file (%zu bytes)", path, hlen, len);
        goto done;
    }
    dict_parser p = {buf + pre, buf + pre + hlen, buf, path};
    char descr[16];
    int fortran = 0, ndim = 0;
    int64_t shape[8];
    if (parse_dict(&p, descr, sizeof descr, &fortran, shape, &ndim) != 0) goto done;
    if (strcmp(descr, "<f4") != 0) {
        gl_error_k(GL_E_FORMAT, "%s: dtype '%s' not supported (need little-endian float32 '<f4')", path, descr);
        goto done;
    }
    if (fortran) {
        gl_error_k(GL_E_FORMAT, "%s: fortran_order arrays are not supported (need C order)", path);
        goto done;
    }
    if (ndim != 1 && ndim != 2) {
        gl_error_k(GL_E_FORMAT, "%s: %d-D array; only 1-D and 2-D are supported", path, ndim);
        goto done;
    }
    int64_t r = shape[0], c = ndim == 2 ? shape[1] : 1;
    size_t avail = len - pre - hlen;
    if (c != 0 && (uint64_t)r > (uint64_t)avail / 4 / (uint64_t)c) {
        gl_error_k(GL_E_FORMAT, "%s: data is %zu bytes, too few for shape (%lld, %lld) of float32", path, avail, (long long)r,
                 (long long)c);
        goto done;
    }
    if ((uint64_t)r * (uint64_t)c * 4 != avail) {
        gl_error_k(GL_E_FORMAT, "%s: data is %zu bytes but shape (%lld, %lld) of float32 needs %llu", path, avail, (long long)r,
                 (long long)c, (unsigned long long)r * (unsigned long long)c * 4);
        goto done;
    }
    size_t n = (size_t)(r * c);
    float *out = gl_malloc(n * 4);
    if (!out) {
        gl_error_prefix("%s: ", path);
        goto done;
    }
    const unsigned char *d = u + pre + hlen;
    for (size_t i = 0; i < n; i++) {
        uint32_t w = (uint32_t)d[4 * i] | (uint32_t)d[4 * i + 1] << 8 | (uint32_t)d[4 * i + 2] << 16 |
                     (uint32_t)d[4 * i + 3] << 24;
        memcpy(&out[i], &w, 4);
    }
    *data = out;
    *rows = r;
    *cols = c;
    rc = 0;
done:
    free(buf);
    return rc;
}
