// Test scaffolding for MQWorker: fixture lookup, in-process workers on their own threads, and a
// fake coordinator made of the real sockets a coordinator uses (a ROUTER for the control plane,
// a PUSH to stage 0), all over tcp on 127.0.0.1. Every wait is bounded by `patience`, so a broken
// worker fails a test instead of hanging the suite; nothing asserts how long anything takes.

import Foundation
import Logging
import MQProtocol
import MQTransport
import MQWorker
import XCTest

/// Upper bound for anything that should happen promptly on loopback; only guards against hangs.
let patience: Duration = .seconds(10)

/// Timing for tests: frequent heartbeats (so load changes show quickly) and a long expiry (so a
/// test thread busy for a moment never makes the worker reconnect).
let testTiming = WorkerTiming(heartbeatInterval: .milliseconds(50), heartbeatLiveness: 100,
                              reconnectInitialBackoff: .milliseconds(50), reconnectMaxBackoff: .milliseconds(200),
                              registerRetryInterval: .milliseconds(10), forwardTimeout: .seconds(5))

enum Fixtures {
    /// Tests/Fixtures, found from this source file's path.
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            let fixtures = url.appendingPathComponent("Fixtures")
            if url.lastPathComponent == "Tests", FileManager.default.fileExists(atPath: fixtures.path) { return fixtures }
        }
        fatalError("Tests/Fixtures not found above \(#filePath)")
    }()

    static func model(_ name: String) -> String { root.appendingPathComponent("models/\(name)").path }

    struct Case: Decodable {
        var prompt_ids: [UInt32]
        var greedy_ids: [UInt32]
        var greedy_logprobs: [Double]
    }

    struct Reference: Decodable {
        var cases: [Case]
    }

    static func reference(_ name: String) throws -> Reference {
        let data = try Data(contentsOf: root.appendingPathComponent("models/\(name)/reference.json"))
        return try JSONDecoder().decode(Reference.self, from: data)
    }
}

/// Logs of the workers under test: errors only, unless MQ_TEST_LOG_LEVEL asks for more.
let testLogger: Logger = {
    let level = ProcessInfo.processInfo.environment["MQ_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return Logger(label: "mq.worker.test") { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}()

/// A log handler that keeps every line it is given (for tests that count log lines).
final class CapturedLog: @unchecked Sendable {
    // @unchecked: `lines` is only touched while holding `lock`.
    private let lock = NSLock()
    private var lines: [String] = []

    var all: [String] { lock.withLock { lines } }

    var logger: Logger {
        Logger(label: "mq.worker.test.captured") { _ in Handler(log: self) }
    }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var logLevel: Logger.Level = .warning
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            log.lock.withLock { log.lines.append("\(level): \(message)") }
        }
    }
}

/// A WorkerService running `run()` on its own thread.
final class RunningWorker {
    let service: WorkerService
    let thread: ZMQServiceThread

    init(coordinator: String, workerID: String, kvMemoryBytes: UInt64 = 64 << 20, timing: WorkerTiming = testTiming,
         logger: Logger = testLogger) throws {
        let configuration = WorkerConfiguration(coordinatorEndpoint: coordinator, workerID: workerID,
                                                memoryBytes: 1 << 30, kvMemoryBytes: kvMemoryBytes,
                                                timing: timing, logger: logger)
        let service = try WorkerService(configuration: configuration)
        self.service = service
        thread = ZMQServiceThread.start(name: "test-\(workerID)") { try service.run() }
    }

    /// Stops the worker and waits for `run()` to return; rethrows what it threw.
    func stop() throws {
        service.stop(reason: "test finished")
        XCTAssertTrue(try thread.join(timeout: patience), "worker did not stop")
    }

    deinit {
        service.stop(reason: "test finished")
        _ = try? thread.join(timeout: patience)
    }
}

/// The coordinator's side of the worker plane, driven by the test thread.
final class FakeCoordinator {
    let context: ZMQContext
    let router: ZMQSocket
    let endpoint: String
    /// Routing identities of workers by worker id, learned from their Register.
    private(set) var identities: [String: [UInt8]] = [:]
    private var push: ZMQSocket?
    private var lastHeartbeat = ContinuousClock.now
    /// Heartbeats the test sees while waiting for other messages, newest last.
    private(set) var heartbeats: [(worker: String, heartbeat: Heartbeat)] = []
    var sendsHeartbeats = true

