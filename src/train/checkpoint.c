/* checkpoint.c: the options' fingerprint (what must not change across
 * --resume, also recorded in metrics.json) and the checkpoint: the weights,
 * AdamW's moments, the best epoch's weights and the run's state, written
 * atomically after every epoch (and on interruption) and read by --resume. */
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "train/train_internal.h"
#include "util/error.h"

/* A fingerprint of the options that must not change across --resume. */
json_t *gl_objective_json(const gl_objective *ob) {
    const gl_objective r = gl_objective_resolve(ob), *b = &r;
    json_t *j = json_pack("{s:s, s:b}", "loss", gl_loss_name(b->kind), "standalone", b->standalone);
    if (!(b->balance > 0)) json_object_set_new(j, "lambda", json_real(b->lambda)); /* unused with the balance */
    if (b->kind == GL_LOSS_GLOSS) {
        json_object_set_new(j, "gloss_variant",
                            json_string(b->gloss.variant == GL_GLOSS_VARIANT_PAPER ? "paper" : "reference"));
        json_object_set_new(j, "gamma", json_real(b->gamma));
        json_object_set_new(j, "sigma_mode", json_string(gl_sigma_mode_name(b->sigma_mode)));
        if (b->sigma_mode == GL_SIGMA_VALUE) json_object_set_new(j, "sigma", json_real(b->gloss.sigma));
        if (b->sigma_mode == GL_SIGMA_KNN) json_object_set_new(j, "sigma_knn", json_real(b->sigma_knn));
        if ((b->sigma_mode == GL_SIGMA_DICM || b->sigma_mode == GL_SIGMA_ROOT))
            json_object_set_new(j, "sigma_floor", json_real(b->sigma_floor));
    }
    if (b->balance > 0 && b->kind != GL_LOSS_CE) json_object_set_new(j, "balance", json_real(b->balance)); /* absent when off */
    if (b->kind == GL_LOSS_SUPCON) json_object_set_new(j, "temperature", json_real(b->temperature));
    if (b->kind == GL_LOSS_TRIPLET) {
        json_object_set_new(j, "margin", json_real(b->margin));
        json_object_set_new(j, "mining", json_string(b->batch_hard ? "hard" : "all"));
    }
    return j;
}

json_t *gl_train_opts_json(const gl_train_opts *o) {
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:s, s:i, s:f, s:I, s:s, s:i, s:I}",
                     "model", o->model_dir, "data", o->data_dir, "text_col", o->text_col, "label_col", o->label_col,
                     "epochs", o->epochs, "batch_size", o->batch_size, "max_length", o->max_length, "lr", o->lr,
                     "weight_decay", o->weight_decay, "warmup", o->warmup, "clip", o->clip, "schedule",
                     gl_schedule_name(o->schedule), "step_epoch", o->step_epoch, "step_gamma", o->step_gamma, "seed",
                     (json_int_t)o->seed, "pool", gl_pool_name(o->pool), "class_weights", o->class_weights,
                     "limit_train", (json_int_t)o->limit_train);
    json_object_set_new(j, "objective", gl_objective_json(&o->obj));
    json_object_set_new(j, "bucket", json_boolean(o->bucket));
    json_object_set_new(j, "pad_to_max", json_boolean(o->pad_to_max));
    if (o->bf16) json_object_set_new(j, "bf16", json_true()); /* absent when off: older fingerprints stay valid */
    if (o->head_lr > 0) json_object_set_new(j, "head_lr", json_real(o->head_lr)); /* likewise */
    if (o->obj.standalone) { /* the probe's settings decide the head */
        json_t *l2 = json_array();
        for (int i = 0; i < o->n_probe_l2; i++) json_array_append_new(l2, json_real(o->probe_l2[i]));
        json_object_set_new(j, "probe", json_pack("{s:s, s:o, s:i}", "fit", "lbfgs", "l2", l2, "max_iters",
                                                  o->probe_iters));
    }
    return j;
}

