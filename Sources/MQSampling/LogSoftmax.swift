// Log probabilities under the model's own distribution: softmax at temperature 1 over the raw
// logits, with nothing else applied. This is what a token's reported logprob means.
//
// Shapes: V = logits.count.
// Non-finite logits: NaN counts as -inf (probability 0); -inf is probability 0. If some logits are
// +inf, the distribution is uniform over those (the limit of softmax) and every other token gets
// -inf. If every logit is -inf or NaN (or there are none), no distribution exists and every token's
// logprob is reported as -inf.
import Foundation

/// log softmax(logits)[index], computed with the maximum subtracted and the sum in Double.
/// An index outside the row gets -inf.
public func logSoftmaxValue(logits: UnsafeBufferPointer<Float>, index: Int) -> Float {
    guard logits.indices.contains(index) else { return -.infinity }
    return LogNormalizer(logits).logprob(logits[index])
}

/// The normaliser of one raw logit row, computed once per row and reused for every token asked about.
struct LogNormalizer {
    enum Kind {
        /// Largest logit is finite: logprob(x) = x - max - log Σ exp(l - max).
        case finite(max: Double, logSum: Double)
        /// `count` logits are +inf and share all the probability.
        case infinite(count: Int)
        /// Every logit is -inf or NaN.
        case none
    }
    let kind: Kind

    init(_ logits: UnsafeBufferPointer<Float>) {
        guard let base = logits.baseAddress, !logits.isEmpty else { kind = .none; return }
        let maxValue = maxIgnoringNaN(logits)
        if maxValue == .infinity {
            kind = .infinite(count: logits.reduce(0) { $0 + ($1 == .infinity ? 1 : 0) })
        } else if maxValue == -.infinity {
            kind = .none
        } else {
            let shift = Double(maxValue)
            // The largest logit contributes exactly 1, so the sum is ≥ 1 and its log is finite.
            let total = ExpKernel.sum(base, count: logits.count, shift: shift, scale: 1, chunkSums: nil)
            kind = .finite(max: shift, logSum: Foundation.log(total))
        }
    }

    func logprob(_ logit: Float) -> Float {
        guard !logit.isNaN else { return -.infinity }
        switch kind {
        case .finite(let maxValue, let logSum):
            return Float(Double(logit) - maxValue - logSum)
        case .infinite(let count):
            return logit == .infinity ? Float(-Foundation.log(Double(count))) : -.infinity
        case .none:
            return -.infinity
        }
    }
}

/// The largest value in `values`, ignoring NaN; -inf when there is none.
/// Floats are compared as order-preserving Int32 keys, because an integer max reduction vectorises
/// and a Float one (with NaN to skip) does not.
func maxIgnoringNaN(_ values: UnsafeBufferPointer<Float>) -> Float {
    @inline(__always) func key(_ v: Float) -> Int32 {
        let bits = Int32(bitPattern: v.bitPattern)
        return bits < 0 ? bits ^ Int32.max : bits   // negative floats: larger magnitude, smaller key
    }
    let negativeInfinityKey = key(-.infinity)
    var best = negativeInfinityKey
    for v in values {
        let k = v.isNaN ? negativeInfinityKey : key(v)
        best = k > best ? k : best
    }
    return Float(bitPattern: UInt32(bitPattern: best < 0 ? best ^ Int32.max : best))
}
