/* fuzz_table.c: libFuzzer target for the table reader (src/io/table.c):
 * CSV, TSV, JSONL and plain text.
 *
 * Input: the first byte picks the format (byte % 4: 0 .csv, 1 .tsv, 2 .jsonl,
 * 3 .txt), the rest is the file, written to a fixed name in a per-process
 * temp directory (tmpfs /dev/shm when writable; $GLOSS_FUZZ_TMP overrides).
 * A first byte of 4..7 adds ".gz" to the name: the rest is then read as gzip
 * data (src/util/gzip.c) and decompressed before it is parsed.
 *
 * Besides the sanitizers, it checks the reader's invariants on success: at
 * least one column, unique column names found by gl_table_col, every cell
 * NUL-free strict UTF-8 of exactly cell_len bytes, row lines increasing, and
 * for plain text one row per line. Everything is freed (leak detection). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/table.h"
#include "util/utf8.h"
#include "util/error.h"

#include "fuzz_common.h"

/* ---- target ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    make_tmpdir("table");
    return 0;
}

static const char *const names[4] = {"in.csv", "in.tsv", "in.jsonl", "in.txt"};
static const char *const gz_names[4] = {"in.csv.gz", "in.tsv.gz", "in.jsonl.gz", "in.txt.gz"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int fmt = data[0] % 4, gz = data[0] >= 4 && data[0] < 8;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    const char *path = put_file(gz ? gz_names[fmt] : names[fmt], body, n);

    gl_table t;
    gl_error_clear();
    if (gl_table_read(&t, path) != 0) {
        FUZZ_CHECK(gl_error_message()[0] != 0);
        FUZZ_CHECK(t.cells == NULL && t.colnames == NULL && t.nrows == 0);
        return 0;
    }
    FUZZ_CHECK(t.ncols >= 1);
    FUZZ_CHECK(t.path && !strcmp(t.path, path));
    for (int c = 0; c < t.ncols; c++) {
        FUZZ_CHECK(t.colnames[c] != NULL);
        if (c < 64 || c == t.ncols - 1) /* names are unique (gl_table_col is linear: not for all) */
            FUZZ_CHECK(gl_table_col(&t, t.colnames[c]) == c);
    }
    /* a name that cannot be a column (names are valid UTF-8): the error path
     * that lists the columns */
    FUZZ_CHECK(gl_table_col(&t, "\xFFno such column") == -1);
    FUZZ_CHECK(strstr(gl_error_message(), "no column") != NULL);

    size_t prev_line = 0;
    for (size_t r = 0; r < t.nrows; r++) {
        FUZZ_CHECK(t.row_line[r] > prev_line); /* every record starts on a later line */
        prev_line = t.row_line[r];
        for (int c = 0; c < t.ncols; c++) {
            size_t k = r * (size_t)t.ncols + (size_t)c;
            const char *cell = gl_table_cell(&t, r, c);
            FUZZ_CHECK(cell == t.cells[k]);
            FUZZ_CHECK(strlen(cell) == t.cell_len[k]);
            FUZZ_CHECK(gl_utf8_check(cell, t.cell_len[k]) == t.cell_len[k]);
        }
    }
    if (fmt == 3 && !gz) { /* plain text: one row per line, final empty piece not a row */
        const uint8_t *b = body;
        size_t bn = n;
        if (bn >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) b += 3, bn -= 3;
        size_t lines = 0;
        for (size_t i = 0; i < bn; i++) lines += b[i] == '\n';
        if (bn && b[bn - 1] != '\n') lines++;
        FUZZ_CHECK(t.ncols == 1 && t.nrows == lines);
        FUZZ_CHECK(!strcmp(t.colnames[0], "text"));
    }
    gl_table_free(&t);
    FUZZ_CHECK(t.cells == NULL && t.nrows == 0);
    return 0;
}
