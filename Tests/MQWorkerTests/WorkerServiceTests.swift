// WorkerService over real sockets on loopback: registration, assignment, prefill and decode
// steps against the golden fixture (one stage, and two chained stages), batching, bad frames,
// a full KV cache, Release, reassignment, liveness, version refusal and both ways of stopping.
// The coordinator is a FakeCoordinator (ROUTER + PUSH) driven by the test thread.

import Foundation
import MQCheckpoint
import MQKernels
import MQModel
import MQProtocol
import MQTransport
import MQWorker
import XCTest

final class WorkerServiceTests: XCTestCase {
    /// The mqa fixture: 3 layers, hidden 64, 4 heads of 16, one KV head, vocabulary 512.
    let layerCount: UInt32 = 3
    let hidden = 64
    /// KV bytes per token per layer: keys + values of one head of 16 floats.
    let kvBytesPerTokenPerLayer = 2 * 16 * 4

    // MARK: - Registration and assignment

    func testRegisterCarriesVersionAndAConcreteEndpoint() throws {
        let coordinator = try FakeCoordinator()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-register")
        let register = try coordinator.expectRegister()
        XCTAssertEqual(register.version, ProtocolVersion.current)
        XCTAssertEqual(register.workerID, "w-register")
        XCTAssertEqual(register.memoryBytes, 1 << 30)
        XCTAssertEqual(register.pid, UInt32(ProcessInfo.processInfo.processIdentifier))
        XCTAssertFalse(register.host.isEmpty)
        XCTAssertTrue(register.dataEndpoint.hasPrefix("tcp://127.0.0.1:"), register.dataEndpoint)
        XCTAssertFalse(register.dataEndpoint.contains("*"), register.dataEndpoint)
        XCTAssertNotNil(UInt16(register.dataEndpoint.split(separator: ":").last!), register.dataEndpoint)
        XCTAssertEqual(worker.service.status.dataEndpoint, register.dataEndpoint)
        try worker.stop()
    }

    func testStepBeforeAssignIsNotReady() throws {
        let coordinator = try FakeCoordinator()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-early")
        let register = try coordinator.expectRegister()
        try coordinator.connectStageZero(register.dataEndpoint)
        try coordinator.pushStep(Step(stepID: 1, stageIndex: 0, sequences: [Generation(seqID: 1, prompt: [166]).nextPart]))
        let error = try coordinator.expectError()
        XCTAssertEqual(error.code, .notReady)
        XCTAssertEqual(error.stepID, 1)
        try worker.stop()
    }

    func testLoadFailureIsReported() throws {
        let coordinator = try FakeCoordinator()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-badmodel")
        _ = try coordinator.expectRegister()
        try coordinator.send(.assign(Assign(assignmentID: 1, modelPath: "/nonexistent/model", stageIndex: 0, numStages: 1,
                                            layers: LayerRange(0..<3), nextEndpoint: "")), to: "w-badmodel")
        let loadError = try coordinator.expectError()
        XCTAssertEqual(loadError.code, .loadFailed)
        XCTAssertTrue(loadError.message.contains("/nonexistent/model"), loadError.message)
        // Layers beyond the model's three.
        try coordinator.send(.assign(Assign(assignmentID: 2, modelPath: Fixtures.model("mqa"), stageIndex: 0, numStages: 1,
                                            layers: LayerRange(0..<5), nextEndpoint: "")), to: "w-badmodel")
        let rangeError = try coordinator.expectError()
        XCTAssertEqual(rangeError.code, .invalidAssignment)
        XCTAssertTrue(rangeError.message.contains("3 layers"), rangeError.message)
        // A good Assign afterwards works.
        let ready = try coordinator.assign("w-badmodel", id: 3, stage: 0, of: 1, layers: 0..<layerCount)
        XCTAssertEqual(ready.assignmentID, 3)
        try worker.stop()
    }

    // MARK: - One stage

