/* st_config.c: read and write the sentence-transformers files of a checkpoint
 * (modules.json, <k>_Pooling/config.json, <k>_Dense/, sentence_bert_config.json).
 *
 * Reading accepts what gloss can compute: a Transformer module at path "",
 * one Pooling module in one of the modes cls, mean, max, mean_sqrt_len, an
 * optional Dense(hidden -> hidden, Tanh) right after a cls Pooling (BERT's
 * pooler, as gl_st_export writes it), an optional Normalize module last. Any
 * other module is recorded in `unsupported` (the caller decides); a file that
 * is malformed or disagrees with the model is an error naming file and key. */
#include "io/st_config.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/safetensors.h"
#include "io/json_file.h"
#include "util/error.h"
#include "util/fileio.h"

/* "sentence_transformers.models.Pooling" -> "Pooling" */
static const char *module_kind(const char *type) {
    const char *dot = strrchr(type, '.');
    return dot ? dot + 1 : type;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* dir/sub/name into buf (also relative: sub/name into rel when rel is not NULL) */
static int join3(char *buf, size_t cap, const char *dir, const char *sub, const char *name) {
    int n = *sub ? snprintf(buf, cap, "%s/%s/%s", dir, sub, name) : snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return gl_error_k(GL_E_FORMAT, "%s/%s/%s: path too long", dir, sub, name);
    return 0;
}

/* The Pooling module's config.json, in either layout sentence-transformers
 * writes: "word_embedding_dimension" and one boolean "pooling_mode_*" per mode
 * (up to 5.x), or "embedding_dimension" and "pooling_mode", a mode name or a
 * list of them (6.x; it then ignores the booleans, and so do we). Exactly one
 * mode, and one gloss computes. */
static const struct {
    const char *key, *name, *mode; /* legacy boolean key, name in "pooling_mode", gloss's name */
} pool_modes[] = {{"pooling_mode_cls_token", "cls", "cls"},
                  {"pooling_mode_mean_tokens", "mean", "mean"},
                  {"pooling_mode_max_tokens", "max", "max"},
                  {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens", "mean_sqrt_len"}};
#define N_POOL_MODES (sizeof pool_modes / sizeof *pool_modes)

static int check_dimension(const char *path, json_t *o, int hidden_size, int *found) {
    static const char *const keys[] = {"word_embedding_dimension", "embedding_dimension"};
    for (int i = 0; i < 2; i++) {
        json_t *d = json_object_get(o, keys[i]);
        if (!d) continue;
        *found = 1;
        if (!json_is_integer(d)) return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" must be an integer", path, keys[i]);
        if (json_integer_value(d) != hidden_size)
            return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" is %lld but the model's hidden_size is %d", path, keys[i],
                            (long long)json_integer_value(d), hidden_size);
    }
    return 0;
}

/* Record the mode m (gloss's name; NULL: one gloss does not compute) that key declares; at most one. */
static int declare(const char *path, const char *key, const char *what, const char **mode, const char *m) {
    if (!m)
        return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" %s: gloss computes only the cls, mean, max and mean_sqrt_len poolings",
                        path, key, what);
    if (*mode)
        return gl_error_k(GL_E_FORMAT, "%s: key \"%s\": more than one pooling mode (%s and %s); exactly one must be set", path, key,
                        *mode, m);
    *mode = m;
    return 0;
}

