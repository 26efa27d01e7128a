/* comm.c: the exchanges of comm.h, over MPI's non-blocking collectives
 * (each waited for with a deadline), or for one process when gloss is built
 * without MPI or MPI was not initialised. */
#include "util/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/error.h"

static int env_int(const char *name) {
    const char *v = getenv(name);
    return v ? atoi(v) : 0;
}

/* The number of processes an MPI launcher started, 0 when none did: Open
 * MPI's mpirun, MPICH's hydra or srun --mpi=pmi2 (PMI), PMIx (srun
 * --mpi=pmix, prterun). */
static int launcher_size(void) {
    int n;
    if ((n = env_int("OMPI_COMM_WORLD_SIZE")) > 0) return n;
    if ((n = env_int("PMI_SIZE")) > 0) return n;
    if (getenv("PMIX_RANK")) return (n = env_int("SLURM_STEP_NUM_TASKS")) > 0 ? n : 2;
    return 0;
}

static int launched_by_mpi(void) {
    const char *force = getenv("GLOSS_MPI");
    if (force && !strcmp(force, "0")) return 0;
    if (force && !strcmp(force, "1")) return 1;
    return launcher_size() > 0;
}

/* A run in one process of several that a launcher started, without MPI:
 * each would train alone and overwrite the others' outputs. */
static int refuse_alone(void) {
    int n = launched_by_mpi() ? launcher_size() : 0;
    if (n < 2) return 0;
    return gl_error("started as one of %d processes (by mpirun or srun) without MPI running in this one: "
#ifdef GLOSS_WITH_MPI
                    "call gloss_distributed_init first (the gloss program does)",
#else
                    "this gloss was built without MPI: install Open MPI (mpicc) and rebuild, or start one process",
#endif
                    n);
}

static int g_broken; /* a communicator broke: finalising must abort */

int gl_comm_broken(void) { return g_broken; }

void gl_comm_share(const gl_comm *c, int r, size_t n, size_t *first, size_t *count) {
    size_t N = (size_t)gl_comm_size(c), base = n / N, extra = n % N, ur = (size_t)r;
    *first = ur * base + (ur < extra ? ur : extra);
    *count = base + (ur < extra);
}

#ifdef GLOSS_WITH_MPI

#include <mpi.h>

struct gl_comm {
    MPI_Comm comm;
    int rank, size;
    double timeout;  /* seconds; 0: none */
    void *scratch;   /* the sums' receive buffer */
    size_t scratch_bytes;
    int *counts;     /* 4 x size ints: counts, displacements, receive counts and displacements */
    double seconds;  /* in exchanges so far, waiting for the others included */
    double bytes;    /* received so far */
};

static int g_init_here; /* gl_comm_init initialised MPI */

