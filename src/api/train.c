/* train.c: a training run through the public API: the configuration's
 * lifetime, the checks of option combinations, and gl_train with the caller's
 * callbacks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/train_config.h"
#include "util/comm.h"
#include "util/error.h"
#include "util/fileio.h"

void gl_train_config_sync(gloss_train_config *c) {
    c->o.model_dir = c->text[GL_CFG_MODEL];
    c->o.data_dir = c->text[GL_CFG_DATA];
    c->o.out_dir = c->text[GL_CFG_OUT];
    c->o.text_col = c->text[GL_CFG_TEXT_COL];
    c->o.label_col = c->text[GL_CFG_LABEL_COL];
}

GLOSS_API gloss_train_config *gloss_train_config_new(void) {
    gloss_train_config *c = gl_calloc(1, sizeof *c);
    if (!c) return NULL;
    gl_train_opts_default(&c->o);
    c->text[GL_CFG_TEXT_COL] = gl_strdup(c->o.text_col);
    c->text[GL_CFG_LABEL_COL] = gl_strdup(c->o.label_col);
    if (!c->text[GL_CFG_TEXT_COL] || !c->text[GL_CFG_LABEL_COL]) {
        gloss_train_config_free(c);
        return NULL;
    }
    gl_train_config_sync(c);
    return c;
}

GLOSS_API void gloss_train_config_free(gloss_train_config *c) {
    if (!c) return;
    for (int i = 0; i < GL_CFG_NTEXT; i++) free(c->text[i]);
    free(c);
}

/* When out already exists, check that a file can be created in it now, not
 * after the first epoch when the checkpoint is written: a read-only directory
 * or file system then fails in a second, not in an hour. A missing out is
 * created by gl_train, which reports its own errors. */
static int check_out_dir(const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return gl_error_k(GL_E_IO, "--out %s: exists and is not a directory", dir);
    char *probe = gl_path_join(dir, ".gloss-write-check");
    if (!probe) return -1;
    gl_atomic_file af;
    int rc = 0;
    if (gl_atomic_open(&af, probe) != 0)
        rc = gl_error_k(GL_E_IO, "--out %s: cannot create files there: %s", dir, strerror(errno));
    else
        gl_atomic_abort(&af); /* removes the probe's temporary file */
    free(probe);
    return rc;
}

/* The options as they run: the rules between options that the table alone
 * cannot express. writer: this process writes the outputs (rank 0). */
static int resolve(const gloss_train_config *c, gl_train_opts *o, int writer) {
    *o = c->o;
    if (!o->model_dir || !o->data_dir || !o->out_dir)
        return gl_error_k(GL_E_INVALID, "--model, --data and --out are required");
    if (o->obj.standalone && o->obj.kind == GL_LOSS_CE)
        return gl_error_k(GL_E_INVALID,
                          "--standalone needs an embedding loss (--loss gloss, supcon, triplet or cosine)");
    /* an explicit --lambda means the fixed combination; --balance 0 turns the balance off too */
    if (c->lambda_set && c->balance_set && o->obj.balance > 0)
        return gl_error_k(GL_E_INVALID, "--lambda and --balance are two ways of weighting the embedding loss; "
                                        "give one");
    if (c->lambda_set && !c->balance_set) o->obj.balance = 0; /* otherwise GL_BALANCE_AUTO or the value given */
    if (!c->head_lr_set && (o->obj.standalone || !(o->lr > 0))) o->head_lr = 0; /* the default does not apply */
    if (o->head_lr > 0 && !(o->lr > 0))
        return gl_error_k(GL_E_INVALID, "--head-lr scales with the schedule of --lr, which must then be above 0");
    if (o->obj.standalone && o->head_lr > 0)
        return gl_error_k(GL_E_INVALID, "--head-lr has no effect with --standalone (the head is a linear probe "
                                        "fitted after each epoch)");
    return writer ? check_out_dir(o->out_dir) : 0;
}

/* metrics.json's text, read by rank 0 and sent to every process. */
static int read_metrics(const gl_train_opts *o, char **out) {
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (gl_comm_rank(o->comm) == 0) {
        char *path = gl_path_join(o->out_dir, "metrics.json");
        rc = path ? gl_read_file(path, &text, &len) : -1;
        free(path);
    }
    if (o->comm) {
        uint64_t n = len;
        rc = gl_comm_agree(o->comm, rc, NULL, -1);
        if (rc == 0) rc = gl_comm_bcast(o->comm, &n, sizeof n, 0);
        if (rc == 0 && gl_comm_rank(o->comm) != 0) {
            if ((text = gl_malloc((size_t)n + 1))) text[n] = 0;
            else rc = -1;
        }
        rc = gl_comm_agree(o->comm, rc, NULL, -1);
        if (rc == 0) rc = gl_comm_bcast(o->comm, text, (size_t)n, 0);
    }
    if (rc != 0) {
        free(text);
        return -1;
    }
    *out = text;
    return 0;
}

GLOSS_API gloss_status gloss_train(const gloss_train_config *c, const gloss_callbacks *cb, char **metrics_json) {
    if (metrics_json) *metrics_json = NULL;
    if (!c) return gl_error_k(GL_E_MISUSE, "gloss_train: config is NULL"), GLOSS_MISUSE;
    /* the processes of a distributed run (none when alone), which check the
     * options together: one that fails stops all */
    gl_comm *comm = NULL;
    if (gl_comm_open(&comm, c->o.comm_timeout) != 0) return gl_api_status();
    gl_train_opts o;
    int rc = resolve(c, &o, gl_comm_rank(comm) == 0);
    if (comm) rc = gl_comm_agree(comm, rc, NULL, -1);
    if (rc != 0) {
        gl_comm_close(comm);
        return gl_api_status();
    }
    o.comm = comm;
    gl_api_hooks ad;
    o.hooks = gl_api_hooks_make(&ad, cb);
    if (gl_comm_rank(comm) != 0) o.hooks.log = NULL; /* messages come from rank 0 alone */
    rc = gl_train(&o);
    char *text = NULL;
    if (rc == 0 && metrics_json) rc = read_metrics(&o, &text);
    gl_comm_close(comm);
    o.comm = NULL;
    if (rc == GL_TRAIN_CANCELLED) {
        gl_error_k(GL_E_CANCELLED, "cancelled: a checkpoint was written in %s; resume continues the run", o.out_dir);
        return GLOSS_CANCELLED;
    }
    if (rc == GL_TRAIN_STOPPED) {
        gl_error_k(GL_E_STOPPED, "stopped after epoch %d: a checkpoint was written in %s; resume continues the run",
                   o.stop_after, o.out_dir);
        return GLOSS_STOPPED;
    }
    if (rc != 0) return gl_api_status();
    if (metrics_json) *metrics_json = text;
    return GLOSS_OK;
}
