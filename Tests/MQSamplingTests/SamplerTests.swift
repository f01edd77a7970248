// Behaviour of the sampler through its public API: greedy choice and ties, reported logprobs
// against a Double reference, reproducibility per (seed, step), empirical frequencies, temperature,
// top-k, top-p (against a sort-everything reference), repetition penalty, non-finite logits.
import Foundation
import XCTest
@testable import MQSampling

final class SamplerTests: XCTestCase {
    // MARK: Greedy

    func testGreedyIsArgmax() throws {
        var rng = TestRNG(10)
        var sampler = try Sampler(parameters: SamplingParameters(), vocabSize: 5000)
        for _ in 0..<20 {
            let logits = rng.logits(5000)
            var best = 0
            for i in logits.indices where logits[i] > logits[best] { best = i }
            XCTAssertEqual(sampler.sample(logits).id, best)
        }
        XCTAssertEqual(sampler.step, 20)
    }

    func testGreedyTiesGoToLowestID() throws {
        var sampler = try Sampler(parameters: SamplingParameters(), vocabSize: 5)
        XCTAssertEqual(sampler.sample([1, 5, 3, 5, 5]).id, 1)
        XCTAssertEqual(sampler.sample([2, 2, 2, 2, 2]).id, 0)
        XCTAssertEqual(sampler.sample([-1, -0.0, 0.0, -3, -0.0]).id, 1, "-0 and +0 are equal logits")
        // Beyond a SIMD width, in the scalar tail, and across chunks.
        var sampler2 = try Sampler(parameters: SamplingParameters(), vocabSize: 37)
        var logits = [Float](repeating: 0, count: 37)
        logits[35] = 1; logits[20] = 1; logits[36] = 1
        XCTAssertEqual(sampler2.sample(logits).id, 20)
    }

    func testGreedyIgnoresSeedTopKAndTopP() throws {
        var rng = TestRNG(11)
        let logits = rng.logits(1000)
        let want = rankedIDs(logits)[0]
        for p in [SamplingParameters(temperature: 0, topK: 3, topP: 0.1, seed: 1),
                  SamplingParameters(temperature: 0, topK: 0, topP: 1, seed: 99)] {
            var sampler = try Sampler(parameters: p, vocabSize: 1000)
            for _ in 0..<5 { XCTAssertEqual(sampler.sample(logits).id, want) }
        }
    }

    func testGreedyHonoursRepetitionPenalty() throws {
        var sampler = try Sampler(parameters: SamplingParameters(repetitionPenalty: 1.2), vocabSize: 3)
        XCTAssertEqual(sampler.sample([2.0, 1.9, 0], history: [0]).id, 1, "2.0 / 1.2 < 1.9")
        XCTAssertEqual(sampler.sample([2.0, 1.9, 0], history: [2, 2]).id, 0)
        XCTAssertEqual(sampler.sample([-1.0, -1.1, -5], history: [0]).id, 1, "-1.0 · 1.2 < -1.1")
        // The logprob stays the raw model's: penalty does not enter it.
        let token = sampler.sample([2.0, 1.9, 0], history: [0])
        XCTAssertEqual(Double(token.logprob), referenceLogSoftmax([2.0, 1.9, 0])[1], accuracy: 1e-6)
    }

    // MARK: Log probabilities

    func testLogprobsMatchDoubleReference() throws {
        var rng = TestRNG(12)
        let v = 50_000
        let parameters = SamplingParameters(temperature: 0.8, topK: 50, topP: 0.95, repetitionPenalty: 1.1,
                                            seed: 5, topLogprobs: SamplingLimits.maxTopLogprobs)
        var sampler = try Sampler(parameters: parameters, vocabSize: v)
        var worst = 0.0
        for round in 0..<3 {
            let logits = rng.logits(v, scale: round == 0 ? 10 : 3)
            let history = (0..<200).map { _ in Int.random(in: 0..<v, using: &rng) }
            let reference = referenceLogSoftmax(logits)
            let token = sampler.sample(logits, history: history)
            @inline(__always) func check(_ got: Float, _ want: Double) {
                let error = abs(Double(got) - want)
                worst = max(worst, error / Double(Float(want).ulp))
                XCTAssertLessThanOrEqual(error, max(2e-6, 4 * Double(Float(want).ulp)), "got \(got), want \(want)")
            }
            check(token.logprob, reference[token.id])
            let ranked = topIDs(logits, SamplingLimits.maxTopLogprobs)
            XCTAssertEqual(token.top.map(\.id), ranked)
            for alternative in token.top { check(alternative.logprob, reference[alternative.id]) }
            XCTAssertEqual(logits.withUnsafeBufferPointer { logSoftmaxValue(logits: $0, index: ranked[7]) },
                           token.top[7].logprob)
        }
        print("logprob: worst error \(worst) Float ulps against the Double reference")
    }

