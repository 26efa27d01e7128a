/* config.c: a checkpoint's config.json (required) and tokenizer_config.json
 * (optional), validated into a gl_bert_config.
 *
 * model_type chooses the architecture: "bert" (or absent), "distilbert",
 * "roberta". Only the layouts gloss implements are accepted: architectures
 * named after the model type (Bert*, DistilBert*, Roberta*), hidden_act
 * "gelu" (DistilBERT's activation "gelu" or "relu"), absolute learned
 * position embeddings. Anything else is an error naming the file and key
 * rather than a model that silently computes something different. */
#include "io/config.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_file.h"
#include "util/error.h"
#include "util/fileio.h"

static const char *const arch_names[] = {"bert", "distilbert", "roberta"};
static const char *const arch_classes[] = {"Bert", "DistilBert", "Roberta"}; /* architectures' prefix */

const char *gl_arch_name(gl_arch a) { return a >= 0 && a <= GL_ARCH_ROBERTA ? arch_names[a] : "?"; }

/* An integer key in [lo, INT_MAX]. If absent: *out = def when optional, else error. */
static int get_int(const char *path, json_t *o, const char *key, int optional, int def, int lo, int *out) {
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (optional) {
            *out = def;
            return 0;
        }
        return gl_error_k(GL_E_FORMAT, "%s: missing required key \"%s\"", path, key);
    }
    if (!json_is_integer(v)) return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" must be an integer", path, key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > INT_MAX)
        return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" is %lld, expected an integer in [%d, %d]", path, key, (long long)x, lo,
                        INT_MAX);
    *out = (int)x;
    return 0;
}

/* An optional probability key in [0, 1): *out = def when absent or null. */
static int get_prob(const char *path, json_t *o, const char *key, float def, float *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v)) return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" must be a number", path, key);
    double p = json_number_value(v);
    if (!(p >= 0 && p < 1)) return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" is %g, expected 0 <= p < 1", path, key, p);
    *out = (float)p;
    return 0;
}

/* An optional string key that, when present, must equal one of the allowed values. */
static int check_string(const char *path, json_t *o, const char *key, const char *const *allowed) {
    json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (!json_is_string(v)) return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" must be a string", path, key);
    const char *s = json_string_value(v);
    for (int i = 0; allowed[i]; i++)
        if (strcmp(s, allowed[i]) == 0) return 0;
    if (allowed[1])
        return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" is \"%s\"; only \"%s\" and \"%s\" are supported", path, key, s,
                          allowed[0], allowed[1]);
    return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" is \"%s\"; only \"%s\" is supported", path, key, s, allowed[0]);
}

/* model_type: absent is BERT (older BERT checkpoints have none). */
static int parse_model_type(const char *path, json_t *o, gl_arch *arch) {
    json_t *v = json_object_get(o, "model_type");
    *arch = GL_ARCH_BERT;
    if (!v) return 0;
    if (!json_is_string(v)) return gl_error_k(GL_E_FORMAT, "%s: key \"model_type\" must be a string", path);
    const char *s = json_string_value(v);
    for (int a = 0; a <= GL_ARCH_ROBERTA; a++)
        if (strcmp(s, arch_names[a]) == 0) {
            *arch = (gl_arch)a;
            return 0;
        }
    if (strcmp(s, "xlm-roberta") == 0 || strcmp(s, "camembert") == 0)
        return gl_error_k(GL_E_FORMAT, "%s: key \"model_type\" is \"%s\": its encoder is RoBERTa's but its tokenizer is a "
                          "SentencePiece model, which gloss does not read; supported: bert, distilbert, roberta",
                          path, s);
    return gl_error_k(GL_E_FORMAT, "%s: key \"model_type\" is \"%s\", an architecture gloss does not compute; supported: "
                      "bert, distilbert, roberta",
                      path, s);
}

static int check_architectures(const char *path, json_t *o, gl_arch arch) {
    json_t *list = json_object_get(o, "architectures");
    if (!list || json_is_null(list)) return 0;
    if (!json_is_array(list)) return gl_error_k(GL_E_FORMAT, "%s: key \"architectures\" must be an array of strings", path);
    const char *want = arch_classes[arch];
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) {
        if (!json_is_string(a)) return gl_error_k(GL_E_FORMAT, "%s: key \"architectures\" must be an array of strings", path);
        if (strncmp(json_string_value(a), want, strlen(want)) != 0)
            return gl_error_k(GL_E_FORMAT, "%s: key \"architectures\" names \"%s\"; only %s* models are supported with "
                              "model_type \"%s\"",
                              path, json_string_value(a), want, arch_names[arch]);
    }
    return 0;
}

