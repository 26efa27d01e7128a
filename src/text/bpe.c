/* bpe.c: byte-level BPE, identical to Hugging Face tokenizers' BPE model
 * behind a ByteLevel pre-tokenizer (GPT-2, RoBERTa).
 *
 * Encoding a text, in HF's order:
 *  1. added tokens (text/added_tokens.c): the non-normalized ones in the text,
 *     then the normalized ones in the pieces between (there is no normalizer);
 *  2. each remaining piece: a space in front when add_prefix_space is set and
 *     it does not start with one, then GPT-2's split (text/bytelevel.c);
 *  3. each word: one symbol per byte, then merges by rank: the pair of lowest
 *     rank (leftmost among equals) is merged first, as HF's Word::merge_all
 *     does with its priority queue, including its check that a queued pair is
 *     still the same merge;
 *  4. <s> ids </s>, keeping the first max_length - 2 ids.
 * The vocabulary is keyed by the token as the files spell it (bytes written
 * as GPT-2's printable characters); a word's bytes are looked up through a
 * table of the 256 one-byte tokens, so encoding never spells tokens out, and
 * the ids of short words are kept in a cache (below), since words repeat.
 *
 * A byte without a one-byte token (a vocabulary that lacks some) becomes
 * byte-fallback tokens "<0xXX>" where byte_fallback is set, else the unknown
 * token (consecutive ones fused with fuse_unk), else nothing, as in HF. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"
#include "util/error.h"
#include "util/utf8.h"
#include "util/strpool.h"

typedef struct {
    uint64_t key; /* (a << 32 | b) + 1; 0 = empty */
    int32_t rank, new_id;
} merge_slot;

/* A slot of the cache of merged words (64 bytes): a sequence number (odd
 * while a writer fills it) and 15 words: the word's hash, its length and id
 * count, its bytes (CACHE_BYTES, zero-padded), its ids (CACHE_IDS). */
#define CACHE_SLOTS (1u << 14)
#define CACHE_BYTES 20
#define CACHE_IDS 8
#define CACHE_WORDS 15
typedef struct {
    _Atomic uint32_t seq;
    _Atomic uint32_t w[CACHE_WORDS];
} cache_slot;

struct gl_bpe {
    gl_bpe_opts o;
    char *unk_token;
    /* tokens by id: strings + off[id], len[id]; len = UINT32_MAX for no token */
    gl_strpool strings;
    size_t *off;
    uint32_t *len;
    int32_t ids_cap, max_id;
    size_t ntok;
    /* spelling -> id, open addressing: id + 1, 0 = empty */
    int32_t *slot;
    uint32_t *slot_hash;
    size_t nslots;
    /* merges */
    merge_slot *merges;
    size_t nmerge_slots, nmerges;
    int32_t next_rank; /* merges read so far: the rank of the next */
    /* the one-byte tokens and fallbacks */
    int32_t byte_id[256];
    int32_t fallback[256][2];
    int unk_id; /* -1: none; -2: named but not in the vocabulary */
    /* merged words, filled as the tokenizer encodes (see word_cache_*) */
    cache_slot *cache;
};

static uint32_t fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

gl_bpe *gl_bpe_new(const gl_bpe_opts *o) {
    gl_bpe *bpe = gl_calloc(1, sizeof *bpe);
    if (!bpe) return NULL;
    bpe->o = *o;
    bpe->max_id = -1;
    bpe->unk_id = -1;
    if (o->unk_token) {
        bpe->unk_token = gl_strdup(o->unk_token);
        if (!bpe->unk_token) {
            free(bpe);
            return NULL;
        }
    }
    bpe->o.unk_token = bpe->unk_token;
    return bpe;
}

void gl_bpe_free(gl_bpe *bpe) {
    if (!bpe) return;
    free(bpe->cache);
    free(bpe->unk_token);
    gl_strpool_free(&bpe->strings);
    free(bpe->off);
    free(bpe->len);
    free(bpe->slot);
    free(bpe->slot_hash);
    free(bpe->merges);
    free(bpe);
}

