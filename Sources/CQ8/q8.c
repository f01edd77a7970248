// Q8_0 kernels (see include/mq_q8.h for the layout and the formula every path computes exactly).
// The SIMD paths are compiled for their instruction sets with target attributes and only called
// after mq_q8_supported said the CPU has them. Built with -ffp-contract=off: every fused
// multiply-add is written out, so no compiler contraction can make paths differ.
#include "mq_q8.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

static inline float f16_to_f32(uint16_t h) { _Float16 v; memcpy(&v, &h, 2); return (float)v; }
static inline uint16_t f32_to_f16(float f) { _Float16 v = (_Float16)f; uint16_t h; memcpy(&h, &v, 2); return h; }

int mq_q8_supported(int path) {
    __builtin_cpu_init();
    switch (path) {
    case MQ_Q8_SCALAR: return 1;
    case MQ_Q8_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case MQ_Q8_AVX512VNNI: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vnni");
    default: return 0;
    }
}

// ---- quantization (scalar: the definition, shared by every path) -------------------------------

// roundf(v) (halves away from zero) for |v| < 2^23, without a libm call so loops vectorize: adding
// the float just below 0.5 with v's sign and truncating. Exact: every float in [-2^23, 2^23] gives
// roundf's result (checked over all of them when this was written; the Q8 tests compare with
// Swift's .rounded() through the reference).
static inline int round_half_away(float v) { return (int)(v + copysignf(0.49999997f, v)); }

void mq_q8_quantize_row(const float *x, int n, int8_t *xq, float *xd, int32_t *xs) {
    int nb = (n + MQ_Q8_BLOCK - 1) / MQ_Q8_BLOCK;
    for (int b = 0; b < nb; b++) {
        int i0 = b * MQ_Q8_BLOCK, i1 = i0 + MQ_Q8_BLOCK < n ? i0 + MQ_Q8_BLOCK : n;
        float amax = 0;
        for (int i = i0; i < i1; i++) { float a = fabsf(x[i]); if (a > amax) amax = a; }
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int32_t sum = 0;
        for (int i = 0; i < MQ_Q8_BLOCK; i++) {
            int8_t q = i0 + i < i1 ? (int8_t)round_half_away(x[i0 + i] * id) : 0;
            xq[i0 + i] = q; sum += q;
        }
        xd[b] = d; xs[b] = sum;
    }
}

void mq_q8_pack_group(const float *w, int ld, int rows, int n, uint8_t *wq, uint16_t *wd) {
    int nb = (n + MQ_Q8_BLOCK - 1) / MQ_Q8_BLOCK;
    for (int b = 0; b < nb; b++) {
        int i0 = b * MQ_Q8_BLOCK, i1 = i0 + MQ_Q8_BLOCK < n ? i0 + MQ_Q8_BLOCK : n;
        uint8_t *q = wq + (size_t)b * MQ_Q8_BLOCK * MQ_Q8_GROUP;   // [8 chunks][16 outputs][4]
        for (int r = 0; r < MQ_Q8_GROUP; r++) {
            const float *row = w + (size_t)r * ld;
            float amax = 0;
            if (r < rows) for (int i = i0; i < i1; i++) { float a = fabsf(row[i]); if (a > amax) amax = a; }
            float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            wd[b * MQ_Q8_GROUP + r] = f32_to_f16(d);
            uint8_t v[MQ_Q8_BLOCK];
            if (r < rows && i1 - i0 == MQ_Q8_BLOCK) {
                for (int i = 0; i < MQ_Q8_BLOCK; i++) v[i] = (uint8_t)(round_half_away(row[i0 + i] * id) + 128);
            } else {
                for (int i = 0; i < MQ_Q8_BLOCK; i++) v[i] = (uint8_t)((r < rows && i0 + i < i1 ? round_half_away(row[i0 + i] * id) : 0) + 128);
            }
            for (int c = 0; c < 8; c++) memcpy(q + c * 64 + r * 4, v + 4 * c, 4);   // [chunk][output][4]
        }
    }
}

// ---- scalar path ----------------------------------------------------------------------------

static void store_row(float *y, const float *acc, const float *bias, int o, int m) {
    for (int r = 0; r < MQ_Q8_GROUP && o + r < m; r++) y[o + r] = acc[r] + (bias ? bias[o + r] : 0.0f);
}

