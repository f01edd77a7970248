// The coordinator's socket loop: one thread that owns every socket. It serves client calls on a
// ROUTER (ClientIntake.swift), keeps the workers on a second ROUTER, PUSHes each step (token ids
// only) to stage 0, and receives the sampled tokens from the last stage; activations never pass
// through it. Every decision is the Scheduler's: this loop turns frames into its events and its
// commands into frames. See Protos/PROTOCOL.md for every flow.
import Foundation
import Logging
import MQCheckpoint
import MQModel
import MQProtocol
import MQTokenizer
import MQTransport

public final class CoordinatorService: @unchecked Sendable {
    // Safe to share: other threads only touch `mailbox` (thread-safe) and the immutable `config`.
    enum Command: Sendable {
        case stop
        /// A prompt tokenized off the service loop: `ticket` names the pending call it belongs to.
        case tokenized(ticket: UInt64, ids: [Int])
    }

    public let config: CoordinatorConfig
    let logger: Logger
    let shape: ModelShape
    let tokenizer: Tokenizer?
    let modelName: String
    let mailbox: ZMQMailbox<Command>
    /// Called once with the bound client and worker endpoints (wildcard ports resolved).
    public var onListening: (@Sendable (_ clients: String, _ workers: String) -> Void)?

    // Owned by the service thread:
    var scheduler: Scheduler
    var drainingSince: ContinuousClock.Instant?
    var clientSocket: ZMQSocket!
    var workerSocket: ZMQSocket!
    var dataPush: ZMQSocket?
    /// The stage-0 endpoint and key the step socket is connected to.
    var dataTarget: (endpoint: String, key: String)?
    var context: ZMQContext!
    var metricsHTTP: HTTPEndpoint?
    /// Bounds the per-frame warnings a flood of bad client or worker frames can write.
    var warnings = WarningLimiter()
    let clock = ContinuousClock()
    var zap: ZAPHandler?
    /// Calls whose text prompt (or Tokenize text) is being tokenized off the loop, by ticket.
    var tokenizing: [UInt64: PendingText] = [:]
    var nextTicket: UInt64 = 1
    let tokenizerQueue = DispatchQueue(label: "mq-tokenize", attributes: .concurrent)
    let tokenizerSlots = DispatchSemaphore(value: CoordinatorDefaults.tokenizerThreads)
    /// Longest text prompt accepted, in UTF-8 bytes (derived from the prompt-token limit).
    let maxPromptBytes: Int
    let securityLog: SecurityLog

    public init(config: CoordinatorConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        let dir = URL(fileURLWithPath: config.modelPath)
        shape = try ModelRegistry.shape(of: try Checkpoint(directory: dir))
        let tokenizerURL = dir.appendingPathComponent("tokenizer.json")
        tokenizer = FileManager.default.fileExists(atPath: tokenizerURL.path) ? try Tokenizer(contentsOf: tokenizerURL) : nil
        modelName = dir.standardizedFileURL.lastPathComponent
        mailbox = try ZMQMailbox()
        let cluster = try Cluster(totalLayers: shape.layers, stageCount: config.stages, policy: config.split,
                                  modelPath: dir.standardizedFileURL.path, kvCapacityBytes: config.kvCapacityBytes,
                                  headCostInLayers: Double(shape.headWeights) / Double(max(1, shape.matrixWeightsPerLayer)),
                                  coordinatorKey: config.security?.keys.publicKey.z85 ?? "")
        scheduler = Scheduler(settings: SchedulerSettings(
            stages: config.stages, microBatches: config.microBatches, prefillChunk: config.prefillChunk,
            maxQueuedCalls: config.maxQueuedCalls, stepTimeout: config.stepTimeout, failoverTimeout: config.failoverTimeout,
            maxTokensPerStep: config.maxStepTokens, maxPositions: shape.maxPositions, prefixCache: config.prefixCache), cluster: cluster)
        let promptTokens = config.maxPromptTokens > 0 ? min(config.maxPromptTokens, shape.maxPositions) : shape.maxPositions
        maxPromptBytes = tokenizer?.textByteBound(tokens: promptTokens) ?? 0
        securityLog = SecurityLog(logger: logger)
    }