    func testSingleStageMatchesTheGoldenGreedyOutput() throws {
        let reference = try Fixtures.reference("mqa")
        let coordinator = try FakeCoordinator()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-single")
        let register = try coordinator.expectRegister()
        let ready = try coordinator.assign("w-single", id: 11, stage: 0, of: 1, layers: 0..<layerCount)
        XCTAssertEqual(ready.assignmentID, 11)
        XCTAssertEqual(ready.workerID, "w-single")
        XCTAssertEqual(ready.layers, LayerRange(0..<layerCount))
        XCTAssertEqual(ready.kvBytesPerToken, UInt64(kvBytesPerTokenPerLayer * Int(layerCount)))
        XCTAssertGreaterThan(ready.kvCapacityBytes, 0)
        XCTAssertLessThanOrEqual(ready.kvCapacityBytes, 64 << 20)
        XCTAssertGreaterThan(ready.residentBytes, 0)
        try coordinator.connectStageZero(register.dataEndpoint)

        // One sequence alone: a prefill step, then one decode step per token.
        let first = reference.cases[0]
        var alone = [Generation(seqID: 1, prompt: first.prompt_ids)]
        let results = try runBatched(&alone, tokens: first.greedy_ids.count, coordinator: coordinator)
        assertMatchesReference(alone[0], first, "case 0 alone")
        for result in results {
            XCTAssertEqual(result.timings.map(\.stageIndex), [0])
            XCTAssertGreaterThan(result.timings[0].forwardNanoseconds, 0)
        }

        // All cases batched in the same steps (continuous batching): each gets its own result.
        var batch = reference.cases.enumerated().map { Generation(seqID: UInt64(10 + $0.offset), prompt: $0.element.prompt_ids) }
        _ = try runBatched(&batch, tokens: first.greedy_ids.count, coordinator: coordinator, firstStepID: 100)
        for (index, generation) in batch.enumerated() {
            assertMatchesReference(generation, reference.cases[index], "case \(index) batched")
        }
        try worker.stop()
    }

    // MARK: - Two stages

    func testTwoChainedStagesMatchTheGoldenGreedyOutput() throws {
        let reference = try Fixtures.reference("mqa")
        let coordinator = try FakeCoordinator()
        let first = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-stage0")
        let second = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-stage1")
        var endpoints: [String: String] = [:]
        for _ in 0..<2 {
            let register = try coordinator.expectRegister()
            endpoints[register.workerID] = register.dataEndpoint
        }
        let lastReady = try coordinator.assign("w-stage1", id: 1, stage: 1, of: 2, layers: 1..<layerCount)
        XCTAssertEqual(lastReady.kvBytesPerToken, UInt64(kvBytesPerTokenPerLayer * 2), "stage 1 caches its 2 layers only")
        let firstReady = try coordinator.assign("w-stage0", id: 2, stage: 0, of: 2, layers: 0..<1,
                                                next: try XCTUnwrap(endpoints["w-stage1"]))
        XCTAssertEqual(firstReady.kvBytesPerToken, UInt64(kvBytesPerTokenPerLayer), "stage 0 caches its 1 layer only")
        try coordinator.connectStageZero(try XCTUnwrap(endpoints["w-stage0"]))

        var batch = reference.cases.enumerated().map { Generation(seqID: UInt64(1 + $0.offset), prompt: $0.element.prompt_ids) }
        let results = try runBatched(&batch, tokens: reference.cases[0].greedy_ids.count, coordinator: coordinator)
        for (index, generation) in batch.enumerated() {
            assertMatchesReference(generation, reference.cases[index], "case \(index) over two stages")
        }
        for result in results {
            XCTAssertEqual(result.timings.map(\.stageIndex), [0, 1], "each stage appends its timing")
        }
        XCTAssertEqual(first.service.status.load.activeSequences, 3)
        try first.stop()
        try second.stop()
    }