static int parse_pooling(gl_st_config *st, const char *path, const char *rel, int hidden_size) {
    json_t *o = gl_json_load_file(path, 0);
    if (!o) return -1;
    int found = 0, rc = check_dimension(path, o, hidden_size, &found);
    if (rc == 0 && !found) rc = gl_error_k(GL_E_FORMAT, "%s: missing required key \"word_embedding_dimension\"", path);
    const char *mode = NULL, *key;
    json_t *v, *pm = json_object_get(o, "pooling_mode");
    if (rc == 0 && pm) {
        size_t n = json_is_array(pm) ? json_array_size(pm) : 1;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            json_t *e = json_is_array(pm) ? json_array_get(pm, i) : pm;
            if (!json_is_string(e)) {
                rc = gl_error_k(GL_E_FORMAT, "%s: key \"pooling_mode\" must be a mode name or a list of them", path);
                break;
            }
            const char *m = NULL;
            for (size_t k = 0; k < N_POOL_MODES; k++)
                if (!strcmp(json_string_value(e), pool_modes[k].name)) m = pool_modes[k].mode;
            char what[96];
            snprintf(what, sizeof what, "names \"%.64s\"", json_string_value(e));
            rc = declare(path, "pooling_mode", what, &mode, m);
        }
    } else if (rc == 0) {
        json_object_foreach(o, key, v) {
            if (strncmp(key, "pooling_mode_", 13) != 0) continue;
            if (!json_is_boolean(v)) {
                rc = gl_error_k(GL_E_FORMAT, "%s: key \"%s\" must be true or false", path, key);
                break;
            }
            if (!json_is_true(v)) continue;
            const char *m = NULL;
            for (size_t k = 0; k < N_POOL_MODES; k++)
                if (!strcmp(key, pool_modes[k].key)) m = pool_modes[k].mode;
            if ((rc = declare(path, key, "is true", &mode, m)) != 0) break;
        }
    }
    if (rc == 0 && !mode)
        rc = gl_error_k(GL_E_FORMAT, "%s: no pooling mode is set (pooling_mode, or one of pooling_mode_cls_token, "
                      "pooling_mode_mean_tokens, pooling_mode_max_tokens, pooling_mode_mean_sqrt_len_tokens true)",
                      path);
    if (rc == 0) {
        snprintf(st->pooling, sizeof st->pooling, "%s", mode);
        snprintf(st->pooling_file, sizeof st->pooling_file, "%s", rel);
    }
    json_decref(o);
    return rc;
}

/* sentence-transformers 6.x: a module may read and write another feature than
 * the sentence embedding ("module_input_name", "module_output_name"); *same
 * is 1 when both are absent or "sentence_embedding". */
static int on_sentence_embedding(const char *path, json_t *o, int *same) {
    static const char *const keys[] = {"module_input_name", "module_output_name"};
    *same = 1;
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(o, keys[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_string(v)) return gl_error_k(GL_E_FORMAT, "%s: key \"%s\" must be a string", path, keys[i]);
        *same &= !strcmp(json_string_value(v), "sentence_embedding");
    }
    return 0;
}

/* A Dense module's config.json: 1 when it is Dense(hidden -> hidden, bias, Tanh)
 * on the sentence embedding, without a residual connection. */
static int parse_dense(const char *path, int hidden_size, int *is_pooler) {
    json_t *o = gl_json_load_file(path, 0);
    if (!o) return -1;
    int same = 1, rc = on_sentence_embedding(path, o, &same);
    static const char *const ints[] = {"in_features", "out_features"};
    int ok = 1;
    for (int i = 0; i < 2 && rc == 0; i++) {
        json_t *v = json_object_get(o, ints[i]);
        if (!json_is_integer(v)) rc = gl_error_k(GL_E_FORMAT, "%s: key \"%s\" must be an integer", path, ints[i]);
        else ok &= json_integer_value(v) == hidden_size;
    }
    json_t *b = json_object_get(o, "bias"), *a = json_object_get(o, "activation_function"),
           *r = json_object_get(o, "use_residual");
    if (rc == 0 && b && !json_is_boolean(b)) rc = gl_error_k(GL_E_FORMAT, "%s: key \"bias\" must be true or false", path);
    if (rc == 0 && r && !json_is_boolean(r)) rc = gl_error_k(GL_E_FORMAT, "%s: key \"use_residual\" must be true or false", path);
    if (rc == 0 && a && !json_is_string(a)) rc = gl_error_k(GL_E_FORMAT, "%s: key \"activation_function\" must be a string", path);
    /* sentence-transformers' defaults: bias true, Tanh, no residual */
    *is_pooler = rc == 0 && ok && same && (!b || json_is_true(b)) && !json_is_true(r) &&
                 (!a || ends_with(json_string_value(a), ".Tanh"));
    json_decref(o);
    return rc;
}

static void set_unsupported(gl_st_config *st, const char *what) {
    if (!st->unsupported[0]) snprintf(st->unsupported, sizeof st->unsupported, "%s", what);
}