    func testTopLogprobsOrderTiesAndCount() throws {
        var sampler = try Sampler(parameters: SamplingParameters(topLogprobs: 4), vocabSize: 6)
        let token = sampler.sample([1, 3, 3, .nan, 2, 3])
        XCTAssertEqual(token.top.map(\.id), [1, 2, 5, 4])
        XCTAssertEqual(token.top[0].logprob, token.top[2].logprob)
        var none = try Sampler(parameters: SamplingParameters(topLogprobs: 0), vocabSize: 6)
        XCTAssertEqual(none.sample([1, 3, 3, 0, 2, 3]).top, [])
        // More alternatives asked than the row holds: the row is all there is.
        var wide = try Sampler(parameters: SamplingParameters(topLogprobs: 20), vocabSize: 3)
        XCTAssertEqual(wide.sample([0, 1, 2]).top.map(\.id), [2, 1, 0])
    }

    func testLogSoftmaxValue() {
        let logits: [Float] = [1, 2, 3, -.infinity, .nan, 0.5]
        let finite: [Float] = [1, 2, 3, 0.5]
        let reference = referenceLogSoftmax(finite)
        logits.withUnsafeBufferPointer { row in
            for (i, r) in [(0, 0), (1, 1), (2, 2), (5, 3)] {
                XCTAssertEqual(Double(logSoftmaxValue(logits: row, index: i)), reference[r], accuracy: 1e-7)
            }
            XCTAssertEqual(logSoftmaxValue(logits: row, index: 3), -.infinity)
            XCTAssertEqual(logSoftmaxValue(logits: row, index: 4), -.infinity, "NaN counts as -inf")
            XCTAssertEqual(logSoftmaxValue(logits: row, index: 6), -.infinity, "outside the row")
            XCTAssertEqual(logSoftmaxValue(logits: row, index: -1), -.infinity)
        }
        // Huge logits do not overflow (max subtracted); tiny differences survive.
        let huge: [Float] = [3e38, 3e38, -3e38]
        huge.withUnsafeBufferPointer {
            XCTAssertEqual(logSoftmaxValue(logits: $0, index: 0), Float(-Foundation.log(2.0)))
            XCTAssertEqual(logSoftmaxValue(logits: $0, index: 2), -.infinity)
        }
        let infinite: [Float] = [.infinity, 0, .infinity, .infinity]
        infinite.withUnsafeBufferPointer {
            XCTAssertEqual(logSoftmaxValue(logits: $0, index: 2), Float(-Foundation.log(3.0)))
            XCTAssertEqual(logSoftmaxValue(logits: $0, index: 1), -.infinity)
        }
        let empty: [Float] = []
        empty.withUnsafeBufferPointer { XCTAssertEqual(logSoftmaxValue(logits: $0, index: 0), -.infinity) }
    }

    // MARK: Reproducibility

