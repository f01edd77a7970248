// The per-sequence token sampler: raw logits in, one token id (plus its logprob) out.
//
// Shapes: V = vocabSize, K = candidates left after top-k / top-p (K ≤ V), NC = ceil(V / 8).
//   logits     [V]   raw next-token logits from the model (Float)
//   work       [V]   processed logits by token id, later reused for the K candidates' logits
//   keys       [V]   RankedKey of each candidate (top-k / top-p only)
//   chunkSums  [NC]  Double softmax weight per chunk of 8 candidates (sampling only)
//   histogram  [2048] radix-select counters (top-k with large k only)
//
// Order of operations is Hugging Face's: repetition penalty → temperature → top-k → top-p →
// draw from the renormalised distribution. Temperature is applied inside the Double weight
// computation, exp((l - max) / T), rather than by dividing Float logits, so a tiny T cannot
// overflow logits to +inf; it preserves order, so top-k picks the same tokens either way.
//
// Determinism: the chosen token is a function of (parameters, step, logits, history) alone. The
// draw comes from Philox keyed by (seed, step); every sum runs in a fixed order; the weights come
// from our own exp (ExpKernels.swift), not libm; candidate ranking has no ties (RankedKeys.swift).
// (libm's log is used only for the reported logprobs, never for the choice.)
//
// Non-finite logits never trap: NaN is treated as -inf (probability 0); -inf is allowed; if some
// processed logits are +inf the draw is uniform over them. If no token has a processed logit above
// -inf, the sampler returns the raw argmax, or token 0 if every raw logit is -inf or NaN (its
// logprob is then -inf). Logits beyond `logits.count` (a short row) count as -inf; entries past
// vocabSize are ignored; history ids outside 0..<vocabSize are ignored.

/// One token and its log probability under the model's raw distribution.
public struct TokenLogprob: Sendable, Equatable, Hashable, Codable {
    public var id: Int
    public var logprob: Float
    public init(id: Int, logprob: Float) { self.id = id; self.logprob = logprob }
}

/// What the sampler chose for one step.
public struct SampledToken: Sendable, Equatable {
    public var id: Int
    /// log p(id) under softmax of the raw logits at temperature 1: no penalty, temperature or
    /// truncation. -inf when the token is impossible under that distribution.
    public var logprob: Float
    /// The `topLogprobs` most likely tokens under that same raw distribution, most likely first
    /// (equal logits: lowest id first). It may include `id`.
    public var top: [TokenLogprob]
    public init(id: Int, logprob: Float, top: [TokenLogprob] = []) {
        self.id = id; self.logprob = logprob; self.top = top
    }
}

/// One token of the distribution the sampler draws from (after penalty, temperature, top-k, top-p).
public struct TokenProbability: Sendable, Equatable {
    public var id: Int
    public var probability: Double
    public init(id: Int, probability: Double) { self.id = id; self.probability = probability }
}

