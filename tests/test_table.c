/* test_table.c: the CSV / TSV / JSONL / plain-text reader: every edge case with
 * its expected cells, every error path with the file name and line in the
 * message, .csv.gz files (and corrupt or truncated gzip data), and the row
 * counts of the benchmark datasets that ship in data/benchmarks (as Python's
 * csv module reads them). Inputs are written into a fresh mkdtemp directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "io/table.h"
#include "util/error.h"

static char g_dir[256];

/* Write content (n bytes) to g_dir/name; returns the path (static buffer). */
static const char *put(const char *name, const char *content, size_t n) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    unlink(path); /* a fresh file: truncating one makes ext4 flush it on close (slow) */
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    if (n) fwrite(content, 1, n, f);
    fclose(f);
    return path;
}
#define PUT(name, lit) put(name, lit, sizeof(lit) - 1)

static int cell_is(const gl_table *t, size_t row, int col, const char *want) {
    if (row >= t->nrows || col < 0 || col >= t->ncols) return 0;
    const char *got = gl_table_cell(t, row, col);
    size_t len = t->cell_len[row * (size_t)t->ncols + (size_t)col];
    if (len != strlen(want) || strcmp(got, want) != 0) {
        fprintf(stderr, "  row %zu col %d: got \"%s\" (len %zu), want \"%s\"\n", row, col, got, len, want);
        return 0;
    }
    return 1;
}

/* Reading path must fail with a message containing the path, ":line:" and what. */
static void expect_error(const char *name, const char *content, size_t n, size_t line, const char *what) {
    const char *path = put(name, content, n);
    gl_table t;
    gl_error_clear();
    int rc = gl_table_read(&t, path);
    CHECK_MSG(rc == -1, "%s: expected failure", name);
    const char *msg = gl_error_message();
    char want[600];
    if (line)
        snprintf(want, sizeof want, "%s:%zu:", path, line);
    else
        snprintf(want, sizeof want, "%s:", path);
    CHECK_MSG(strstr(msg, want) != NULL, "%s: message \"%s\" lacks \"%s\"", name, msg, want);
    CHECK_MSG(strstr(msg, what) != NULL, "%s: message \"%s\" lacks \"%s\"", name, msg, what);
    CHECK(t.cells == NULL && t.nrows == 0 && t.colnames == NULL); /* nothing left to free */
}
#define EXPECT_ERROR(name, lit, line, what) expect_error(name, lit, sizeof(lit) - 1, line, what)

