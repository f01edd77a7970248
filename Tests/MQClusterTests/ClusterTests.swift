// Whole-system tests: coordinator and workers as real processes on loopback, called through
// MQClient; every distributed result is compared with the single-process engine (`mq run`).
import Foundation
import MQClient
import MQLocalCluster
import MQEngine
import MQKernels
import MQProtocol
import MQSampling
import MQTransport
import XCTest

enum Paths {
    static let fixtures: URL = {
        var u = URL(fileURLWithPath: #filePath)
        u.deleteLastPathComponent(); u.deleteLastPathComponent()
        return u.appendingPathComponent("Fixtures/models")
    }()
    static func model(_ n: String) -> URL { fixtures.appendingPathComponent(n) }
}

/// What `mq run` produces for the same request.
func singleProcess(_ model: URL, _ prompt: [Int], maxTokens: Int, sampling: SamplingParameters = SamplingParameters(),
                   stops: [String] = []) throws -> GenerationResult {
    try Engine(directory: model, compute: .allCores).generate(GenerationRequest(promptIds: prompt, maxNewTokens: maxTokens, sampling: sampling, stopStrings: stops))
}

func assertSame(_ r: GenerateResponse, _ e: GenerationResult, tolerance: Float = 1e-5, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(r.tokenIDs.map { Int($0) }, e.tokenIds, "\(what): token ids", file: file, line: line)
    XCTAssertEqual(r.text, e.text, "\(what): text", file: file, line: line)
    XCTAssertEqual(r.finishReason.jsonName, e.finishReason.rawValue, "\(what): finish reason", file: file, line: line)
    let worst = zip(r.logprobs, e.logprobs).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(worst, tolerance, "\(what): logprobs differ by \(worst)", file: file, line: line)
}

final class ClusterTests: XCTestCase {
    let prompts: [[UInt32]] = [[17, 4, 300, 42, 9], [1], [250, 251, 252, 253, 254, 255, 256, 257, 258, 259, 260, 261]]

    func testOneTwoThreeWorkersEqualSingleProcess() async throws {
        for name in ["mqa", "mha"] {
            let model = Paths.model(name)
            let expected = try prompts.map { try singleProcess(model, $0.map { Int($0) }, maxTokens: 20) }
            let expectedText = try Engine(directory: model, compute: .allCores).generate(
                GenerationRequest(promptIds: try Engine(directory: model, compute: .allCores).encode("def fibonacci(n):"), maxNewTokens: 16))
            for workers in [1, 2, 3] {
                let cluster = try LocalCluster(model: model, workers: workers)
                defer { cluster.stop() }
                try await cluster.waitUntilServing()
                let c = try cluster.client()
                defer { c.close() }
                let info = try await c.info()
                XCTAssertEqual(info.stages.count, workers)
                XCTAssertEqual(info.stages.map { Int($0.layers.count) }.reduce(0, +), 3)
                for (i, p) in prompts.enumerated() {
                    let r = try await c.generate(GenerateRequest(prompt: .tokenIDs(p), maxNewTokens: 20, sampling: SamplingParams(seed: 0)))
                    assertSame(r, expected[i], "\(name), \(workers) workers, prompt \(i)")
                }
                // Text prompt, streamed: chunks add up to what the engine produced.
                var acc = GenerateStreamAccumulator()
                for try await chunk in c.generateStream(GenerateRequest(prompt: .text("def fibonacci(n):"), maxNewTokens: 16, sampling: SamplingParams(seed: 0))) {
                    try acc.add(chunk)
                }
                assertSame(try acc.response(), expectedText, "\(name), \(workers) workers, streamed text prompt")
            }
        }
    }

    func testFalconAndSantaCoderLayoutsThroughTwoWorkers() async throws {
        for name in ["falcon-mqa", "falcon-grouped", "santacoder-split"] {
            let model = Paths.model(name)
            let prompt: [UInt32] = [3, 14, 15, 92, 65]
            let expected = try singleProcess(model, prompt.map { Int($0) }, maxTokens: 16)
            let cluster = try LocalCluster(model: model, workers: 2)
            defer { cluster.stop() }
            try await cluster.waitUntilServing()
            let c = try cluster.client()
            defer { c.close() }
            let r = try await c.generate(GenerateRequest(prompt: .tokenIDs(prompt), maxNewTokens: 16, sampling: SamplingParams(seed: 0)))
            assertSame(r, expected, "\(name) through 2 workers")
            let info = try await c.info()
            XCTAssertEqual(info.model.kvHeads, name == "falcon-grouped" ? 2 : 1, name)
        }
    }

