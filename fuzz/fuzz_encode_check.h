/* fuzz_encode_check.h: what the tokenizer file targets (fuzz_bpe_files.c,
 * fuzz_bpe_json.c) check of every tokenizer that loads: encoding a string
 * untruncated and at max_length 2, 3 and 7 gives the cls id ... the sep id,
 * every id a token below vocab_size, each truncation a prefix of the
 * untruncated ids, and max_length 1 is refused. */
#ifndef GLOSS_FUZZ_ENCODE_CHECK_H
#define GLOSS_FUZZ_ENCODE_CHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer.h"

#include "fuzz_common.h"

/* Encode s at several lengths and check what the API promises; returns the
 * untruncated count (ids left in *full). */
static int encode_check(const gl_tokenizer *tok, const char *s, size_t n, int32_t **full, size_t *fcap) {
    int V = gl_tokenizer_vocab_size(tok), cls = gl_tokenizer_cls_id(tok), sep = gl_tokenizer_sep_id(tok);
    int nf = gl_tokenizer_encode(tok, s, n, 0, full, fcap);
    FUZZ_CHECK(nf >= 2);
    FUZZ_CHECK((*full)[0] == cls && (*full)[nf - 1] == sep);
    for (int i = 0; i < nf; i++) FUZZ_CHECK((*full)[i] >= 0 && (*full)[i] < V && gl_tokenizer_token(tok, (*full)[i]));
    static const int lens[] = {2, 3, 7};
    int32_t *ids = NULL;
    size_t cap = 0;
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        int m = gl_tokenizer_encode(tok, s, n, lens[k], &ids, &cap);
        int want = nf < lens[k] ? nf : lens[k];
        FUZZ_CHECK(m == want);
        FUZZ_CHECK(memcmp(ids, *full, (size_t)(m - 1) * sizeof(int32_t)) == 0 && ids[m - 1] == sep);
    }
    FUZZ_CHECK(gl_tokenizer_encode(tok, s, n, 1, &ids, &cap) == -1);
    free(ids);
    return nf;
}

/* encode_check of the strings of the vocabulary's first 8 tokens */
static void encode_check_first_tokens(const gl_tokenizer *tok, int32_t **full, size_t *fcap) {
    int V = gl_tokenizer_vocab_size(tok);
    for (int id = 0; id < V && id < 8; id++) {
        const char *t = gl_tokenizer_token(tok, id);
        if (t) encode_check(tok, t, strlen(t), full, fcap);
    }
}

#endif
