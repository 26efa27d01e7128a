/* json_file.h: whole JSON files read and written (jansson), with errors that
 * name the file; writes are atomic (temp file, fsync, rename). */
#ifndef GL_JSON_FILE_H
#define GL_JSON_FILE_H

#include <jansson.h>

/* The file's top-level object (want_array 0) or array (1), new reference;
 * NULL with gl_error set (the file, and for syntax errors jansson's line and
 * column) on failure. Duplicate keys are refused. */
json_t *gl_json_load_file(const char *path, int want_array);

/* j (not stolen) as indented JSON plus a newline, written atomically. j NULL:
 * an error (a json_pack that failed). */
int gl_json_write_file(const char *path, const json_t *j);

#endif
