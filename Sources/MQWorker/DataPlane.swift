// The data-plane thread of a worker: it owns the PULL socket (steps in), the PUSH socket (steps
// out to the next stage) and the Stage (model, KV cache, samplers). It takes commands from the
// control thread through a mailbox (Assign, Release, drop everything, stop) and hands it frames to
// send to the coordinator (Ready, StepResult, WorkerError) through another. Loading and computing
// happen here, so the control thread keeps heartbeating through a long load or a long prefill.

import Foundation
import Logging
import MQModel
import MQProtocol
import MQTransport

/// Control thread -> data thread.
enum DataCommand: Sendable {
    case assign(Assign)
    case release([UInt64])
    /// Forget every sequence; `forgetReleased` also clears the released-id memory (the worker is
    /// registering anew, and a restarted coordinator numbers sequences from the start).
    case dropAll(reason: String, forgetReleased: Bool)
    /// Return after the current step.
    case stop
}

/// Data thread (or `stop()`) -> control thread.
enum ControlEvent: Sendable {
    /// Drain and leave; the reason goes into the Shutdown sent to the coordinator.
    case stop(reason: String)
    /// One encoded WorkerMessage frame for the coordinator.
    case send([UInt8])
    /// The data thread returned: nil when asked to stop, else its error.
    case dataPlaneEnded(String?)
}

/// The load the data thread publishes after every change, read by the control thread for its
/// heartbeats (and by tests).
final class LoadBoard: @unchecked Sendable {
    // @unchecked: `load` is only touched under `lock`.
    private let lock = NSLock()
    private var load = WorkerLoad(activeSequences: 0, kvUsedBytes: 0, kvCapacityBytes: 0, stepsDone: 0)

    var snapshot: WorkerLoad {
        lock.lock(); defer { lock.unlock() }
        return load
    }

    func publish(_ value: WorkerLoad) {
        lock.lock(); defer { lock.unlock() }
        load = value
    }
}

final class DataPlane {
    private let context: ZMQContext
    private let pull: ZMQSocket
    private let commands: ZMQMailbox<DataCommand>
    private let events: ZMQMailbox<ControlEvent>
    private let board: LoadBoard
    private let configuration: WorkerConfiguration
    private var logger: Logger

    private var stage: Stage?
    private var push: ZMQSocket?
    private var pushEndpoint = ""
    private var released = ReleasedSequences()
    private var stepsDone: UInt64 = 0
    /// The ZAP handler of the data socket (nil without CURVE) and the one key allowed to push
    /// into it now (the previous stage's, or the coordinator's for stage 0).
    private let zap: ZAPHandler?
    private var allowedSender: String?
    private var pushKey = ""
    /// Bounds the warnings a flood of junk on the data socket can write.
    private var warnings = WarningLimiter()

    init(context: ZMQContext, pull: ZMQSocket, commands: ZMQMailbox<DataCommand>, events: ZMQMailbox<ControlEvent>,
         board: LoadBoard, configuration: WorkerConfiguration, zap: ZAPHandler? = nil) {
        self.zap = zap
        self.context = context
        self.pull = pull
        self.commands = commands
        self.events = events
        self.board = board
        self.configuration = configuration
        self.logger = configuration.logger
    }

    /// Serves until `.stop` (returns) or a transport failure (throws). Commands are handled before
    /// each step, so a Release that arrived first is honoured first.
    func run() throws {
        defer {
            push?.close()
            pull.close()
        }
        var poller = ZMQPoller()
        let stepsIndex = poller.add(pull)
        let commandsIndex = poller.add(commands)
        while true {
            // Waits without a timeout unless a summary of suppressed warnings is due.
            let ready = try poller.poll(timeout: warnings.nextSummaryDue.map { max(.zero, $0 - .now) })
            for summary in warnings.flush(now: .now) { logger.warning("\(summary)") }
            if ready.isReadable(commandsIndex) {
                for command in commands.drain() {
                    if case .stop = command { return }
                    handle(command)
                }
            }
            if ready.isReadable(stepsIndex) {
                // The frames stay in libzmq's buffers: the activations are copied once, into the
                // stage's hidden buffer.
                _ = try pull.withNextMessage { frames in
                    // A connection admitted under an earlier assignment may still be open: each
                    // message must come from the sender the current one names.
                    if configuration.security != nil, pull.lastUserID == nil || pull.lastUserID != allowedSender {
                        warnings.warn("data-wrong-sender", "dropped a data message from \(pull.lastUserID ?? "an unauthenticated peer"): not the previous stage of this assignment", to: logger)
                        return
                    }
                    handleStep(frames, receivedAt: .now)
                }
            }
        }
    }

