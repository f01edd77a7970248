// Tiles of MQKernels' packed products (PackedLinear.swift) on 16-wide registers, for CPUs with
// AVX-512: one row, or four rows, of x against 12 output vectors of 8 (one wide block of 12 panels,
// the layout PackedWeight.swift writes: the 96 values of one input contiguous), weights stored as
// float32, IEEE half or bfloat16.
//
// Why: at batch 1 the AVX2 tile (Swift, -target-cpu haswell) spends 12 widening loads and 12 FMAs
// per input on 8 lanes each; here 6 of 16 lanes, which leaves the core more time to keep memory
// busy; for 2-byte panels it also asks for the lines 4 KiB ahead of its one stream. With 4 or more
// rows a step is arithmetic-paced: the AVX2 tile of 4 rows × 3 vectors does 12 eight-lane FMAs per
// 3 loads and must walk a wide block as four tiles; the 4 × 12 tile does 24 sixteen-lane FMAs per
// 6 loads over the whole block (twice the multiply-adds per instruction).
//
// Exactness: lane r of output vector j computes the same chain as the Swift tiles,
//     acc[j][r] = fma(x[i], w(j, i, r), acc[j][r])   for i = i0, i0+1, …, i1−1
// (one fused multiply-add per input, in input order, widening F16/BF16 exactly), so results are bit
// for bit those of the Swift tiles; KernelTests compare the two paths.
#ifndef MQ_PANEL_H
#define MQ_PANEL_H

#include <stddef.h>

/// Panel storage, as PackedWeight.Storage: 4-byte float, IEEE half, bfloat16.
typedef enum { MQ_PANEL_F32 = 0, MQ_PANEL_F16 = 1, MQ_PANEL_BF16 = 2 } mq_panel_format;

/// Whether this CPU and OS run the AVX-512 tile (AVX-512F and VL, F16C).
int mq_panel_avx512_supported(void);

/// acc[12][8] (vector j, lane r at acc[8j + r]) continues its 12 chains over inputs i0..<i1:
/// vector j's value for input i0 + k, lane r, sits at w + k·step + (8j + r)·size bytes (size = 4
/// for F32, 2 otherwise). Callers zero acc to start the chains.
void mq_panel_tile1x12_avx512(int format, const float *x, const void *w, ptrdiff_t step, int i0, int i1,
                              float *acc);

/// Four rows of x (x[0..3]; a caller with fewer rows repeats one and drops its results) against a
/// whole wide block: acc[4][96] (row r, output 16q + l of the block at acc[96r + 16q + l], vector j
/// = 2q + l/8) continues its 4 × 96 chains over inputs i0..<i1, weights as in
/// mq_panel_tile1x12_avx512. Each input's weights are loaded (and widened) once for the four rows.
/// While it computes it requests `prefetch` ..< `prefetch` + `prefetch_bytes` (the part of the next
/// slice this pass asks for; NULL for none) into L2, spread evenly over the inputs.
void mq_panel_tile4x12_avx512(int format, const float *const x[4], const void *w, ptrdiff_t step, int i0, int i1,
                              float *acc, const void *prefetch, ptrdiff_t prefetch_bytes);

#endif
