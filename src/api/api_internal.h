/* api_internal.h: what the files of the API layer share: the model object,
 * the status of the current error, and the callbacks' translation into the
 * library's hooks. */
#ifndef GL_API_INTERNAL_H
#define GL_API_INTERNAL_H

#include "gloss.h"
#include "io/st_config.h"
#include "model/bert.h"
#include "model/pool_auto.h"
#include "text/tokenizer.h"
#include "util/hooks.h"

struct gloss_model {
    gl_bert bert;
    gl_tokenizer *tok;
    gl_bert_acts acts;
    int acts_ready;
    char *dir;
    gl_st_config st;       /* its sentence-transformers files, checked at load */
    gl_pool_choice choice; /* the last gloss_model_pooling */
    char **labels;         /* a classifier's class names (config.json id2label), K of them */
    int K;                 /* 0: an encoder without a classification head */
    gl_pool clf_pool;      /* a classifier's pooling (config.json gloss_pooling) */
    char kernels[512];     /* gloss_model_kernels' line */
};

/* The status for the current error message (GLOSS_ERROR when none says more). */
gloss_status gl_api_status(void);
/* -1 -> the current error's status; 0 -> GLOSS_OK */
static inline gloss_status gl_api_rc(int rc) { return rc == 0 ? GLOSS_OK : gl_api_status(); }

/* Public callbacks as the library's hooks; cb may be NULL. The adapter keeps
 * the public pointers; hooks->user points at it. */
typedef struct {
    const gloss_callbacks *cb;
} gl_api_hooks;
gl_hooks gl_api_hooks_make(gl_api_hooks *adapter, const gloss_callbacks *cb);

/* The pooled encoder forward over an in-memory batch of texts, in evaluation
 * mode (gloss_embed's work). */
int gl_api_ensure_acts(gloss_model *m, int B, int T);

#endif
