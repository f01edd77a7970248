// y = x · Wᵀ + b for any number of rows T, over weights packed once at load time, with one
// summation order per output whatever T is.
//
// Shapes: T = rows (one per token of the step, from any number of sequences), IN = n input
// features, OUT = m output features. W arrives as PyTorch stores nn.Linear: [OUT, IN] row-major.
// Packed layout (PackedWeight.swift): panels of eight consecutive output rows, so one 32-byte load
// is W[8g ..< 8g+8, i] (rows past OUT are zero), in wide blocks of 12 panels whose inputs are
// interleaved (B[OUT/96][IN][12][8]: a block is one contiguous stream), the rest in narrow blocks of
// 3 and single panels. Panels hold float32, or the F16 / BF16 the
// checkpoint stored (a 16-byte load widened exactly to float32 in registers): decoding one sequence
// streams half the bytes, with bit-identical results (PackedWeight.swift builds the panels). With several groups of rows the first group widens a 2-byte slice
// and keeps a float32 copy in L1 for the others (widening in every group's loop cost ~25% at 16
// rows).
//
// Why not sgemv/sgemm: a batched decode step multiplies every weight by T ≤ 32 rows. OpenBLAS sgemm
// packs W on every call and, with so few rows, costs nearly as much per row as T separate
// matrix-vector products, so batching would not amortize the weight reads — the whole point of
// batching a memory-bound decode. And BLAS uses a different summation order for 1 row (sgemv), a
// few rows and many rows, so a sequence's logits would depend on which other sequences shared its
// step. Packing W once fixes both:
//
// - A register tile of R rows of x × V vectors of 8 outputs (R·V = 12 accumulators: 1×12 for one
//   row, 2×6, 4×3 for more; 3×3 = 9 for three rows) broadcasts x[t, i] and multiplies it by V
//   vectors of P that sit together at each input: the weights stream through memory in order,
//   every loaded weight is used R times, no lane is wasted at T = 1, and 12 independent FMA chains
//   keep both FMA ports busy. The 1×12 tile is one wide block; on CPUs with AVX-512 it runs in
//   CPanel on 16-wide registers (PanelKernel), the same chains, and so do groups of 4 rows against
//   a whole wide block (4 × 12: 24 sixteen-lane accumulators) instead of four 4×3 tiles.
// - Every output y[t, o] is one float32 FMA chain over i = 0, 1, …, n−1 starting from 0, then
//   + bias[o]: the same operations in the same order for every T, tile shape, panel and thread
//   split. A sequence's results are bit-identical alone, in any batch and in any chunk of a
//   prefill, so greedy and seeded outputs cannot depend on what else the server is doing.
// - Threads split the output vectors (whole panels). With several groups of x rows, or tiles
//   narrower than a wide block, the block is walked in slices of 128–256 inputs (sliceInputs) that
//   stay in cache while every tile and group passes over them, unfinished chains parked exactly in
//   memory between slices; W is read from memory once per call, each slice requested
//   (CMemoryHints) while the one before it is computed.
//
// `mq bench linear` measures GB/s and GFLOP/s by rows against OpenBLAS (README "Performance").
//
// Reference: `linearNaive` (LinearReference.swift), tested against it; bit-identity across T is tested too.
import CMemoryHints
import CPanel
import Foundation

/// How a tile reads eight consecutive panel values (one output vector at one input) as float32.
private protocol PanelFormat: SendableMetatype {
    static var size: Int { get }
    /// The same format for CPanel's tile.
    static var panel: mq_panel_format { get }
    static func load8(_ p: UnsafeRawPointer) -> SIMD8<Float>
}

private enum F32Panel: PanelFormat {
    static var size: Int { 4 }
    static var panel: mq_panel_format { MQ_PANEL_F32 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer) -> SIMD8<Float> { p.loadUnaligned(as: SIMD8<Float>.self) }
}

/// IEEE half: widened by the F16C conversion (vcvtph2ps), exact.
private enum F16Panel: PanelFormat {
    static var size: Int { 2 }
    static var panel: mq_panel_format { MQ_PANEL_F16 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer) -> SIMD8<Float> { SIMD8<Float>(p.loadUnaligned(as: SIMD8<Float16>.self)) }
}

/// bfloat16: the upper half of a float32, widened by a shift, exact.
private enum BF16Panel: PanelFormat {
    static var size: Int { 2 }
    static var panel: mq_panel_format { MQ_PANEL_BF16 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer) -> SIMD8<Float> {
        unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: p.loadUnaligned(as: SIMD8<UInt16>.self)) &<< 16, to: SIMD8<Float>.self)
    }
}

