/* lapack.h: prototypes of the few LAPACK routines used (Fortran calling
 * convention), provided by OpenBLAS. Debian ships no LAPACKE header with the
 * OpenBLAS packages, so the symbols are declared here. Matrices are
 * column-major; pass a row-major matrix and ask for the transposed operation. */
#ifndef GL_LAPACK_H
#define GL_LAPACK_H

/* LU factorisation with partial pivoting */
void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);
/* solve with an LU factorisation; trans "N" or "T" */
void dgetrs_(const char *trans, const int *n, const int *nrhs, const double *a, const int *lda, const int *ipiv,
             double *b, const int *ldb, int *info, size_t trans_len);
/* reciprocal condition number estimate from an LU factorisation; norm "1" or "I" */
void dgecon_(const char *norm, const int *n, const double *a, const int *lda, const double *anorm, double *rcond,
             double *work, int *iwork, int *info, size_t norm_len);
/* matrix norm; norm "1", "I", "F" or "M" */
double dlange_(const char *norm, const int *m, const int *n, const double *a, const int *lda, double *work,
               size_t norm_len);
/* symmetric eigenproblem (selected eigenpairs, MRRR) */
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
             const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m, double *w,
             double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork, const int *liwork,
             int *info, size_t jobz_len, size_t range_len, size_t uplo_len);

#endif