static int parse_layer_norm_eps(const char *path, json_t *o, gl_bert_config *cfg) {
    json_t *eps = json_object_get(o, "layer_norm_eps");
    if (!eps) {
        cfg->layer_norm_eps = 1e-12f;
        return 0;
    }
    if (!json_is_number(eps)) return gl_error_k(GL_E_FORMAT, "%s: key \"layer_norm_eps\" must be a number", path);
    double e = json_number_value(eps);
    /* checked after the conversion too: 1e-300 would become 0.0f, 0.99999999999 1.0f */
    float f = (float)e;
    if (!(e > 0 && e < 1) || !(f > 0 && f < 1))
        return gl_error_k(GL_E_FORMAT, "%s: key \"layer_norm_eps\" is %g, expected 0 < eps < 1 (as a float32)", path, e);
    cfg->layer_norm_eps = f;
    return 0;
}

/* BERT and RoBERTa: BertConfig's names. */
static int parse_bert_like(gl_bert_config *cfg, const char *path, json_t *o) {
    static const char *const acts[] = {"gelu", NULL};
    static const char *const pos_types[] = {"absolute", NULL};
    const int roberta = cfg->arch == GL_ARCH_ROBERTA;
    if (check_string(path, o, "hidden_act", acts) != 0) return -1; /* HF default is "gelu" */
    if (check_string(path, o, "position_embedding_type", pos_types) != 0) return -1;
    int rows;
    if (get_int(path, o, "vocab_size", 0, 0, 1, &cfg->vocab_size) != 0 ||
        get_int(path, o, "hidden_size", 0, 0, 1, &cfg->hidden_size) != 0 ||
        get_int(path, o, "num_hidden_layers", 0, 0, 1, &cfg->num_layers) != 0 ||
        get_int(path, o, "num_attention_heads", 0, 0, 1, &cfg->num_heads) != 0 ||
        get_int(path, o, "intermediate_size", 0, 0, 1, &cfg->intermediate_size) != 0 ||
        get_int(path, o, "max_position_embeddings", 0, 0, 1, &rows) != 0 ||
        get_int(path, o, "type_vocab_size", 1, 2, 1, &cfg->type_vocab_size) != 0 ||
        get_int(path, o, "pad_token_id", 1, roberta ? 1 : 0, 0, &cfg->pad_token_id) != 0)
        return -1;
    if (roberta) {
        /* token t reads position row pad_token_id + 1 + t */
        if (cfg->pad_token_id >= rows - 1)
            return gl_error_k(GL_E_FORMAT, "%s: key \"max_position_embeddings\" is %d: RoBERTa positions start after "
                              "pad_token_id %d, so it must be at least %d",
                              path, rows, cfg->pad_token_id, cfg->pad_token_id + 2);
        cfg->position_offset = cfg->pad_token_id + 1;
        float hidden_dropout;
        if (get_prob(path, o, "hidden_dropout_prob", 0.1f, &hidden_dropout) != 0 ||
            get_prob(path, o, "classifier_dropout", hidden_dropout, &cfg->head_dropout) != 0)
            return -1;
    } else {
        cfg->head_dropout = 0.1f;
    }
    cfg->max_position_embeddings = rows - cfg->position_offset;
    return parse_layer_norm_eps(path, o, cfg);
}

