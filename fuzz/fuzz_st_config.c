/* fuzz_st_config.c: libFuzzer target for gl_st_config_load (src/io/st_config.c):
 * the sentence-transformers files of a checkpoint.
 *
 * Input: up to three parts separated by NUL bytes: <dir>/modules.json,
 * <dir>/config.json, <dir>/sentence_bert_config.json; a part that is missing
 * leaves its file absent. config.json is where a module with path "" keeps its
 * config (the seeds' Pooling and Dense modules use path ""), so the module
 * list, the Pooling and Dense parsers and sentence_bert_config.json are all
 * reached. Hidden size 32.
 *
 * On success: the pooling is "" or one gloss computes, named with its file;
 * normalize is 0 or 1; max_seq_length >= 0; do_lower_case in -1..1. On
 * failure the error names the directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/st_config.h"
#include "util/error.h"

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    make_tmpdir("st_config");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[3] = {"modules.json", "config.json", "sentence_bert_config.json"};
    const uint8_t *p = data, *end = data + size;
    for (int i = 0; i < 3; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", g_dir, names[i]);
        if (!p) {
            unlink(path);
            continue;
        }
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        size_t n = nul ? (size_t)(nul - p) : (size_t)(end - p);
        put_file(names[i], p, n);
        p = nul ? nul + 1 : NULL;
    }
    gl_st_config st;
    gl_error_clear();
    if (gl_st_config_load(&st, g_dir, 32) != 0) {
        FUZZ_CHECK(strstr(gl_error_message(), g_dir) != NULL); /* the error names the file */
        return 0;
    }
    static const char *const modes[] = {"", "cls", "mean", "max", "mean_sqrt_len", "pooler"};
    int known = 0;
    for (int i = 0; i < 6; i++) known |= !strcmp(st.pooling, modes[i]);
    FUZZ_CHECK(known);
    FUZZ_CHECK(!st.pooling[0] || st.pooling_file[0]);
    FUZZ_CHECK(st.normalize == 0 || st.normalize == 1);
    FUZZ_CHECK(!st.normalize || st.pooling[0]);
    FUZZ_CHECK(st.max_seq_length >= 0 && st.do_lower_case >= -1 && st.do_lower_case <= 1);
    return 0;
}
