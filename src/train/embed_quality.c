/* embed_quality.c: silhouette scores with cosine distance, 2-D PCA and exact
 * t-SNE maps of an embedding space.
 *
 * Silhouette (sklearn.metrics.silhouette_samples(X, y, metric="cosine")):
 *   rows are normalised once (z_i = x_i / |x_i|; rows with |x_i| < 10 eps stay
 *   zero, as sklearn.preprocessing.normalize does, so their cosine distance to
 *   everything else is 1), and the normalised rows of each class are summed,
 *   S_k = sum_{y_j = k} z_j. The mean cosine distance from i to class k is then
 *     d(i, k) = 1 - (z_i . S_k - [k = y_i] z_i . z_i) / (n_k - [k = y_i]),
 *   i.e. the self-distance is 0, as in sklearn (which zeroes the diagonal of the
 *   distance matrix). a(i) = d(i, y_i), b(i) = min over other present classes of
 *   d(i, k), s(i) = (b - a) / max(a, b), and 0 where the class of i has one
 *   member or max(a, b) = 0. O(n K C) time, O(K C + n) memory. sklearn clips
 *   each pairwise distance to [0, 2]; here only the means are clipped, which
 *   differs by rounding noise (~1e-16) at most.
 *   Like sklearn, the number of classes present must be in [2, n - 1].
 *
 * Determinism: every reduction has a fixed order independent of the number of
 * threads (column blocks for the class sums, one row per loop iteration for
 * the per-sample work, sequential sums over rows), so results are bitwise
 * reproducible for any OMP_NUM_THREADS. */
#include "train/embed_quality.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "util/error.h"
#include "util/lapack.h"
#include "util/rng.h"

/* ---- silhouette ------------------------------------------------------- */

static int check_finite(const float *X, size_t n, int C, const char *what) {
    const size_t m = n * (size_t)C;
    for (size_t i = 0; i < m; i++)
        if (!isfinite(X[i])) return gl_error("%s: non-finite value at row %zu, column %zu", what, i / (size_t)C, i % (size_t)C);
    return 0;
}

static int check_labels(const float *X, const int *y, size_t n, int C, int K, const char *what) {
    if (C <= 0) return gl_error("%s: embedding width must be positive, got %d", what, C);
    if (K <= 0) return gl_error("%s: number of classes must be positive, got %d", what, K);
    if (n > 0 && (!X || !y)) return gl_error("%s: NULL input for %zu examples", what, n);
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= K) return gl_error("%s: label %d at index %zu is outside [0, %d)", what, y[i], i, K);
    return n > 0 ? check_finite(X, n, C, what) : 0;
}

int gl_silhouette_cosine_samples(const float *X, const int *y, size_t n, int C, int K, double *s) {
    const char *what = "silhouette";
    if (check_labels(X, y, n, C, K, what) != 0) return -1;
    if (!s && n > 0) return gl_error("%s: NULL output", what);
    const size_t c = (size_t)C, k_n = (size_t)K;
    size_t *count = gl_calloc(k_n, sizeof(size_t));
    if (!count) return gl_error_prefix("%s: ", what);
    for (size_t i = 0; i < n; i++) count[y[i]]++;
    size_t present = 0;
    for (size_t k = 0; k < k_n; k++) present += count[k] > 0;
    if (present < 2 || present + 1 > n) {
        free(count);
        return gl_error("%s: %zu classes present among %zu samples; need between 2 and n - 1", what, present, n);
    }

    double *inv = gl_malloc(n * sizeof(double));  /* 1 / |x_i|, or 0 */
    double *self = gl_malloc(n * sizeof(double)); /* z_i . z_i (1 or 0) */
    double *S = gl_calloc(k_n * c, sizeof(double));
    if (!inv || !self || !S) {
        free(count), free(inv), free(self), free(S);
        return gl_error_prefix("%s: ", what);
    }
    const long ln = (long)n;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < ln; i++) {
        const float *x = X + (size_t)i * c;
        double sq = 0;
        for (size_t j = 0; j < c; j++) sq += (double)x[j] * x[j];
        double nrm = sqrt(sq);
        double r = nrm < 10 * DBL_EPSILON ? 0.0 : 1.0 / nrm;
        inv[i] = r;
        double zz = 0;
        for (size_t j = 0; j < c; j++) {
            double z = x[j] * r;
            zz += z * z;
        }
        self[i] = zz;
    }
    /* class sums of the normalised rows: each thread owns a block of columns
     * and walks the rows in order, so the sums do not depend on threading */
    const size_t BLK = 64;
    const long nblk = (long)((c + BLK - 1) / BLK);
