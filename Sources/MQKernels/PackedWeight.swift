// The packed layout `linear` (PackedLinear.swift) reads, kept in the precision the checkpoint
// stored (float32, F16 or BF16). Built once at load time, from float32 or straight from a
// checkpoint's bytes, on several threads.
//
// Panel g holds outputs 8g ..< 8g+8: one 8-wide load at (g, i) is W[8g ..< 8g+8, i] (rows past
// OUT are zero). Panels come in wide blocks of twelve whose inputs are interleaved,
//     B[OUT/96][IN][12][8]:  element (g, i, r) at ((g/12)·12·IN + 12i + g%12)·8 + r,
// so the batch-1 tile, which multiplies 12 panels, reads one contiguous stream (192 bytes per input
// at F16), as a row-major dot product does. The panels past the last wide block come in narrow
// blocks of three, B[·][IN][3][8], then single panels P[g][IN][8], so a tile of 3 or 6 panels
// always finds its panels' values at one input 8 weights apart, and the next three panels' at a
// fixed distance (`triple`). Why one stream: with 12 interleaved 16-byte streams per thread, F16
// products on Falcon-7B shapes reached 22–30 GB/s on two threads; four streams (blocks of three)
// ~34, one stream of 12 panels with software prefetch 34–39 in the same runs of a C model of the
// tile (the rest of the gap to llama.cpp, which streams rows, is in README "Performance").
import Foundation

/// Where panel values sit (see above).
enum PanelLayout {
    /// Panels per wide block (the batch-1 tile's 12 output vectors).
    static let wide = 12
    /// Panels per narrow block, after the last wide one.
    static let narrow = 3

    /// Panel g's element (g, i, r) at base + i·step + r (in weights from the start); panel g + 3's
    /// values at one input sit `triple` weights after panel g's when g and g + 3 lie in one tile
    /// (g a multiple of 3 in the wide or narrow region).
    @inline(__always)
    static func origin(_ g: Int, groups: Int, inFeatures n: Int) -> (base: Int, step: Int, triple: Int) {
        let wideEnd = groups / wide * wide
        if g < wideEnd { return ((g / wide) * wide * n * 8 + (g % wide) * 8, wide * 8, 3 * 8) }
        let k = g - wideEnd, narrowEnd = (groups - wideEnd) / narrow * narrow
        if k < narrowEnd { return ((wideEnd + k / narrow * narrow) * n * 8 + (k % narrow) * 8, narrow * 8, narrow * n * 8) }
        return (g * n * 8, 8, 0)
    }
}

/// A weight matrix W[OUT, IN] repacked for `linear` (panels of 8 outputs, see PanelLayout); immutable once built.
///
/// Panels keep the precision the checkpoint stored: weights that came from F16 or BF16 tensors stay
/// 2 bytes each and are widened to float32 as they are loaded into registers (both conversions are
/// exact), so a product moves half the bytes and gives bit-for-bit the numbers of the float32 panel.
public final class PackedWeight: @unchecked Sendable {
    /// How panel values are stored.
    public enum Storage: String, Sendable, CaseIterable {
        case f32, f16, bf16
        /// Bytes per weight.
        public var size: Int { self == .f32 ? 4 : 2 }

        /// `v` as this storage holds it: F16 rounds to nearest, BF16 drops the low 16 bits.
        public func stored(_ v: Float) -> Float {
            switch self {
            case .f32: return v
            case .f16: return Float(Float16(v))
            case .bf16: return Float(bitPattern: v.bitPattern & 0xFFFF_0000)
            }
        }
    }

    public let name: String
    public let outFeatures: Int
    public let inFeatures: Int
    public let storage: Storage
    let p: UnsafeMutableRawPointer
    var groups: Int { (outFeatures + 7) / 8 }

    /// Packs W[OUT, IN] (row-major). `name` is kept for error messages. `storage` is a request:
    /// when some value is not exactly representable in it (a NaN, or a float32 that did not come
    /// from that format) the panels are float32, so packing never changes a weight.
    public init(name: String, _ w: UnsafePointer<Float>, outFeatures m: Int, inFeatures n: Int, storage requested: Storage = .f32) {
        self.name = name; self.outFeatures = m; self.inFeatures = n
        var storage = requested
        if storage != .f32 {
            for i in 0..<(m * n) where !Self.representable(w[i], in: storage) { storage = .f32; break }
        }
        self.storage = storage
        let g = (m + 7) / 8
        // Cache-line aligned: with malloc's 16-byte alignment every other 32-byte load of a panel
        // straddles two cache lines.
        let count = max(1, g * n * 8)
        p = UnsafeMutableRawPointer.allocate(byteCount: count * storage.size, alignment: 64)
        switch storage {
        case .f32: Self.fill(p, m: m, n: n, zero: Float(0)) { o, i in w[o * n + i] }
        case .f16: Self.fill(p, m: m, n: n, zero: Float16(0)) { o, i in Float16(w[o * n + i]) }
        case .bf16: Self.fill(p, m: m, n: n, zero: UInt16(0)) { o, i in UInt16(truncatingIfNeeded: w[o * n + i].bitPattern >> 16) }
        }
    }