static void gemm_scalar(const int8_t *xq, const float *xd, int rows, int nb,
                        const uint8_t *wq, const uint16_t *wd, int g0, int g1, int m, const float *bias, float *y) {
    for (int g = g0; g < g1; g++) {
        for (int t = 0; t < rows; t++) {
            float acc[MQ_Q8_GROUP] = {0};
            for (int b = 0; b < nb; b++) {
                const uint8_t *q = wq + ((size_t)g * nb + b) * 512;
                const int8_t *x = xq + ((size_t)t * nb + b) * MQ_Q8_BLOCK;
                for (int r = 0; r < MQ_Q8_GROUP; r++) {
                    int32_t s = 0;
                    for (int i = 0; i < MQ_Q8_BLOCK; i++) s += ((int)q[(i / 4) * 64 + r * 4 + (i % 4)] - 128) * x[i];
                    float d = f16_to_f32(wd[((size_t)g * nb + b) * MQ_Q8_GROUP + r]) * xd[(size_t)t * nb + b];
                    acc[r] = fmaf(d, (float)s, acc[r]);
                }
            }
            store_row(y + (size_t)t * m, acc, bias, g * MQ_Q8_GROUP, m);
        }
    }
}

// ---- AVX-512 VNNI path: vpdpbusd(u8 weights + 128, s8 activations), minus 128 · Σx -------------

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vl,f16c,fma")))

VNNI static inline __attribute__((always_inline))
void tile_vnni(const int8_t *xq, const float *xd, const int32_t *xs, int t0, int R, int nb,
               const uint8_t *wq, const uint16_t *wd, int g, int V, int m, const float *bias, float *y) {
    __m512 af[4][4];
    for (int r = 0; r < 4; r++) for (int v = 0; v < 4; v++) af[r][v] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m512i ai[4][4];
        for (int r = 0; r < 4; r++) for (int v = 0; v < 4; v++) ai[r][v] = _mm512_setzero_si512();
        for (int c = 0; c < 8; c++) {
            __m512i w[4];
            for (int v = 0; v < V; v++) w[v] = _mm512_loadu_si512(wq + (((size_t)(g + v) * nb + b) * 8 + c) * 64);
            for (int r = 0; r < R; r++) {
                int32_t x4; memcpy(&x4, xq + ((size_t)(t0 + r) * nb + b) * MQ_Q8_BLOCK + 4 * c, 4);
                __m512i xb = _mm512_set1_epi32(x4);
                for (int v = 0; v < V; v++) ai[r][v] = _mm512_dpbusd_epi32(ai[r][v], w[v], xb);
            }
        }
        __m512 sw[4];
        for (int v = 0; v < V; v++) sw[v] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(wd + ((size_t)(g + v) * nb + b) * MQ_Q8_GROUP)));
        for (int r = 0; r < R; r++) {
            size_t k = (size_t)(t0 + r) * nb + b;
            __m512i corr = _mm512_set1_epi32(128 * xs[k]);
            __m512 dx = _mm512_set1_ps(xd[k]);
            for (int v = 0; v < V; v++) {
                __m512 s = _mm512_cvtepi32_ps(_mm512_sub_epi32(ai[r][v], corr));
                af[r][v] = _mm512_fmadd_ps(_mm512_mul_ps(sw[v], dx), s, af[r][v]);
            }
        }
    }
    for (int r = 0; r < R; r++) for (int v = 0; v < V; v++) {
        int o = (g + v) * MQ_Q8_GROUP;
        float *dst = y + (size_t)(t0 + r) * m;
        if (o + MQ_Q8_GROUP <= m) {
            __m512 out = _mm512_add_ps(af[r][v], bias ? _mm512_loadu_ps(bias + o) : _mm512_setzero_ps());
            _mm512_storeu_ps(dst + o, out);
        } else {
            float acc[MQ_Q8_GROUP]; _mm512_storeu_ps(acc, af[r][v]);
            store_row(dst, acc, bias, o, m);
        }
    }
}

VNNI static void gemm_vnni(const int8_t *xq, const float *xd, const int32_t *xs, int rows, int nb,
                           const uint8_t *wq, const uint16_t *wd, int g0, int g1, int m, const float *bias, float *y) {
    if (rows == 1) {
        int g = g0;
        for (; g + 4 <= g1; g += 4) tile_vnni(xq, xd, xs, 0, 1, nb, wq, wd, g, 4, m, bias, y);
        for (; g < g1; g++) tile_vnni(xq, xd, xs, 0, 1, nb, wq, wd, g, 1, m, bias, y);
        return;
    }
    int g = g0;
    for (; g + 2 <= g1; g += 2) {
        int t = 0;
        for (; t + 4 <= rows; t += 4) tile_vnni(xq, xd, xs, t, 4, nb, wq, wd, g, 2, m, bias, y);
        for (; t < rows; t++) tile_vnni(xq, xd, xs, t, 1, nb, wq, wd, g, 2, m, bias, y);
    }
    for (; g < g1; g++) {
        int t = 0;
        for (; t + 4 <= rows; t += 4) tile_vnni(xq, xd, xs, t, 4, nb, wq, wd, g, 1, m, bias, y);
        for (; t < rows; t++) tile_vnni(xq, xd, xs, t, 1, nb, wq, wd, g, 1, m, bias, y);
    }
}

