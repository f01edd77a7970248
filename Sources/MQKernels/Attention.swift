// Causal attention of one query token over a sequence's cached keys and values, for any number of
// KV heads: multi-query (KVH = 1), grouped (KVH = g) and multi-head (KVH = H) are one kernel.
//
// Shapes: H = query heads, KVH = key/value heads, D = head dim, G = H / KVH (query heads per KV head),
//         N = context length (cached positions, including the current token's own key/value).
//   q      [H, D]         the query token
//   keys   [N, KVH, D]    in runs of contiguous positions (a paged cache gives one run per block)
//   values [N, KVH, D]
//   scores [H, N]         scratch
//   out    [H, D]
import Foundation

// Each cached key/value row is loaded once and used by all G query heads that share it: that reuse
// is why multi-query attention moves G times fewer cache bytes per step than multi-head attention.

/// A run of consecutive cached positions: `count` rows of KVH·D floats each, for keys and for values.
public struct KVRun {
    public var keys: UnsafePointer<Float>
    public var values: UnsafePointer<Float>
    public var count: Int
    public init(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, count: Int) {
        self.keys = keys; self.values = values; self.count = count
    }
}

@inlinable
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(repeating: 0), acc1 = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 16 <= n {
        acc0.addProduct(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self),
                        UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self))
        acc1.addProduct(UnsafeRawPointer(a + i + 8).loadUnaligned(as: SIMD8<Float>.self),
                        UnsafeRawPointer(b + i + 8).loadUnaligned(as: SIMD8<Float>.self))
        i += 16
    }
    if i + 8 <= n {
        acc0.addProduct(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self),
                        UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self))
        i += 8
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// y[n] += alpha · x[n]
@inlinable
func axpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) {
    let a8 = SIMD8<Float>(repeating: alpha)
    var i = 0
    while i + 8 <= n {
        var yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
        yv.addProduct(a8, UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
        UnsafeMutableRawPointer(y + i).storeBytes(of: yv, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}

/// out[H, D] = softmax(q · Kᵀ · scale) · V over all cached positions (the caller passes exactly the
/// positions the token may attend to, which makes it causal).
///
/// For D a multiple of 16 (64 and 128 in every model here) the loops are arranged for the registers:
/// scores four positions at a time per head (four independent dot products in flight instead of
/// one short chain), and each head's output accumulated over all positions in registers, 64 values at
/// a time, instead of loading and storing out[h] once per position. Every number is computed in the
/// same order as the plain loops (`dot`, then `axpy` position by position), so results are identical;
/// other D take the plain loops.
@inlinable
public func attention(query q: UnsafePointer<Float>, heads h: Int, kvHeads kvh: Int, headDim d: Int,
                      runs: UnsafeBufferPointer<KVRun>, scale: Float,
                      scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    var n = 0
    for r in runs { n += r.count }
    let g = h / kvh
    let rowStride = kvh * d
    guard n > 0 else { out.update(repeating: 0, count: h * d); return }
    guard d % 16 == 0 else {
        attentionPlain(query: q, heads: h, kvHeads: kvh, headDim: d, runs: runs, n: n, scale: scale, scores: scores, out: out)
        return
    }
    for kv in 0..<kvh {
        let h0 = kv * g
        // scores[h, j] = q[h] · k[j] · scale   for the G heads sharing this KV head
        var pos = 0
        for run in runs {
            let keys = run.keys + kv * d
            var j = 0
            while j + 4 <= run.count {
                let k0 = keys + j * rowStride, k1 = k0 + rowStride, k2 = k1 + rowStride, k3 = k2 + rowStride
                for hh in h0..<(h0 + g) {
                    let s = dot4(q + hh * d, k0, k1, k2, k3, d)
                    let row = scores + hh * n + pos + j
                    row[0] = s.0 * scale; row[1] = s.1 * scale; row[2] = s.2 * scale; row[3] = s.3 * scale
                }
                j += 4
            }
            while j < run.count {
                for hh in h0..<(h0 + g) { scores[hh * n + pos + j] = dot(q + hh * d, keys + j * rowStride, d) * scale }
                j += 1
            }
            pos += run.count
        }
        for hh in h0..<(h0 + g) { softmax(scores + hh * n, count: n) }
        // out[h] = Σ_j p[h, j] · v[j], 64 dims at a time in eight registers
        for hh in h0..<(h0 + g) {
            let p = scores + hh * n
            var c = 0
            while c < d {
                if d - c >= 64 {
                    weightedSum64(p, runs: runs, offset: kv * d + c, rowStride: rowStride, out: out + hh * d + c)
                    c += 64
                } else {
                    weightedSum8(p, runs: runs, offset: kv * d + c, rowStride: rowStride, out: out + hh * d + c)
                    c += 8
                }
            }
        }
    }
}

@usableFromInline @inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

/// `dot(a, kᵢ, n)` for four k rows at once, with `dot`'s exact order (n a multiple of 16).
@inlinable @inline(__always)
func dot4(_ a: UnsafePointer<Float>, _ k0: UnsafePointer<Float>, _ k1: UnsafePointer<Float>,
          _ k2: UnsafePointer<Float>, _ k3: UnsafePointer<Float>, _ n: Int) -> (Float, Float, Float, Float) {
    let z = SIMD8<Float>(repeating: 0)
    var a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z
    var i = 0
    while i < n {
        let qa = load8(a + i), qb = load8(a + i + 8)
        a0.addProduct(qa, load8(k0 + i)); b0.addProduct(qb, load8(k0 + i + 8))
        a1.addProduct(qa, load8(k1 + i)); b1.addProduct(qb, load8(k1 + i + 8))
        a2.addProduct(qa, load8(k2 + i)); b2.addProduct(qb, load8(k2 + i + 8))
        a3.addProduct(qa, load8(k3 + i)); b3.addProduct(qb, load8(k3 + i + 8))
        i += 16
    }
    return ((a0 + b0).sum(), (a1 + b1).sum(), (a2 + b2).sum(), (a3 + b3).sum())
}

/// out[0..<64] = Σ_j p[j] · v[j][offset ..< offset+64], in position order (what `axpy` per position gives).
@inlinable
func weightedSum64(_ p: UnsafePointer<Float>, runs: UnsafeBufferPointer<KVRun>, offset: Int, rowStride: Int,
                   out: UnsafeMutablePointer<Float>) {
    let z = SIMD8<Float>(repeating: 0)
    var c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, c6 = z, c7 = z
    var pos = 0
    for run in runs {
        var v = run.values + offset
        for _ in 0..<run.count {
            let b = SIMD8<Float>(repeating: p[pos])
            c0.addProduct(b, load8(v)); c1.addProduct(b, load8(v + 8)); c2.addProduct(b, load8(v + 16)); c3.addProduct(b, load8(v + 24))
            c4.addProduct(b, load8(v + 32)); c5.addProduct(b, load8(v + 40)); c6.addProduct(b, load8(v + 48)); c7.addProduct(b, load8(v + 56))
            v += rowStride; pos += 1
        }
    }
    let o = UnsafeMutableRawPointer(out)
    o.storeBytes(of: c0, toByteOffset: 0, as: SIMD8<Float>.self); o.storeBytes(of: c1, toByteOffset: 32, as: SIMD8<Float>.self)
    o.storeBytes(of: c2, toByteOffset: 64, as: SIMD8<Float>.self); o.storeBytes(of: c3, toByteOffset: 96, as: SIMD8<Float>.self)
    o.storeBytes(of: c4, toByteOffset: 128, as: SIMD8<Float>.self); o.storeBytes(of: c5, toByteOffset: 160, as: SIMD8<Float>.self)
    o.storeBytes(of: c6, toByteOffset: 192, as: SIMD8<Float>.self); o.storeBytes(of: c7, toByteOffset: 224, as: SIMD8<Float>.self)
}

/// `weightedSum64` for 8 values.
@inlinable
func weightedSum8(_ p: UnsafePointer<Float>, runs: UnsafeBufferPointer<KVRun>, offset: Int, rowStride: Int,
                  out: UnsafeMutablePointer<Float>) {
    var c = SIMD8<Float>(repeating: 0)
    var pos = 0
    for run in runs {
        var v = run.values + offset
        for _ in 0..<run.count { c.addProduct(SIMD8<Float>(repeating: p[pos]), load8(v)); v += rowStride; pos += 1 }
    }
    UnsafeMutableRawPointer(out).storeBytes(of: c, as: SIMD8<Float>.self)
}

/// The plain loops: one dot product per (head, position), then out[h] += p · v position by position.
@inlinable
public func attentionPlain(query q: UnsafePointer<Float>, heads h: Int, kvHeads kvh: Int, headDim d: Int,
                    runs: UnsafeBufferPointer<KVRun>, n: Int, scale: Float,
                    scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    let g = h / kvh
    let rowStride = kvh * d
    out.update(repeating: 0, count: h * d)
    for kv in 0..<kvh {
        let h0 = kv * g
        var pos = 0
        for run in runs {
            var k = run.keys + kv * d
            for _ in 0..<run.count {
                for hh in h0..<(h0 + g) {
                    scores[hh * n + pos] = dot(q + hh * d, k, d) * scale
                }
                k += rowStride; pos += 1
            }
        }
        for hh in h0..<(h0 + g) { softmax(scores + hh * n, count: n) }
        pos = 0
        for run in runs {
            var v = run.values + kv * d
            for _ in 0..<run.count {
                for hh in h0..<(h0 + g) {
                    axpy(out + hh * d, scores[hh * n + pos], v, d)
                }
                v += rowStride; pos += 1
            }
        }
    }
}

/// Reference for `attention`: per query head, gather its KV head's rows and apply the definition in Double.
public func attentionNaive(query q: UnsafePointer<Float>, heads h: Int, kvHeads kvh: Int, headDim d: Int,
                           runs: UnsafeBufferPointer<KVRun>, scale: Float,
                           scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    var keys: [UnsafePointer<Float>] = [], values: [UnsafePointer<Float>] = []
    for r in runs {
        for j in 0..<r.count { keys.append(r.keys + j * kvh * d); values.append(r.values + j * kvh * d) }
    }
    let g = h / kvh
    for head in 0..<h {
        let kv = head / g
        var s = [Double](repeating: 0, count: keys.count)
        for j in 0..<keys.count {
            var acc = 0.0
            for i in 0..<d { acc += Double(q[head * d + i]) * Double(keys[j][kv * d + i]) }
            s[j] = acc * Double(scale)
        }
        let mx = s.max() ?? 0
        let e = s.map { _exp($0 - mx) }
        let total = e.reduce(0, +)
        for i in 0..<d {
            var acc = 0.0
            for j in 0..<keys.count { acc += e[j] / total * Double(values[j][kv * d + i]) }
            out[head * d + i] = Float(acc)
        }
    }
}

@usableFromInline func _exp(_ x: Double) -> Double { exp(x) }