#pragma omp parallel for schedule(static)
    for (long b = 0; b < nblk; b++) {
        size_t j0 = (size_t)b * BLK, j1 = j0 + BLK < c ? j0 + BLK : c;
        for (size_t i = 0; i < n; i++) {
            const float *x = X + i * c;
            double *Sk = S + (size_t)y[i] * c;
            const double r = inv[i];
            for (size_t j = j0; j < j1; j++) Sk[j] += x[j] * r;
        }
    }
#pragma omp parallel for schedule(static)
    for (long i = 0; i < ln; i++) {
        const float *x = X + (size_t)i * c;
        const int yi = y[i];
        const double r = inv[i];
        if (count[yi] < 2) {
            s[i] = 0.0;
            continue;
        }
        double a = 0, b = INFINITY;
        for (size_t k = 0; k < k_n; k++) {
            if (!count[k]) continue;
            const double *Sk = S + k * c;
            double dot = 0;
            for (size_t j = 0; j < c; j++) dot += (x[j] * r) * Sk[j];
            double d;
            if ((int)k == yi)
                d = 1.0 - (dot - self[i]) / (double)(count[k] - 1);
            else
                d = 1.0 - dot / (double)count[k];
            d = d < 0 ? 0 : d > 2 ? 2 : d;
            if ((int)k == yi)
                a = d;
            else if (d < b)
                b = d;
        }
        double m = a > b ? a : b;
        s[i] = m > 0 ? (b - a) / m : 0.0;
    }
    free(count), free(inv), free(self), free(S);
    return 0;
}

int gl_silhouette_cosine(const float *X, const int *y, size_t n, int C, int K, double *micro, double *macro,
                      double *per_class) {
    double *s = gl_malloc((n ? n : 1) * sizeof(double));
    if (!s) return gl_error_prefix("silhouette: ");
    if (gl_silhouette_cosine_samples(X, y, n, C, K, s) != 0) {
        free(s);
        return -1;
    }
    double *sum = gl_calloc((size_t)K, sizeof(double));
    size_t *cnt = gl_calloc((size_t)K, sizeof(size_t));
    if (!sum || !cnt) {
        free(s), free(sum), free(cnt);
        return gl_error_prefix("silhouette: ");
    }
    double tot = 0;
    for (size_t i = 0; i < n; i++) {
        tot += s[i];
        sum[y[i]] += s[i];
        cnt[y[i]]++;
    }
    double mac = 0;
    int present = 0;
    for (int k = 0; k < K; k++) {
        double v = cnt[k] ? sum[k] / (double)cnt[k] : NAN;
        if (cnt[k]) mac += v, present++;
        if (per_class) per_class[k] = v;
    }
    if (micro) *micro = tot / (double)n;
    if (macro) *macro = mac / present;
    free(s), free(sum), free(cnt);
    return 0;
}

/* ---- PCA ---------------------------------------------------------------- */

/* Centre, covariance (C x C, double, dsyrk), the two largest eigenpairs with
 * dsyevr, each axis's sign fixed so its largest-|loading| coordinate (the
 * first such, as numpy's argmax) is positive — sklearn's svd_flip with
 * u_based_decision=False — then project. With C == 1 the second coordinate
 * is 0. */
