// WorkerService: one pipeline stage as a long-running service. `run()` binds the data PULL socket,
// starts the data-plane thread (DataPlane.swift: load, steps, forwarding) and runs the control
// loop on the calling thread: Register, Assign/Release/Shutdown from the coordinator, heartbeats
// both ways, and reconnecting with backoff when the coordinator falls silent (Paranoid Pirate,
// Protos/PROTOCOL.md 6.1, 6.4-6.7). `stop()` may be called from any thread or a signal handler's
// queue: the worker finishes its current step, tells the coordinator it is leaving, and returns.
//
//   coordinator ROUTER ◀──control── DEALER [control loop, this thread]
//                                      ▲ events mailbox │ commands mailbox
//                                      │                ▼
//   previous stage ──PUSH──▶ PULL [data thread: Stage] PUSH ──▶ next stage

import Foundation
import Logging
import MQProtocol
import MQTransport

/// What `WorkerService.status` reports (for operators and tests).
public struct WorkerStatus: Sendable, Equatable {
    /// The data endpoint advertised in Register; nil until `run()` has bound it.
    public var dataEndpoint: String?
    /// Whether Register has been sent on the current control connection.
    public var registered: Bool
    /// How many times the worker gave up on a silent coordinator and registered anew.
    public var reconnects: Int
    /// The load reported in heartbeats.
    public var load: WorkerLoad
}

public final class WorkerService: @unchecked Sendable {
    // @unchecked: the mutable fields below are only touched under `lock`; the mailbox and the
    // load board are thread-safe; sockets live only inside `run()` and the data thread.
    public let configuration: WorkerConfiguration
    private let events: ZMQMailbox<ControlEvent>
    let board = LoadBoard()
    private let lock = NSLock()
    private var started = false
    private var dataEndpoint: String?
    private var registered = false
    private var reconnects = 0

    /// Checks the configuration; no socket is opened before `run()`.
    public init(configuration: WorkerConfiguration) throws {
        try configuration.validate()
        self.configuration = configuration
        events = try ZMQMailbox()
    }

    /// Asks a running (or not yet started) service to finish its current step, send Shutdown to
    /// the coordinator and return from `run()`. Safe from any thread; harmless after `run()` ended.
    public func stop(reason: String = "worker stopping") {
        events.post(.stop(reason: reason))
    }

    public var status: WorkerStatus {
        lock.lock(); defer { lock.unlock() }
        return WorkerStatus(dataEndpoint: dataEndpoint, registered: registered, reconnects: reconnects, load: board.snapshot)
    }

    /// Serves until `stop()`, a Shutdown from the coordinator (both return normally), or a fatal
    /// error: a protocol version the coordinator refuses, a socket that cannot be bound, a failed
    /// data thread (these throw `WorkerServiceError`). Blocks the calling thread.
    public func run() throws {
        lock.lock()
        let first = !started
        started = true
        lock.unlock()
        guard first else { throw WorkerServiceError.alreadyStarted }
        defer { _ = events.close() }

        var logger = configuration.logger
        logger[metadataKey: "worker"] = "\(configuration.workerID)"
        let context: ZMQContext
        let pull: ZMQSocket
        let advertised: String
        var zap: ZAPHandler?
        defer { zap?.stop() }
        do {
            context = try ZMQContext()
            if configuration.security != nil {
                // Nobody may push before the first Assign names the previous stage.
                let limiter = LockedWarningLimiter()
                zap = try ZAPHandler(context: context, policies: [WorkerSecurity.dataDomain: .nobody]) { [logger] refusal in
                    guard case .write(let summary) = limiter.admit("data-refused") else { return }
                    if let summary { logger.warning("\(summary)") }
                    logger.warning("refused a data connection from \(refusal.address) (key \(refusal.key?.z85 ?? "none"))")
                }
            }
            pull = try ZMQSocket(context, type: .pull, name: "data-in")
            try pull.secure(configuration.security.map { .curveServer($0.keys, domain: WorkerSecurity.dataDomain) } ?? .none)
            // Activation frames may be large; the protocol's limit, not the transport default.
            try pull.setMaxMessageSize(Int64(ProtocolLimits.maxTensorBytes))
            let resolved = try pull.bind(configuration.listenEndpoint)
            advertised = advertisedEndpoint(resolved: resolved, advertiseHost: configuration.advertiseHost)
        } catch {
            throw WorkerServiceError.transport("cannot bind the data socket on \(configuration.listenEndpoint): \(error)")
        }
        lock.lock(); dataEndpoint = advertised; lock.unlock()
        logger.info("data socket bound; advertising \(advertised); coordinator \(configuration.coordinatorEndpoint)")

        let commands = try ZMQMailbox<DataCommand>()
        let events = self.events, board = self.board, configuration = self.configuration, dataZAP = zap
        let dataThread = ZMQServiceThread.start(name: "mq-worker-data") {
            do {
                try DataPlane(context: context, pull: pull, commands: commands, events: events,
                              board: board, configuration: configuration, zap: dataZAP).run()
                events.post(.dataPlaneEnded(nil))
            } catch {
                events.post(.dataPlaneEnded("\(error)"))
                throw error
            }
        }
        let register = Register(workerID: configuration.workerID, memoryBytes: configuration.memoryBytes,
                                dataEndpoint: advertised, pid: UInt32(clamping: ProcessInfo.processInfo.processIdentifier),
                                host: HostInfo.hostName, standbyPreload: configuration.standbyPreload)
        let loop = ControlLoop(context: context, service: self, commands: commands, dataThread: dataThread,
                               register: register, logger: logger)
        try loop.run()
    }