/// Which code runs the batch-1 tile: the Swift tile on 8-wide AVX2 registers, or CPanel's on
/// 16-wide AVX-512 ones (6 loads and FMAs per input instead of 12). Both compute the same chains,
/// so they give the same bits; the widest this CPU runs is the default.
public enum PanelKernel: Int, Sendable, CaseIterable, CustomStringConvertible {
    case avx2 = 0, avx512 = 1

    /// Whether this CPU runs it.
    public var isSupported: Bool { self == .avx2 || mq_panel_avx512_supported() != 0 }
    /// The widest this CPU runs.
    public static let best: PanelKernel = allCases.last { $0.isSupported } ?? .avx2
    /// Every kernel this CPU runs (tests compare them).
    public static var supported: [PanelKernel] { allCases.filter(\.isSupported) }

    public var description: String { self == .avx2 ? "AVX2" : "AVX-512" }
}

public enum PackedLinear {
    /// Inputs per slice of 2-byte panels when 4 or more groups of rows share a wide block's slice
    /// (12 panels × 256 × 16 B = 48 KiB; each tile's 3 vectors widened to a 24 KiB float32 copy in
    /// L1); half as many with fewer groups (the slice and the copy then fit L1 together: steps of
    /// 8 sequences with 1,024 tokens of context took 1.10× the narrow-block layout's time with 256,
    /// 0.99–1.00× with 128, while 16 sequences took 1.06–1.11× with 128), and float32 panels half
    /// of either (the same bytes). With narrow blocks of 3, 128 and 64 measured 3–6% slower at 16
    /// rows than 256 (more tile entries and parked accumulators); 384 and 768 within 2%.
    static let sliceInputs = 256
    /// Inputs per slice for the AVX-512 4 × 12 tile, any format (F32: 96 KiB of a wide block, in L2
    /// while every group of 4 rows passes over it; each pass reloads its 24 accumulators).
    static let wideSliceInputs = 256
    /// Parts per thread of a product with ≥ 4 rows. On the 2-vCPU VM this was tuned on, one vCPU
    /// sustains ~62 GFLOP/s of FMA and the other ~91 (measured alone), so an even split left the
    /// fast one idle at every join: batch-16 decode steps of tiny_starcoder went from 70–81 to
    /// 62–67 ms with 6–12 parts per thread (interleaved runs; 3 was between). A batch
    /// of one got slower when split the same way, hence only for ≥ 4 rows.
    static let partsPerThread = 8
    /// Parts per thread of a product with 1–3 rows (memory-paced): two, so a thread that falls
    /// behind (descheduled, or on the slower vCPU) leaves a quarter of the product, not half, for
    /// the other to take; more parts cut the streams too short (4 measured slower).
    static let memoryPacedPartsPerThread = 2
}

/// y[T, OUT] = x[T, IN] · W[OUT, IN]ᵀ + bias[OUT]  (bias optional; y is overwritten), split over
/// `compute.threads` threads; the numbers are the same for every thread count and `kernel`.
public func linear(_ x: UnsafePointer<Float>, _ w: PackedWeight, _ bias: UnsafePointer<Float>?,
                   _ y: UnsafeMutablePointer<Float>, tokens t: Int, compute: ComputeContext, kernel: PanelKernel = .best) {
    guard t > 0, w.outFeatures > 0 else { return }
    // Tile shape by rows: R rows of x × V output vectors.
    let (r, v) = t == 1 ? (1, 12) : t == 2 ? (2, 6) : t == 3 ? (3, 3) : (4, 3)
    let a = PackedArgs(x: x, w: UnsafeRawPointer(w.p), bias: bias, y: y, t: t, n: w.inFeatures, m: w.outFeatures, r: r, v: v,
                       kernel: kernel)
    switch w.storage {
    case .f32: linear(a, w.groups, compute: compute, F32Panel.self)
    case .f16: linear(a, w.groups, compute: compute, F16Panel.self)
    case .bf16: linear(a, w.groups, compute: compute, BF16Panel.self)
    }
}