    init(bind: String = "tcp://127.0.0.1:*") throws {
        context = try ZMQContext()
        router = try ZMQSocket(context, type: .router, name: "fake-coordinator")
        try router.setRouterMandatory(true)
        endpoint = try router.bind(bind)
    }

    deinit {
        push?.close()
        router.close()
    }

    /// The next message from any worker that is not a heartbeat (heartbeats are recorded), while
    /// heartbeating every known worker as a coordinator does.
    func next(file: StaticString = #filePath, line: UInt = #line) throws -> (identity: [UInt8], message: WorkerMessage) {
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline {
            heartbeatIfDue()
            guard let routed = try router.receiveRouted(timeout: .milliseconds(20)) else { continue }
            let message = try WorkerMessage.decode(frames: routed.frames)
            if case let .register(register) = message { identities[register.workerID] = routed.identity }
            if case let .heartbeat(heartbeat) = message {
                heartbeats.append((heartbeat.workerID, heartbeat))
                continue
            }
            return (routed.identity, message)
        }
        XCTFail("no message from a worker within \(patience)", file: file, line: line)
        throw TestFailure.timeout
    }

    /// Waits for the next non-heartbeat message and requires it to be a Register.
    func expectRegister(file: StaticString = #filePath, line: UInt = #line) throws -> Register {
        let (_, message) = try next(file: file, line: line)
        guard case let .register(register) = message else {
            XCTFail("expected Register, got \(message)", file: file, line: line)
            throw TestFailure.unexpected(message)
        }
        return register
    }

    func expectReady(file: StaticString = #filePath, line: UInt = #line) throws -> Ready {
        let (_, message) = try next(file: file, line: line)
        guard case let .ready(ready) = message else {
            XCTFail("expected Ready, got \(message)", file: file, line: line)
            throw TestFailure.unexpected(message)
        }
        return ready
    }

    func expectStepResult(file: StaticString = #filePath, line: UInt = #line) throws -> StepResult {
        let (_, message) = try next(file: file, line: line)
        guard case let .stepResult(result) = message else {
            XCTFail("expected StepResult, got \(message)", file: file, line: line)
            throw TestFailure.unexpected(message)
        }
        return result
    }

    func expectError(file: StaticString = #filePath, line: UInt = #line) throws -> WorkerError {
        let (_, message) = try next(file: file, line: line)
        guard case let .error(error) = message else {
            XCTFail("expected WorkerError, got \(message)", file: file, line: line)
            throw TestFailure.unexpected(message)
        }
        return error
    }

    /// Waits until a heartbeat from `worker` satisfies `condition`; returns it.
    func waitForHeartbeat(from worker: String, file: StaticString = #filePath, line: UInt = #line,
                          _ condition: (Heartbeat) -> Bool) throws -> Heartbeat {
        let deadline = ContinuousClock.now + patience
        heartbeats.removeAll()
        while ContinuousClock.now < deadline {
            heartbeatIfDue()
            guard let routed = try router.receiveRouted(timeout: .milliseconds(20)) else { continue }
            let message = try WorkerMessage.decode(frames: routed.frames)
            if case let .heartbeat(heartbeat) = message, heartbeat.workerID == worker, condition(heartbeat) {
                return heartbeat
            }
        }
        XCTFail("no matching heartbeat from \(worker) within \(patience)", file: file, line: line)
        throw TestFailure.timeout
    }

    /// Receives for `duration` and returns every non-heartbeat message (to show that nothing came).
    func drain(for duration: Duration) throws -> [WorkerMessage] {
        var messages: [WorkerMessage] = []
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline {
            heartbeatIfDue()
            guard let routed = try router.receiveRouted(timeout: .milliseconds(10)) else { continue }
            let message = try WorkerMessage.decode(frames: routed.frames)
            if case .heartbeat = message { continue }
            messages.append(message)
        }
        return messages
    }

    func send(_ message: WorkerMessage, to worker: String) throws {
        let identity = try XCTUnwrap(identities[worker], "worker \(worker) has not registered")
        try router.send(to: identity, frames: [message.encode()])
    }

