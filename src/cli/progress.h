/* progress.h: what `gloss` shows on stderr while the library works: a bar
 * redrawn in place on a terminal (done/total, rate, ETA, the loss and
 * learning rate while training), a plain line every 10 s in a log or pipe,
 * and the library's log messages. Ctrl-C and SIGTERM ask the work to stop. */
#ifndef GL_CLI_PROGRESS_H
#define GL_CLI_PROGRESS_H

#include <stdio.h>

#include "gloss.h"

typedef struct {
    int quiet;           /* no bars and no information messages (warnings still) */
    int tty;             /* stderr is a terminal */
    int open;            /* a bar is drawn and has no newline yet */
    gloss_stage stage;   /* the pass the bar shows */
    int epoch;
    double last_draw;
    int show_final;      /* PREDICT/EMBED passes: a final line only when they are long */
} cli_display;

/* callbacks for the library; display is their user pointer */
void cli_display_init(cli_display *d, int quiet);
gloss_callbacks cli_callbacks(cli_display *d);

/* Ctrl-C / SIGTERM make the progress callback answer "stop" (the library
 * then stops cleanly; training writes a checkpoint); a second signal has the
 * default effect. */
void cli_catch_signals(void);

#endif
