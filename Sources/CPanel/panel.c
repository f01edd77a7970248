// AVX-512 tiles of the packed products (see include/mq_panel.h): batch 1, and 4 rows at a time.
// Compiled for AVX-512 with a target attribute and called only after mq_panel_avx512_supported said yes. The multiply-adds
// are written as fma intrinsics; the target is built with -ffp-contract=off so nothing else fuses.
#include "mq_panel.h"
#include <immintrin.h>
#include <stdint.h>

int mq_panel_avx512_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c")
        && __builtin_cpu_supports("fma");
}

#define TARGET __attribute__((target("avx512f,avx512vl,f16c,fma")))

// 16 consecutive panel values (two panels at one input) as float32.
TARGET static inline __m512 load_f32(const char *p) { return _mm512_loadu_ps(p); }
TARGET static inline __m512 load_f16(const char *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
TARGET static inline __m512 load_bf16(const char *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

// Bytes ahead of the loads whose lines the tile requests (into L1) every input: 4 KiB for 2-byte
// panels (mq-bench A/B, interleaved rounds: without it batch-1 F16 steps took 4-13% longer on
// tiny_starcoder and the Falcon-7B shape; 8 KiB was 5-7% slower on tiny_starcoder, 2% faster on
// Falcon), none for float32 (4 KiB and 8 KiB were 0-4% slower than the hardware prefetcher alone).
#define AHEAD_2BYTE 4096
#define AHEAD_F32 0

#define TILE(NAME, LOAD, SIZE, AHEAD)                                                                        \
    TARGET static void NAME(const float *x, const char *w, ptrdiff_t step, int i0, int i1, float *acc) { \
        __m512 a0 = _mm512_loadu_ps(acc), a1 = _mm512_loadu_ps(acc + 16), a2 = _mm512_loadu_ps(acc + 32);  \
        __m512 a3 = _mm512_loadu_ps(acc + 48), a4 = _mm512_loadu_ps(acc + 64), a5 = _mm512_loadu_ps(acc + 80); \
        const char *p = w;                                                                              \
        for (int i = i0; i < i1; i++) {                                                                 \
            if (AHEAD) for (int l = 0; l < 12 * 8 * SIZE; l += 64) _mm_prefetch(p + AHEAD + l, _MM_HINT_T0); \
            __m512 v = _mm512_set1_ps(x[i]);                                                            \
            a0 = _mm512_fmadd_ps(v, LOAD(p), a0);                                                       \
            a1 = _mm512_fmadd_ps(v, LOAD(p + 16 * SIZE), a1);                                           \
            a2 = _mm512_fmadd_ps(v, LOAD(p + 32 * SIZE), a2);                                           \
            a3 = _mm512_fmadd_ps(v, LOAD(p + 48 * SIZE), a3);                                           \
            a4 = _mm512_fmadd_ps(v, LOAD(p + 64 * SIZE), a4);                                           \
            a5 = _mm512_fmadd_ps(v, LOAD(p + 80 * SIZE), a5);                                           \
            p += step;                                                                                  \
        }                                                                                               \
        _mm512_storeu_ps(acc, a0); _mm512_storeu_ps(acc + 16, a1); _mm512_storeu_ps(acc + 32, a2);      \
        _mm512_storeu_ps(acc + 48, a3); _mm512_storeu_ps(acc + 64, a4); _mm512_storeu_ps(acc + 80, a5); \
    }

TILE(tile_f32, load_f32, 4, AHEAD_F32)
TILE(tile_f16, load_f16, 2, AHEAD_2BYTE)
TILE(tile_bf16, load_bf16, 2, AHEAD_2BYTE)

void mq_panel_tile1x12_avx512(int format, const float *x, const void *w, ptrdiff_t step, int i0, int i1, float *acc) {
    const char *p = (const char *)w;
    switch (format) {
    case MQ_PANEL_F32: tile_f32(x, p, step, i0, i1, acc); break;
    case MQ_PANEL_F16: tile_f16(x, p, step, i0, i1, acc); break;
    default: tile_bf16(x, p, step, i0, i1, acc); break;
    }
}

// Four rows of x against a whole wide block: 4 × 6 = 24 accumulators, the 6 weight vectors of an
// input loaded (and widened) once and used by all four rows, 4 broadcasts: 29 of the 32 registers.
// `pf` .. `pf_end` is this pass's share of the next slice, requested into L2 spread over the inputs.
#define TILE4(NAME, LOAD, SIZE)                                                                              \
    TARGET static void NAME(const float *x0, const float *x1, const float *x2, const float *x3, const char *w, \
                            ptrdiff_t step, int i0, int i1, float *acc, const char *pf, const char *pf_end) {  \
        __m512 c[4][6];                                                                                    \
        for (int r = 0; r < 4; r++)                                                                        \
            for (int j = 0; j < 6; j++) c[r][j] = _mm512_loadu_ps(acc + 96 * r + 16 * j);                  \
        const char *p = w;                                                                                 \
        ptrdiff_t lines = (pf_end - pf + 63) / 64;                                                         \
        int per = i1 > i0 ? (int)((lines + (i1 - i0) - 1) / (i1 - i0)) : 0;                               \
        for (int i = i0; i < i1; i++) {                                                                    \
            for (int k = 0; k < per && pf < pf_end; k++, pf += 64) _mm_prefetch(pf, _MM_HINT_T1);          \
            __m512 b0 = _mm512_set1_ps(x0[i]), b1 = _mm512_set1_ps(x1[i]);                                 \
            __m512 b2 = _mm512_set1_ps(x2[i]), b3 = _mm512_set1_ps(x3[i]);                                 \
            for (int j = 0; j < 6; j++) {                                                                  \
                __m512 v = LOAD(p + 16 * SIZE * j);                                                        \
                c[0][j] = _mm512_fmadd_ps(b0, v, c[0][j]);                                                 \
                c[1][j] = _mm512_fmadd_ps(b1, v, c[1][j]);                                                 \
                c[2][j] = _mm512_fmadd_ps(b2, v, c[2][j]);                                                 \
                c[3][j] = _mm512_fmadd_ps(b3, v, c[3][j]);                                                 \
            }                                                                                              \
            p += step;                                                                                     \
        }                                                                                                  \
        for (int r = 0; r < 4; r++)                                                                        \
            for (int j = 0; j < 6; j++) _mm512_storeu_ps(acc + 96 * r + 16 * j, c[r][j]);                  \
    }

TILE4(tile4_f32, load_f32, 4)
TILE4(tile4_f16, load_f16, 2)
TILE4(tile4_bf16, load_bf16, 2)

void mq_panel_tile4x12_avx512(int format, const float *const x[4], const void *w, ptrdiff_t step, int i0, int i1,
                              float *acc, const void *prefetch, ptrdiff_t prefetch_bytes) {
    const char *p = (const char *)w, *pf = (const char *)prefetch;
    const char *pf_end = pf ? pf + prefetch_bytes : pf;
    switch (format) {
    case MQ_PANEL_F32: tile4_f32(x[0], x[1], x[2], x[3], p, step, i0, i1, acc, pf, pf_end); break;
    case MQ_PANEL_F16: tile4_f16(x[0], x[1], x[2], x[3], p, step, i0, i1, acc, pf, pf_end); break;
    default: tile4_bf16(x[0], x[1], x[2], x[3], p, step, i0, i1, acc, pf, pf_end); break;
    }
}
