// Q8_0 matrix products for MQKernels (Q8Linear.swift): int8 weights in blocks of 32 inputs with one
// float16 scale per block and output (llama.cpp's Q8_0), times activations quantized the same way
// per row. Three interchangeable paths chosen at run time; all give bit-identical results because
// each block's dot product is an exact int32 sum and each output's float chain runs over the blocks
// in order with one fused multiply-add per block:
//     y[t, o] = fma(wd[o, b] * xd[t, b], (float)isum(t, o, b), y[t, o])   for b = 0, 1, …, NB−1
// then + bias[o].
//
// Shapes: T = rows, IN = inputs padded to NB·32 (pad weights and activations are 0), OUT = outputs
// padded to groups of 16. Packed weights (see Q8Linear.swift for the builder):
//   wq[OUT/16][NB][8 chunks][16 outputs][4 inputs]  uint8 = int8 weight + 128 (weight XOR 0x80)
//   wd[OUT/16][NB][16 outputs]                      float16 bit patterns (the block scales)
// Quantized activations, one row after another:
//   xq[T][NB·32] int8,  xd[T][NB] float (scale),  xs[T][NB] int32 (sum of the block's xq)
#ifndef MQ_Q8_H
#define MQ_Q8_H

#include <stdint.h>

/// Inputs per block, and outputs per packed group.
#define MQ_Q8_BLOCK 32
#define MQ_Q8_GROUP 16

/// The kernels: scalar C (any x86-64), AVX2 (vpmaddubsw / vpmaddwd) and AVX-512 VNNI (vpdpbusd).
typedef enum { MQ_Q8_SCALAR = 0, MQ_Q8_AVX2 = 1, MQ_Q8_AVX512VNNI = 2 } mq_q8_path;

/// Whether this CPU (and OS) can run `path`.
int mq_q8_supported(int path);

/// Quantizes one row x[n] to NB = ceil(n/32) blocks: d = amax/127, q = roundf(x / d) (0 for an
/// all-zero block), inputs past n count as 0. Writes xq[NB·32], xd[NB], xs[NB].
void mq_q8_quantize_row(const float *x, int n, int8_t *xq, float *xd, int32_t *xs);

/// Quantizes rows w[16][n] (row stride `ld` floats; `rows` ≤ 16 real rows, the rest zero) into one
/// packed group: wq[NB][512] and wd[NB][16] as laid out above.
void mq_q8_pack_group(const float *w, int ld, int rows, int n, uint8_t *wq, uint16_t *wd);

/// y[t, o] for t < rows and every real output o of groups g0..<g1 (o < m): the formula above.
/// `bias` may be NULL. y has row stride m.
void mq_q8_gemm(int path, const int8_t *xq, const float *xd, const int32_t *xs, int rows, int nb,
                const uint8_t *wq, const uint16_t *wd, int g0, int g1, int m,
                const float *bias, float *y);

#endif