    /// A last stage fed activations computed here with MQModel (layer 0 with the embedding), and
    /// bad tensors around them: wrong byte count, wrong hidden size, missing tensor.
    func testLastStageTakesActivationsAndRefusesBadTensors() throws {
        let reference = try Fixtures.reference("mqa")
        let coordinator = try FakeCoordinator()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-last")
        let register = try coordinator.expectRegister()
        try coordinator.assign("w-last", id: 1, stage: 1, of: 2, layers: 1..<layerCount)
        try coordinator.connectStageZero(register.dataEndpoint)   // the "previous stage" here

        // Stage 0 computed in the test: embedding + layer 0 over the prompt.
        let prompt = reference.cases[0].prompt_ids
        let checkpoint = try Checkpoint(directory: URL(fileURLWithPath: Fixtures.model("mqa")))
        let stageZero = try ModelRegistry.load(checkpoint, layers: 0..<1, embedding: true, head: false, compute: .allCores)
        let cache = try KVCache(layers: 0..<1, kvDim: 16, blocks: 4)
        try cache.reserve(sequence: 1, positions: prompt.count)
        let tokens = prompt.enumerated().map { StepToken(sequence: 1, position: $0.offset, token: Int($0.element)) }
        var activations = [Float](repeating: 0, count: prompt.count * hidden)
        try activations.withUnsafeMutableBufferPointer { buffer in
            try stageZero.embed(tokens, into: buffer.baseAddress!)
            try stageZero.forward(tokens, hidden: buffer.baseAddress!, cache: cache)
        }
        let bytes = activations.withUnsafeBufferPointer { StepFrames.tensorBytes($0) }
        let part = StepSequence(seqID: 1, position: 0, tokenIDs: prompt, sample: true, sampling: greedy)
        func step(_ id: UInt64, tensor: TensorDesc?) -> [UInt8] {
            WorkerMessage.step(Step(stepID: id, stageIndex: 1, sequences: [part], tensor: tensor)).encode()
        }
        let desc = TensorDesc.activations(tokens: prompt.count, hidden: hidden)

        try coordinator.pushFrames([step(1, tensor: desc), Array(bytes.dropLast(4))])
        let short = try coordinator.expectError()
        XCTAssertEqual(short.code, .malformedMessage)
        XCTAssertTrue(short.message.contains("tensor frame"), short.message)

        try coordinator.pushFrames([step(2, tensor: .activations(tokens: prompt.count, hidden: hidden / 2)), Array(bytes.prefix(bytes.count / 2))])
        let narrow = try coordinator.expectError()
        XCTAssertEqual(narrow.code, .malformedMessage)
        XCTAssertEqual(narrow.stepID, 2)
        XCTAssertTrue(narrow.message.contains("hidden size is 64"), narrow.message)

        try coordinator.pushFrames([step(3, tensor: nil)])
        let missing = try coordinator.expectError()
        XCTAssertEqual(missing.code, .malformedMessage)
        XCTAssertEqual(missing.stepID, 3)

        try coordinator.pushFrames([step(4, tensor: desc), bytes])
        let result = try coordinator.expectStepResult()
        XCTAssertEqual(result.stepID, 4)
        XCTAssertEqual(result.results.map(\.tokenID), [reference.cases[0].greedy_ids[0]])
        XCTAssertEqual(Double(result.results[0].logprob), reference.cases[0].greedy_logprobs[0], accuracy: 1e-4)
        XCTAssertEqual(worker.service.status.load.activeSequences, 1, "the failed steps left no sequence behind")
        try worker.stop()
    }

    // MARK: - Bad input