private func linear<F: PanelFormat>(_ a: PackedArgs, _ g: Int, compute: ComputeContext, _ format: F.Type) {
    let t = a.t, v = a.v, threads = compute.threads
    // Whole panels. Parts are taken by the threads as they finish (ComputeContext.parallelFor), so a
    // core that runs slower (another tenant on its sibling hyperthread, a lower clock) does less of
    // the work instead of holding the others at the join. Memory-paced products (1–3 rows) are
    // cut into a few long runs of at least one panel; arithmetic-paced ones (≥ 4 rows) into more
    // parts of at least 4 panels.
    let panels = (g + v - 1) / v
    let memoryPaced = t < 4
    let perThread = memoryPaced ? PackedLinear.memoryPacedPartsPerThread : PackedLinear.partsPerThread
    let parts = threads <= 1 ? 1 : max(1, min(threads * perThread, memoryPaced ? panels : panels / 4))
    if parts == 1 {
        packedPanels(a, 0..<g, F.self)
    } else {
        // Part p: panels p·P/parts ..< (p+1)·P/parts, so parts differ by at most one panel (rounding
        // a chunk up to whole panels instead left the last part a sliver: 3, 3, 3, 1 panels).
        compute.parallelFor(parts: parts) { p in
            let lo = p * panels / parts * v, hi = min(g, (p + 1) * panels / parts * v)
            if lo < hi { packedPanels(a, lo..<hi, F.self) }
        }
    }
}

/// Pointers shared with the threads of one call; each part writes only its own columns of y.
private struct PackedArgs: @unchecked Sendable {
    let x: UnsafePointer<Float>, w: UnsafeRawPointer, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>
    let t: Int, n: Int, m: Int, r: Int, v: Int
    let kernel: PanelKernel
    /// Panels of the matrix.
    var groups: Int { (m + 7) / 8 }
}