int32_t gl_bpe_token_id(const gl_bpe *bpe, const char *s, size_t len) {
    if (!bpe->nslots) return -1;
    uint32_t h = fnv1a(s, len);
    size_t mask = bpe->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        int32_t id1 = bpe->slot[i];
        if (!id1) return -1;
        if (bpe->slot_hash[i] == h && bpe->len[id1 - 1] == len && memcmp(bpe->strings.data + bpe->off[id1 - 1], s, len) == 0)
            return id1 - 1;
    }
}

static void slot_put(int32_t *slot, uint32_t *slot_hash, size_t nslots, uint32_t h, int32_t id) {
    size_t mask = nslots - 1;
    size_t i = h & mask;
    while (slot[i]) i = (i + 1) & mask;
    slot[i] = id + 1;
    slot_hash[i] = h;
}

static int grow_slots(gl_bpe *bpe) {
    size_t ns = bpe->nslots ? bpe->nslots * 2 : 1024;
    int32_t *slot = gl_calloc(ns, sizeof *slot);
    uint32_t *hash = gl_malloc(ns * sizeof *hash);
    if (!slot || !hash) {
        free(slot);
        free(hash);
        return -1;
    }
    for (size_t i = 0; i < bpe->nslots; i++)
        if (bpe->slot[i]) slot_put(slot, hash, ns, bpe->slot_hash[i], bpe->slot[i] - 1);
    free(bpe->slot);
    free(bpe->slot_hash);
    bpe->slot = slot;
    bpe->slot_hash = hash;
    bpe->nslots = ns;
    return 0;
}

int gl_bpe_add_token(gl_bpe *bpe, const char *s, size_t len, int32_t id) {
    if (id < 0 || id >= GL_TOK_MAX_ID || len >= UINT32_MAX) return -1;
    if (id >= bpe->ids_cap) {
        int32_t nc = bpe->ids_cap ? bpe->ids_cap : 1024;
        while (nc <= id) nc *= 2;
        size_t *off = gl_realloc(bpe->off, (size_t)nc * sizeof *off);
        if (!off) return -1;
        bpe->off = off;
        uint32_t *ln = gl_realloc(bpe->len, (size_t)nc * sizeof *ln);
        if (!ln) return -1;
        bpe->len = ln;
        for (int32_t i = bpe->ids_cap; i < nc; i++) ln[i] = UINT32_MAX;
        bpe->ids_cap = nc;
    }
    if (bpe->len[id] != UINT32_MAX) return 1;
    if (gl_strpool_add(&bpe->strings, s, len, &bpe->off[id]) != 0) return -1;
    bpe->len[id] = (uint32_t)len;
    if (2 * (bpe->ntok + 1) > bpe->nslots && grow_slots(bpe)) return -1;
    slot_put(bpe->slot, bpe->slot_hash, bpe->nslots, fnv1a(s, len), id);
    bpe->ntok++;
    if (id > bpe->max_id) bpe->max_id = id;
    return 0;
}

int32_t gl_bpe_max_id(const gl_bpe *bpe) { return bpe->max_id; }

const char *gl_bpe_token(const gl_bpe *bpe, int id) {
    if (id < 0 || id > bpe->max_id || bpe->len[id] == UINT32_MAX) return NULL;
    return bpe->strings.data + bpe->off[id];
}

/* ---- merges ---------------------------------------------------------------------- */

static inline uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1; }

static inline size_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

static const merge_slot *merge_get(const gl_bpe *bpe, int32_t a, int32_t b) {
    if (!bpe->nmerge_slots) return NULL;
    uint64_t k = pair_key(a, b);
    size_t mask = bpe->nmerge_slots - 1;
    for (size_t i = pair_hash(k) & mask;; i = (i + 1) & mask) {
        if (bpe->merges[i].key == k) return &bpe->merges[i];
        if (!bpe->merges[i].key) return NULL;
    }
}

