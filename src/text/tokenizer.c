/* tokenizer.c: BERT WordPiece tokenization, identical to Hugging Face
 * `tokenizers` (BertNormalizer + BertPreTokenizer + WordPiece + [CLS]/[SEP]).
 *
 * The pipeline, in Hugging Face's order:
 *  0. special tokens: the literal strings [PAD] [UNK] [CLS] [SEP] [MASK] (those in
 *     the vocabulary) are matched in the raw text first and become their ids
 *     (HF registers them as non-normalized added tokens);
 *  1. clean_text: drop U+0000, U+FFFD and "other" characters (Cc, Cf, Co except
 *     TAB, LF, CR); map White_Space characters (and TAB, LF, CR) to ' ';
 *  2. handle_chinese_chars: put spaces around CJK ideographs;
 *  3. strip_accents: NFD, then drop nonspacing marks (Mn);
 *  4. lowercase: Rust's char::to_lowercase (U+0130 becomes "i" U+0307);
 *  5. pre-tokenize: split on White_Space (removed) and punctuation (kept, each
 *     its own word): ASCII punctuation and the Unicode P* categories;
 *  6. WordPiece: words over 100 characters are [UNK]; otherwise greedy longest
 *     match from the left with "##" on continuation pieces; a word with a piece
 *     that matches nothing is one [UNK];
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
#include "text/tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/unicode_compat.h"
#include "util/utf8.h"
#include "util/error.h"
#include "util/fileio.h"

#define MAX_WORD_CHARS 100 /* HF WordPiece max_input_chars_per_word */

enum { SP_PAD, SP_UNK, SP_CLS, SP_SEP, SP_MASK, SP_COUNT };
static const char *const special_names[SP_COUNT] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

