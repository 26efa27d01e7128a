/* bytelevel.c: GPT-2's byte-level pre-tokenizer, as Hugging Face tokenizers'
 * ByteLevel: the text is split into pieces by GPT-2's regex, and every byte of
 * a piece is written as one printable character.
 *
 * The split is written by hand rather than with a regex library: the pattern
 * needs Unicode's letter and number categories exactly as HF's Oniguruma has
 * them (Unicode 16), and none of the C regex libraries matches that; the
 * classes here are utf8proc's categories with the Unicode 16 additions of
 * text/unicode_compat.c, checked against HF on every code point. */
#include "text/tokenizer_internal.h"
#include "text/unicode_compat.h"
#include "util/utf8.h"

/* ---- bytes <-> characters ------------------------------------------------------ */

/* Printable bytes stand for themselves: '!'..'~', 0xA1..0xAC, 0xAE..0xFF. */
static int printable(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

uint32_t gl_bytelevel_char(unsigned char b) {
    if (printable(b)) return b;
    /* the 68 others get 256, 257, ... in byte order: 0x00..0x20, 0x7F..0xA0, 0xAD */
    if (b <= 0x20) return 256u + b;
    if (b <= 0xA0) return 256u + 33 + (b - 0x7Fu);
    return 256u + 67; /* 0xAD */
}

int gl_bytelevel_byte(uint32_t cp) {
    if (cp < 256) return printable(cp) ? (int)cp : -1;
    if (cp <= 256 + 32) return (int)(cp - 256);
    if (cp <= 256 + 66) return (int)(0x7F + cp - (256 + 33));
    return cp == 256 + 67 ? 0xAD : -1;
}

/* ---- the split ------------------------------------------------------------------- */

enum { C_OTHER = GL_UCLASS_OTHER, C_LETTER = GL_UCLASS_LETTER, C_NUMBER = GL_UCLASS_NUMBER, C_SPACE };

/* Class of the character at s[pos]; its length in *len. \s is White_Space. */
static inline int char_class(const char *s, size_t pos, size_t *len) {
    unsigned c = (unsigned char)s[pos];
    if (c < 0x80) {
        *len = 1;
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return C_LETTER;
        if (c >= '0' && c <= '9') return C_NUMBER;
        if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return C_SPACE;
        return C_OTHER;
    }
    uint32_t cp;
    *len = (size_t)gl_utf8_decode((const unsigned char *)s + pos, &cp);
    if (gl_tok_is_white_space(cp)) return C_SPACE;
    return gl_ucompat_regex_class(cp);
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * tried in that order at pos (leftmost-first alternation, as Oniguruma). */
size_t gl_bytelevel_split(const char *s, size_t n, size_t pos) {
    if (s[pos] == '\'' && pos + 1 < n) {
        char a = s[pos + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
        if (pos + 2 < n) {
            char b = s[pos + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return pos + 3;
        }
    }
    size_t l0, l1, p;
    int k = char_class(s, pos, &l0);
    if (s[pos] == ' ' && pos + 1 < n) { /* " ?" takes the space when a letter, number or other follows */
        int k1 = char_class(s, pos + 1, &l1);
        if (k1 != C_SPACE) {
            k = k1;
            l0 = 1 + l1;
        }
    }
    if (k != C_SPACE) { /* one run of the class */
        p = pos + l0;
        size_t l;
        while (p < n && char_class(s, p, &l) == k) p += l;
        return p;
    }
    /* a run of White_Space: all of it at the end of the text; before anything
     * else, all but its last character (which goes with what follows),
     * unless it is that one character */
    size_t last = pos, count = 0, l;
    p = pos;
    while (p < n && char_class(s, p, &l) == C_SPACE) {
        last = p;
        p += l;
        count++;
    }
    if (p == n || count < 2) return p;
    return last;
}
