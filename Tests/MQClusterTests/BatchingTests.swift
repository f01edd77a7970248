// Serving many requests at once: a request's tokens do not depend on what it is batched with,
// chunked prefill equals one-pass prefill, KV memory returns to zero on every stage however calls
// end, and a flood beyond the waiting queue is refused with RESOURCE_EXHAUSTED while admitted
// calls complete.
import Foundation
import MQClient
import MQLocalCluster
import MQEngine
import MQProtocol
import MQSampling
import MQTransport
import XCTest

final class BatchingTests: XCTestCase {
    func request(_ i: Int, maxTokens: UInt32 = 24) -> GenerateRequest {
        let prompt: [UInt32] = [UInt32(3 + i % 500), UInt32(40 + (7 * i) % 400), 33, UInt32(i % 512)]
        let sampling = i % 2 == 0 ? SamplingParams(seed: 0) : SamplingParams(temperature: 0.9, topK: 50, topP: 0.9, seed: UInt64(i))
        return GenerateRequest(prompt: .tokenIDs(prompt), maxNewTokens: maxTokens, sampling: sampling)
    }

    func testSameTokensAloneAndAmongThirtyOneOthers() async throws {
        let cluster = try LocalCluster(model: Paths.model("mqa"), workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let c = try cluster.client()
        defer { c.close() }
        // Probes run alone first: one greedy, one with seeded sampling.
        let probes = [request(100), request(101)]
        var alone: [GenerateResponse] = []
        for p in probes { alone.append(try await c.generate(p)) }
        let endpoint = cluster.clientEndpoint
        let together = try await withThrowingTaskGroup(of: (Int, GenerateResponse).self) { group in
            for i in 0..<32 {
                let r = i < 2 ? probes[i] : self.request(i)
                group.addTask {
                    let cl = try MQClient(endpoint: endpoint, defaultTimeout: .seconds(60), connectTimeout: LocalCluster.connectTimeout)
                    defer { cl.close() }
                    return (i, try await cl.generate(r))
                }
            }
            var out: [Int: GenerateResponse] = [:]
            for try await (i, r) in group { out[i] = r }
            return out
        }
        for i in 0..<2 {
            XCTAssertEqual(together[i]!.tokenIDs, alone[i].tokenIDs, "probe \(i)")
            let worst = zip(together[i]!.logprobs, alone[i].logprobs).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-4, "probe \(i) logprobs")
        }
        // Every other call equals the single-process engine too.
        for i in [2, 3, 17, 31] {
            let r = request(i)
            guard case .tokenIDs(let ids) = r.prompt else { continue }
            let s = r.sampling
            let e = try singleProcess(Paths.model("mqa"), ids.map { Int($0) }, maxTokens: 24,
                                      sampling: SamplingParameters(temperature: s.temperature, topK: Int(s.topK), topP: s.topP == 0 ? 1 : s.topP, seed: s.seed ?? 0))
            assertSame(together[i]!, e, tolerance: 1e-4, "call \(i) among 32")
        }
    }

