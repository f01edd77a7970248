// Softmax weights over a vocabulary row, in Double, computed in fixed-size chunks so that sampling
// can find a token from per-chunk sums without storing one weight per token.
//
// Shapes: V = entries in the row (vocabulary or candidate set), C = chunkWidth (8),
//         NC = ceil(V / C) chunks.
//   values     [V]   Float logits (already sanitised: no NaN; -inf allowed; no +inf)
//   chunkSums  [NC]  Double, chunkSums[c] = Σ weight[c·C ..< c·C + C]
//   weight[i] = exp((Double(values[i]) - shift) · scale), 0 where that is below e^-708 or -inf
//
// Why our own exp: the token a request gets must not depend on which libm the process links, so the
// weights that choose tokens come from this fixed polynomial, not from the C library. Every sum has a
// fixed order (lanes, then chunks in order), so results are bit-identical run to run.
import Foundation

enum ExpKernel {
    /// Entries per chunk: two SIMD4<Double> (one AVX2 register each).
    static let chunkWidth = 8
    /// Arguments below this give weight 0 (e^-708 is just above the smallest normal Double, and a
    /// token that far below the maximum cannot change a Double sum that already holds 1).
    static let underflowArgument = -708.0

    static func chunkCount(_ count: Int) -> Int { (count + chunkWidth - 1) / chunkWidth }

    /// exp(x) for x ≤ 0, lane-wise; about 1 ulp for x in [-708, 0], and 0 below or for -inf / NaN.
    @inline(__always)
    static func expNonPositive(_ x: SIMD4<Double>) -> SIMD4<Double> {
        let valid = x .>= SIMD4(repeating: underflowArgument)   // false for NaN and -inf
        let xs = x.replacing(with: 0, where: .!valid)
        // x = n·ln2 + r with |r| ≤ ln2/2. Adding 1.5·2^52 rounds x·log2(e) to an integer n that sits
        // in the low mantissa bits, which become the exponent of 2^n below.
        let roundingShift = SIMD4<Double>(repeating: 0x1.8p52)
        let kd = xs * SIMD4(repeating: 1.4426950408889634) + roundingShift
        let n = kd - roundingShift
        var r = xs.addingProduct(n, SIMD4(repeating: -0x1.62e42fefa39efp-1))   // ln 2, high part
        r = r.addingProduct(n, SIMD4(repeating: -0x1.abc9e3b39803fp-56))        // ln 2, low part
        // Taylor series to degree 12: truncation error below 2e-16 for |r| ≤ 0.347.
        var p = SIMD4<Double>(repeating: 1.0 / 479001600.0)
        p = SIMD4(repeating: 1.0 / 39916800.0).addingProduct(p, r)
        p = SIMD4(repeating: 1.0 / 3628800.0).addingProduct(p, r)
        p = SIMD4(repeating: 1.0 / 362880.0).addingProduct(p, r)
        p = SIMD4(repeating: 1.0 / 40320.0).addingProduct(p, r)
        p = SIMD4(repeating: 1.0 / 5040.0).addingProduct(p, r)
        p = SIMD4(repeating: 1.0 / 720.0).addingProduct(p, r)
        p = SIMD4(repeating: 1.0 / 120.0).addingProduct(p, r)
        p = SIMD4(repeating: 1.0 / 24.0).addingProduct(p, r)
        p = SIMD4(repeating: 1.0 / 6.0).addingProduct(p, r)
        p = SIMD4(repeating: 0.5).addingProduct(p, r)
        p = SIMD4(repeating: 1.0).addingProduct(p, r)
        p = SIMD4(repeating: 1.0).addingProduct(p, r)
        // 2^n: the low 12 bits of kd's pattern hold n (two's complement); shifted into the exponent
        // field, the high bits of the rounding constant fall off the top.
        let kbits = unsafeBitCast(kd, to: SIMD4<UInt64>.self)
        let scaleBits = (kbits &+ SIMD4(repeating: 1023)) &<< SIMD4(repeating: 52)
        let result = p * unsafeBitCast(scaleBits, to: SIMD4<Double>.self)
        return result.replacing(with: 0, where: .!valid)
    }

