/* gzip.c: whole-file gzip decompression with zlib's inflate (gzip wrapper
 * only: header, deflate data, CRC-32 and length trailer, all checked). */
#include "util/gzip.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "util/error.h"
#include "util/fileio.h"

/* deflate cannot expand data by more than about 1032:1, so a member's
 * claimed length (its last 4 bytes, ISIZE) only sizes the first buffer up to
 * that bound: a forged ISIZE cannot make us allocate more. */
#define GZ_MAX_RATIO 1032

static int is_gzip_magic(const unsigned char *p, size_t n) { return n >= 2 && p[0] == 0x1f && p[1] == 0x8b; }

/* A first output capacity: the last member's ISIZE when plausible, else 4x. */
static size_t first_capacity(const unsigned char *src, size_t n) {
    size_t cap = n < SIZE_MAX / 4 ? 4 * n : n;
    if (n >= 18) {
        const unsigned char *t = src + n - 4;
        size_t isize = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
        size_t bound = n < SIZE_MAX / GZ_MAX_RATIO ? n * GZ_MAX_RATIO : SIZE_MAX;
        if (isize <= bound) cap = isize;
    }
    return cap < 4096 ? 4096 : cap;
}

/* Make room for more output: doubles *cap (+1 for the NUL). -1 when out of memory. */
static int grow_output(const char *name, char **buf, size_t *cap) {
    if (*cap > (SIZE_MAX - 1) / 2) return gl_error_oom("%s: out of memory: the decompressed data is too large", name);
    size_t ncap = *cap * 2;
    char *nb = realloc(*buf, ncap + 1);
    if (!nb) return gl_error_oom("%s: out of memory decompressing (%zu bytes)", name, ncap + 1);
    *buf = nb;
    *cap = ncap;
    return 0;
}

int gl_gunzip(const char *name, const unsigned char *src, size_t n, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (n == 0) return gl_error_k(GL_E_FORMAT, "%s: not gzip data (empty file)", name);
    if (!is_gzip_magic(src, n)) return gl_error_k(GL_E_FORMAT, "%s: not gzip data (no gzip magic bytes 1f 8b at offset 0)", name);
    size_t cap = first_capacity(src, n), used = 0, pos = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return gl_error_oom("%s: out of memory decompressing (%zu bytes)", name, cap + 1);
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) { /* 16: the gzip wrapper only */
        free(buf);
        return gl_error_oom("%s: out of memory (zlib: %s)", name, s.msg ? s.msg : "inflateInit2 failed");
    }
    int rc = 0;
    for (;;) {
        if (used == cap && (rc = grow_output(name, &buf, &cap)) != 0) break;
        size_t in_left = n - pos, out_left = cap - used;
        s.next_in = (unsigned char *)(src + pos); /* zlib's API is not const-correct; it only reads */
        s.avail_in = in_left < UINT_MAX ? (uInt)in_left : UINT_MAX;
        s.next_out = (unsigned char *)buf + used;
        s.avail_out = out_left < UINT_MAX ? (uInt)out_left : UINT_MAX;
        uInt in0 = s.avail_in, out0 = s.avail_out;
        int z = inflate(&s, Z_NO_FLUSH);
        pos += in0 - s.avail_in;
        used += out0 - s.avail_out;
        if (z == Z_STREAM_END) {
            if (pos == n) break;
            if (!is_gzip_magic(src + pos, n - pos)) { /* gzip -d also reads concatenated members */
                rc = gl_error_k(GL_E_FORMAT, "%s: corrupt gzip data: %zu bytes after the end of the gzip stream at offset %zu", name,
                              n - pos, pos);
                break;
            }
            inflateReset(&s);
        } else if (z == Z_OK) {
            continue;
        } else if (z == Z_BUF_ERROR) {
            if (used == cap) continue; /* no room to write: grown on the next round */
            if (pos == n)              /* wants input that is not there */
                rc = gl_error_k(GL_E_FORMAT, "%s: truncated gzip data: the file ends (at %zu bytes) before the end of its gzip "
                              "stream", name, n);
            else
                rc = gl_error_k(GL_E_FORMAT, "%s: corrupt gzip data at offset %zu (zlib made no progress)", name, pos);
            break;
        } else if (z == Z_MEM_ERROR) {
            rc = gl_error_oom("%s: out of memory decompressing (zlib)", name);
            break;
        } else { /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
            rc = gl_error_k(GL_E_FORMAT, "%s: corrupt gzip data at offset %zu: %s", name, pos, s.msg ? s.msg : "invalid data");
            break;
        }
    }
    inflateEnd(&s);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    buf[used] = 0;
    *out = buf;
    *len = used;
    return 0;
}

int gl_read_gzip_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    char *z;
    size_t zn;
    if (gl_read_file(path, &z, &zn) != 0) return -1;
    int rc = gl_gunzip(path, (const unsigned char *)z, zn, data, len);
    free(z);
    return rc;
}

int gl_is_gzip_name(const char *path) {
    size_t n = strlen(path);
    return n >= 3 && !strcasecmp(path + n - 3, ".gz");
}