    // MARK: - Commands

    private func handle(_ command: DataCommand) {
        switch command {
        case let .assign(assign):
            handleAssign(assign)
        case let .release(ids):
            for id in ids { released.insert(id) }
            let freed = stage?.release(ids) ?? 0
            logger.debug("released \(freed) of \(ids.count) sequence(s)", metadata: ["seq_ids": "\(ids)"])
        case let .dropAll(reason, forgetReleased):
            if let stage, stage.activeSequences > 0 {
                logger.notice("dropping \(stage.activeSequences) sequence(s): \(reason)")
            }
            stage?.dropAllSequences()
            if forgetReleased { released.removeAll() }
        case .stop:
            break
        }
        publishLoad()
    }

    private func handleAssign(_ assign: Assign) {
        let path = configuration.modelPathOverride ?? assign.modelPath
        let identity = Stage.identity(of: assign, modelPath: path)
        if assign.standby {
            // Loading ahead while waiting as a standby: nobody may push until it takes a stage.
            allowedSender = nil
            zap?.setPolicy(.nobody, for: WorkerSecurity.dataDomain)
        } else if configuration.security != nil {
            // From now on only the sender this assignment names may push into the data socket.
            guard let sender = try? CurvePublicKey(z85: assign.previousKey),
                  assign.isLast || (try? CurvePublicKey(z85: assign.nextKey)) != nil else {
                stage = nil
                closeOutput()
                send(.error(WorkerError(code: .invalidAssignment, message:
                    "assignment \(assign.assignmentID): this worker runs with CURVE keys, but the Assign names no valid previous_key/next_key (is the coordinator running without --curve-key?)")))
                return
            }
            allowedSender = sender.z85
            zap?.setPolicy(.keys([sender]), for: WorkerSecurity.dataDomain)
        }
        let budget = assign.kvCapacityBytes == 0 ? configuration.kvMemoryBytes : min(assign.kvCapacityBytes, configuration.kvMemoryBytes)
        do throws(WorkerError) {
            if let stage, stage.identity == identity {
                try stage.reassign(assign, kvBudgetBytes: budget)
                logger.info("assignment \(assign.assignmentID): same \(identity), weights kept; all sequences dropped")
            } else {
                if let old = stage {
                    logger.info("assignment \(assign.assignmentID): replacing \(old.identity)")
                }
                // Free the old weights and cache before mapping new ones, to keep the peak low.
                stage = nil
                logger.info("assignment \(assign.assignmentID): loading \(identity) as stage \(assign.stageIndex) of \(assign.numStages)")
                stage = try Stage.load(assign, modelPath: path, kvBudgetBytes: budget, compute: configuration.compute,
                                   weights: configuration.weights, logger: logger)
            }
            keepOrDropOutput(assign)
        } catch {
            // No half-usable assignment: steps get NOT_READY until a good Assign arrives.
            stage = nil
            closeOutput()
            logger.error("\(error)")
            send(.error(error))
            return
        }
        guard let stage else { return }
        let ready = Ready(assignmentID: assign.assignmentID, workerID: configuration.workerID, layers: assign.layers,
                          residentBytes: HostInfo.residentBytes(), kvBytesPerToken: UInt64(stage.cache.bytesPerToken),
                          kvCapacityBytes: UInt64(stage.cache.capacityBytes), loadNanoseconds: stage.loadNanoseconds,
                          kvBlockTokens: UInt32(stage.cache.blockSize),
                          weightFormat: stage.model.weightFormat?.rawValue ?? "", weightBytes: UInt64(stage.model.weightBytesLoaded))
        let layers = identity.layers
        let summary =
            "stage \(assign.stageIndex) ready: layer \(layers.lowerBound) to layer \(layers.upperBound - 1) "
            + "(\(stage.shape.architecture), \(stage.shape.attentionKind)), loaded in \(Double(stage.loadNanoseconds) / 1e6) ms, "
            + "weights \(ready.weightFormat) \(ByteCount.format(ready.weightBytes)), process resident \(ByteCount.format(ready.residentBytes)), KV cache \(ByteCount.format(ready.kvCapacityBytes)) = "
            + "\(stage.cache.capacityTokens) tokens at \(ready.kvBytesPerToken) B/token, "
            + (assign.isLast ? "last stage (samples)" : "next stage \(assign.nextEndpoint)")
        logger.info("\(summary)")
        send(.ready(ready))
    }