static json_t *diag_json(const gl_epoch_diag *d) {
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "ratio_sum", d->ratio_sum, "ratio_n", d->ratio_n,
                     "beta_sum", d->beta_sum, "lp_nodes", d->lp_nodes, "lp_correct", d->lp_correct, "neff_sum",
                     d->neff_sum, "neff_n", d->neff_n, "skipped", d->skipped, "clamped", d->clamped);
}

/* absent (a checkpoint from before the diagnostics): zeros */
static void diag_read(json_t *j, gl_epoch_diag *d) {
    memset(d, 0, sizeof *d);
    if (json_is_object(j))
        json_unpack(j, "{s?F, s?F, s?F, s?F, s?F, s?F, s?F, s?F, s?F}", "ratio_sum", &d->ratio_sum, "ratio_n",
                    &d->ratio_n, "beta_sum", &d->beta_sum, "lp_nodes", &d->lp_nodes, "lp_correct", &d->lp_correct,
                    "neff_sum", &d->neff_sum, "neff_n", &d->neff_n, "skipped", &d->skipped, "clamped", &d->clamped);
}

static json_t *state_json(const gl_train_state *st) {
    json_t *h = json_array();
    for (int i = 0; i < st->nhist; i++) {
        const gl_epoch_row *r = &st->hist[i];
        json_array_append_new(h, json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:o}", "epoch", r->epoch, "loss",
                                           r->loss, "val_accuracy", r->val_acc, "val_macro_f1", r->val_f1,
                                           "seconds", r->seconds, "tokens_per_s", r->tokens_per_s, "train_seconds",
                                           r->train_seconds, "diag", diag_json(&r->diag)));
    }
    return json_pack("{s:i, s:I, s:i, s:f, s:i, s:f, s:o, s:I, s:f, s:f, s:f, s:I, s:I, s:o}", "epochs_done",
                     st->epochs_done, "step", (json_int_t)st->step, "best_epoch", st->best_epoch, "best_f1",
                     st->best_f1, "bad_epochs", st->bad_epochs, "seconds", st->seconds, "history", h, "epoch_step",
                     (json_int_t)st->epoch_step, "epoch_loss", st->epoch_loss, "epoch_tokens", st->epoch_tokens,
                     "epoch_seconds", st->epoch_seconds, "nonfinite_steps", (json_int_t)st->nonfinite, "adam_step",
                     (json_int_t)st->adam_step, "epoch_diag", diag_json(&st->epoch_diag));
}

#define CHECKPOINT_FORMAT "gloss-checkpoint-2"

int gl_checkpoint_save(const gl_train_opts *o, const gl_bert *m, const gl_adamw *opt, const float *best,
                       const gl_train_state *st) {
    char *path = gl_out_path(o, "checkpoint.safetensors");
    if (!path) return -1;
    json_t *oj = gl_train_opts_json(o), *sj = state_json(st);
    char *os = json_dumps(oj, JSON_SORT_KEYS | JSON_COMPACT), *ss = json_dumps(sj, JSON_COMPACT);
    json_decref(oj);
    json_decref(sj);
    const char *meta[] = {"format", CHECKPOINT_FORMAT, "options", os, "state", ss, NULL};
    gl_st_entry e[4] = {{"params", m->params, 1, {(int64_t)m->size}},
                        {"adam_m", opt->m, 1, {(int64_t)m->size}},
                        {"adam_v", opt->v, 1, {(int64_t)m->size}},
                        {"best_params", best, 1, {(int64_t)m->size}}};
    int rc = (os && ss) ? gl_st_write_f32(path, e, 4, meta) : gl_error("cannot serialise checkpoint state");
    free(os);
    free(ss);
    free(path);
    return rc;
}

