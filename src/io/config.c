/* config.c: a BERT-family checkpoint's config.json (required) and
 * tokenizer_config.json (optional), validated into a gl_bert_config.
 *
 * Only the layout gloss implements is accepted: model_type "bert" (or absent),
 * architectures named Bert*, hidden_act "gelu", absolute position embeddings.
 * Anything else is an error naming the file and key rather than a model that
 * silently computes something different. */
#include "io/config.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_file.h"
#include "util/error.h"
#include "util/fileio.h"

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

/* An optional string key that, when present, must equal one of the allowed values. */
static int check_string(const char *path, json_t *o, const char *key, const char *const *allowed) {
    json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (!json_is_string(v)) return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" must be a string", path, key);
    const char *s = json_string_value(v);
    for (int i = 0; allowed[i]; i++)
        if (strcmp(s, allowed[i]) == 0) return 0;
    return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" is \"%s\"; only \"%s\" is supported", path, key, s, allowed[0]);
}

static int parse_config(gl_bert_config *cfg, const char *path, json_t *o) {
    static const char *const model_types[] = {"bert", NULL};
    static const char *const acts[] = {"gelu", NULL};
    static const char *const pos_types[] = {"absolute", NULL};
    if (check_string(path, o, "model_type", model_types) != 0) return -1;
    if (check_string(path, o, "hidden_act", acts) != 0) return -1; /* HF default is "gelu" */
    if (check_string(path, o, "position_embedding_type", pos_types) != 0) return -1;

    json_t *arch = json_object_get(o, "architectures");
    if (arch && !json_is_null(arch)) {
        if (!json_is_array(arch)) return gl_error_k(GL_E_FORMAT, "%s: key \"architectures\" must be an array of strings", path);
        size_t i;
        json_t *a;
        json_array_foreach(arch, i, a) {
            if (!json_is_string(a)) return gl_error_k(GL_E_FORMAT, "%s: key \"architectures\" must be an array of strings", path);
            if (strncmp(json_string_value(a), "Bert", 4) != 0)
                return gl_error_k(GL_E_FORMAT, "%s: key \"architectures\" names \"%s\"; only Bert* models are supported", path,
                                json_string_value(a));
        }
    }

    if (get_int(path, o, "vocab_size", 0, 0, 1, &cfg->vocab_size) != 0 ||
        get_int(path, o, "hidden_size", 0, 0, 1, &cfg->hidden_size) != 0 ||
        get_int(path, o, "num_hidden_layers", 0, 0, 1, &cfg->num_layers) != 0 ||
        get_int(path, o, "num_attention_heads", 0, 0, 1, &cfg->num_heads) != 0 ||
        get_int(path, o, "intermediate_size", 0, 0, 1, &cfg->intermediate_size) != 0 ||
        get_int(path, o, "max_position_embeddings", 0, 0, 1, &cfg->max_position_embeddings) != 0 ||
        get_int(path, o, "type_vocab_size", 1, 2, 1, &cfg->type_vocab_size) != 0 ||
        get_int(path, o, "pad_token_id", 1, 0, 0, &cfg->pad_token_id) != 0)
        return -1;
    if (cfg->pad_token_id >= cfg->vocab_size)
        return gl_error_k(GL_E_FORMAT, "%s: key \"pad_token_id\" is %d, not below vocab_size %d", path, cfg->pad_token_id,
                        cfg->vocab_size);
    if (cfg->hidden_size % cfg->num_heads != 0)
        return gl_error_k(GL_E_FORMAT, "%s: key \"hidden_size\" (%d) is not divisible by \"num_attention_heads\" (%d)", path,
                        cfg->hidden_size, cfg->num_heads);

    json_t *eps = json_object_get(o, "layer_norm_eps");
    if (!eps) {
        cfg->layer_norm_eps = 1e-12f;
    } else {
        if (!json_is_number(eps)) return gl_error_k(GL_E_FORMAT, "%s: key \"layer_norm_eps\" must be a number", path);
        double e = json_number_value(eps);
        /* checked after the conversion too: 1e-300 would become 0.0f, 0.99999999999 1.0f */
        float f = (float)e;
        if (!(e > 0 && e < 1) || !(f > 0 && f < 1))
            return gl_error_k(GL_E_FORMAT, "%s: key \"layer_norm_eps\" is %g, expected 0 < eps < 1 (as a float32)", path, e);
        cfg->layer_norm_eps = f;
    }
    return 0;
}

static int parse_tokenizer_config(gl_bert_config *cfg, const char *path, json_t *o) {
    json_t *v = json_object_get(o, "do_lower_case");
    if (v) {
        if (!json_is_boolean(v)) return gl_error_k(GL_E_FORMAT, "%s: key \"do_lower_case\" must be true or false", path);
        cfg->do_lower_case = json_is_true(v);
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