static merge_slot *merge_slot_for(merge_slot *t, size_t ns, uint64_t k) {
    size_t mask = ns - 1;
    size_t i = pair_hash(k) & mask;
    while (t[i].key && t[i].key != k) i = (i + 1) & mask;
    return &t[i];
}

int gl_bpe_add_merge(gl_bpe *bpe, int32_t a, int32_t b) {
    /* the merged token as the files spell it: a's spelling then b's */
    size_t la = bpe->len[a], lb = bpe->len[b];
    char stack[256], *buf = la + lb <= sizeof stack ? stack : gl_malloc(la + lb);
    if (!buf) return -1;
    memcpy(buf, bpe->strings.data + bpe->off[a], la);
    memcpy(buf + la, bpe->strings.data + bpe->off[b], lb);
    int32_t id = gl_bpe_token_id(bpe, buf, la + lb);
    if (buf != stack) free(buf);
    if (id < 0) return 1;
    if (2 * (bpe->nmerges + 1) > bpe->nmerge_slots) {
        size_t ns = bpe->nmerge_slots ? bpe->nmerge_slots * 2 : 1024;
        merge_slot *t = gl_calloc(ns, sizeof *t);
        if (!t) return -1;
        for (size_t i = 0; i < bpe->nmerge_slots; i++)
            if (bpe->merges[i].key) *merge_slot_for(t, ns, bpe->merges[i].key) = bpe->merges[i];
        free(bpe->merges);
        bpe->merges = t;
        bpe->nmerge_slots = ns;
    }
    /* a pair listed twice keeps its last rank (HF collects the merges into a map) */
    merge_slot *m = merge_slot_for(bpe->merges, bpe->nmerge_slots, pair_key(a, b));
    if (!m->key) {
        m->key = pair_key(a, b);
        bpe->nmerges++;
    }
    m->rank = bpe->next_rank++;
    m->new_id = id;
    return 0;
}

int gl_bpe_finish(gl_bpe *bpe) {
    for (int b = 0; b < 256; b++) {
        char u[4];
        int k = gl_utf8_encode(gl_bytelevel_char((unsigned char)b), u);
        bpe->byte_id[b] = gl_bpe_token_id(bpe, u, (size_t)k);
        /* byte fallback spells the bytes of the character: "<0xC4>" "<0xA0>" for byte 0x20 */
        bpe->fallback[b][0] = bpe->fallback[b][1] = -1;
        for (int j = 0; j < k; j++) {
            static const char hex[] = "0123456789ABCDEF";
            unsigned char x = (unsigned char)u[j];
            char name[6] = {'<', '0', 'x', hex[x >> 4], hex[x & 15], '>'};
            int32_t id = gl_bpe_token_id(bpe, name, 6);
            if (id < 0) {
                bpe->fallback[b][0] = -1;
                break;
            }
            bpe->fallback[b][j] = id;
        }
    }
    bpe->cache = gl_calloc(CACHE_SLOTS, sizeof *bpe->cache); /* all empty: length 0 */
    if (!bpe->cache) return -1;
    if (bpe->unk_token) {
        int32_t id = gl_bpe_token_id(bpe, bpe->unk_token, strlen(bpe->unk_token));
        bpe->unk_id = id >= 0 ? id : -2;
        /* HF fails when it needs the missing token: refused here when a byte
         * could need it (the common byte-level vocabulary has all 256) */
        for (int b = 0; id < 0 && b < 256; b++)
            if (bpe->byte_id[b] < 0 && !(bpe->o.byte_fallback && bpe->fallback[b][0] >= 0)) return 1;
    }
    return 0;
}

