/* progress.c: terminal progress bar or periodic log lines. */
#include "util/progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

double gl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void gl_progress_start(gl_progress *p, FILE *f, const char *label, size_t total, const char *unit, int quiet) {
    memset(p, 0, sizeof *p);
    p->f = f;
    p->tty = isatty(fileno(f));
    p->quiet = quiet;
    snprintf(p->label, sizeof p->label, "%s", label);
    p->unit = unit;
    p->total = total;
    p->t0 = p->last_draw = gl_now();
}

static void fmt_time(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) snprintf(buf, n, "--:--");
    else if (s >= 3600) snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
    else snprintf(buf, n, "%02d:%02d", (int)s / 60, (int)s % 60);
}

static void draw(gl_progress *p, const char *status, int final) {
    double el = gl_now() - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0.0;
    double eta = rate > 0 && p->total >= p->done ? (double)(p->total - p->done) / rate : -1;
    char e[32], r[32];
    fmt_time(e, sizeof e, final ? el : eta);
    fmt_time(r, sizeof r, el);
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    if (p->tty) {
        char bar[31];
        int fill = (int)(frac * 30 + 0.5);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(p->f, "\r\033[K%s [%s] %zu/%zu %.1f %s/s %s %s%s%s", p->label, bar, p->done, p->total, rate,
                p->unit, final ? "took" : "eta", e, status ? "  " : "", status ? status : "");
        if (final) fputc('\n', p->f);
    } else {
        fprintf(p->f, "%s: %zu/%zu (%.0f%%) %.1f %s/s elapsed %s%s%s\n", p->label, p->done, p->total, 100 * frac,
                rate, p->unit, r, status ? "  " : "", status ? status : "");
    }
    fflush(p->f);
}

void gl_progress_update(gl_progress *p, size_t done, const char *status) {
    p->done = done;
    if (p->quiet) return;
    double now = gl_now();
    if (now - p->last_draw < (p->tty ? 0.1 : 10.0)) return;
    p->last_draw = now;
    draw(p, status, 0);
}

void gl_progress_finish(gl_progress *p, const char *status) {
    if (p->quiet) return;
    draw(p, status, 1);
}