/// Output vector groups `groups`, in spans: a wide block of 12 panels walked by 12/V tiles, or one
/// tile of V panels (or the last few panels of the range). Within a span, slices of `kc` inputs;
/// within a slice each tile, and within a tile every group of R rows of x. Tiles narrower than the
/// wide block walk it slice by slice together, so a slice's lines (each holds all 12 panels'
/// values) come from memory once and serve every tile while they sit in cache; with several groups
/// of rows the tile's slice (V·kc·32 bytes) stays in L1 while all groups pass over it. Accumulators
/// of unfinished chains are parked in `acc` between slices (an exact float32 store and reload: the
/// chain is unchanged).
private func packedPanels<F: PanelFormat>(_ a: PackedArgs, _ groups: Range<Int>, _ format: F.Type) {
    let rowGroups = (a.t + a.r - 1) / a.r
    let wide = PanelLayout.wide, wideEnd = a.groups / wide * wide
    let tilesPerBlock = wide / a.v
    let sliced = rowGroups > 1 || a.v < wide
    let kc = !sliced ? a.n : (rowGroups >= 4 ? PackedLinear.sliceInputs : PackedLinear.sliceInputs / 2) * 2 / F.size
    // Parked accumulators (per tile of a span and group of rows), and the float32 copy of a
    // 2-byte slice (3 vectors × kc inputs).
    let parked = tilesPerBlock * rowGroups * 12
    withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: parked + (F.size != 4 && rowGroups > 1 ? 3 * kc : 0)) { scratch in
        let acc = scratch.baseAddress!, wideCopy = acc + parked
        var g = groups.lowerBound
        while g < groups.upperBound {
            let full = g + a.v <= groups.upperBound
            // A whole wide block in the range is one span of its tiles; otherwise one tile.
            let tiles = full && g % wide == 0 && g + wide <= min(groups.upperBound, wideEnd) ? tilesPerBlock : 1
            let spanEnd = full ? g + tiles * a.v : groups.upperBound
            let span = PanelLayout.origin(g, groups: a.groups, inFeatures: a.n)
            // Groups of 4 rows over a whole wide block on AVX-512: one 4 × 12 tile (CPanel) per group
            // instead of four 4 × 3 tiles, each input's weights loaded once per group.
            let wide4 = a.kernel == .avx512 && a.r == 4 && tiles == tilesPerBlock && tilesPerBlock > 1
            let sliceLength = wide4 ? PackedLinear.wideSliceInputs : kc
            var i0 = 0
            while i0 < a.n {
                let s = Slice(i0: i0, i1: min(a.n, i0 + sliceLength), first: i0 == 0, last: i0 + sliceLength >= a.n)
                // The slice the passes (a tile's group of rows) will need next (this span's next
                // inputs, or the next span's first) is requested from memory while this one is
                // computed, each pass asking for its share spread over it (see `Prefetch`); without
                // it steps of 2 and 3 sequences, whose tiles share a wide block's slices, took
                // 1.08–1.26× the time of the narrow-block layout.
                // A span's slice is one contiguous run (a whole wide block, or one narrow block); it
                // is requested as 3 runs of `nextLines` lines `nextLines · 64` bytes apart.
                var next: UnsafeRawPointer? = nil, nextLines = 0
                let passes = wide4 ? rowGroups : tiles * rowGroups
                if passes > 1 || wide4 {
                    if !s.last {
                        next = a.w + (span.base + s.i1 * span.step) * F.size
                        nextLines = ((min(a.n, s.i1 + sliceLength) - s.i1) * span.step * F.size + 191) / 192
                    } else if spanEnd + a.v <= groups.upperBound {
                        let o = PanelLayout.origin(spanEnd, groups: a.groups, inFeatures: a.n)
                        next = a.w + o.base * F.size
                        nextLines = (min(a.n, sliceLength) * o.step * F.size + 191) / 192
                    }
                }
                if wide4 {
                    // The next slice is one contiguous run of 3 · nextLines lines; each group asks for its share.
                    let w0 = a.w + (span.base + s.i0 * span.step) * F.size, shareBytes = (3 * nextLines + passes - 1) / passes * 64
                    withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 4) { xs in
                        for rg in 0..<rowGroups {
                            let t0 = rg * 4, p = acc + rg * 48
                            for k in 0..<4 { xs[k] = row(a, t0, k) }
                            if s.first { p.update(repeating: SIMD8<Float>(repeating: 0), count: 48) }
                            let from = rg * shareBytes, bytes = max(0, min(shareBytes, 3 * nextLines * 64 - from))
                            p.withMemoryRebound(to: Float.self, capacity: 384) { c in
                                mq_panel_tile4x12_avx512(Int32(F.panel.rawValue), xs.baseAddress!, w0, span.step * F.size,
                                                         Int32(s.i0), Int32(s.i1), c, bytes > 0 ? next.map { $0 + from } : nil, bytes)
                            }
                            guard s.last else { continue }
                            for k in 0..<4 { for j in 0..<12 { put(a, g + j, t0, k, p[12 * k + j]) } }
                        }
                    }
                    i0 += sliceLength
                    continue
                }
                let share = (nextLines + passes - 1) / passes
                var every = 1   // inputs between two requests: a power of two that fits the share in the pass
                while share > 0 && every * 2 * share <= s.i1 - s.i0 { every *= 2 }
                // 2-byte panels shared by several groups of rows: the first group widens the slice
                // and keeps a float32 copy in L1 that the other groups read (3 conversions per 12
                // FMAs in every group's loop cost ~25% at 16 rows; in one group of four, a quarter).
                let widen = F.size != 4 && rowGroups > 1 && full
                let copy = PanelSlice(base: UnsafeRawPointer(wideCopy), tripleStride: 0, step: PanelLayout.narrow * 32)
                for k in 0..<tiles {
                    let gk = g + k * a.v
                    let (base, step, triple) = PanelLayout.origin(gk, groups: a.groups, inFeatures: a.n)
                    let direct = PanelSlice(base: a.w + (base + s.i0 * step) * F.size, tripleStride: triple * F.size, step: step * F.size)
                    for rg in 0..<rowGroups {
                        let t0 = rg * a.r, p = acc + (k * rowGroups + rg) * 12, q = k * rowGroups + rg
                        let pf = Prefetch(start: next.map { $0 + 64 * min(nextLines, q * share) }, stride: 64 * nextLines,
                                          lines: max(0, min(share, nextLines - q * share)), mask: every - 1)
                        if full {
                            switch a.v {
                            case 12: tile1x12(a, gk, t0, s, p, direct, F.self)
                            case 6: tile2x6(a, gk, t0, s, p, direct, pf, F.self)
                            case 3 where a.r == 3: tile3x3(a, gk, t0, s, p, direct, pf, F.self)
                            default:
                                if !widen {
                                    tile4x3(a, gk, t0, s, p, direct, pf, F.self, copy: wideCopy, NoCopy.self)
                                } else if rg == 0 {
                                    tile4x3(a, gk, t0, s, p, direct, pf, F.self, copy: wideCopy, WriteCopy.self)
                                } else {
                                    tile4x3(a, gk, t0, s, p, copy, pf, F32Panel.self, copy: wideCopy, NoCopy.self)
                                }
                            }
                        } else {
                            // ≤ V − 1 leftover vectors park 4 each: sliced tails have V ≤ 6 (≤ 20 slots; the span holds 12 per tile and group, 24 at V = 6).
                            for (j, gi) in (g..<groups.upperBound).enumerated() {
                                let (vb, vs, _) = PanelLayout.origin(gi, groups: a.groups, inFeatures: a.n)
                                tile4x1(a, gi, t0, s, p + 4 * j, PanelSlice(base: a.w + (vb + s.i0 * vs) * F.size, tripleStride: 0, step: vs * F.size), F.self)
                            }
                        }
                    }
                }
                i0 += sliceLength
            }
            g = spanEnd
        }
    }
}

