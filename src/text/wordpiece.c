/* wordpiece.c: BERT WordPiece tokenization, identical to Hugging Face
 * `tokenizers` (BertNormalizer + BertPreTokenizer + WordPiece + [CLS]/[SEP]).
 *
 * The pipeline, in Hugging Face's order:
 *  0. added tokens: the non-normalized ones are matched in the raw text first
 *     (text/added_tokens.c) and become their ids; from vocab.txt they are the
 *     literal strings [PAD] [UNK] [CLS] [SEP] [MASK] that are in the
 *     vocabulary (HF registers them so);
 *  1. clean_text (on unless tokenizer.json says otherwise): drop U+0000,
 *     U+FFFD and "other" characters (Cc, Cf, Co except TAB, LF, CR); map
 *     White_Space characters (and TAB, LF, CR) to ' ';
 *  2. handle_chinese_chars (likewise): put spaces around CJK ideographs;
 *  3. strip_accents: NFD, then drop nonspacing marks (Mn);
 *  4. lowercase: Rust's char::to_lowercase (U+0130 becomes "i" U+0307);
 *  5. pre-tokenize: split on White_Space (removed) and punctuation (kept, each
 *     its own word): ASCII punctuation and the Unicode P* categories;
 *  6. WordPiece: words over max_input_chars_per_word (100) characters are
 *     [UNK]; otherwise greedy longest match from the left with "##" on
 *     continuation pieces; a word with a piece that matches nothing is one
 *     [UNK];
 *  7. [CLS] tokens [SEP], keeping the first max_length - 2 tokens.
 *
 * Unicode versions: HF's category tables (the `unicode_categories` crate) are
 * from Unicode 8, its lowercase mapping is Rust's std (newer), and utf8proc
 * here is Unicode 15. text/unicode_compat.c lists the code points where those
 * differ; tests/test_tokenizer.c checks every code point against HF.
 *
 * Everything is streamed one word at a time, so truncated encodes of long
 * documents stop early. Scratch space is a per-call buffer that grows by
 * doubling (no per-character allocation). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/tokenizer_internal.h"
#include "text/unicode_compat.h"
#include "util/utf8.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/strpool.h"

#define MAX_WORD_CHARS_CAP 1000 /* the largest max_input_chars_per_word accepted */