static void test_csv(void) {
    /* BOM, quoted comma, doubled quotes, LF / CR / CRLF inside quotes, CRLF line
     * ends, empty fields, a trailing empty field, blank lines, literal quote in an
     * unquoted field, no final newline. */
    const char *path = PUT("a.csv",
                           "\xEF\xBB\xBFtext,label\r\n"
                           "plain,1\r\n"
                           "\"a, b\",2\n"
                           "\"say \"\"hi\"\"\",3\n"
                           "\"line1\nline2\",4\n"
                           "\"cr\rinside\",5\n"
                           "\"crlf\r\ninside\",6\n"
                           "\n"
                           "\r\n"
                           ",\n"
                           "5\" screen,\n"
                           "\"\",\"\"\"\"\n"
                           "caf\xC3\xA9 \xE4\xB8\xAD,last");
    gl_table t;
    int rc = gl_table_read(&t, path);
    CHECK_MSG(rc == 0, "%s", gl_error_message());
    if (rc) return;
    CHECK(t.ncols == 2);
    CHECK(!strcmp(t.colnames[0], "text") && !strcmp(t.colnames[1], "label"));
    CHECK(t.nrows == 10);
    CHECK(!strcmp(t.path, path));
    CHECK(cell_is(&t, 0, 0, "plain") && cell_is(&t, 0, 1, "1"));
    CHECK(cell_is(&t, 1, 0, "a, b") && cell_is(&t, 1, 1, "2"));
    CHECK(cell_is(&t, 2, 0, "say \"hi\""));
    CHECK(cell_is(&t, 3, 0, "line1\nline2") && cell_is(&t, 3, 1, "4"));
    CHECK(cell_is(&t, 4, 0, "cr\rinside"));
    CHECK(cell_is(&t, 5, 0, "crlf\r\ninside") && cell_is(&t, 5, 1, "6"));
    CHECK(cell_is(&t, 6, 0, "") && cell_is(&t, 6, 1, ""));
    CHECK(cell_is(&t, 7, 0, "5\" screen") && cell_is(&t, 7, 1, ""));
    CHECK(cell_is(&t, 8, 0, "") && cell_is(&t, 8, 1, "\""));
    CHECK(cell_is(&t, 9, 0, "caf\xC3\xA9 \xE4\xB8\xAD") && cell_is(&t, 9, 1, "last"));
    /* 1-based lines where each row starts (the header is line 1) */
    size_t lines[] = {2, 3, 4, 5, 7, 8, 12, 13, 14, 15};
    for (size_t i = 0; i < 10; i++) CHECK_MSG(t.row_line[i] == lines[i], "row %zu line %zu", i, t.row_line[i]);
    CHECK(gl_table_col(&t, "label") == 1);
    CHECK(gl_table_col(&t, "text") == 0);
    gl_error_clear();
    CHECK(gl_table_col(&t, "nope") == -1);
    CHECK(strstr(gl_error_message(), path) && strstr(gl_error_message(), "\"nope\"") &&
          strstr(gl_error_message(), "\"text\", \"label\""));
    gl_table_free(&t);
    CHECK(t.cells == NULL && t.nrows == 0);

    /* header only; a single column; a final newline after a quoted field */
    path = PUT("hdr.csv", "text,label\n");
    CHECK(gl_table_read(&t, path) == 0 && t.nrows == 0 && t.ncols == 2);
    gl_table_free(&t);
    path = PUT("one.csv", "text\nx\n\"y\"\n");
    CHECK(gl_table_read(&t, path) == 0 && t.ncols == 1 && t.nrows == 2 && cell_is(&t, 0, 0, "x") &&
          cell_is(&t, 1, 0, "y"));
    gl_table_free(&t);
}

static void test_tsv(void) {
    const char *path = PUT("a.tsv", "text\tlabel\nhello, world\t1\n\"tab\tin \"\"q\"\"\"\t2\r\n\"multi\nline\"\t3");
    gl_table t;
    int rc = gl_table_read(&t, path);
    CHECK_MSG(rc == 0, "%s", gl_error_message());
    if (rc) return;
    CHECK(t.ncols == 2 && t.nrows == 3);
    CHECK(cell_is(&t, 0, 0, "hello, world") && cell_is(&t, 0, 1, "1"));
    CHECK(cell_is(&t, 1, 0, "tab\tin \"q\"") && cell_is(&t, 1, 1, "2"));
    CHECK(cell_is(&t, 2, 0, "multi\nline") && cell_is(&t, 2, 1, "3"));
    CHECK(t.row_line[2] == 4);
    gl_table_free(&t);
}

static void test_jsonl(void) {
    /* the first object's keys, in their order, are the columns */
    const char *path = PUT("a.jsonl", "{\"text\": \"hello\", \"label\": 3, \"extra\": \"e\"}\n");
    gl_table t;
    int rc = gl_table_read(&t, path);
    CHECK_MSG(rc == 0, "%s", gl_error_message());
    if (rc) return;
    CHECK(t.ncols == 3 && !strcmp(t.colnames[0], "text") && !strcmp(t.colnames[1], "label") &&
          !strcmp(t.colnames[2], "extra"));
    CHECK(t.nrows == 1 && cell_is(&t, 0, 2, "e"));
    gl_table_free(&t);

    path = PUT("b.jsonl",
               "{\"text\": \"hello \\\"q\\\"\", \"label\": 3}\n"
               "\n"
               "{\"label\": \"neg\", \"text\": \"caf\\u00e9 \xE2\x82\xAC\", \"extra\": {\"k\": 1}}\r\n"
               "{\"text\": \"\", \"label\": 2.5}\n"
               "{\"text\": \"a\\nb\", \"label\": true}\n"
               "{\"text\": \"x\", \"label\": 0.1}");
    rc = gl_table_read(&t, path);
    CHECK_MSG(rc == 0, "%s", gl_error_message());
    if (rc) return;
    CHECK(t.ncols == 2 && t.nrows == 5);
    CHECK(cell_is(&t, 0, 0, "hello \"q\"") && cell_is(&t, 0, 1, "3"));
    CHECK(cell_is(&t, 1, 0, "caf\xC3\xA9 \xE2\x82\xAC") && cell_is(&t, 1, 1, "neg"));
    CHECK(cell_is(&t, 2, 0, "") && cell_is(&t, 2, 1, "2.5"));
    CHECK(cell_is(&t, 3, 0, "a\nb") && cell_is(&t, 3, 1, "true"));
    CHECK(cell_is(&t, 4, 1, "0.1"));
    size_t lines[] = {1, 3, 4, 5, 6};
    for (size_t i = 0; i < 5; i++) CHECK_MSG(t.row_line[i] == lines[i], "row %zu line %zu", i, t.row_line[i]);
    gl_table_free(&t);
}

