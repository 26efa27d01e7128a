/* progress.h: progress display for long work. On a terminal, a bar redrawn in
 * place (done/total, rate, ETA, an optional status text); in a log or pipe,
 * a plain line every few seconds instead. */
#ifndef GL_PROGRESS_H
#define GL_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    int tty;
    int quiet;
    char label[64];
    const char *unit;
    size_t total;
    double t0, last_draw;
    size_t done;
} gl_progress;

double gl_now(void); /* monotonic seconds */
void gl_progress_start(gl_progress *p, FILE *f, const char *label, size_t total, const char *unit, int quiet);
/* status may be NULL; drawn at most ~10 times a second on a tty, every 10 s otherwise */
void gl_progress_update(gl_progress *p, size_t done, const char *status);
void gl_progress_finish(gl_progress *p, const char *status);

#endif