static int mpi_up(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

int gl_comm_init(int *argc, char ***argv) {
    if (mpi_up() || g_init_here || !launched_by_mpi()) return 0;
    int provided = 0, rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return gl_error("MPI_Init_thread failed (error %d)", rc);
    g_init_here = 1;
    if (provided < MPI_THREAD_FUNNELED)
        return gl_error("MPI provides thread level %d, gloss needs MPI_THREAD_FUNNELED (OpenMP threads run "
                        "between exchanges)",
                        provided);
    return 0;
}

void gl_comm_finalize(void) {
    if (!mpi_up()) return;
    if (g_broken) MPI_Abort(MPI_COMM_WORLD, 1); /* peers may be stuck in an exchange: do not wait for them */
    if (g_init_here) MPI_Finalize();
}

int gl_comm_world_rank(void) {
    int r = 0;
    if (mpi_up()) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int gl_comm_world_size(void) {
    int n = 1;
    if (mpi_up()) MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

const char *gl_comm_library(void) {
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (!v[0]) {
        MPI_Get_library_version(v, &len);
        v[strcspn(v, ",\n")] = 0; /* its name and version: "Open MPI v4.1.4" */
    }
    return v;
}

static int mpi_failed(const char *what, int rc) {
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS) snprintf(s, sizeof s, "error %d", rc);
    g_broken = 1;
    return gl_error("exchange with the other processes (%s) failed: %s; stopping", what, s);
}

/* Wait for req, testing it (which also drives MPI's progress), for at most
 * timeout seconds (<= 0: no limit); short sleeps once it takes long. */
static int wait_for(gl_comm *c, MPI_Request *req, double timeout, const char *what) {
    const double t0 = gl_now();
    for (long spins = 0;; spins++) {
        int done = 0, rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_failed(what, rc);
        if (done) {
            c->seconds += gl_now() - t0;
            return 0;
        }
        if (spins < 2000) continue;
        if (timeout > 0 && gl_now() - t0 > timeout) {
            g_broken = 1; /* the collective stays posted: the process must abort, not finalise */
            return gl_error("no answer from the other processes for %.0f s (%s): one of them died or hangs; stopping",
                            timeout, what);
        }
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

int gl_comm_open(gl_comm **out, double timeout_s) {
    *out = NULL;
    if (!mpi_up()) return refuse_alone();
    if (gl_comm_world_size() < 2) return 0;
    gl_comm *c = gl_calloc(1, sizeof *c);
    if (!c) return -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->timeout = timeout_s > 0 ? timeout_s : 0;
    c->counts = gl_malloc(sizeof(int) * 4 * (size_t)c->size);
    if (!c->counts) {
        free(c);
        return -1;
    }
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
    if (rc != MPI_SUCCESS) {
        free(c->counts);
        free(c);
        return mpi_failed("MPI_Comm_dup", rc);
    }
    /* errors come back as codes (and become messages) instead of aborting the job */
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    *out = c;
    return 0;
}

void gl_comm_close(gl_comm *c) {
    if (!c) return;
    if (!g_broken) MPI_Comm_free(&c->comm);
    free(c->scratch);
    free(c->counts);
    free(c);
}

int gl_comm_rank(const gl_comm *c) { return c ? c->rank : 0; }
int gl_comm_size(const gl_comm *c) { return c ? c->size : 1; }

void gl_comm_traffic(const gl_comm *c, double *seconds, double *bytes) {
    *seconds = c ? c->seconds : 0.0;
    *bytes = c ? c->bytes : 0.0;
}

/* The error of a failed rank, as the bytes broadcast from it. */
typedef struct {
    int kind;
    char msg[2048];
} failure;

int gl_comm_agree(gl_comm *c, int rc, int *flag, double timeout_s) {
    if (!c) return rc;
    if (g_broken) return -1;
    const double tmo = timeout_s < 0 ? c->timeout : timeout_s;
    int in[2] = {rc != 0 ? c->rank : c->size, flag && *flag ? -1 : 0}, res[2];
    MPI_Request req;
    int e = MPI_Iallreduce(in, res, 2, MPI_INT, MPI_MIN, c->comm, &req);
    if (e != MPI_SUCCESS) return mpi_failed("agreeing on a status", e);
    if (wait_for(c, &req, tmo, "agreeing on a status") != 0) return -1;
    c->bytes += sizeof res;
    if (flag) *flag = res[1] < 0;
    const int who = res[0];
    if (who == c->size) return 0;
    failure f;
    memset(&f, 0, sizeof f);
    if (c->rank == who) {
        f.kind = gl_error_get_kind();
        snprintf(f.msg, sizeof f.msg, "%s", gl_error_message());
    }
    e = MPI_Ibcast(&f, (int)sizeof f, MPI_BYTE, who, c->comm, &req);
    if (e != MPI_SUCCESS) return mpi_failed("sending an error", e);
    if (wait_for(c, &req, tmo, "sending an error") != 0) return -1;
    f.msg[sizeof f.msg - 1] = 0;
    int r, n;
    char tail;
    /* a failure agreed on earlier keeps the rank it names */
    if (sscanf(f.msg, "rank %d of %d%c", &r, &n, &tail) == 3 && tail == ':')
        return gl_error_k(f.kind ? (gl_error_kind)f.kind : GL_E_ERROR, "%s", f.msg);
    return gl_error_k(f.kind ? (gl_error_kind)f.kind : GL_E_ERROR, "rank %d of %d: %s", who, c->size, f.msg);
}

/* Fixed-order sum of n elements of esize bytes (float or double): per
 * segment, rank j receives everyone's chunk j (all-to-all), sums it in rank
 * order in double precision, and every rank gathers the summed chunks. */
static int sum_impl(gl_comm *c, void *x, size_t n, int dbl) {
    if (!c || n == 0) return 0;
    if (g_broken) return -1;
    const size_t SEG = (size_t)1 << 22, es = dbl ? sizeof(double) : sizeof(float);
    const MPI_Datatype type = dbl ? MPI_DOUBLE : MPI_FLOAT;
    const int N = c->size;
    size_t need = es * (SEG < n ? SEG : n);
    if (c->scratch_bytes < need) {
        void *p = gl_realloc(c->scratch, need);
        if (!p) return -1;
        c->scratch = p;
        c->scratch_bytes = need;
    }
    int *cnt = c->counts, *dsp = cnt + N, *rcnt = dsp + N, *rdsp = rcnt + N;
    for (size_t s0 = 0; s0 < n; s0 += SEG) {
        const size_t L = n - s0 < SEG ? n - s0 : SEG;
        for (int j = 0; j < N; j++) {
            size_t first, count;
            gl_comm_share(c, j, L, &first, &count);
            cnt[j] = (int)count;
            dsp[j] = (int)first;
        }
        const int mine = cnt[c->rank];
        for (int j = 0; j < N; j++) rcnt[j] = mine, rdsp[j] = j * mine;
        char *seg = (char *)x + s0 * es;
        MPI_Request req;
        int e = MPI_Ialltoallv(seg, cnt, dsp, type, c->scratch, rcnt, rdsp, type, c->comm, &req);
        if (e != MPI_SUCCESS) return mpi_failed("summing over the ranks", e);
        if (wait_for(c, &req, c->timeout, "summing over the ranks") != 0) return -1;
        c->bytes += (double)es * mine * (N - 1);
        if (dbl) {
            const double *in = c->scratch;
            double *y = (double *)seg + dsp[c->rank];
            for (int i = 0; i < mine; i++) {
                double acc = 0.0;
                for (int j = 0; j < N; j++) acc += in[(size_t)j * mine + i];
                y[i] = acc;
            }
        } else {
            const float *in = c->scratch;
            float *y = (float *)seg + dsp[c->rank];
            for (int i = 0; i < mine; i++) {
                double acc = 0.0;
                for (int j = 0; j < N; j++) acc += in[(size_t)j * mine + i];
                y[i] = (float)acc;
            }
        }
        e = MPI_Iallgatherv(MPI_IN_PLACE, 0, type, seg, cnt, dsp, type, c->comm, &req);
        if (e != MPI_SUCCESS) return mpi_failed("summing over the ranks", e);
        if (wait_for(c, &req, c->timeout, "summing over the ranks") != 0) return -1;
        c->bytes += (double)es * (double)(L - (size_t)mine);
    }
    return 0;
}

int gl_comm_sum_f32(gl_comm *c, float *x, size_t n) { return sum_impl(c, x, n, 0); }
int gl_comm_sum_f64(gl_comm *c, double *x, size_t n) { return sum_impl(c, x, n, 1); }

int gl_comm_gather_rows(gl_comm *c, float *rows, const size_t *counts, int width) {
    if (!c) return 0;
    if (g_broken) return -1;
    int *cnt = c->counts, *dsp = cnt + c->size;
    size_t at = 0;
    for (int j = 0; j < c->size; j++) {
        size_t k = counts[j] * (size_t)width;
        if (at + k > 2147483647u) return gl_error("gathering rows: more than 2^31 floats in one exchange");
        cnt[j] = (int)k;
        dsp[j] = (int)at;
        at += k;
    }
    MPI_Request req;
    int e = MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, rows, cnt, dsp, MPI_FLOAT, c->comm, &req);
    if (e != MPI_SUCCESS) return mpi_failed("gathering rows", e);
    c->bytes += sizeof(float) * (double)(at - (size_t)cnt[c->rank]);
    return wait_for(c, &req, c->timeout, "gathering rows");
}

int gl_comm_bcast(gl_comm *c, void *buf, size_t bytes, int root) {
    if (!c) return 0;
    if (g_broken) return -1;
    const size_t CHUNK = (size_t)1 << 30;
    for (size_t at = 0; at < bytes; at += CHUNK) {
        size_t k = bytes - at < CHUNK ? bytes - at : CHUNK;
        MPI_Request req;
        int e = MPI_Ibcast((char *)buf + at, (int)k, MPI_BYTE, root, c->comm, &req);
        if (e != MPI_SUCCESS) return mpi_failed("broadcasting", e);
        if (wait_for(c, &req, c->timeout, "broadcasting") != 0) return -1;
        if (c->rank != root) c->bytes += (double)k;
    }
    return 0;
}

int gl_comm_compare(gl_comm *c, uint64_t v, int *first_differs) {
    *first_differs = -1;
    if (!c) return 0;
    if (g_broken) return -1;
    uint64_t *all = gl_malloc(sizeof(uint64_t) * (size_t)c->size);
    if (!all) return -1;
    MPI_Request req;
    int e = MPI_Iallgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, c->comm, &req);
    int rc = e != MPI_SUCCESS ? mpi_failed("comparing", e) : wait_for(c, &req, c->timeout, "comparing");
    for (int j = 1; rc == 0 && j < c->size; j++)
        if (all[j] != all[0]) {
            *first_differs = j;
            break;
        }
    free(all);
    return rc;
}

#else /* one process */

struct gl_comm {
    int unused;
};

int gl_comm_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return refuse_alone();
}

void gl_comm_finalize(void) {}
int gl_comm_world_rank(void) { return 0; }
int gl_comm_world_size(void) { return 1; }
const char *gl_comm_library(void) { return "none"; }

int gl_comm_open(gl_comm **out, double timeout_s) {
    (void)timeout_s;
    *out = NULL;
    return refuse_alone();
}

void gl_comm_close(gl_comm *c) { (void)c; }
int gl_comm_rank(const gl_comm *c) { return (void)c, 0; }
void gl_comm_traffic(const gl_comm *c, double *seconds, double *bytes) {
    (void)c;
    *seconds = *bytes = 0.0;
}
int gl_comm_size(const gl_comm *c) { return (void)c, 1; }
int gl_comm_agree(gl_comm *c, int rc, int *flag, double timeout_s) { return (void)c, (void)flag, (void)timeout_s, rc; }
int gl_comm_sum_f32(gl_comm *c, float *x, size_t n) { return (void)c, (void)x, (void)n, 0; }
int gl_comm_sum_f64(gl_comm *c, double *x, size_t n) { return (void)c, (void)x, (void)n, 0; }
int gl_comm_gather_rows(gl_comm *c, float *rows, const size_t *counts, int width) {
    return (void)c, (void)rows, (void)counts, (void)width, 0;
}
int gl_comm_bcast(gl_comm *c, void *buf, size_t bytes, int root) { return (void)c, (void)buf, (void)bytes, (void)root, 0; }
int gl_comm_compare(gl_comm *c, uint64_t v, int *first_differs) {
    (void)c, (void)v;
    *first_differs = -1;
    return 0;
}

#endif