static void test_text(void) {
    const char *path = PUT("a.txt", "first doc\r\n\nthird, \"quoted\"\nlast\n");
    gl_table t;
    int rc = gl_table_read(&t, path);
    CHECK_MSG(rc == 0, "%s", gl_error_message());
    if (rc) return;
    CHECK(t.ncols == 1 && !strcmp(t.colnames[0], "text") && t.nrows == 4);
    CHECK(cell_is(&t, 0, 0, "first doc") && cell_is(&t, 1, 0, "") && cell_is(&t, 2, 0, "third, \"quoted\"") &&
          cell_is(&t, 3, 0, "last"));
    CHECK(t.row_line[3] == 4);
    gl_table_free(&t);
    path = PUT("b", "no newline at end");
    CHECK(gl_table_read(&t, path) == 0 && t.nrows == 1 && cell_is(&t, 0, 0, "no newline at end"));
    gl_table_free(&t);
    path = PUT("empty.txt", "");
    CHECK(gl_table_read(&t, path) == 0 && t.nrows == 0 && t.ncols == 1);
    gl_table_free(&t);
    /* no cells at all once the BOM is skipped (regression: fuzz/fuzz_table.c found
     * NULL + 0 pointer arithmetic here, reported by clang's UBSan) */
    path = PUT("bom.txt", "\xEF\xBB\xBF");
    CHECK(gl_table_read(&t, path) == 0 && t.nrows == 0 && t.ncols == 1 && !strcmp(t.colnames[0], "text"));
    gl_table_free(&t);
}