static int parse_modules(gl_st_config *st, const char *dir, const char *path, int hidden_size) {
    json_t *arr = gl_json_load_file(path, 1);
    if (!arr) return -1;
    int rc = 0;
    size_t i;
    json_t *mod;
    char file[4096], rel[GL_ST_PATH_MAX + 16];
    json_array_foreach(arr, i, mod) {
        if (!json_is_object(mod)) {
            rc = gl_error_k(GL_E_FORMAT, "%s: entry %zu is not an object", path, i);
            break;
        }
        json_t *jt = json_object_get(mod, "type"), *jp = json_object_get(mod, "path");
        if (!json_is_string(jt)) {
            rc = gl_error_k(GL_E_FORMAT, "%s: entry %zu: key \"type\" must be a string", path, i);
            break;
        }
        if (!json_is_string(jp)) {
            rc = gl_error_k(GL_E_FORMAT, "%s: entry %zu: key \"path\" must be a string", path, i);
            break;
        }
        const char *type = json_string_value(jt), *kind = module_kind(type), *mpath = json_string_value(jp);
        if (strlen(mpath) >= GL_ST_PATH_MAX - 16) {
            rc = gl_error_k(GL_E_FORMAT, "%s: entry %zu: key \"path\" is too long", path, i);
            break;
        }
        int is_transformer = !strcmp(kind, "Transformer"), is_pooling = !strcmp(kind, "Pooling"),
            is_dense = !strcmp(kind, "Dense");
        if (is_transformer && i == 0) {
            if (*mpath)
                rc = gl_error_k(GL_E_FORMAT, "%s: entry 0: key \"path\" is \"%s\"; gloss reads the encoder from the checkpoint "
                              "directory itself (path \"\")",
                              path, mpath);
        } else if ((is_pooling && !st->pooling[0]) || (is_dense && !strcmp(st->pooling, "cls") && !st->normalize)) {
            /* the module's own config must exist: a path that does not is an error, as in sentence-transformers */
            rc = join3(file, sizeof file, dir, mpath, "config.json");
            if (rc == 0 && !gl_file_exists(file))
                rc = gl_error_k(GL_E_FORMAT, "%s: entry %zu: key \"path\" is \"%s\" but %s does not exist", path, i, mpath, file);
            snprintf(rel, sizeof rel, "%s%sconfig.json", mpath, *mpath ? "/" : "");
            int pooler = 0;
            if (rc == 0 && is_pooling) rc = parse_pooling(st, file, rel, hidden_size);
            else if (rc == 0 && (rc = parse_dense(file, hidden_size, &pooler)) == 0) {
                if (pooler && !st->dense_dir[0]) {
                    snprintf(st->pooling, sizeof st->pooling, "pooler");
                    snprintf(st->dense_dir, sizeof st->dense_dir, "%s", mpath);
                } else {
                    set_unsupported(st, type);
                }
            }
        } else if (!strcmp(kind, "Normalize") && st->pooling[0] && !st->normalize) {
            /* 6.x may give it a config.json naming the feature it normalises */
            int same = 1;
            rc = join3(file, sizeof file, dir, mpath, "config.json");
            if (rc == 0 && *mpath && gl_file_exists(file)) {
                json_t *o = gl_json_load_file(file, 0);
                rc = o ? on_sentence_embedding(file, o, &same) : -1;
                json_decref(o);
            }
            if (same) st->normalize = 1;
            else set_unsupported(st, type);
        } else {
            set_unsupported(st, type);
        }
        if (rc != 0) break;
    }
    json_decref(arr);
    return rc;
}

static int parse_sbert(gl_st_config *st, const char *path) {
    json_t *o = gl_json_load_file(path, 0);
    if (!o) return -1;
    int rc = 0;
    json_t *v = json_object_get(o, "max_seq_length");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > INT_MAX)
            rc = gl_error_k(GL_E_FORMAT, "%s: key \"max_seq_length\" must be a positive integer", path);
        else st->max_seq_length = (int)json_integer_value(v);
    }
    v = json_object_get(o, "do_lower_case");
    if (rc == 0 && v) {
        if (!json_is_boolean(v)) rc = gl_error_k(GL_E_FORMAT, "%s: key \"do_lower_case\" must be true or false", path);
        else st->do_lower_case = json_is_true(v);
    }
    json_decref(o);
    return rc;
}

int gl_st_config_load(gl_st_config *st, const char *dir, int hidden_size) {
    memset(st, 0, sizeof *st);
    st->do_lower_case = -1;
    char path[4096];
    int rc = join3(path, sizeof path, dir, "", "modules.json");
    if (rc == 0 && gl_file_exists(path)) {
        st->has_modules = 1;
        rc = parse_modules(st, dir, path, hidden_size);
    } else if (rc == 0 && (rc = join3(path, sizeof path, dir, "1_Pooling", "config.json")) == 0 &&
               gl_file_exists(path)) {
        rc = parse_pooling(st, path, "1_Pooling/config.json", hidden_size);
    }
    if (rc == 0 && (rc = join3(path, sizeof path, dir, "", "sentence_bert_config.json")) == 0 &&
        gl_file_exists(path))
        rc = parse_sbert(st, path);
    return rc;
}