    /// Packs W[OUT, IN] stored at `bytes` in `encoding` (little-endian, any alignment), keeping that
    /// encoding bit for bit: a checkpoint's F16 / BF16 matrix is packed without a float32 copy.
    /// `threads` pack disjoint row groups at once (loading is otherwise paced by one core).
    public init(name: String, bytes: UnsafeRawPointer, encoding: Storage, outFeatures m: Int, inFeatures n: Int, threads: Int = 1) {
        self.name = name; self.outFeatures = m; self.inFeatures = n; self.storage = encoding
        let g = (m + 7) / 8, count = max(1, g * n * 8)
        p = UnsafeMutableRawPointer.allocate(byteCount: count * encoding.size, alignment: 64)
        let shared = PackSource(src: bytes, dst: p)
        let parts = max(1, min(threads, g))
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            // Whole blocks per thread (threads writing parts of one block would share cache lines).
            let cut = { (k: Int) in k == parts ? g : g * k / parts / PanelLayout.wide * PanelLayout.wide }
            let groups = cut(part)..<cut(part + 1)
            func fill<E: FixedWidthInteger>(_ zero: E) {
                Self.fill(shared.dst, m: m, n: n, groups: groups, zero: zero) { o, i in
                    E(littleEndian: shared.src.loadUnaligned(fromByteOffset: (o * n + i) * MemoryLayout<E>.size, as: E.self))
                }
            }
            if encoding == .f32 { fill(UInt32(0)) } else { fill(UInt16(0)) }
        }
    }

    /// Panel values (g, i, r) = element(8g + r, i), and `zero` for rows past OUT (only the groups in
    /// `groups`, default all), at the places PanelLayout gives.
    @inline(__always)
    private static func fill<E>(_ p: UnsafeMutableRawPointer, m: Int, n: Int, groups: Range<Int>? = nil, zero: E,
                                _ element: (_ row: Int, _ input: Int) -> E) {
        let g = (m + 7) / 8
        let dst = p.bindMemory(to: E.self, capacity: max(1, g * n * 8))
        for gi in groups ?? 0..<g {
            let full = gi * 8 + 8 <= m
            let (base, step, _) = PanelLayout.origin(gi, groups: g, inFeatures: n)
            for i in 0..<n {
                let at = dst + base + i * step
                for r in 0..<8 { at[r] = full || gi * 8 + r < m ? element(gi * 8 + r, i) : zero }
            }
        }
    }

    /// `v` survives a round trip through `storage` unchanged.
    static func representable(_ v: Float, in storage: Storage) -> Bool {
        storage == .f32 || (storage.stored(v).bitPattern == v.bitPattern && !v.isNaN)
    }

    deinit { p.deallocate() }

    /// Bytes of weights (without the zero padding) one full product reads.
    public var byteCount: Int { outFeatures * inFeatures * storage.size }

    /// W[o, i] as float32.
    @inline(__always)
    func value(_ index: Int) -> Float {
        switch storage {
        case .f32: return p.load(fromByteOffset: 4 * index, as: Float.self)
        case .f16: return Float(p.load(fromByteOffset: 2 * index, as: Float16.self))
        case .bf16: return Float(bitPattern: UInt32(p.load(fromByteOffset: 2 * index, as: UInt16.self)) << 16)
        }
    }

    /// Row `o` of the original W (length IN), e.g. a token's embedding from a tied head.
    public func copyRow(_ o: Int, into dst: UnsafeMutablePointer<Float>) {
        let (base, step, _) = PanelLayout.origin(o / 8, groups: groups, inFeatures: inFeatures)
        for i in 0..<inFeatures { dst[i] = value(base + o % 8 + i * step) }
    }

    /// The original W[OUT, IN] as an array (tests).
    public var unpacked: [Float] {
        var out = [Float](repeating: 0, count: outFeatures * inFeatures)
        out.withUnsafeMutableBufferPointer { b in
            for o in 0..<outFeatures { copyRow(o, into: b.baseAddress! + o * inFeatures) }
        }
        return out
    }
}

/// The checkpoint bytes and the panels of one packing, shared by its threads (each writes its own groups).
private struct PackSource: @unchecked Sendable { let src: UnsafeRawPointer, dst: UnsafeMutableRawPointer }