    fileprivate func noteRegistered(_ value: Bool, reconnected: Bool = false) {
        lock.lock(); defer { lock.unlock() }
        registered = value
        if reconnected { reconnects += 1 }
    }

    fileprivate var eventMailbox: ZMQMailbox<ControlEvent> { events }
}

/// The control loop: owns the DEALER to the coordinator, the heartbeat and liveness clocks.
private final class ControlLoop {
    private enum Exit {
        /// The coordinator told us to go.
        case coordinatorShutdown(String)
        /// `stop()`: leave, telling the coordinator.
        case leaving(String)
        case versionMismatch(String)
        case dataPlaneFailed(String)
    }

    private let context: ZMQContext
    private unowned let service: WorkerService
    private let events: ZMQMailbox<ControlEvent>
    private let commands: ZMQMailbox<DataCommand>
    private let dataThread: ZMQServiceThread
    private let registerFrame: [UInt8]
    private let configuration: WorkerConfiguration
    private let timing: WorkerTiming
    private let logger: Logger
    private let clock = ContinuousClock()

    private var dealer: ZMQSocket?
    private var poller = ZMQPoller()
    private var eventsIndex = 0
    private var dealerIndex: Int?
    private var registerSent = false
    private var expiry: ContinuousClock.Instant
    private var nextHeartbeat: ContinuousClock.Instant
    private var nextRegisterAttempt: ContinuousClock.Instant
    private var reconnectAt: ContinuousClock.Instant?
    private var backoff: Duration
    private var dataPlaneEnded = false
    /// Bounds the warnings a flood of junk on the control socket can write.
    private var warnings = WarningLimiter()

    init(context: ZMQContext, service: WorkerService, commands: ZMQMailbox<DataCommand>, dataThread: ZMQServiceThread,
         register: Register, logger: Logger) {
        self.context = context
        self.service = service
        self.events = service.eventMailbox
        self.commands = commands
        self.dataThread = dataThread
        self.registerFrame = WorkerMessage.register(register).encode()
        self.configuration = service.configuration
        self.timing = service.configuration.timing
        self.logger = logger
        let now = ContinuousClock.now
        expiry = now + timing.peerExpiry
        nextHeartbeat = now + timing.heartbeatInterval
        nextRegisterAttempt = now
        backoff = timing.reconnectInitialBackoff
    }