static const char *const special_names[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

struct gl_wordpiece {
    gl_wordpiece_opts o;
    char *prefix;
    size_t prefix_len;
    int n;             /* ids 0..n-1 */
    gl_strpool strings; /* every token, NUL-terminated */
    size_t *tok_off;   /* token i starts at strings + tok_off[i] */
    uint32_t *tok_len; /* UINT32_MAX: no token has id i */
    uint32_t *slot_id; /* hash table: id + 1, 0 = empty */
    uint32_t *slot_hash;
    uint32_t mask;
    int max_head, max_cont; /* longest token in bytes; longest continuation token without the prefix */
    int32_t unk;
};

/* ---- vocabulary hash table --------------------------------------------------- */

static uint32_t fnv1a(uint32_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}
#define FNV_SEED 2166136261u

/* Id of the token prefix + s (cont) or s, or -1. */
static int vocab_find(const gl_wordpiece *wp, int cont, const char *s, size_t n) {
    uint32_t h = FNV_SEED;
    size_t pl = cont ? wp->prefix_len : 0;
    if (cont) h = fnv1a(h, wp->prefix, pl);
    h = fnv1a(h, s, n);
    size_t full = n + pl;
    for (uint32_t i = h & wp->mask;; i = (i + 1) & wp->mask) {
        uint32_t id1 = wp->slot_id[i];
        if (!id1) return -1;
        if (wp->slot_hash[i] != h || wp->tok_len[id1 - 1] != full) continue;
        const char *t = wp->strings.data + wp->tok_off[id1 - 1];
        if (pl && memcmp(t, wp->prefix, pl) != 0) continue;
        if (memcmp(t + pl, s, n) == 0) return (int)id1 - 1;
    }
}

/* Insert id; a repeated token maps to its last line (as HF's HashMap insert). */
static void vocab_insert(gl_wordpiece *wp, uint32_t id) {
    const char *s = wp->strings.data + wp->tok_off[id];
    uint32_t n = wp->tok_len[id];
    uint32_t h = fnv1a(FNV_SEED, s, n);
    for (uint32_t i = h & wp->mask;; i = (i + 1) & wp->mask) {
        uint32_t id1 = wp->slot_id[i];
        if (!id1) {
            wp->slot_id[i] = id + 1;
            wp->slot_hash[i] = h;
            return;
        }
        if (wp->slot_hash[i] == h && wp->tok_len[id1 - 1] == n &&
            memcmp(wp->strings.data + wp->tok_off[id1 - 1], s, n) == 0) {
            wp->slot_id[i] = id + 1;
            return;
        }
    }
}

gl_wordpiece *gl_wordpiece_new(int n, const gl_wordpiece_opts *o) {
    gl_wordpiece *wp = gl_calloc(1, sizeof *wp);
    if (!wp) return NULL;
    wp->o = *o;
    wp->n = n;
    wp->unk = -1;
    wp->prefix = gl_strdup(o->prefix);
    wp->prefix_len = wp->prefix ? strlen(wp->prefix) : 0;
    wp->o.prefix = wp->prefix;
    wp->tok_off = gl_malloc((size_t)n * sizeof *wp->tok_off);
    wp->tok_len = gl_malloc((size_t)n * sizeof *wp->tok_len);
    size_t slots = 16;
    while (slots < 2 * (size_t)n) slots *= 2;
    wp->mask = (uint32_t)(slots - 1);
    wp->slot_id = gl_calloc(slots, sizeof(uint32_t));
    wp->slot_hash = gl_malloc(slots * sizeof(uint32_t));
    if (!wp->prefix || !wp->tok_off || !wp->tok_len || !wp->slot_id || !wp->slot_hash) {
        gl_wordpiece_free(wp);
        return NULL;
    }
    for (int i = 0; i < n; i++) wp->tok_len[i] = UINT32_MAX;
    return wp;
}

int gl_wordpiece_set(gl_wordpiece *wp, int id, const char *s, size_t len) {
    if (id < 0 || id >= wp->n || len >= UINT32_MAX) return -1;
    if (gl_strpool_add(&wp->strings, s, len, &wp->tok_off[id]) != 0) return -1;
    wp->tok_len[id] = (uint32_t)len;
    int tl = len > (size_t)INT32_MAX ? INT32_MAX : (int)len;
    if (len >= wp->prefix_len && wp->prefix_len && memcmp(s, wp->prefix, wp->prefix_len) == 0) {
        if (tl - (int)wp->prefix_len > wp->max_cont) wp->max_cont = tl - (int)wp->prefix_len;
    }
    if (tl > wp->max_head) wp->max_head = tl;
    if (!wp->prefix_len) wp->max_cont = wp->max_head; /* an empty prefix: continuations are plain tokens */
    vocab_insert(wp, (uint32_t)id);
    return 0;
}

int gl_wordpiece_find(const gl_wordpiece *wp, const char *s) { return vocab_find(wp, 0, s, strlen(s)); }

void gl_wordpiece_set_unk(gl_wordpiece *wp, int32_t unk) { wp->unk = unk; }

void gl_wordpiece_free(gl_wordpiece *wp) {
    if (!wp) return;
    free(wp->prefix);
    gl_strpool_free(&wp->strings);
    free(wp->tok_off);
    free(wp->tok_len);
    free(wp->slot_id);
    free(wp->slot_hash);
    free(wp);
}

const char *gl_wordpiece_token(const gl_wordpiece *wp, int id) {
    if (id < 0 || id >= wp->n || wp->tok_len[id] == UINT32_MAX) return NULL;
    return wp->strings.data + wp->tok_off[id];
}

/* ---- character classes (HF's definitions) --------------------------------- */

static int is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* HF is_control (non-ASCII part): Cc, Cf or Co in HF's (Unicode 8) tables. */
static int is_other_nonascii(uint32_t c) {
    int cat = utf8proc_category((utf8proc_int32_t)c);
    int other = cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO;
    return other != gl_ucompat_flip_other(c);
}

static int is_punct_nonascii(uint32_t c) {
    int cat = utf8proc_category((utf8proc_int32_t)c);
    int p = cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
    return p != gl_ucompat_flip_punct(c);
}

static int is_mn(uint32_t c) {
    if (c < 0x300) return 0;
    int mn = utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_MN;
    return mn != gl_ucompat_flip_mn(c);
}

/* ASCII classes after clean_text: what each byte becomes. */
enum { A_DROP, A_SPACE, A_PUNCT, A_WORD };

static inline int ascii_kind(uint32_t c) {
    if (c == '\t' || c == '\n' || c == '\r' || c == ' ') return A_SPACE;
    if (c < 0x20 || c == 0x7F) return A_DROP; /* Cc, VT and FF included (HF drops them first) */
    if ((c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~'))
        return A_PUNCT;
    return A_WORD;
}

/* ---- vocab.txt ------------------------------------------------------------------ */

gl_tokenizer *gl_wordpiece_load_txt(const char *vocab_path, int lowercase, int strip_accents) {
    char *data;
    size_t len;
    if (gl_read_file(vocab_path, &data, &len)) return NULL;
    gl_tokenizer *tok = gl_calloc(1, sizeof *tok);
    if (!tok) goto fail;
    tok->kind = GL_TOK_WORDPIECE;
    if (gl_tok_keep_file(tok, "vocab.txt", data, len)) goto fail;
    gl_wordpiece_opts o = {.lowercase = lowercase ? 1 : 0,
                           .clean_text = 1,
                           .handle_chinese_chars = 1,
                           .prefix = "##",
                           .max_chars = 100};
    o.strip_accents = strip_accents < 0 ? o.lowercase : (strip_accents ? 1 : 0);
    if (len > UINT32_MAX - 1) {
        gl_error_k(GL_E_FORMAT, "%s: vocabulary file too large", vocab_path);
        goto fail;
    }
    const char *nul = memchr(data, 0, len);
    size_t bad = gl_utf8_check(data, len);
    if (nul && (size_t)(nul - data) < bad) bad = (size_t)(nul - data);
    if (bad < len) {
        size_t line = 1;
        for (size_t i = 0; i < bad; i++) line += data[i] == '\n';
        gl_error_k(GL_E_FORMAT, "%s:%zu: %s in the vocabulary", vocab_path, line, data[bad] ? "invalid UTF-8" : "NUL byte");
        goto fail;
    }
    /* lines as Rust's BufRead::lines (LF, optional CR before it, no empty piece
     * after a final LF), each trimmed of trailing White_Space like str::trim_end */
    size_t nlines = 0;
    for (size_t i = 0; i < len; i++) nlines += data[i] == '\n';
    if (len && data[len - 1] != '\n') nlines++;
    if (nlines == 0) {
        gl_error_k(GL_E_FORMAT, "%s: empty vocabulary", vocab_path);
        goto fail;
    }
    if (nlines > (size_t)INT32_MAX / 4) {
        gl_error_k(GL_E_FORMAT, "%s: too many vocabulary lines (%zu)", vocab_path, nlines);
        goto fail;
    }
    gl_wordpiece *wp = tok->wp = gl_wordpiece_new((int)nlines, &o);
    if (!wp) goto fail;
    tok->vocab_size = (int)nlines;
    const char *s = data;
    size_t pos = 0;
    for (size_t i = 0; i < nlines; i++) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - s) : len;
        size_t k = e;
        while (k > pos) { /* trim trailing White_Space (decode backwards) */
            size_t b = k - 1;
            while (b > pos && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
            uint32_t cp;
            gl_utf8_decode((const unsigned char *)s + b, &cp);
            if (!gl_tok_is_white_space(cp)) break;
            k = b;
        }
        if (gl_wordpiece_set(wp, (int)i, s + pos, k - pos)) goto fail;
        pos = e + 1;
    }
    free(data);
    data = NULL;
    /* the special tokens in the vocabulary are added tokens */
    gl_added_token *added = gl_calloc(5, sizeof *added);
    if (!added) goto fail;
    size_t nadded = 0;
    int32_t id[5];
    for (int k = 0; k < 5; k++) {
        id[k] = gl_wordpiece_find(wp, special_names[k]);
        if (id[k] < 0) continue;
        added[nadded].content = gl_strdup(special_names[k]);
        added[nadded].len = strlen(special_names[k]);
        added[nadded].id = id[k];
        added[nadded].special = 1;
        if (!added[nadded++].content) {
            for (size_t j = 0; j < nadded; j++) free(added[j].content);
            free(added);
            goto fail;
        }
    }
    if (gl_tok_set_added(tok, added, nadded)) goto fail;
    tok->pad = id[0];
    tok->unk = id[1];
    tok->cls = id[2];
    tok->sep = id[3];
    gl_wordpiece_set_unk(wp, tok->unk);
    for (int k = 0; k < 4; k++) {
        if (id[k] >= 0) continue;
        gl_error_k(GL_E_FORMAT, "%s: the vocabulary has no %s token (BERT needs [CLS], [SEP], [PAD] and [UNK])", vocab_path,
                   special_names[k]);
        goto fail;
    }
    return tok;
fail:
    free(data);
    gl_tokenizer_free(tok);
    return NULL;
}

/* ---- encoding -------------------------------------------------------------------- */

typedef struct {
    const gl_wordpiece *wp;
    int32_t **ids;
    size_t *cap;
    size_t count; /* ids written, [CLS] included */
    size_t limit; /* stop once count reaches it (SIZE_MAX: never) */
    uint32_t *word; /* code points of the current word (decomposed, not yet filtered) */
    size_t wlen, wcap;
    uint32_t word_stack[256];
} encoder;

static int push_id(encoder *e, int id) {
    if (e->count == *e->cap) {
        size_t nc = *e->cap ? *e->cap * 2 : 64;
        int32_t *p = gl_realloc(*e->ids, nc * sizeof(int32_t));
        if (!p) return -1;
        *e->ids = p;
        *e->cap = nc;
    }
    (*e->ids)[e->count++] = id;
    return 0;
}

static int word_push(encoder *e, uint32_t c) {
    if (e->wlen == e->wcap) {
        size_t nc = e->wcap * 2;
        uint32_t *p;
        if (e->word == e->word_stack) {
            p = gl_malloc(nc * sizeof(uint32_t));
            if (p) memcpy(p, e->word, e->wlen * sizeof(uint32_t));
        } else {
            p = gl_realloc(e->word, nc * sizeof(uint32_t));
        }
        if (!p) return -1;
        e->word = p;
        e->wcap = nc;
    }
    e->word[e->wlen++] = c;
    return 0;
}

static int lower_char(uint32_t c, uint32_t *out) {
    if (c < 0x80) {
        out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        return 1;
    }
    if (c == 0x130) { /* the one unconditional multi-character lowercase mapping */
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    uint32_t l = gl_ucompat_lower(c);
    out[0] = l ? l : (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    return 1;
}

/* WordPiece on the normalized word w[0..n) (n <= max_chars). */
static int wordpiece(encoder *e, const uint32_t *w, size_t n) {
    const gl_wordpiece *tok = e->wp;
    char buf[MAX_WORD_CHARS_CAP * 4 + 4];
    size_t bpos[MAX_WORD_CHARS_CAP + 1];
    size_t b = 0;
    for (size_t i = 0; i < n; i++) {
        bpos[i] = b;
        b += (size_t)gl_utf8_encode(w[i], buf + b);
    }
    bpos[n] = b;
    size_t mark = e->count, start = 0;
    while (start < n) {
        int cont = start > 0;
        size_t maxb = (size_t)(cont ? tok->max_cont : tok->max_head);
        size_t end = n;
        while (end > start && bpos[end] - bpos[start] > maxb) end--;
        int id = -1;
        for (; end > start; end--) {
            id = vocab_find(tok, cont, buf + bpos[start], bpos[end] - bpos[start]);
            if (id >= 0) break;
        }
        if (id < 0) { /* no piece matches here: the whole word is [UNK] */
            e->count = mark;
            return push_id(e, tok->unk);
        }
        if (push_id(e, id)) return -1;
        start = end;
    }
    return 0;
}

/* Stable counting sort of a run of non-starters by combining class (1..254):
 * linear time for the long runs only adversarial text has. */
static int sort_run_by_class(uint32_t *w, size_t n) {
    uint32_t *tmp = gl_malloc(n * sizeof *tmp);
    unsigned char *cls = gl_malloc(n);
    if (!tmp || !cls) {
        free(tmp);
        free(cls);
        return -1;
    }
    size_t start[257] = {0};
    for (size_t i = 0; i < n; i++) {
        cls[i] = (unsigned char)gl_ucompat_ccc(w[i]);
        start[cls[i] + 1]++;
    }
    for (int c = 0; c < 256; c++) start[c + 1] += start[c];
    for (size_t i = 0; i < n; i++) tmp[start[cls[i]]++] = w[i];
    memcpy(w, tmp, n * sizeof *w);
    free(tmp);
    free(cls);
    return 0;
}

/* Canonical ordering (the reordering step of NFD): stable sort of each run of
 * non-starters by combining class. Runs are short in real text: insertion
 * sort; a run longer than 32 (thousands of stacked marks) is counting-sorted,
 * since insertion sort is quadratic there (found by fuzz/fuzz_tokenizer.c:
 * 0.5 s for one 64 KB word). */
static int canonical_order(uint32_t *w, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (gl_ucompat_ccc(w[i]) == 0) {
            i++;
            continue;
        }
        size_t s = i;
        while (i < n && gl_ucompat_ccc(w[i]) != 0) i++;
        if (i - s > 32) {
            if (sort_run_by_class(w + s, i - s)) return -1;
            continue;
        }
        for (size_t k = s + 1; k < i; k++) {
            uint32_t c = w[k];
            int cc = gl_ucompat_ccc(c);
            size_t j = k;
            while (j > s && gl_ucompat_ccc(w[j - 1]) > cc) {
                w[j] = w[j - 1];
                j--;
            }
            w[j] = c;
        }
    }
    return 0;
}

/* Finish the current word: drop marks, lowercase, WordPiece. */
static int flush_word(encoder *e) {
    if (e->wlen == 0) return 0;
    const gl_wordpiece *tok = e->wp;
    const size_t max_chars = (size_t)tok->o.max_chars;
    uint32_t *w = e->word;
    size_t n = e->wlen;
    e->wlen = 0;
    if (tok->o.strip_accents) {
        if (canonical_order(w, n)) return -1;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!is_mn(w[i])) w[k++] = w[i];
        n = k;
    }
    uint32_t out[MAX_WORD_CHARS_CAP + 2];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t l[2];
        int k = tok->o.lowercase ? lower_char(w[i], l) : (l[0] = w[i], 1);
        for (int j = 0; j < k; j++) {
            if (m > max_chars) break;
            out[m++] = l[j];
        }
        if (m > max_chars) break;
    }
    if (m == 0) return 0; /* only marks: nothing left */
    if (m > max_chars) return push_id(e, tok->unk);
    return wordpiece(e, out, m);
}

/* One normalized character c (after clean_text and the CJK spacing). */
static int feed(encoder *e, uint32_t c) {
    if (c < 0x80) {
        int k = ascii_kind(c);
        if (k == A_SPACE) return flush_word(e);
        if (k == A_PUNCT) {
            if (flush_word(e) || word_push(e, c)) return -1;
            return flush_word(e);
        }
        return word_push(e, c);
    }
    if (gl_tok_is_white_space(c)) return flush_word(e);
    if (is_punct_nonascii(c)) {
        if (flush_word(e) || word_push(e, c)) return -1;
        return flush_word(e);
    }
    return word_push(e, c);
}

/* Normalize, pre-tokenize and WordPiece the text s[0..len) between added
 * tokens (the word in progress is finished at its end). */
static int encode_gap(encoder *e, const unsigned char *s, size_t len) {
    const gl_wordpiece *wp = e->wp;
    const int clean = wp->o.clean_text, cjk = wp->o.handle_chinese_chars;
    size_t i = 0;
    while (i < len && e->count < e->limit) {
        uint32_t c = s[i];
        if (c < 0x80) {
            i++;
            if (ascii_kind(c) == A_DROP) { /* a control character */
                if (clean) continue;
                if (gl_tok_is_white_space(c) ? flush_word(e) : word_push(e, c)) return -1; /* VT, FF split */
                continue;
            }
            if (feed(e, c)) return -1;
            continue;
        }
        i += (size_t)gl_utf8_decode(s + i, &c);
        /* clean_text */
        if (clean && (c == 0xFFFD || is_other_nonascii(c))) continue;
        if (gl_tok_is_white_space(c)) {
            if (flush_word(e)) return -1;
            continue;
        }
        /* handle_chinese_chars: the ideograph becomes a word of its own */
        int ideograph = cjk && is_cjk(c);
        if (ideograph && flush_word(e)) return -1;
        if (wp->o.strip_accents) {
            utf8proc_int32_t d[8];
            int last = 0;
            utf8proc_ssize_t nd =
                utf8proc_decompose_char((utf8proc_int32_t)c, d, 8, UTF8PROC_DECOMPOSE, &last);
            if (nd < 0 || nd > 8) { /* cannot happen for canonical decompositions */
                d[0] = (utf8proc_int32_t)c;
                nd = 1;
            }
            nd = gl_ucompat_decompose(c, d, nd);
            for (utf8proc_ssize_t k = 0; k < nd; k++)
                if (feed(e, (uint32_t)d[k])) return -1;
        } else {
            if (feed(e, c)) return -1;
        }
        if (ideograph && flush_word(e)) return -1;
    }
    if (e->count < e->limit && flush_word(e)) return -1;
    e->wlen = 0;
    return 0;
}

int gl_wordpiece_encode(const gl_tokenizer *tok, const char *text, size_t len, int max_length, int32_t **ids,
                        size_t *cap) {
    size_t bad = gl_utf8_check(text, len);
    if (bad < len)
        return gl_error_k(GL_E_FORMAT, "tokenizer: invalid UTF-8 at byte %zu (0x%02X)", bad, (unsigned)(unsigned char)text[bad]);
    if (max_length == 1) return gl_error_k(GL_E_FORMAT, "tokenizer: max_length 1 cannot hold [CLS] and [SEP] (use >= 2, or 0)");
    encoder e;
    e.wp = tok->wp;
    e.ids = ids;
    e.cap = cap;
    e.count = 0;
    e.limit = max_length > 0 ? (size_t)max_length - 1 : SIZE_MAX; /* [CLS] + tokens; [SEP] comes after */
    e.word = e.word_stack;
    e.wlen = 0;
    e.wcap = sizeof e.word_stack / sizeof e.word_stack[0];
    int rc = -1;
    if (push_id(&e, tok->cls)) goto done;
    gl_added_iter it;
    gl_added_iter_init(&it, &tok->added_raw, text, len);
    size_t a, b;
    int32_t id;
    while (e.count < e.limit && gl_added_next(&it, &a, &b, &id)) {
        if (id >= 0) {
            if (push_id(&e, id)) goto done;
        } else if (encode_gap(&e, (const unsigned char *)text + a, b - a)) {
            goto done;
        }
    }
    if (e.count > e.limit) e.count = e.limit; /* the last word may overshoot */
    if (push_id(&e, tok->sep)) goto done;
    if (e.count > (size_t)INT32_MAX) {
        gl_error_k(GL_E_FORMAT, "tokenizer: %zu tokens do not fit an int", e.count);
        goto done;
    }
    rc = (int)e.count;
done:
    if (e.word != e.word_stack) free(e.word);
    return rc;
}
