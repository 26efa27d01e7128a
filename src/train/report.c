/* report.c: what a run writes and says: epochs.csv, training.svg,
 * metrics.json, the evaluation embeddings (.npy, silhouette, PCA and t-SNE
 * maps), and the log lines of each epoch and of the end. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"
#include "io/plot.h"
#include "train/embed_quality.h"
#include "train/train_internal.h"
#include "util/error.h"
#include "util/rng.h"

int gl_write_epochs_csv(const gl_train_opts *o, const gl_train_state *st) {
    char *path = gl_out_path(o, "epochs.csv");
    gl_atomic_file af;
    if (!path || gl_atomic_open(&af, path) != 0) {
        free(path);
        return -1;
    }
    fprintf(af.f, "epoch,train_loss,val_accuracy,val_macro_f1,seconds,tokens_per_s,train_seconds,grad_ratio,"
                  "embedding_weight,lp_accuracy,neighbours_median,gloss_skipped,gloss_clamped\n");
    const gl_objective *ob = &o->obj;
    const int emb = ob->kind != GL_LOSS_CE, gl = ob->kind == GL_LOSS_GLOSS, both = emb && !ob->standalone;
    for (int i = 0; i < st->nhist; i++) {
        const gl_epoch_row *r = &st->hist[i];
        const gl_epoch_diag *d = &r->diag;
        fprintf(af.f, "%d,%.6f,%.6f,%.6f,%.2f,%.1f,%.2f,", r->epoch, r->loss, r->val_acc, r->val_f1, r->seconds,
                r->tokens_per_s, r->train_seconds);
        /* empty where a column does not apply (cross-entropy alone, standalone, no G-Loss) */
        if (both && d->ratio_n > 0) fprintf(af.f, "%.6g", d->ratio_sum / d->ratio_n);
        fputc(',', af.f);
        if (both && d->ratio_n > 0) fprintf(af.f, "%.6g", d->beta_sum / d->ratio_n); /* mean weight of E */
        else if (emb) fprintf(af.f, "%.6g", ob->standalone ? 1.0 : ob->lambda);
        fputc(',', af.f);
        if (gl && d->lp_nodes > 0) fprintf(af.f, "%.6f", d->lp_correct / d->lp_nodes);
        fputc(',', af.f);
        if (gl && d->neff_n > 0) fprintf(af.f, "%.4f", d->neff_sum / d->neff_n);
        fputc(',', af.f);
        if (gl) fprintf(af.f, "%.0f,%.0f", d->skipped, d->clamped);
        else fputc(',', af.f);
        fputc('\n', af.f);
    }
    int rc = gl_atomic_commit(&af);
    free(path);
    return rc;
}

#define STEPS_HEADER "epoch,step,loss,grad_norm,lr,skipped\n"

int gl_step_log_open(gl_trainer *t, const gl_train_opts *o) {
    if (!o->log_steps || !gl_train_writer(o)) return 0;
    char *path = gl_out_path(o, "steps.csv"), *old = NULL;
    if (!path) return -1;
    size_t len = 0, keep = 0;
    /* resumed: the rows up to the checkpoint's step (a header and nothing else otherwise) */
    if (o->resume && gl_file_exists(path) && gl_read_file(path, &old, &len) == 0 &&
        len >= sizeof STEPS_HEADER - 1 && !memcmp(old, STEPS_HEADER, sizeof STEPS_HEADER - 1)) {
        keep = sizeof STEPS_HEADER - 1;
        for (const char *p = old + keep, *end = old + len, *nl; p < end; p = nl + 1) {
            int epoch;
            long long step;
            if (!(nl = memchr(p, '\n', (size_t)(end - p))) || sscanf(p, "%d,%lld", &epoch, &step) != 2 ||
                step > t->st.step)
                break;
            keep = (size_t)(nl + 1 - old);
        }
    }
    int rc = keep ? gl_write_file_atomic(path, old, keep)
                  : gl_write_file_atomic(path, STEPS_HEADER, sizeof STEPS_HEADER - 1);
    free(old);
    if (rc == 0 && !(t->step_log = fopen(path, "a"))) rc = gl_error_k(GL_E_IO, "%s: cannot append: %s", path, strerror(errno));
    free(path);
    return rc;
}