struct gl_tokenizer {
    char *path;
    char *file;        /* vocab.txt as read, for gl_tokenizer_export */
    size_t file_len;
    int lowercase, strip_accents;
    int n;             /* ids 0..n-1, one per vocab line */
    char *strings;     /* every token, NUL-terminated */
    uint32_t *tok_off; /* token i starts at strings + tok_off[i] */
    uint32_t *tok_len;
    uint32_t *slot_id; /* hash table: id + 1, 0 = empty */
    uint32_t *slot_hash;
    uint32_t mask;
    int max_head, max_cont; /* longest token in bytes; longest "##" token without the prefix */
    int special[SP_COUNT];  /* ids, -1 when absent */
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

/* Id of the token "##"s (cont) or s, or -1. */
static int vocab_find(const gl_tokenizer *tok, int cont, const char *s, size_t n) {
    uint32_t h = FNV_SEED;
    if (cont) h = fnv1a(h, "##", 2);
    h = fnv1a(h, s, n);
    size_t full = n + (cont ? 2 : 0);
    for (uint32_t i = h & tok->mask;; i = (i + 1) & tok->mask) {
        uint32_t id1 = tok->slot_id[i];
        if (!id1) return -1;
        if (tok->slot_hash[i] != h || tok->tok_len[id1 - 1] != full) continue;
        const char *t = tok->strings + tok->tok_off[id1 - 1];
        if (cont && (t[0] != '#' || t[1] != '#')) continue;
        if (memcmp(t + (cont ? 2 : 0), s, n) == 0) return (int)id1 - 1;
    }
}

/* Insert id; a repeated token maps to its last line (as HF's HashMap insert). */
static void vocab_insert(gl_tokenizer *tok, uint32_t id) {
    const char *s = tok->strings + tok->tok_off[id];
    uint32_t n = tok->tok_len[id];
    uint32_t h = fnv1a(FNV_SEED, s, n);
    for (uint32_t i = h & tok->mask;; i = (i + 1) & tok->mask) {
        uint32_t id1 = tok->slot_id[i];
        if (!id1) {
            tok->slot_id[i] = id + 1;
            tok->slot_hash[i] = h;
            return;
        }
        if (tok->slot_hash[i] == h && tok->tok_len[id1 - 1] == n &&
            memcmp(tok->strings + tok->tok_off[id1 - 1], s, n) == 0) {
            tok->slot_id[i] = id + 1;
            return;
        }
    }
}

/* ---- character classes (HF's definitions) --------------------------------- */

/* Rust char::is_whitespace: the Unicode White_Space property. */
static int is_white_space(uint32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

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

/* ---- loading --------------------------------------------------------------------- */

gl_tokenizer *gl_tokenizer_load(const char *vocab_path, int lowercase, int strip_accents) {
    char *data;
    size_t len;
    if (gl_read_file(vocab_path, &data, &len)) return NULL;
    gl_tokenizer *tok = gl_calloc(1, sizeof *tok);
    if (!tok) goto fail;
    tok->lowercase = lowercase ? 1 : 0;
    tok->strip_accents = strip_accents < 0 ? tok->lowercase : (strip_accents ? 1 : 0);
    tok->path = gl_strdup(vocab_path);
    tok->file = gl_malloc(len + 1);
    if (!tok->path || !tok->file) goto fail;
    memcpy(tok->file, data, len + 1);
    tok->file_len = len;
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
    tok->n = (int)nlines;
    tok->strings = data; /* tokens are trimmed and NUL-terminated in place */
    data = NULL;
    tok->tok_off = gl_malloc(nlines * sizeof(uint32_t));
    tok->tok_len = gl_malloc(nlines * sizeof(uint32_t));
    size_t slots = 16;
    while (slots < 2 * nlines) slots *= 2;
    tok->mask = (uint32_t)(slots - 1);
    tok->slot_id = gl_calloc(slots, sizeof(uint32_t));
    tok->slot_hash = gl_malloc(slots * sizeof(uint32_t));
    if (!tok->tok_off || !tok->tok_len || !tok->slot_id || !tok->slot_hash) goto fail;
    char *s = tok->strings;
    size_t pos = 0;
    for (size_t i = 0; i < nlines; i++) {
        char *nl = memchr(s + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - s) : len;
        size_t k = e;
        while (k > pos) { /* trim trailing White_Space (decode backwards) */
            size_t b = k - 1;
            while (b > pos && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
            uint32_t cp;
            gl_utf8_decode((const unsigned char *)s + b, &cp);
            if (!is_white_space(cp)) break;
            k = b;
        }
        s[k] = 0;
        tok->tok_off[i] = (uint32_t)pos;
        tok->tok_len[i] = (uint32_t)(k - pos);
        int tl = (int)(k - pos);
        if (tl >= 2 && s[pos] == '#' && s[pos + 1] == '#') {
            if (tl - 2 > tok->max_cont) tok->max_cont = tl - 2;
        }
        if (tl > tok->max_head) tok->max_head = tl;
        vocab_insert(tok, (uint32_t)i);
        pos = e + 1;
    }
    for (int k = 0; k < SP_COUNT; k++)
        tok->special[k] = vocab_find(tok, 0, special_names[k], strlen(special_names[k]));
    for (int k = 0; k < SP_COUNT; k++) {
        if (k == SP_MASK || tok->special[k] >= 0) continue;
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

void gl_tokenizer_free(gl_tokenizer *tok) {
    if (!tok) return;
    free(tok->path);
    free(tok->file);
    free(tok->strings);
    free(tok->tok_off);
    free(tok->tok_len);
    free(tok->slot_id);
    free(tok->slot_hash);
    free(tok);
}

gl_tokenizer *gl_tokenizer_open(const char *dir, int lowercase, int strip_accents) {
    char *vocab = gl_path_join(dir, "vocab.txt");
    if (!vocab) return NULL;
    gl_tokenizer *tok = NULL;
    if (gl_file_exists(vocab))
        tok = gl_tokenizer_load(vocab, lowercase, strip_accents);
    else
        gl_error_k(GL_E_IO, "%s: no tokenizer: vocab.txt is missing (tokenizer.json and vocab.json + merges.txt are "
                   "not read yet)", dir);
    free(vocab);
    return tok;
}

const char *gl_tokenizer_kind(const gl_tokenizer *tok) {
    (void)tok;
    return "wordpiece";
}

int gl_tokenizer_export(const gl_tokenizer *tok, const char *out_dir) {
    char *path = gl_path_join(out_dir, "vocab.txt");
    if (!path) return -1;
    int rc = gl_write_file_atomic(path, tok->file, tok->file_len);
    free(path);
    return rc;
}

int gl_tokenizer_vocab_size(const gl_tokenizer *tok) { return tok->n; }
int gl_tokenizer_cls_id(const gl_tokenizer *tok) { return tok->special[SP_CLS]; }
int gl_tokenizer_sep_id(const gl_tokenizer *tok) { return tok->special[SP_SEP]; }
int gl_tokenizer_pad_id(const gl_tokenizer *tok) { return tok->special[SP_PAD]; }
int gl_tokenizer_unk_id(const gl_tokenizer *tok) { return tok->special[SP_UNK]; }

const char *gl_tokenizer_token(const gl_tokenizer *tok, int id) {
    if (id < 0 || id >= tok->n) return NULL;
    return tok->strings + tok->tok_off[id];
}

/* ---- encoding -------------------------------------------------------------------- */

typedef struct {
    const gl_tokenizer *tok;
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

/* WordPiece on the normalized word w[0..n) (n <= MAX_WORD_CHARS). */
static int wordpiece(encoder *e, const uint32_t *w, size_t n) {
    const gl_tokenizer *tok = e->tok;
    char buf[MAX_WORD_CHARS * 4 + 4];
    size_t bpos[MAX_WORD_CHARS + 1];
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
            return push_id(e, tok->special[SP_UNK]);
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
    const gl_tokenizer *tok = e->tok;
    uint32_t *w = e->word;
    size_t n = e->wlen;
    e->wlen = 0;
    if (tok->strip_accents) {
        if (canonical_order(w, n)) return -1;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!is_mn(w[i])) w[k++] = w[i];
        n = k;
    }
    uint32_t out[MAX_WORD_CHARS + 2];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t l[2];
        int k = tok->lowercase ? lower_char(w[i], l) : (l[0] = w[i], 1);
        for (int j = 0; j < k; j++) {
            if (m > MAX_WORD_CHARS) break;
            out[m++] = l[j];
        }
        if (m > MAX_WORD_CHARS) break;
    }
    if (m == 0) return 0; /* only marks: nothing left */
    if (m > MAX_WORD_CHARS) return push_id(e, tok->special[SP_UNK]);
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
    if (is_white_space(c)) return flush_word(e);
    if (is_punct_nonascii(c)) {
        if (flush_word(e) || word_push(e, c)) return -1;
        return flush_word(e);
    }
    return word_push(e, c);
}

/* The special token spelled at s[0..n), or -1. */
static int match_special(const gl_tokenizer *tok, const char *s, size_t n) {
    for (int k = 0; k < SP_COUNT; k++) {
        if (tok->special[k] < 0) continue;
        size_t l = strlen(special_names[k]);
        if (l <= n && memcmp(s, special_names[k], l) == 0) return k;
    }
    return -1;
}

int gl_tokenizer_encode(const gl_tokenizer *tok, const char *text, size_t len, int max_length, int32_t **ids,
                        size_t *cap) {
    size_t bad = gl_utf8_check(text, len);
    if (bad < len)
        return gl_error_k(GL_E_FORMAT, "tokenizer: invalid UTF-8 at byte %zu (0x%02X)", bad, (unsigned)(unsigned char)text[bad]);
    if (max_length == 1) return gl_error_k(GL_E_FORMAT, "tokenizer: max_length 1 cannot hold [CLS] and [SEP] (use >= 2, or 0)");
    encoder e;
    e.tok = tok;
    e.ids = ids;
    e.cap = cap;
    e.count = 0;
    e.limit = max_length > 0 ? (size_t)max_length - 1 : SIZE_MAX; /* [CLS] + tokens; [SEP] comes after */
    e.word = e.word_stack;
    e.wlen = 0;
    e.wcap = sizeof e.word_stack / sizeof e.word_stack[0];
    int rc = -1;
    if (push_id(&e, tok->special[SP_CLS])) goto done;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len && e.count < e.limit) {
        uint32_t c = s[i];
        if (c == '[') {
            int k = match_special(tok, text + i, len - i);
            if (k >= 0) {
                if (flush_word(&e) || push_id(&e, tok->special[k])) goto done;
                i += strlen(special_names[k]);
                continue;
            }
        }
        if (c < 0x80) {
            i++;
            if (ascii_kind(c) == A_DROP) continue;
            if (feed(&e, c)) goto done;
            continue;
        }
        i += (size_t)gl_utf8_decode(s + i, &c);
        /* clean_text */
        if (c == 0xFFFD || is_other_nonascii(c)) continue;
        if (is_white_space(c)) {
            if (flush_word(&e)) goto done;
            continue;
        }
        /* handle_chinese_chars: the ideograph becomes a word of its own */
        if (is_cjk(c)) {
            if (flush_word(&e)) goto done;
        }
        if (tok->strip_accents) {
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
                if (feed(&e, (uint32_t)d[k])) goto done;
        } else {
            if (feed(&e, c)) goto done;
        }
        if (is_cjk(c)) {
            if (flush_word(&e)) goto done;
        }
    }
    if (e.count < e.limit && flush_word(&e)) goto done;
    if (e.count > e.limit) e.count = e.limit; /* the last word may overshoot */
    if (push_id(&e, tok->special[SP_SEP])) goto done;
    if (e.count > (size_t)INT32_MAX) {
        gl_error_k(GL_E_FORMAT, "tokenizer: %zu tokens do not fit an int", e.count);
        goto done;
    }
    rc = (int)e.count;
done:
    if (e.word != e.word_stack) free(e.word);
    return rc;
}
