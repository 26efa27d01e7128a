/* fileio.h: whole-file reads and atomic writes (temp file, fsync, rename). */
#ifndef GL_FILEIO_H
#define GL_FILEIO_H

#include <stddef.h>
#include <stdio.h>

/* Read a whole file into a NUL-terminated heap buffer (*len excludes the NUL).
 * Errors name the path. */
int gl_read_file(const char *path, char **data, size_t *len);

/* Atomic output: write to "<path>.tmp.<pid>", then fsync + rename on commit.
 * If anything fails (or abort is called) the destination is left untouched
 * and the temp file removed. A destination that exists and is not a regular
 * file (a FIFO, /dev/full) or is in /dev or /proc (/dev/stdout, /dev/fd/N)
 * is written in place instead (tmp is NULL): renaming over it would replace
 * the device node or symlink. Errors are still reported. A directory is
 * refused. */
typedef struct {
    FILE *f;
    char *path;
    char *tmp;
} gl_atomic_file;

int gl_atomic_open(gl_atomic_file *af, const char *path); /* on failure errno holds the reason */
int gl_atomic_commit(gl_atomic_file *af); /* fflush, fsync, close, rename, fsync dir */
void gl_atomic_abort(gl_atomic_file *af);  /* close and unlink the temp file */

/* Convenience: write one buffer atomically. */
int gl_write_file_atomic(const char *path, const void *data, size_t len);

/* Join a directory and a file name into a heap string. */
char *gl_path_join(const char *dir, const char *name);
int gl_file_exists(const char *path);

#endif