    /// At an Assign: keeps the output socket when the next stage (endpoint and key) is unchanged,
    /// else closes it; the first step to forward connects it. Connecting lazily matters with
    /// CURVE: every stage gets its Assign at once, and a connection tried before the next stage
    /// has taken its own Assign (and so admits this stage's key) would be refused, and libzmq
    /// does not retry a refused handshake. Steps flow only once every stage is Ready.
    private func keepOrDropOutput(_ assign: Assign) {
        if assign.isLast || assign.standby || push == nil || pushEndpoint != assign.nextEndpoint || pushKey != assign.nextKey { closeOutput() }
    }

    /// Points the PUSH socket at the next stage. Kept when the endpoint and key are unchanged;
    /// libzmq reconnects it by itself if the peer restarts there.
    private func connectOutput(_ assign: Assign) throws(WorkerError) {
        guard !assign.isLast else { closeOutput(); return }
        if push != nil, pushEndpoint == assign.nextEndpoint, pushKey == assign.nextKey { return }
        closeOutput()
        do {
            let socket = try ZMQSocket(context, type: .push, name: "stage-\(assign.stageIndex)-out")
            if let security = configuration.security {
                try socket.secure(.curveClient(security.keys, server: try CurvePublicKey(z85: assign.nextKey)))
            }
            try socket.setImmediate(true)
            try socket.setSendTimeout(configuration.timing.forwardTimeout)
            try socket.setMaxMessageSize(Int64(ProtocolLimits.maxTensorBytes))
            try socket.connect(assign.nextEndpoint)
            push = socket
            pushEndpoint = assign.nextEndpoint
            pushKey = assign.nextKey
        } catch {
            throw WorkerError(code: .invalidAssignment,
                              message: "assignment \(assign.assignmentID): cannot connect to the next stage at \(assign.nextEndpoint): \(error)")
        }
    }

    private func closeOutput() {
        // The pipeline is being rewired: steps still queued for the old next stage are stale.
        try? push?.setLinger(.zero)
        push?.close()
        push = nil
        pushEndpoint = ""
        pushKey = ""
    }

    // MARK: - Steps

    private func handleStep(_ frames: [UnsafeRawBufferPointer], receivedAt: ContinuousClock.Instant) {
        defer { publishLoad() }
        let decoded: (step: Step, tensor: UnsafeRawBufferPointer?)
        do {
            decoded = try StepFrames.decodeInPlace(frames)
        } catch {
            let sizes = frames.map(\.count)
            warnings.warn("data-undecodable", "dropping a data-plane message with \(frames.count) frame(s) of \(sizes) bytes: \(error)",
                          to: logger)
            send(.error(WorkerError(code: .malformedMessage, message: "data-plane message: \(error)")))
            return
        }
        let step = decoded.step
        guard let stage else {
            send(.error(WorkerError(code: .notReady, message: "Step \(step.stepID): this worker has no loaded assignment",
                                    stepID: step.stepID)))
            return
        }
        if step.epoch != stage.assignment.epoch {
            warnings.warn("data-stale-epoch", "dropped Step \(step.stepID) of epoch \(step.epoch): this stage's assignment has epoch \(stage.assignment.epoch)", to: logger)
            return
        }
        // Releases ride in the step, in order with the steps: freed before its sequences run.
        if !step.releaseSeqIDs.isEmpty {
            for id in step.releaseSeqIDs { released.insert(id) }
            let freed = stage.release(step.releaseSeqIDs)
            logger.debug("Step \(step.stepID) released \(freed) of \(step.releaseSeqIDs.count) sequence(s)")
        }
        if let gone = step.sequences.first(where: { released.contains($0.seqID) }) {
            logger.notice("dropping Step \(step.stepID): sequence \(gone.seqID) was released")
            return
        }
        if step.sequences.isEmpty {
            // Releases only: pass them on (no tensor), or answer from the last stage.
            let timing = StageTiming(stageIndex: step.stageIndex, queueNanoseconds: 0, forwardNanoseconds: 0)
            if stage.assignment.isLast {
                send(.stepResult(StepResult(stepID: step.stepID, results: [], timings: step.timings + [timing], epoch: step.epoch)))
            } else {
                var next = step
                next.stageIndex += 1
                next.timings.append(timing)
                forward(next, nil)
            }
            return
        }
        let outcome: StepOutcome
        do throws(WorkerError) {
            outcome = try stage.process(step, tensor: decoded.tensor, receivedAt: receivedAt)
        } catch {
            logger.warning("Step \(step.stepID) failed: \(error)")
            send(.error(error))
            return
        }
        stepsDone += 1
        switch outcome {
        case let .result(result):
            send(.stepResult(result))
        case let .forward(next, activations):
            forward(next, activations)
        }
    }