/// Whether a tile also keeps a float32 copy of the weights it loads (see tile4x3).
private protocol SliceCopy { static var active: Bool { get } }
private enum NoCopy: SliceCopy { static var active: Bool { false } }
private enum WriteCopy: SliceCopy { static var active: Bool { true } }

/// Inputs i0..<i1 of the chains; `first` starts them at 0, `last` finishes them into y.
private struct Slice { let i0: Int, i1: Int, first: Bool, last: Bool }

/// Cache lines a tile asks memory for while it computes: `lines` consecutive 64-byte lines of each
/// of its V weight streams from `start`, one line per stream every `mask + 1` inputs, into L2.
///
/// Why spread: a slice's weights come from memory while the first group of rows passes over it and
/// from L1 for the other groups. Asking only a fixed distance ahead of the loads (the first version:
/// 3 KiB) puts every request in the first group's pass, so memory idles while later groups compute
/// and the arithmetic waits while the first one streams; the time was close to the sum of the two.
/// Each group requesting a quarter (with 4 groups) of the next slice evenly over its pass keeps
/// memory busy the whole time. Measured at 16 rows on tiny_starcoder shapes, interleaved in one
/// process: +10–16% GFLOP/s over the fixed distance; L2 hints ≥ L1 hints (the next slice would
/// evict the current one from a 32 KiB L1).
private struct Prefetch { let start: UnsafeRawPointer?, stride: Int, lines: Int, mask: Int }

/// Where a tile is in its `Prefetch`: `step(k)` at the tile's k-th input requests the next line of
/// each of the 3 runs when one is due.
private struct PrefetchCursor {
    let pref: Prefetch
    var at: UnsafeRawPointer, left: Int

    /// `idle` stands in for the start when there is nothing to request (it is never touched).
    @inline(__always)
    init(_ pref: Prefetch, idle: UnsafeRawPointer) { self.pref = pref; at = pref.start ?? idle; left = pref.start == nil ? 0 : pref.lines }

    @inline(__always)
    mutating func step(_ k: Int) {
        if left > 0 && k & pref.mask == 0 {
            mq_prefetch_l2(at); mq_prefetch_l2(at + pref.stride); mq_prefetch_l2(at + 2 * pref.stride)
            at += 64; left -= 1
        }
    }
}

/// Where a tile reads its weights: output vector j's value for input `sl.i0 + k` at
/// `base + (j/3)·tripleStride + (j%3)·8·size + k·step` (the packed matrix itself, or a float32 copy
/// of one block's slice, interleaved the same way).
private struct PanelSlice { let base: UnsafeRawPointer, tripleStride: Int, step: Int }


/// Row `t0 + k` of x, or the group's first row when past T (its results are computed and dropped).
@inline(__always)
private func row(_ a: PackedArgs, _ t0: Int, _ k: Int) -> UnsafePointer<Float> { a.x + (t0 + k < a.t ? t0 + k : t0) * a.n }

/// y[t0 + k, 8g ..< 8g+8] = acc + bias, for a real row and the outputs that exist.
@inline(__always)
private func put(_ a: PackedArgs, _ g: Int, _ t0: Int, _ k: Int, _ acc: SIMD8<Float>) {
    guard t0 + k < a.t else { return }
    let o = 8 * g
    let dst = a.y + (t0 + k) * a.m + o
    if o + 8 <= a.m {
        var v = acc
        if let b = a.bias { v += load8(b + o) }
        UnsafeMutableRawPointer(dst).storeBytes(of: v, as: SIMD8<Float>.self)
    } else {
        for l in 0..<(a.m - o) { dst[l] = acc[l] + (a.bias?[o + l] ?? 0) }
    }
}

// The tiles. c<k><j>: row t0+k of x against output vector g+j. The loop over i is the FMA chain
// described above and must stay a single in-order chain per lane.