static void test_errors(void) {
    EXPECT_ERROR("fields.csv", "text,label\na,1\nb,2,3\n", 3, "3 fields but the header has 2");
    EXPECT_ERROR("fields2.csv", "text,label\n\"multi\nline\",1\nonly\n", 4, "1 field but the header has 2");
    EXPECT_ERROR("fields.tsv", "text\tlabel\na\t1\nb\n", 3, "1 field but the header has 2");
    EXPECT_ERROR("unterminated.csv", "text,label\na,1\n\"open\nstill\nopen,2\n", 3, "unterminated quoted field");
    EXPECT_ERROR("unterminated2.csv", "text,label\na,\"", 2, "unterminated quoted field");
    EXPECT_ERROR("afterquote.csv", "text,label\na,1\n\"q\"x,2\n", 3, "after a closing quote");
    EXPECT_ERROR("afterquote2.csv", "text,label\n\"two\nlines\" ,2\n", 3, "after a closing quote");
    EXPECT_ERROR("barecr.csv", "text,label\na\rb,1\n", 2, "bare CR");
    EXPECT_ERROR("utf8.csv", "text,label\nok,1\nbad \xC3\x28,2\n", 3, "invalid UTF-8");
    EXPECT_ERROR("overlong.csv", "text,label\n\xC0\xAF,1\n", 2, "invalid UTF-8");
    EXPECT_ERROR("surrogate.txt", "a\nb\nc\xED\xA0\x80\n", 3, "invalid UTF-8");
    EXPECT_ERROR("truncated.jsonl", "{\"text\": \"a\"}\n{\"text\": \"\xE2\x82\"}\n", 2, "invalid UTF-8");
    EXPECT_ERROR("nul.csv", "text,label\na,1\nb\0c,2\n", 3, "NUL byte");
    EXPECT_ERROR("nul.txt", "a\n\0\n", 2, "NUL byte");
    EXPECT_ERROR("empty.csv", "", 0, "empty file");
    EXPECT_ERROR("blank.tsv", "\n\r\n", 0, "empty file");
    EXPECT_ERROR("dup.csv", "text,text\na,b\n", 1, "duplicate column name \"text\"");
    EXPECT_ERROR("json.jsonl", "{\"text\": \"a\"}\n\n{\"text\": }\n", 3, "invalid JSON");
    EXPECT_ERROR("array.jsonl", "{\"text\": \"a\"}\n[1, 2]\n", 2, "expected a JSON object");
    EXPECT_ERROR("missing.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\"}\n", 2, "missing key \"label\"");
    EXPECT_ERROR("null.jsonl", "{\"text\": \"a\", \"label\": null}\n", 1, "found null");
    EXPECT_ERROR("nested.jsonl", "{\"text\": {\"a\": 1}}\n", 1, "found an object");
    EXPECT_ERROR("nulesc.jsonl", "{\"text\": \"a\\u0000b\"}\n", 1, "invalid JSON");
    EXPECT_ERROR("dupkey.jsonl", "{\"text\": \"a\", \"text\": \"b\"}\n", 1, "invalid JSON");
    EXPECT_ERROR("nokeys.jsonl", "{}\n", 1, "no keys");
    EXPECT_ERROR("none.jsonl", "\n \n", 0, "no JSON objects");

    /* a file that does not exist */
    char path[512];
    snprintf(path, sizeof path, "%s/does-not-exist.csv", g_dir);
    gl_table t;
    CHECK(gl_table_read(&t, path) == -1 && strstr(gl_error_message(), path));
}

/* A larger generated CSV: one pass, linear time (printed, not asserted). */
static void test_large(void) {
    size_t rows = 200000;
    size_t cap = rows * 64 + 64, n = 0;
    char *buf = malloc(cap);
    n += (size_t)sprintf(buf + n, "text,label\n");
    for (size_t i = 0; i < rows; i++)
        n += (size_t)sprintf(buf + n, i % 3 ? "row %zu plain text here,%zu\n" : "\"row %zu, \"\"quoted\"\"\nx\",%zu\n",
                             i, i % 7);
    const char *path = put("large.csv", buf, n);
    free(buf);
    gl_table t;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = gl_table_read(&t, path);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECK_MSG(rc == 0, "%s", gl_error_message());
    if (rc) return;
    CHECK(t.nrows == rows);
    CHECK(cell_is(&t, 0, 0, "row 0, \"quoted\"\nx") && cell_is(&t, rows - 1, 1, "2")); /* 199999 % 7 */
    CHECK(t.row_line[rows - 1] == 1 + rows + rows / 3 + 1);
    double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    printf("test_table: %.1f MB CSV read in %.3f s\n", (double)n / 1e6, s);
    gl_table_free(&t);
    unlink(path);
}

/* A header of 140k columns (1 MB): the duplicate-name check is O(n log n)
 * (regression: fuzz/fuzz_table.c found the pairwise check taking 30 s), and
 * the duplicate reported is the first repeated name in file order. */