    private func forward(_ step: Step, _ activations: UnsafeRawBufferPointer?) {
        if push == nil, let assign = stage?.assignment {
            do throws(WorkerError) { try connectOutput(assign) } catch {
                send(.error(WorkerError(code: .stepFailed, message: "Step \(step.stepID): \(error.message)", stepID: step.stepID)))
                return
            }
        }
        guard let push else {
            send(.error(WorkerError(code: .internalError, message: "Step \(step.stepID): no connection to a next stage",
                                    stepID: step.stepID)))
            return
        }
        do {
            let header = ZMQFrame.bytes(WorkerMessage.step(step).encode())
            let frames = activations.map { [header, .raw($0)] } ?? [header]
            // Wait for the next stage to take the step, but not past a command: when the next
            // stage died, the coordinator rewires the pipeline (a new Assign) long before the
            // forward timeout, and this stage must take that Assign at once, not after it.
            let deadline = ContinuousClock.now + configuration.timing.forwardTimeout
            while try !push.trySend(frames: frames) {
                var poller = ZMQPoller()
                let writable = poller.add(push, for: .writable)
                let interrupted = poller.add(commands)
                let remaining = deadline - ContinuousClock.now
                let ready = try poller.poll(timeout: max(.zero, remaining))
                if ready.isReadable(interrupted) {
                    logger.notice("Step \(step.stepID) not forwarded: a command arrived while the next stage at \(pushEndpoint) was not taking it")
                    closeOutput()
                    return
                }
                if !ready.isWritable(writable) && ContinuousClock.now >= deadline {
                    throw ZMQError(operation: "send", endpoint: pushEndpoint, code: EAGAIN, detail: "the next stage did not take the step")
                }
            }
        } catch let error as ZMQError {
            let timedOut = error.kind == .wouldBlock
            logger.warning("Step \(step.stepID) could not be handed to \(pushEndpoint): \(error)")
            send(.error(WorkerError(
                code: .stepFailed,
                message: timedOut
                    ? "Step \(step.stepID): the next stage at \(pushEndpoint) did not take it within \(configuration.timing.forwardTimeout)"
                    : "Step \(step.stepID): sending to the next stage at \(pushEndpoint) failed: \(error)",
                stepID: step.stepID)))
            // A socket that failed midway cannot send again, and one whose CURVE handshake was
            // refused (libzmq then gives up on that connection for good) never will: the next
            // step connects afresh.
            closeOutput()
        } catch {
            send(.error(WorkerError(code: .internalError, message: "Step \(step.stepID): \(error)", stepID: step.stepID)))
        }
    }

    // MARK: - Output to the control thread

    /// Publishes the load first, so that whoever sees this message also sees its effect on the
    /// load (a heartbeat or `WorkerService.status` read after a StepResult or Ready).
    private func send(_ message: WorkerMessage) {
        publishLoad()
        events.post(.send(message.encode()))
    }

    private func publishLoad() {
        board.publish(WorkerLoad(
            activeSequences: UInt32(clamping: stage?.activeSequences ?? 0),
            kvUsedBytes: UInt64(stage?.cache.usedBytes ?? 0),
            kvCapacityBytes: UInt64(stage?.cache.capacityBytes ?? 0),
            stepsDone: stepsDone))
    }
}

extension WarningLimiter {
    /// Writes a warning about one bad message to `logger`, unless a flood of its kind used up
    /// this interval's lines (then a summary line comes later).
    mutating func warn(_ kind: String, _ message: @autoclosure () -> Logger.Message, to logger: Logger,
                       now: ContinuousClock.Instant = .now) {
        guard case .write(let summary) = admit(kind, now: now) else { return }
        if let summary { logger.warning("\(summary)") }
        logger.warning(message())
    }
}