/* DistilBERT: DistilBertConfig's own names. */
static int parse_distilbert(gl_bert_config *cfg, const char *path, json_t *o) {
    static const char *const acts[] = {"gelu", "relu", NULL};
    if (check_string(path, o, "activation", acts) != 0) return -1; /* HF default is "gelu" */
    json_t *act = json_object_get(o, "activation");
    cfg->hidden_act = act && strcmp(json_string_value(act), "relu") == 0 ? GL_ACT_RELU : GL_ACT_GELU;
    json_t *sin = json_object_get(o, "sinusoidal_pos_embds");
    if (sin && !json_is_boolean(sin))
        return gl_error_k(GL_E_FORMAT, "%s: key \"sinusoidal_pos_embds\" must be true or false", path);
    if (json_is_true(sin))
        return gl_error_k(GL_E_FORMAT, "%s: key \"sinusoidal_pos_embds\" is true; only learned position embeddings "
                          "(false) are supported",
                          path);
    if (get_int(path, o, "vocab_size", 0, 0, 1, &cfg->vocab_size) != 0 ||
        get_int(path, o, "dim", 0, 0, 1, &cfg->hidden_size) != 0 ||
        get_int(path, o, "n_layers", 0, 0, 1, &cfg->num_layers) != 0 ||
        get_int(path, o, "n_heads", 0, 0, 1, &cfg->num_heads) != 0 ||
        get_int(path, o, "hidden_dim", 0, 0, 1, &cfg->intermediate_size) != 0 ||
        get_int(path, o, "max_position_embeddings", 0, 0, 1, &cfg->max_position_embeddings) != 0 ||
        get_int(path, o, "pad_token_id", 1, 0, 0, &cfg->pad_token_id) != 0 ||
        get_prob(path, o, "seq_classif_dropout", 0.2f, &cfg->head_dropout) != 0)
        return -1;
    cfg->type_vocab_size = 0;    /* no token types */
    cfg->layer_norm_eps = 1e-12f; /* fixed in DistilBERT (no config key) */
    return 0;
}

static int parse_config(gl_bert_config *cfg, const char *path, json_t *o) {
    if (parse_model_type(path, o, &cfg->arch) != 0 || check_architectures(path, o, cfg->arch) != 0) return -1;
    int rc = cfg->arch == GL_ARCH_DISTILBERT ? parse_distilbert(cfg, path, o) : parse_bert_like(cfg, path, o);
    if (rc != 0) return -1;
    if (cfg->pad_token_id >= cfg->vocab_size)
        return gl_error_k(GL_E_FORMAT, "%s: key \"pad_token_id\" is %d, not below vocab_size %d", path, cfg->pad_token_id,
                        cfg->vocab_size);
    if (cfg->hidden_size % cfg->num_heads != 0)
        return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" (%d) is not divisible by \"%s\" (%d)", path,
                          cfg->arch == GL_ARCH_DISTILBERT ? "dim" : "hidden_size", cfg->hidden_size,
                          cfg->arch == GL_ARCH_DISTILBERT ? "n_heads" : "num_attention_heads", cfg->num_heads);
    return 0;
}

static int parse_tokenizer_config(gl_bert_config *cfg, const char *path, json_t *o) {
    json_t *v = json_object_get(o, "do_lower_case");
    if (v) {
        if (!json_is_boolean(v)) return gl_error_k(GL_E_FORMAT, "%s: key \"do_lower_case\" must be true or false", path);
        cfg->do_lower_case = json_is_true(v);
        cfg->lowercase_declared = 1;
    }
    v = json_object_get(o, "strip_accents");
    if (v) {
        if (json_is_null(v))
            cfg->strip_accents = -1;
        else if (json_is_boolean(v))
            cfg->strip_accents = json_is_true(v);
        else
            return gl_error_k(GL_E_FORMAT, "%s: key \"strip_accents\" must be null, true or false", path);
    }
    /* HF writes a huge float (1e30) when there is no limit: treat as absent. */
    v = json_object_get(o, "model_max_length");
    if (v && json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 1000000)
        cfg->model_max_length = (int)json_integer_value(v);
    return 0;
}

int gl_config_load(gl_bert_config *cfg, const char *dir) {
    memset(cfg, 0, sizeof *cfg);
    cfg->do_lower_case = 1;
    cfg->strip_accents = -1;
    cfg->model_max_length = 0;

    char *path = gl_path_join(dir, "config.json");
    if (!path) return gl_error_prefix("%s: ", dir);
    json_t *o = gl_json_load_file(path, 0);
    int rc = o ? parse_config(cfg, path, o) : -1;
    json_decref(o);
    free(path);
    if (rc != 0) return -1;
    if (cfg->arch == GL_ARCH_ROBERTA) cfg->do_lower_case = 0; /* byte-level BPE keeps the case */

    path = gl_path_join(dir, "tokenizer_config.json");
    if (!path) return gl_error_prefix("%s: ", dir);
    if (gl_file_exists(path)) {
        o = gl_json_load_file(path, 0);
        rc = o ? parse_tokenizer_config(cfg, path, o) : -1;
        json_decref(o);
    }
    free(path);
    return rc;
}