public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    public let vocabSize: Int
    /// How many tokens this sampler has produced (plus `startStep`); the next draw uses this index.
    public private(set) var step: Int
    private var scratch: SamplerScratch

    /// `startStep` resumes a sequence after `startStep` tokens (e.g. on another worker): the draws
    /// are the ones a sampler started at 0 would make from then on.
    public init(parameters: SamplingParameters, vocabSize: Int, startStep: Int = 0) throws {
        self.parameters = try parameters.validated()
        guard vocabSize > 0, vocabSize <= SamplingLimits.maxVocabSize else {
            throw SamplingError.invalid(field: "vocab_size", reason: "must be in 1...\(SamplingLimits.maxVocabSize), got \(vocabSize)")
        }
        guard startStep >= 0 else {
            throw SamplingError.invalid(field: "step", reason: "must be ≥ 0, got \(startStep)")
        }
        self.vocabSize = vocabSize
        self.step = startStep
        let p = self.parameters
        let sampling = !p.isGreedy
        scratch = SamplerScratch(vocabSize: vocabSize,
                                 needsChunkSums: sampling,
                                 needsKeys: sampling && ((p.topK > 0 && p.topK < vocabSize) || p.topP < 1),
                                 topCount: p.topLogprobs)
    }

    /// Chooses the next token and advances `step`.
    /// logits: the model's raw next-token logits (vocabSize floats).
    /// history: prompt + generated ids so far (for the repetition penalty).
    public mutating func sample(logits: UnsafeBufferPointer<Float>, history: some Collection<Int>) -> SampledToken {
        makeScratchUnique()
        let row = UnsafeBufferPointer(rebasing: logits.prefix(vocabSize))
        let id: Int
        switch prepare(row: row, history: history) {
        case .single(let only):
            id = only
        case .weighted(let w):
            let target = samplingUniform(seed: parameters.seed, step: UInt64(step)) * w.total
            let j = ExpKernel.locate(target, inclusive: false, values: w.values, count: w.count,
                                     shift: w.shift, scale: w.scale, chunkSums: scratch.chunkSums.baseAddress!)
                ?? ExpKernel.lastPositive(values: w.values, count: w.count, shift: w.shift, scale: w.scale,
                                          chunkSums: scratch.chunkSums.baseAddress!)
                ?? 0
            id = w.ids.map { RankedKey.id($0[j]) } ?? j
        }
        step += 1
        let normalizer = LogNormalizer(row)
        let logprob = id < row.count ? normalizer.logprob(row[id]) : -.infinity
        let top = parameters.topLogprobs > 0 ? topAlternatives(row: row, normalizer: normalizer) : []
        return SampledToken(id: id, logprob: logprob, top: top)
    }

    /// The distribution `sample` would draw from for these inputs, most likely first (ties: lowest
    /// id first), without advancing `step`. Greedy gives the one chosen token with probability 1.
    /// For tests and diagnostics: it allocates.
    public mutating func distribution(logits: UnsafeBufferPointer<Float>, history: some Collection<Int>) -> [TokenProbability] {
        makeScratchUnique()
        let row = UnsafeBufferPointer(rebasing: logits.prefix(vocabSize))
        switch prepare(row: row, history: history) {
        case .single(let only):
            return [TokenProbability(id: only, probability: 1)]
        case .weighted(let w):
            var weights = [Double](repeating: 0, count: w.count)
            weights.withUnsafeMutableBufferPointer {
                ExpKernel.weights(w.values, count: w.count, shift: w.shift, scale: w.scale, into: $0.baseAddress!)
            }
            var out: [TokenProbability] = []
            for (j, weight) in weights.enumerated() where weight > 0 {
                out.append(TokenProbability(id: w.ids.map { RankedKey.id($0[j]) } ?? j, probability: weight / w.total))
            }
            return out.sorted { $0.probability != $1.probability ? $0.probability > $1.probability : $0.id < $1.id }
        }
    }

    // MARK: - Pipeline

    /// The candidates to draw from: `count` logits at `values`, their token ids in `ids` (RankedKeys)
    /// or, when nil, the index itself; weights exp((v - shift) · scale) whose chunk sums are in
    /// scratch.chunkSums and add up to `total` (> 0).
    private struct Weighted {
        var values: UnsafePointer<Float>
        var count: Int
        var ids: UnsafePointer<UInt64>?
        var shift: Double
        var scale: Double
        var total: Double
    }

    private enum Prepared {
        case single(Int)
        case weighted(Weighted)
    }

    private func prepare(row: UnsafeBufferPointer<Float>, history: some Collection<Int>) -> Prepared {
        let p = parameters
        let work = scratch.work.baseAddress!
        let v = vocabSize
        fillProcessedLogits(row: row, history: history)

        let maxValue = maxIgnoringNaN(UnsafeBufferPointer(scratch.work))
        guard maxValue > -.infinity else {
            // Nothing left with positive probability (all raw logits -inf/NaN, or penalised to -inf).
            let rawMax = maxIgnoringNaN(row)
            return .single(rawMax > -.infinity ? row.firstIndex(of: rawMax) ?? 0 : 0)
        }
        if p.isGreedy {
            return .single(scratch.work.firstIndex(of: maxValue) ?? 0)
        }

        var shift = Double(maxValue)
        let scale = 1 / Double(p.temperature)
        if maxValue == .infinity {
            // Softmax's limit: the +inf logits share everything. Rewrite them as 0, the rest as -inf.
            for i in 0..<v { work[i] = work[i] == .infinity ? 0 : -.infinity }
            shift = 0
        }

        let values = UnsafePointer(work)   // the candidates' logits, always at the front of work
        var count = v
        var ids: UnsafeMutablePointer<UInt64>? = nil

        if p.topK > 0 && p.topK < v {
            let keys = scratch.keys.baseAddress!
            let edge = RankedKey.kthLargestValue(work, count: v, k: p.topK, heap: keys,
                                                 histogram: scratch.histogram.baseAddress!)
            if edge > -.infinity {   // otherwise fewer than k tokens are possible: nothing to cut
                // Hugging Face keeps every logit equal to the k-th largest, so ties at the edge stay.
                // Candidates move to the front of work, in id order. Branch-free: every value is
                // written at n, which advances only past kept ones (n ≤ i: nothing unread is lost).
                var n = 0
                for i in 0..<v {
                    let x = work[i]
                    keys[n] = RankedKey.make(x, i)
                    work[n] = x
                    n &+= x >= edge ? 1 : 0
                }
                count = n
                ids = keys
            }
        }

        if p.topP < 1 {
            let keys = scratch.keys.baseAddress!
            let total = ExpKernel.sum(values, count: count, shift: shift, scale: scale, chunkSums: nil)
            // The nucleus is the highest-first prefix whose weight reaches topP · total. Its last
            // token has weight > (1 - topP) · total / count (the rest of the mass, > 1 - topP, lies
            // on at most `count` tokens no heavier than it), and so has every token in it. Only
            // tokens above that bound need ranking. Its log is taken from the binary exponent,
            // floor(log2 b)·ln 2 - 1: 1 to 1.7 below the true log, a margin for rounding, and pure
            // bit arithmetic, so that no libm enters the token choice.
            let weightBound = (1 - Double(p.topP)) * total / Double(count)
            let logBound = Double(weightBound.exponent) * 0.6931471805599453 - 1
            let valueBound = shift + logBound / scale
            var c = 0   // branch-free compaction, as for top-k
            if ids != nil {
                for j in 0..<count {
                    keys[c] = keys[j]
                    c &+= Double(work[j]) >= valueBound ? 1 : 0
                }
            } else {
                for i in 0..<count {
                    keys[c] = RankedKey.make(work[i], i)
                    c &+= Double(work[i]) >= valueBound ? 1 : 0
                }
            }
            count = RankedKey.selectNucleus(UnsafeMutableBufferPointer(start: keys, count: c),
                                            target: Double(p.topP) * total, shift: shift, scale: scale)
            for j in 0..<count { work[j] = RankedKey.value(keys[j]) }
            ids = keys
        }

        let total = ExpKernel.sum(values, count: count, shift: shift, scale: scale, chunkSums: scratch.chunkSums.baseAddress!)
        return .weighted(Weighted(values: values, count: count, ids: ids.map { UnsafePointer($0) },
                                  shift: shift, scale: scale, total: total))
    }

    /// work[i] = logit i with NaN → -inf, then the repetition penalty on every id in `history`.
    private func fillProcessedLogits(row: UnsafeBufferPointer<Float>, history: some Collection<Int>) {
        let work = scratch.work.baseAddress!
        let n = row.count
        for i in 0..<n { work[i] = row[i].isNaN ? -.infinity : row[i] }
        for i in n..<vocabSize { work[i] = -.infinity }

        let penalty = parameters.repetitionPenalty
        guard penalty != 1 else { return }
        // Computed from the raw logit, so an id that occurs many times is penalised once (as HF's
        // gather/scatter does).
        @inline(__always) func penalise(_ id: Int) {
            guard id >= 0, id < n else { return }
            let x = row[id].isNaN ? -Float.infinity : row[id]
            work[id] = x < 0 ? x * penalty : x / penalty
        }
        let contiguous: Void? = history.withContiguousStorageIfAvailable { ids in
            for id in ids { penalise(id) }
        }
        if contiguous == nil {
            for id in history { penalise(id) }
        }
    }

    /// The `topLogprobs` best raw logits under the same normaliser as the token's logprob.
    private func topAlternatives(row: UnsafeBufferPointer<Float>, normalizer: LogNormalizer) -> [TokenLogprob] {
        bestLogprobs(row: row, normalizer: normalizer, count: parameters.topLogprobs, scratch: scratch.top.baseAddress)
    }

    /// Copies share scratch until one of them samples (like Array's storage), so a copied sampler
    /// never overwrites buffers another copy is using.
    private mutating func makeScratchUnique() {
        if !isKnownUniquelyReferenced(&scratch) { scratch = scratch.emptyCopy() }
    }
}