    func testMalformedStepsGetWorkerErrorsAndTheNextGoodStepWorks() throws {
        let coordinator = try FakeCoordinator()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-bad")
        let register = try coordinator.expectRegister()
        try coordinator.assign("w-bad", id: 1, stage: 0, of: 1, layers: 0..<layerCount)
        try coordinator.connectStageZero(register.dataEndpoint)

        var generator = SystemRandomNumberGenerator()
        let random = (0..<200).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let good = WorkerMessage.step(Step(stepID: 9, stageIndex: 0, sequences: [Generation(seqID: 1, prompt: [166]).nextPart])).encode()
        let badFrames: [(String, [[UInt8]])] = [
            ("random bytes", [random]),
            ("truncated Step", [Array(good.prefix(good.count / 2))]),
            ("three frames", [good, [1, 2, 3], [4]]),
            ("a Register on the data socket", [WorkerMessage.register(Register(workerID: "x", memoryBytes: 1, dataEndpoint: "tcp://127.0.0.1:1", pid: 1, host: "h")).encode()]),
            ("a tensor sent to stage 0", [
                WorkerMessage.step(Step(stepID: 5, stageIndex: 0, sequences: [Generation(seqID: 1, prompt: [166]).nextPart],
                                        tensor: .activations(tokens: 1, hidden: hidden))).encode(),
                [UInt8](repeating: 0, count: hidden * 4)]),
            ("a step for stage 3", [WorkerMessage.step(Step(stepID: 6, stageIndex: 3, sequences: [Generation(seqID: 1, prompt: [166]).nextPart])).encode()]),
            ("a token id outside the vocabulary", [WorkerMessage.step(Step(stepID: 7, stageIndex: 0, sequences: [Generation(seqID: 1, prompt: [166, 600]).nextPart])).encode()]),
        ]
        for (label, frames) in badFrames {
            try coordinator.pushFrames(frames)
            let error = try coordinator.expectError()
            XCTAssertEqual(error.code, .malformedMessage, "\(label): \(error)")
        }
        // Sampling parameters out of range: the coordinator's own validation, answered, never a trap.
        let badSampling: [(SamplingParams, String)] = [
            (SamplingParams(temperature: 1, topP: 2), "top_p"),
            (SamplingParams(topK: .max), "top_k"),
            (SamplingParams(stopStrings: [""]), "stop_strings[0]"),
            (SamplingParams(topLogprobs: 1000), "top_logprobs"),
        ]
        for (i, (sampling, field)) in badSampling.enumerated() {
            try coordinator.pushStep(Step(stepID: 100 + UInt64(i), stageIndex: 0,
                                          sequences: [StepSequence(seqID: 2, position: 0, tokenIDs: [166], sampling: sampling)]))
            let error = try coordinator.expectError()
            XCTAssertEqual(error.code, .malformedMessage, "\(field): \(error)")
            XCTAssertEqual(error.seqID, 2)
            XCTAssertTrue(error.message.contains(field), "\(field) should be named: \(error)")
        }
        // Positions that do not match the cache.
        try coordinator.pushStep(Step(stepID: 8, stageIndex: 0, sequences: [StepSequence(seqID: 1, position: 4, tokenIDs: [3])]))
        let unknown = try coordinator.expectError()
        XCTAssertEqual(unknown.code, .unknownSequence)
        XCTAssertEqual(unknown.seqID, 1)

        try coordinator.pushFrames([good])
        let result = try coordinator.expectStepResult()
        XCTAssertEqual(result.stepID, 9)
        XCTAssertEqual(result.results.map(\.tokenID), [22], "the fixture's first greedy token after [166]")

        try coordinator.pushStep(Step(stepID: 10, stageIndex: 0, sequences: [StepSequence(seqID: 1, position: 0, tokenIDs: [1], sampling: greedy)]))
        let restart = try coordinator.expectError()
        XCTAssertEqual(restart.code, .unknownSequence, "a held sequence cannot start again at position 0")

        // Garbage on the control socket is answered too, and the worker keeps serving.
        try coordinator.router.send(to: try XCTUnwrap(coordinator.identities["w-bad"]), frames: [random])
        XCTAssertEqual(try coordinator.expectError().code, .malformedMessage)
        try coordinator.pushStep(Step(stepID: 11, stageIndex: 0, sequences: [StepSequence(seqID: 1, position: 1, tokenIDs: [22])]))
        XCTAssertEqual(try coordinator.expectStepResult().results.map(\.tokenID), [271])
        try worker.stop()
    }

    func testABurstOfJunkFramesWritesABoundedNumberOfWarnings() throws {
        let coordinator = try FakeCoordinator()
        let log = CapturedLog()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-junk", logger: log.logger)
        let register = try coordinator.expectRegister()
        try coordinator.assign("w-junk", id: 1, stage: 0, of: 1, layers: 0..<layerCount)
        try coordinator.connectStageZero(register.dataEndpoint)
        let junk = 2_000
        for i in 0..<junk {
            try coordinator.pushFrames([[UInt8(i % 256), 0xff, 0xff]])
            _ = try coordinator.expectError()   // each is still answered
        }
        try coordinator.router.send(to: try XCTUnwrap(coordinator.identities["w-junk"]), frames: [[0xff, 0xff]])
        XCTAssertEqual(try coordinator.expectError().code, .malformedMessage)
        try worker.stop()
        let dropped = log.all.filter { $0.contains("dropping a data-plane message") }.count
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertLessThanOrEqual(dropped, TransportDefaults.warningBurst, "\(junk) junk frames must not write a line each")
        XCTAssertLessThan(log.all.count, 20, log.all.joined(separator: "\n"))
    }

