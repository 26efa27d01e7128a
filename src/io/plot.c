/* plot.c: self-contained SVG line charts and scatter plots.
 *
 * The output needs nothing outside the file: generic font families only, no
 * scripts, no external references. All user text (title, labels, legend names)
 * is XML-escaped; invalid UTF-8 bytes and characters XML forbids become U+FFFD.
 *
 * Axis ranges come from the finite data values: the smallest step of 1, 2, 2.5
 * or 5 times a power of ten giving at most 7-9 ticks, the range widened to
 * whole steps; a constant range is widened around its value. The data region is
 * inset a few pixels inside the frame so markers at the extremes stay visible.
 * NaN (and infinite) values are missing points: a line is broken there, a
 * scatter point is not drawn. With nothing to draw the chart says "no data".
 *
 * Colours: a 20-colour categorical palette; items 20..39 reuse it with a darker
 * shade (hollow rings in scatter plots, dotted lines in line charts), items
 * 40..59 with a lighter shade and an outline (dash-dot lines), and so on.
 * Scatter points are the only <circle> elements of a scatter plot (legend
 * swatches are rounded <rect>s), one per drawn point. */
#include "io/plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "util/error.h"
#include "util/fileio.h"

#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define FONT_SIZE 12.0
#define CHAR_W (0.6 * FONT_SIZE) /* rough advance of one character, for layout */
#define INSET 8.0                /* gap between the frame and the data region */
#define LEGEND_MAX_CHARS 40      /* longer legend names are shortened with an ellipsis */
#define MAX_TICKS 40

/* Colour-blind-aware hues first (the classic "category10" set), then ten more
 * chosen to stay apart from them and readable on white. */
static const unsigned PALETTE[20] = {
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
    0x393b79, 0xe6ab02, 0x800000, 0x00665e, 0xc51b7d, 0x66a61e, 0x80b1d3, 0xfb8072, 0x222222, 0xb39ddb,
};
#define NPAL 20

/* Palette colour of item k, shaded by its variant (k / 20 mod 3): 0 as is,
 * 1 darker (mixed 30% with black), 2 lighter (mixed 40% with white). */
static void item_colour(int k, int shade, char out[8]) {
    unsigned c = PALETTE[k % NPAL];
    double rgb[3] = {(c >> 16) & 255, (c >> 8) & 255, c & 255};
    for (int i = 0; i < 3; i++) {
        if (shade == 1) rgb[i] *= 0.7;
        if (shade == 2) rgb[i] += (255 - rgb[i]) * 0.4;
    }
    snprintf(out, 8, "#%02x%02x%02x", (unsigned)lround(rgb[0]) & 255u, (unsigned)lround(rgb[1]) & 255u,
             (unsigned)lround(rgb[2]) & 255u);
}
static int variant(int k) { return (k / NPAL) % 3; }

/* ---- text ---------------------------------------------------------------- */

/* Next character of s: its code point (U+FFFD for an invalid byte or a
 * character XML 1.0 forbids) and byte length. */
static int next_char(const char *s, int32_t *cp) {
    utf8proc_int32_t c;
    utf8proc_ssize_t len = utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &c);
    if (len < 1) {
        *cp = 0xFFFD;
        return 1;
    }
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0xFFFE || c == 0xFFFF) c = 0xFFFD;
    *cp = c;
    return (int)len;
}

static size_t text_chars(const char *s) {
    size_t n = 0;
    for (int32_t cp; *s; n++) s += next_char(s, &cp);
    return n;
}

static double text_width(const char *s, size_t max_chars, double size) {
    size_t n = text_chars(s);
    if (max_chars && n > max_chars) n = max_chars;
    return (double)n * CHAR_W * size / FONT_SIZE;
}

/* Writes s XML-escaped; with max_chars > 0, longer text is cut to max_chars - 1
 * characters plus an ellipsis. */
static void xml_text(FILE *f, const char *s, size_t max_chars) {
    if (!s) return;
    const size_t total = text_chars(s);
    size_t n = 0;
    while (*s) {
        if (max_chars && total > max_chars && n + 1 == max_chars) {
            fputs("\xE2\x80\xA6", f);
            return;
        }
        int32_t cp;
        int len = next_char(s, &cp);
        switch (cp) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\t': case '\n': case '\r': fputc(' ', f); break;
        default:
            if (cp == 0xFFFD)
                fputs("\xEF\xBF\xBD", f);
            else
                fwrite(s, 1, (size_t)len, f);
        }
        s += len;
        n++;
    }
}

