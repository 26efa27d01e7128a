/* unicode_compat.c: corrections from utf8proc's Unicode data (2.8.0, Unicode
 * 15.0) to what Hugging Face tokenizers 0.23 uses. HF's category tables (the
 * `unicode_categories` crate) are Unicode 8, so characters assigned later are
 * unknown to it; its NFD crate is older than utf8proc too, and its lowercase is
 * Rust's std, newer than utf8proc.
 *
 * Measured, not copied: every code point c was put through HF's
 * BertNormalizer (clean_text alone; strip_accents alone), BertPreTokenizer
 * ("a" c "b" split in three or not), NFD (decomposition; the order of c next
 * to U+0334 or U+0301 for the combining class) and Lowercase, and compared
 * with utf8proc_category, combining_class, utf8proc_decompose_char and
 * utf8proc_tolower. The tables below are the differences. They are verified
 * for every code point by tests/fixtures/tokenizer/codepoints.bin (a wrong or
 * missing entry shows up as a mismatching block), which is also what to look
 * at after a utf8proc upgrade. */
#include "text/unicode_compat.h"

typedef struct {
    uint32_t lo, hi;
} range;

typedef struct {
    uint32_t lo, hi;
    int32_t delta;
} lower_range;

/* utf8proc says Cf, HF does not know them (kept by clean_text) */
static const range flip_other[] = {
    {0x890, 0x891}, {0x8E2, 0x8E2}, {0x110CD, 0x110CD}, {0x13430, 0x1343F},
};

/* punctuation for one side only (new in Unicode 9+, or recategorised, e.g. U+166D Po -> So) */
static const range flip_punct[] = {
    {0x61D, 0x61D}, {0x9FD, 0x9FD}, {0xA76, 0xA76}, {0xC77, 0xC77}, {0xC84, 0xC84}, {0x166D, 0x166D},
    {0x1B7D, 0x1B7E}, {0x2E43, 0x2E4F}, {0x2E52, 0x2E5D}, {0x10EAD, 0x10EAD}, {0x10F55, 0x10F59},
    {0x10F86, 0x10F89}, {0x111C9, 0x111C9}, {0x1144B, 0x1144F}, {0x1145A, 0x1145B}, {0x1145D, 0x1145D},
    {0x11660, 0x1166C}, {0x116B9, 0x116B9}, {0x1183B, 0x1183B}, {0x11944, 0x11946}, {0x119E2, 0x119E2},
    {0x11A3F, 0x11A46}, {0x11A9A, 0x11A9C}, {0x11A9E, 0x11AA2}, {0x11B00, 0x11B09}, {0x11C41, 0x11C45},
    {0x11C70, 0x11C71}, {0x11EF7, 0x11EF8}, {0x11F43, 0x11F4F}, {0x11FFF, 0x11FFF}, {0x12FF1, 0x12FF2},
    {0x16E97, 0x16E9A}, {0x16FE2, 0x16FE2}, {0x1E95E, 0x1E95F},
};

/* nonspacing mark for one side only (new marks, or Mn <-> Mc changes) */
static const range flip_mn[] = {
    {0x7FD, 0x7FD}, {0x898, 0x89F}, {0x8CA, 0x8E1}, {0x9FE, 0x9FE}, {0xAFA, 0xAFF}, {0xB55, 0xB55},
    {0xC04, 0xC04}, {0xC3C, 0xC3C}, {0xD00, 0xD00}, {0xD3B, 0xD3C}, {0xD81, 0xD81}, {0xEBA, 0xEBA},
    {0xECE, 0xECE}, {0x1734, 0x1734}, {0x180F, 0x180F}, {0x1885, 0x1886}, {0x1ABF, 0x1ACE}, {0x1DF6, 0x1DFB},
    {0xA82C, 0xA82C}, {0xA8C5, 0xA8C5}, {0xA8FF, 0xA8FF}, {0xA9BD, 0xA9BD}, {0x10D24, 0x10D27},
    {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50}, {0x10F82, 0x10F85}, {0x11070, 0x11070},
    {0x11073, 0x11074}, {0x110C2, 0x110C2}, {0x111C9, 0x111C9}, {0x111CF, 0x111CF}, {0x1123E, 0x1123E},
    {0x11241, 0x11241}, {0x1133B, 0x1133B}, {0x11438, 0x1143F}, {0x11442, 0x11444}, {0x11446, 0x11446},
    {0x1145E, 0x1145E}, {0x1182F, 0x11837}, {0x11839, 0x1183A}, {0x1193B, 0x1193C}, {0x1193E, 0x1193E},
    {0x11943, 0x11943}, {0x119D4, 0x119D7}, {0x119DA, 0x119DB}, {0x119E0, 0x119E0}, {0x11A01, 0x11A0A},
    {0x11A33, 0x11A38}, {0x11A3B, 0x11A3E}, {0x11A47, 0x11A47}, {0x11A51, 0x11A56}, {0x11A59, 0x11A5B},
    {0x11A8A, 0x11A96}, {0x11A98, 0x11A99}, {0x11C30, 0x11C36}, {0x11C38, 0x11C3D}, {0x11C3F, 0x11C3F},
    {0x11C92, 0x11CA7}, {0x11CAA, 0x11CB0}, {0x11CB2, 0x11CB3}, {0x11CB5, 0x11CB6}, {0x11D31, 0x11D36},
    {0x11D3A, 0x11D3A}, {0x11D3C, 0x11D3D}, {0x11D3F, 0x11D45}, {0x11D47, 0x11D47}, {0x11D90, 0x11D91},
    {0x11D95, 0x11D95}, {0x11D97, 0x11D97}, {0x11EF3, 0x11EF4}, {0x11F00, 0x11F01}, {0x11F36, 0x11F3A},
    {0x11F40, 0x11F40}, {0x11F42, 0x11F42}, {0x13440, 0x13440}, {0x13447, 0x13455}, {0x16F4F, 0x16F4F},
    {0x16FE4, 0x16FE4}, {0x1CF00, 0x1CF2D}, {0x1CF30, 0x1CF46}, {0x1E000, 0x1E006}, {0x1E008, 0x1E018},
    {0x1E01B, 0x1E021}, {0x1E023, 0x1E024}, {0x1E026, 0x1E02A}, {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136},
    {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF}, {0x1E944, 0x1E94A},
};

