// The security issue's acceptance tests, with real processes: a secured 2-stage cluster over TCP
// loopback keeps producing `mq run`'s tokens while intruders speaking the worker protocol (no
// key, an unlisted key, a listed spare forging results, a listed key stealing a worker id) get
// nothing and inject nothing; clients need the server key and an API key; a 15 MB prompt is
// refused at once while other calls complete; command lines refuse what is unsafe or unreadable.
import Foundation
import MQClient
import MQLocalCluster
import MQEngine
import MQKernels
import MQProtocol
import MQSampling
import MQTransport
import XCTest

final class SecurityTests: XCTestCase {
    func testIntrudersGetNothingAndInjectNothingWhileTheClusterServesExactly() async throws {
        let model = Paths.model("mqa")
        let prompt: [UInt32] = [17, 4, 300, 42, 9]
        let expected = try singleProcess(model, prompt.map { Int($0) }, maxTokens: 16)
        let cluster = try LocalCluster(model: model, workers: 2, secured: true, tcp: true)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let keys = try XCTUnwrap(cluster.keys)
        let c = try cluster.client()
        defer { c.close() }
        let health = try await c.health()
        let dataEndpoints = health.workers.map(\.dataEndpoint)
        XCTAssertEqual(dataEndpoints.count, 2)

        let context = try ZMQContext()
        func dealer(_ security: SocketSecurity) throws -> ZMQSocket {
            let s = try ZMQSocket(context, type: .dealer)
            try s.setLinger(.zero)
            try s.secure(security)
            try s.connect(cluster.workerEndpoint)
            return s
        }
        func register(_ s: ZMQSocket, as id: String) throws {
            let r = Register(workerID: id, memoryBytes: 1 << 30, dataEndpoint: "tcp://127.0.0.1:1", pid: 1, host: "intruder")
            try s.send(frames: [WorkerMessage.register(r).encode()])
        }
        // 1. No key, and a key the coordinator does not list: Register goes nowhere, nothing comes back.
        let stranger = try CurveKeyPair.generate()
        let plain = try dealer(.none)
        let unlisted = try dealer(.curveClient(stranger, server: keys.coordinator.publicKey))
        try register(plain, as: "intruder-plain")
        try register(unlisted, as: "intruder-unlisted")
        // 2. A listed key claiming a live worker's id: refused (fencing), w0 keeps its stage.
        let thief = try dealer(.curveClient(keys.workers[3], server: keys.coordinator.publicKey))
        try register(thief, as: "worker0")
        // 3. A listed spare (a legitimate key) forging results: it is not the last stage, so every
        //    StepResult it sends is dropped whatever step id and epoch it guesses.
        let spare = try dealer(.curveClient(keys.workers[2], server: keys.coordinator.publicKey))
        try register(spare, as: "spare")
        for step in UInt64(1)...40 {
            for epoch in UInt64(0)...3 {
                let forged = StepResult(stepID: step, results: [SequenceResult(seqID: step, tokenID: 7, logprob: 0)], epoch: epoch)
                try spare.send(frames: [WorkerMessage.stepResult(forged).encode()])
            }
        }
        // 4. Pushes into both stages' data sockets, without a key and with an unlisted one.
        var pushers: [ZMQSocket] = []
        for endpoint in dataEndpoints {
            for security in [SocketSecurity.none, .curveClient(stranger, server: keys.coordinator.publicKey)] {
                let p = try ZMQSocket(context, type: .push)
                try p.setLinger(.zero)
                try p.secure(security)
                try p.connect(endpoint)
                let step = Step(stepID: 999_999, stageIndex: 0, sequences: [StepSequence(seqID: 424_242, position: 0, tokenIDs: [1, 2, 3])],
                                epoch: 1)
                _ = try p.trySend(frames: try StepFrames(step: step, tensor: nil).encode())
                pushers.append(p)
            }
        }
        // The real workflow, while all of that is going on.
        for _ in 0..<2 {
            let r = try await c.generate(GenerateRequest(prompt: .tokenIDs(prompt), maxNewTokens: 16, sampling: SamplingParams(seed: 0)))
            assertSame(r, expected, "secured 2-stage cluster with intruders around")
        }
        // Nothing came back to the intruders, not even an error.
        for (name, s) in [("plain", plain), ("unlisted", unlisted), ("thief", thief)] {
            XCTAssertNil(try s.receive(timeout: .milliseconds(300)), "\(name) intruder got a reply")
        }
        let after = try await c.health()
        let ids = after.workers.filter { $0.state != .lost }.map(\.workerID).sorted()
        XCTAssertEqual(ids, ["spare", "worker0", "worker1"], "only listed keys registered, worker0 once: \(after.workers)")
        XCTAssertTrue(after.serving)
        XCTAssertEqual(after.workers.filter { $0.workerID == "worker0" }.map(\.state), [.ready])
        let log = cluster.logs()
        XCTAssert(log.contains("dropped a StepResult") || log.contains("StepResult"), "forged results are logged as dropped")
        for s in [plain, unlisted, thief, spare] + pushers { s.close() }
    }

