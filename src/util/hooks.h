/* hooks.h: how long-running library work reports to its caller without
 * writing anywhere itself: a log sink for messages and a progress callback
 * that can ask the work to stop. Every run carries its own hooks (no
 * process-wide state); hooks with NULL members are silent. The public API
 * (include/gloss.h) maps its callbacks onto these one to one. */
#ifndef GL_HOOKS_H
#define GL_HOOKS_H

#include <stddef.h>

#include "util/error.h"

typedef enum { GL_LOG_INFO = 0, GL_LOG_WARN = 1 } gl_log_level;

/* What a progress event counts. TRAIN counts optimiser steps of one epoch;
 * the others count documents of one pass. */
typedef enum {
    GL_STAGE_TRAIN = 0, /* training steps of epoch `epoch` */
    GL_STAGE_VAL,       /* validation pass after epoch `epoch` */
    GL_STAGE_TEST,      /* the test pass of the best model */
    GL_STAGE_PREDICT,   /* a prediction pass (eval, predict) */
    GL_STAGE_EMBED,     /* an embedding pass (embed, probe features, sigma sample) */
} gl_stage;

typedef struct {
    gl_stage stage;
    int epoch, epochs;   /* 1-based epoch and the maximum; 0 outside training */
    size_t done, total;  /* steps (TRAIN) or documents; done == total ends the pass */
    double elapsed_s;    /* since the pass began */
    double loss;         /* TRAIN: running mean training loss of the epoch; else 0 */
    double lr;           /* TRAIN: encoder learning rate of the last step; else 0 */
    double docs_per_s;   /* documents per second in this pass */
} gl_progress_event;

typedef struct {
    /* One message: a complete line without its trailing newline. */
    void (*log)(gl_log_level level, const char *message, void *user);
    /* Non-zero asks the work to stop: training stops at the next step
     * boundary and writes a checkpoint (gl_train returns GL_TRAIN_CANCELLED);
     * other passes stop and fail with a GL_E_CANCELLED error. */
    int (*progress)(const gl_progress_event *event, void *user);
    void *user;
} gl_hooks;

/* Format a message and hand it to hooks->log (nothing when hooks or its log is
 * NULL). A trailing newline in fmt is dropped; embedded ones split lines. */
void gl_log(const gl_hooks *hooks, gl_log_level level, const char *fmt, ...) GL_PRINTF(3, 4);

/* Report progress; returns the callback's answer (0 when there is none). */
int gl_report(const gl_hooks *hooks, const gl_progress_event *event);

#endif
