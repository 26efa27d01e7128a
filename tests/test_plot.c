/* test_plot.c: SVG line charts and scatter plots written into a fresh mkdtemp
 * directory: each file is one <svg> element, contains the XML-escaped title and
 * legend names and no raw user markup, scatter plots hold one <circle> per
 * finite point, missing values break lines, empty input gives a "no data"
 * chart, and bad arguments or an unwritable path fail with a message naming
 * the path (leaving no file behind). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/plot.h"
#include "util/error.h"
#include "util/fileio.h"

static char g_dir[256];

static const char *out_path(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    return path;
}

/* Reads a written chart (NULL and a failed check if absent). */
static char *slurp(const char *path) {
    char *data;
    size_t len;
    if (gl_read_file(path, &data, &len) != 0) {
        CHECK_MSG(0, "%s", gl_error_message());
        return NULL;
    }
    return data;
}

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* One <svg> root: starts with "<svg", ends with "</svg>\n", tags balanced. */
static void check_well_formed(const char *svg, const char *name) {
    CHECK_MSG(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0, "%s: does not start with <svg", name);
    size_t len = strlen(svg);
    CHECK_MSG(len > 7 && strcmp(svg + len - 7, "</svg>\n") == 0, "%s: does not end with </svg>", name);
    CHECK_MSG(count(svg, "<svg") == 1 && count(svg, "</svg>") == 1, "%s: more than one svg element", name);
    CHECK_MSG(count(svg, "<text") == count(svg, "</text>"), "%s: unbalanced <text>", name);
    CHECK_MSG(count(svg, "<g") == count(svg, "</g>"), "%s: unbalanced <g>", name);
    CHECK_MSG(strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL, "%s: a NaN/inf coordinate leaked", name);
    CHECK_MSG(strstr(svg, "<script") == NULL && strstr(svg, "href") == NULL, "%s: external reference", name);
}

static void test_line_chart(void) {
    const double x[] = {1, 2, 3, 4, 5, 6};
    const double loss[] = {2.1, 1.4, 0.9, NAN, 0.6, 0.55};
    const double acc[] = {0.31, 0.52, 0.66, 0.71, 0.74, 0.75};
    const gl_series s[] = {{"train loss <CE>", loss, 0}, {"val \"accuracy\" & F1", acc, 1}};
    const char *p = out_path("line.svg");
    CHECK(gl_svg_line_chart(p, "Loss & accuracy <run 'a'>", "epoch", "loss", "accuracy", x, 6, s, 2) == 0);
    char *svg = slurp(p);
    if (!svg) return;
    check_well_formed(svg, "line.svg");
    CHECK(strstr(svg, "Loss &amp; accuracy &lt;run &apos;a&apos;&gt;") != NULL);
    CHECK(strstr(svg, "train loss &lt;CE&gt;") != NULL);
    CHECK(strstr(svg, "val &quot;accuracy&quot; &amp; F1") != NULL);
    CHECK(strstr(svg, "<run") == NULL && strstr(svg, "<CE>") == NULL);
    CHECK(strstr(svg, ">epoch<") && strstr(svg, ">loss<") && strstr(svg, ">accuracy<"));
    /* the NaN breaks the loss line: two "M" moves in its path; accuracy has one */
    CHECK(count(svg, "<path") == 2);
    const char *d1 = strstr(svg, " d=\"");
    const char *d2 = d1 ? strstr(d1 + 1, " d=\"") : NULL;
    CHECK(d1 && d2);
    if (d1 && d2) {
        int m1 = 0, m2 = 0;
        for (const char *q = d1 + 4; *q != '"'; q++) m1 += *q == 'M';
        for (const char *q = d2 + 4; *q != '"'; q++) m2 += *q == 'M';
        CHECK(m1 == 2 && m2 == 1);
    }
    /* short series: one marker per finite point (5 + 6) */
    CHECK(count(svg, "<circle") == 11);
    /* nice ticks: the x axis has 1..6 in whole numbers, the accuracy axis tenths */
    CHECK(strstr(svg, ">6</text>") != NULL && strstr(svg, ">0.5</text>") != NULL);
    free(svg);

    /* x = NULL uses 0..n-1; a single point is still drawn (as a marker) */
    const double one[] = {3.5};
    const gl_series s1[] = {{"only", one, 0}};
    p = out_path("single.svg");
    CHECK(gl_svg_line_chart(p, "single", NULL, NULL, NULL, NULL, 1, s1, 1) == 0);
    svg = slurp(p);
    if (svg) {
        check_well_formed(svg, "single.svg");
        CHECK(count(svg, "<circle") == 1);
        CHECK(strstr(svg, "no data") == NULL);
        free(svg);
    }

    /* a constant long series: widened range, isolated points only get markers */
    double cx[100], cy[100];
    for (int i = 0; i < 100; i++) cx[i] = i, cy[i] = (i == 50) ? NAN : 0.25;
    cy[98] = NAN; /* leaves point 99 isolated */
    const gl_series sc[] = {{"flat", cy, 0}};
    p = out_path("const.svg");
    CHECK(gl_svg_line_chart(p, "constant", "step", "value", NULL, cx, 100, sc, 1) == 0);
    svg = slurp(p);
    if (svg) {
        check_well_formed(svg, "const.svg");
        CHECK(count(svg, "<circle") == 1);
        CHECK(strstr(svg, ">0.24<") != NULL && strstr(svg, ">0.26<") != NULL); /* ticks around 0.25 */
        free(svg);
    }

    /* n = 0, and all-NaN data: "no data" charts that still name the series */
    p = out_path("empty.svg");
    CHECK(gl_svg_line_chart(p, "empty", "x", "y", NULL, NULL, 0, s, 2) == 0);
    svg = slurp(p);
    if (svg) {
        check_well_formed(svg, "empty.svg");
        CHECK(strstr(svg, ">no data<") != NULL && strstr(svg, "train loss &lt;CE&gt;") != NULL);
        CHECK(count(svg, "<path") == 0);
        free(svg);
    }
    const double nan3[] = {NAN, NAN, NAN};
    const gl_series sn[] = {{"nothing", nan3, 0}};
    p = out_path("nan.svg");
    CHECK(gl_svg_line_chart(p, "all missing", NULL, NULL, NULL, NULL, 3, sn, 1) == 0);
    svg = slurp(p);
    if (svg) {
        check_well_formed(svg, "nan.svg");
        CHECK(strstr(svg, ">no data<") != NULL);
        free(svg);
    }
    p = out_path("noseries.svg");
    CHECK(gl_svg_line_chart(p, NULL, NULL, NULL, NULL, x, 6, NULL, 0) == 0);
    svg = slurp(p);
    if (svg) {
        check_well_formed(svg, "noseries.svg");
        CHECK(strstr(svg, ">no data<") != NULL);
        free(svg);
    }

    /* invalid UTF-8 and control characters become U+FFFD, not broken XML */
    const gl_series sb[] = {{"bad\xFF\x01name", acc, 0}};
    p = out_path("utf8.svg");
    CHECK(gl_svg_line_chart(p, "caf\xC3\xA9 \xE4\xB8\xAD", NULL, NULL, NULL, x, 6, sb, 1) == 0);
    svg = slurp(p);
    if (svg) {
        CHECK(strstr(svg, "caf\xC3\xA9 \xE4\xB8\xAD") != NULL);
        CHECK(strstr(svg, "bad\xEF\xBF\xBD\xEF\xBF\xBDname") != NULL);
        CHECK(strchr(svg, '\xFF') == NULL && strchr(svg, '\x01') == NULL);
        free(svg);
    }
}

