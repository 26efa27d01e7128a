/* bert_load.c: fill the encoder's parameter buffer from a Hugging Face checkpoint
 * directory (config.json + model.safetensors), table-driven: each entry of the
 * architecture's parameter table (bert_table.c) is looked up by name, its
 * shape checked, and converted to fp32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "model/bert.h"
#include "util/error.h"
#include "util/fileio.h"

static const gl_st_tensor *find_prefixed(const gl_safetensors *st, const char *prefix, const char *name) {
    char key[160];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    return gl_st_find(st, key);
}

int gl_bert_load(gl_bert *m, const char *dir) {
    memset(m, 0, sizeof *m);
    gl_bert_config cfg;
    if (gl_config_load(&cfg, dir) != 0) return -1;
    char *path = gl_path_join(dir, "model.safetensors");
    if (!path) return -1;
    gl_safetensors st;
    if (gl_st_open(&st, path) != 0) {
        free(path);
        return -1;
    }
    gl_bert probe = {.cfg = cfg}; /* the prefix of this architecture */
    const char *prefix = "";
    if (!gl_st_find(&st, "embeddings.word_embeddings.weight") &&
        find_prefixed(&st, gl_bert_prefix(&probe), "embeddings.word_embeddings.weight"))
        prefix = gl_bert_prefix(&probe);
    /* BERT's pooler when present; RoBERTa's is not used by its head (and ignored) */
    int has_pooler = cfg.arch == GL_ARCH_BERT && find_prefixed(&st, prefix, "pooler.dense.weight") != NULL;
    const gl_st_tensor *head = gl_st_find(&st, gl_bert_head_output_name(cfg.arch));
    int num_labels = head && head->ndim == 2 && head->shape[0] > 0 && head->shape[0] < (1 << 20) ? (int)head->shape[0] : 0;
    int rc = gl_bert_init(m, &cfg, has_pooler, num_labels);
    for (int i = 0; rc == 0 && i < m->nparams; i++) {
        const gl_param *p = &m->table[i];
        const gl_st_tensor *t = find_prefixed(&st, p->head ? "" : prefix, p->name);
        if (!t) {
            rc = gl_error_k(GL_E_FORMAT, "%s: tensor '%s%s' is missing", path, p->head ? "" : prefix, p->name);
            break;
        }
        int ok = t->ndim == p->ndim;
        for (int d = 0; ok && d < p->ndim; d++) ok = t->shape[d] == p->shape[d];
        if (!ok) {
            char got[128] = "", want[64];
            size_t k = 0;
            for (int d = 0; d < t->ndim && k < sizeof got - 24; d++)
                k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
            if (p->ndim == 1) snprintf(want, sizeof want, "%lld", (long long)p->shape[0]);
            else snprintf(want, sizeof want, "%lld, %lld", (long long)p->shape[0], (long long)p->shape[1]);
            rc = gl_error_k(GL_E_FORMAT, "%s: tensor '%s' has shape [%s] but config.json implies [%s]", path, t->name, got, want);
            break;
        }
        rc = gl_st_read_f32(&st, t, m->params + p->offset);
    }
    gl_st_close(&st);
    if (rc != 0) {
        gl_bert_free(m);
        gl_error_prefix("loading model from %s: ", dir);
    }
    free(path);
    return rc;
}

int gl_bert_save(const gl_bert *m, const char *path, const char *prefix) {
    gl_st_entry *e = gl_calloc((size_t)m->nparams, sizeof *e);
    char (*names)[160] = gl_calloc((size_t)m->nparams, sizeof *names);
    if (!e || !names) {
        free(e);
        free(names);
        return -1;
    }
    for (int i = 0; i < m->nparams; i++) {
        const gl_param *p = &m->table[i];
        snprintf(names[i], sizeof names[i], "%s%s", p->head ? "" : prefix, p->name);
        e[i].name = names[i];
        e[i].data = m->params + p->offset;
        e[i].ndim = p->ndim;
        e[i].shape[0] = p->shape[0];
        e[i].shape[1] = p->shape[1];
    }
    static const char *const meta[] = {"format", "pt", NULL};
    int rc = gl_st_write_f32(path, e, m->nparams, meta);
    free(e);
    free(names);
    return rc;
}