/* ---- the cache of merged words ---------------------------------------------------
 * Words repeat, so the ids of short words (up to CACHE_BYTES bytes and
 * CACHE_IDS ids) are kept in a direct-mapped table, the last word merged
 * that hashes to a slot. Encoding threads share it without locks: each slot
 * is a sequence lock (a writer makes the number odd, writes, makes it even
 * again; a reader that sees it odd or changed counts a miss), every access an
 * atomic one. A word not found is merged as usual, so the ids never depend on
 * the cache. */

/* Copies the ids of w into ids (room for CACHE_IDS); returns their count, or
 * -1 when the word is not there. */
static int word_cache_find(const gl_bpe *bpe, const unsigned char *w, size_t n, uint32_t h, int32_t *ids) {
    cache_slot *c = &bpe->cache[h & (CACHE_SLOTS - 1)];
    uint32_t s1 = atomic_load_explicit(&c->seq, memory_order_acquire);
    if (s1 & 1) return -1;
    uint32_t v[CACHE_WORDS];
    v[0] = atomic_load_explicit(&c->w[0], memory_order_relaxed);
    v[1] = atomic_load_explicit(&c->w[1], memory_order_relaxed);
    if (v[0] != h || (v[1] & 0xFF) != n) return -1;
    for (int k = 2; k < CACHE_WORDS; k++) v[k] = atomic_load_explicit(&c->w[k], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&c->seq, memory_order_relaxed) != s1) return -1;
    if (memcmp(v + 2, w, n) != 0) return -1;
    int nids = (int)(v[1] >> 8);
    memcpy(ids, v + 2 + CACHE_BYTES / 4, (size_t)nids * sizeof(int32_t));
    return nids;
}

static void word_cache_add(const gl_bpe *bpe, const unsigned char *w, size_t n, uint32_t h, const int32_t *ids,
                           size_t nids) {
    if (n > CACHE_BYTES || nids > CACHE_IDS) return;
    cache_slot *c = &bpe->cache[h & (CACHE_SLOTS - 1)];
    uint32_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);
    if ((s & 1) || !atomic_compare_exchange_strong_explicit(&c->seq, &s, s + 1, memory_order_acquire, memory_order_relaxed))
        return; /* another thread is writing it */
    atomic_thread_fence(memory_order_release);
    uint32_t v[CACHE_WORDS];
    memset(v, 0, sizeof v);
    v[0] = h;
    v[1] = (uint32_t)n | (uint32_t)nids << 8;
    memcpy(v + 2, w, n);
    if (nids) memcpy(v + 2 + CACHE_BYTES / 4, ids, nids * sizeof(int32_t)); /* ids is NULL for none */
    for (int k = 0; k < CACHE_WORDS; k++) atomic_store_explicit(&c->w[k], v[k], memory_order_relaxed);
    atomic_store_explicit(&c->seq, s + 2, memory_order_release);
}

/* ---- encoding ------------------------------------------------------------------------ */

typedef struct {
    int32_t id, prev, next; /* next -1: last */
    int alive;
} symbol;

typedef struct {
    int32_t rank, pos, new_id;
} queued;

typedef struct {
    const gl_tokenizer *tok;
    const gl_bpe *bpe;
    int32_t **ids;
    size_t *cap;
    size_t count, limit;
    symbol *sym;
    size_t sym_cap;
    queued *heap;
    size_t heap_n, heap_cap;
    char *buf; /* a piece with its prefix space */
    size_t buf_cap;
    int32_t *wids; /* the ids of the word being merged */
    size_t wids_n, wids_cap;
} encoder;

static int push_id(encoder *e, int32_t id) {
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

static int grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = gl_realloc(*p, nc * size);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static inline int before(const queued *a, const queued *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static int heap_push(encoder *e, int32_t rank, int32_t pos, int32_t new_id) {
    if (grow((void **)&e->heap, &e->heap_cap, e->heap_n + 1, sizeof *e->heap)) return -1;
    size_t i = e->heap_n++;
    queued q = {rank, pos, new_id};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&q, &e->heap[p])) break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = q;
    return 0;
}