    func testTopLogprobsThroughTheClusterEqualSingleProcess() async throws {
        let cluster = try LocalCluster(model: Paths.model("mqa"), workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let c = try cluster.client()
        defer { c.close() }
        let r = try await c.generate(GenerateRequest(prompt: .tokenIDs([4, 5, 6]), maxNewTokens: 6,
                                                     sampling: SamplingParams(temperature: 0.7, seed: 3, topLogprobs: 3)))
        let e = try singleProcess(Paths.model("mqa"), [4, 5, 6], maxTokens: 6, sampling: SamplingParameters(temperature: 0.7, seed: 3, topLogprobs: 3))
        assertSame(r, e, "top logprobs request")
        let expected = try XCTUnwrap(e.topLogprobs)
        XCTAssertEqual(r.topLogprobs.count, r.tokenIDs.count)
        XCTAssertEqual(r.topLogprobs.map { $0.map { Int($0.tokenID) } }, expected.map { $0.map(\.id) })
        for (a, b) in zip(r.topLogprobs.joined(), expected.joined()) { XCTAssertEqual(a.logprob, b.logprob, accuracy: 1e-5) }
        XCTAssertTrue(r.topLogprobs.allSatisfy { $0.count == 3 })
    }

    func testChunkedPrefillEqualsOnePass() async throws {
        let cluster = try LocalCluster(model: Paths.model("mha"), workers: 2, extraCoordinatorArgs: ["--prefill-chunk", "7"])
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let c = try cluster.client()
        defer { c.close() }
        let prompt = (0..<50).map { UInt32((37 * $0 + 11) % 512) }
        let r = try await c.generate(GenerateRequest(prompt: .tokenIDs(prompt), maxNewTokens: 12, sampling: SamplingParams(seed: 0)))
        assertSame(r, try singleProcess(Paths.model("mha"), prompt.map { Int($0) }, maxTokens: 12), tolerance: 1e-4, "prompt of 50 in chunks of 7")
    }

    /// Waits until every stage reports zero KV bytes in use (heartbeats carry it once a second).
    func assertKVReturnsToZero(_ c: MQClient, _ what: String) async throws {
        var used: [UInt64] = []
        for _ in 0..<50 {
            used = try await c.info().stages.map(\.kvUsedBytes)
            if used.allSatisfy({ $0 == 0 }) { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTFail("\(what): KV bytes still in use per stage: \(used)")
    }

    /// Waits until every stage reports KV bytes in use (so that a later return to zero means something).
    func assertKVInUseOnEveryStage(_ c: MQClient, _ what: String) async throws {
        var used: [UInt64] = []
        for _ in 0..<50 {
            used = try await c.info().stages.map(\.kvUsedBytes)
            if used.allSatisfy({ $0 > 0 }) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("\(what) should hold KV on every stage: \(used)")
    }

    func testKVMemoryReturnsToZeroAfterCompletionCancelAndDeadline() async throws {
        let model = try TestModels.longContextModel()
        defer { try? FileManager.default.removeItem(at: model) }
        let cluster = try LocalCluster(model: model, workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let c = try cluster.client(timeout: .seconds(60))
        defer { c.close() }
        // Completed calls.
        for i in 0..<4 { _ = try await c.generate(GenerateRequest(prompt: .tokenIDs([UInt32(i + 1), 2, 3]), maxNewTokens: 20)) }
        try await assertKVReturnsToZero(c, "after completed calls")
        // Cancelled mid-stream.
        let stream = c.generateStream(GenerateRequest(prompt: .tokenIDs([5, 6]), maxNewTokens: 3000))
        var n = 0
        do {
            for try await _ in stream {
                n += 1
                guard n == 5 else { continue }
                // While it runs, the stages report its KV cache (so the zero below means something).
                try await assertKVInUseOnEveryStage(c, "a running sequence")
                _ = try await stream.cancel()
            }
        } catch let e as MQClientError { XCTAssertEqual(e.code, .cancelled) }
        // Deadline expiring mid-generation.
        do {
            _ = try await c.generate(GenerateRequest(prompt: .tokenIDs([7, 8]), maxNewTokens: 4000), timeout: .milliseconds(300))
            XCTFail("a 4000-token call cannot finish in 300 ms here")
        } catch let e as MQClientError { XCTAssertEqual(e.code, .deadlineExceeded) }
        try await assertKVReturnsToZero(c, "after a cancellation and a deadline")
    }

    func testUnaryCallOfAVanishedClientIsCancelledAndItsKVFreed() async throws {
        // A unary call sends nothing until it ends, so only the coordinator's liveness probe can
        // tell that its client went away; the sequence must then be released on every stage long
        // before its 4000 tokens or its 60 s deadline.
        let model = try TestModels.longContextModel()
        defer { try? FileManager.default.removeItem(at: model) }
        let cluster = try LocalCluster(model: model, workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let c = try cluster.client(timeout: .seconds(60))
        defer { c.close() }
        let ctx = try ZMQContext()
        let raw = try ZMQSocket(ctx, type: .dealer, name: "vanishing client")
        try raw.setLinger(.zero)
        try raw.connect(cluster.clientEndpoint)
        let request = CallRequest(callID: 1, call: .generate(GenerateRequest(prompt: .tokenIDs([3, 4, 5]), maxNewTokens: 4000)),
                                  timeoutMilliseconds: 60_000)
        try raw.send(frames: [request.encode()])
        try await assertKVInUseOnEveryStage(c, "the vanishing client's call")
        raw.close()
        let gone = ContinuousClock.now
        try await assertKVReturnsToZero(c, "after the client vanished")
        // KV use reaches Info with the workers' once-a-second heartbeats.
        XCTAssertLessThan(ContinuousClock.now - gone, .seconds(4), "the vanished client's sequence was freed too late")
        XCTAssertTrue(cluster.logs().contains("liveness probe"), "the coordinator should log the probe that noticed it")
    }

    func testFloodBeyondTheQueueGetsResourceExhaustedWhileAdmittedCallsComplete() async throws {
        // KV for only a few calls per stage (each reserves prompt + 200 tokens), and a queue of 2.
        let cluster = try LocalCluster(model: Paths.model("mqa"), workers: 2, extraCoordinatorArgs: ["--max-queued", "2"], kvMemory: "200K")
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let endpoint = cluster.clientEndpoint
        let results = await withTaskGroup(of: (code: StatusCode, message: String).self) { group in
            for i in 0..<24 {
                group.addTask {
                    do {
                        let cl = try MQClient(endpoint: endpoint, defaultTimeout: .seconds(60), connectTimeout: LocalCluster.connectTimeout)
                        defer { cl.close() }
                        _ = try await cl.generate(GenerateRequest(prompt: .tokenIDs([UInt32(i + 1), 9]), maxNewTokens: 100))
                        return (.ok, "")
                    } catch let e as MQClientError { return (e.code, e.message) } catch { return (.unknownError, "\(error)") }
                }
            }
            var all: [(code: StatusCode, message: String)] = []
            for await s in group { all.append(s) }
            return all
        }
        let outcomes = results.map(\.code)
        let ok = outcomes.filter { $0 == .ok }.count
        let refused = outcomes.filter { $0 == .resourceExhausted }.count
        XCTAssertGreaterThan(ok, 0, "\(outcomes)")
        XCTAssertGreaterThan(refused, 0, "\(outcomes)")
        XCTAssertEqual(ok + refused, outcomes.count, "every call either completes or is refused: \(outcomes)")
        for r in results where r.code == .resourceExhausted {
            XCTAssertTrue(r.message.contains("--max-queued"), "the refusal should name the limit hit: \(r.message)")
        }
        let c = try cluster.client()
        defer { c.close() }
        try await assertKVReturnsToZero(c, "after the flood")
    }
}

extension StatusCode {
    static let unknownError = StatusCode.unrecognized(-1)
}
