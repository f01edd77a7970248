// Shared helpers for the sampling tests: a seeded generator for test data (never the sampler's own
// draws), Double-precision references, and a shorthand for sampling from an array.
import Foundation
@testable import MQSampling

/// Reproducible test data from the shared SplitMix64.
typealias TestRNG = SplitMix64

extension SplitMix64 {
    init(_ seed: UInt64) { self.init(seed: seed) }

    /// Standard normal (Box-Muller).
    mutating func normal() -> Float {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2))
    }
    mutating func logits(_ count: Int, scale: Float = 3) -> [Float] {
        (0..<count).map { _ in normal() * scale }
    }
}

/// log softmax in Double with Foundation's exp and log, as plainly as possible.
func referenceLogSoftmax(_ logits: [Float]) -> [Double] {
    let m = Double(logits.max()!)
    let lse = m + Foundation.log(logits.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) })
    return logits.map { Double($0) - lse }
}

/// softmax((l - max) / T) in Double over the given logits.
func referenceSoftmax(_ logits: [Float], temperature: Double = 1) -> [Double] {
    let m = Double(logits.max()!)
    let w = logits.map { Foundation.exp((Double($0) - m) / temperature) }
    let z = w.reduce(0, +)
    return w.map { $0 / z }
}

/// The n best ids, ordered by logit descending, ties by id ascending (cheaper than ranking all).
func topIDs(_ logits: [Float], _ n: Int) -> [Int] {
    var best: [Int] = []
    for i in logits.indices {
        if best.count == n && !(logits[i] > logits[best[n - 1]]) { continue }
        var pos = best.count
        while pos > 0 && logits[i] > logits[best[pos - 1]] { pos -= 1 }
        best.insert(i, at: pos)
        if best.count > n { best.removeLast() }
    }
    return best
}

/// Ids ordered by logit descending, ties by id ascending.
func rankedIDs(_ logits: [Float]) -> [Int] {
    logits.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
}

extension Sampler {
    mutating func sample(_ logits: [Float], history: [Int] = []) -> SampledToken {
        logits.withUnsafeBufferPointer { sample(logits: $0, history: history) }
    }
    mutating func distribution(_ logits: [Float], history: [Int] = []) -> [TokenProbability] {
        logits.withUnsafeBufferPointer { distribution(logits: $0, history: history) }
    }
}
