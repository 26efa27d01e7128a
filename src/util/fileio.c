/* fileio.c: whole-file reads and atomic writes (temp file, fsync, rename). */
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

int gl_read_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return gl_error("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return gl_error("%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    char *buf = gl_malloc(n + 1);
    if (!buf) {
        fclose(f);
        return gl_error_prefix("%s: ", path);
    }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != n) {
        free(buf);
        return gl_error("%s: read error (got %zu of %zu bytes)", path, got, n);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

char *gl_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = gl_malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int gl_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int gl_atomic_open(gl_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    af->path = gl_strdup(path);
    af->tmp = gl_malloc(strlen(path) + 32);
    if (!af->path || !af->tmp) {
        free(af->path);
        free(af->tmp);
        return -1;
    }
    sprintf(af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        int e = errno;
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return gl_error("%s: cannot create: %s", path, strerror(e));
    }
    return 0;
}

void gl_atomic_abort(gl_atomic_file *af) {
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof *af);
}

int gl_atomic_commit(gl_atomic_file *af) {
    int rc = 0, e = 0;
    if (fflush(af->f) != 0 || ferror(af->f)) rc = -1, e = errno;
    if (rc == 0 && fsync(fileno(af->f)) != 0) rc = -1, e = errno;
    if (fclose(af->f) != 0 && rc == 0) rc = -1, e = errno;
    af->f = NULL;
    if (rc == 0 && rename(af->tmp, af->path) != 0) rc = -1, e = errno;
    if (rc != 0) {
        gl_error("%s: write failed: %s", af->path, strerror(e ? e : EIO));
        unlink(af->tmp);
    } else {
        /* fsync the directory so the rename itself is durable */
        char *d = gl_strdup(af->path);
        if (d) {
            int fd = open(dirname(d), O_RDONLY | O_DIRECTORY);
            if (fd >= 0) {
                fsync(fd);
                close(fd);
            }
            free(d);
        }
    }
    free(af->path);
    free(af->tmp);
    af->path = af->tmp = NULL;
    return rc;
}

int gl_write_file_atomic(const char *path, const void *data, size_t len) {
    gl_atomic_file af;
    if (gl_atomic_open(&af, path) != 0) return -1;
    if (len && fwrite(data, 1, len, af.f) != len) {
        int e = errno;
        gl_atomic_abort(&af);
        return gl_error("%s: write failed: %s", path, strerror(e));
    }
    return gl_atomic_commit(&af);
}