/* <text x y [attrs]>escaped</text> */
static void text_at(FILE *f, double x, double y, const char *attrs, const char *s, size_t max_chars) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"%s%s>", x, y, attrs && *attrs ? " " : "", attrs ? attrs : "");
    xml_text(f, s, max_chars);
    fputs("</text>\n", f);
}

/* ---- axes ---------------------------------------------------------------- */

typedef struct {
    double lo, hi, step; /* axis range, a whole number of steps */
    double p0, p1;       /* pixel positions of lo and hi */
    int ok;              /* has data */
} axis;

/* Fit an axis with at most max_ticks ticks around [lo, hi] (finite, lo <= hi):
 * the smallest step of the form {1, 2, 2.5, 5} x 10^k whose whole-step range
 * covering [lo, hi] has at most max_ticks ticks. */
static void axis_fit(axis *a, double lo, double hi, int max_ticks) {
    const double mag = fmax(fabs(lo), fabs(hi));
    if (hi - lo <= 1e-12 * mag || hi - lo < 1e-300) { /* constant: widen around it */
        const double pad = mag > 0 ? 0.1 * mag : 1.0;
        lo -= pad;
        hi += pad;
    }
    static const double mult[] = {1, 2, 2.5, 5};
    const double raw = (hi - lo) / (max_ticks - 1), e = floor(log10(raw));
    a->step = 0;
    for (int k = -1; k <= 2 && a->step == 0; k++)
        for (int m = 0; m < 4 && a->step == 0; m++) {
            const double step = mult[m] * pow(10, e + k);
            if (step < raw * (1 - 1e-9)) continue;
            const double first = floor(lo / step + 1e-9), last = ceil(hi / step - 1e-9);
            if (last - first + 1 <= max_ticks) a->step = step, a->lo = first * step, a->hi = last * step;
        }
    if (a->hi <= a->lo) a->hi = a->lo + a->step;
    a->ok = 1;
}

static double axis_map(const axis *a, double v) { return a->p0 + (v - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0); }

static int axis_ticks(const axis *a) {
    int n = (int)floor((a->hi - a->lo) / a->step + 1e-6) + 1;
    return n < 2 ? 2 : n > MAX_TICKS ? MAX_TICKS : n;
}

static double axis_tick(const axis *a, int i) {
    double v = a->lo + i * a->step;
    return fabs(v) < a->step * 1e-9 ? 0.0 : v; /* no "-0" */
}

/* Tick label: as many decimals as the step needs, or %g for huge/tiny magnitudes. */
static void tick_label(const axis *a, double v, char *buf, size_t n) {
    const double mag = fmax(fabs(a->lo), fabs(a->hi));
    if (mag >= 1e7 || a->step < 1e-5) {
        int digits = (int)ceil(log10(mag / a->step)) + 2;
        snprintf(buf, n, "%.*g", digits < 1 ? 1 : digits > 17 ? 17 : digits, v);
        return;
    }
    int decimals = 0;
    for (double t = a->step; decimals < 10 && fabs(t - round(t)) > 1e-6 * t; t *= 10) decimals++;
    snprintf(buf, n, "%.*f", decimals, v);
}

/* Widest tick label of an axis, in pixels. */
static double tick_label_width(const axis *a) {
    double w = 0;
    char buf[64];
    for (int i = 0; a->ok && i < axis_ticks(a); i++) {
        tick_label(a, axis_tick(a, i), buf, sizeof buf);
        w = fmax(w, text_width(buf, 0, FONT_SIZE));
    }
    return w;
}

static void draw_grid(FILE *f, const axis *x, const axis *y, double fx0, double fy0, double fx1, double fy1) {
    fputs("<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n", f);
    for (int i = 0; x && x->ok && i < axis_ticks(x); i++) {
        double px = axis_map(x, axis_tick(x, i));
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", px, fy0, px, fy1);
    }
    for (int i = 0; y && y->ok && i < axis_ticks(y); i++) {
        double py = axis_map(y, axis_tick(y, i));
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", fx0, py, fx1, py);
    }
    fputs("</g>\n", f);
}

