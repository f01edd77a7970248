// Run-time loading of OpenBLAS; see include/mq_openblas.h for why.
#define _GNU_SOURCE
#include "mq_openblas.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                         float, float *, int);
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef char *(*corename_fn)(void);
typedef int (*get_threads_fn)(void);
typedef void (*set_threads_fn)(int);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_status = -1;
static char load_error[512];
static char chosen[32];
static sgemm_fn p_sgemm;
static sgemv_fn p_sgemv;
static corename_fn p_corename;
static get_threads_fn p_get_threads;
static set_threads_fn p_set_threads;

static void choose_coretype(void) {
    const char *have = getenv("OPENBLAS_CORETYPE");
    if (have && *have) return;  // the user's choice wins
#if defined(__x86_64__)
    __builtin_cpu_init();
    const char *pick = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        pick = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        pick = "Haswell";
    if (pick) {
        setenv("OPENBLAS_CORETYPE", pick, 0);
        snprintf(chosen, sizeof chosen, "%s", pick);
    }
#endif
}

static void do_load(void) {
    choose_coretype();
    const char *names[] = {"libopenblas.so.0", "libopenblas.so",
                           "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
                           "/usr/lib/aarch64-linux-gnu/libopenblas.so.0", "libopenblas.dylib"};
    void *h = NULL;
    const char *last = "no candidate tried";
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !h; i++) {
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) last = dlerror();
    }
    if (!h) {
        snprintf(load_error, sizeof load_error,
                 "cannot open OpenBLAS (install libopenblas-dev): %s", last);
        return;
    }
    p_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    p_sgemv = (sgemv_fn)dlsym(h, "cblas_sgemv");
    p_corename = (corename_fn)dlsym(h, "openblas_get_corename");
    p_get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
    p_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    if (!p_sgemm || !p_sgemv) {
        snprintf(load_error, sizeof load_error, "OpenBLAS lacks cblas_sgemm/cblas_sgemv");
        return;
    }
    load_status = 0;
}

int mq_blas_load(char *err, size_t errlen) {
    pthread_once(&once, do_load);
    if (load_status != 0 && err && errlen) snprintf(err, errlen, "%s", load_error);
    return load_status;
}

const char *mq_blas_corename(void) {
    if (load_status != 0 || !p_corename) return "";
    const char *n = p_corename();
    return n ? n : "";
}

const char *mq_blas_chosen_coretype(void) { return chosen; }

int mq_blas_get_num_threads(void) {
    return (load_status == 0 && p_get_threads) ? p_get_threads() : 0;
}

void mq_blas_set_num_threads(int threads) {
    if (load_status == 0 && p_set_threads) p_set_threads(threads);
}

void mq_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    p_sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, M, N, K, alpha, A, lda, B,
            ldb, beta, C, ldc);
}

void mq_sgemv(int trans, int M, int N, float alpha, const float *A, int lda, const float *x,
              float beta, float *y) {
    p_sgemv(RowMajor, trans ? Trans : NoTrans, M, N, alpha, A, lda, x, 1, beta, y, 1);
}
