// 8-bit weights: W[OUT, IN] quantized at load time in blocks of 32 inputs, one float16 scale per
// block and output (llama.cpp's Q8_0, 34 bytes per 32 weights: 1.0625 bytes a weight against 2 for
// F16), multiplied by activations quantized the same way, per row and block of 32 (llama.cpp's
// choice for Q8_0: d = amax/127, q = round(x/d)). The int8 dot products run in CQ8 on the widest
// integer SIMD the CPU has (AVX-512 VNNI vpdpbusd, else AVX2 vpmaddubsw/vpmaddwd, else scalar C),
// picked at run time.
//
// Shapes: T = rows, IN = inputs (NB = ⌈IN/32⌉ blocks), OUT = outputs (in groups of 16).
// Every output is one float32 chain over its blocks in order, acc = fma(wd·xd, Σ_block wq·xq, acc),
// each block's sum exact in int32, then + bias: the same numbers on every SIMD path, for every
// thread split and whatever other rows share the call (activations are quantized per row).
//
// Reference: `linearQ8Naive` (Q8Reference.swift), tested against every path this CPU has.
import CQ8
import Foundation

/// The int8 kernel a product runs on.
public enum Q8Kernel: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case scalar = 0, avx2 = 1, avx512vnni = 2

    /// Whether this CPU runs it.
    public var isSupported: Bool { mq_q8_supported(rawValue) != 0 }
    /// The widest this CPU runs.
    public static let best: Q8Kernel = allCases.last { $0.isSupported } ?? .scalar
    /// Every path this CPU runs (tests compare them all).
    public static var supported: [Q8Kernel] { allCases.filter(\.isSupported) }

    public var description: String {
        switch self {
        case .scalar: return "scalar"
        case .avx2: return "AVX2 (vpmaddubsw)"
        case .avx512vnni: return "AVX-512 VNNI (vpdpbusd)"
        }
    }
}

public enum Q8Layout {
    /// Inputs per block, outputs per packed group (fixed by CQ8's layout).
    public static let block = Int(MQ_Q8_BLOCK)
    public static let group = Int(MQ_Q8_GROUP)
    /// Parts per thread for products of ≥ 4 rows (arithmetic-paced), as PackedLinear does.
    static let partsPerThread = 8
}

/// W[OUT, IN] in Q8_0 blocks, packed in groups of 16 outputs (layout in CQ8/include/mq_q8.h).
public final class Q8Weight: @unchecked Sendable {
    public let name: String
    public let outFeatures: Int
    public let inFeatures: Int
    let blocks: Int        // NB
    let groups: Int        // ⌈OUT/16⌉
    let wq: UnsafeMutablePointer<UInt8>    // [groups][NB][512]
    let wd: UnsafeMutablePointer<UInt16>   // [groups][NB][16] float16 scales