/* Tick marks and labels: an x axis along the line y = at, or a y axis along
 * x = at on the left (side < 0) or right (side > 0). */
static void draw_ticks(FILE *f, const axis *a, int vertical, double at, int side) {
    char buf[64];
    fputs("<g fill=\"#444444\" stroke=\"none\">\n", f);
    for (int i = 0; i < axis_ticks(a); i++) {
        const double v = axis_tick(a, i), p = axis_map(a, v);
        tick_label(a, v, buf, sizeof buf);
        if (!vertical) {
            fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#555555\"/>\n", p, at, p, at + 5);
            text_at(f, p, at + 19, "text-anchor=\"middle\"", buf, 0);
        } else {
            const double end = at + side * 5;
            fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#555555\"/>\n", at, p, end, p);
            text_at(f, end + side * 3, p + 4, side < 0 ? "text-anchor=\"end\"" : "text-anchor=\"start\"", buf, 0);
        }
    }
    fputs("</g>\n", f);
}

/* ---- document ------------------------------------------------------------ */

/* Document start: white background, the title centred on title_x. */
static void svg_begin(FILE *f, double w, double h, const char *title, double title_x) {
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "font-family=\"" FONT "\" font-size=\"%.0f\">\n",
            w, h, w, h, FONT_SIZE);
    fputs("<title>", f);
    xml_text(f, title ? title : "", 0);
    fputs("</title>\n", f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", w, h);
    if (title && *title) {
        /* shrink a long title to fit the width */
        double size = 17, tw = text_width(title, 0, size);
        if (tw > w - 20) size = fmax(9, size * (w - 20) / tw);
        tw = text_width(title, 0, size); /* keep it inside the image */
        title_x = fmin(fmax(title_x, 10 + tw / 2), w - 10 - tw / 2);
        char attrs[96];
        snprintf(attrs, sizeof attrs, "text-anchor=\"middle\" font-size=\"%.1f\" font-weight=\"bold\" fill=\"#222222\"",
                 size);
        text_at(f, title_x, 30, attrs, title, 0);
    }
}

static void frame(FILE *f, double x0, double y0, double x1, double y1) {
    fprintf(f,
            "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"#888888\" "
            "stroke-width=\"1\"/>\n",
            x0, y0, x1 - x0, y1 - y0);
}

static void no_data(FILE *f, double x0, double y0, double x1, double y1) {
    frame(f, x0, y0, x1, y1);
    text_at(f, (x0 + x1) / 2, (y0 + y1) / 2 + 6, "text-anchor=\"middle\" font-size=\"18\" fill=\"#888888\"", "no data",
            0);
}

static int finish(gl_atomic_file *af, const char *what) {
    fputs("</svg>\n", af->f);
    if (gl_atomic_commit(af) != 0) return gl_error_prefix("%s: ", what);
    return 0;
}

/* ---- line chart ---------------------------------------------------------- */

static const char *line_dash(int k, int right) {
    if (right) return "8 4";
    switch (variant(k)) {
    case 1: return "2 3";
    case 2: return "10 3 2 3";
    default: return NULL;
    }
}

/* Legend swatch of series k: a short line (plus a marker) at (x, y). */
static void line_swatch(FILE *f, int k, int right, double x, double y) {
    char col[8];
    item_colour(k, variant(k), col);
    const char *dash = line_dash(k, right);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"", x, y, x + 26,
            y, col);
    if (dash) fprintf(f, " stroke-dasharray=\"%s\"", dash);
    fputs("/>\n", f);
}

static double xval(const double *x, int i) { return x ? x[i] : (double)i; }

