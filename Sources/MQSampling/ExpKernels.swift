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
// fixed order (within a chunk, then chunks in order), so results are bit-identical run to run.
//
// Why scalar code: Swift's SIMD comparisons and masks compile to per-lane loops, while these plain
// loops over one Double at a time are vectorised by LLVM (vcvtps2pd, vcmppd, vfmadd on 4 lanes).
// Vectorising does not change any result: each weight is computed on its own, with no reassociation.
import Foundation

enum ExpKernel {
    /// Entries per chunk.
    static let chunkWidth = 8
    /// Weights computed per block on the stack in `sum` (1 KiB, which Swift always stack-allocates).
    static let blockSize = 128
    /// Arguments below this give weight 0 (e^-708 is just above the smallest normal Double, and a
    /// token that far below the maximum cannot change a Double sum that already holds 1).
    static let underflowArgument = -708.0

    static func chunkCount(_ count: Int) -> Int { (count + chunkWidth - 1) / chunkWidth }

    /// exp(x) for x ≤ 0 to about 1 ulp; 0 below `underflowArgument`, for -inf and for NaN.
    @inline(__always)
    static func expNonPositive(_ x: Double) -> Double {
        let valid = x >= underflowArgument   // false for NaN and -inf
        let xs = valid ? x : 0
        // x = n·ln2 + r with |r| ≤ ln2/2. Adding 1.5·2^52 rounds x·log2(e) to an integer n that sits
        // in the low mantissa bits, which become the exponent of 2^n below.
        let roundingShift = 0x1.8p52
        let kd = xs * 1.4426950408889634 + roundingShift
        let n = kd - roundingShift
        var r = xs.addingProduct(n, -0x1.62e42fefa39efp-1)   // ln 2, high part (fused: exact)
        r = r.addingProduct(n, -0x1.abc9e3b39803fp-56)        // ln 2, low part
        // Taylor series to degree 12: truncation error below 2e-16 for |r| ≤ 0.347.
        var p = 1.0 / 479001600.0
        p = (1.0 / 39916800.0).addingProduct(p, r)
        p = (1.0 / 3628800.0).addingProduct(p, r)
        p = (1.0 / 362880.0).addingProduct(p, r)
        p = (1.0 / 40320.0).addingProduct(p, r)
        p = (1.0 / 5040.0).addingProduct(p, r)
        p = (1.0 / 720.0).addingProduct(p, r)
        p = (1.0 / 120.0).addingProduct(p, r)
        p = (1.0 / 24.0).addingProduct(p, r)
        p = (1.0 / 6.0).addingProduct(p, r)
        p = 0.5.addingProduct(p, r)
        p = 1.0.addingProduct(p, r)
        p = 1.0.addingProduct(p, r)
        // 2^n: the low 12 bits of kd's pattern hold n (two's complement); shifted into the exponent
        // field, the high bits of the rounding constant fall off the top.
        let scaleBits = (kd.bitPattern &+ 1023) &<< 52
        let result = p * Double(bitPattern: scaleBits)
        return valid ? result : 0
    }

    /// out[i] = exp((values[i] - shift) · scale) for i in 0..<count.
    @inline(__always)
    static func weights(_ values: UnsafePointer<Float>, count: Int, shift: Double, scale: Double,
                        into out: UnsafeMutablePointer<Double>) {
        for i in 0..<count {
            out[i] = expNonPositive((Double(values[i]) - shift) * scale)
        }
    }

    /// The one summation order for a chunk's 8 weights, used both when building sums and when
    /// walking them.
    @inline(__always)
    static func chunkSum(_ w: UnsafePointer<Double>) -> Double {
        ((w[0] + w[4]) + (w[1] + w[5])) + ((w[2] + w[6]) + (w[3] + w[7]))
    }

    /// Chunk `c`'s weights into out[0..<8], zero past `count`.
    @inline(__always)
    static func chunkWeights(_ values: UnsafePointer<Float>, count: Int, chunk c: Int, shift: Double, scale: Double,
                             into out: UnsafeMutablePointer<Double>) {
        let start = c * chunkWidth
        let n = min(chunkWidth, count - start)
        weights(values + start, count: n, shift: shift, scale: scale, into: out)
        for lane in n..<chunkWidth { out[lane] = 0 }
    }

    /// Σ weight over `values[0..<count]`, summing chunk sums in order; stores each chunk's sum when
    /// `chunkSums` is given (it must hold chunkCount(count) entries).
    static func sum(_ values: UnsafePointer<Float>, count: Int, shift: Double, scale: Double,
                    chunkSums: UnsafeMutablePointer<Double>?) -> Double {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: blockSize) { buffer in
            let block = buffer.baseAddress!
            var total = 0.0
            var start = 0
            while start < count {
                let n = min(blockSize, count - start)
                weights(values + start, count: n, shift: shift, scale: scale, into: block)
                let chunks = chunkCount(n)
                for lane in n..<(chunks * chunkWidth) { block[lane] = 0 }
                for c in 0..<chunks {
                    let s = chunkSum(block + c * chunkWidth)
                    chunkSums?[start / chunkWidth + c] = s
                    total += s
                }
                start += n
            }
            return total
        }
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
            return withUnsafeTemporaryAllocation(of: Double.self, capacity: chunkWidth) { buffer in
                let w = buffer.baseAddress!
                chunkWeights(values, count: count, chunk: c, shift: shift, scale: scale, into: w)
                var lastPositive = 0
                for lane in 0..<chunkWidth where w[lane] > 0 {
                    running += w[lane]
                    lastPositive = lane
                    if passes(running) { return c * chunkWidth + lane }
                }
                return c * chunkWidth + lastPositive
            }
        }
        return nil
    }

    /// The last index with a positive weight, or nil when every weight is 0.
    static func lastPositive(values: UnsafePointer<Float>, count: Int, shift: Double, scale: Double,
                             chunkSums: UnsafePointer<Double>) -> Int? {
        var c = chunkCount(count) - 1
        while c >= 0 && !(chunkSums[c] > 0) { c -= 1 }
        guard c >= 0 else { return nil }
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: chunkWidth) { buffer in
            let w = buffer.baseAddress!
            chunkWeights(values, count: count, chunk: c, shift: shift, scale: scale, into: w)
            var lane = chunkWidth - 1
            while lane > 0 && !(w[lane] > 0) { lane -= 1 }
            return c * chunkWidth + lane
        }
    }

    /// Naive reference for tests: the same weights through the C library's exp, one at a time.
    static func weightsNaive(_ values: UnsafeBufferPointer<Float>, shift: Double, scale: Double) -> [Double] {
        values.map { v in
            let x = (Double(v) - shift) * scale
            return x >= underflowArgument ? Foundation.exp(x) : 0
        }
    }
}
