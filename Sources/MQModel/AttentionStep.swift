// The cache side of attention, shared by every architecture: checks a step's positions against the
// cache, stores each token's key/value rows, and attends over the sequence's cached positions.
//
// Shapes: T = tokens, H = query heads, KVH = KV heads, D = head dim, KV = KVH · D.
//   qkv[T, stride]: row t = [q (H·D) | k (KV) | v (KV) | ...]   (architectures rearrange at load time)
//   out[T, H·D]
import MQKernels

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

    /// For each token in order: store its key/value in the cache, then attend over positions 0...p.
    static func run(_ tokens: [StepToken], qkv: UnsafeMutablePointer<Float>, qkvStride: Int,
                    heads h: Int, kvHeads kvh: Int, headDim d: Int, layer: Int, cache: KVCache,
                    scale: Float, work: Workspace, out: UnsafeMutablePointer<Float>) throws {
        let kv = kvh * d
        for (t, tok) in tokens.enumerated() {
            let row = qkv + t * qkvStride
            let k = try cache.keyRow(sequence: tok.sequence, layer: layer, position: tok.position)
            k.update(from: row + h * d, count: kv)                       // keys
            (k + cache.blockSize * kv).update(from: row + h * d + kv, count: kv)  // values
            let n = tok.position + 1
            let runs = work.runs(cache.blocksNeeded(positions: n))
            let r = try cache.runs(sequence: tok.sequence, layer: layer, count: n, into: runs)
            let scores = work.floats(.scores, h * n)                     // [H, N]
            attention(query: row, heads: h, kvHeads: kvh, headDim: d,
                      runs: UnsafeBufferPointer(start: runs, count: r), scale: scale,
                      scores: scores, out: out + t * h * d)
        }
    }

    static func commitLengths(_ tokens: [StepToken], cache: KVCache) {
        for tok in tokens where tok.position + 1 > cache.length(of: tok.sequence) {
            cache.setLength(sequence: tok.sequence, tok.position + 1)
        }
    }
}