int gl_svg_line_chart(const char *path, const char *title, const char *xlabel, const char *ylabel_left,
                      const char *ylabel_right, const double *x, int n, const gl_series *series, int nseries) {
    if (!path) return gl_error_k(GL_E_FORMAT, "line chart: no output path");
    if (n < 0 || nseries < 0) return gl_error_k(GL_E_FORMAT, "%s: line chart with n = %d points, %d series", path, n, nseries);
    if (nseries > 0 && !series) return gl_error_k(GL_E_FORMAT, "%s: line chart: series array is NULL", path);
    for (int s = 0; s < nseries; s++)
        if (n > 0 && !series[s].y) return gl_error_k(GL_E_FORMAT, "%s: line chart: series %d has no values", path, s);

    /* data ranges per axis (x only where some series has a value) */
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY}; /* x, left, right */
    int right_used = 0;
    for (int s = 0; s < nseries; s++) {
        const int ax = series[s].right_axis ? 2 : 1;
        right_used |= ax == 2;
        for (int i = 0; i < n; i++) {
            const double xv = xval(x, i), yv = series[s].y[i];
            if (!isfinite(xv) || !isfinite(yv)) continue;
            lo[0] = fmin(lo[0], xv), hi[0] = fmax(hi[0], xv);
            lo[ax] = fmin(lo[ax], yv), hi[ax] = fmax(hi[ax], yv);
        }
    }
    for (int a = 0; a < 3; a++)
        if (lo[a] <= hi[a] && !isfinite(hi[a] - lo[a]))
            return gl_error_k(GL_E_FORMAT, "%s: line chart: values span too wide a range to plot", path);
    axis ax, ay[2];
    memset(&ax, 0, sizeof ax);
    memset(ay, 0, sizeof ay);
    const int has_data = lo[0] <= hi[0];
    if (has_data) {
        axis_fit(&ax, lo[0], hi[0], 8);
        for (int a = 0; a < 2; a++)
            if (lo[1 + a] <= hi[1 + a]) axis_fit(&ay[a], lo[1 + a], hi[1 + a], 7);
    }

    /* layout */
    const double W = 820, plot_h = 380, top = 52;
    const double left = 28 + (ylabel_left && *ylabel_left ? 20 : 0) + fmax(24, tick_label_width(&ay[0]));
    const double right = right_used ? 28 + (ylabel_right && *ylabel_right ? 20 : 0) + fmax(24, tick_label_width(&ay[1]))
                                    : 24;
    const double fx0 = left, fx1 = W - right, fy0 = top, fy1 = top + plot_h;
    const double legend_y0 = fy1 + (xlabel && *xlabel ? 70 : 44);
    /* legend rows: items flow left to right under the plot */
    int rows = nseries > 0 ? 1 : 0;
    {
        double cx = fx0;
        for (int s = 0; s < nseries; s++) {
            double wi = 34 + text_width(series[s].name ? series[s].name : "", LEGEND_MAX_CHARS, FONT_SIZE) +
                        (series[s].right_axis ? 13 * CHAR_W : 0) + 22;
            if (cx + wi > fx1 && cx > fx0) rows++, cx = fx0;
            cx += wi;
        }
    }
    const double H = legend_y0 + rows * 20 + 14;

    gl_atomic_file af;
    if (gl_atomic_open(&af, path) != 0) return -1;
    FILE *f = af.f;
    svg_begin(f, W, H, title, (fx0 + fx1) / 2);
    ax.p0 = fx0 + INSET, ax.p1 = fx1 - INSET;
    for (int a = 0; a < 2; a++) ay[a].p0 = fy1 - INSET, ay[a].p1 = fy0 + INSET;
    const axis *grid_y = ay[0].ok ? &ay[0] : &ay[1];

    if (!has_data) {
        no_data(f, fx0, fy0, fx1, fy1);
    } else {
        draw_grid(f, &ax, grid_y, fx0, fy0, fx1, fy1);
        for (int s = 0; s < nseries; s++) {
            const axis *a = &ay[series[s].right_axis ? 1 : 0];
            char col[8];
            item_colour(s, variant(s), col);
            /* the line, broken at missing values */
            fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" "
                       "stroke-linecap=\"round\"", col);
            const char *dash = line_dash(s, series[s].right_axis);
            if (dash) fprintf(f, " stroke-dasharray=\"%s\"", dash);
            fputs(" d=\"", f);
            int pen = 0, drawn = 0;
            for (int i = 0; i < n; i++) {
                const double xv = xval(x, i), yv = series[s].y[i];
                if (!isfinite(xv) || !isfinite(yv)) {
                    pen = 0;
                    continue;
                }
                fprintf(f, "%s%c%.2f %.2f", drawn ? " " : "", pen ? 'L' : 'M', axis_map(&ax, xv), axis_map(a, yv));
                pen = drawn = 1;
            }
            fputs("\"/>\n", f);
            /* markers: every point of a short series, else only isolated points */
            fprintf(f, "<g fill=\"%s\">\n", col);
            for (int i = 0; i < n; i++) {
                const double xv = xval(x, i), yv = series[s].y[i];
                if (!isfinite(xv) || !isfinite(yv)) continue;
                const int prev = i > 0 && isfinite(xval(x, i - 1)) && isfinite(series[s].y[i - 1]);
                const int next = i + 1 < n && isfinite(xval(x, i + 1)) && isfinite(series[s].y[i + 1]);
                if (n <= 40 || (!prev && !next))
                    fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.1f\"/>\n", axis_map(&ax, xv), axis_map(a, yv),
                            n <= 40 ? 3.0 : 3.2);
            }
            fputs("</g>\n", f);
        }
        frame(f, fx0, fy0, fx1, fy1);
        draw_ticks(f, &ax, 0, fy1, 0);
        if (ay[0].ok) draw_ticks(f, &ay[0], 1, fx0, -1);
        if (ay[1].ok) draw_ticks(f, &ay[1], 1, fx1, 1);
    }

    /* axis labels */
    const char *lab = "text-anchor=\"middle\" font-size=\"13\" fill=\"#222222\"";
    if (xlabel && *xlabel) text_at(f, (fx0 + fx1) / 2, fy1 + 42, lab, xlabel, 0);
    if (ylabel_left && *ylabel_left) {
        const double cx = 20, cy = (fy0 + fy1) / 2;
        fprintf(f, "<g transform=\"translate(%.1f %.1f) rotate(-90)\">\n", cx, cy);
        text_at(f, 0, 0, lab, ylabel_left, 0);
        fputs("</g>\n", f);
    }
    if (right_used && ylabel_right && *ylabel_right) {
        const double cx = W - 20, cy = (fy0 + fy1) / 2;
        fprintf(f, "<g transform=\"translate(%.1f %.1f) rotate(90)\">\n", cx, cy);
        text_at(f, 0, 0, lab, ylabel_right, 0);
        fputs("</g>\n", f);
    }

    /* legend */
    double cx = fx0, cy = legend_y0;
    for (int s = 0; s < nseries; s++) {
        const char *name = series[s].name ? series[s].name : "";
        const double wi = 34 + text_width(name, LEGEND_MAX_CHARS, FONT_SIZE) +
                          (series[s].right_axis ? 13 * CHAR_W : 0) + 22;
        if (cx + wi > fx1 && cx > fx0) cx = fx0, cy += 20;
        line_swatch(f, s, series[s].right_axis, cx, cy - 4);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222222\">", cx + 34, cy);
        xml_text(f, name, LEGEND_MAX_CHARS);
        if (series[s].right_axis) fputs("\xC2\xA0<tspan fill=\"#777777\">(right axis)</tspan>", f);
        fputs("</text>\n", f);
        cx += wi;
    }
    return finish(&af, "line chart");
}