    func testFullKVCacheFailsTheStepAndServingContinues() throws {
        let coordinator = try FakeCoordinator()
        // One block of 16 positions over 3 layers.
        let blockBytes = UInt64(16 * kvBytesPerTokenPerLayer * Int(layerCount))
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-full", kvMemoryBytes: blockBytes)
        let register = try coordinator.expectRegister()
        let ready = try coordinator.assign("w-full", id: 1, stage: 0, of: 1, layers: 0..<layerCount)
        XCTAssertEqual(ready.kvCapacityBytes, blockBytes)
        try coordinator.connectStageZero(register.dataEndpoint)

        let long = Generation(seqID: 1, prompt: Array(repeating: 5, count: 20))
        try coordinator.pushStep(Step(stepID: 1, stageIndex: 0, sequences: [long.nextPart]))
        let full = try coordinator.expectError()
        XCTAssertEqual(full.code, .kvCacheFull)
        XCTAssertEqual(full.seqID, 1)
        XCTAssertEqual(full.stepID, 1)

        var short = [Generation(seqID: 2, prompt: [166])]
        _ = try runBatched(&short, tokens: 3, coordinator: coordinator, firstStepID: 2)
        XCTAssertEqual(short[0].ids, [22, 271, 473])
        XCTAssertEqual(worker.service.status.load.activeSequences, 1)
        try worker.stop()
    }

    // MARK: - Release, reassignment

    func testReleaseFreesTheCacheAndLateStepsAreDropped() throws {
        let coordinator = try FakeCoordinator()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-release")
        let register = try coordinator.expectRegister()
        let ready = try coordinator.assign("w-release", id: 1, stage: 0, of: 1, layers: 0..<layerCount)
        try coordinator.connectStageZero(register.dataEndpoint)

        var generations = [Generation(seqID: 1, prompt: [166]), Generation(seqID: 2, prompt: [1, 2, 3])]
        _ = try runBatched(&generations, tokens: 2, coordinator: coordinator)
        let busy = try coordinator.waitForHeartbeat(from: "w-release") { $0.load?.activeSequences == 2 }
        XCTAssertGreaterThan(busy.load?.kvUsedBytes ?? 0, 0)
        XCTAssertEqual(busy.load?.stepsDone, 2)

        try coordinator.send(.release(Release(seqIDs: [1, 99])), to: "w-release")
        let one = try coordinator.waitForHeartbeat(from: "w-release") { $0.load?.activeSequences == 1 }
        XCTAssertLessThan(one.load?.kvUsedBytes ?? .max, busy.load?.kvUsedBytes ?? 0)

        // A step for a released sequence (late on the data socket) is dropped without a reply.
        try coordinator.pushStep(Step(stepID: 3, stageIndex: 0, sequences: [generations[0].nextPart]))
        try coordinator.pushStep(Step(stepID: 4, stageIndex: 0, sequences: [generations[1].nextPart]))
        let result = try coordinator.expectStepResult()
        XCTAssertEqual(result.stepID, 4, "step 3 names a released sequence and must be dropped")

        try coordinator.send(.release(Release(seqIDs: [2])), to: "w-release")
        let idle = try coordinator.waitForHeartbeat(from: "w-release") { $0.load?.activeSequences == 0 }
        XCTAssertEqual(idle.load?.kvUsedBytes, 0)
        XCTAssertEqual(idle.load?.kvCapacityBytes, ready.kvCapacityBytes)

        // The same assignment again: weights kept, every sequence dropped, Ready with the new id.
        var fresh = [Generation(seqID: 3, prompt: [166])]
        _ = try runBatched(&fresh, tokens: 1, coordinator: coordinator, firstStepID: 5)
        let again = try coordinator.assign("w-release", id: 2, stage: 0, of: 1, layers: 0..<layerCount)
        XCTAssertEqual(again.assignmentID, 2)
        XCTAssertEqual(worker.service.status.load.activeSequences, 0)
        try worker.stop()
    }

