/* status.c: status codes, messages, version and build information, and the
 * callbacks' translation into the library's hooks (util/hooks.h). */
#include <stdio.h>
#include <stdlib.h>

#include "api/api_internal.h"
#include "util/comm.h"
#include "util/blas_core.h"
#include "util/error.h"

GLOSS_API const char *gloss_status_name(gloss_status s) {
    switch (s) {
    case GLOSS_OK: return "ok";
    case GLOSS_ERROR: return "error";
    case GLOSS_NOMEM: return "out of memory";
    case GLOSS_IO: return "I/O error";
    case GLOSS_FORMAT: return "format error";
    case GLOSS_INVALID: return "invalid argument";
    case GLOSS_MISUSE: return "misuse";
    case GLOSS_CANCELLED: return "cancelled";
    case GLOSS_STOPPED: return "stopped";
    }
    return "unknown status";
}

gloss_status gl_api_status(void) {
    switch (gl_error_get_kind()) {
    case GL_E_NOMEM: return GLOSS_NOMEM;
    case GL_E_IO: return GLOSS_IO;
    case GL_E_FORMAT: return GLOSS_FORMAT;
    case GL_E_INVALID: return GLOSS_INVALID;
    case GL_E_MISUSE: return GLOSS_MISUSE;
    case GL_E_CANCELLED: return GLOSS_CANCELLED;
    case GL_E_STOPPED: return GLOSS_STOPPED;
    default: return GLOSS_ERROR;
    }
}

GLOSS_API const char *gloss_last_error(void) {
    return gl_error_get_kind() == GL_E_NONE ? "" : gl_error_message();
}

GLOSS_API gloss_status gloss_last_status(void) {
    return gl_error_get_kind() == GL_E_NONE ? GLOSS_OK : gl_api_status();
}

GLOSS_API const char *gloss_version(void) { return GLOSS_VERSION; }

GLOSS_API const char *gloss_build_info(void) {
    static _Thread_local char buf[768];
    snprintf(buf, sizeof buf, "gloss %s\nBLAS: %s\nBLAS kernels: %s\nMPI: %s\n", GLOSS_VERSION, gl_blas_config(),
             gl_blas_corename(), gl_comm_library());
    return buf;
}

GLOSS_API void gloss_free(void *p) { free(p); }

GLOSS_API void gloss_prefer_fast_blas(char **argv) { gl_blas_core_fix(argv); }

static void log_adapter(gl_log_level level, const char *msg, void *user) {
    const gloss_callbacks *cb = ((gl_api_hooks *)user)->cb;
    cb->log(level == GL_LOG_WARN ? GLOSS_LOG_WARN : GLOSS_LOG_INFO, msg, cb->user);
}

static int progress_adapter(const gl_progress_event *e, void *user) {
    const gloss_callbacks *cb = ((gl_api_hooks *)user)->cb;
    static const gloss_stage stage[] = {GLOSS_STAGE_TRAIN, GLOSS_STAGE_VALIDATE, GLOSS_STAGE_TEST,
                                        GLOSS_STAGE_PREDICT, GLOSS_STAGE_EMBED};
    gloss_progress p = {
        .stage = (unsigned)e->stage < sizeof stage / sizeof *stage ? stage[e->stage] : GLOSS_STAGE_EMBED,
        .epoch = e->epoch, .epochs = e->epochs, .done = e->done, .total = e->total,
        .elapsed_s = e->elapsed_s, .loss = e->loss, .lr = e->lr, .docs_per_s = e->docs_per_s};
    return cb->progress(&p, cb->user);
}

gl_hooks gl_api_hooks_make(gl_api_hooks *a, const gloss_callbacks *cb) {
    a->cb = cb;
    gl_hooks h = {0};
    if (cb) {
        h.log = cb->log ? log_adapter : NULL;
        h.progress = cb->progress ? progress_adapter : NULL;
        h.user = a;
    }
    return h;
}
