/* added_tokens.c: added tokens ("<s>", "[CLS]", "<mask>", user tokens) found
 * in the text before the model sees it, as Hugging Face tokenizers'
 * AddedVocabulary does: the leftmost match, the longest of those starting
 * there; the next search starts where that match ends. A single_word token
 * counts only between non-word characters (Rust regex \w); lstrip takes the
 * White_Space before it (never text already given out), rstrip the
 * White_Space after it. */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"
#include "text/unicode_compat.h"
#include "util/utf8.h"

static int cmp_token(const void *a, const void *b) {
    const gl_added_token *x = a, *y = b;
    unsigned char fx = (unsigned char)x->content[0], fy = (unsigned char)y->content[0];
    if (fx != fy) return fx < fy ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int gl_added_set_build(gl_added_set *set, gl_added_token *v, size_t n) {
    memset(set, 0, sizeof *set);
    set->v = v;
    set->n = n;
    if (n) qsort(v, n, sizeof *v, cmp_token);
    size_t k = 0;
    for (int b = 0; b < 256; b++) {
        set->first[b] = (uint32_t)k;
        while (k < n && (unsigned char)v[k].content[0] == b) k++;
    }
    return 0;
}

void gl_added_set_free(gl_added_set *set) {
    for (size_t i = 0; i < set->n; i++) free(set->v[i].content);
    free(set->v);
    memset(set, 0, sizeof *set);
}

void gl_added_iter_init(gl_added_iter *it, const gl_added_set *set, const char *s, size_t n) {
    memset(it, 0, sizeof *it);
    it->set = set;
    it->s = s;
    it->n = n;
}

/* The leftmost-longest match at or after from. */
static const gl_added_token *find_match(const gl_added_set *set, const char *s, size_t n, size_t from,
                                        size_t *at) {
    if (!set->n) return NULL;
    for (size_t pos = from; pos < n; pos++) {
        unsigned b = (unsigned char)s[pos];
        uint32_t lo = set->first[b], hi = b == 255 ? (uint32_t)set->n : set->first[b + 1];
        for (uint32_t k = lo; k < hi; k++) { /* longest first */
            const gl_added_token *t = &set->v[k];
            if (t->len <= n - pos && memcmp(s + pos, t->content, t->len) == 0) {
                *at = pos;
                return t;
            }
        }
    }
    return NULL;
}

/* The character that ends at s[end] (end > 0). */
static uint32_t char_before(const char *s, size_t end) {
    size_t b = end - 1;
    while (b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
    uint32_t c;
    gl_utf8_decode((const unsigned char *)s + b, &c);
    return c;
}

static int is_word_char(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    return gl_ucompat_is_word(c);
}

int gl_added_next(gl_added_iter *it, size_t *a, size_t *b, int32_t *id) {
    if (it->have_pending) {
        it->have_pending = 0;
        *a = it->pend_start;
        *b = it->pend_stop;
        *id = it->pend_id;
        return 1;
    }
    const char *s = it->s;
    size_t n = it->n, ms;
    const gl_added_token *t;
    while ((t = find_match(it->set, s, n, it->search, &ms)) != NULL) {
        size_t start = ms, stop = ms + t->len;
        it->search = stop;
        if (t->single_word) {
            int start_space = start == 0 || !is_word_char(char_before(s, start));
            uint32_t c = 0;
            if (stop < n) gl_utf8_decode((const unsigned char *)s + stop, &c);
            int stop_space = stop == n || !is_word_char(c);
            if (!start_space || !stop_space) continue;
        }
        if (t->lstrip) {
            size_t ns = start;
            while (ns > 0 && gl_tok_is_white_space(char_before(s, ns))) {
                size_t k = ns - 1;
                while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
                ns = k;
            }
            start = ns > it->offset ? ns : it->offset;
        }
        if (t->rstrip) {
            while (stop < n) {
                uint32_t c;
                int l = gl_utf8_decode((const unsigned char *)s + stop, &c);
                if (!gl_tok_is_white_space(c)) break;
                stop += (size_t)l;
            }
        }
        if (it->offset < start) {
            *a = it->offset;
            *b = start;
            *id = -1;
            it->have_pending = 1;
            it->pend_start = start;
            it->pend_stop = stop;
            it->pend_id = t->id;
        } else {
            *a = start;
            *b = stop;
            *id = t->id;
        }
        it->offset = stop;
        return 1;
    }
    if (it->offset < n) {
        *a = it->offset;
        *b = n;
        *id = -1;
        it->offset = n;
        return 1;
    }
    return 0;
}
