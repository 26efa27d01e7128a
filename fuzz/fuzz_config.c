/* fuzz_config.c: libFuzzer target for gl_config_load (src/io/config.c):
 * config.json and the optional tokenizer_config.json of a checkpoint.
 *
 * Input: the bytes up to the first NUL are <dir>/config.json; if there is a
 * NUL, the bytes after it are <dir>/tokenizer_config.json, otherwise that file
 * is absent. The directory is a per-process temp directory (tmpfs /dev/shm
 * when writable; $GLOSS_FUZZ_TMP overrides). Deep nesting, invalid UTF-8,
 * duplicate keys, huge numbers and wrong types all come in through jansson.
 *
 * On success the validated config must satisfy what config.h promises: every
 * size positive, hidden divisible by heads, pad_token_id below vocab_size,
 * 0 < layer_norm_eps < 1, flags in range. On failure the error names the file. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/config.h"
#include "util/error.h"

#include "fuzz_common.h"

/* ---- target ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    make_tmpdir("config");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t n1 = nul ? (size_t)(nul - data) : size;
    put_file("config.json", data, n1);
    char tc[1024];
    snprintf(tc, sizeof tc, "%s/tokenizer_config.json", g_dir);
    if (nul)
        put_file("tokenizer_config.json", nul + 1, size - n1 - 1);
    else
        unlink(tc);

    gl_bert_config cfg;
    gl_error_clear();
    if (gl_config_load(&cfg, g_dir) != 0) {
        const char *msg = gl_error_message();
        FUZZ_CHECK(strstr(msg, g_dir) != NULL); /* the error names the file */
        FUZZ_CHECK(strstr(msg, "config.json") != NULL);
        return 0;
    }
    FUZZ_CHECK(cfg.vocab_size >= 1 && cfg.hidden_size >= 1 && cfg.num_layers >= 1 && cfg.num_heads >= 1);
    FUZZ_CHECK(cfg.intermediate_size >= 1 && cfg.max_position_embeddings >= 1);
    FUZZ_CHECK(cfg.arch == GL_ARCH_DISTILBERT ? cfg.type_vocab_size == 0 : cfg.type_vocab_size >= 1);
    FUZZ_CHECK(cfg.position_offset == (cfg.arch == GL_ARCH_ROBERTA ? cfg.pad_token_id + 1 : 0));
    FUZZ_CHECK(cfg.head_dropout >= 0 && cfg.head_dropout < 1);
    FUZZ_CHECK(cfg.hidden_size % cfg.num_heads == 0);
    FUZZ_CHECK(cfg.pad_token_id >= 0 && cfg.pad_token_id < cfg.vocab_size);
    FUZZ_CHECK(cfg.layer_norm_eps > 0 && cfg.layer_norm_eps < 1);
    FUZZ_CHECK(cfg.do_lower_case == 0 || cfg.do_lower_case == 1);
    FUZZ_CHECK(cfg.strip_accents >= -1 && cfg.strip_accents <= 1);
    FUZZ_CHECK(cfg.model_max_length >= 0 && cfg.model_max_length <= 1000000);
    return 0;
}
