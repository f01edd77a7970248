// Layer norm, GELU (tanh and erf forms), softmax and residual adds over unsafe buffers, each with
// a naive reference of the same signature (tests compare them).
//
// Shapes: T = tokens, C = channels (hidden size). Rows are contiguous: x[T, C].
import Foundation

/// y[T, C] = (x - mean) / sqrt(var + eps) * gamma + beta, per row. y may alias x.
@inlinable
public func layerNorm(_ x: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>?,
                      _ y: UnsafeMutablePointer<Float>, tokens t: Int, channels c: Int, eps: Float) {
    let c8 = c & ~7
    for r in 0..<t {
        let xr = x + r * c, yr = y + r * c
        // Two passes (mean, then centred variance) like PyTorch, rather than E[x²] - E[x]²,
        // which loses precision when the mean is large.
        var s = SIMD8<Float>(repeating: 0)
        var i = 0
        while i < c8 { s += UnsafeRawPointer(xr + i).loadUnaligned(as: SIMD8<Float>.self); i += 8 }
        var sum = s.sum()
        while i < c { sum += xr[i]; i += 1 }
        let mean = sum / Float(c)
        var v = SIMD8<Float>(repeating: 0)
        let m8 = SIMD8<Float>(repeating: mean)
        i = 0
        while i < c8 {
            let d = UnsafeRawPointer(xr + i).loadUnaligned(as: SIMD8<Float>.self) - m8
            v.addProduct(d, d); i += 8
        }
        var varSum = v.sum()
        while i < c { let d = xr[i] - mean; varSum += d * d; i += 1 }
        let inv = 1 / (varSum / Float(c) + eps).squareRoot()
        let inv8 = SIMD8<Float>(repeating: inv)
        i = 0
        while i < c8 {
            let xv = UnsafeRawPointer(xr + i).loadUnaligned(as: SIMD8<Float>.self)
            let g = UnsafeRawPointer(gamma + i).loadUnaligned(as: SIMD8<Float>.self)
            var o = (xv - m8) * inv8 * g
            if let beta { o += UnsafeRawPointer(beta + i).loadUnaligned(as: SIMD8<Float>.self) }
            UnsafeMutableRawPointer(yr + i).storeBytes(of: o, as: SIMD8<Float>.self)
            i += 8
        }
        while i < c {
            yr[i] = (xr[i] - mean) * inv * gamma[i] + (beta?[i] ?? 0)
            i += 1
        }
    }
}

public func layerNormNaive(_ x: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>?,
                           _ y: UnsafeMutablePointer<Float>, tokens t: Int, channels c: Int, eps: Float) {
    for r in 0..<t {
        var mean = 0.0
        for i in 0..<c { mean += Double(x[r * c + i]) }
        mean /= Double(c)
        var v = 0.0
        for i in 0..<c { let d = Double(x[r * c + i]) - mean; v += d * d }
        let inv = 1 / (v / Double(c) + Double(eps)).squareRoot()
        for i in 0..<c {
            y[r * c + i] = Float((Double(x[r * c + i]) - mean) * inv * Double(gamma[i]) + Double(beta?[i] ?? 0))
        }
    }
}

/// GELU, tanh approximation (`gelu_pytorch_tanh`, `gelu_new`), in place over n values.
@inlinable
/// gelu_pytorch_tanh: 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))), computed as the equal
/// v / (1 + exp(−2y)) with a vectorized exp (a per-element libm tanhf cost ~15% of a batched step).
public func geluTanh(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    let k0: Float = 0.7978845608028654  // sqrt(2/pi)
    let k1: Float = 0.044715
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        let y = k0 * (v + k1 * v * v * v)
        let r = v / (1 + exp8(-2 * y))
        UnsafeMutableRawPointer(x + i).storeBytes(of: r, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        let v = x[i]
        let y = k0 * (v + k1 * v * v * v)
        x[i] = v / (1 + expf(min(88, -2 * y)))
        i += 1
    }
}

/// e^x for 8 lanes (Cephes expf scheme: x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial for e^r,
/// 2^n built in the exponent bits); within ~2 ulp of expf. Inputs are clamped to [−87, 88] so
/// 2^n stays a normal float (e^−87 ≈ 1.6e−38; callers here only need the limits, not ±inf).
@inline(__always)
public func exp8(_ xIn: SIMD8<Float>) -> SIMD8<Float> {
    var x = xIn
    x.replace(with: -87, where: x .< -87)
    x.replace(with: 88, where: x .> 88)
    // n = round(x / ln 2) through the 1.5·2^23 trick: t's low mantissa bits hold n exactly.
    let magic: Float = 12_582_912
    let t = x * 1.44269504088896341 + magic
    let nf = t - magic
    var r = x - nf * 0.693359375          // ln 2 split in two so r is exact
    r = r + nf * 2.12194440e-4
    var p = SIMD8<Float>(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * (r * r) + r + 1
    let nBits = unsafeBitCast(t, to: SIMD8<UInt32>.self) &- magic.bitPattern
    let scale = unsafeBitCast((nBits &<< 23) &+ Float(1).bitPattern, to: SIMD8<Float>.self)
    return p * scale
}

public func geluTanhNaive(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n {
        let v = Double(x[i])
        x[i] = Float(0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v))))
    }
}

/// GELU, exact erf form (PyTorch's default `gelu`, Falcon), in place.
@inlinable
public func geluErf(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    let r: Float = 0.7071067811865476  // 1/sqrt(2)
    for i in 0..<n {
        let v = x[i]
        x[i] = 0.5 * v * (1 + erff(v * r))
    }
}

public func geluErfNaive(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n {
        let v = Double(x[i])
        x[i] = Float(0.5 * v * (1 + erf(v / 2.0.squareRoot())))
    }
}

/// In-place softmax over n values; returns nothing. -inf entries get probability 0.
@inlinable
public func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    guard n > 0 else { return }
    var mx = -Float.infinity
    for i in 0..<n where x[i] > mx { mx = x[i] }
    var sum: Float = 0
    for i in 0..<n { let e = expf(x[i] - mx); x[i] = e; sum += e }
    let inv = 1 / sum
    for i in 0..<n { x[i] *= inv }
}

public func softmaxNaive(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    guard n > 0 else { return }
    var mx = -Double.infinity
    for i in 0..<n { mx = max(mx, Double(x[i])) }
    var sum = 0.0
    for i in 0..<n { sum += exp(Double(x[i]) - mx) }
    for i in 0..<n { x[i] = Float(exp(Double(x[i]) - mx) / sum) }
}

/// y[i] += x[i] for n values (residual connections).
@inlinable
public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int) {
    let n8 = n & ~7
    var i = 0
    while i < n8 {
        let a = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
        let b = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: a + b, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { y[i] += x[i]; i += 1 }
}
