// Models loaded with Q8_0 matrices (`weights: .q8_0`), on every architecture's golden fixture:
// the logits stay close to the stored-precision model's, a sequence's numbers do not depend on the
// batch it shares a step with, the thread count or how its layers are split into stages (so a
// cluster of workers, each quantizing its own layers, gives the tokens one process gives), and the
// stored-precision path is untouched (its own golden tests stay exact).
import Foundation
import MQCheckpoint
import MQKernels
import MQModel
import XCTest

final class Q8ModelTests: XCTestCase {
    static let fixtures = ["mqa", "mha", "mqa-sharded-f16", "mha-bf16", "falcon-mqa", "falcon-grouped",
                           "falcon-grouped-shared-ln", "falcon-sequential", "gpt2-mha", "santacoder-fused", "santacoder-split"]

    func load(_ name: String, _ weights: WeightPrecision, layers: Range<Int>? = nil, embedding: Bool = true, head: Bool = true,
              threads: Int = 1) throws -> any DecoderModel {
        try ModelRegistry.load(try Checkpoint(directory: Fixtures.model(name)), layers: layers, embedding: embedding, head: head,
                               compute: ComputeContext(threads: threads, parallelAttentionWork: 0), weights: weights)
    }

    func testEveryArchitectureLoadsQ8AndStaysCloseToTheStoredWeights() throws {
        // Tolerance: Q8_0 rounds every weight and activation to 1/254 of its block's largest value.
        // These fixtures are untrained random models of width 64 (two blocks per row), where that
        // noise compounds over the layers: measured, the RMS change is 1.2–5.2% of the logits' RMS
        // and the worst single logit moves up to 7.6% of the largest |logit|. Bounds of 8% (RMS) and 10%
        // (worst) pass that and fail any real mistake (a wrong scale, block or layout moves logits
        // by their whole size). Accuracy on a trained model is measured by `mq perplexity` (README).
        var agree = 0, total = 0
        for name in Self.fixtures {
            let stored = try load(name, .stored), q8 = try load(name, .q8_0)
            XCTAssertEqual(q8.weightFormat, .q8_0, name)
            XCTAssertNotEqual(stored.weightFormat, .q8_0, name)
            XCTAssertLessThan(q8.weightBytesLoaded, stored.weightBytesLoaded, "\(name): Q8_0 holds fewer bytes")
            for c in try Fixtures.reference(name).cases {
                let a = try GoldenRun.promptLogits(stored, c.prompt_ids), b = try GoldenRun.promptLogits(q8, c.prompt_ids)
                let scale = a.map { abs($0) }.max()!, worst = GoldenRun.maxDiff(a, b)
                func rms(_ v: [Float]) -> Float { (v.map { $0 * $0 }.reduce(0, +) / Float(v.count)).squareRoot() }
                let relativeRMS = rms(zip(a, b).map { $0 - $1 }) / rms(a)
                XCTAssertLessThan(relativeRMS, 0.08, "\(name): RMS |Δlogit| / RMS logit = \(relativeRMS)")
                XCTAssertLessThan(worst, 0.10 * scale, "\(name): worst |Δlogit| \(worst) of max |logit| \(scale)")
                let (ids, _) = try GoldenRun.greedy(stored, prompt: c.prompt_ids, count: c.greedy_ids.count)
                let (qids, _) = try GoldenRun.greedy(q8, prompt: c.prompt_ids, count: c.greedy_ids.count)
                XCTAssertEqual(ids, c.greedy_ids, "\(name): the stored path is unchanged")
                // Greedy agreement is reported, not asserted per case: on random tiny models two
                // logits can be within quantization noise of each other.
                let same = zip(ids, qids).prefix { $0 == $1 }.count
                agree += same; total += ids.count
                print("q8_0 \(name): relative RMS Δ \(relativeRMS), worst |Δlogit| \(worst) (max |logit| \(scale)), greedy prefix agreement \(same)/\(ids.count)")
            }
        }
        print("q8_0 greedy agreement over the golden fixtures: \(agree)/\(total)")
        XCTAssertGreaterThan(Double(agree), 0.5 * Double(total), "greedy agreement \(agree)/\(total)")
    }

    func testQ8StagesThreadsAndBatchesGiveTheSameNumbers() throws {
        for name in ["mqa", "falcon-grouped", "gpt2-mha"] {
            let whole = try load(name, .q8_0, threads: 1)
            let L = whole.shape.layers
            let chunks = [[3, 9, 27, 1], [5], [8, 2]]
            let alone = try GoldenRun.lastLogits([whole], chunks: chunks)
            // Two stages, each quantizing only its own layers (and the first one the embedding table).
            let split = try [load(name, .q8_0, layers: 0..<(L / 2), embedding: true, head: false, threads: 2),
                             load(name, .q8_0, layers: (L / 2)..<L, embedding: false, head: true, threads: 2)]
            XCTAssertEqual(try GoldenRun.lastLogits(split, chunks: chunks), alone, "\(name): stages")
            let threaded = try load(name, .q8_0, threads: 3)
            XCTAssertEqual(try GoldenRun.lastLogits([threaded], chunks: chunks), alone, "\(name): threads")
            // The same sequence in a step with two others (different lengths and positions).
            XCTAssertEqual(try batchedLastLogits(threaded, chunks: chunks), alone, "\(name): batch")
        }
    }

    /// Sequence 3 fed as `chunks`, each step also carrying tokens of sequences 1 and 2.
    func batchedLastLogits(_ model: any DecoderModel, chunks: [[Int]]) throws -> [Float] {
        let shape = model.shape, E = shape.hiddenSize, V = shape.vocabSize
        let cache = try KVCache(layers: model.layerRange, kvDim: shape.kvHeads * shape.headDim, blocks: 24)
        for s in 1...3 { try cache.reserve(sequence: s, positions: 32) }
        var pos = 0, other = [1: 0, 2: 0]
        var logits = [Float](repeating: 0, count: 3 * V)
        var last = 0
        for chunk in chunks {
            var toks: [StepToken] = []
            for s in [1, 2] {
                for k in 0..<(s + 1) { toks.append(StepToken(sequence: s, position: other[s]! + k, token: (7 * s + k) % V)) }
                other[s]! += s + 1
            }
            toks += chunk.enumerated().map { StepToken(sequence: 3, position: pos + $0.offset, token: $0.element) }
            pos += chunk.count
            last = toks.count - 1
            var hidden = [Float](repeating: 0, count: toks.count * E)
            try hidden.withUnsafeMutableBufferPointer { h in
                try model.embed(toks, into: h.baseAddress!)
                try model.forward(toks, hidden: h.baseAddress!, cache: cache)
                try logits.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: [0, last], into: $0.baseAddress!) }
            }
        }
        return Array(logits[V..<(2 * V)])
    }
}
