/* fuzz_bpe_files.c: libFuzzer target for the byte-level BPE loader from
 * vocab.json + merges.txt (+ tokenizer_config.json, special_tokens_map.json):
 * gl_tokenizer_open in src/text/tokenizer.c, src/text/bpe_files.c,
 * src/text/bpe.c, src/text/added_tokens.c, src/text/bytelevel.c.
 *
 * Input: up to four NUL-separated parts, written to a per-process temp
 * directory as vocab.json, merges.txt, tokenizer_config.json and
 * special_tokens_map.json (a missing part leaves its file absent; the first
 * two are always written, possibly empty).
 *
 * On failure the message names the directory. On success: kind "bpe", the
 * first and last ids (<s>, </s>) are tokens, and encoding fixed strings, each
 * part that is valid UTF-8 and the vocabulary's first tokens (max_length 0,
 * 2, 3, 7) gives <s> ... </s> with every id a token below vocab_size, each
 * truncation a prefix of the untruncated ids; the exported files load again
 * and encode the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text/tokenizer.h"
#include "util/error.h"
#include "util/utf8.h"

#include "fuzz_common.h"
#include "fuzz_encode_check.h"

static const char *const g_names[4] = {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"};
static char g_out[600];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    make_tmpdir("bpe_files");
    snprintf(g_out, sizeof g_out, "%s/out", g_dir);
    return 0;
}

static void rm_out(void) {
    char p[700];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", g_out, g_names[i]);
        unlink(p);
    }
    rmdir(g_out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[4] = {NULL, NULL, NULL, NULL};
    size_t plen[4] = {0, 0, 0, 0}, pos = 0;
    for (int np = 0; np < 4; np++) { /* the last part keeps any further NULs */
        const uint8_t *nul = np < 3 && pos < size ? memchr(data + pos, 0, size - pos) : NULL;
        size_t end = nul ? (size_t)(nul - data) : size;
        part[np] = data + pos;
        plen[np] = end - pos;
        if (!nul) break;
        pos = end + 1;
    }
    for (int i = 0; i < 4; i++) {
        if (part[i] || i < 2) {
            put_file(g_names[i], part[i] ? part[i] : (const uint8_t *)"", plen[i]);
        } else {
            char p[700];
            snprintf(p, sizeof p, "%s/%s", g_dir, g_names[i]);
            unlink(p);
        }
    }
    gl_error_clear();
    gl_tokenizer *tok = gl_tokenizer_open(g_dir, -1, -1);
    if (!tok) {
        FUZZ_CHECK(strstr(gl_error_message(), g_dir) != NULL); /* errors name the directory and file */
        return 0;
    }
    FUZZ_CHECK(!strcmp(gl_tokenizer_kind(tok), "bpe"));
    int V = gl_tokenizer_vocab_size(tok);
    FUZZ_CHECK(V >= 1 && gl_tokenizer_token(tok, -1) == NULL && gl_tokenizer_token(tok, V) == NULL);
    FUZZ_CHECK(gl_tokenizer_token(tok, gl_tokenizer_cls_id(tok)) && gl_tokenizer_token(tok, gl_tokenizer_sep_id(tok)));

    int32_t *full = NULL, *again = NULL;
    size_t fcap = 0, acap = 0;
    static const char *const fixed[] = {
        "", " ", "Hello world", " <s>x</s> <mask> <pad><unk>", "don't 're 've 's 1234 x2", "a  b\t\n c\r\n  ",
        "Caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80\xE2\x80\x8D", "\x01\x02\x7F \xC2\xA0\xE3\x80\x80",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) encode_check(tok, fixed[i], strlen(fixed[i]), &full, &fcap);
    for (int i = 0; i < 4; i++)
        if (part[i] && gl_utf8_check((const char *)part[i], plen[i]) == plen[i])
            encode_check(tok, (const char *)part[i], plen[i], &full, &fcap);
    encode_check_first_tokens(tok, &full, &fcap);
    /* export, load again, same ids */
    rm_out();
    FUZZ_CHECK(mkdir(g_out, 0700) == 0);
    FUZZ_CHECK(gl_tokenizer_export(tok, g_out) == 0);
    gl_tokenizer *back = gl_tokenizer_open(g_out, -1, -1);
    FUZZ_CHECK(back != NULL);
    const char *probe = fixed[3];
    int n = encode_check(tok, probe, strlen(probe), &full, &fcap);
    int m = gl_tokenizer_encode(back, probe, strlen(probe), 0, &again, &acap);
    FUZZ_CHECK(m == n && memcmp(full, again, (size_t)n * sizeof(int32_t)) == 0);
    gl_tokenizer_free(back);
    rm_out();
    free(full);
    free(again);
    gl_tokenizer_free(tok);
    return 0;
}