// ---- AVX2 path: |x| (u8) · sign(w, x) (s8) with vpmaddubsw, pairs summed with vpmaddwd ----------
// |x|, |w| ≤ 127, so a pair of products (≤ 2 · 127²) never saturates int16.

#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline __attribute__((always_inline))
void tile_avx2(const int8_t *xq, const float *xd, int t0, int R, int nb,
               const uint8_t *wq, const uint16_t *wd, int g, int V, int m, const float *bias, float *y) {
    // [row][group·2 + half]: 8 outputs per ymm.
    __m256 af[2][4];
    for (int r = 0; r < 2; r++) for (int h = 0; h < 4; h++) af[r][h] = _mm256_setzero_ps();
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    for (int b = 0; b < nb; b++) {
        __m256i ai[2][4];
        for (int r = 0; r < 2; r++) for (int h = 0; h < 4; h++) ai[r][h] = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            __m256i w[4];
            for (int h = 0; h < 2 * V; h++)
                w[h] = _mm256_xor_si256(flip, _mm256_loadu_si256((const __m256i *)(wq + (((size_t)(g + h / 2) * nb + b) * 8 + c) * 64 + (h % 2) * 32)));
            for (int r = 0; r < R; r++) {
                int32_t x4; memcpy(&x4, xq + ((size_t)(t0 + r) * nb + b) * MQ_Q8_BLOCK + 4 * c, 4);
                __m256i xb = _mm256_set1_epi32(x4), ax = _mm256_abs_epi8(xb);
                for (int h = 0; h < 2 * V; h++) {
                    __m256i p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w[h], xb));
                    ai[r][h] = _mm256_add_epi32(ai[r][h], _mm256_madd_epi16(p, ones));
                }
            }
        }
        for (int h = 0; h < 2 * V; h++) {
            __m256 sw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wd + ((size_t)(g + h / 2) * nb + b) * MQ_Q8_GROUP + (h % 2) * 8)));
            for (int r = 0; r < R; r++) {
                __m256 dx = _mm256_set1_ps(xd[(size_t)(t0 + r) * nb + b]);
                af[r][h] = _mm256_fmadd_ps(_mm256_mul_ps(sw, dx), _mm256_cvtepi32_ps(ai[r][h]), af[r][h]);
            }
        }
    }
    for (int r = 0; r < R; r++) for (int v = 0; v < V; v++) {
        int o = (g + v) * MQ_Q8_GROUP;
        float *dst = y + (size_t)(t0 + r) * m;
        float acc[MQ_Q8_GROUP];
        _mm256_storeu_ps(acc, af[r][2 * v]); _mm256_storeu_ps(acc + 8, af[r][2 * v + 1]);
        store_row(dst, acc, bias, o, m);
    }
}

AVX2 static void gemm_avx2(const int8_t *xq, const float *xd, int rows, int nb,
                           const uint8_t *wq, const uint16_t *wd, int g0, int g1, int m, const float *bias, float *y) {
    if (rows == 1) {
        int g = g0;
        for (; g + 2 <= g1; g += 2) tile_avx2(xq, xd, 0, 1, nb, wq, wd, g, 2, m, bias, y);
        for (; g < g1; g++) tile_avx2(xq, xd, 0, 1, nb, wq, wd, g, 1, m, bias, y);
        return;
    }
    for (int g = g0; g < g1; g++) {
        int t = 0;
        for (; t + 2 <= rows; t += 2) tile_avx2(xq, xd, t, 2, nb, wq, wd, g, 1, m, bias, y);
        for (; t < rows; t++) tile_avx2(xq, xd, t, 1, nb, wq, wd, g, 1, m, bias, y);
    }
}

void mq_q8_gemm(int path, const int8_t *xq, const float *xd, const int32_t *xs, int rows, int nb,
                const uint8_t *wq, const uint16_t *wd, int g0, int g1, int m,
                const float *bias, float *y) {
    switch (path) {
    case MQ_Q8_AVX512VNNI: gemm_vnni(xq, xd, xs, rows, nb, wq, wd, g0, g1, m, bias, y); break;
    case MQ_Q8_AVX2: gemm_avx2(xq, xd, rows, nb, wq, wd, g0, g1, m, bias, y); break;
    default: gemm_scalar(xq, xd, rows, nb, wq, wd, g0, g1, m, bias, y); break;
    }
}
