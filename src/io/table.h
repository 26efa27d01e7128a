/* table.h: labelled text collections as an in-memory table of UTF-8 strings.
 * Formats by extension: .csv (RFC 4180: quoted fields with commas, quotes, CR/LF
 * inside), .tsv (tab-separated, same quoting), .jsonl (one JSON object per line);
 * any other extension: plain text, one document per line, a single column "text".
 * A further .gz (train.csv.gz) means gzip-compressed: decompressed in memory,
 * then read by the extension before it; gzip errors name the file too.
 * The first row of CSV/TSV is the header. Every cell is validated as UTF-8.
 * Errors name the file and the line. */
#ifndef GL_TABLE_H
#define GL_TABLE_H

#include <stddef.h>

typedef struct {
    char *path;
    int ncols;
    char **colnames;
    size_t nrows;
    char **cells;      /* nrows * ncols, row-major, each NUL-terminated */
    size_t *cell_len;  /* byte lengths (cells may contain NUL only if the input did: rejected) */
    size_t *row_line;  /* 1-based line where each row starts, for error messages */
} gl_table;

int gl_table_read(gl_table *t, const char *path);
/* Column index by name, or -1 with an error naming the file and the columns present. */
int gl_table_col(const gl_table *t, const char *name);
static inline const char *gl_table_cell(const gl_table *t, size_t row, int col) {
    return t->cells[row * (size_t)t->ncols + (size_t)col];
}
void gl_table_free(gl_table *t);

#endif
