// OpenBLAS, opened at run time.
//
// Debian's OpenBLAS picks its kernels when the library loads, from OPENBLAS_CORETYPE or from its CPU
// table; on CPUs newer than its table it silently falls back to slow SSE3 kernels. A linked library
// loads before main() can set the variable, so mq opens it with dlopen() after choosing a core type
// from cpuid (unless the user already set OPENBLAS_CORETYPE). Matrices are row-major throughout.
#ifndef MQ_OPENBLAS_H
#define MQ_OPENBLAS_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Opens OpenBLAS once (thread-safe). Returns 0 on success; otherwise fills `err`.
int mq_blas_load(char *err, size_t errlen);
/// Kernel family OpenBLAS is using ("Haswell", "SkylakeX", "Prescott", ...), or "" before loading.
const char *mq_blas_corename(void);
/// The OPENBLAS_CORETYPE that mq chose ("" if it left the choice to OpenBLAS or the user).
const char *mq_blas_chosen_coretype(void);
int mq_blas_get_num_threads(void);
void mq_blas_set_num_threads(int threads);
/// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major; transA/transB are 0 or 1.
void mq_sgemm(int transA, int transB, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/// y[M] = alpha * A[M,N] * x[N] + beta * y (trans = 0), or y[N] = alpha * A^T x + beta * y (trans = 1).
void mq_sgemv(int trans, int M, int N, float alpha, const float *A, int lda,
              const float *x, float beta, float *y);

#ifdef __cplusplus
}
#endif
#endif