    func testSameSeedSameTokensAcrossSamplersCopiesAndRestarts() throws {
        var rng = TestRNG(13)
        let v = 3000
        let rows = (0..<60).map { _ in rng.logits(v, scale: 1) }
        for parameters in [SamplingParameters(temperature: 1, seed: 77),
                           SamplingParameters(temperature: 0.7, topK: 40, topP: 0.9, repetitionPenalty: 1.2, seed: 77)] {
            func run(_ sampler: inout Sampler, from: Int) -> [Int] {
                var history: [Int] = Array(0..<10)
                var ids: [Int] = []
                for n in from..<rows.count {
                    let id = sampler.sample(rows[n], history: history).id
                    ids.append(id); history.append(id)
                }
                return ids
            }
            var a = try Sampler(parameters: parameters, vocabSize: v)
            var b = try Sampler(parameters: parameters, vocabSize: v)
            let first = run(&a, from: 0)
            XCTAssertEqual(run(&b, from: 0), first)

            // Interleaving with another sequence (a batch) changes nothing for this one.
            var c = try Sampler(parameters: parameters, vocabSize: v)
            var other = try Sampler(parameters: SamplingParameters(temperature: 1, seed: 1), vocabSize: v)
            var interleaved: [Int] = []
            var history: [Int] = Array(0..<10)
            for row in rows {
                _ = other.sample(Array(row.reversed()), history: [])
                let id = c.sample(row, history: history).id
                interleaved.append(id); history.append(id)
            }
            XCTAssertEqual(interleaved, first)

            // A copy shares nothing it could overwrite: both continue identically.
            var d = try Sampler(parameters: parameters, vocabSize: v)
            _ = d.sample(rows[0], history: Array(0..<10))
            var e = d
            let fromD = d.sample(rows[1], history: Array(0..<10) + [first[0]]).id
            let fromE = e.sample(rows[1], history: Array(0..<10) + [first[0]]).id
            XCTAssertEqual(fromD, first[1]); XCTAssertEqual(fromE, first[1])
            XCTAssertEqual(d.step, 2); XCTAssertEqual(e.step, 2)

            // A sampler resumed at step 30 (say, on another machine) continues the same sequence,
            // given the same history.
            var resumed = try Sampler(parameters: parameters, vocabSize: v, startStep: 30)
            var resumedIDs: [Int] = []
            history = Array(0..<10) + first[..<30]
            for n in 30..<rows.count {
                let id = resumed.sample(rows[n], history: history).id
                resumedIDs.append(id); history.append(id)
            }
            XCTAssertEqual(resumedIDs, Array(first[30...]))
        }
    }

    func testThreadsGiveTheSameTokens() throws {
        var rng = TestRNG(18)
        let v = 2000
        let rows = (0..<40).map { _ in rng.logits(v, scale: 1) }
        let parameters = SamplingParameters(temperature: 0.9, topK: 100, topP: 0.95, repetitionPenalty: 1.1, seed: 31)
        let template = try Sampler(parameters: parameters, vocabSize: v)
        @Sendable func run(_ sampler: Sampler) -> [Int] {
            var s = sampler
            var history: [Int] = []
            for row in rows { history.append(s.sample(row, history: history).id) }
            return history
        }
        let alone = run(template)
        let results = Results(count: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { results.set($0, run(template)) }   // copies of one sampler
        for n in 0..<8 { XCTAssertEqual(results.get(n), alone, "thread \(n)") }
    }

    /// Per-thread result slots for testThreadsGiveTheSameTokens.
    private final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [[Int]]
        init(count: Int) { values = Array(repeating: [], count: count) }
        func set(_ i: Int, _ v: [Int]) { lock.lock(); values[i] = v; lock.unlock() }
        func get(_ i: Int) -> [Int] { lock.lock(); defer { lock.unlock() }; return values[i] }
    }

    /// A change detector for the draw procedure itself (Philox → uniform → inverse CDF over the
    /// candidates). If it fails, every recorded (seed, prompt) now yields different text: that
    /// may be intended, but it must be a decision, so update the pinned ids knowingly.
    func testPinnedDraws() throws {
        let logits: [Float] = (0..<64).map { Float(($0 * 37) % 64) / 8 }
        var plain = try Sampler(parameters: SamplingParameters(temperature: 1, seed: 1234), vocabSize: 64)
        var truncated = try Sampler(parameters: SamplingParameters(temperature: 0.7, topK: 20, topP: 0.9, seed: 1234),
                                    vocabSize: 64)
        let plainIDs = (0..<12).map { _ in plain.sample(logits).id }
        let truncatedIDs = (0..<12).map { _ in truncated.sample(logits).id }
        // The plain sequence was reproduced independently in Python (Philox4x32-10 written from
        // the paper, Double softmax, first id whose running weight exceeds u · total).
        XCTAssertEqual(plainIDs, [12, 38, 19, 43, 8, 50, 62, 43, 36, 2, 1, 38])
        XCTAssertEqual(truncatedIDs, [12, 38, 19, 38, 5, 50, 36, 38, 31, 62, 62, 31])
    }