static void test_scatter(void) {
    enum { N = 300, K = 52 };
    double x[N], y[N];
    int cls[N];
    unsigned st = 12345;
    for (int i = 0; i < N; i++) {
        st = st * 1103515245u + 12345u;
        cls[i] = (int)((st >> 16) % K);
        x[i] = cos(cls[i] * 0.37) * 10 + ((st >> 8) & 255) / 64.0;
        y[i] = sin(cls[i] * 0.37) * 10 + ((st >> 4) & 255) / 64.0;
    }
    const char *names[K];
    char buf[K][32];
    for (int k = 0; k < K; k++) {
        snprintf(buf[k], sizeof buf[k], "topic %d", k);
        names[k] = buf[k];
    }
    names[3] = "R&D <lab>";
    names[7] = NULL; /* falls back to "class 7" */
    const char *p = out_path("scatter.svg");
    CHECK(gl_svg_scatter(p, "Embeddings \"2-D\"", x, y, cls, N, K, names) == 0);
    char *svg = slurp(p);
    if (svg) {
        check_well_formed(svg, "scatter.svg");
        CHECK(count(svg, "<circle") == N);
        CHECK(strstr(svg, "Embeddings &quot;2-D&quot;") != NULL);
        CHECK(strstr(svg, ">R&amp;D &lt;lab&gt;<") != NULL);
        CHECK(strstr(svg, ">class 7<") != NULL && strstr(svg, ">topic 51<") != NULL);
        CHECK(strstr(svg, "fill-opacity") != NULL);
        free(svg);
    }

    /* NaN points are skipped: one circle per finite point */
    x[10] = NAN;
    y[20] = NAN;
    p = out_path("scatter_nan.svg");
    CHECK(gl_svg_scatter(p, "with gaps", x, y, cls, N, K, NULL) == 0);
    svg = slurp(p);
    if (svg) {
        check_well_formed(svg, "scatter_nan.svg");
        CHECK(count(svg, "<circle") == N - 2);
        CHECK(strstr(svg, ">class 0<") != NULL);
        free(svg);
    }

    /* a single point; identical points (constant ranges) */
    const double px[] = {1.5, 1.5, 1.5}, py[] = {-2, -2, -2};
    const int pc[] = {0, 1, 1};
    const char *two[] = {"a", "b"};
    p = out_path("scatter_one.svg");
    CHECK(gl_svg_scatter(p, "one", px, py, pc, 1, 2, two) == 0);
    svg = slurp(p);
    if (svg) {
        check_well_formed(svg, "scatter_one.svg");
        CHECK(count(svg, "<circle") == 1 && strstr(svg, "no data") == NULL);
        free(svg);
    }
    p = out_path("scatter_same.svg");
    CHECK(gl_svg_scatter(p, "same", px, py, pc, 3, 2, two) == 0);
    svg = slurp(p);
    if (svg) {
        CHECK(count(svg, "<circle") == 3);
        free(svg);
    }

    /* n = 0 */
    p = out_path("scatter_empty.svg");
    CHECK(gl_svg_scatter(p, "nothing yet", NULL, NULL, NULL, 0, 2, two) == 0);
    svg = slurp(p);
    if (svg) {
        check_well_formed(svg, "scatter_empty.svg");
        CHECK(strstr(svg, ">no data<") != NULL && count(svg, "<circle") == 0);
        free(svg);
    }
}

