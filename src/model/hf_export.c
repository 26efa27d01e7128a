/* hf_export.c: write a fine-tuned classifier in Hugging Face layout; read its labels. */
#include "model/hf_export.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_file.h"
#include "io/st_config.h"
#include "util/error.h"
#include "util/fileio.h"

static int copy_file(const char *src, const char *dst) {
    char *data;
    size_t len;
    if (gl_read_file(src, &data, &len) != 0) return -1;
    int rc = gl_write_file_atomic(dst, data, len);
    free(data);
    return rc;
}

int gl_hf_export(const char *src_dir, const char *out_dir, const gl_bert *m, const gl_tokenizer *tok,
                 char *const *labels, int K, gl_pool pool, int max_length) {
    static const char *const classes[] = {"BertForSequenceClassification", "DistilBertForSequenceClassification",
                                          "RobertaForSequenceClassification"};
    static const char *const tokenizer_classes[] = {"BertTokenizer", "DistilBertTokenizer", "RobertaTokenizer"};
    char *src_cfg = gl_path_join(src_dir, "config.json"), *dst_cfg = gl_path_join(out_dir, "config.json");
    char *src_tc = gl_path_join(src_dir, "tokenizer_config.json"),
         *dst_tc = gl_path_join(out_dir, "tokenizer_config.json");
    char *dst_st = gl_path_join(out_dir, "model.safetensors");
    char *src_cst = gl_path_join(src_dir, "config_sentence_transformers.json"),
         *dst_cst = gl_path_join(out_dir, "config_sentence_transformers.json");
    int rc = (src_cfg && dst_cfg && src_tc && dst_tc && dst_st && src_cst && dst_cst) ? 0 : -1;
    gl_st_config sc = {0}; /* the source's Normalize module is carried over */
    if (rc == 0 && pool == GL_POOL_AUTO) rc = gl_error_k(GL_E_FORMAT, "%s: pooling 'auto' must be resolved before export", out_dir);
    if (rc == 0) rc = gl_st_config_load(&sc, src_dir, m->cfg.hidden_size);
    json_t *cfg = NULL;
    if (rc == 0) {
        json_error_t err;
        cfg = json_load_file(src_cfg, 0, &err);
        if (!cfg || !json_is_object(cfg)) rc = gl_error_k(GL_E_FORMAT, "%s:%d: %s", src_cfg, err.line, err.text);
    }
    if (rc == 0) {
        json_t *arch = json_array(), *id2 = json_object(), *l2i = json_object();
        json_array_append_new(arch, json_string(classes[m->cfg.arch]));
        for (int k = 0; k < K; k++) {
            char key[16];
            snprintf(key, sizeof key, "%d", k);
            json_object_set_new(id2, key, json_string(labels[k]));
            json_object_set_new(l2i, labels[k], json_integer(k));
        }
        json_object_set_new(cfg, "architectures", arch);
        json_object_set_new(cfg, "model_type", json_string(gl_arch_name(m->cfg.arch)));
        json_object_set_new(cfg, "id2label", id2);
        json_object_set_new(cfg, "label2id", l2i);
        json_object_set_new(cfg, "problem_type", json_string("single_label_classification"));
        json_object_set_new(cfg, "gloss_pooling", json_string(gl_pool_name(pool)));
        rc = gl_json_write_file(dst_cfg, cfg);
    }
    if (rc == 0) rc = gl_bert_save(m, dst_st, gl_bert_prefix(m));
    if (rc == 0) rc = gl_tokenizer_export(tok, out_dir); /* the files it was read from */
    if (rc == 0) {
        if (gl_file_exists(src_tc)) {
            rc = copy_file(src_tc, dst_tc);
        } else {
            json_t *tc = json_object();
            if (m->cfg.arch != GL_ARCH_ROBERTA)
                json_object_set_new(tc, "do_lower_case", json_boolean(m->cfg.do_lower_case));
            json_object_set_new(tc, "tokenizer_class", json_string(tokenizer_classes[m->cfg.arch]));
            rc = gl_json_write_file(dst_tc, tc);
            json_decref(tc);
        }
    }
    /* sentence-transformers: the pooling trained with, the source's Normalize, modules.json last */
    if (rc == 0 && gl_file_exists(src_cst)) rc = copy_file(src_cst, dst_cst);
    if (rc == 0)
        rc = gl_st_export(out_dir, gl_pool_name(pool), sc.normalize, m->cfg.hidden_size, max_length,
                          m->cfg.do_lower_case, m->p.pool_w, m->p.pool_b);
    json_decref(cfg);
    free(src_cst);
    free(dst_cst);
    free(src_cfg);
    free(dst_cfg);
    free(src_tc);
    free(dst_tc);
    free(dst_st);
    return rc;
}

void gl_hf_labels_free(char **labels, int K) {
    for (int k = 0; labels && k < K; k++) free(labels[k]);
    free(labels);
}

int gl_hf_labels(const char *dir, char ***labels_out, int *K_out, gl_pool *pool) {
    char *path = gl_path_join(dir, "config.json");
    if (!path) return -1;
    json_error_t err;
    json_t *cfg = json_load_file(path, 0, &err);
    int rc = 0;
    char **labels = NULL;
    int K = 0;
    if (!cfg || !json_is_object(cfg)) {
        rc = gl_error_k(GL_E_FORMAT, "%s:%d: %s", path, err.line, err.text);
        goto done;
    }
    json_t *id2 = json_object_get(cfg, "id2label");
    if (!json_is_object(id2) || json_object_size(id2) == 0) {
        rc = gl_error_k(GL_E_FORMAT, "%s: no id2label: this is not a fine-tuned classifier (train one with gloss train)", path);
        goto done;
    }
    K = (int)json_object_size(id2);
    labels = gl_calloc((size_t)K, sizeof(char *));
    for (int k = 0; labels && k < K; k++) {
        char key[16];
        snprintf(key, sizeof key, "%d", k);
        json_t *v = json_object_get(id2, key);
        if (!json_is_string(v)) {
            rc = gl_error_k(GL_E_FORMAT, "%s: id2label has no string entry \"%d\" (ids must be 0..%d)", path, k, K - 1);
            goto done;
        }
        labels[k] = gl_strdup(json_string_value(v));
    }
    if (!labels) rc = -1;
    /* without gloss_pooling, what the architecture's classification head takes:
     * BERT the pooler, DistilBERT and RoBERTa the first token */
    json_t *mt = json_object_get(cfg, "model_type");
    int first_token = json_is_string(mt) && (strcmp(json_string_value(mt), "distilbert") == 0 ||
                                             strcmp(json_string_value(mt), "roberta") == 0);
    *pool = first_token ? GL_POOL_CLS : GL_POOL_POOLER;
    json_t *p = json_object_get(cfg, "gloss_pooling");
    if (rc == 0 && p && !json_is_string(p)) rc = gl_error_k(GL_E_FORMAT, "%s: key \"gloss_pooling\" must be a string", path);
    if (rc == 0 && json_is_string(p) && gl_pool_parse(json_string_value(p), pool) != 0)
        rc = gl_error_prefix("%s: key \"gloss_pooling\": ", path);
    if (rc == 0 && *pool == GL_POOL_AUTO)
        rc = gl_error_k(GL_E_FORMAT, "%s: key \"gloss_pooling\" is \"auto\"; a fine-tuned model records the pooling it was "
                      "trained with", path);
done:
    if (rc != 0) {
        gl_hf_labels_free(labels, K);
        labels = NULL;
        K = 0;
    }
    *labels_out = labels;
    *K_out = K;
    json_decref(cfg);
    free(path);
    return rc;
}