/* combining class > 0 in utf8proc, 0 (unknown character) in HF's NFD */
static const range ccc_unknown[] = {
    {0x7FD, 0x7FD}, {0x898, 0x89F}, {0x8CA, 0x8D3}, {0x9FE, 0x9FE}, {0xC3C, 0xC3C}, {0xD3B, 0xD3C},
    {0xEBA, 0xEBA}, {0x1715, 0x1715}, {0x1ABF, 0x1ACE}, {0x1DF6, 0x1DFA}, {0xA82C, 0xA82C},
    {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50}, {0x10F82, 0x10F85},
    {0x11070, 0x11070}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x11839, 0x1183A}, {0x1193D, 0x1193E},
    {0x11943, 0x11943}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34}, {0x11A47, 0x11A47}, {0x11A99, 0x11A99},
    {0x11D42, 0x11D42}, {0x11D44, 0x11D45}, {0x11D97, 0x11D97}, {0x11F41, 0x11F42}, {0x16FF0, 0x16FF1},
    {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF},
};

/* lowercase mappings newer than utf8proc (Rust std): lower = c + delta */
static const lower_range lower_new[] = {
    {0x1C89, 0x1C89, 1}, {0xA7CB, 0xA7CB, -42343}, {0xA7CC, 0xA7CC, 1}, {0xA7CE, 0xA7CE, 1},
    {0xA7D2, 0xA7D2, 1}, {0xA7D4, 0xA7D4, 1}, {0xA7DA, 0xA7DA, 1}, {0xA7DC, 0xA7DC, -42561},
    {0x10D50, 0x10D65, 32}, {0x16EA0, 0x16EB8, 27},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int in_ranges(const range *r, size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid].lo)
            hi = mid;
        else if (c > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

int gl_ucompat_flip_other(uint32_t c) { return c >= 0x890 && in_ranges(flip_other, COUNT(flip_other), c); }
int gl_ucompat_flip_punct(uint32_t c) { return c >= 0x61D && in_ranges(flip_punct, COUNT(flip_punct), c); }
int gl_ucompat_flip_mn(uint32_t c) { return c >= 0x7FD && in_ranges(flip_mn, COUNT(flip_mn), c); }

int gl_ucompat_ccc(uint32_t c) {
    if (c < 0x300) return 0;
    int cc = utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
    if (cc && c >= 0x7FD && in_ranges(ccc_unknown, COUNT(ccc_unknown), c)) return 0;
    return cc;
}

uint32_t gl_ucompat_lower(uint32_t c) {
    if (c < 0x1C89) return 0;
    for (size_t i = 0; i < COUNT(lower_new); i++)
        if (c >= lower_new[i].lo && c <= lower_new[i].hi) return (uint32_t)((int32_t)c + lower_new[i].delta);
    return 0;
}

/* ---- the byte-level pre-tokenizer (Oniguruma's \p{L} \p{N}) and added
 * tokens' single_word (Rust regex's \w): both are Unicode 16, so the
 * characters it assigned after utf8proc's 15.0 are unassigned (Cn) here.
 * Measured the same way: every code point c after "a", "1" and "!" through
 * the ByteLevel pre-tokenizer, and before and after a single_word added
 * token. Verified by tests/fixtures/bpe/codepoints.bin. */

/* letters (L) new in Unicode 16 */
static const range letter16[] = {
    {0x1C89, 0x1C8A}, {0xA7CB, 0xA7CD}, {0xA7DA, 0xA7DC}, {0x105C0, 0x105F3}, {0x10D4A, 0x10D65},
    {0x10D6F, 0x10D85}, {0x10EC2, 0x10EC4}, {0x11380, 0x11389}, {0x1138B, 0x1138B}, {0x1138E, 0x1138E},
    {0x11390, 0x113B5}, {0x113B7, 0x113B7}, {0x113D1, 0x113D1}, {0x113D3, 0x113D3}, {0x11BC0, 0x11BE0},
    {0x13460, 0x143FA}, {0x16100, 0x1611D}, {0x16D40, 0x16D6C}, {0x18CFF, 0x18CFF}, {0x1E5D0, 0x1E5ED},
    {0x1E5F0, 0x1E5F0}, {0x2EBF0, 0x2EE5D},
};

/* numbers (N) new in Unicode 16 */
static const range number16[] = {
    {0x10D40, 0x10D49}, {0x116D0, 0x116E3}, {0x11BF0, 0x11BF9}, {0x16130, 0x16139}, {0x16D70, 0x16D79},
    {0x1CCF0, 0x1CCF9}, {0x1E5F1, 0x1E5FA},
};

/* word characters (letters, marks, digits) new in Unicode 16 */
static const range word16[] = {
    {0x897, 0x897}, {0x1C89, 0x1C8A}, {0xA7CB, 0xA7CD}, {0xA7DA, 0xA7DC}, {0x105C0, 0x105F3},
    {0x10D40, 0x10D65}, {0x10D69, 0x10D6D}, {0x10D6F, 0x10D85}, {0x10EC2, 0x10EC4}, {0x10EFC, 0x10EFC},
    {0x11380, 0x11389}, {0x1138B, 0x1138B}, {0x1138E, 0x1138E}, {0x11390, 0x113B5}, {0x113B7, 0x113C0},
    {0x113C2, 0x113C2}, {0x113C5, 0x113C5}, {0x113C7, 0x113CA}, {0x113CC, 0x113D3}, {0x113E1, 0x113E2},
    {0x116D0, 0x116E3}, {0x11BC0, 0x11BE0}, {0x11BF0, 0x11BF9}, {0x11F5A, 0x11F5A}, {0x13460, 0x143FA},
    {0x16100, 0x16139}, {0x16D40, 0x16D6C}, {0x16D70, 0x16D79}, {0x18CFF, 0x18CFF}, {0x1CCF0, 0x1CCF9},
    {0x1E5D0, 0x1E5FA}, {0x2EBF0, 0x2EE5D},
};

/* So characters with Other_Alphabetic (circled and squared Latin letters) */
static const range alpha_so[] = {
    {0x24B6, 0x24E9}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189},
};