static void test_wide(void) {
    const int ncols = 140000;
    size_t n = 0;
    char *buf = malloc((size_t)ncols * 16 + 64);
    for (int i = 0; i < ncols; i++) n += (size_t)sprintf(buf + n, "%sc%d", i ? "," : "", i);
    n += (size_t)sprintf(buf + n, "\n");
    for (int i = 0; i < ncols; i++) n += (size_t)sprintf(buf + n, "%s%d", i ? "," : "", i % 10);
    n += (size_t)sprintf(buf + n, "\n");
    const char *path = put("wide.csv", buf, n);
    gl_table t;
    clock_t c0 = clock();
    int rc = gl_table_read(&t, path);
    double dt = (double)(clock() - c0) / CLOCKS_PER_SEC;
    CHECK_MSG(rc == 0, "%s", gl_error_message());
    if (rc == 0) {
        CHECK(t.ncols == ncols && t.nrows == 1 && cell_is(&t, 0, ncols - 1, "9"));
        CHECK(gl_table_col(&t, "c139999") == ncols - 1);
        gl_table_free(&t);
    }
    CHECK_MSG(dt < 2.0, "%d columns took %.2f s of CPU (quadratic duplicate check?)", ncols, dt);
    unlink(path);

    /* "c7" and "c3" both repeat; "c7" repeats first in the file */
    n = 0;
    for (int i = 0; i < 50000; i++) n += (size_t)sprintf(buf + n, "c%d,", i);
    n += (size_t)sprintf(buf + n, "c7,c3\n");
    path = put("wide_dup.csv", buf, n);
    free(buf);
    CHECK(gl_table_read(&t, path) == -1 && strstr(gl_error_message(), ":1: duplicate column name \"c7\""));
    unlink(path);
}

/* A CSV whose one text field is 100 MB (quoted, with commas, doubled quotes,
 * CR, LF, multi-byte UTF-8): read correctly with bounded memory. The reader
 * holds the file buffer (unquoting compacts in place) and the packed cells,
 * so its peak RSS may grow by about twice the file size; the bound checked is
 * 3x the file size (the sanitizer builds keep freed blocks in quarantine and
 * may touch more; still 3x). Measured in a forked child, whose peak starts at
 * the parent's RSS at fork, so the other tests do not count. The file is
 * generated here (never committed) and removed afterwards. */
static void test_huge_field(void) {
    static const char chunk[] = "caf\xC3\xA9, \"\"q\"\"\r\nline\n\xE4\xB8\xAD\t"; /* 23 bytes in the file */
    const size_t craw = sizeof chunk - 1, cval = craw - 2;      /* "" -> " twice */
    const size_t reps = ((size_t)100 << 20) / craw;
    char path[512];
    snprintf(path, sizeof path, "%s/huge_field.csv", g_dir);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs("text,label\n\"", f);
    for (size_t i = 0; i < reps; i++) fwrite(chunk, 1, craw, f);
    fputs("\",big\nsmall,x\n", f);
    int werr = ferror(f);
    long fsize = ftell(f);
    if (fclose(f) != 0 || werr) {
        fprintf(stderr, "%s: cannot write the test file\n", path);
        exit(2);
    }
    int fd[2];
    if (pipe(fd) != 0) {
        perror("pipe");
        exit(2);
    }
    fflush(stdout); /* the child must not inherit (and print again) buffered output */
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        struct rusage r0, r1;
        getrusage(RUSAGE_SELF, &r0);
        gl_table t;
        int rc = gl_table_read(&t, path);
        getrusage(RUSAGE_SELF, &r1);
        int ok = rc == 0 && t.ncols == 2 && t.nrows == 2 && t.cell_len[0] == reps * cval &&
                 !strcmp(gl_table_cell(&t, 0, 1), "big") && !strcmp(gl_table_cell(&t, 1, 0), "small") &&
                 t.row_line[1] == 3 + 2 * reps;
        const char *c = ok ? gl_table_cell(&t, 0, 0) : NULL;
        for (size_t i = 0; ok && i < reps; i += reps / 97)
            ok = !memcmp(c + i * cval, "caf\xC3\xA9, \"q\"\r\nline\n\xE4\xB8\xAD\t", cval);
        char msg[1024];
        int m = snprintf(msg, sizeof msg, "%d %ld %ld %s", ok, r0.ru_maxrss, r1.ru_maxrss,
                         rc ? gl_error_message() : "");
        if (write(fd[1], msg, (size_t)m + 1) < 0) _exit(3);
        if (rc == 0) gl_table_free(&t);
        _exit(0);
    }
    close(fd[1]);
    char msg[1024] = {0};
    size_t got = 0;
    ssize_t k;
    while (got < sizeof msg - 1 && (k = read(fd[0], msg + got, sizeof msg - 1 - got)) > 0) got += (size_t)k;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    int ok = 0;
    long kb0 = 0, kb1 = 0;
    int off = 0;
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0 && sscanf(msg, "%d %ld %ld %n", &ok, &kb0, &kb1, &off) >= 3,
              "child status %d, report '%s'", status, msg);
    CHECK_MSG(ok, "100 MB field read wrong: %s", msg + off);
    double grew = (double)(kb1 - kb0) * 1024.0;
    printf("test_table: %.0f MB field read, peak RSS grew by %.0f MB (%.2fx the file)\n", fsize / 1e6, grew / 1e6,
           grew / (double)fsize);
    CHECK_MSG(grew <= 3.0 * (double)fsize, "peak RSS grew by %.0f MB for a %.0f MB file", grew / 1e6, fsize / 1e6);
    unlink(path);
}

