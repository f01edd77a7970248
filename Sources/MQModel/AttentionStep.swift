// The cache side of attention, shared by every architecture: checks a step's positions against the
// cache, stores each token's key/value rows, and attends over the sequence's cached positions.
//
// Shapes: T = tokens, H = query heads, KVH = KV heads, D = head dim, KV = KVH · D.
//   qkv[T, stride]: row t = [q (H·D) | k (KV) | v (KV) | ...]   (architectures rearrange at load time)
//   out[T, H·D]
import Foundation
import MQKernels

/// One step's attention after its keys are stored: tokens in `range` use scratch `part`. Shared by
/// the two threads, which read the cache and write disjoint rows of `out`.
private struct AttendJob: @unchecked Sendable {
    let tokens: [StepToken]
    let qkv: UnsafeMutablePointer<Float>, qkvStride: Int
    let heads: Int, kvHeads: Int, headDim: Int, layer: Int
    let cache: KVCache, scale: Float
    let out: UnsafeMutablePointer<Float>
    let runs: [UnsafeMutablePointer<KVRun>]
    let scores: [UnsafeMutablePointer<Float>]   // [H, N] each

    func attend(_ range: Range<Int>, part: Int) throws {
        for t in range {
            let tok = tokens[t]
            let r = try cache.runs(sequence: tok.sequence, layer: layer, count: tok.position + 1, into: runs[part])
            attention(query: qkv + t * qkvStride, heads: heads, kvHeads: kvHeads, headDim: headDim,
                      runs: UnsafeBufferPointer(start: runs[part], count: r), scale: scale,
                      scores: scores[part], out: out + t * heads * headDim)
        }
    }
}

/// Errors thrown on the two attention threads (each writes only its own slot).
private final class ErrorSlots: @unchecked Sendable {
    private var slots: [Error?] = [nil, nil]
    private let lock = NSLock()
    func set(_ i: Int, _ e: Error) { lock.lock(); slots[i] = e; lock.unlock() }
    var first: Error? { lock.lock(); defer { lock.unlock() }; return slots.compactMap { $0 }.first }
}

enum AttentionStep {
    /// Every token's sequence must have blocks reserved up to its position, and positions of a sequence
    /// must follow its cached length without gaps (in the order the tokens appear in the step).
    static func validate(_ tokens: [StepToken], cache: KVCache, maxPositions: Int) throws {
        var next: [Int: Int] = [:]
        for tok in tokens {
            guard cache.contains(sequence: tok.sequence) else { throw ModelError.unknownSequence(tok.sequence) }
            guard tok.position >= 0 && tok.position < maxPositions else {
                throw ModelError.positionOutOfRange(sequence: tok.sequence, position: tok.position, max: maxPositions)
            }
            let cached = next[tok.sequence] ?? cache.length(of: tok.sequence)
            guard tok.position <= cached else {
                throw ModelError.positionGap(sequence: tok.sequence, position: tok.position, cached: cached)
            }
            guard tok.position < cache.reservedPositions(of: tok.sequence) else {
                throw ModelError.cacheFull(sequence: tok.sequence, neededBlocks: 1, freeBlocks: cache.freeBlockCount)
            }
            next[tok.sequence] = max(cached, tok.position + 1)
        }
    }

    /// Stores every token's key/value in the cache, then attends each token over positions 0...p of
    /// its sequence (its own key included; later tokens of the same sequence in this step are beyond
    /// p, so storing all first changes nothing). Tokens are independent once the keys are stored, so
    /// a batch splits into two halves of about equal work attended on two threads (when `compute`
    /// has two and the step reaches its `parallelAttentionWork`); each token's numbers are the same
    /// either way.
    static func run(_ tokens: [StepToken], qkv: UnsafeMutablePointer<Float>, qkvStride: Int,
                    heads h: Int, kvHeads kvh: Int, headDim d: Int, layer: Int, cache: KVCache,
                    scale: Float, work: Workspace, compute: ComputeContext, out: UnsafeMutablePointer<Float>) throws {
        let kv = kvh * d
        for (t, tok) in tokens.enumerated() {
            let row = qkv + t * qkvStride
            let k = try cache.keyRow(sequence: tok.sequence, layer: layer, position: tok.position)
            k.update(from: row + h * d, count: kv)                       // keys
            (k + cache.blockSize * kv).update(from: row + h * d + kv, count: kv)  // values
        }
        // Work ∝ attended positions; split where the first half reaches half of it.
        let total = tokens.reduce(0) { $0 + $1.position + 1 }
        var cut = tokens.count
        if tokens.count >= 2, compute.threads >= 2, total * h * d >= compute.parallelAttentionWork {
            var acc = 0
            for (t, tok) in tokens.enumerated() {
                acc += tok.position + 1
                if 2 * acc >= total { cut = max(1, min(tokens.count - 1, t + 1)); break }
            }
        }
        // Buffers are taken before any thread starts (Workspace is not thread-safe).
        let maxN = tokens.map { $0.position + 1 }.max() ?? 0
        let parts = cut == tokens.count ? 1 : 2
        let job = AttendJob(tokens: tokens, qkv: qkv, qkvStride: qkvStride, heads: h, kvHeads: kvh, headDim: d,
                            layer: layer, cache: cache, scale: scale, out: out,
                            runs: (0..<parts).map { work.runs(cache.blocksNeeded(positions: maxN), part: $0) },
                            scores: (0..<parts).map { work.floats($0 == 0 ? .scores : .scores2, h * maxN) })
        if parts == 1 {
            try job.attend(0..<tokens.count, part: 0)
            return
        }
        let failures = ErrorSlots()
        let split = cut
        compute.parallelFor(parts: 2) { part in
            do { try job.attend(part == 0 ? 0..<split : split..<job.tokens.count, part: part) } catch { failures.set(part, error) }
        }
        if let e = failures.first { throw e }
    }

    static func commitLengths(_ tokens: [StepToken], cache: KVCache) {
        for tok in tokens where tok.position + 1 > cache.length(of: tok.sequence) {
            cache.setLength(sequence: tok.sequence, tok.position + 1)
        }
    }
}