private func tile1x12<F: PanelFormat>(_ a: PackedArgs, _ g: Int, _ t0: Int, _ sl: Slice, _ park: UnsafeMutablePointer<SIMD8<Float>>, _ w: PanelSlice, _ format: F.Type) {
    let x0 = row(a, t0, 0)
    let z = SIMD8<Float>(repeating: 0)
    if a.kernel == .avx512 && w.tripleStride == 3 * 8 * F.size {
        // The same 12 chains on 16-wide registers (CPanel) over the wide block's one stream, run in `park`.
        if sl.first { park.update(repeating: z, count: 12) }
        park.withMemoryRebound(to: Float.self, capacity: 96) { acc in
            mq_panel_tile1x12_avx512(Int32(F.panel.rawValue), x0, w.base, w.step, Int32(sl.i0), Int32(sl.i1), acc)
        }
        guard sl.last else { return }
        for j in 0..<12 { put(a, g + j, t0, 0, park[j]) }
        return
    }
    var c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, c6 = z, c7 = z, c8 = z, c9 = z, c10 = z, c11 = z
    if !sl.first {
        c0 = park[0]; c1 = park[1]; c2 = park[2]; c3 = park[3]; c4 = park[4]; c5 = park[5]
        c6 = park[6]; c7 = park[7]; c8 = park[8]; c9 = park[9]; c10 = park[10]; c11 = park[11]
    }
    // Four triples: vector j at triple j/3, place j%3.
    let s = 8 * F.size, bs = w.tripleStride
    var p0 = w.base, p1 = w.base + bs, p2 = w.base + 2 * bs, p3 = w.base + 3 * bs
    for i in sl.i0..<sl.i1 {
        let b = SIMD8<Float>(repeating: x0[i])
        c0.addProduct(b, F.load8(p0)); c1.addProduct(b, F.load8(p0 + s)); c2.addProduct(b, F.load8(p0 + 2 * s))
        c3.addProduct(b, F.load8(p1)); c4.addProduct(b, F.load8(p1 + s)); c5.addProduct(b, F.load8(p1 + 2 * s))
        c6.addProduct(b, F.load8(p2)); c7.addProduct(b, F.load8(p2 + s)); c8.addProduct(b, F.load8(p2 + 2 * s))
        c9.addProduct(b, F.load8(p3)); c10.addProduct(b, F.load8(p3 + s)); c11.addProduct(b, F.load8(p3 + 2 * s))
        p0 += w.step; p1 += w.step; p2 += w.step; p3 += w.step
    }
    guard sl.last else {
        park[0] = c0; park[1] = c1; park[2] = c2; park[3] = c3; park[4] = c4; park[5] = c5
        park[6] = c6; park[7] = c7; park[8] = c8; park[9] = c9; park[10] = c10; park[11] = c11
        return
    }
    put(a, g, t0, 0, c0); put(a, g + 1, t0, 0, c1); put(a, g + 2, t0, 0, c2); put(a, g + 3, t0, 0, c3)
    put(a, g + 4, t0, 0, c4); put(a, g + 5, t0, 0, c5); put(a, g + 6, t0, 0, c6); put(a, g + 7, t0, 0, c7)
    put(a, g + 8, t0, 0, c8); put(a, g + 9, t0, 0, c9); put(a, g + 10, t0, 0, c10); put(a, g + 11, t0, 0, c11)
}

