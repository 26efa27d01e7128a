/* fuzz_common.h: what every fuzz target shares: a per-process temporary
 * directory (tmpfs /dev/shm when writable; $GLOSS_FUZZ_TMP overrides), removed
 * at exit; writing an input into a file there; and FUZZ_CHECK, which aborts
 * (a finding) when an invariant the API promises does not hold. */
#ifndef GLOSS_FUZZ_COMMON_H
#define GLOSS_FUZZ_COMMON_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[512];

static void rm_tmpdir(void) {
    if (!g_dir[0]) return;
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(g_dir);
    g_dir[0] = 0;
}

static void make_tmpdir(const char *target) {
    const char *base = getenv("GLOSS_FUZZ_TMP");
    if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(g_dir, sizeof g_dir, "%s/gloss-fuzz-%s-XXXXXX", base, target);
    if (!mkdtemp(g_dir)) {
        perror(g_dir);
        abort();
    }
    atexit(rm_tmpdir);
}

/* Write n bytes to <tmpdir>/name (a fresh file); returns the path (static). */
static const char *put_file(const char *name, const uint8_t *data, size_t n) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w <= 0) {
            perror(path);
            abort();
        }
        off += (size_t)w;
    }
    close(fd);
    return path;
}

#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#endif