    /// Quantizes W: `rows(g, scratch)` writes rows 16g ..< min(16g+16, OUT) of W as float32 into
    /// scratch[16][IN]. Groups are quantized in parallel over `threads`.
    init(name: String, outFeatures m: Int, inFeatures n: Int, threads: Int,
         rows: @escaping @Sendable (_ group: Int, _ scratch: UnsafeMutablePointer<Float>) -> Void) {
        self.name = name; outFeatures = m; inFeatures = n
        blocks = (n + Q8Layout.block - 1) / Q8Layout.block
        groups = (m + Q8Layout.group - 1) / Q8Layout.group
        wq = .allocate(capacity: max(1, groups * blocks * Q8Layout.block * Q8Layout.group))
        wd = .allocate(capacity: max(1, groups * blocks * Q8Layout.group))
        let (g, nb) = (groups, blocks)
        let out = Q8Pointers(wq: wq, wd: wd)
        let parts = max(1, min(threads, g))
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let lo = g * p / parts, hi = g * (p + 1) / parts
            guard lo < hi else { return }
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Q8Layout.group * max(1, n))
            defer { scratch.deallocate() }
            for gi in lo..<hi {
                rows(gi, scratch)
                mq_q8_pack_group(scratch, Int32(n), Int32(min(Q8Layout.group, m - gi * Q8Layout.group)), Int32(n),
                                 out.wq + gi * nb * 512, out.wd + gi * nb * Q8Layout.group)
            }
        }
    }

    /// Quantizes float32 W[OUT, IN] (row-major).
    public convenience init(name: String, _ w: UnsafePointer<Float>, outFeatures m: Int, inFeatures n: Int, threads: Int = 1) {
        let src = Q8Source(p: UnsafeRawPointer(w))
        self.init(name: name, outFeatures: m, inFeatures: n, threads: threads) { g, scratch in
            let r0 = g * Q8Layout.group, count = min(Q8Layout.group, m - r0) * n
            scratch.update(from: src.p.assumingMemoryBound(to: Float.self) + r0 * n, count: count)
        }
    }

    /// Quantizes W[OUT, IN] stored at `bytes` (little-endian F32, F16 or BF16, any alignment) straight
    /// from the checkpoint's mapping, 16 rows at a time: no float32 copy of the matrix is made.
    public convenience init(name: String, bytes: UnsafeRawPointer, encoding: PackedWeight.Storage,
                            outFeatures m: Int, inFeatures n: Int, threads: Int = 1) {
        let src = Q8Source(p: bytes)
        self.init(name: name, outFeatures: m, inFeatures: n, threads: threads) { g, scratch in
            let r0 = g * Q8Layout.group, count = min(Q8Layout.group, m - r0) * n
            let base = src.p + r0 * n * encoding.size
            switch encoding {
            case .f32:
                for i in 0..<count { scratch[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .f16:
                for i in 0..<count { scratch[i] = Float(Float16(bitPattern: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
            case .bf16:
                for i in 0..<count { scratch[i] = Float(bitPattern: UInt32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
            }
        }
    }

    deinit { wq.deallocate(); wd.deallocate() }

    /// W[o, i] as the product sees it: scale · int8.
    func value(_ o: Int, _ i: Int) -> Float {
        let g = o / Q8Layout.group, r = o % Q8Layout.group, b = i / Q8Layout.block, k = i % Q8Layout.block
        let q = Int(wq[(g * blocks + b) * 512 + (k / 4) * 64 + r * 4 + k % 4]) - 128
        return Float(Float16(bitPattern: wd[(g * blocks + b) * Q8Layout.group + r])) * Float(q)
    }
}

extension Q8Weight: LinearWeights {
    public var format: WeightFormat { .q8_0 }
    /// 32 int8 weights and one 2-byte scale per block.
    public var byteCount: Int { outFeatures * blocks * (Q8Layout.block + 2) }

    public func copyRow(_ o: Int, into dst: UnsafeMutablePointer<Float>) {
        for i in 0..<inFeatures { dst[i] = value(o, i) }
    }

    public func apply(_ x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>,
                      tokens t: Int, compute: ComputeContext) {
        linearQ8(x, self, bias, y, tokens: t, compute: compute, kernel: .best)
    }
}

/// Raw pointers handed to the worker threads: each part writes only its own groups.
private struct Q8Pointers: @unchecked Sendable { let wq: UnsafeMutablePointer<UInt8>, wd: UnsafeMutablePointer<UInt16> }
private struct Q8Source: @unchecked Sendable { let p: UnsafeRawPointer }
private struct Q8Args: @unchecked Sendable {
    let xq: UnsafePointer<Int8>, xd: UnsafePointer<Float>, xs: UnsafePointer<Int32>
    let w: Q8Weight, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, t: Int
}

/// y[T, OUT] = quantize(x)[T, IN] · Wᵀ + bias on `kernel`, split over `compute.threads` threads by
/// output groups (the same parallel-for as PackedLinear's products); numbers independent of both.
public func linearQ8(_ x: UnsafePointer<Float>, _ w: Q8Weight, _ bias: UnsafePointer<Float>?,
                     _ y: UnsafeMutablePointer<Float>, tokens t: Int, compute: ComputeContext, kernel: Q8Kernel) {
    guard t > 0, w.outFeatures > 0 else { return }
    let nb = w.blocks, n = w.inFeatures
    // Quantized activations: xq[T][NB·32], xd[T][NB], xs[T][NB].
    withUnsafeTemporaryAllocation(of: Int8.self, capacity: t * nb * Q8Layout.block) { xq in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: t * nb) { xd in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: t * nb) { xs in
                for r in 0..<t {
                    mq_q8_quantize_row(x + r * n, Int32(n), xq.baseAddress! + r * nb * Q8Layout.block,
                                       xd.baseAddress! + r * nb, xs.baseAddress! + r * nb)
                }
                let a = Q8Args(xq: xq.baseAddress!, xd: xd.baseAddress!, xs: xs.baseAddress!, w: w, bias: bias, y: y, t: t)
                let g = w.groups
                // Parts of whole quads of groups (the widest one-row tile is 4 groups), differing by
                // at most one quad, taken by the threads as they come free (ComputeContext.parallelFor);
                // as in PackedLinear, memory-paced products (1–3 rows) in a few long runs, ≥ 4 rows
                // cut finer so a slower core takes fewer parts.
                let quads = (g + 3) / 4
                let memoryPaced = t < 4
                let perThread = memoryPaced ? PackedLinear.memoryPacedPartsPerThread : Q8Layout.partsPerThread
                let parts = compute.threads <= 1 ? 1 : max(1, min(compute.threads * perThread, memoryPaced ? quads : g / 4))
                if parts == 1 {
                    q8Groups(a, 0..<g, kernel)
                } else {
                    compute.parallelFor(parts: parts) { p in
                        let lo = p * quads / parts * 4, hi = min(g, (p + 1) * quads / parts * 4)
                        if lo < hi { q8Groups(a, lo..<hi, kernel) }
                    }
                }
            }
        }
    }
}

private func q8Groups(_ a: Q8Args, _ groups: Range<Int>, _ kernel: Q8Kernel) {
    mq_q8_gemm(kernel.rawValue, a.xq, a.xd, a.xs, Int32(a.t), Int32(a.w.blocks), a.w.wq, a.w.wd,
               Int32(groups.lowerBound), Int32(groups.upperBound), Int32(a.w.outFeatures), a.bias, a.y)
}