private func tile2x6<F: PanelFormat>(_ a: PackedArgs, _ g: Int, _ t0: Int, _ sl: Slice, _ park: UnsafeMutablePointer<SIMD8<Float>>, _ w: PanelSlice,
                                     _ pref: Prefetch, _ format: F.Type) {
    let x0 = row(a, t0, 0), x1 = row(a, t0, 1)
    let z = SIMD8<Float>(repeating: 0)
    var c00 = z, c01 = z, c02 = z, c03 = z, c04 = z, c05 = z, c10 = z, c11 = z, c12 = z, c13 = z, c14 = z, c15 = z
    if !sl.first {
        c00 = park[0]; c01 = park[1]; c02 = park[2]; c03 = park[3]; c04 = park[4]; c05 = park[5]
        c10 = park[6]; c11 = park[7]; c12 = park[8]; c13 = park[9]; c14 = park[10]; c15 = park[11]
    }
    // Two triples: vector j at triple j/3, place j%3.
    let s = 8 * F.size, step = w.step
    var p0 = w.base, p1 = w.base + w.tripleStride
    var prefetch = PrefetchCursor(pref, idle: a.w)
    for i in sl.i0..<sl.i1 {
        prefetch.step(i - sl.i0)
        let b0 = SIMD8<Float>(repeating: x0[i]), b1 = SIMD8<Float>(repeating: x1[i])
        var w = F.load8(p0); c00.addProduct(b0, w); c10.addProduct(b1, w)
        w = F.load8(p0 + s); c01.addProduct(b0, w); c11.addProduct(b1, w)
        w = F.load8(p0 + 2 * s); c02.addProduct(b0, w); c12.addProduct(b1, w)
        w = F.load8(p1); c03.addProduct(b0, w); c13.addProduct(b1, w)
        w = F.load8(p1 + s); c04.addProduct(b0, w); c14.addProduct(b1, w)
        w = F.load8(p1 + 2 * s); c05.addProduct(b0, w); c15.addProduct(b1, w)
        p0 += step; p1 += step
    }
    guard sl.last else {
        park[0] = c00; park[1] = c01; park[2] = c02; park[3] = c03; park[4] = c04; park[5] = c05
        park[6] = c10; park[7] = c11; park[8] = c12; park[9] = c13; park[10] = c14; park[11] = c15
        return
    }
    put(a, g, t0, 0, c00); put(a, g + 1, t0, 0, c01); put(a, g + 2, t0, 0, c02)
    put(a, g + 3, t0, 0, c03); put(a, g + 4, t0, 0, c04); put(a, g + 5, t0, 0, c05)
    put(a, g, t0, 1, c10); put(a, g + 1, t0, 1, c11); put(a, g + 2, t0, 1, c12)
    put(a, g + 3, t0, 1, c13); put(a, g + 4, t0, 1, c14); put(a, g + 5, t0, 1, c15)
}

/// Three rows against one block (steps of exactly three sequences; nine chains still keep both
/// FMA ports busy).
private func tile3x3<F: PanelFormat>(_ a: PackedArgs, _ g: Int, _ t0: Int, _ sl: Slice, _ park: UnsafeMutablePointer<SIMD8<Float>>, _ w: PanelSlice,
                                     _ pref: Prefetch, _ format: F.Type) {
    let x0 = row(a, t0, 0), x1 = row(a, t0, 1), x2 = row(a, t0, 2)
    let z = SIMD8<Float>(repeating: 0)
    var c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z
    if !sl.first {
        c00 = park[0]; c01 = park[1]; c02 = park[2]; c10 = park[3]; c11 = park[4]; c12 = park[5]
        c20 = park[6]; c21 = park[7]; c22 = park[8]
    }
    let s = 8 * F.size, step = w.step
    var pw = w.base
    var prefetch = PrefetchCursor(pref, idle: a.w)
    for i in sl.i0..<sl.i1 {
        prefetch.step(i - sl.i0)
        let w0 = F.load8(pw), w1 = F.load8(pw + s), w2 = F.load8(pw + 2 * s)
        var b = SIMD8<Float>(repeating: x0[i]); c00.addProduct(b, w0); c01.addProduct(b, w1); c02.addProduct(b, w2)
        b = SIMD8(repeating: x1[i]); c10.addProduct(b, w0); c11.addProduct(b, w1); c12.addProduct(b, w2)
        b = SIMD8(repeating: x2[i]); c20.addProduct(b, w0); c21.addProduct(b, w1); c22.addProduct(b, w2)
        pw += step
    }
    guard sl.last else {
        park[0] = c00; park[1] = c01; park[2] = c02; park[3] = c10; park[4] = c11; park[5] = c12
        park[6] = c20; park[7] = c21; park[8] = c22
        return
    }
    put(a, g, t0, 0, c00); put(a, g + 1, t0, 0, c01); put(a, g + 2, t0, 0, c02)
    put(a, g, t0, 1, c10); put(a, g + 1, t0, 1, c11); put(a, g + 2, t0, 1, c12)
    put(a, g, t0, 2, c20); put(a, g + 1, t0, 2, c21); put(a, g + 2, t0, 2, c22)
}

