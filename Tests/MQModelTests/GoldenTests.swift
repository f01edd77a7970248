// The engine against transformers: logits of every prompt position, greedy continuations with log
// probabilities, for multi-query and multi-head checkpoints stored as F32, sharded F16 and BF16.
//
// Tolerance: 1e-4 absolute on logits and log probabilities. Both sides compute in float32 from the
// same (upcast) weights; they differ only in summation order, which moves these logits (|x| < ~10)
// by ~1e-6. 1e-4 leaves two orders of magnitude of headroom yet catches any real error (a wrong
// layout, scale or epsilon moves logits by 1e-2 or more). The fixture notes the smallest top-1/top-2
// gap over its greedy steps (≥ 4e-3), so equal greedy ids are a fair requirement.
import MQCheckpoint
import MQKernels
import MQModel
import XCTest

final class GoldenTests: XCTestCase {
    static let tolerance: Float = 1e-4

    func testLogitsOfEveryPromptPosition() throws {
        for name in Fixtures.allModels {
            let ck = try Checkpoint(directory: Fixtures.model(name))
            let model = try ModelRegistry.load(ck, compute: .allCores)
            let ref = try Fixtures.reference(name)
            let V = model.shape.vocabSize, E = model.shape.hiddenSize
            for (ci, c) in ref.cases.enumerated() {
                let T = c.prompt_ids.count
                let cache = try KVCache(layers: model.layerRange, kvDim: model.shape.kvHeads * model.shape.headDim, blocks: 16)
                try cache.reserve(sequence: 1, positions: T)
                let toks = c.prompt_ids.enumerated().map { StepToken(sequence: 1, position: $0.offset, token: $0.element) }
                var hidden = [Float](repeating: 0, count: T * E)
                var logits = [Float](repeating: 0, count: T * V)
                try hidden.withUnsafeMutableBufferPointer { h in
                    try model.embed(toks, into: h.baseAddress!)
                    try model.forward(toks, hidden: h.baseAddress!, cache: cache)
                    try logits.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: Array(0..<T), into: $0.baseAddress!) }
                }
                var worst: Float = 0
                for t in 0..<T { for v in 0..<V { worst = max(worst, abs(logits[t * V + v] - c.logits[t][v])) } }
                XCTAssertLessThan(worst, Self.tolerance, "\(name) case \(ci): worst logit difference \(worst)")
                print("golden \(name) case \(ci): \(T) positions, worst |Δlogit| = \(worst)")
            }
        }
    }

    func testGreedyContinuationAndLogprobs() throws {
        for name in Fixtures.allModels {
            let ck = try Checkpoint(directory: Fixtures.model(name))
            let model = try ModelRegistry.load(ck, compute: .allCores)
            let ref = try Fixtures.reference(name)
            for (ci, c) in ref.cases.enumerated() {
                let (ids, lps) = try greedy(model, prompt: c.prompt_ids, count: c.greedy_ids.count)
                XCTAssertEqual(ids, c.greedy_ids, "\(name) case \(ci)")
                let worst = zip(lps, c.greedy_logprobs).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(worst, Double(Self.tolerance), "\(name) case \(ci): worst logprob difference \(worst)")
            }
        }
    }

    /// Prefill, then one token per step against the cache.
    func greedy(_ model: any DecoderModel, prompt: [Int], count: Int) throws -> ([Int], [Double]) {
        let V = model.shape.vocabSize, E = model.shape.hiddenSize
        let cache = try KVCache(layers: model.layerRange, kvDim: model.shape.kvHeads * model.shape.headDim, blocks: 16)
        try cache.reserve(sequence: 7, positions: prompt.count + count)
        var hidden = [Float](repeating: 0, count: prompt.count * E)
        var logits = [Float](repeating: 0, count: V)
        var toks = prompt.enumerated().map { StepToken(sequence: 7, position: $0.offset, token: $0.element) }
        var ids: [Int] = [], lps: [Double] = []
        for _ in 0..<count {
            try hidden.withUnsafeMutableBufferPointer { h in
                try model.embed(toks, into: h.baseAddress!)
                try model.forward(toks, hidden: h.baseAddress!, cache: cache)
                try logits.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: [toks.count - 1], into: $0.baseAddress!) }
            }
            let best = logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!
            ids.append(best)
            lps.append(logits.withUnsafeBufferPointer { logSoftmax($0, best) })
            toks = [StepToken(sequence: 7, position: toks.last!.position + 1, token: best)]
        }
        return (ids, lps)
    }
}