    func testDifferentSeedsDiffer() throws {
        var rng = TestRNG(14)
        let logits = rng.logits(1000, scale: 0.5)
        var a = try Sampler(parameters: SamplingParameters(temperature: 1, seed: 1), vocabSize: 1000)
        var b = try Sampler(parameters: SamplingParameters(temperature: 1, seed: 2), vocabSize: 1000)
        var a2 = try Sampler(parameters: SamplingParameters(temperature: 1, seed: 1), vocabSize: 1000)
        var same = 0, repeatSame = 0
        for _ in 0..<200 {
            let x = a.sample(logits).id
            if x == b.sample(logits).id { same += 1 }
            if x == a2.sample(logits).id { repeatSame += 1 }
        }
        XCTAssertLessThan(same, 20, "different seeds agreed on \(same) of 200 draws")
        XCTAssertEqual(repeatSame, 200)
    }

    // MARK: Distribution

    /// Pearson's chi-square of observed counts against expected probabilities.
    private func chiSquare(_ counts: [Int], _ probabilities: [Double]) -> Double {
        let n = Double(counts.reduce(0, +))
        return zip(counts, probabilities).reduce(0) { $0 + pow(Double($1.0) - n * $1.1, 2) / (n * $1.1) }
    }

    private func counts(_ parameters: SamplingParameters, _ logits: [Float], draws: Int) throws -> [Int] {
        var sampler = try Sampler(parameters: parameters, vocabSize: logits.count)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<draws { counts[sampler.sample(logits).id] += 1 }
        return counts
    }

    func testFrequenciesMatchSoftmaxAtTemperatureOne() throws {
        let logits: [Float] = [1.0, 0.5, 0, -0.5, 2.0]
        let observed = try counts(SamplingParameters(temperature: 1, seed: 2024), logits, draws: 20_000)
        let chi2 = chiSquare(observed, referenceSoftmax(logits))
        // 4 degrees of freedom: P(chi2 > 18.47) = 0.001 for a correct sampler.
        print("T = 1: counts \(observed), chi-square \(chi2) (4 dof)")
        XCTAssertLessThan(chi2, 18.47, "counts \(observed), chi-square \(chi2)")
    }

    func testTemperatureReshapesTheDistribution() throws {
        let logits: [Float] = [1.0, 0.5, 0, -0.5, 2.0]
        for t in [0.5, 2.0] {
            var sampler = try Sampler(parameters: SamplingParameters(temperature: Float(t), seed: 3), vocabSize: 5)
            let got = sampler.distribution(logits)
            let want = referenceSoftmax(logits, temperature: t)
            XCTAssertEqual(got.count, 5)
            for p in got { XCTAssertEqual(p.probability, want[p.id], accuracy: 1e-12) }
            let observed = try counts(SamplingParameters(temperature: Float(t), seed: 3), logits, draws: 20_000)
            XCTAssertLessThan(chiSquare(observed, want), 18.47, "T = \(t): counts \(observed)")
        }
        // Lower temperature concentrates mass on the top token, higher spreads it.
        let cold = try counts(SamplingParameters(temperature: 0.5, seed: 4), logits, draws: 5000)[4]
        let warm = try counts(SamplingParameters(temperature: 1.0, seed: 4), logits, draws: 5000)[4]
        let hot = try counts(SamplingParameters(temperature: 2.0, seed: 4), logits, draws: 5000)[4]
        XCTAssert(cold > warm && warm > hot, "top-token counts \(cold), \(warm), \(hot)")
        // A tiny temperature behaves like greedy without overflowing the logits to +inf.
        var icy = try Sampler(parameters: SamplingParameters(temperature: 1e-30, seed: 5), vocabSize: 5)
        XCTAssertEqual(icy.distribution([1e30, 2e30, 0, 0, 1.5e30]), [TokenProbability(id: 1, probability: 1)])
    }

    // MARK: Top-k and top-p

    func testTopKNeverPicksOutsideTheTopK() throws {
        var rng = TestRNG(15)
        let v = 20_000
        // 1-100: heap of the best; 2000 and 19_000: radix select; 19_800: heap of the worst.
        let logits = rng.logits(v)
        let ranked = rankedIDs(logits)
        for k in [1, 10, 100, 2000, 19_000, 19_800] {
            let allowed = Set(ranked.prefix(k))
            var sampler = try Sampler(parameters: SamplingParameters(temperature: 1.5, topK: k, seed: UInt64(k)), vocabSize: v)
            XCTAssertEqual(Set(sampler.distribution(logits).map(\.id)), allowed)
            for _ in 0..<100 {
                let id = sampler.sample(logits).id
                XCTAssert(allowed.contains(id), "k = \(k): drew \(id)")
            }
        }
        // Ties at the k-th value are all kept (HF), on both selection paths.
        let tied = (0..<3000).map { Float($0 % 7) }
        for k in [10, 1000] {
            var sampler = try Sampler(parameters: SamplingParameters(temperature: 1, topK: k), vocabSize: 3000)
            let edge = tied.sorted(by: >)[k - 1]
            XCTAssertEqual(Set(sampler.distribution(tied).map(\.id)), Set(tied.indices.filter { tied[$0] >= edge }), "k = \(k)")
        }
        // k at or above the vocabulary keeps everything.
        var everything = try Sampler(parameters: SamplingParameters(temperature: 1, topK: 10), vocabSize: 4)
        XCTAssertEqual(everything.distribution([0, 1, 2, 3]).count, 4)
    }

