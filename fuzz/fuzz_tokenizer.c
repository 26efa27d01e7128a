/* fuzz_tokenizer.c: libFuzzer target for gl_tokenizer_encode
 * (src/text/tokenizer.c, src/util/utf8.c, src/text/unicode_compat.c).
 *
 * A small fixed vocabulary (a few hundred tokens: the five specials, letters,
 * digits, punctuation, "##" pieces, words, accented words, CJK ideographs,
 * Greek/Cyrillic) is written once at start-up to a per-process temp directory
 * and loaded four times: lowercase on/off x strip_accents default/forced.
 * Input: the text to encode, as raw bytes.
 *
 * Every input is encoded by each tokenizer with max_length 0 (no truncation)
 * and 2, 3, 5, 16, 512, and checked: invalid UTF-8 fails exactly when an
 * independent validator says so; otherwise the result is [CLS] ... [SEP], at
 * most max_length ids, every id in range, and a truncated encoding is the
 * untruncated one cut to max_length - 2 tokens; max_length 1 is refused. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text/tokenizer.h"
#include "util/error.h"

#include "fuzz_common.h"

/* ---- target ---- */

#define NTOK 4
static gl_tokenizer *g_tok[NTOK];
static int g_vocab_n;

static void free_tokenizers(void) {
    for (int i = 0; i < NTOK; i++) gl_tokenizer_free(g_tok[i]);
}

/* The fixed vocabulary: one token per line. */
static char *build_vocab(size_t *len) {
    static const char *const words[] = {
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "the", "of", "and", "to", "in", "is", "it",
        "hello", "world", "un", "##aff", "##able", "##ing", "##ed", "##s", "##er", "##est", "##ly", "play",
        "run", "##n", "##ning", "token", "##izer", "##ization", "fine", "##tune", "bert", "model", "text",
        "good", "bad", "movie", "not", "very", "great", "awful", "i", "you", "we", "they", "a", "an",
        "café", "cafe", "naïve", "naive", "résumé", "resume", "über", "uber", "école", "ecole", "straße",
        "İstanbul", "istanbul", "##é", "##è", "##ü", "##ß", "é", "ü", "ñ", "ç", "ø", "å", "Å", "Ö",
        "中", "文", "字", "国", "人", "日", "本", "語", "的", "一", "是", "不", "了", "我",
        "한", "국", "어", "##국", "あ", "い", "う", "の", "に", "ア", "イ",
        "α", "β", "γ", "δ", "λ", "π", "σ", "ς", "Σ", "##α", "ω",
        "а", "б", "в", "г", "д", "и", "к", "о", "привет", "мир", "##ет",
        "##", "###", "#", "##a", "##b", "##1", "…", "—", "–", "‘", "’", "“", "”", "¿", "¡", "€", "£",
        "١", "٢", "ا", "ل", "م", "עברית", "ש", "ॐ", "क", "##्", "ก", "ข", "##ข",
    };
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    FUZZ_CHECK(buf != NULL);
#define ADD(s)                                                       \
    do {                                                             \
        const char *s_ = (s);                                        \
        size_t l_ = strlen(s_);                                      \
        if (n + l_ + 2 > cap) {                                      \
            cap *= 2;                                                \
            buf = realloc(buf, cap);                                 \
            FUZZ_CHECK(buf != NULL);                                 \
        }                                                            \
        memcpy(buf + n, s_, l_);                                     \
        n += l_;                                                     \
        buf[n++] = '\n';                                             \
    } while (0)
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) ADD(words[i]);
    char t[8];
    for (int c = 0x21; c < 0x7f; c++) { /* every printable ASCII char, and as a piece */
        t[0] = (char)c;
        t[1] = 0;
        ADD(t);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            snprintf(t, sizeof t, "##%c", c);
            ADD(t);
        }
    }
    for (int c = 'a'; c <= 'z'; c += 3) { /* some two-letter pieces */
        snprintf(t, sizeof t, "%c%c", c, 'a' + (c * 7) % 26);
        ADD(t);
        snprintf(t, sizeof t, "##%c%c", c, 'a' + (c * 5) % 26);
        ADD(t);
    }
    ADD("trailing  "); /* trailing White_Space is trimmed on load */
    ADD("the");        /* a repeated token maps to its last line */
#undef ADD
    *len = n;
    return buf;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    make_tmpdir("tokenizer");
    size_t n;
    char *v = build_vocab(&n);
    const char *path = put_file("vocab.txt", (const uint8_t *)v, n);
    free(v);
    static const int flags[NTOK][2] = {{1, -1}, {0, -1}, {0, 1}, {1, 0}};
    for (int i = 0; i < NTOK; i++) {
        g_tok[i] = gl_tokenizer_load(path, flags[i][0], flags[i][1]);
        if (!g_tok[i]) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", gl_error_message());
            abort();
        }
    }
    g_vocab_n = gl_tokenizer_vocab_size(g_tok[0]);
    atexit(free_tokenizers); /* registered after rm_tmpdir: runs first */
    return 0;
}

/* Independent strict UTF-8 check (Unicode Table 3-7): 1 if all valid. */
static int utf8_ok(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t len;
        if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
        else return 0;
        if (i + len > n) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    int valid = utf8_ok(data, size);
    static const int lens[] = {2, 3, 5, 16, 512};
    int32_t *full = NULL, *ids = NULL;
    size_t fcap = 0, cap = 0;
    for (int k = 0; k < NTOK; k++) {
        const gl_tokenizer *tok = g_tok[k];
        int cls = gl_tokenizer_cls_id(tok), sep = gl_tokenizer_sep_id(tok);
        FUZZ_CHECK(gl_tokenizer_encode(tok, text, size, 1, &ids, &cap) == -1);
        int nf = gl_tokenizer_encode(tok, text, size, 0, &full, &fcap);
        if (!valid) {
            FUZZ_CHECK(nf == -1);
            FUZZ_CHECK(strstr(gl_error_message(), "invalid UTF-8") != NULL);
            for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++)
                FUZZ_CHECK(gl_tokenizer_encode(tok, text, size, lens[j], &ids, &cap) == -1);
            continue;
        }
        FUZZ_CHECK(nf >= 2);
        FUZZ_CHECK(full[0] == cls && full[nf - 1] == sep);
        for (int i = 0; i < nf; i++) FUZZ_CHECK(full[i] >= 0 && full[i] < g_vocab_n);
        for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
            int L = lens[j];
            int m = gl_tokenizer_encode(tok, text, size, L, &ids, &cap);
            int want = nf <= L ? nf : L;
            if (m != want) {
                fprintf(stderr, "tokenizer %d, max_length %d: %d ids, untruncated %d\n", k, L, m, nf);
                FUZZ_CHECK(m == want);
            }
            /* the first want - 1 ids equal the untruncated ones, then [SEP] */
            FUZZ_CHECK(memcmp(ids, full, (size_t)(want - 1) * sizeof(int32_t)) == 0);
            FUZZ_CHECK(ids[want - 1] == sep);
        }
    }
    free(full);
    free(ids);
    return 0;
}