    // MARK: - Lifecycle

    func testVersionMismatchStopsTheWorkerWithAnError() throws {
        let coordinator = try FakeCoordinator()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-version")
        let register = try coordinator.expectRegister()
        let refusal = WorkerError.versionMismatch(worker: ProtocolVersion(major: register.version.major + 1, minor: 0))
        try coordinator.send(.error(refusal), to: "w-version")
        XCTAssertThrowsError(try worker.thread.join(timeout: patience)) { error in
            guard case let .versionMismatch(message)? = error as? WorkerServiceError else {
                return XCTFail("expected versionMismatch, got \(error)")
            }
            XCTAssertTrue(message.contains("protocol version mismatch"), message)
        }
    }

    func testStopSendsShutdownToTheCoordinator() throws {
        let coordinator = try FakeCoordinator()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-stop")
        _ = try coordinator.expectRegister()
        worker.service.stop(reason: "maintenance")
        let (_, message) = try coordinator.next()
        XCTAssertEqual(message, .shutdown(Shutdown(reason: "maintenance")))
        XCTAssertTrue(try worker.thread.join(timeout: patience))
    }

    func testShutdownFromTheCoordinatorEndsRun() throws {
        let coordinator = try FakeCoordinator()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-exit")
        _ = try coordinator.expectRegister()
        try coordinator.assign("w-exit", id: 1, stage: 0, of: 1, layers: 0..<layerCount)
        try coordinator.send(.shutdown(Shutdown(reason: "cluster stopping")), to: "w-exit")
        XCTAssertTrue(try worker.thread.join(timeout: patience), "run() returns normally")
        XCTAssertEqual(try coordinator.drain(for: .milliseconds(100)), [], "no Shutdown echoed back")
    }

    func testSilentCoordinatorMakesTheWorkerRegisterAgain() throws {
        let coordinator = try FakeCoordinator()
        coordinator.sendsHeartbeats = false
        let fast = WorkerTiming(heartbeatInterval: .milliseconds(20), heartbeatLiveness: 3,
                                reconnectInitialBackoff: .milliseconds(20), reconnectMaxBackoff: .milliseconds(80),
                                registerRetryInterval: .milliseconds(10))
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-silent", timing: fast)
        let firstRegister = try coordinator.expectRegister()
        let firstIdentity = try XCTUnwrap(coordinator.identities["w-silent"])
        let secondRegister = try coordinator.expectRegister()
        XCTAssertEqual(secondRegister, firstRegister, "the same Register on a new connection")
        XCTAssertNotEqual(coordinator.identities["w-silent"], firstIdentity, "a fresh DEALER")
        XCTAssertGreaterThanOrEqual(worker.service.status.reconnects, 1)
        try worker.stop()
    }

    func testAWorkerStartedBeforeItsCoordinatorRegistersWhenItAppears() throws {
        // A port nobody listens on yet: bind, note it, close.
        let probe = try FakeCoordinator()
        let endpoint = probe.endpoint
        probe.router.close()
        let worker = try RunningWorker(coordinator: endpoint, workerID: "w-early-bird")
        // Let the worker try (and fail) to send its Register a few times.
        let waitUntil = ContinuousClock.now + .milliseconds(200)
        while ContinuousClock.now < waitUntil { XCTAssertFalse(worker.service.status.registered); usleep(20_000) }
        let coordinator = try FakeCoordinator(bind: endpoint)
        let register = try coordinator.expectRegister()
        XCTAssertEqual(register.workerID, "w-early-bird")
        XCTAssertEqual(worker.service.status.reconnects, 0, "waiting for the first connection is not a reconnect")
        try worker.stop()
    }

    func testRunCanOnlyBeCalledOnce() throws {
        let coordinator = try FakeCoordinator()
        let worker = try RunningWorker(coordinator: coordinator.endpoint, workerID: "w-once")
        _ = try coordinator.expectRegister()
        XCTAssertThrowsError(try worker.service.run()) { error in
            XCTAssertEqual(error as? WorkerServiceError, .alreadyStarted)
        }
        try worker.stop()
    }
}