    /// Top-p as a direct reading of the definition: sort everything, keep the shortest prefix whose
    /// mass reaches p, renormalise.
    private func referenceNucleus(_ logits: [Float], ranked: [Int], temperature: Double, topK: Int, topP: Double) -> [Int: Double] {
        var ids = ranked
        if topK > 0 && topK < ids.count {
            let edge = logits[ids[topK - 1]]
            ids = ids.filter { logits[$0] >= edge }
        }
        let m = Double(logits[ids[0]])
        let weights = ids.map { Foundation.exp((Double(logits[$0]) - m) / temperature) }
        let total = weights.reduce(0, +)
        var kept = 0, cumulative = 0.0
        while kept < ids.count {
            cumulative += weights[kept]
            kept += 1
            if cumulative >= topP * total { break }
        }
        let keptTotal = weights[..<kept].reduce(0, +)
        return Dictionary(uniqueKeysWithValues: (0..<kept).map { (ids[$0], weights[$0] / keptTotal) })
    }

    func testTopPMatchesSortEverythingReference() throws {
        var rng = TestRNG(16)
        let v = 8000
        let rows = [rng.logits(v, scale: 4), rng.logits(v, scale: 0.3),
                    [Float](repeating: 0.25, count: v)]   // flat: ties decided by id
        for (r, logits) in rows.enumerated() {
            let ranked = rankedIDs(logits)
            for topP: Float in [1e-6, 0.1, 0.5, 0.9, 0.99, 0.999_999] {
                for (temperature, topK) in [(1.0, 0), (0.6, 0), (1.0, 500)] {
                    let want = referenceNucleus(logits, ranked: ranked, temperature: Double(Float(temperature)), topK: topK, topP: Double(topP))
                    var sampler = try Sampler(parameters: SamplingParameters(temperature: Float(temperature), topK: topK, topP: topP),
                                              vocabSize: v)
                    let got = sampler.distribution(logits)
                    let what = "row \(r) top_p \(topP) T \(temperature) top_k \(topK)"
                    XCTAssertEqual(Set(got.map(\.id)), Set(want.keys), what)
                    for p in got { XCTAssertEqual(p.probability, want[p.id] ?? -1, accuracy: 1e-9, what) }
                }
            }
        }
    }

    func testTopPBoundaries() throws {
        var rng = TestRNG(17)
        let logits = rng.logits(1000)
        let top = rankedIDs(logits)[0]
        var tiny = try Sampler(parameters: SamplingParameters(temperature: 1, topP: 1e-7, seed: 8), vocabSize: 1000)
        XCTAssertEqual(tiny.distribution(logits), [TokenProbability(id: top, probability: 1)])
        for _ in 0..<50 { XCTAssertEqual(tiny.sample(logits).id, top) }
        var full = try Sampler(parameters: SamplingParameters(temperature: 1, topP: 1), vocabSize: 1000)
        XCTAssertEqual(full.distribution(logits).count, 1000)

        // Probabilities 1/2, 1/4, 1/8, 1/8 (log-weights differ by ln 2).
        let ln2 = Float(Foundation.log(2.0))
        let halves: [Float] = [2 * ln2, ln2, 0, 0]
        for (p, keep) in [(Float(0.4), 1), (0.7, 2), (0.8, 3), (0.95, 4)] {
            var s = try Sampler(parameters: SamplingParameters(temperature: 1, topP: p), vocabSize: 4)
            let got = s.distribution(halves)
            XCTAssertEqual(got.map(\.id), Array(0..<keep), "top_p \(p)")
            if keep == 2 {
                XCTAssertEqual(got[0].probability, 2.0 / 3, accuracy: 1e-6, "renormalised over the nucleus")
            }
        }
        // Equal logits at the cut: the lower id is kept first.
        var tie = try Sampler(parameters: SamplingParameters(temperature: 1, topP: 0.5), vocabSize: 4)
        XCTAssertEqual(tie.distribution([0, 0, 0, 0]).map(\.id), [0, 1])
    }

