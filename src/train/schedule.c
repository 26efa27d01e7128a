/* schedule.c: the learning-rate schedules: constant, step (x step_gamma from
 * step_epoch on) and linear (warm-up, then linear decay to zero). */
#include <string.h>

#include "train/trainer.h"
#include "util/error.h"

const char *gl_schedule_name(gl_schedule s) {
    return s == GL_SCHED_CONSTANT ? "constant" : s == GL_SCHED_STEP ? "step" : "linear";
}

int gl_schedule_parse(const char *s, gl_schedule *out) {
    if (!strcmp(s, "constant")) *out = GL_SCHED_CONSTANT;
    else if (!strcmp(s, "step")) *out = GL_SCHED_STEP;
    else if (!strcmp(s, "linear")) *out = GL_SCHED_LINEAR;
    else return gl_error("unknown schedule '%s' (expected constant, step or linear)", s);
    return 0;
}

double gl_schedule_lr(const gl_train_opts *o, int64_t step, int64_t total_steps, int epoch) {
    switch (o->schedule) {
    case GL_SCHED_CONSTANT: return o->lr;
    case GL_SCHED_STEP: return epoch + 1 >= o->step_epoch ? o->lr * o->step_gamma : o->lr;
    case GL_SCHED_LINEAR:
    default: {
        int64_t warm = (int64_t)(o->warmup * (double)total_steps);
        if (step < warm) return o->lr * (double)(step + 1) / (double)warm;
        double rest = (double)(total_steps - warm);
        double f = rest > 0 ? (double)(total_steps - step) / rest : 0.0;
        return o->lr * (f > 0 ? f : 0);
    }
    }
}