/* The call must fail, name `want` in its message, and leave no file at path. */
static void expect_error(int rc, const char *path, const char *want) {
    CHECK_MSG(rc == -1, "expected failure for %s", path);
    CHECK_MSG(strstr(gl_error_message(), want) != NULL, "message \"%s\" lacks \"%s\"", gl_error_message(), want);
    CHECK_MSG(!gl_file_exists(path), "%s was written", path);
}

static void test_errors(void) {
    const double x[] = {0, 1}, y[] = {1, 2};
    const int bad[] = {0, 2};
    const gl_series s[] = {{"s", y, 0}};
    char p[600];

    snprintf(p, sizeof p, "%s/no/such/dir/line.svg", g_dir);
    gl_error_clear();
    expect_error(gl_svg_line_chart(p, "t", NULL, NULL, NULL, x, 2, s, 1), p, p);
    snprintf(p, sizeof p, "%s/no/such/dir/scatter.svg", g_dir);
    gl_error_clear();
    expect_error(gl_svg_scatter(p, "t", x, y, bad, 1, 2, NULL), p, p);

    /* a read-only directory (skipped when running as root, which ignores modes) */
    char ro[300];
    snprintf(ro, sizeof ro, "%s/ro", g_dir);
    if (geteuid() != 0 && mkdir(ro, 0555) == 0) {
        snprintf(p, sizeof p, "%s/chart.svg", ro);
        gl_error_clear();
        expect_error(gl_svg_line_chart(p, "t", NULL, NULL, NULL, x, 2, s, 1), p, p);
        CHECK(strstr(gl_error_message(), "cannot create") != NULL);
        rmdir(ro);
    }

    snprintf(p, sizeof p, "%s/bad_class.svg", g_dir);
    gl_error_clear();
    expect_error(gl_svg_scatter(p, "t", x, y, bad, 2, 2, NULL), p, "class 2 of point 1");
    CHECK(strstr(gl_error_message(), p) != NULL);
    snprintf(p, sizeof p, "%s/null_series.svg", g_dir);
    const gl_series sn[] = {{"s", NULL, 0}};
    expect_error(gl_svg_line_chart(p, "t", NULL, NULL, NULL, x, 2, sn, 1), p, "series 0 has no values");
    snprintf(p, sizeof p, "%s/huge.svg", g_dir);
    const double huge[] = {-1e308, 1e308};
    const gl_series sh[] = {{"s", huge, 0}};
    expect_error(gl_svg_line_chart(p, "t", NULL, NULL, NULL, x, 2, sh, 1), p, "too wide");
}

/* Nothing but the charts is left in the directory (no temp files). */
static void check_no_temp_files(void) {
    DIR *d = opendir(g_dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) CHECK_MSG(strstr(e->d_name, ".tmp.") == NULL, "temp file %s left", e->d_name);
    closedir(d);
}

static void cleanup(void) {
    DIR *d = opendir(g_dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *p = gl_path_join(g_dir, e->d_name);
        if (p) unlink(p), free(p);
    }
    closedir(d);
    rmdir(g_dir);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/gloss_test_plot_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_line_chart();
    test_scatter();
    test_errors();
    check_no_temp_files();
    if (getenv("GLOSS_KEEP_PLOTS"))
        printf("charts kept in %s\n", g_dir);
    else
        cleanup();
    return check_summary("test_plot");
}
