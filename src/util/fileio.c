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
    if (!f) return gl_error_k(GL_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return gl_error_k(GL_E_IO, "%s: not a regular file", path);
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
        return gl_error_k(GL_E_IO, "%s: read error (got %zu of %zu bytes)", path, got, n);
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

/* Is path a name in /dev or /proc (/dev/stdout, /dev/fd/3 = /proc/<pid>/fd/3,
 * /proc/self/fd/1)? Such a name stands for an open file, which may be a
 * regular one (stdout redirected to a file), and a temporary file renamed
 * over it would replace the symlink or device node itself. (Not /dev/shm,
 * where ordinary files live.) */
static int in_dev_or_proc(const char *path) {
    char *d = gl_strdup(path);
    if (!d) return 0;
    char *dir = realpath(dirname(d), NULL);
    free(d);
    if (!dir) return 0;
    int r = !strcmp(dir, "/dev") || !strcmp(dir, "/proc") || !strncmp(dir, "/proc/", 6);
    free(dir);
    return r;
}

int gl_atomic_open(gl_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    /* A destination that exists and is not a regular file (a FIFO, /dev/full),
     * or that lives in /dev or /proc (/dev/stdout), is written in place. */
    struct stat st;
    int in_place = 0;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return gl_error_k(GL_E_IO, "%s: is a directory, expected a file name", path);
        in_place = !S_ISREG(st.st_mode) || in_dev_or_proc(path);
    }
    af->path = gl_strdup(path);
    af->tmp = in_place ? NULL : gl_malloc(strlen(path) + 32);
    if (!af->path || (!in_place && !af->tmp)) {
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return -1;
    }
    if (!in_place) sprintf(af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(in_place ? path : af->tmp, "wb");
    if (!af->f) {
        int e = errno;
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        gl_error_k(GL_E_IO, "%s: cannot create: %s", path, strerror(e));
        errno = e; /* for callers that word the error themselves */
        return -1;
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
    /* after a failed fprintf errno still holds the write's error (EFBIG, ENOSPC) */
    if (fflush(af->f) != 0 || ferror(af->f)) rc = -1, e = errno;
    /* fsync only a temporary file: a device or pipe written in place may not support it */
    if (rc == 0 && af->tmp && fsync(fileno(af->f)) != 0) rc = -1, e = errno;
    if (fclose(af->f) != 0 && rc == 0) rc = -1, e = errno;
    af->f = NULL;
    if (rc == 0 && af->tmp && rename(af->tmp, af->path) != 0) rc = -1, e = errno;
    if (rc != 0) {
        gl_error_k(GL_E_IO, "%s: write failed: %s", af->path, strerror(e ? e : EIO));
        if (af->tmp) unlink(af->tmp);
    } else if (af->tmp) {
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
        return gl_error_k(GL_E_IO, "%s: write failed: %s", path, strerror(e));
    }
    return gl_atomic_commit(&af);
}