void gl_step_log_row(gl_trainer *t, int epoch, int64_t step, double loss, double gnorm, double lr, int skipped) {
    if (!t->step_log) return;
    /* %.17g: the exact doubles, so that runs can be compared bit for bit */
    fprintf(t->step_log, "%d,%lld,%.17g,%.17g,%.17g,%d\n", epoch, (long long)step, loss, gnorm, lr, skipped);
    fflush(t->step_log);
}

void gl_step_log_close(gl_trainer *t) {
    if (t->step_log) fclose(t->step_log);
    t->step_log = NULL;
}

int gl_write_curves(const gl_train_opts *o, const gl_train_state *st) {
    int n = st->nhist;
    double *x = gl_malloc(sizeof(double) * (size_t)(n ? n : 1) * 3);
    if (!x) return -1;
    double *loss = x + n, *f1 = loss + n;
    for (int i = 0; i < n; i++) {
        x[i] = st->hist[i].epoch;
        loss[i] = st->hist[i].loss;
        f1[i] = st->hist[i].val_f1;
    }
    gl_series s[2] = {{"training loss", loss, 0}, {"validation macro-F1", f1, 1}};
    char *path = gl_out_path(o, "training.svg");
    int rc = path ? gl_svg_line_chart(path, "Training loss and validation macro-F1", "epoch", "loss", "macro-F1", x,
                                      n, s, 2)
                  : -1;
    free(path);
    free(x);
    return rc;
}

int gl_write_metrics(const gl_train_opts *o, const gl_dataset *d, const gl_metrics *val, const gl_metrics *test,
                     const gl_train_state *st, json_t *extra) {
    json_t *j = json_object();
    json_object_set_new(j, "test", test ? gl_metrics_to_json(test, (const char *const *)d->labels) : json_null());
    json_object_set_new(j, "val", gl_metrics_to_json(val, (const char *const *)d->labels));
    json_object_set_new(j, "best_epoch", json_integer(st->best_epoch));
    json_object_set_new(j, "epochs_run", json_integer(st->epochs_done));
    json_object_set_new(j, "steps", json_integer(st->step));
    json_object_set_new(j, "nonfinite_steps_skipped", json_integer(st->nonfinite));
    json_object_set_new(j, "seconds", json_real(st->seconds));
    json_object_set_new(j, "train_size", json_integer((json_int_t)d->train.n));
    json_object_set_new(j, "val_size", json_integer((json_int_t)d->val.n));
    json_object_set_new(j, "val_from_train", json_boolean(d->val_from_train));
    /* how it ran (docs/distributed.md): processes of a data-parallel run, OpenMP threads in each */
    json_object_set_new(j, "processes", json_integer(gl_comm_size(o->comm)));
    json_object_set_new(j, "threads_per_process", json_integer(omp_get_max_threads()));
    json_object_set_new(j, "options", gl_train_opts_json(o));
    if (extra) json_object_update(j, extra);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    char *path = gl_out_path(o, "metrics.json");
    int rc = (s && path) ? gl_write_file_atomic(path, s, strlen(s)) : -1;
    free(s);
    free(path);
    return rc;
}