/* ---------------------------------------------------------------- writing */

/* j is a new reference (json_pack), released here */
static int write_json(const char *path, json_t *j) {
    int rc = gl_json_write_file(path, j);
    json_decref(j);
    return rc;
}

static int make_dir(const char *out_dir, const char *sub) {
    char path[4096];
    if (join3(path, sizeof path, out_dir, "", sub) != 0) return -1;
    if (mkdir(path, 0777) != 0 && errno != EEXIST) return gl_error_k(GL_E_IO, "%s: cannot create: %s", path, strerror(errno));
    return 0;
}

static json_t *module_entry(int idx, const char *path, const char *kind) {
    char name[16], type[64];
    snprintf(name, sizeof name, "%d", idx);
    snprintf(type, sizeof type, "sentence_transformers.models.%s", kind);
    return json_pack("{s:i, s:s, s:s, s:s}", "idx", idx, "name", name, "path", path, "type", type);
}

int gl_st_export(const char *out_dir, const char *pooling, int normalize, int hidden_size, int max_seq_length,
                 int do_lower_case, const float *dense_w, const float *dense_b) {
    int pooler = !strcmp(pooling, "pooler");
    const char *mode = pooler ? "cls" : pooling;
    if (strcmp(mode, "cls") && strcmp(mode, "mean") && strcmp(mode, "max") && strcmp(mode, "mean_sqrt_len"))
        return gl_error_k(GL_E_FORMAT, "%s: no sentence-transformers pooling for '%s'", out_dir, pooling);
    if (pooler && (!dense_w || !dense_b)) return gl_error_k(GL_E_FORMAT, "%s: pooling 'pooler' without pooler weights", out_dir);
    char path[4096];
    json_t *mods = json_array();
    json_array_append_new(mods, module_entry(0, "", "Transformer"));
    json_array_append_new(mods, module_entry(1, "1_Pooling", "Pooling"));
    /* the layout every sentence-transformers release reads (2.x writes it; 6.x converts it) */
    json_t *pc = json_pack("{s:i, s:b, s:b, s:b, s:b}", "word_embedding_dimension", hidden_size,
                           "pooling_mode_cls_token", !strcmp(mode, "cls"), "pooling_mode_mean_tokens",
                           !strcmp(mode, "mean"), "pooling_mode_max_tokens", !strcmp(mode, "max"),
                           "pooling_mode_mean_sqrt_len_tokens", !strcmp(mode, "mean_sqrt_len"));
    int rc = make_dir(out_dir, "1_Pooling");
    if (rc == 0) rc = join3(path, sizeof path, out_dir, "1_Pooling", "config.json");
    if (rc == 0) rc = write_json(path, pc);
    else json_decref(pc);
    int next = 2;
    if (rc == 0 && pooler) { /* BERT's pooler: tanh(W h_[CLS] + b) */
        json_array_append_new(mods, module_entry(next++, "2_Dense", "Dense"));
        rc = make_dir(out_dir, "2_Dense");
        if (rc == 0) rc = join3(path, sizeof path, out_dir, "2_Dense", "config.json");
        if (rc == 0)
            rc = write_json(path, json_pack("{s:i, s:i, s:b, s:s}", "in_features", hidden_size, "out_features",
                                            hidden_size, "bias", 1, "activation_function",
                                            "torch.nn.modules.activation.Tanh"));
        if (rc == 0) rc = join3(path, sizeof path, out_dir, "2_Dense", "model.safetensors");
        if (rc == 0) {
            gl_st_entry e[2] = {{"linear.weight", dense_w, 2, {hidden_size, hidden_size}},
                                {"linear.bias", dense_b, 1, {hidden_size}}};
            rc = gl_st_write_f32(path, e, 2, NULL);
        }
    }
    if (rc == 0 && normalize) {
        char p[16];
        snprintf(p, sizeof p, "%d_Normalize", next);
        json_array_append_new(mods, module_entry(next++, p, "Normalize"));
    }
    if (rc == 0 && (rc = join3(path, sizeof path, out_dir, "", "sentence_bert_config.json")) == 0)
        rc = write_json(path, json_pack("{s:i, s:b}", "max_seq_length", max_seq_length, "do_lower_case",
                                        do_lower_case));
    if (rc == 0 && (rc = join3(path, sizeof path, out_dir, "", "modules.json")) == 0) rc = write_json(path, mods);
    else json_decref(mods);
    return rc;
}
