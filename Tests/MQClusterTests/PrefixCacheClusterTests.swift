// The prefix cache through a real 2-stage cluster: calls that share a prompt prefix get exactly the
// tokens and logprobs they get without the cache (greedy, seeded sampling, repetition penalty,
// chunked prefill), every stage reuses the same blocks, a cached prefix outlives its first call,
// and under a small --kv-memory eviction never fails an admitted call, while cancelled and
// expired calls leave no reference behind: KV in use is exactly the cached blocks, and 0 once they
// are evicted.
import Foundation
import MQClient
import MQEngine
import MQLocalCluster
import MQProtocol
import MQSampling
import XCTest

final class PrefixCacheClusterTests: XCTestCase {
    static let shared: [UInt32] = (0..<35).map { UInt32((37 * $0 + 11) % 500 + 1) }

    /// Calls sharing a 35-token prefix (two full 16-token blocks), with different tails and sampling.
    static let requests: [GenerateRequest] = [
        GenerateRequest(prompt: .tokenIDs(shared + [1, 2, 3, 4, 5]), maxNewTokens: 12, sampling: SamplingParams(seed: 0)),
        GenerateRequest(prompt: .tokenIDs(shared + [9, 8, 7, 6, 5, 4]), maxNewTokens: 12,
                        sampling: SamplingParams(temperature: 0.9, topK: 40, topP: 0.95, seed: 7)),
        GenerateRequest(prompt: .tokenIDs(shared + [9, 8, 7, 6, 5, 4]), maxNewTokens: 12,
                        sampling: SamplingParams(temperature: 0.8, seed: 11, repetitionPenalty: 1.3)),
        // Exactly two blocks: only the first is reused, so the last token is computed.
        GenerateRequest(prompt: .tokenIDs(Array(shared.prefix(32))), maxNewTokens: 12, sampling: SamplingParams(seed: 0)),
    ]

    func run(_ cluster: LocalCluster) async throws -> [GenerateResponse] {
        try await cluster.waitUntilServing()
        let c = try cluster.client()
        defer { c.close() }
        var out: [GenerateResponse] = []
        for r in Self.requests { out.append(try await c.generate(r)) }
        return out
    }