    /// Asks the service loop to drain and exit (any thread; e.g. from a SIGTERM handler).
    public func stop() { _ = mailbox.post(.stop) }

    // MARK: loop

    /// Binds the sockets and serves until `stop()`. Blocks the calling thread.
    public func run() throws {
        try openSockets()
        defer { closeAll() }
        var lastHeartbeat = clock.now, lastProbe = clock.now, lastWorkerProbe = clock.now
        while true {
            var poller = ZMQPoller()
            let iClient = poller.add(clientSocket)
            let iWorker = poller.add(workerSocket)
            let iMail = poller.add(mailbox)
            let iHTTP = metricsHTTP.map { poller.add($0.socket) }
            let ready = try poller.poll(timeout: CoordinatorDefaults.pollInterval)
            if let iHTTP, ready.isReadable(iHTTP) { try metricsHTTP?.serveReadable(serveHTTP) }
            if ready.isReadable(iMail) {
                for command in mailbox.drain() {
                    switch command {
                    case .stop where drainingSince == nil:
                        drainingSince = clock.now
                        scheduler.draining = true
                        logger.info("draining", metadata: ["in_flight_calls": "\(scheduler.calls.count + tokenizing.count)"])
                    case .stop: break
                    case let .tokenized(ticket, ids): tokenized(ticket, ids)
                    }
                }
            }
            if ready.isReadable(iWorker) {
                while let m = try workerSocket.tryReceiveRouted() { handleWorker(m) }
            }
            if ready.isReadable(iClient) {
                while let m = try clientSocket.tryReceiveRouted() { handleClientTimed(m) }
            }
            let now = clock.now
            metricsHTTP?.closeIdle(now: now)
            for summary in warnings.flush(now: now) { logger.warning("\(summary)") }
            if now - lastHeartbeat >= WorkerPlaneTiming.heartbeatInterval || now - lastWorkerProbe >= CoordinatorDefaults.workerProbeInterval {
                // A heartbeat to every worker; to a worker whose connection is gone the send fails
                // at once (ROUTER_MANDATORY), which is how a dead process is noticed in
                // milliseconds rather than after the heartbeat expiry.
                lastWorkerProbe = now
                if now - lastHeartbeat >= WorkerPlaneTiming.heartbeatInterval { lastHeartbeat = now }
                let heartbeat = WorkerMessage.heartbeat(Heartbeat(sentUnixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)))
                for id in scheduler.cluster.liveRoutingIDs { sendWorker(id, heartbeat) }
            }
            if now - lastProbe >= CoordinatorDefaults.clientProbeInterval {
                lastProbe = now
                probeClients()
            }
            expireTokenizing(now)
            scheduler.tick(now: now)
            perform(scheduler.takeCommands())
            updateDataTarget()
            if let since = drainingSince, scheduler.calls.isEmpty && tokenizing.isEmpty || now - since > config.drainTimeout {
                shutDown(now)
                return
            }
        }
    }

    private func openSockets() throws {
        context = try ZMQContext()
        if let security = config.security {
            // Before any socket binds: without the handler libzmq would let every key in.
            let log = securityLog
            zap = try ZAPHandler(context: context, policies: [
                ZAPDomain.clients: security.authorizedClients.map { .keys($0.keys) } ?? .anyKey,
                ZAPDomain.workers: .keys(security.authorizedWorkers.keys),
            ]) { refusal in
                log.note("refused \(refusal.domain == ZAPDomain.workers ? "worker" : "client") connection", [
                    "address": "\(refusal.address)", "mechanism": "\(refusal.mechanism)", "key": "\(refusal.key?.z85 ?? "none")"])
            }
        }
        clientSocket = try ZMQSocket(context, type: .router, name: "clients")
        try clientSocket.secure(config.security.map { .curveServer($0.keys, domain: ZAPDomain.clients) } ?? .none)
        try clientSocket.setRouterMandatory(true)
        try clientSocket.setMaxMessageSize(Int64(ProtocolLimits.maxMessageBytes))
        try clientSocket.setLinger(.zero)
        workerSocket = try ZMQSocket(context, type: .router, name: "workers")
        try workerSocket.secure(config.security.map { .curveServer($0.keys, domain: ZAPDomain.workers) } ?? .none)
        try workerSocket.setRouterMandatory(true)
        try workerSocket.setMaxMessageSize(Int64(ProtocolLimits.maxMessageBytes))
        // Long enough for the Shutdown sent to every worker on exit to leave before the socket closes.
        try workerSocket.setLinger(CoordinatorDefaults.shutdownLinger)
        let c = try clientSocket.bind(config.clientEndpoint)
        let w = try workerSocket.bind(config.workerEndpoint)
        logger.info("listening", metadata: ["clients": "\(c)", "workers": "\(w)", "model": "\(modelName)",
                                            "layers": "\(shape.layers)", "stages": "\(config.stages)", "split": "\(config.split)",
                                            "max_prompt_bytes": "\(maxPromptBytes)", "curve": "\(config.security != nil)",
                                            "api_keys": "\(config.apiKeys?.count ?? 0)", "failover_timeout": "\(config.failoverTimeout)"])
        if let endpoint = config.metricsEndpoint {
            let http = try HTTPEndpoint(context, bind: endpoint)
            metricsHTTP = http
            logger.info("metrics", metadata: ["endpoint": "\(http.boundEndpoint)", "path": "/metrics"])
        }
        onListening?(c, w)
    }

    private func shutDown(_ now: ContinuousClock.Instant) {
        scheduler.finishAll(Status(code: .unavailable, message: "the coordinator is shutting down"), now: now)
        for (ticket, p) in tokenizing {
            tokenizing[ticket] = nil
            reply(p.key.routingID, .failure(callID: p.key.callID, .unavailable, "the coordinator is shutting down"))
        }
        perform(scheduler.takeCommands())
        for id in scheduler.cluster.liveRoutingIDs { sendWorker(id, .shutdown(Shutdown(reason: "coordinator shutting down"))) }
        // Give libzmq's I/O thread time to write the Shutdowns before the sockets close
        // (seen lost now and then when closing straight away, even with a linger).
        Thread.sleep(forTimeInterval: CoordinatorDefaults.shutdownFlush.inSeconds)
        logger.info("stopped", metadata: scheduler.stats.metadata(stages: config.stages))
    }

    private func closeAll() {
        metricsHTTP?.close()
        dataPush?.close()
        clientSocket?.close()
        workerSocket?.close()
        _ = mailbox.close()
        // The ZAP socket is the last one holding the context.
        zap?.stop()
        zap = nil
        // Dropping the last references terminates the context, which waits (up to each socket's
        // linger) for queued messages — the final Shutdowns — to leave before the process exits.
        dataPush = nil
        clientSocket = nil
        workerSocket = nil
        context = nil
    }

    // MARK: commands

    /// Carries out the scheduler's commands in order; failures become its events again.
    func perform(_ commands: [SchedulerCommand]) {
        var pending = commands[...]
        while let command = pending.popFirst() {
            switch command {
            case let .reply(identity, r):
                reply(identity, r)
            case let .toWorker(id, message):
                sendWorker(id, message)
            case let .step(step):
                sendStep(step)
            case let .log(level, message, metadata, kind):
                if let kind { warn(kind, "\(message)", metadata: metadata) } else { logger.log(level: level, "\(message)", metadata: metadata) }
            }
            // A failed send (a gone client or worker) produced more commands: they come next.
            let more = scheduler.takeCommands()
            if !more.isEmpty { pending = (more + pending)[...] }
        }
    }

    private func sendStep(_ step: Step) {
        guard let push = dataPush else { scheduler.stepNotSent(step.stepID); return }
        do {
            let frames = try StepFrames(step: step, tensor: nil).encode()
            if try !push.trySend(frames: frames) { scheduler.stepNotSent(step.stepID) }   // not connected yet: next tick
        } catch {
            logger.error("cannot send step", metadata: ["error": "\(error)"])
            scheduler.stepNotSent(step.stepID)
        }
    }

    /// Sends a reply; a client that went away (EHOSTUNREACH) has its calls cancelled.
    func reply(_ identity: [UInt8], _ r: CallReply) {
        do { try clientSocket.send(to: identity, frames: [r.encode()]) } catch {
            var cancelled = scheduler.clientGone(identity)
            for (ticket, p) in tokenizing where p.key.routingID == identity {
                tokenizing[ticket] = nil
                cancelled += 1
            }
            logger.info("client gone; cancelling its calls", metadata: [
                "noticed_by": "\(r.isProbe ? "liveness probe" : "reply")", "calls": "\(cancelled)", "error": "\(error)"])
        }
    }

    /// Sends CallReply.probe to every client with a call in progress; a send that fails means the
    /// client is gone, and `reply` cancels its calls and releases their sequences on every stage.
    private func probeClients() {
        var clients = Set<[UInt8]>()
        for call in scheduler.calls.values where !call.ended { clients.insert(call.key.routingID) }
        for p in tokenizing.values { clients.insert(p.key.routingID) }
        for id in clients { reply(id, .probe) }
        perform(scheduler.takeCommands())
    }

    /// A warning about one bad frame, written unless a flood of its kind used up this interval's lines.
    func warn(_ kind: String, _ message: @autoclosure () -> Logger.Message, metadata: Logger.Metadata? = nil) {
        guard case .write(let summary) = warnings.admit(kind, now: clock.now) else { return }
        if let summary { logger.warning("\(summary)") }
        logger.warning(message(), metadata: metadata)
    }

    // MARK: worker plane

    /// Sends to a worker; one whose connection is gone (EHOSTUNREACH: its process died) is lost.
    private func sendWorker(_ id: [UInt8], _ message: WorkerMessage) {
        do { try workerSocket.send(to: id, frames: [message.encode()]) } catch let error as ZMQError where error.kind == .hostUnreachable {
            guard scheduler.cluster.record(id) != nil else { return }
            scheduler.workerLost(id, reason: "its connection closed (process gone)", now: clock.now)
        } catch {
            warn("worker-send", "cannot reach worker", metadata: ["worker": "\(scheduler.cluster.record(id)?.workerID ?? "?")", "error": "\(error)"])
        }
    }

    private func handleWorker(_ m: RoutedMessage) {
        guard m.frames.count == 1 else { warn("worker-frames", "dropped a worker message with \(m.frames.count) frames (expected 1)"); return }
        let message: WorkerMessage
        do { message = try WorkerMessage.decode(m.frames[0]) } catch {
            warn("worker-undecodable", "dropped an undecodable worker frame", metadata: ["error": "\(error)"])
            return
        }
        scheduler.workerMessage(message, from: m.identity, key: m.userID ?? "", secured: config.security != nil, now: clock.now)
        perform(scheduler.takeCommands())
        updateDataTarget()
    }

    /// Points the step PUSH socket at stage 0's data endpoint (and key) when that changes.
    private func updateDataTarget() {
        guard let first = scheduler.cluster.worker(atStage: 0), first.state == .ready else {
            if scheduler.cluster.worker(atStage: 0) == nil, dataPush != nil {
                dataPush?.close(); dataPush = nil; dataTarget = nil
            }
            return
        }
        guard dataTarget?.endpoint != first.dataEndpoint || dataTarget?.key != first.publicKey else { return }
        dataPush?.close()
        do {
            let s = try ZMQSocket(context, type: .push, name: "steps")
            try s.setImmediate(true)
            try s.setLinger(.zero)
            if let security = config.security {
                try s.secure(.curveClient(security.keys, server: try CurvePublicKey(z85: first.publicKey)))
            }
            try s.connect(first.dataEndpoint)
            dataPush = s
            dataTarget = (first.dataEndpoint, first.publicKey)
        } catch {
            logger.error("cannot connect to stage 0", metadata: ["endpoint": "\(first.dataEndpoint)", "error": "\(error)"])
            dataPush = nil
            dataTarget = nil
        }
    }

    public var hopStatistics: String {
        scheduler.stats.summary(stages: config.stages) + "; " + scheduler.busy.summary(now: clock.now)
    }
}
