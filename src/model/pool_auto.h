/* pool_auto.h: which pooling a checkpoint asks for (--pool auto).
 *
 * In order: the pooling the checkpoint declares (sentence-transformers'
 * modules.json and its Pooling module, or 1_Pooling/config.json alone); for
 * DistilBERT and RoBERTa, cls (the first token, which their classification
 * heads take); for BERT the tanh pooler where the checkpoint has trained
 * pooler weights, mean pooling otherwise. An explicit request always wins. */
#ifndef GL_POOL_AUTO_H
#define GL_POOL_AUTO_H

#include "io/st_config.h"
#include "model/bert.h"

typedef struct {
    gl_pool pool;       /* never GL_POOL_AUTO */
    int normalize;      /* the checkpoint declares a Normalize module after its pooling, and pool was
                         * requested as auto or is the declared one (sentence-transformers' encode
                         * L2-normalises then) */
    char source[2 * GL_ST_PATH_MAX + 32]; /* why, for the log: "from 1_Pooling/config.json", "--pool", ... */
    gl_st_config st;    /* everything the checkpoint's sentence-transformers files say */
} gl_pool_choice;

/* 1 when the checkpoint's pooler weights look trained (rule in pool_auto.c); 0 when absent or not. */
int gl_bert_pooler_trained(const gl_bert *m);

/* Resolve requested (GL_POOL_AUTO or an explicit mode) for the model m loaded
 * from dir. Reads dir's sentence-transformers files (gl_st_config_load: their
 * errors are errors here, whatever is requested). Errors: pooler requested or
 * declared without pooler weights; auto on a checkpoint with a module gloss
 * does not compute; a declared pooler (Dense module) whose weights are not
 * the checkpoint's pooler.dense.*. */
int gl_pool_resolve(const gl_bert *m, const char *dir, gl_pool requested, gl_pool_choice *out);

#endif