    // MARK: Repetition penalty

    func testRepetitionPenaltyFollowsHuggingFaceFormula() throws {
        let logits: [Float] = [2.0, -1.0, 0.0, 3.0, -2.5, 1.0]
        for penalty: Float in [1.5, 0.7] {
            var sampler = try Sampler(parameters: SamplingParameters(temperature: 1, repetitionPenalty: penalty), vocabSize: 6)
            // Duplicates count once; ids outside the vocabulary are ignored.
            let history = [0, 1, 2, 0, 0, 4, 99, -3]
            var processed = logits
            for id in Set(history) where id >= 0 && id < 6 {
                processed[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty
            }
            let want = referenceSoftmax(processed)
            let got = sampler.distribution(logits, history: history)
            for p in got { XCTAssertEqual(p.probability, want[p.id], accuracy: 1e-12, "penalty \(penalty) id \(p.id)") }
            // Any collection of ids works, contiguous or not.
            let fromSet = logits.withUnsafeBufferPointer { sampler.distribution(logits: $0, history: Set(history)) }
            let fromLazy = logits.withUnsafeBufferPointer {
                sampler.distribution(logits: $0, history: history.lazy.map { $0 })
            }
            XCTAssertEqual(fromSet, got)
            XCTAssertEqual(fromLazy, got)
        }
    }

    // MARK: Non-finite and odd-sized input

    func testNaNIsMinusInfinityAndNothingTraps() throws {
        for parameters in [SamplingParameters(), SamplingParameters(temperature: 1, seed: 9),
                           SamplingParameters(temperature: 1, topK: 2, topP: 0.9, repetitionPenalty: 1.3, seed: 9, topLogprobs: 3)] {
            var s = try Sampler(parameters: parameters, vocabSize: 4)
            for _ in 0..<50 {
                let token = s.sample([.nan, 1, .nan, .nan], history: [0, 2])
                XCTAssertEqual(token.id, 1)
                XCTAssertEqual(token.logprob, 0)
            }
            // -inf is allowed and never drawn.
            for _ in 0..<50 {
                let token = s.sample([-.infinity, 0.5, 0.5, -.infinity])
                XCTAssert(token.id == 1 || token.id == 2)
                XCTAssertEqual(Double(token.logprob), -Foundation.log(2.0), accuracy: 1e-7)
            }
            // +inf logits share all the probability.
            for _ in 0..<50 {
                let token = s.sample([1, .infinity, 2, .infinity])
                XCTAssert(token.id == 1 || token.id == 3, "drew \(token.id)")
                XCTAssertEqual(Double(token.logprob), -Foundation.log(2.0), accuracy: 1e-7)
            }
            // Nothing possible: token 0, logprob -inf.
            for row: [Float] in [[.nan, .nan, .nan, .nan], [-.infinity, -.infinity, .nan, -.infinity]] {
                let token = s.sample(row)
                XCTAssertEqual(token.id, 0)
                XCTAssertEqual(token.logprob, -.infinity)
            }
            // Penalty overflowing every logit to -inf falls back to the raw argmax.
            var harsh = try Sampler(parameters: SamplingParameters(temperature: parameters.temperature,
                                                                   repetitionPenalty: 10), vocabSize: 2)
            XCTAssertEqual(harsh.sample([-3e38, -1e38], history: [0, 1]).id, 1)
        }
    }

    func testShortAndLongRows() throws {
        var s = try Sampler(parameters: SamplingParameters(temperature: 1, seed: 3, topLogprobs: 5), vocabSize: 6)
        // A short row: the missing entries are impossible.
        for _ in 0..<30 { XCTAssert(s.sample([0, 0, 0]).id < 3) }
        XCTAssertEqual(s.sample([0, 5, 0]).top.map(\.id), [1, 0, 2])
        // A long row: entries past the vocabulary are ignored.
        for _ in 0..<30 { XCTAssert(s.sample([0, 0, 0, 0, 0, 0, 100, 100]).id < 6) }
        let empty: [Float] = []
        let token = s.sample(empty)
        XCTAssertEqual(token.id, 0)
        XCTAssertEqual(token.logprob, -.infinity)
    }
}