/* Silhouette of the evaluation embeddings, their .npy, and 2-D maps (t-SNE and PCA). */
int gl_embedding_report(gl_trainer *t, const gl_train_opts *o, const gl_split *s, const float *emb,
                        const char *split_name, json_t **out) {
    const int C = t->model.cfg.hidden_size, K = t->data.K;
    json_t *j = json_object();
    *out = j;
    double micro = NAN, macro = NAN;
    double *per = gl_calloc((size_t)K, sizeof(double));
    if (!per) return -1;
    json_t *sil = json_object();
    if (gl_silhouette_cosine(emb, s->label, s->n, C, K, &micro, &macro, per) == 0) {
        json_t *pc = json_object();
        for (int k = 0; k < K; k++) json_object_set_new(pc, t->data.labels[k], json_real(per[k]));
        json_object_set_new(sil, "micro", json_real(micro));
        json_object_set_new(sil, "macro", json_real(macro));
        json_object_set_new(sil, "per_class", pc);
    }
    free(per);
    json_object_set_new(sil, "split", json_string(split_name));
    json_object_set_new(sil, "distance", json_string("cosine"));
    json_object_set_new(j, "silhouette", sil);
    json_t *obj = gl_objective_json(&t->obj);
    if (t->obj.kind == GL_LOSS_GLOSS) {
        json_object_set_new(obj, "sigma", json_real(t->obj.gloss.sigma));
        if (t->obj.sigma_mode != GL_SIGMA_VALUE) json_object_set_new(obj, "sigma_documents", json_integer((json_int_t)t->sigma_used));
        if (t->sigma.neff > 0) json_object_set_new(obj, "sigma_effective_neighbours", json_real(t->sigma.neff));
        if (t->sigma.floored)
            json_object_set_new(obj, "sigma_floor",
                                json_pack("{s:f, s:f, s:f}", "heuristic_sigma", t->sigma.heuristic_sigma,
                                          "heuristic_effective_neighbours", t->sigma.heuristic_neff,
                                          "effective_neighbours", t->sigma.neff));
        const gl_gloss_stats *g = &t->gstats;
        json_object_set_new(j, "gloss_stats",
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "batches", (json_int_t)g->batches,
                                      "skipped_no_hidden", (json_int_t)g->skipped_no_hidden, "skipped_no_labelled",
                                      (json_int_t)g->skipped_no_labelled, "skipped_singular",
                                      (json_int_t)g->skipped_singular, "clamped_probabilities", (json_int_t)g->clamped,
                                      "low_degree_nodes", (json_int_t)g->low_degree, "note",
                                      "counted in this process (since the last --resume)"));
    }
    json_object_set_new(j, "objective", obj);

    char name[64];
    snprintf(name, sizeof name, "%s_embeddings.npy", split_name);
    char *p = gl_out_path(o, name);
    int rc = p ? gl_npy_write_f32(p, emb, (int64_t)s->n, C) : -1;
    free(p);
    if (rc != 0 || o->map_points <= 0 || s->n < 3) return rc;
    /* maps: PCA of everything, t-SNE of a seeded sample */
    double *xy = gl_malloc(sizeof(double) * s->n * 2);
    double *px = gl_malloc(sizeof(double) * s->n * 2);
    if (!xy || !px) {
        free(xy);
        free(px);
        return -1;
    }
    double *py = px + s->n;
    const char *const *names = (const char *const *)t->data.labels;
    if (gl_pca_2d(emb, s->n, C, xy) == 0) {
        for (size_t i = 0; i < s->n; i++) px[i] = xy[2 * i], py[i] = xy[2 * i + 1];
        char title[128];
        snprintf(title, sizeof title, "PCA of the %s embeddings (%s)", split_name, gl_loss_name(t->obj.kind));
        p = gl_out_path(o, "embedding_pca.svg");
        rc = p ? gl_svg_scatter(p, title, px, py, s->label, (int)s->n, K, names) : -1;
        free(p);
    }
    size_t m = s->n < (size_t)o->map_points ? s->n : (size_t)o->map_points;
    size_t *idx = gl_malloc(sizeof(size_t) * s->n);
    float *sub = gl_malloc(sizeof(float) * m * (size_t)C);
    int *lab = gl_malloc(sizeof(int) * m);
    if (rc == 0 && idx && sub && lab) {
        for (size_t i = 0; i < s->n; i++) idx[i] = i;
        gl_rng r = {gl_rng_key(o->seed, 0x74736e65ull)};
        gl_rng_sample_prefix(&r, idx, s->n, m);
        for (size_t i = 0; i < m; i++) {
            memcpy(sub + i * C, emb + idx[i] * C, sizeof(float) * (size_t)C);
            lab[i] = s->label[idx[i]];
        }
        gl_train_info(o, "t-SNE map of %zu %s embeddings ...", m, split_name);
        if (gl_tsne_2d(sub, m, C, 30.0, 1000, o->seed, xy) == 0) {
            for (size_t i = 0; i < m; i++) px[i] = xy[2 * i], py[i] = xy[2 * i + 1];
            char title[128];
            snprintf(title, sizeof title, "t-SNE of %zu %s embeddings (%s)", m, split_name, gl_loss_name(t->obj.kind));
            p = gl_out_path(o, "embedding_map.svg");
            rc = p ? gl_svg_scatter(p, title, px, py, lab, (int)m, K, names) : -1;
            free(p);
        }
    } else if (rc == 0) {
        rc = -1;
    }
    free(idx);
    free(sub);
    free(lab);
    free(xy);
    free(px);
    return rc;
}