/* Random CSV-ish inputs: reading never crashes; on success the cells are
 * NUL-terminated at cell_len, rows start on nondecreasing lines, and every
 * row has ncols cells; on failure the message names the file. */
static void test_fuzz(void) {
    static const char *pieces[] = {"a", "b,", ",", "\"", "\"\"", "\n", "\r\n", "\r", "\t", " ", "x\"y",
                                   "\xC3\xA9", "\xE4\xB8\xAD", "\xFF", "{", "}", ":", "\"k\"", "1", "\0"};
    static const char *names[] = {"f.csv", "f.tsv", "f.jsonl", "f.txt"};
    const size_t np = sizeof pieces / sizeof pieces[0];
    uint32_t rng = 777;
    char buf[2048];
    int bad = 0, ok_reads = 0;
    for (int iter = 0; iter < 4000; iter++) {
        size_t len = 0;
        rng = rng * 1664525u + 1013904223u;
        int count = (int)(rng >> 24) % 80;
        for (int j = 0; j < count; j++) {
            rng = rng * 1664525u + 1013904223u;
            const char *p = pieces[(rng >> 16) % np];
            size_t l = p[0] ? strlen(p) : 1; /* "\0" is one NUL byte */
            memcpy(buf + len, p, l);
            len += l;
        }
        const char *path = put(names[iter % 4], buf, len);
        gl_table t;
        if (gl_table_read(&t, path) == 0) {
            ok_reads++;
            int good = t.ncols >= 1;
            for (size_t r = 0; good && r < t.nrows; r++) {
                if (r && t.row_line[r] < t.row_line[r - 1]) good = 0;
                for (int c = 0; good && c < t.ncols; c++) {
                    size_t i = r * (size_t)t.ncols + (size_t)c;
                    good = t.cells[i][t.cell_len[i]] == 0 && strlen(t.cells[i]) == t.cell_len[i];
                }
            }
            bad += !good;
            gl_table_free(&t);
        } else {
            bad += strstr(gl_error_message(), path) == NULL;
        }
    }
    CHECK_MSG(bad == 0, "%d of 4000 random inputs misbehaved", bad);
    CHECK(ok_reads > 100); /* the generator does produce readable files */
}

/* gzip of src[0..n) (deflate level 9, gzip wrapper) into a heap buffer. */
static unsigned char *gz_make(const char *src, size_t n, size_t *out_n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(2);
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)src;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (!out || deflate(&z, Z_FINISH) != Z_STREAM_END) exit(2);
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* Both tables hold the same columns, cells and row lines. */
static int same_table(const gl_table *a, const gl_table *b) {
    if (a->ncols != b->ncols || a->nrows != b->nrows) return 0;
    for (int c = 0; c < a->ncols; c++)
        if (strcmp(a->colnames[c], b->colnames[c])) return 0;
    for (size_t i = 0; i < a->nrows * (size_t)a->ncols; i++)
        if (a->cell_len[i] != b->cell_len[i] || memcmp(a->cells[i], b->cells[i], a->cell_len[i])) return 0;
    for (size_t r = 0; r < a->nrows; r++)
        if (a->row_line[r] != b->row_line[r]) return 0;
    return 1;
}

/* NAME.csv.gz (and .tsv.gz, .jsonl.gz, .txt.gz) read as NAME.csv decompressed;
 * concatenated members as `gzip -d` reads them; every damaged file (not gzip,
 * empty, truncated anywhere, a flipped byte in the data, the CRC or the
 * length, bytes after the end) an error naming the file, nothing allocated;
 * errors in the decompressed CSV name the .gz file and the line. */
