/* fuzz_bpe_json.c: libFuzzer target for tokenizer.json (byte-level BPE and
 * WordPiece): gl_tokenizer_open in src/text/tokenizer.c,
 * src/text/tokenizer_json.c, src/text/bpe.c, src/text/wordpiece.c,
 * src/text/added_tokens.c, src/text/bytelevel.c.
 *
 * Input: the whole of tokenizer.json, written alone to a per-process temp
 * directory. The first byte also picks do_lower_case (-1/0/1) and
 * strip_accents (-1/0/1), which only WordPiece reads.
 *
 * On failure the message names the file. On success: kind "bpe" or
 * "wordpiece"; encoding fixed strings, the file itself (when valid UTF-8) and
 * the vocabulary's first tokens (max_length 0, 2, 3, 7) gives the first id
 * ... the last id, every id a token below vocab_size, each truncation a prefix
 * of the untruncated ids, max_length 1 refused; export writes the file back
 * byte for byte. */
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

static char g_out[600];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    make_tmpdir("bpe_json");
    snprintf(g_out, sizeof g_out, "%s/out", g_dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = put_file("tokenizer.json", data, size);
    int lowercase = size ? (int)(data[0] % 3) - 1 : -1;
    int strip = size ? (int)((data[0] / 3) % 3) - 1 : -1;
    gl_error_clear();
    gl_tokenizer *tok = gl_tokenizer_open(g_dir, lowercase, strip);
    if (!tok) {
        FUZZ_CHECK(strstr(gl_error_message(), path) != NULL); /* errors name the file */
        return 0;
    }
    const char *kind = gl_tokenizer_kind(tok);
    FUZZ_CHECK(!strcmp(kind, "bpe") || !strcmp(kind, "wordpiece"));
    int V = gl_tokenizer_vocab_size(tok);
    FUZZ_CHECK(V >= 1 && gl_tokenizer_token(tok, -1) == NULL && gl_tokenizer_token(tok, V) == NULL);
    int32_t *full = NULL;
    size_t fcap = 0;
    static const char *const fixed[] = {
        "", " ", "Hello world", " <s>x</s> <mask> [CLS] [SEP] [MASK]", "don't 're 's 1234 x2 ##ing", "a  b\t\n c\r\n  ",
        "Caf\xC3\xA9 \xC4\xB0stanbul \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80\xE2\x80\x8D", "\x01\x02\x7F \xC2\xA0\xE3\x80\x80",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) encode_check(tok, fixed[i], strlen(fixed[i]), &full, &fcap);
    if (gl_utf8_check((const char *)data, size) == size) encode_check(tok, (const char *)data, size, &full, &fcap);
    encode_check_first_tokens(tok, &full, &fcap);
    /* export writes the file back as it was */
    char out_file[700];
    snprintf(out_file, sizeof out_file, "%s/tokenizer.json", g_out);
    unlink(out_file);
    rmdir(g_out);
    FUZZ_CHECK(mkdir(g_out, 0700) == 0);
    FUZZ_CHECK(gl_tokenizer_export(tok, g_out) == 0);
    FILE *f = fopen(out_file, "rb");
    FUZZ_CHECK(f != NULL);
    uint8_t *back = malloc(size + 1);
    size_t got = fread(back, 1, size + 1, f);
    fclose(f);
    FUZZ_CHECK(got == size && (size == 0 || memcmp(back, data, size) == 0));
    free(back);
    unlink(out_file);
    rmdir(g_out);
    free(full);
    gl_tokenizer_free(tok);
    return 0;
}