int gl_pca_2d(const float *X, size_t n, int C, double *out) {
    const char *what = "gl_pca_2d";
    if (C <= 0) return gl_error("%s: embedding width must be positive, got %d", what, C);
    if (n == 0) return 0;
    if (!X || !out) return gl_error("%s: NULL argument", what);
    if (check_finite(X, n, C, what) != 0) return -1;
    if (n > (size_t)INT32_MAX) return gl_error("%s: too many rows (%zu)", what, n);
    const size_t c = (size_t)C;
    double *mean = gl_calloc(c, sizeof(double));
    double *Xc = gl_malloc(n * c * sizeof(double));
    double *cov = gl_malloc(c * c * sizeof(double));
    double *axes = gl_calloc(2 * c, sizeof(double)); /* axis 0 (largest) then axis 1, each C */
    if (!mean || !Xc || !cov || !axes) {
        free(mean), free(Xc), free(cov), free(axes);
        return gl_error_prefix("%s: ", what);
    }
    /* means column-block-wise (fixed summation order) */
    const long lc = (long)c;
#pragma omp parallel for schedule(static)
    for (long j = 0; j < lc; j++) {
        double acc = 0;
        for (size_t i = 0; i < n; i++) acc += X[i * c + (size_t)j];
        mean[j] = acc / (double)n;
    }
    const long ln = (long)n;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < ln; i++)
        for (size_t j = 0; j < c; j++) Xc[(size_t)i * c + j] = X[(size_t)i * c + j] - mean[j];
    /* BLAS and LAPACK run on this thread only: OpenBLAS (OpenMP build) sizes
     * its team from omp_get_max_threads(), and its multi-threaded dsyrk/dsyevr
     * give results that depend on the team size (and crawl when the cores are
     * busy). Single-threaded they take ~50 ms at n = 7532, C = 384. */
    const int saved_threads = omp_get_max_threads();
    omp_set_num_threads(1);
    /* cov (upper triangle, row-major) = Xc^T Xc; scaling is irrelevant */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, C, (int)n, 1.0, Xc, C, 0.0, cov, C);

    int m = 0, info = 0;
    if (C == 1) {
        axes[0] = 1.0;
        omp_set_num_threads(saved_threads);
    } else {
        /* row-major upper == column-major lower */
        const char jobz = 'V', range = 'I', uplo = 'L';
        const int il = C - 1, iu = C, ldz = C;
        const double vl = 0, vu = 0, abstol = 0;
        double w[2], wq;
        int iwq, lwork = -1, liwork = -1;
        int *isuppz = gl_malloc(4 * sizeof(int));
        double *z = gl_malloc(2 * c * sizeof(double));
        if (!isuppz || !z) {
            free(isuppz), free(z), free(mean), free(Xc), free(cov), free(axes);
            omp_set_num_threads(saved_threads);
            return gl_error_prefix("%s: ", what);
        }
        dsyevr_(&jobz, &range, &uplo, &C, cov, &C, &vl, &vu, &il, &iu, &abstol, &m, w, z, &ldz, isuppz, &wq, &lwork,
                &iwq, &liwork, &info, 1, 1, 1);
        double *work = NULL;
        int *iwork = NULL;
        if (info == 0) {
            lwork = (int)wq;
            liwork = iwq;
            work = gl_malloc((size_t)lwork * sizeof(double));
            iwork = gl_malloc((size_t)liwork * sizeof(int));
            if (!work || !iwork) info = -1000;
        }
        if (info == 0)
            dsyevr_(&jobz, &range, &uplo, &C, cov, &C, &vl, &vu, &il, &iu, &abstol, &m, w, z, &ldz, isuppz, work,
                    &lwork, iwork, &liwork, &info, 1, 1, 1);
        free(work), free(iwork), free(isuppz);
        omp_set_num_threads(saved_threads);
        if (info != 0 || m != 2) {
            free(z), free(mean), free(Xc), free(cov), free(axes);
            return gl_error("%s: dsyevr failed (info %d, %d eigenpairs)", what, info, m);
        }
        /* ascending: z column 1 is the largest */
        memcpy(axes, z + c, c * sizeof(double));
        memcpy(axes + c, z, c * sizeof(double));
        free(z);
    }
    for (int a = 0; a < 2; a++) {
        double *v = axes + (size_t)a * c;
        size_t arg = 0;
        for (size_t j = 1; j < c; j++)
            if (fabs(v[j]) > fabs(v[arg])) arg = j;
        if (v[arg] < 0)
            for (size_t j = 0; j < c; j++) v[j] = -v[j];
    }