static void test_gzip(void) {
    static const char csv[] = "\xEF\xBB\xBFtext,label\r\nplain,1\n\"a, b\",2\n\"line1\nline2\",4\n\ncaf\xC3\xA9,last";
    static const struct {
        const char *plain, *gz, *content;
    } fmts[] = {{"g.csv", "g.csv.gz", csv},
                {"g.tsv", "g.TSV.GZ", "text\tlabel\nhello, world\t1\n\"multi\nline\"\t3"},
                {"g.jsonl", "g.jsonl.gz", "{\"text\": \"a\", \"label\": 1}\n\n{\"label\": \"x\", \"text\": \"b\"}\n"},
                {"g.txt", "g.txt.gz", "first doc\r\n\nthird\n"},
                {"g", "g.gz", "no extension: plain text\n"}};
    for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
        size_t n = strlen(fmts[k].content), zn;
        unsigned char *z = gz_make(fmts[k].content, n, &zn);
        gl_table a, b;
        int ra = gl_table_read(&a, put(fmts[k].plain, fmts[k].content, n));
        const char *gzpath = put(fmts[k].gz, (const char *)z, zn);
        int rb = gl_table_read(&b, gzpath);
        CHECK_MSG(ra == 0 && rb == 0, "%s: %s", fmts[k].gz, gl_error_message());
        if (ra == 0 && rb == 0) {
            CHECK_MSG(same_table(&a, &b), "%s differs from %s", fmts[k].gz, fmts[k].plain);
            CHECK(!strcmp(b.path, gzpath));
        }
        if (ra == 0) gl_table_free(&a);
        if (rb == 0) gl_table_free(&b);
        free(z);
    }

    /* two members: the concatenation of their contents */
    size_t n1, n2;
    unsigned char *z1 = gz_make("text,label\na,1\n", 15, &n1), *z2 = gz_make("b,2\nc,3\n", 8, &n2);
    unsigned char *two = malloc(n1 + n2 + 16);
    memcpy(two, z1, n1);
    memcpy(two + n1, z2, n2);
    gl_table t;
    CHECK(gl_table_read(&t, put("two.csv.gz", (const char *)two, n1 + n2)) == 0 && t.nrows == 3 &&
          cell_is(&t, 2, 0, "c") && t.row_line[2] == 4);
    gl_table_free(&t);

    /* damaged files */
    size_t zn;
    unsigned char *z = gz_make(csv, sizeof csv - 1, &zn);
    unsigned char *bad = malloc(zn + 16);
    expect_error("plain.csv.gz", "text,label\na,1\n", 15, 0, "not gzip data");
    expect_error("empty.csv.gz", "", 0, 0, "not gzip data (empty file)");
    expect_error("half.csv.gz", (const char *)z, zn / 2, 0, "truncated gzip data");
    expect_error("notrailer.csv.gz", (const char *)z, zn - 8, 0, "truncated gzip data");
    expect_error("shortcrc.csv.gz", (const char *)z, zn - 3, 0, "truncated gzip data");
    expect_error("header.csv.gz", (const char *)z, 5, 0, "truncated gzip data");
    memcpy(bad, z, zn);
    bad[zn - 8] ^= 0x01; /* CRC-32 */
    expect_error("crc.csv.gz", (const char *)bad, zn, 0, "corrupt gzip data");
    memcpy(bad, z, zn);
    bad[zn - 1] ^= 0x40; /* ISIZE */
    expect_error("isize.csv.gz", (const char *)bad, zn, 0, "corrupt gzip data");
    memcpy(bad, z, zn);
    bad[2] = 7; /* compression method: not deflate */
    expect_error("method.csv.gz", (const char *)bad, zn, 0, "corrupt gzip data");
    memcpy(bad, z, zn);
    memcpy(bad + zn, "junk", 4);
    expect_error("trailing.csv.gz", (const char *)bad, zn + 4, 0, "bytes after the end of the gzip stream");
    /* a CSV error inside: the .gz file and the line of the decompressed text */
    size_t en;
    unsigned char *ez = gz_make("text,label\na,1\nb,2,3\n", 21, &en);
    expect_error("fields.csv.gz", (const char *)ez, en, 3, "3 fields but the header has 2");
    free(ez);

    /* every truncation and many random byte flips: an error naming the file or
     * (a flip the CRC cannot see is impossible, but a flip may hit the header's
     * unused fields) a table like the original; never a crash */
    int misbehaved = 0, read_ok = 0;
    char fpath[512];
    snprintf(fpath, sizeof fpath, "%s/flip.csv.gz", g_dir);
    for (size_t cut = 0; cut < zn; cut++) {
        gl_table u;
        if (gl_table_read(&u, put("flip.csv.gz", (const char *)z, cut)) == 0) {
            misbehaved++;
            gl_table_free(&u);
        } else {
            misbehaved += strstr(gl_error_message(), fpath) == NULL;
        }
    }
    gl_table ref;
    CHECK(gl_table_read(&ref, put("ref.csv", csv, sizeof csv - 1)) == 0);
    uint32_t rng = 12345;
    for (int iter = 0; iter < 2000; iter++) {
        memcpy(bad, z, zn);
        for (int f = 0; f <= iter % 3; f++) {
            rng = rng * 1664525u + 1013904223u;
            bad[(rng >> 8) % zn] ^= (unsigned char)(1u << ((rng >> 4) % 8));
        }
        gl_table u;
        if (gl_table_read(&u, put("flip.csv.gz", (const char *)bad, zn)) == 0) {
            read_ok++;
            misbehaved += !same_table(&u, &ref);
            gl_table_free(&u);
        } else {
            misbehaved += strstr(gl_error_message(), fpath) == NULL;
        }
    }
    gl_table_free(&ref);
    CHECK_MSG(misbehaved == 0, "%d damaged gzip files misbehaved (%d read)", misbehaved, read_ok);
    free(z);
    free(bad);
    free(z1);
    free(z2);
    free(two);
}