int gl_checkpoint_load(const gl_train_opts *o, gl_bert *m, gl_adamw *opt, float *best, gl_train_state *st) {
    char *path = gl_out_path(o, "checkpoint.safetensors");
    gl_safetensors f;
    if (!path) return -1;
    if (!gl_file_exists(path)) {
        gl_error("%s: no checkpoint to resume from", path);
        free(path);
        return -1;
    }
    if (gl_st_open(&f, path) != 0) {
        free(path);
        return -1;
    }
    int rc = 0;
    json_error_t err;
    json_t *meta = f.metadata_json ? json_loads(f.metadata_json, 0, &err) : NULL;
    const char *os = json_string_value(json_object_get(meta, "options"));
    const char *ss = json_string_value(json_object_get(meta, "state"));
    json_t *now = gl_train_opts_json(o);
    char *now_s = json_dumps(now, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(now);
    const char *fmt = json_string_value(json_object_get(meta, "format"));
    if (!os || !ss || !fmt) rc = gl_error("%s: not a gloss checkpoint (no options/state metadata)", path);
    else if (strcmp(fmt, CHECKPOINT_FORMAT) != 0)
        rc = gl_error("%s: checkpoint format '%s', this gloss reads '%s'", path, fmt, CHECKPOINT_FORMAT);
    else if (!now_s || strcmp(os, now_s) != 0)
        rc = gl_error("%s: was written with different options; resume with the same ones.\n  checkpoint: %s\n  now:        %s",
                      path, os, now_s ? now_s : "?");
    static const char *names[4] = {"params", "adam_m", "adam_v", "best_params"};
    float *dst[4] = {m->params, opt->m, opt->v, best};
    for (int i = 0; rc == 0 && i < 4; i++) {
        const gl_st_tensor *t = gl_st_find(&f, names[i]);
        if (!t || t->numel != (int64_t)m->size)
            rc = gl_error("%s: tensor '%s' missing or of the wrong size", path, names[i]);
        else rc = gl_st_read_f32(&f, t, dst[i]);
    }
    json_t *sj = rc == 0 ? json_loads(ss, 0, &err) : NULL;
    if (rc == 0 && !sj) rc = gl_error("%s: corrupt state metadata", path);
    if (rc == 0) {
        json_int_t step = 0, estep = 0, nonfinite = 0, astep = 0;
        json_t *h = NULL;
        if (json_unpack(sj, "{s:i, s:I, s:i, s:F, s:i, s:F, s:o, s:I, s:F, s:F, s:F, s:I, s:I}", "epochs_done",
                        &st->epochs_done, "step", &step, "best_epoch", &st->best_epoch, "best_f1", &st->best_f1,
                        "bad_epochs", &st->bad_epochs, "seconds", &st->seconds, "history", &h, "epoch_step", &estep,
                        "epoch_loss", &st->epoch_loss, "epoch_tokens", &st->epoch_tokens, "epoch_seconds",
                        &st->epoch_seconds, "nonfinite_steps", &nonfinite, "adam_step", &astep) != 0 ||
            !json_is_array(h) || (int)json_array_size(h) > o->epochs) {
            rc = gl_error("%s: corrupt state metadata", path);
        } else {
            st->step = step;
            st->epoch_step = estep;
            st->nonfinite = nonfinite;
            st->adam_step = astep;
            opt->step = astep;
            st->nhist = (int)json_array_size(h);
            diag_read(json_object_get(sj, "epoch_diag"), &st->epoch_diag);
            for (int i = 0; i < st->nhist; i++) {
                gl_epoch_row *r = &st->hist[i];
                r->train_seconds = 0;
                diag_read(json_object_get(json_array_get(h, (size_t)i), "diag"), &r->diag);
                json_unpack(json_array_get(h, (size_t)i), "{s:i, s:F, s:F, s:F, s:F, s:F, s?F}", "epoch",
                            &r->epoch, "loss", &r->loss, "val_accuracy", &r->val_acc, "val_macro_f1", &r->val_f1,
                            "seconds", &r->seconds, "tokens_per_s", &r->tokens_per_s, "train_seconds",
                            &r->train_seconds);
            }
        }
    }
    json_decref(sj);
    json_decref(meta);
    free(now_s);
    gl_st_close(&f);
    free(path);
    return rc;
}