void gl_train_info(const gl_train_opts *o, const char *fmt, ...) {
    if (o->quiet || !o->hooks.log) return;
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    gl_log(&o->hooks, GL_LOG_INFO, "%s", buf);
}

/* Append to a line of cap bytes holding *n (truncated at the end). */
GL_PRINTF(4, 5) static void appendf(char *line, size_t cap, size_t *n, const char *fmt, ...) {
    if (*n >= cap - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0) *n = *n + (size_t)k < cap - 1 ? *n + (size_t)k : cap - 1;
}

/* One line per epoch: how strongly the embedding loss shapes the encoder. */
static void log_diag(const gl_train_opts *o, const gl_objective *ob, const gl_epoch_diag *d) {
    char line[1024] = "";
    size_t n = 0;
    appendf(line, sizeof line, &n, "  %s:", ob->kind == GL_LOSS_GLOSS ? "G-Loss" : gl_loss_name(ob->kind));
    if (!ob->standalone && d->ratio_n > 0)
        appendf(line, sizeof line, &n, " gradient at the pooled vector %.3g x cross-entropy's (weight %.3g)",
                d->ratio_sum / d->ratio_n, d->beta_sum / d->ratio_n);
    if (ob->kind == GL_LOSS_GLOSS) {
        if (d->lp_nodes > 0)
            appendf(line, sizeof line, &n, "; propagation accuracy %.4f on hidden nodes", d->lp_correct / d->lp_nodes);
        if (d->neff_n > 0)
            appendf(line, sizeof line, &n, "; %.2f effective neighbours per row of T", d->neff_sum / d->neff_n);
        appendf(line, sizeof line, &n, "; %.0f batches skipped, %.0f nodes clamped", d->skipped, d->clamped);
    }
    gl_train_info(o, "%s", line);
}

void gl_train_log_epoch(const gl_trainer *t, const gl_train_opts *o, const gl_epoch_row *r, int improved) {
    gl_train_info(o, "epoch %d: loss %.4f  val accuracy %.4f  val macro-F1 %.4f%s  (%.1f s, %.0f tokens/s)", r->epoch,
                  r->loss, r->val_acc, r->val_f1, improved ? "  best" : "", r->seconds, r->tokens_per_s);
    if (t->obj.kind != GL_LOSS_CE) log_diag(o, &t->obj, &r->diag);
}

void gl_train_log_summary(const gl_trainer *t, const gl_train_opts *o, const gl_metrics *val, const gl_metrics *test,
                          json_t *extra) {
    gl_train_info(o, "best epoch %d: val accuracy %.4f macro-F1 %.4f", t->st.best_epoch, val->accuracy,
                  val->macro_f1);
    if (t->data.has_test)
        gl_train_info(o, "test: accuracy %.4f  macro-F1 %.4f  weighted-F1 %.4f  (%zu documents)", test->accuracy,
                      test->macro_f1, test->weighted_f1, t->data.test.n);
    json_t *sil = json_object_get(extra, "silhouette");
    gl_train_info(o, "silhouette (cosine) of the %s embeddings: %.4f (macro over classes %.4f)",
                  t->data.has_test ? "test" : "val", json_real_value(json_object_get(sil, "micro")),
                  json_real_value(json_object_get(sil, "macro")));
    gl_train_info(o, "wrote %s/{metrics.json,epochs.csv,training.svg,embedding_map.svg,model.safetensors,...}",
                  o->out_dir);
}