    func testClientsNeedTheServerKeyAndAnAPIKey() async throws {
        let cluster = try LocalCluster(model: Paths.model("mqa"), workers: 1, secured: true, tcp: true)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let keys = try XCTUnwrap(cluster.keys)
        let validAPIKey = try XCTUnwrap(cluster.options.apiKey)
        let request = GenerateRequest(prompt: .tokenIDs([1, 2, 3]), maxNewTokens: 2, sampling: SamplingParams(seed: 0))

        // Without the server's key (no CURVE, or another key): no connection, a fast UNAVAILABLE.
        let wrongServer = try CurveKeyPair.generate().publicKey.z85
        for security in [nil, try MQClientSecurity(serverKey: wrongServer)] {
            let c = try MQClient(endpoint: cluster.clientEndpoint, defaultTimeout: .seconds(30), security: security, apiKey: validAPIKey)
            defer { c.close() }
            let start = ContinuousClock.now
            do {
                _ = try await c.generate(request)
                XCTFail("a client without the server key got through")
            } catch let e as MQClientError {
                XCTAssertEqual(e.code, .unavailable, "\(e)")
            }
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(3), "fails fast, not at the deadline")
        }
        // With the key: no API key or a wrong one is UNAUTHENTICATED, the right one works.
        let server = try MQClientSecurity(serverKey: keys.coordinator.publicKey.z85)
        for apiKey in [nil, validAPIKey + "x", String(validAPIKey.dropLast())] {
            let c = try MQClient(endpoint: cluster.clientEndpoint, defaultTimeout: .seconds(30), connectTimeout: LocalCluster.connectTimeout,
                                 security: server, apiKey: apiKey)
            defer { c.close() }
            for call in 0..<2 {
                do {
                    if call == 0 { _ = try await c.generate(request) } else { _ = try await c.health() }
                    XCTFail("API key \(apiKey ?? "none") was accepted")
                } catch let e as MQClientError {
                    XCTAssertEqual(e.code, .unauthenticated, "\(e)")
                    XCTAssertFalse(e.message.contains(validAPIKey), "the refusal reveals nothing")
                }
            }
        }
        let c = try cluster.client()
        defer { c.close() }
        let r = try await c.generate(request)
        XCTAssertEqual(r.tokenIDs.count, 2)
    }

    func testAuthorizedClientsAloneMayConnect() async throws {
        let listed = try CurveKeyPair.generate(), unlisted = try CurveKeyPair.generate()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mq-clients-\(UInt32.random(in: 0...UInt32.max))")
        try "# the one client\n\(listed.publicKey.z85) ci\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let cluster = try LocalCluster(model: Paths.model("mqa"), workers: 1, extraCoordinatorArgs: ["--authorized-clients", file.path],
                                       secured: true, tcp: true)
        defer { cluster.stop() }
        let keys = try XCTUnwrap(cluster.keys)
        let validAPIKey = try XCTUnwrap(cluster.options.apiKey)
        func client(_ pair: CurveKeyPair?, connectTimeout: Duration) throws -> MQClient {
            try MQClient(endpoint: cluster.clientEndpoint, defaultTimeout: .seconds(30), connectTimeout: connectTimeout,
                         security: try MQClientSecurity(serverKey: keys.coordinator.publicKey.z85, clientSecretKey: pair?.secretZ85),
                         apiKey: validAPIKey)
        }
        let good = try client(listed, connectTimeout: LocalCluster.connectTimeout)
        defer { good.close() }
        let end = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < end {
            if let h = try? await good.health(timeout: .seconds(1)), h.serving { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let r = try await good.generate(GenerateRequest(prompt: .tokenIDs([5, 6, 7]), maxNewTokens: 3, sampling: SamplingParams(seed: 1)))
        XCTAssertEqual(r.tokenIDs.count, 3)
        for pair in [unlisted, nil] {   // nil: a fresh key per client
            let c = try client(pair, connectTimeout: .milliseconds(500))
            defer { c.close() }
            do {
                _ = try await c.health()
                XCTFail("an unlisted client key was admitted")
            } catch let e as MQClientError {
                XCTAssertEqual(e.code, .unavailable, "\(e)")
            }
        }
    }

    func testAHugePromptIsRefusedAtOnceWhileOtherCallsComplete() async throws {
        let cluster = try LocalCluster(model: Paths.model("mqa"), workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let c = try cluster.client(timeout: .seconds(60))
        defer { c.close() }
        let prompt = String(repeating: "a", count: 15_000_000)
        let text = try Engine(directory: Paths.model("mqa"), compute: .allCores).encode("def fibonacci(n):").map { UInt32($0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask {
                    let r = try await c.generate(GenerateRequest(prompt: .tokenIDs(text + [UInt32(i)]), maxNewTokens: 24,
                                                                 sampling: SamplingParams(seed: UInt64(i))))
                    XCTAssertEqual(r.tokenIDs.count, 24)
                }
            }
            // While they run: a 15 MB one-word prompt (under the 16 MiB frame limit).
            try await Task.sleep(for: .milliseconds(100))
            let start = ContinuousClock.now
            do {
                _ = try await c.generate(GenerateRequest(prompt: .text(prompt), maxNewTokens: 4))
                XCTFail("a 15 MB prompt was accepted")
            } catch let e as MQClientError {
                let elapsed = ContinuousClock.now - start
                XCTAssertEqual(e.code, .invalidArgument, "\(e)")
                XCTAssert(e.message.contains("bytes"), e.message)
                // The whole round trip, 15 MB encoded by a debug client and sent included (the
                // coordinator's own share is checked below, from its log).
                XCTAssertLessThan(elapsed, .seconds(2), "refused in \(elapsed)")
                print("15 MB prompt refused in \(elapsed)")
            }
            try await group.waitForAll()
        }
        let h = try await c.health()
        XCTAssertTrue(h.serving)
        XCTAssertEqual(h.workers.filter { $0.state == .lost }.count, 0, "no worker was dropped: \(h.workers)")
        // The loop logs any client frame that held it over CoordinatorDefaults.slowClientFrame (20 ms).
        let log = try String(contentsOf: cluster.directory.appendingPathComponent("coordinator.log"), encoding: .utf8)
        XCTAssertFalse(log.contains("held the service loop"), "the 15 MB frame held the coordinator's loop:\n\(cluster.logs())")
    }

    func testCommandLinesRefuseWhatIsUnsafeOrUnreadable() throws {
        func run(_ name: String, _ args: [String]) throws -> (status: Int32, output: String) {
            let p = Process()
            p.executableURL = LocalCluster.binaries.appendingPathComponent(name)
            p.arguments = args
            let pipe = Pipe()
            p.standardError = pipe
            p.standardOutput = pipe
            try p.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let model = Paths.model("mqa").path
        let kv = try run("mq-coordinator", ["--model", model, "--kv-memory", "99999999999T"])
        XCTAssertEqual(kv.status, 64, kv.output)
        XCTAssert(kv.output.contains("--kv-memory"), kv.output)
        let open = try run("mq-coordinator", ["--model", model, "--listen", "tcp://0.0.0.0:5999"])
        XCTAssertEqual(open.status, 64, open.output)
        XCTAssert(open.output.contains("--insecure") && open.output.contains("--curve-key"), open.output)
        let worker = try run("mq-worker", ["--coordinator", "tcp://10.9.8.7:5556"])
        XCTAssertEqual(worker.status, 64, worker.output)
        XCTAssert(worker.output.contains("--coordinator-key"), worker.output)
        let client = try run("mq", ["health", "--server", "tcp://10.9.8.7:5555"])
        XCTAssertNotEqual(client.status, 0, client.output)
        XCTAssert(client.output.contains("--server-key"), client.output)
        let missing = try run("mq-coordinator", ["--model", model, "--curve-key", "/nonexistent.key", "--authorized-workers", "/nonexistent"])
        XCTAssertEqual(missing.status, 64, missing.output)
        XCTAssert(missing.output.contains("/nonexistent.key"), missing.output)
    }
}