    func testSIGTERMDrainsTheCoordinatorAndStopsItsWorkers() async throws {
        let cluster = try LocalCluster(model: Paths.model("mqa"), workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        kill(cluster.coordinator.processIdentifier, SIGTERM)
        let end = Date().addingTimeInterval(10)
        while (cluster.workers + [cluster.coordinator]).contains(where: { $0.isRunning }) && Date() < end {
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertFalse(cluster.coordinator.isRunning, cluster.logs())
        XCTAssertEqual(cluster.coordinator.terminationStatus, 0)
        for w in cluster.workers {
            XCTAssertFalse(w.isRunning, "a worker kept running after the coordinator's Shutdown:\n\(cluster.logs())")
            if !w.isRunning { XCTAssertEqual(w.terminationStatus, 0) }
        }
    }

    func testEightConcurrentClientsGetTheirOwnResults() async throws {
        let model = Paths.model("mqa")
        var requests: [([UInt32], SamplingParameters)] = []
        for i in 0..<8 {
            let prompt: [UInt32] = [UInt32(10 + i), UInt32(100 + 7 * i), 33, UInt32(i)]
            let s = i % 2 == 0 ? SamplingParameters() : SamplingParameters(temperature: 0.8, topK: 40, topP: 0.95, seed: UInt64(i))
            requests.append((prompt, s))
        }
        let expected = try requests.map { try singleProcess(model, $0.0.map { Int($0) }, maxTokens: 24, sampling: $0.1) }
        let cluster = try LocalCluster(model: model, workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let endpoint = cluster.clientEndpoint
        let results = try await withThrowingTaskGroup(of: (Int, GenerateResponse).self) { group in
            for (i, (prompt, s)) in requests.enumerated() {
                group.addTask {
                    let c = try MQClient(endpoint: endpoint, defaultTimeout: .seconds(30), connectTimeout: LocalCluster.connectTimeout)
                    defer { c.close() }
                    let sp = SamplingParams(temperature: s.temperature, topK: UInt32(s.topK), topP: s.topP, seed: s.seed)
                    return (i, try await c.generate(GenerateRequest(prompt: .tokenIDs(prompt), maxNewTokens: 24, sampling: sp)))
                }
            }
            var out: [Int: GenerateResponse] = [:]
            for try await (i, r) in group { out[i] = r }
            return out
        }
        for i in 0..<8 {
            // Batched with others, rows go through matrix-matrix products: equal ids, logprobs to 1e-4.
            assertSame(results[i]!, expected[i], tolerance: 1e-4, "client \(i)")
        }
    }

    func testBadInputGetsErrorsAndServingContinues() async throws {
        let cluster = try LocalCluster(model: Paths.model("mqa"), workers: 1)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        // A raw DEALER speaking the wire protocol directly.
        let ctx = try ZMQContext()
        let s = try ZMQSocket(ctx, type: .dealer, name: "raw")
        try s.setLinger(.zero)
        try s.connect(cluster.clientEndpoint)
        func call(_ frames: [[UInt8]]) throws -> CallReply? {
            try s.send(frames: frames)
            while let f = try s.receive(timeout: .seconds(5)) {
                let r = try CallReply.decode(f[0])
                if !r.isProbe { return r }   // liveness probes may arrive while a call runs
            }
            return nil
        }
        var rng = SystemRandomNumberGenerator()
        // Random bytes and truncated frames: dropped (no call id) or answered with an error; never a crash.
        for n in [1, 7, 100, 3000] {
            try s.send(frames: [(0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }])
        }
        let good = CallRequest(callID: 5, call: .generate(GenerateRequest(prompt: .tokenIDs([1, 2, 3]), maxNewTokens: 4)), timeoutMilliseconds: 10_000)
        let bytes = good.encode()
        for cut in [1, bytes.count / 2, bytes.count - 1] { try s.send(frames: [Array(bytes.prefix(cut))]) }
        try s.send(frames: [bytes, bytes])   // two frames: dropped
        // A burst of 10,000 such frames writes a few warning lines, not one each.
        for _ in 0..<10_000 { try s.send(frames: [[1], [2]]) }
        // Drain whatever error replies the garbage produced (truncations that kept the call id).
        while let f = try s.receive(timeout: .milliseconds(300)) { _ = try? CallReply.decode(f[0]) }

        var wrong = good; wrong.callID = 6; wrong.method = "mq.v1.Decoder/Explode"
        XCTAssertEqual(try call([wrong.encode()])?.status?.code, .unimplemented)
        // Each error names what failed: the field, and the limit with the flag that sets it.
        let cases: [(UInt64, GenerateRequest, String, String)] = [
            (7, GenerateRequest(prompt: .tokenIDs([]), maxNewTokens: 4), "empty prompt", "prompt is empty"),
            (8, GenerateRequest(prompt: .tokenIDs(Array(repeating: 5, count: 200)), maxNewTokens: 4), "over-long prompt", "the model's context length"),
            (9, GenerateRequest(prompt: .tokenIDs([1]), maxNewTokens: 4, sampling: SamplingParams(temperature: -1)), "negative temperature", "temperature"),
            (10, GenerateRequest(prompt: .tokenIDs([99_999]), maxNewTokens: 4), "token outside the vocabulary", "token_ids"),
            (11, GenerateRequest(prompt: .text(""), maxNewTokens: 4), "empty text", "prompt is empty"),
            (12, GenerateRequest(prompt: .tokenIDs([1]), maxNewTokens: 1_000_000), "too many new tokens", "--max-new-tokens"),
            // What the CLI refuses, the server refuses too (one validation, MQSampling's).
            (13, GenerateRequest(prompt: .tokenIDs([1]), maxNewTokens: 4, sampling: SamplingParams(temperature: 1, topP: 2)), "top_p 2", "top_p: must be in (0, 1]"),
            (14, GenerateRequest(prompt: .tokenIDs([1]), maxNewTokens: 4, sampling: SamplingParams(stopStrings: ["ok", ""])), "empty stop string", "stop_strings[1]: must not be empty"),
            (15, GenerateRequest(prompt: .tokenIDs([1]), maxNewTokens: 4, sampling: SamplingParams(topK: .max)), "huge top_k", "top_k: must be in 0..."),
            (16, GenerateRequest(prompt: .tokenIDs([1]), maxNewTokens: 4, sampling: SamplingParams(topLogprobs: 21)), "too many top_logprobs", "top_logprobs"),
        ]
        for (id, g, what, named) in cases {
            let r = try call([CallRequest(callID: id, call: .generate(g), timeoutMilliseconds: 5000).encode()])
            XCTAssertEqual(r?.callID, id, what)
            XCTAssertEqual(r?.status?.code, .invalidArgument, "\(what): \(String(describing: r?.status))")
            XCTAssertTrue(r?.status?.message.contains(named) ?? false, "\(what): the message should name \(named): \(String(describing: r?.status))")
        }
        // And the next good call succeeds, on the same connection and on a new client.
        let ok = try call([CallRequest(callID: 20, call: .generate(GenerateRequest(prompt: .tokenIDs([1, 2, 3]), maxNewTokens: 4, sampling: SamplingParams(seed: 0))), timeoutMilliseconds: 10_000).encode()])
        XCTAssertEqual(ok?.status?.code, .ok)
        let resp = try ok?.response(as: GenerateResponse.self)
        XCTAssertEqual(resp?.tokenIDs.count, 4)
        let log = try String(contentsOf: cluster.directory.appendingPathComponent("coordinator.log"), encoding: .utf8)
        let dropped = log.split(separator: "\n").filter { $0.contains("dropped a client message with 2 frames") }.count
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertLessThanOrEqual(dropped, TransportDefaults.warningBurst, "per-frame warnings are rate-limited")
        s.close()
        let c = try cluster.client()
        defer { c.close() }
        let r = try await c.generate(GenerateRequest(prompt: .tokenIDs([1, 2, 3]), maxNewTokens: 4, sampling: SamplingParams(seed: 0)))
        assertSame(r, try singleProcess(Paths.model("mqa"), [1, 2, 3], maxTokens: 4), "after bad input")
    }

    /// Without failover (`--failover-timeout 0`, fail-stop): calls in flight end UNAVAILABLE as
    /// soon as the death is noticed, and a new worker restores service.
    func testKilledWorkerFailsCallsAndANewWorkerRestoresService() async throws {
        let model = try TestModels.longContextModel()
        defer { try? FileManager.default.removeItem(at: model) }
        let cluster = try LocalCluster(model: model, workers: 2, extraCoordinatorArgs: ["--failover-timeout", "0"])
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let c = try cluster.client(timeout: .seconds(60))
        defer { c.close() }
        // A long generation; kill the last stage's worker after a few tokens have streamed.
        let info = try await c.info()
        let victimID = info.stages[1].workerID
        let victim = cluster.workers[Int(victimID.dropFirst("worker".count))!]   // workers are named worker0, worker1, ...
        let started = ContinuousClock.now
        let stream = c.generateStream(GenerateRequest(prompt: .tokenIDs([5, 6, 7]), maxNewTokens: 3900, sampling: SamplingParams(seed: 0)), timeout: .seconds(60))
        let unary = Task { try await c.generate(GenerateRequest(prompt: .tokenIDs([9]), maxNewTokens: 3900), timeout: .seconds(60)) }
        var received = 0
        var failure: MQClientError?
        do {
            for try await _ in stream {
                received += 1
                if received == 10 { kill(victim.processIdentifier, SIGKILL) }
            }
        } catch let e as MQClientError { failure = e }
        XCTAssertEqual(failure?.code, .unavailable, "stream ended with \(String(describing: failure)) after \(received) chunks")
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(20), "the failure must come from noticing the death, well within the deadline")
        do { _ = try await unary.value; XCTFail("the unary call should fail") } catch let e as MQClientError {
            XCTAssertEqual(e.code, .unavailable)
        }
        let h = try await c.health()
        XCTAssertFalse(h.serving)
        XCTAssertEqual(h.missingLayers.map { $0.description }, ["2..<4"])
        let refused = try? await c.generate(GenerateRequest(prompt: .tokenIDs([1]), maxNewTokens: 2))
        XCTAssertNil(refused)
        // A new worker registers and takes the missing range; no coordinator restart.
        try cluster.startWorker()
        try await cluster.waitUntilServing()
        let r = try await c.generate(GenerateRequest(prompt: .tokenIDs([5, 6, 7]), maxNewTokens: 8, sampling: SamplingParams(seed: 0)))
        assertSame(r, try singleProcess(model, [5, 6, 7], maxTokens: 8), "after recovery")
    }
}

/// Checkpoints written by the tests themselves.
enum TestModels {
    /// A small GPTBigCode with a 4096-token context and no EOS, so a generation runs long enough
    /// to kill a worker in the middle of it. Random weights (fixed seed), tokenizer of the mqa fixture.
    static func longContextModel() throws -> URL {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mq-long-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let E = 64, V = 512, P = 4096, L = 4, I = 128, D = 16
        let config = """
        {"model_type": "gpt_bigcode", "n_embd": \(E), "n_head": 4, "n_layer": \(L), "n_positions": \(P), "n_inner": \(I),
         "vocab_size": \(V), "multi_query": true, "activation_function": "gelu_pytorch_tanh", "eos_token_id": null}
        """
        try config.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: Paths.model("mqa").appendingPathComponent("tokenizer.json"), to: dir.appendingPathComponent("tokenizer.json"))
        var tensors: [(String, [Int])] = [("transformer.wte.weight", [V, E]), ("transformer.wpe.weight", [P, E]),
                                          ("transformer.ln_f.weight", [E]), ("transformer.ln_f.bias", [E])]
        for l in 0..<L {
            let p = "transformer.h.\(l)."
            tensors += [(p + "ln_1.weight", [E]), (p + "ln_1.bias", [E]), (p + "attn.c_attn.weight", [E + 2 * D, E]),
                        (p + "attn.c_attn.bias", [E + 2 * D]), (p + "attn.c_proj.weight", [E, E]), (p + "attn.c_proj.bias", [E]),
                        (p + "ln_2.weight", [E]), (p + "ln_2.bias", [E]), (p + "mlp.c_fc.weight", [I, E]), (p + "mlp.c_fc.bias", [I]),
                        (p + "mlp.c_proj.weight", [E, I]), (p + "mlp.c_proj.bias", [E])]
        }
        var state: UInt64 = 42
        var data: [UInt8] = []
        var entries: [String] = []
        for (name, shape) in tensors {
            let n = shape.reduce(1, *)
            let isNormWeight = name.hasSuffix("ln_1.weight") || name.hasSuffix("ln_2.weight") || name.hasSuffix("ln_f.weight")
            let start = data.count
            for _ in 0..<n {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let u = Float(state >> 40) / Float(1 << 24) - 0.5
                let v: Float = isNormWeight ? 1 + 0.1 * u : 0.3 * u
                withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            }
            entries.append("\"\(name)\": {\"dtype\": \"F32\", \"shape\": \(shape), \"data_offsets\": [\(start), \(data.count)]}")
        }
        var header = Array(("{" + entries.joined(separator: ", ") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        let file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + data
        try Data(file).write(to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }
}