#pragma omp parallel for schedule(static)
    for (long i = 0; i < ln; i++) {
        const double *xc = Xc + (size_t)i * c;
        double p0 = 0, p1 = 0;
        for (size_t j = 0; j < c; j++) p0 += xc[j] * axes[j], p1 += xc[j] * axes[c + j];
        out[2 * i] = p0;
        out[2 * i + 1] = p1;
    }
    free(mean), free(Xc), free(cov), free(axes);
    return 0;
}

/* ---- t-SNE ---------------------------------------------------------------
 *
 * Exact t-SNE (van der Maaten & Hinton 2008), as sklearn.manifold.TSNE with
 * method="exact", init="pca", learning_rate="auto":
 *  - input affinities from squared Euclidean distances; per point a binary
 *    search on beta = 1/(2 sigma^2) (at most 100 steps, |H - log(perp)| <= 1e-5,
 *    natural log) — distances are shifted by the row minimum first, which
 *    leaves the conditional distribution unchanged but avoids underflow;
 *  - P = (P_cond + P_cond^T) / sum, floored at DBL_EPSILON off the diagonal;
 *  - Student-t (1 dof) output kernel, gradient 4 sum_j (p_ij - q_ij) num_ij (y_i - y_j);
 *  - gradient descent with momentum 0.5 for the first 250 iterations and 0.8
 *    after, P multiplied by 12 (early exaggeration) for the first 250;
 *  - gains as in van der Maaten's tsne.m: +0.2 where the gradient's sign
 *    differs from the previous increment's, *0.8 otherwise, floored at 0.01;
 *    gains and increments carry over the phase switch (tsne.m; sklearn resets
 *    them there);
 *  - learning rate max(n / 12 / 4, 50): sklearn's "auto" (Belkina et al. 2019,
 *    n / early exaggeration, divided by 4 because this gradient includes the
 *    factor 4 that bhtsne/openTSNE leave out);
 *  - the map is re-centred after every step (tsne.m), and the run stops early
 *    if the gradient norm falls below 1e-7 (sklearn's min_grad_norm);
 *  - initialised from gl_pca_2d scaled so that the first coordinate has standard
 *    deviation 1e-4 (sklearn). The seed is used only when that is degenerate
 *    (all points equal): then the start is N(0, 1e-4^2) from the seed.
 * Memory: one n x n double array (distances, then P in place); 32 MB at n = 2000.
 * Time: ~3-4 ns per pair and step on one core (n = 2000, 1000 steps: ~15-18 s). */

#define TSNE_EXAG 12.0
#define TSNE_EXAG_ITERS 250
#define TSNE_MIN_GAIN 0.01
#define TSNE_PERP_TOL 1e-5
#define TSNE_PERP_STEPS 100
#define TSNE_MIN_GRAD_NORM 1e-7

static int sgn(double v) { return (v > 0) - (v < 0); }

