// Rotary position embeddings (RoPE), GPT-NeoX style as Falcon uses them: the head vector is split
// in two halves and dimension i is rotated together with dimension i + D/2 (not adjacent pairs as
// in the original GPT-J layout). Includes the cos/sin table and a naive reference.
//
// Shapes: P = positions, D = head dim (rotated over its full length), F = D / 2 frequencies,
//         H = heads rotated at one position.
//   table cos[P, F], sin[P, F]
//   x[H, D]  one token's heads, rotated in place:
//     x'[i]     = x[i] · cos[p, i] − x[i + F] · sin[p, i]      (i < F)
//     x'[i + F] = x[i + F] · cos[p, i] + x[i] · sin[p, i]
import Foundation

/// Inverse frequencies θ^(−2i/D) for i < D/2, computed the way transformers does it in float32:
/// the exponent 2i/D is a float32 division, the power is rounded to float32, then 1/x in float32.
/// (Rounding the power once from Double matches torch's float32 `pow` in every case we checked,
/// where computing 1/θ^e entirely in Double would differ in the last bit for about a third of them.)
public func rotaryInverseFrequencies(headDim d: Int, theta: Double) -> [Float] {
    (0..<(d / 2)).map { i in
        let e = Float(2 * i) / Float(d)
        let p = Float(Foundation.pow(theta, Double(e)))
        return Float(1) / p
    }
}

/// Precomputed cos/sin of position · inverse frequency for positions 0..<P.
public struct RotaryTable: Sendable {
    public let headDim: Int          // D
    public let positions: Int        // P
    public let theta: Double
    public let inverseFrequencies: [Float]   // [F]
    public let cosines: [Float]      // [P, F]
    public let sines: [Float]        // [P, F]

    public init(headDim d: Int, theta: Double, positions p: Int) {
        precondition(d > 0 && d % 2 == 0 && p > 0, "rotary table needs an even head dim and positions")
        headDim = d; positions = p; self.theta = theta
        let inv = rotaryInverseFrequencies(headDim: d, theta: theta)
        inverseFrequencies = inv
        let f = d / 2
        var c = [Float](repeating: 0, count: p * f), s = [Float](repeating: 0, count: p * f)
        for pos in 0..<p {
            for i in 0..<f {
                // The angle is a float32 product, as in transformers (position.float() * inv_freq):
                // at position 2000 its rounding is worth ~1e-4 rad, so it must be rounded the same way.
                let angle = Float(pos) * inv[i]
                c[pos * f + i] = Float(Foundation.cos(Double(angle)))
                s[pos * f + i] = Float(Foundation.sin(Double(angle)))
            }
        }
        cosines = c; sines = s
    }

    /// cos and sin rows [F] for `position` (must be < positions), passed to `body`.
    public func withRow<R>(_ position: Int, _ body: (UnsafePointer<Float>, UnsafePointer<Float>) throws -> R) rethrows -> R {
        precondition(position >= 0 && position < positions, "rotary position out of table")
        let f = headDim / 2
        return try cosines.withUnsafeBufferPointer { c in
            try sines.withUnsafeBufferPointer { s in
                try body(c.baseAddress! + position * f, s.baseAddress! + position * f)
            }
        }
    }
}

/// Rotates `heads` consecutive head vectors x[H, D] in place by one position's cos/sin rows [D/2].
@inlinable
public func applyRotaryNeoX(_ x: UnsafeMutablePointer<Float>, heads h: Int, headDim d: Int,
                            cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
    let f = d / 2
    let f8 = f & ~7
    for head in 0..<h {
        let lo = x + head * d, hi = lo + f
        var i = 0
        while i < f8 {
            let a = UnsafeRawPointer(lo + i).loadUnaligned(as: SIMD8<Float>.self)
            let b = UnsafeRawPointer(hi + i).loadUnaligned(as: SIMD8<Float>.self)
            let c = UnsafeRawPointer(cos + i).loadUnaligned(as: SIMD8<Float>.self)
            let s = UnsafeRawPointer(sin + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(lo + i).storeBytes(of: a * c - b * s, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(hi + i).storeBytes(of: b * c + a * s, as: SIMD8<Float>.self)
            i += 8
        }
        while i < f {
            let a = lo[i], b = hi[i]
            lo[i] = a * cos[i] - b * sin[i]
            hi[i] = b * cos[i] + a * sin[i]
            i += 1
        }
    }
}

/// Reference for `applyRotaryNeoX`, written as transformers writes it: x · cos + rotate_half(x) · sin
/// with cos/sin repeated over both halves and rotate_half(x) = [−x₂, x₁]; accumulated in Double.
public func applyRotaryNeoXNaive(_ x: UnsafeMutablePointer<Float>, heads h: Int, headDim d: Int,
                                 cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
    let f = d / 2
    for head in 0..<h {
        let v = (0..<d).map { Double(x[head * d + $0]) }
        let rotated = (0..<d).map { $0 < f ? -v[$0 + f] : v[$0 - f] }
        for i in 0..<d {
            let c = Double(cos[i % f]), s = Double(sin[i % f])
            x[head * d + i] = Float(v[i] * c + rotated[i] * s)
        }
    }
}