static queued heap_pop(encoder *e) {
    queued top = e->heap[0], last = e->heap[--e->heap_n];
    size_t i = 0, n = e->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&e->heap[c + 1], &e->heap[c])) c++;
        if (!before(&e->heap[c], &last)) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n) e->heap[i] = last;
    return top;
}

static int add_symbol(encoder *e, size_t *n, int32_t id) {
    if (grow((void **)&e->sym, &e->sym_cap, *n + 1, sizeof *e->sym)) return -1;
    e->sym[*n] = (symbol){id, (int32_t)*n - 1, (int32_t)*n + 1, 1};
    (*n)++;
    return 0;
}

static int word_id(encoder *e, int32_t id) {
    if (grow((void **)&e->wids, &e->wids_cap, e->wids_n + 1, sizeof *e->wids)) return -1;
    e->wids[e->wids_n++] = id;
    return 0;
}

/* Merge one word w[0..n) (raw bytes): its ids into e->wids[0..wids_n). */
static int merge_word(encoder *e, const unsigned char *w, size_t n) {
    const gl_bpe *bpe = e->bpe;
    e->wids_n = 0;
    if (bpe->o.ignore_merges) { /* the whole word when it is a token */
        char *b = gl_malloc(2 * n);
        if (!b) return -1;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += (size_t)gl_utf8_encode(gl_bytelevel_char(w[i]), b + k);
        int32_t id = gl_bpe_token_id(bpe, b, k);
        free(b);
        if (id >= 0) return word_id(e, id);
    }
    size_t ns = 0;
    int32_t unk = -1; /* a pending unknown token */
    for (size_t i = 0; i < n; i++) {
        int32_t id = bpe->byte_id[w[i]];
        if (id >= 0) {
            if (unk >= 0 && add_symbol(e, &ns, unk)) return -1;
            unk = -1;
            if (add_symbol(e, &ns, id)) return -1;
            continue;
        }
        if (bpe->o.byte_fallback && bpe->fallback[w[i]][0] >= 0) {
            /* HF adds the fallback bytes without flushing a pending unknown token */
            for (int j = 0; j < 2 && bpe->fallback[w[i]][j] >= 0; j++)
                if (add_symbol(e, &ns, bpe->fallback[w[i]][j])) return -1;
            continue;
        }
        if (bpe->unk_id == -2)
            return gl_error_k(GL_E_FORMAT, "tokenizer: the unknown token \"%s\" is not in the vocabulary", bpe->unk_token);
        if (bpe->unk_id >= 0) {
            if (unk >= 0 && !bpe->o.fuse_unk && add_symbol(e, &ns, unk)) return -1;
            unk = bpe->unk_id;
        }
    }
    if (unk >= 0 && add_symbol(e, &ns, unk)) return -1;
    if (ns == 0) return 0;
    e->sym[ns - 1].next = -1;
    e->heap_n = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
        const merge_slot *m = merge_get(bpe, e->sym[i].id, e->sym[i + 1].id);
        if (m && heap_push(e, m->rank, (int32_t)i, m->new_id)) return -1;
    }
    while (e->heap_n) {
        queued top = heap_pop(e);
        symbol *s = &e->sym[top.pos];
        if (!s->alive || s->next < 0) continue;
        symbol *right = &e->sym[s->next];
        const merge_slot *m = merge_get(bpe, s->id, right->id);
        if (!m || m->new_id != top.new_id) continue; /* a stale entry */
        s->id = top.new_id;
        right->alive = 0;
        s->next = right->next;
        if (s->next >= 0) e->sym[s->next].prev = top.pos;
        if (s->prev >= 0) {
            m = merge_get(bpe, e->sym[s->prev].id, s->id);
            if (m && heap_push(e, m->rank, s->prev, m->new_id)) return -1;
        }
        if (s->next >= 0) {
            m = merge_get(bpe, s->id, e->sym[s->next].id);
            if (m && heap_push(e, m->rank, top.pos, m->new_id)) return -1;
        }
    }
    for (int32_t i = 0; i >= 0; i = e->sym[i].next)
        if (word_id(e, e->sym[i].id)) return -1;
    return 0;
}