/// Buffers sized at init so that sampling allocates nothing per token. Only the buffers the
/// parameters need are allocated: greedy needs `work` alone (V floats).
///
/// @unchecked Sendable: the buffers are written only by a Sampler holding the sole reference
/// (makeScratchUnique), the same rule that makes Array's storage safe to share across threads.
final class SamplerScratch: @unchecked Sendable {
    let vocabSize: Int
    let work: UnsafeMutableBufferPointer<Float>
    let chunkSums: UnsafeMutableBufferPointer<Double>
    let keys: UnsafeMutableBufferPointer<UInt64>
    let top: UnsafeMutableBufferPointer<UInt64>
    let histogram: UnsafeMutableBufferPointer<Int32>

    init(vocabSize: Int, needsChunkSums: Bool, needsKeys: Bool, topCount: Int) {
        self.vocabSize = vocabSize
        work = .allocate(capacity: vocabSize)
        chunkSums = .allocate(capacity: needsChunkSums ? ExpKernel.chunkCount(vocabSize) : 0)
        keys = .allocate(capacity: needsKeys ? vocabSize : 0)
        top = .allocate(capacity: topCount)
        histogram = .allocate(capacity: needsKeys ? RankedKey.radixBuckets : 0)
    }

    func emptyCopy() -> SamplerScratch {
        SamplerScratch(vocabSize: vocabSize, needsChunkSums: chunkSums.count > 0,
                       needsKeys: keys.count > 0, topCount: top.count)
    }