/// One block. With `C` = WriteCopy it also stores the float32 weights it loads at copy[3k + j]
/// (vector j, input sl.i0 + k; the block's own interleaving) for the other groups of rows (`copy` is
/// ignored with NoCopy).
private func tile4x3<F: PanelFormat, C: SliceCopy>(_ a: PackedArgs, _ g: Int, _ t0: Int, _ sl: Slice, _ park: UnsafeMutablePointer<SIMD8<Float>>,
                                                   _ w: PanelSlice, _ pref: Prefetch, _ format: F.Type,
                                                   copy: UnsafeMutablePointer<SIMD8<Float>>, _ policy: C.Type) {
    let x0 = row(a, t0, 0), x1 = row(a, t0, 1), x2 = row(a, t0, 2), x3 = row(a, t0, 3)
    let z = SIMD8<Float>(repeating: 0)
    var c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z
    if !sl.first {
        c00 = park[0]; c01 = park[1]; c02 = park[2]; c10 = park[3]; c11 = park[4]; c12 = park[5]
        c20 = park[6]; c21 = park[7]; c22 = park[8]; c30 = park[9]; c31 = park[10]; c32 = park[11]
    }
    let s = 8 * F.size
    var pw = w.base
    var prefetch = PrefetchCursor(pref, idle: a.w)
    for i in sl.i0..<sl.i1 {
        prefetch.step(i - sl.i0)
        // 12 accumulators + 3 weight vectors + 1 broadcast = the 16 AVX2 registers: one broadcast
        // live at a time (four would spill two accumulators to the stack and put a store-to-load
        // round trip into their chains, which halved this loop's speed).
        let w0 = F.load8(pw), w1 = F.load8(pw + s), w2 = F.load8(pw + 2 * s)
        if C.active {
            let k = i - sl.i0
            copy[3 * k] = w0; copy[3 * k + 1] = w1; copy[3 * k + 2] = w2
        }
        var b = SIMD8<Float>(repeating: x0[i]); c00.addProduct(b, w0); c01.addProduct(b, w1); c02.addProduct(b, w2)
        b = SIMD8(repeating: x1[i]); c10.addProduct(b, w0); c11.addProduct(b, w1); c12.addProduct(b, w2)
        b = SIMD8(repeating: x2[i]); c20.addProduct(b, w0); c21.addProduct(b, w1); c22.addProduct(b, w2)
        b = SIMD8(repeating: x3[i]); c30.addProduct(b, w0); c31.addProduct(b, w1); c32.addProduct(b, w2)
        pw += w.step
    }
    guard sl.last else {
        park[0] = c00; park[1] = c01; park[2] = c02; park[3] = c10; park[4] = c11; park[5] = c12
        park[6] = c20; park[7] = c21; park[8] = c22; park[9] = c30; park[10] = c31; park[11] = c32
        return
    }
    put(a, g, t0, 0, c00); put(a, g + 1, t0, 0, c01); put(a, g + 2, t0, 0, c02)
    put(a, g, t0, 1, c10); put(a, g + 1, t0, 1, c11); put(a, g + 2, t0, 1, c12)
    put(a, g, t0, 2, c20); put(a, g + 1, t0, 2, c21); put(a, g + 2, t0, 2, c22)
    put(a, g, t0, 3, c30); put(a, g + 1, t0, 3, c31); put(a, g + 2, t0, 3, c32)
}

/// The last (fewer than V) output vectors of a thread's range: one vector against R rows.
private func tile4x1<F: PanelFormat>(_ a: PackedArgs, _ g: Int, _ t0: Int, _ sl: Slice, _ park: UnsafeMutablePointer<SIMD8<Float>>, _ w: PanelSlice, _ format: F.Type) {
    let x0 = row(a, t0, 0), x1 = row(a, t0, 1), x2 = row(a, t0, 2), x3 = row(a, t0, 3)
    let z = SIMD8<Float>(repeating: 0)
    var c0 = z, c1 = z, c2 = z, c3 = z
    if !sl.first { c0 = park[0]; c1 = park[1]; c2 = park[2]; c3 = park[3] }
    var pw = w.base
    let step = w.step
    for i in sl.i0..<sl.i1 {
        let w = F.load8(pw)
        c0.addProduct(SIMD8(repeating: x0[i]), w); c1.addProduct(SIMD8(repeating: x1[i]), w)
        c2.addProduct(SIMD8(repeating: x2[i]), w); c3.addProduct(SIMD8(repeating: x3[i]), w)
        pw += step
    }
    guard sl.last else { park[0] = c0; park[1] = c1; park[2] = c2; park[3] = c3; return }
    put(a, g, t0, 0, c0)
    if a.r > 1 { put(a, g, t0, 1, c1) }
    if a.r > 2 { put(a, g, t0, 2, c2) }
    if a.r > 3 { put(a, g, t0, 3, c3) }
}