    /// Waits until every stage's heartbeat reports `check` true of its StageInfo.
    func waitForStages(_ c: MQClient, _ what: String, _ check: (StageInfo) -> Bool) async throws -> [StageInfo] {
        var stages: [StageInfo] = []
        for _ in 0..<50 {
            stages = try await c.info().stages
            if !stages.isEmpty && stages.allSatisfy(check) { return stages }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTFail("\(what): \(stages.map { "stage \($0.stageIndex): KV used \($0.kvUsedBytes), \($0.prefix)" })")
        return stages
    }

    func testSameTokensWithAndWithoutTheCacheAndEveryStageReusesTheSameBlocks() async throws {
        let plain = try LocalCluster(model: Paths.model("mqa"), workers: 2, extraCoordinatorArgs: ["--no-prefix-cache"])
        let without = try await run(plain)
        plain.stop()
        let cached = try LocalCluster(model: Paths.model("mqa"), workers: 2, extraCoordinatorArgs: ["--prefill-chunk", "7"])
        defer { cached.stop() }
        let with = try await run(cached)
        for (i, (a, b)) in zip(with, without).enumerated() {
            XCTAssertEqual(a.tokenIDs, b.tokenIDs, "call \(i): tokens with and without the prefix cache")
            XCTAssertEqual(a.logprobs, b.logprobs, "call \(i): logprobs must be bit-identical")
            XCTAssertEqual(a.text, b.text, "call \(i)")
        }
        // And the single-process engine agrees (the cluster tests' usual tolerance on logprobs).
        for (i, r) in Self.requests.enumerated() {
            guard case .tokenIDs(let ids) = r.prompt else { continue }
            let s = r.sampling
            let e = try singleProcess(Paths.model("mqa"), ids.map { Int($0) }, maxTokens: 12,
                                      sampling: SamplingParameters(temperature: s.temperature, topK: Int(s.topK), topP: s.topP == 0 ? 1 : s.topP,
                                                                   repetitionPenalty: s.repetitionPenalty == 0 ? 1 : s.repetitionPenalty,
                                                                   seed: s.seed ?? 0))
            assertSame(with[i], e, tolerance: 1e-4, "call \(i) with the prefix cache")
        }
        // Calls 2-4 reused the first call's blocks (2, 2 and 1 blocks of 16), on both stages alike.
        let c = try cached.client()
        defer { c.close() }
        let stages = try await waitForStages(c, "every stage reports the hits") { $0.prefix.hits == 3 }
        for s in stages {
            XCTAssertEqual(s.prefix.hitTokens, 80, "stage \(s.stageIndex)")
            // The two shared blocks; call 4's second block is the same block, so it is not kept twice.
            XCTAssertEqual(s.prefix.cachedBlocks, 2, "stage \(s.stageIndex)")
        }
    }

    func testEvictionUnderASmallKVMemoryNeverFailsAnAdmittedCallAndLeavesNoReference() async throws {
        // 4 layers in 2 stages of 2: 256 KV bytes per token and stage, 4 KiB blocks; 48K holds 12.
        let model = try TestModels.longContextModel()
        defer { try? FileManager.default.removeItem(at: model) }
        let cluster = try LocalCluster(model: model, workers: 2, kvMemory: "48K")
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let c = try cluster.client(timeout: .seconds(60))
        defer { c.close() }
        let blockBytes: UInt64 = 16 * 256
        // Eight families of 40-token prompts (2 blocks each to keep) need 4 blocks each while they
        // run: the cache fills and evicts. Two at a time, so admission waits as well.
        let endpoint = cluster.clientEndpoint
        for round in 0..<4 {
            let codes = try await withThrowingTaskGroup(of: StatusCode.self) { group in
                for k in 0..<2 {
                    let family = UInt32(round * 2 + k)
                    let prompt = (0..<40).map { UInt32((family * 97 + UInt32($0) * 13) % 500 + 1) }
                    group.addTask {
                        let cl = try MQClient(endpoint: endpoint, defaultTimeout: .seconds(60), connectTimeout: LocalCluster.connectTimeout)
                        defer { cl.close() }
                        do {
                            _ = try await cl.generate(GenerateRequest(prompt: .tokenIDs(prompt), maxNewTokens: 20))
                            return .ok
                        } catch let e as MQClientError { return e.code }
                    }
                }
                var all: [StatusCode] = []
                for try await code in group { all.append(code) }
                return all
            }
            XCTAssertEqual(codes, [.ok, .ok], "round \(round): every admitted call completes")
        }
        // A call reusing a cached prefix is cancelled mid-stream, another expires.
        let family7 = (0..<40).map { UInt32((7 * 97 + UInt32($0) * 13) % 500 + 1) }
        let stream = c.generateStream(GenerateRequest(prompt: .tokenIDs(family7 + [3]), maxNewTokens: 100))
        var n = 0
        do {
            for try await _ in stream {
                n += 1
                if n == 3 { _ = try await stream.cancel() }
            }
        } catch let e as MQClientError { XCTAssertEqual(e.code, .cancelled) }
        do {
            _ = try await c.generate(GenerateRequest(prompt: .tokenIDs(family7 + [4]), maxNewTokens: 140), timeout: .milliseconds(150))
        } catch let e as MQClientError { XCTAssertEqual(e.code, .deadlineExceeded) }
        // No reference is left: all KV in use is the cache's, and every stage has evicted.
        let idle = try await waitForStages(c, "only cached blocks hold KV") {
            $0.kvUsedBytes == $0.prefix.cachedBlocks * blockBytes && $0.prefix.cachedBlocks > 0
        }
        for s in idle { XCTAssertGreaterThan(s.prefix.evictions, 0, "stage \(s.stageIndex) should have evicted under 48K") }
        // A call needing all 12 blocks (a 3-token prompt keeps nothing) evicts every cached block.
        let all = try await c.generate(GenerateRequest(prompt: .tokenIDs([5, 6, 7]), maxNewTokens: 189))
        XCTAssertEqual(all.tokenIDs.count, 189)
        _ = try await waitForStages(c, "KV used returns to 0 once the cache is evicted") { $0.kvUsedBytes == 0 && $0.prefix.cachedBlocks == 0 }
    }

    func testAWorkerLossEmptiesEveryCacheAndReplayedCallsStillMatchMqRun() async throws {
        let model = try TestModels.longContextModel()
        defer { try? FileManager.default.removeItem(at: model) }
        let maxTokens = 200
        let shared: [UInt32] = (0..<40).map { UInt32((11 * $0 + 5) % 500 + 1) }
        let requests: [(prompt: [UInt32], sampling: SamplingParams, engine: SamplingParameters)] = (0..<4).map { i in
            let prompt = shared + [UInt32(100 + i)]
            if i % 2 == 0 { return (prompt, SamplingParams(seed: 0), SamplingParameters()) }
            return (prompt, SamplingParams(temperature: 0.9, topK: 40, seed: UInt64(7 + i)), SamplingParameters(temperature: 0.9, topK: 40, seed: UInt64(7 + i)))
        }
        let expected = try requests.map { try singleProcess(model, $0.prompt.map { Int($0) }, maxTokens: maxTokens, sampling: $0.engine).tokenIds.map { UInt32($0) } }
        let cluster = try LocalCluster(model: model, workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        try cluster.startWorker()    // a standby
        let c = try cluster.client(timeout: .seconds(120))
        defer { c.close() }
        _ = try await c.generate(GenerateRequest(prompt: .tokenIDs(shared + [99]), maxNewTokens: 1))   // caches the prefix
        let stage1 = try await c.info().stages[1].workerID
        let victim = cluster.workers[Int(stage1.dropFirst("worker".count))!].processIdentifier
        let got = try await withThrowingTaskGroup(of: (Int, [UInt32]).self) { group in
            for (i, r) in requests.enumerated() {
                group.addTask {
                    var ids: [UInt32] = []
                    for try await chunk in c.generateStream(GenerateRequest(prompt: .tokenIDs(r.prompt), maxNewTokens: UInt32(maxTokens), sampling: r.sampling)) {
                        ids += chunk.tokenIDs
                        if i == 0 && ids.count == 30 { kill(victim, SIGKILL) }
                    }
                    return (i, ids)
                }
            }
            var out = Array(repeating: [UInt32](), count: requests.count)
            for try await (i, ids) in group { out[i] = ids }
            return out
        }
        for (i, ids) in got.enumerated() { XCTAssertEqual(ids, expected[i], "stream \(i), reusing a cached prefix, replayed after a worker loss") }
        // The new pipeline started empty; the replays cached the shared prefix again, and nothing
        // else holds KV: no reference survived the loss.
        let stages = try await waitForStages(c, "after the failover only the re-cached prefix holds KV") {
            $0.prefix.cachedBlocks == 2 && $0.kvUsedBytes == 2 * 16 * 256
        }
        XCTAssertTrue(stages.allSatisfy { $0.workerID != stage1 }, "the standby took the lost stage")
    }

    func testACallAskingForPromptLogprobsReusesNothingAndScoresItsWholePrompt() async throws {
        let cluster = try LocalCluster(model: Paths.model("mqa"), workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let c = try cluster.client()
        defer { c.close() }
        let prompt = Self.shared + [1, 2, 3, 4, 5]
        _ = try await c.generate(GenerateRequest(prompt: .tokenIDs(prompt), maxNewTokens: 2))   // caches two blocks
        let scored = try await c.generate(GenerateRequest(prompt: .tokenIDs(prompt), maxNewTokens: 4, sampling: SamplingParams(seed: 0),
                                                          promptLogprobs: true))
        let e = try Engine(directory: Paths.model("mqa"), compute: .allCores).generate(
            GenerationRequest(promptIds: prompt.map { Int($0) }, maxNewTokens: 4, promptLogprobs: true))
        let expected = try XCTUnwrap(e.promptLogprobs)
        XCTAssertEqual(scored.promptLogprobs.count, prompt.count - 1, "every prompt position after the first is scored")
        let worst = zip(scored.promptLogprobs, expected).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-4, "prompt logprobs through the cluster against the engine")
        XCTAssertEqual(scored.tokenIDs.map { Int($0) }, e.tokenIds)
        // It reused nothing; a plain call with the same prompt then reuses the two blocks.
        var stages = try await waitForStages(c, "the cached prefix is listed") { $0.prefix.cachedBlocks == 2 }
        XCTAssertTrue(stages.allSatisfy { $0.prefix.hits == 0 }, "the prompt-logprobs call must not reuse: \(stages.map(\.prefix))")
        _ = try await c.generate(GenerateRequest(prompt: .tokenIDs(prompt), maxNewTokens: 2))
        stages = try await waitForStages(c, "the plain call reused the prefix") { $0.prefix.hits == 1 && $0.prefix.hitTokens == 32 }
    }
}