int gl_ucompat_regex_class(uint32_t c) {
    int cat = utf8proc_category((utf8proc_int32_t)c);
    if (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) return GL_UCLASS_LETTER;
    if (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) return GL_UCLASS_NUMBER;
    if (cat == UTF8PROC_CATEGORY_CN && c >= 0x1C89) {
        if (in_ranges(letter16, COUNT(letter16), c)) return GL_UCLASS_LETTER;
        if (in_ranges(number16, COUNT(number16), c)) return GL_UCLASS_NUMBER;
    }
    return GL_UCLASS_OTHER;
}

int gl_ucompat_is_word(uint32_t c) {
    int cat = utf8proc_category((utf8proc_int32_t)c);
    if ((cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_ND) || cat == UTF8PROC_CATEGORY_NL ||
        cat == UTF8PROC_CATEGORY_PC)
        return 1;
    if (c == 0x200C || c == 0x200D) return 1; /* Join_Control */
    if (cat == UTF8PROC_CATEGORY_SO) return in_ranges(alpha_so, COUNT(alpha_so), c);
    return cat == UTF8PROC_CATEGORY_CN && c >= 0x897 && in_ranges(word16, COUNT(word16), c);
}

utf8proc_ssize_t gl_ucompat_decompose(uint32_t c, utf8proc_int32_t *d, utf8proc_ssize_t n) {
    if (c == 0x11938) { /* DIVES AKURU VOWEL SIGN O: HF's NFD does not decompose it */
        d[0] = (utf8proc_int32_t)c;
        return 1;
    }
    return n;
}
