// 8-bit weights through the cluster: every worker started with `--weights q8_0` quantizes its own
// layers (stage 0 also the embedding table, the last stage the head) and the cluster gives exactly
// the tokens and log probabilities of `mq run --weights q8_0`; `mq info` reports each stage's format
// and bytes.
import Foundation
import MQClient
import MQEngine
import MQKernels
import MQLocalCluster
import MQModel
import MQProtocol
import XCTest

final class Q8ClusterTests: XCTestCase {
    func testQ8WorkersEqualSingleProcessQ8AndInfoShowsTheFormat() async throws {
        for name in ["mqa", "falcon-mqa", "gpt2-mha"] {
            let model = Paths.model(name)
            let prompt: [UInt32] = [3, 14, 15, 92, 65]
            let expected = try Engine(directory: model, compute: .allCores, weights: .q8_0)
                .generate(GenerationRequest(promptIds: prompt.map { Int($0) }, maxNewTokens: 16))
            let cluster = try LocalCluster(model: model, workers: 2, extraWorkerArgs: ["--weights", "q8_0"])
            defer { cluster.stop() }
            try await cluster.waitUntilServing()
            let c = try cluster.client()
            defer { c.close() }
            let r = try await c.generate(GenerateRequest(prompt: .tokenIDs(prompt), maxNewTokens: 16, sampling: SamplingParams(seed: 0)))
            assertSame(r, expected, tolerance: 0, "\(name) through 2 q8_0 workers")
            let info = try await c.info()
            XCTAssertEqual(info.stages.map(\.weightFormat), ["q8_0", "q8_0"], name)
            XCTAssertTrue(info.stages.allSatisfy { $0.weightBytes > 0 }, "\(name): weight bytes \(info.stages.map(\.weightBytes))")
        }
    }
}
