// The naive reference for the Q8_0 product (STYLE habit 5): quantizes W and x from their float32
// values by the definition and computes each output in the order CQ8's kernels promise, in Swift,
// from unpacked arrays. The kernels must match it bit for bit.
//
// Shapes: T = rows, IN = inputs (NB = ⌈IN/32⌉ blocks of 32, the last padded with zeros), OUT = outputs.

/// One block's Q8_0 quantization of `v` (≤ 32 values, the rest 0): d = amax/127, q = round(v/d).
public func q8QuantizeBlock(_ v: ArraySlice<Float>) -> (d: Float, q: [Int8]) {
    let amax = v.reduce(Float(0)) { max($0, abs($1)) }
    let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
    var q = [Int8](repeating: 0, count: 32)
    for (k, x) in v.enumerated() { q[k] = Int8((x * id).rounded()) }
    return (d, q)
}

/// Reference for `linearQ8`: y[T, OUT] = Σ_b fma(f16(dw[o,b])·dx[t,b], Σ_k qw·qx, ·) + bias.
public func linearQ8Naive(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                          _ y: UnsafeMutablePointer<Float>, tokens t: Int, inFeatures n: Int, outFeatures m: Int) {
    let nb = (n + 31) / 32
    func blocks(_ p: UnsafePointer<Float>) -> [(d: Float, q: [Int8])] {
        let row = Array(UnsafeBufferPointer(start: p, count: n))
        return (0..<nb).map { b in q8QuantizeBlock(row[(b * 32)..<min(n, b * 32 + 32)]) }
    }
    let wq = (0..<m).map { blocks(w + $0 * n) }
    for r in 0..<t {
        let xq = blocks(x + r * n)
        for o in 0..<m {
            var acc: Float = 0
            for b in 0..<nb {
                var s: Int32 = 0
                for k in 0..<32 { s += Int32(wq[o][b].q[k]) * Int32(xq[b].q[k]) }
                let d = Float(Float16(wq[o][b].d)) * xq[b].d
                acc = acc.addingProduct(d, Float(s))   // fma(d, s, acc), as the kernels
            }
            y[r * m + o] = acc + (bias?[o] ?? 0)
        }
    }
}
