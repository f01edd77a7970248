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
@inlinable
public func attention(query q: UnsafePointer<Float>, heads h: Int, kvHeads kvh: Int, headDim d: Int,
                      runs: UnsafeBufferPointer<KVRun>, scale: Float,
                      scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    var n = 0
    for r in runs { n += r.count }
    let g = h / kvh
    let rowStride = kvh * d
    out.update(repeating: 0, count: h * d)
    guard n > 0 else { return }
    for kv in 0..<kvh {
        let h0 = kv * g
        // scores[h, j] = q[h] · k[j]   for the G heads sharing this KV head
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
        // out[h] = Σ_j p[h, j] · v[j]
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