/* ---- scatter plot -------------------------------------------------------- */

/* Marker attributes of class k: filled, hollow ring (darker), or lighter fill
 * with an outline, by variant. */
static void marker_style(FILE *f, int k) {
    char col[8], base[8];
    const int v = variant(k);
    item_colour(k, v, col);
    item_colour(k, 0, base);
    if (v == 1)
        fprintf(f, "fill=\"none\" stroke=\"%s\" stroke-width=\"1.4\"", col);
    else if (v == 2)
        fprintf(f, "fill=\"%s\" stroke=\"%s\" stroke-width=\"0.9\"", col, base);
    else
        fprintf(f, "fill=\"%s\"", col);
}

int gl_svg_scatter(const char *path, const char *title, const double *x, const double *y, const int *cls, int n,
                   int nclasses, const char *const *class_names) {
    if (!path) return gl_error_k(GL_E_FORMAT, "scatter plot: no output path");
    if (n < 0 || nclasses < 0) return gl_error_k(GL_E_FORMAT, "%s: scatter plot with n = %d points, %d classes", path, n, nclasses);
    if (n > 0 && (!x || !y || !cls)) return gl_error_k(GL_E_FORMAT, "%s: scatter plot: NULL coordinate or class array", path);
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int i = 0; i < n; i++) {
        if (cls[i] < 0 || cls[i] >= nclasses)
            return gl_error_k(GL_E_FORMAT, "%s: scatter plot: class %d of point %d is outside [0, %d)", path, cls[i], i, nclasses);
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        lo[0] = fmin(lo[0], x[i]), hi[0] = fmax(hi[0], x[i]);
        lo[1] = fmin(lo[1], y[i]), hi[1] = fmax(hi[1], y[i]);
    }
    const int has_data = lo[0] <= hi[0];
    if (has_data && (!isfinite(hi[0] - lo[0]) || !isfinite(hi[1] - lo[1])))
        return gl_error_k(GL_E_FORMAT, "%s: scatter plot: values span too wide a range to plot", path);
    axis ax, ay;
    memset(&ax, 0, sizeof ax);
    memset(&ay, 0, sizeof ay);
    if (has_data) {
        axis_fit(&ax, lo[0], hi[0], 10);
        axis_fit(&ay, lo[1], hi[1], 10);
    }

    /* layout: square-ish plot, legend columns on the right */
    char fallback[32];
    const double plot = 520, top = 52, row_h = 18;
    const int per_col = (int)(plot / row_h);
    const int ncols = nclasses > 0 ? (nclasses + per_col - 1) / per_col : 0;
    double name_w = 0;
    for (int k = 0; k < nclasses; k++) {
        const char *name = class_names && class_names[k] ? class_names[k] : NULL;
        if (!name) snprintf(fallback, sizeof fallback, "class %d", k), name = fallback;
        name_w = fmax(name_w, text_width(name, LEGEND_MAX_CHARS, FONT_SIZE));
    }
    const double col_w = 26 + name_w + 16;
    const double fx0 = 22 + fmax(24, tick_label_width(&ay)), fx1 = fx0 + plot, fy0 = top, fy1 = top + plot;
    const double W = fx1 + 20 + ncols * col_w + 10, H = fy1 + 40;
    const int rows = ncols > 0 ? (nclasses + ncols - 1) / ncols : 0;

    gl_atomic_file af;
    if (gl_atomic_open(&af, path) != 0) return -1;
    FILE *f = af.f;
    svg_begin(f, W, H, title, (fx0 + fx1) / 2);
    ax.p0 = fx0 + INSET, ax.p1 = fx1 - INSET;
    ay.p0 = fy1 - INSET, ay.p1 = fy0 + INSET;
    if (!has_data) {
        no_data(f, fx0, fy0, fx1, fy1);
    } else {
        draw_grid(f, &ax, &ay, fx0, fy0, fx1, fy1);
        const double r = n > 3000 ? 2.0 : n > 500 ? 2.6 : 3.4;
        fprintf(f, "<g fill-opacity=\"%.2f\" stroke-opacity=\"0.85\">\n", n > 3000 ? 0.45 : 0.6);
        for (int i = 0; i < n; i++) {
            if (!isfinite(x[i]) || !isfinite(y[i])) continue;
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.1f\" ", axis_map(&ax, x[i]), axis_map(&ay, y[i]), r);
            marker_style(f, cls[i]);
            fputs("/>\n", f);
        }
        fputs("</g>\n", f);
        frame(f, fx0, fy0, fx1, fy1);
        draw_ticks(f, &ax, 0, fy1, 0);
        draw_ticks(f, &ay, 1, fx0, -1);
    }

    /* legend: column-major, vertically centred on the plot */
    const double ly0 = (fy0 + fy1) / 2 - rows * row_h / 2 + row_h / 2;
    for (int k = 0; k < nclasses; k++) {
        const char *name = class_names && class_names[k] ? class_names[k] : NULL;
        if (!name) snprintf(fallback, sizeof fallback, "class %d", k), name = fallback;
        const double lx = fx1 + 20 + (k / rows) * col_w, ly = ly0 + (k % rows) * row_h;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" rx=\"5\" ry=\"5\" ", lx + 4, ly - 9);
        marker_style(f, k);
        fputs("/>\n", f);
        text_at(f, lx + 22, ly, "fill=\"#222222\"", name, LEGEND_MAX_CHARS);
    }
    return finish(&af, "scatter plot");
}
