/* fuzz_vocab.c: libFuzzer target for the vocabulary loader
 * (gl_tokenizer_load in src/text/tokenizer.c).
 *
 * Input: the whole of vocab.txt, written to a per-process temp directory
 * (tmpfs /dev/shm when writable; $GLOSS_FUZZ_TMP overrides). The first byte
 * also picks the flags (lowercase, strip_accents -1/0/1); they change only how
 * the loaded vocabulary is used.
 *
 * On a vocabulary that loads: one id per line (Rust BufRead::lines counting),
 * the special tokens' ids spell them, gl_tokenizer_token is NULL exactly out of
 * range, and encoding a few fixed strings plus the vocabulary's own first lines
 * (which exercises the hash table, the longest-token bounds and "##" pieces of
 * whatever the fuzzer wrote) gives [CLS] ... [SEP] with every id in range. */
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

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    make_tmpdir("vocab");
    return 0;
}

static void encode_check(const gl_tokenizer *tok, const char *s, size_t n, int32_t **ids, size_t *cap) {
    static const int lens[] = {0, 2, 7};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        int m = gl_tokenizer_encode(tok, s, n, lens[k], ids, cap);
        FUZZ_CHECK(m >= 0); /* valid UTF-8 (the loader checked the vocabulary's lines) */
        FUZZ_CHECK(m >= 2 && (lens[k] == 0 || m <= lens[k]));
        FUZZ_CHECK((*ids)[0] == gl_tokenizer_cls_id(tok) && (*ids)[m - 1] == gl_tokenizer_sep_id(tok));
        for (int i = 0; i < m; i++)
            FUZZ_CHECK((*ids)[i] >= 0 && (*ids)[i] < gl_tokenizer_vocab_size(tok));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = put_file("vocab.txt", data, size);
    int lowercase = size ? data[0] & 1 : 1;
    int strip = size ? (int)((data[0] >> 1) % 3) - 1 : -1;
    gl_error_clear();
    gl_tokenizer *tok = gl_tokenizer_load(path, lowercase, strip);
    if (!tok) {
        FUZZ_CHECK(strstr(gl_error_message(), path) != NULL); /* errors name the file */
        return 0;
    }
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    if (size && data[size - 1] != '\n') lines++;
    int n = gl_tokenizer_vocab_size(tok);
    FUZZ_CHECK((size_t)n == lines);
    FUZZ_CHECK(!strcmp(gl_tokenizer_token(tok, gl_tokenizer_cls_id(tok)), "[CLS]"));
    FUZZ_CHECK(!strcmp(gl_tokenizer_token(tok, gl_tokenizer_sep_id(tok)), "[SEP]"));
    FUZZ_CHECK(!strcmp(gl_tokenizer_token(tok, gl_tokenizer_pad_id(tok)), "[PAD]"));
    FUZZ_CHECK(!strcmp(gl_tokenizer_token(tok, gl_tokenizer_unk_id(tok)), "[UNK]"));
    FUZZ_CHECK(gl_tokenizer_token(tok, -1) == NULL && gl_tokenizer_token(tok, n) == NULL);

    int32_t *ids = NULL;
    size_t cap = 0;
    static const char *const fixed[] = {
        "", "hello world", "[CLS] [MASK] [SEP][PAD][UNK]", "unaffable ##ing ###", "Café naïve ÉCOLE İstanbul",
        "中文字 日本語 한국어", "a,b.c!d?e", "\t\r\n \xC2\xA0", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        encode_check(tok, fixed[i], strlen(fixed[i]), &ids, &cap);
    /* the vocabulary's own first lines, as text and glued together */
    for (int id = 0; id < n && id < 8; id++) {
        const char *t = gl_tokenizer_token(tok, id);
        FUZZ_CHECK(t != NULL);
        encode_check(tok, t, strlen(t), &ids, &cap);
    }
    encode_check(tok, (const char *)data, size, &ids, &cap); /* valid UTF-8: the loader checked */
    free(ids);
    gl_tokenizer_free(tok);
    return 0;
}
