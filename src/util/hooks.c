/* hooks.c: formatting for the log sink and the progress callback of hooks.h. */
#include "util/hooks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gl_log(const gl_hooks *hooks, gl_log_level level, const char *fmt, ...) {
    if (!hooks || !hooks->log) return;
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* one call per line; a leading newline (the old "\nwarning: ...", written
     * after a progress bar) and a trailing one are not lines of their own */
    char *p = buf;
    while (*p == '\n') p++;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        hooks->log(level, p, hooks->user);
        if (!nl) break;
        p = nl + 1;
    }
}

int gl_report(const gl_hooks *hooks, const gl_progress_event *event) {
    if (!hooks || !hooks->progress) return 0;
    return hooks->progress(event, hooks->user);
}
