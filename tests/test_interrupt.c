/* test_interrupt.c: interrupted runs lose nothing. Uses the tiny random BERT
 * of the fixtures (fast) on the sample data, through the real `gloss train`:
 *  - SIGINT mid-epoch: exit status 3, a checkpoint; --resume ends with the
 *    same model bytes as an uninterrupted run;
 *  - SIGKILL at random moments (also during checkpoint writes): whenever a
 *    checkpoint exists it loads, and resuming ends with the same model bytes;
 *  - NaN losses: isolated ones are skipped and counted; 5 in a row stop the
 *    run with status 1 and leave the last checkpoint loadable. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/rng.h"

static char tmpdir[64], gloss_bin[256];

/* Start `gloss train` for out dir `out` (+ extra args); returns the pid. */
static pid_t start(const char *out, const char *extra1, const char *extra2, const char *nan_steps) {
    pid_t pid = fork();
    if (pid == 0) {
        if (nan_steps) setenv("GLOSS_FAULT_NAN_STEPS", nan_steps, 1);
        setenv("OMP_NUM_THREADS", "1", 1); /* a tiny model: threads would only add overhead */
        freopen("/dev/null", "w", stderr);
        const char *argv[32] = {gloss_bin, "train", "--model", "tests/fixtures/model/tiny", "--data", "data/sample",
                                "--out", out, "--epochs", "6", "--batch-size", "8", "--max-length", "24",
                                "--pool", "mean", "--lr", "1e-3", "--patience", "0", "--map-points", "0",
                                "--quiet", extra1, extra2, NULL};
        execv(gloss_bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int wait_status(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static int run(const char *out, const char *e1, const char *e2, const char *nan_steps) {
    return wait_status(start(out, e1, e2, nan_steps));
}

static char *p2(const char *dir, const char *name) { return gl_path_join(dir, name); }

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(void) {
    const char *b = getenv("BUILD");
    snprintf(gloss_bin, sizeof gloss_bin, "%s/gloss", b ? b : "build");
    strcpy(tmpdir, "/tmp/gloss-int-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    char *ref = p2(tmpdir, "ref"), *ref_model = p2(ref, "model.safetensors");

    struct timespec a0, a1;
    clock_gettime(CLOCK_MONOTONIC, &a0);
    CHECK(run(ref, "--seed", "7", NULL) == 0);
    clock_gettime(CLOCK_MONOTONIC, &a1);
    long full_ms = (a1.tv_sec - a0.tv_sec) * 1000 + (a1.tv_nsec - a0.tv_nsec) / 1000000;
    printf("uninterrupted run: %ld ms\n", full_ms);

    /* SIGINT in the middle */
    char *si = p2(tmpdir, "sigint"), *si_model = p2(si, "model.safetensors"), *si_ck = p2(si, "checkpoint.safetensors");
    pid_t pid = start(si, "--seed", "7", NULL);
    sleep_ms(full_ms / 2);
    kill(pid, SIGINT);
    int st = wait_status(pid);
    CHECK_MSG(st == 3, "SIGINT: exit status %d, expected 3", st);
    CHECK(gl_file_exists(si_ck));
    CHECK(!gl_file_exists(si_model)); /* the run did not finish */
    CHECK(run(si, "--seed", "7", "--resume") == 0);
    CHECK_MSG(check_files_equal(ref_model, si_model), "model after SIGINT + resume differs from the uninterrupted run");

    /* SIGKILL at random moments until a run completes */
    char *sk = p2(tmpdir, "sigkill"), *sk_model = p2(sk, "model.safetensors"), *sk_ck = p2(sk, "checkpoint.safetensors");
    gl_rng r = {12345};
    int kills = 0, resumes = 0, done = 0;
    for (int round = 0; round < 8 && !done; round++) {
        int have_ck = gl_file_exists(sk_ck);
        pid = start(sk, "--seed", "7", have_ck ? "--resume" : NULL);
        sleep_ms(20 + (long)gl_rng_below(&r, (uint64_t)(full_ms / 2 + 1)));
        if (waitpid(pid, &st, WNOHANG) == pid) {
            done = WIFEXITED(st) && WEXITSTATUS(st) == 0;
            CHECK_MSG(done, "run ended with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            break;
        }
        kill(pid, SIGKILL);
        wait_status(pid);
        kills++;
        resumes += have_ck;
        /* whatever moment the kill hit, a checkpoint that exists is whole */
        if (gl_file_exists(sk_ck)) {
            gl_safetensors ck;
            int ok = gl_st_open(&ck, sk_ck) == 0;
            CHECK_MSG(ok, "checkpoint after SIGKILL does not open: %s", gl_error_message());
            if (ok) gl_st_close(&ck);
        }
    }
    if (!done) done = run(sk, "--seed", "7", gl_file_exists(sk_ck) ? "--resume" : NULL) == 0;
    printf("SIGKILL: %d kills, %d of them during resumed runs\n", kills, resumes);
    CHECK(done);
    CHECK_MSG(check_files_equal(ref_model, sk_model), "model after SIGKILLs + resume differs from the uninterrupted run");

    /* NaN losses: two isolated bad steps are skipped and counted */
    char *nn = p2(tmpdir, "nan"), *nn_metrics = p2(nn, "metrics.json");
    CHECK(run(nn, "--seed", "7", "3-4") == 0);
    json_error_t err;
    json_t *m = json_load_file(nn_metrics, 0, &err);
    CHECK(m && json_integer_value(json_object_get(m, "nonfinite_steps_skipped")) == 2);
    json_decref(m);
    /* five in a row (steps 40-44, in epoch 2) stop the run; epoch 1's checkpoint stays loadable */
    char *nb = p2(tmpdir, "nanstop"), *nb_ck = p2(nb, "checkpoint.safetensors");
    st = run(nb, "--seed", "7", "40-44");
    CHECK_MSG(st == 1, "five NaN steps: exit status %d, expected 1", st);
    CHECK(gl_file_exists(nb_ck));
    CHECK(run(nb, "--seed", "7", "--resume") == 0);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    free(ref), free(ref_model), free(si), free(si_model), free(si_ck), free(sk), free(sk_model), free(sk_ck);
    free(nn), free(nn_metrics), free(nb), free(nb_ck);
    return check_summary("test_interrupt");
}
