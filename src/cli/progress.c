/* progress.c: the progress display and log of the `gloss` program (the
 * library reports through callbacks and never writes itself). */
#include "cli/progress.h"

#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop; /* set by the signal handler, read by the progress callback */

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1; /* SA_RESETHAND: a second signal gets the default action */
}

void cli_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_time(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) snprintf(buf, n, "--:--");
    else if (s >= 3600) snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
    else snprintf(buf, n, "%02d:%02d", (int)s / 60, (int)s % 60);
}

static void end_line(cli_display *d) {
    if (d->open) fputc('\n', stderr);
    d->open = 0;
}

static void draw(cli_display *d, const gloss_progress *p, int final) {
    char label[32], status[96] = "";
    const char *unit = "docs";
    switch (p->stage) {
    case GLOSS_STAGE_TRAIN:
        snprintf(label, sizeof label, "epoch %d/%d", p->epoch, p->epochs);
        snprintf(status, sizeof status, "loss %.4f  lr %.2e  %.1f seq/s", p->loss, p->lr, p->docs_per_s);
        unit = "steps";
        break;
    case GLOSS_STAGE_VALIDATE: snprintf(label, sizeof label, "val"); break;
    case GLOSS_STAGE_TEST: snprintf(label, sizeof label, "test"); break;
    case GLOSS_STAGE_PREDICT: snprintf(label, sizeof label, "predict"); break;
    default: snprintf(label, sizeof label, "embed"); break;
    }
    double el = p->elapsed_s, rate = el > 0 ? (double)p->done / el : 0.0;
    double eta = rate > 0 && p->total >= p->done ? (double)(p->total - p->done) / rate : -1;
    char e[32], r[32];
    fmt_time(e, sizeof e, final ? el : eta);
    fmt_time(r, sizeof r, el);
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    if (d->tty) {
        char bar[31];
        int fill = (int)(frac * 30 + 0.5);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r\033[K%s [%s] %zu/%zu %.1f %s/s %s %s%s%s", label, bar, p->done, p->total, rate, unit,
                final ? "took" : "eta", e, status[0] ? "  " : "", status);
        d->open = 1;
        if (final) end_line(d);
    } else {
        fprintf(stderr, "%s: %zu/%zu (%.0f%%) %.1f %s/s elapsed %s%s%s\n", label, p->done, p->total, 100 * frac,
                rate, unit, r, status[0] ? "  " : "", status);
    }
    fflush(stderr);
}

static int on_progress(const gloss_progress *p, void *user) {
    cli_display *d = user;
    if (!d->quiet) {
        double t = now_s();
        if (p->stage != d->stage || p->epoch != d->epoch) end_line(d), d->last_draw = t; /* a new pass */
        d->stage = p->stage, d->epoch = p->epoch;
        int final = p->done >= p->total;
        /* short evaluation passes end without a line of their own */
        if (final && (p->stage == GLOSS_STAGE_TRAIN || p->total >= 256)) draw(d, p, 1);
        else if (final) end_line(d);
        else if (t - d->last_draw >= (d->tty ? 0.1 : 10.0)) {
            draw(d, p, 0);
            d->last_draw = t;
        }
    }
    return g_stop != 0;
}

static void on_log(gloss_log_level level, const char *msg, void *user) {
    cli_display *d = user;
    if (d->quiet && level == GLOSS_LOG_INFO) return;
    end_line(d);
    int tagged = level != GLOSS_LOG_WARN || !strncmp(msg, "warning", 7);
    fprintf(stderr, "%s%s\n", tagged ? "" : "warning: ", msg);
    fflush(stderr);
}

void cli_display_init(cli_display *d, int quiet) {
    memset(d, 0, sizeof *d);
    d->quiet = quiet;
    d->tty = isatty(fileno(stderr));
    d->stage = (gloss_stage)-1;
}

gloss_callbacks cli_callbacks(cli_display *d) {
    gloss_callbacks cb = {on_log, on_progress, d};
    return cb;
}