/* Row counts as Python's csv.reader gives them (header excluded). */
static void test_datasets(void) {
    static const struct {
        const char *name;
        size_t n[3];
    } sets[] = {{"mr", {6397, 711, 3554}},
                {"r8", {4936, 549, 2189}},
                {"r52", {5865, 667, 2568}},
                {"ohsumed", {3021, 336, 4043}},
                {"20ng", {10182, 1132, 7532}}};
    static const char *splits[] = {"train", "val", "test"};
    size_t cr_cells = 0;
    for (size_t d = 0; d < sizeof sets / sizeof sets[0]; d++)
        for (int s = 0; s < 3; s++) {
            char rel[64], path[512];
            snprintf(rel, sizeof rel, "%s/%s", sets[d].name, splits[s]);
            check_data_file(path, sizeof path, rel);
            gl_table t;
            int rc = gl_table_read(&t, path);
            CHECK_MSG(rc == 0, "%s", gl_error_message());
            if (rc) continue;
            CHECK_MSG(t.nrows == sets[d].n[s], "%s: %zu rows, want %zu", path, t.nrows, sets[d].n[s]);
            CHECK(t.ncols == 2 && gl_table_col(&t, "text") == 0 && gl_table_col(&t, "label") == 1);
            size_t empty_labels = 0;
            for (size_t r = 0; r < t.nrows; r++) {
                if (t.cell_len[r * 2 + 1] == 0) empty_labels++;
                if (memchr(t.cells[r * 2], '\r', t.cell_len[r * 2])) cr_cells++;
            }
            CHECK_MSG(empty_labels == 0, "%s: %zu empty labels", path, empty_labels);
            gl_table_free(&t);
        }
    /* 20ng keeps carriage returns inside quoted fields: 3 posts in train, 3 in test
     * (counted with Python's csv module) */
    CHECK_MSG(cr_cells == 6, "%zu cells with CR", cr_cells);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/gloss_table_XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_csv();
    test_tsv();
    test_jsonl();
    test_text();
    test_errors();
    test_large();
    test_huge_field();
    test_wide();
    test_fuzz();
    test_gzip();
    test_datasets();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return check_summary("test_table");
}
