/* model_open.c: open a model directory as one checked unit (model_open.h). */
#include "model/model_open.h"

#include <stdlib.h>

#include "util/error.h"
#include "util/fileio.h"

/* The file gl_tokenizer_open reads the vocabulary from (text/tokenizer.h). */
static char *tokenizer_file(const char *dir) {
    static const char *const files[] = {"vocab.txt", "tokenizer.json", "vocab.json"};
    for (int k = 0; k < 3; k++) {
        char *p = gl_path_join(dir, files[k]);
        if (!p || gl_file_exists(p)) return p;
        free(p);
    }
    return NULL;
}

int gl_model_open(const char *dir, gl_bert *m, gl_tokenizer **tok) {
    *tok = NULL;
    if (gl_bert_load(m, dir) != 0) return -1;
    const gl_bert_config *c = &m->cfg;
    *tok = gl_tokenizer_open(dir, c->lowercase_declared ? c->do_lower_case : -1, c->strip_accents);
    int rc = *tok ? 0 : -1;
    if (rc == 0 && gl_tokenizer_vocab_size(*tok) > c->vocab_size) {
        char *file = tokenizer_file(dir);
        rc = gl_error_k(GL_E_FORMAT, "%s: %d entries but config.json's vocab_size is %d: token ids from %d on would read past "
                        "the embedding table (a vocabulary that does not belong to these weights?)",
                        file ? file : dir, gl_tokenizer_vocab_size(*tok), c->vocab_size, c->vocab_size);
        free(file);
    }
    if (rc != 0) gl_model_close(m, tok);
    return rc;
}

void gl_model_close(gl_bert *m, gl_tokenizer **tok) {
    gl_tokenizer_free(*tok);
    *tok = NULL;
    gl_bert_free(m);
}

int gl_model_check_ids(const gl_bert *m, const int32_t *ids, size_t n, const char *what) {
    const int V = m->cfg.vocab_size;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return gl_error_k(GL_E_FORMAT, "%s: token id %d at position %zu is outside the embedding table (config.json vocab_size "
                            "%d)", what, (int)ids[i], i, V);
    return 0;
}