    /// The two halves of chunk `c`'s weights (lanes past `count` are 0).
    @inline(__always)
    static func chunkWeights(_ values: UnsafePointer<Float>, count: Int, chunk c: Int,
                             shift: Double, scale: Double) -> (SIMD4<Double>, SIMD4<Double>) {
        let start = c * chunkWidth
        var f: SIMD8<Float>
        if start + chunkWidth <= count {
            f = UnsafeRawPointer(values + start).loadUnaligned(as: SIMD8<Float>.self)
        } else {
            f = SIMD8(repeating: -.infinity)
            for lane in 0..<(count - start) { f[lane] = values[start + lane] }
        }
        let shiftV = SIMD4<Double>(repeating: shift), scaleV = SIMD4<Double>(repeating: scale)
        let lo = (SIMD4<Double>(f.lowHalf) - shiftV) * scaleV
        let hi = (SIMD4<Double>(f.highHalf) - shiftV) * scaleV
        return (expNonPositive(lo), expNonPositive(hi))
    }

    /// The one summation order used for a chunk, both when building sums and when walking them.
    @inline(__always)
    static func chunkSum(_ w: (SIMD4<Double>, SIMD4<Double>)) -> Double {
        let s = w.0 + w.1
        return (s[0] + s[1]) + (s[2] + s[3])
    }

    /// Σ weight over `values[0..<count]`, summing chunk sums in order; stores each chunk's sum when
    /// `chunkSums` is given (it must hold chunkCount(count) entries).
    static func sum(_ values: UnsafePointer<Float>, count: Int, shift: Double, scale: Double,
                    chunkSums: UnsafeMutablePointer<Double>?) -> Double {
        var total = 0.0
        for c in 0..<chunkCount(count) {
            let s = chunkSum(chunkWeights(values, count: count, chunk: c, shift: shift, scale: scale))
            chunkSums?[c] = s
            total += s
        }
        return total
    }

    /// The first index whose inclusive running weight passes `target` (`> target`, or `>= target`
    /// when `inclusive`), walking the chunk sums left by `sum` and recomputing only the chunk that
    /// holds the answer. Returns nil when rounding leaves the total short of `target`.
    static func locate(_ target: Double, inclusive: Bool, values: UnsafePointer<Float>, count: Int,
                       shift: Double, scale: Double, chunkSums: UnsafePointer<Double>) -> Int? {
        @inline(__always) func passes(_ x: Double) -> Bool { inclusive ? x >= target : x > target }
        var running = 0.0
        for c in 0..<chunkCount(count) {
            let s = chunkSums[c]
            guard passes(running + s) else { running += s; continue }
            // The answer is in this chunk. In-chunk rounding can differ from the chunk sum, so fall
            // back to the chunk's last positive weight (there is one: s > 0 here).
            let w = chunkWeights(values, count: count, chunk: c, shift: shift, scale: scale)
            let lanes = SIMD8<Double>(lowHalf: w.0, highHalf: w.1)
            var lastPositive = -1
            for lane in 0..<chunkWidth where lanes[lane] > 0 {
                running += lanes[lane]
                lastPositive = lane
                if passes(running) { return c * chunkWidth + lane }
            }
            if lastPositive >= 0 { return c * chunkWidth + lastPositive }
        }
        return nil
    }

    /// The last index with a positive weight, or nil when every weight is 0.
    static func lastPositive(values: UnsafePointer<Float>, count: Int, shift: Double, scale: Double,
                             chunkSums: UnsafePointer<Double>) -> Int? {
        var c = chunkCount(count) - 1
        while c >= 0 {
            if chunkSums[c] > 0 {
                let w = chunkWeights(values, count: count, chunk: c, shift: shift, scale: scale)
                let lanes = SIMD8<Double>(lowHalf: w.0, highHalf: w.1)
                for lane in stride(from: chunkWidth - 1, through: 0, by: -1) where lanes[lane] > 0 {
                    return c * chunkWidth + lane
                }
            }
            c -= 1
        }
        return nil
    }

    /// Naive reference for tests: the same weights through the C library's exp, one at a time.
    static func weightsNaive(_ values: UnsafeBufferPointer<Float>, shift: Double, scale: Double) -> [Double] {
        values.map { v in
            let x = (Double(v) - shift) * scale
            return x >= underflowArgument ? Foundation.exp(x) : 0
        }
    }
}
