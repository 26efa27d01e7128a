/* gzip.h: whole-file gzip decompression (zlib), so that data files can be
 * shipped and read compressed (data/benchmarks/NAME/SPLIT.csv.gz). */
#ifndef GL_GZIP_H
#define GL_GZIP_H

#include <stddef.h>

/* Decompress the gzip data src[0..n) (one or more members, as `gzip -d`
 * reads them) into a NUL-terminated heap buffer (*len excludes the NUL).
 * On failure -1, *out NULL, and an error that starts with name and says what
 * was wrong: not gzip data (no magic bytes), corrupt data (zlib's reason and
 * the compressed offset), truncated data (the stream ends before its end
 * marker or trailer), bytes after the last member, or out of memory. */
int gl_gunzip(const char *name, const unsigned char *src, size_t n, char **out, size_t *len);

/* Read the gzip file path whole and decompress it (gl_gunzip; errors name path). */
int gl_read_gzip_file(const char *path, char **data, size_t *len);

/* Does path end in ".gz" (any case)? */
int gl_is_gzip_name(const char *path);

#endif