    /// Sends an Assign and returns the worker's Ready.
    @discardableResult
    func assign(_ worker: String, id: UInt64, stage: UInt32, of stages: UInt32, layers: Range<UInt32>,
                next: String = "", model: String = Fixtures.model("mqa"), kvCapacity: UInt64 = 0) throws -> Ready {
        try send(.assign(Assign(assignmentID: id, modelPath: model, stageIndex: stage, numStages: stages,
                                layers: LayerRange(layers), nextEndpoint: next, kvCapacityBytes: kvCapacity)), to: worker)
        return try expectReady()
    }

    /// Connects the PUSH socket to stage 0's data endpoint.
    func connectStageZero(_ endpoint: String) throws {
        let socket = try ZMQSocket(context, type: .push, name: "fake-coordinator-push")
        try socket.connect(endpoint)
        push = socket
    }

    /// Pushes raw frames to stage 0 (valid or not).
    func pushFrames(_ frames: [[UInt8]]) throws {
        try XCTUnwrap(push, "connectStageZero first").send(frames: frames)
    }

    func pushStep(_ step: Step) throws {
        try pushFrames([WorkerMessage.step(step).encode()])
    }

    private func heartbeatIfDue() {
        guard sendsHeartbeats, ContinuousClock.now - lastHeartbeat >= testTiming.heartbeatInterval else { return }
        lastHeartbeat = .now
        let frame = WorkerMessage.heartbeat(Heartbeat(sentUnixMilliseconds: 0)).encode()
        for identity in identities.values {
            _ = try? router.trySend(to: identity, frames: [frame])
        }
    }
}

enum TestFailure: Error {
    case timeout
    case unexpected(WorkerMessage)
}

/// Greedy parameters with a seed, as the coordinator sends them.
let greedy = SamplingParams(seed: 7)

/// One sequence's generation driven step by step: its prompt, then the fed-back tokens.
struct Generation {
    let seqID: UInt64
    let prompt: [UInt32]
    var ids: [UInt32] = []
    var logprobs: [Float] = []

    init(seqID: UInt64, prompt: [UInt32]) {
        self.seqID = seqID
        self.prompt = prompt
    }

    /// This sequence's part of the next step.
    var nextPart: StepSequence {
        ids.isEmpty
            ? StepSequence(seqID: seqID, position: 0, tokenIDs: prompt, sample: true, sampling: greedy)
            : StepSequence(seqID: seqID, position: UInt32(prompt.count + ids.count - 1), tokenIDs: [ids.last!])
    }
}

/// Runs `generations` together (one batched step per token) through the pipeline whose stage 0
/// the coordinator pushes to, for `tokens` tokens each; step ids start at `firstStepID`.
func runBatched(_ generations: inout [Generation], tokens: Int, coordinator: FakeCoordinator,
                firstStepID: UInt64 = 1, file: StaticString = #filePath, line: UInt = #line) throws -> [StepResult] {
    var results: [StepResult] = []
    for index in 0..<tokens {
        let stepID = firstStepID + UInt64(index)
        try coordinator.pushStep(Step(stepID: stepID, stageIndex: 0, sequences: generations.map(\.nextPart)))
        let result = try coordinator.expectStepResult(file: file, line: line)
        XCTAssertEqual(result.stepID, stepID, file: file, line: line)
        XCTAssertEqual(result.results.map(\.seqID), generations.map(\.seqID), file: file, line: line)
        for (g, r) in zip(generations.indices, result.results) {
            generations[g].ids.append(r.tokenID)
            generations[g].logprobs.append(r.logprob)
        }
        results.append(result)
    }
    return results
}

/// Checks greedy ids exactly and log probabilities within 1e-4 (MQModelTests' golden tolerance:
/// float32 summation order differs from PyTorch's).
func assertMatchesReference(_ generation: Generation, _ reference: Fixtures.Case, _ label: String,
                            file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(generation.ids, reference.greedy_ids, "\(label): greedy ids", file: file, line: line)
    let worst = zip(generation.logprobs, reference.greedy_logprobs).map { abs(Double($0) - $1) }.max() ?? .infinity
    XCTAssertLessThan(worst, 1e-4, "\(label): worst logprob difference \(worst)", file: file, line: line)
}