    deinit {
        work.deallocate()
        chunkSums.deallocate()
        keys.deallocate()
        top.deallocate()
        histogram.deallocate()
    }
}

/// The `count` best raw logits of `row` with their log probabilities under `normalizer`, most
/// likely first (equal logits: lowest id first), kept as a short descending list of RankedKeys in
/// `scratch` (at least `count` slots). NaN counts as -inf.
func bestLogprobs(row: UnsafeBufferPointer<Float>, normalizer: LogNormalizer, count: Int,
                  scratch: UnsafeMutablePointer<UInt64>?) -> [TokenLogprob] {
    let want = min(count, row.count)
    guard want > 0, let best = scratch else { return [] }
    var filled = 0
    var floorValue = -Float.infinity   // smallest value in the full list; smaller ones can't enter
    for i in 0..<row.count {
        let x = row[i].isNaN ? -Float.infinity : row[i]
        if filled == want && x < floorValue { continue }
        let key = RankedKey.make(x, i)
        var pos: Int
        if filled < want {
            pos = filled
            filled += 1
        } else {
            guard key > best[want - 1] else { continue }
            pos = want - 1
        }
        while pos > 0 && best[pos - 1] < key { best[pos] = best[pos - 1]; pos -= 1 }
        best[pos] = key
        if filled == want { floorValue = RankedKey.value(best[want - 1]) }
    }
    var out: [TokenLogprob] = []
    out.reserveCapacity(want)
    for j in 0..<want {
        let id = RankedKey.id(best[j])
        out.append(TokenLogprob(id: id, logprob: normalizer.logprob(row[id])))
    }
    return out
}