/* One word: its ids from the cache, else merged (and cached). */
static int encode_word(encoder *e, const unsigned char *w, size_t n) {
    int32_t cached[CACHE_IDS];
    const int32_t *ids = cached;
    int nids = -1;
    uint32_t h = 0;
    if (n <= CACHE_BYTES) {
        h = fnv1a((const char *)w, n);
        nids = word_cache_find(e->bpe, w, n, h, cached);
    }
    if (nids < 0) {
        if (merge_word(e, w, n)) return -1;
        ids = e->wids;
        nids = (int)e->wids_n;
        if (n <= CACHE_BYTES) word_cache_add(e->bpe, w, n, h, ids, (size_t)nids);
    }
    for (int i = 0; i < nids && e->count < e->limit; i++)
        if (push_id(e, ids[i])) return -1;
    return 0;
}

/* A piece of text between added tokens: prefix space, split, words. */
static int encode_gap(encoder *e, const char *s, size_t n) {
    if (e->bpe->o.add_prefix_space && s[0] != ' ') {
        if (grow((void **)&e->buf, &e->buf_cap, n + 1, 1)) return -1;
        e->buf[0] = ' ';
        memcpy(e->buf + 1, s, n);
        s = e->buf;
        n++;
    }
    if (!e->bpe->o.use_regex) return encode_word(e, (const unsigned char *)s, n);
    size_t pos = 0;
    while (pos < n && e->count < e->limit) {
        size_t end = gl_bytelevel_split(s, n, pos);
        if (encode_word(e, (const unsigned char *)s + pos, end - pos)) return -1;
        pos = end;
    }
    return 0;
}

int gl_bpe_encode(const gl_tokenizer *tok, const char *text, size_t len, int max_length, int32_t **ids,
                  size_t *cap) {
    size_t bad = gl_utf8_check(text, len);
    if (bad < len)
        return gl_error_k(GL_E_FORMAT, "tokenizer: invalid UTF-8 at byte %zu (0x%02X)", bad, (unsigned)(unsigned char)text[bad]);
    if (max_length == 1) return gl_error_k(GL_E_FORMAT, "tokenizer: max_length 1 cannot hold <s> and </s> (use >= 2, or 0)");
    encoder e;
    memset(&e, 0, sizeof e);
    e.tok = tok;
    e.bpe = tok->bpe;
    e.ids = ids;
    e.cap = cap;
    e.limit = max_length > 0 ? (size_t)max_length - 1 : SIZE_MAX; /* <s> + tokens; </s> comes after */
    int rc = -1;
    if (push_id(&e, tok->cls)) goto done;
    gl_added_iter raw;
    gl_added_iter_init(&raw, &tok->added_raw, text, len);
    size_t a, b;
    int32_t id;
    while (e.count < e.limit && gl_added_next(&raw, &a, &b, &id)) {
        if (id >= 0) {
            if (push_id(&e, id)) goto done;
            continue;
        }
        gl_added_iter norm;
        gl_added_iter_init(&norm, &tok->added_norm, text + a, b - a);
        size_t a2, b2;
        while (e.count < e.limit && gl_added_next(&norm, &a2, &b2, &id)) {
            if (id >= 0) {
                if (push_id(&e, id)) goto done;
            } else if (encode_gap(&e, text + a + a2, b2 - a2)) {
                goto done;
            }
        }
    }
    if (e.count > e.limit) e.count = e.limit;
    if (push_id(&e, tok->sep)) goto done;
    if (e.count > (size_t)INT32_MAX) {
        gl_error_k(GL_E_FORMAT, "tokenizer: %zu tokens do not fit an int", e.count);
        goto done;
    }
    rc = (int)e.count;
done:
    free(e.sym);
    free(e.heap);
    free(e.buf);
    free(e.wids);
    return rc;
}