    func run() throws {
        var exit: Exit?
        do {
            try openDealer()
            exit = try serve()
        } catch {
            // A transport failure of the control socket itself: still stop the data thread.
            finish(sendShutdown: "worker failed: \(error)")
            throw WorkerServiceError.transport("\(error)")
        }
        switch exit! {
        case let .coordinatorShutdown(reason):
            logger.notice("coordinator asked this worker to exit: \(reason)")
            finish(sendShutdown: nil)
        case let .leaving(reason):
            logger.notice("stopping: \(reason)")
            finish(sendShutdown: reason)
        case let .versionMismatch(message):
            logger.critical("the coordinator refused this worker: \(message)")
            finish(sendShutdown: nil)
            throw WorkerServiceError.versionMismatch(message)
        case let .dataPlaneFailed(message):
            logger.critical("the data plane failed: \(message)")
            finish(sendShutdown: "data plane failed: \(message)")
            throw WorkerServiceError.dataPlaneFailed(message)
        }
    }

    // MARK: - The loop

    private func serve() throws -> Exit {
        while true {
            let timeout = max(.zero, nextDeadline() - clock.now)
            let ready = try poller.poll(timeout: timeout)
            if ready.isReadable(eventsIndex) {
                for event in events.drain() {
                    switch event {
                    case let .stop(reason):
                        return .leaving(reason)
                    case let .send(frame):
                        sendToCoordinator(frame, what: "message")
                    case let .dataPlaneEnded(error):
                        dataPlaneEnded = true
                        return .dataPlaneFailed(error ?? "the data thread returned unexpectedly")
                    }
                }
            }
            if let dealerIndex, ready.isReadable(dealerIndex), let dealer {
                while let frames = try dealer.tryReceive() {
                    heardFromCoordinator()
                    if let exit = handle(frames) { return exit }
                }
            }
            try runTimers()
        }
    }

    private func nextDeadline() -> ContinuousClock.Instant {
        if let reconnectAt { return reconnectAt }
        if !registerSent { return nextRegisterAttempt }
        return min(nextHeartbeat, expiry)
    }

    private func runTimers() throws {
        let now = clock.now
        for summary in warnings.flush(now: now) { logger.warning("\(summary)") }
        if let at = reconnectAt {
            guard now >= at else { return }
            reconnectAt = nil
            try openDealer()
        }
        if !registerSent {
            if now >= nextRegisterAttempt { attemptRegister() }
            return
        }
        if now >= expiry {
            coordinatorSilent()
            return
        }
        if now >= nextHeartbeat {
            let heartbeat = Heartbeat(workerID: configuration.workerID, sentUnixMilliseconds: Self.unixMilliseconds(),
                                      load: service.board.snapshot)
            sendToCoordinator(WorkerMessage.heartbeat(heartbeat).encode(), what: "heartbeat")
            nextHeartbeat = now + timing.heartbeatInterval
        }
    }

    // MARK: - Connection management

    private func openDealer() throws {
        let socket = try ZMQSocket(context, type: .dealer, name: "control")
        if let security = configuration.security {
            try socket.secure(.curveClient(security.keys, server: security.coordinatorKey))
        }
        // Do not queue for a coordinator that is not connected: a Register is retried instead,
        // and heartbeats or results for an absent coordinator are worthless.
        try socket.setImmediate(true)
        try socket.setMaxMessageSize(Int64(ProtocolLimits.maxMessageBytes))
        try socket.connect(configuration.coordinatorEndpoint)
        dealer = socket
        registerSent = false
        nextRegisterAttempt = clock.now
        rebuildPoller()
        attemptRegister()
    }

    private func closeDealer(linger: Duration) {
        try? dealer?.setLinger(linger)
        dealer?.close()
        dealer = nil
        registerSent = false
        service.noteRegistered(false)
        rebuildPoller()
    }

    private func rebuildPoller() {
        poller = ZMQPoller()
        eventsIndex = poller.add(events)
        dealerIndex = dealer.map { poller.add($0) }
    }

