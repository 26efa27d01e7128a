/* train_config.h: the configuration object behind gloss_train_config_*:
 * the training options of train/trainer.h plus the strings it owns and which
 * of the options whose meaning depends on others were given. */
#ifndef GL_API_TRAIN_CONFIG_H
#define GL_API_TRAIN_CONFIG_H

#include "api/api_internal.h"
#include "train/trainer.h"

/* slots of gloss_train_config.text */
enum { GL_CFG_MODEL, GL_CFG_DATA, GL_CFG_OUT, GL_CFG_TEXT_COL, GL_CFG_LABEL_COL, GL_CFG_NTEXT };

struct gloss_train_config {
    gl_train_opts o;
    char *text[GL_CFG_NTEXT]; /* owned copies; o's string members point at them */
    int lambda_set, balance_set, head_lr_set;
};

/* Point o's string members at the owned copies (after a change or a copy). */
void gl_train_config_sync(gloss_train_config *c);

#endif
