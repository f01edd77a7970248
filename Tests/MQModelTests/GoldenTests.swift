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
    func testLogitsOfEveryPromptPosition() throws {
        for name in Fixtures.allModels {
            let model = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model(name)), compute: .allCores)
            let ref = try Fixtures.reference(name)
            let V = model.shape.vocabSize
            for (ci, c) in ref.cases.enumerated() {
                let T = c.prompt_ids.count
                let logits = try GoldenRun.promptLogits(model, c.prompt_ids)
                var worst: Float = 0
                for t in 0..<T { for v in 0..<V { worst = max(worst, abs(logits[t * V + v] - c.logits[t][v])) } }
                XCTAssertLessThan(worst, GoldenRun.tolerance, "\(name) case \(ci): worst logit difference \(worst)")
                print("golden \(name) case \(ci): \(T) positions, worst |Δlogit| = \(worst)")
            }
        }
    }

    func testGreedyContinuationAndLogprobs() throws {
        for name in Fixtures.allModels {
            let model = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model(name)), compute: .allCores)
            let ref = try Fixtures.reference(name)
            for (ci, c) in ref.cases.enumerated() {
                let (ids, lps) = try GoldenRun.greedy(model, prompt: c.prompt_ids, count: c.greedy_ids.count)
                XCTAssertEqual(ids, c.greedy_ids, "\(name) case \(ci)")
                let worst = zip(lps, c.greedy_logprobs).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(worst, Double(GoldenRun.tolerance), "\(name) case \(ci): worst logprob difference \(worst)")
            }
        }
    }
}