    private func attemptRegister() {
        guard let dealer, !registerSent else { return }
        let now = clock.now
        do {
            if try dealer.trySend(frames: [registerFrame]) {
                registerSent = true
                service.noteRegistered(true)
                expiry = now + timing.peerExpiry
                nextHeartbeat = now + timing.heartbeatInterval
                logger.info("registered with the coordinator at \(configuration.coordinatorEndpoint) (protocol \(ProtocolVersion.current))")
                return
            }
        } catch {
            logger.warning("sending Register failed: \(error)")
        }
        // Not connected yet (ZMQ_IMMEDIATE): libzmq keeps reconnecting; try again shortly.
        nextRegisterAttempt = now + timing.registerRetryInterval
    }

    private func heardFromCoordinator() {
        expiry = clock.now + timing.peerExpiry
        backoff = timing.reconnectInitialBackoff
    }

    /// Paranoid Pirate: the coordinator said nothing for `peerExpiry`. Drop every sequence (their
    /// calls are lost), close the DEALER, and register again after the backoff.
    private func coordinatorSilent() {
        let endpoint = configuration.coordinatorEndpoint
        logger.warning("the coordinator at \(endpoint) was silent for \(timing.peerExpiry); dropping all sequences and registering again in \(backoff)")
        commands.post(.dropAll(reason: "the coordinator is unreachable", forgetReleased: true))
        closeDealer(linger: .zero)
        service.noteRegistered(false, reconnected: true)
        reconnectAt = clock.now + backoff
        backoff = min(backoff * 2, timing.reconnectMaxBackoff)
    }

    private func sendToCoordinator(_ frame: [UInt8], what: String) {
        guard let dealer, registerSent else {
            logger.debug("not connected to the coordinator; dropping a \(what)")
            return
        }
        do {
            if try !dealer.trySend(frames: [frame]) {
                warnings.warn("control-send-full", "the coordinator is not accepting messages; dropping a \(what)", to: logger)
            }
        } catch {
            logger.warning("sending a \(what) to the coordinator failed: \(error)")
        }
    }

    // MARK: - Messages from the coordinator

    private func handle(_ frames: [[UInt8]]) -> Exit? {
        let message: WorkerMessage
        do {
            message = try WorkerMessage.decode(frames: frames)
        } catch {
            warnings.warn("control-undecodable", "undecodable control message (\(frames.map(\.count)) bytes): \(error)", to: logger)
            replyMalformed("control message: \(error)")
            return nil
        }
        switch message {
        case let .assign(assign):
            let next = assign.isLast ? "(last stage)" : assign.nextEndpoint
            logger.info("assignment \(assign.assignmentID): stage \(assign.stageIndex) of \(assign.numStages), layers \(assign.layers), next \(next)")
            commands.post(.assign(assign))
        case let .release(release):
            commands.post(.release(release.seqIDs))
        case .heartbeat:
            break
        case let .shutdown(shutdown):
            return .coordinatorShutdown(shutdown.reason)
        case let .error(error):
            if error.code == .versionMismatch { return .versionMismatch(error.message) }
            logger.warning("the coordinator reports an error: \(error)")
        case .register, .ready, .step, .stepResult:
            warnings.warn("control-unexpected", "unexpected \(message.kindName) from the coordinator on the control socket", to: logger)
            replyMalformed("a worker does not accept \(message.kindName) on its control socket")
        }
        return nil
    }

    private func replyMalformed(_ text: String) {
        sendToCoordinator(WorkerMessage.error(WorkerError(code: .malformedMessage, message: text)).encode(), what: "WorkerError")
    }

    // MARK: - Leaving

    /// Stops the data thread after its current step, sends what it produced meanwhile, then the
    /// Shutdown (when `sendShutdown` is a reason), and closes the control socket.
    private func finish(sendShutdown reason: String?) {
        if !dataPlaneEnded { commands.post(.stop) }
        let dataResult = Result { try dataThread.join() }
        _ = commands.close()
        for event in events.close() {
            if case let .send(frame) = event { sendToCoordinator(frame, what: "message") }
        }
        if let reason, registerSent {
            sendToCoordinator(WorkerMessage.shutdown(Shutdown(reason: reason)).encode(), what: "Shutdown")
        }
        closeDealer(linger: WorkerDefaults.closingLinger)
        if case let .failure(error) = dataResult {
            logger.error("the data thread ended with an error: \(error)")
        }
    }

    static func unixMilliseconds() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1000))
    }
}