static double gauss(gl_rng *r) {
    double u1 = ((double)(gl_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (double)(gl_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* conditional P row i in place over the distance row D (length n) */
static void tsne_row(double *D, size_t n, size_t i, double target) {
    double dmin = INFINITY;
    for (size_t j = 0; j < n; j++)
        if (j != i && D[j] < dmin) dmin = D[j];
    for (size_t j = 0; j < n; j++) D[j] = j == i ? 0.0 : D[j] - dmin;
    double beta = 1.0, bmin = -INFINITY, bmax = INFINITY, sumP = 1.0;
    double best_beta = beta;
    for (int step = 0; step < TSNE_PERP_STEPS; step++) {
        double sp = 0, sdp = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double p = exp(-D[j] * beta);
            sp += p;
            sdp += D[j] * p;
        }
        double H = log(sp) + beta * sdp / sp;
        best_beta = beta;
        sumP = sp;
        double diff = H - target;
        if (fabs(diff) <= TSNE_PERP_TOL) break;
        if (diff > 0) {
            bmin = beta;
            beta = isinf(bmax) ? beta * 2 : (beta + bmax) / 2;
        } else {
            bmax = beta;
            beta = isinf(bmin) ? beta / 2 : (beta + bmin) / 2;
        }
    }
    for (size_t j = 0; j < n; j++) D[j] = j == i ? 0.0 : exp(-D[j] * best_beta) / sumP;
}

int gl_tsne_2d_kl(const float *X, size_t n, int C, double perplexity, int iterations, uint64_t seed, double *out,
               double *kl) {
    const char *what = "gl_tsne_2d";
    if (C <= 0) return gl_error("%s: embedding width must be positive, got %d", what, C);
    if (!(perplexity > 0) || !isfinite(perplexity)) return gl_error("%s: perplexity must be positive", what);
    if (iterations < 0) return gl_error("%s: negative number of iterations %d", what, iterations);
    if (n == 0) return 0;
    if (!X || !out) return gl_error("%s: NULL argument", what);
    if (kl)
        for (int t = 0; t < iterations; t++) kl[t] = NAN;
    if (n > 200000) return gl_error("%s: %zu points is too many for exact t-SNE", what, n);
    const size_t c = (size_t)C;

    /* initialisation */
    if (gl_pca_2d(X, n, C, out) != 0) return gl_error_prefix("%s: ", what);
    {
        double mu = 0, var = 0;
        for (size_t i = 0; i < n; i++) mu += out[2 * i];
        mu /= (double)n;
        for (size_t i = 0; i < n; i++) var += (out[2 * i] - mu) * (out[2 * i] - mu);
        double sd = sqrt(var / (double)n);
        if (sd > 0 && isfinite(sd)) {
            for (size_t i = 0; i < 2 * n; i++) out[i] *= 1e-4 / sd;
        } else {
            gl_rng r = {gl_rng_key(seed, 0x7453e1)};
            for (size_t i = 0; i < 2 * n; i++) out[i] = 1e-4 * gauss(&r);
        }
    }
    if (n == 1) {
        out[0] = out[1] = 0;
        return 0;
    }

    /* squared distances (upper triangle computed once, mirrored) */
    double *P = gl_malloc(n * n * sizeof(double));
    double *g = gl_malloc(2 * n * sizeof(double));
    double *B = gl_malloc(2 * n * sizeof(double));
    double *inc = gl_calloc(2 * n, sizeof(double));
    double *gain = gl_malloc(2 * n * sizeof(double));
    double *rowz = gl_malloc(n * sizeof(double));
    double *rowl = gl_malloc(n * sizeof(double));
    if (!P || !g || !B || !inc || !gain || !rowz || !rowl) {
        free(P), free(g), free(B), free(inc), free(gain), free(rowz), free(rowl);
        return gl_error_prefix("%s (%zu points): ", what, n);
    }
    const long ln = (long)n;
#pragma omp parallel for schedule(dynamic, 16)
    for (long li = 0; li < ln; li++) {
        size_t i = (size_t)li;
        const float *xi = X + i * c;
        P[i * n + i] = 0;
        for (size_t j = i + 1; j < n; j++) {
            const float *xj = X + j * c;
            double d = 0;
            for (size_t k = 0; k < c; k++) {
                double t = (double)xi[k] - xj[k];
                d += t * t;
            }
            P[i * n + j] = P[j * n + i] = d;
        }
    }
    /* conditional affinities, row by row in place (each row only reads itself) */
    const double target = log(perplexity);
#pragma omp parallel for schedule(dynamic, 8)
    for (long li = 0; li < ln; li++) tsne_row(P + (size_t)li * n, n, (size_t)li, target);
    /* symmetrise: pair (i, j > i) handled by row i only */
#pragma omp parallel for schedule(dynamic, 16)
    for (long li = 0; li < ln; li++) {
        size_t i = (size_t)li;
        for (size_t j = i + 1; j < n; j++) {
            double v = P[i * n + j] + P[j * n + i];
            P[i * n + j] = P[j * n + i] = v;
        }
    }
    for (size_t i = 0; i < n; i++) {
        double a = 0;
        for (size_t j = 0; j < n; j++) a += P[i * n + j];
        rowz[i] = a;
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) total += rowz[i];
    if (!(total > 0)) total = 1;
    double plogp = 0, psum = 0;
    for (size_t i = 0; i < n; i++) {
        double a = 0, b = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double p = P[i * n + j] / total;
            if (p < DBL_EPSILON) p = DBL_EPSILON;
            P[i * n + j] = p;
            a += p * log(p);
            b += p;
        }
        plogp += a;
        psum += b;
    }

    for (size_t i = 0; i < 2 * n; i++) gain[i] = 1.0;
    double lr = (double)n / TSNE_EXAG / 4.0;
    if (lr < 50) lr = 50;
    double *Y = out;
    const int want_kl = kl != NULL;
    for (int it = 0; it < iterations; it++) {
        const double exag = it < TSNE_EXAG_ITERS ? TSNE_EXAG : 1.0;
        const double mom = it < TSNE_EXAG_ITERS ? 0.5 : 0.8;
        /* per row: A = sum_j p_ij num_ij dy, B = sum_j num_ij^2 dy, Z_i = sum_j num_ij;
         * then grad_i = 4 (exag A - B / Z) with Z = sum_i Z_i. Small maps run on
         * one thread: a step is then well under a millisecond, less than what
         * waking a team costs on busy cores (same results either way). */
#pragma omp parallel for schedule(static) if (n >= 512)
        for (long li = 0; li < ln; li++) {
            size_t i = (size_t)li;
            const double *p = P + i * n;
            const double yi0 = Y[2 * i], yi1 = Y[2 * i + 1];
            double a0 = 0, a1 = 0, b0 = 0, b1 = 0, z = 0, l = 0;
            for (size_t j = 0; j < n; j++) {
                if (j == i) continue;
                double d0 = yi0 - Y[2 * j], d1 = yi1 - Y[2 * j + 1];
                double d2 = d0 * d0 + d1 * d1;
                double num = 1.0 / (1.0 + d2);
                double pn = p[j] * num;
                a0 += pn * d0, a1 += pn * d1;
                double nn = num * num;
                b0 += nn * d0, b1 += nn * d1;
                z += num;
                if (want_kl) l += p[j] * log1p(d2);
            }
            g[2 * i] = a0, g[2 * i + 1] = a1;
            B[2 * i] = b0, B[2 * i + 1] = b1;
            rowz[i] = z;
            rowl[i] = l;
        }
        double Z = 0;
        for (size_t i = 0; i < n; i++) Z += rowz[i];
        if (want_kl) {
            /* KL(P || Q) with q_ij = num_ij / Z: sum p log p + sum p log(1 + d2) + log Z sum p */
            double L = 0;
            for (size_t i = 0; i < n; i++) L += rowl[i];
            kl[it] = plogp + L + psum * log(Z);
        }
        double gnorm2 = 0;
        for (size_t k = 0; k < 2 * n; k++) {
            double gk = 4.0 * (exag * g[k] - B[k] / Z);
            /* gains (tsne.m): grow where the step direction flips */
            if (sgn(gk) != sgn(inc[k]))
                gain[k] += 0.2;
            else
                gain[k] *= 0.8;
            if (gain[k] < TSNE_MIN_GAIN) gain[k] = TSNE_MIN_GAIN;
            inc[k] = mom * inc[k] - lr * gain[k] * gk;
            Y[k] += inc[k];
            gnorm2 += gk * gk;
        }
        double m0 = 0, m1 = 0;
        for (size_t i = 0; i < n; i++) m0 += Y[2 * i], m1 += Y[2 * i + 1];
        m0 /= (double)n, m1 /= (double)n;
        for (size_t i = 0; i < n; i++) Y[2 * i] -= m0, Y[2 * i + 1] -= m1;
        if (sqrt(gnorm2) < TSNE_MIN_GRAD_NORM) break;
    }
    free(P), free(g), free(B), free(inc), free(gain), free(rowz), free(rowl);
    return 0;
}

int gl_tsne_2d(const float *X, size_t n, int C, double perplexity, int iterations, uint64_t seed, double *out) {
    return gl_tsne_2d_kl(X, n, C, perplexity, iterations, seed, out, NULL);
}
