// The coordinator: one thread that owns every socket. It serves client calls on a ROUTER, keeps
// the workers (registration, layer assignment, heartbeats, loss) on a second ROUTER, and drives the
// pipeline: it PUSHes each step (token ids only) to stage 0 and receives the sampled tokens from
// the last stage. Activations never pass through it. See Protos/PROTOCOL.md for every flow.
import Foundation
import Logging
import MQCheckpoint
import MQEngine
import MQModel
import MQProtocol
import MQSampling
import MQTokenizer
import MQTransport

public enum CoordinatorError: Error, CustomStringConvertible {
    case setup(String)
    public var description: String { if case .setup(let s) = self { return s }; return "" }
}

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
    private let mailbox: ZMQMailbox<Command>
    /// Called once with the bound client and worker endpoints (wildcard ports resolved).
    public var onListening: (@Sendable (_ clients: String, _ workers: String) -> Void)?

    // Owned by the service thread:
    private var cluster: Cluster
    private var calls: [CallKey: CallState] = [:]
    private var bySeq: [UInt64: CallState] = [:]
    private var arrival: [CallState] = []          // scheduling order
    private var nextSeqID: UInt64 = 1
    private var nextStepID: UInt64 = 1
    /// Steps in the pipeline, by step id (up to `config.microBatches` at once, disjoint sequences).
    private var inFlight: [UInt64: InFlightStep] = [:]
    /// KV tokens reserved by admitted calls (whole blocks of prompt + max new tokens, on every stage).
    private var reservedTokens = 0
    /// Reservations of released sequences, returned to the pool after `releaseGrace`.
    private var pendingFree: [(tokens: Int, at: ContinuousClock.Instant)] = []
    private var busy = BusyStats()
    private var draining: ContinuousClock.Instant?
    private var clientSocket: ZMQSocket!
    private var workerSocket: ZMQSocket!
    private var dataPush: ZMQSocket?
    private var dataTarget: String?
    private var context: ZMQContext!
    private var stats = HopStats()
    private var counters = ServiceCounters()
    private var metricsHTTP: HTTPEndpoint?
    /// Bounds the per-frame warnings a flood of bad client or worker frames can write.
    private var warnings = WarningLimiter()
    private let clock = ContinuousClock()
    private var zap: ZAPHandler?
    /// The stage-0 key the step socket was secured for.
    private var dataTargetKey: String?
    /// Calls whose text prompt (or Tokenize text) is being tokenized off the loop, by ticket.
    private var tokenizing: [UInt64: PendingText] = [:]
    private var nextTicket: UInt64 = 1
    private let tokenizerQueue = DispatchQueue(label: "mq-tokenize", attributes: .concurrent)
    private let tokenizerSlots = DispatchSemaphore(value: CoordinatorDefaults.tokenizerThreads)
    /// Longest text prompt accepted, in UTF-8 bytes (derived from the prompt-token limit).
    let maxPromptBytes: Int
    /// Largest client frame worth decoding: the longest prompt (as text or as ids) plus room for
    /// every other field.
    var requestByteLimit: Int {
        max(maxPromptBytes, maxPromptTokens * 5) + CoordinatorDefaults.requestOverheadBytes
    }
    private let securityLog: SecurityLog

    public init(config: CoordinatorConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        let dir = URL(fileURLWithPath: config.modelPath)
        let ck = try Checkpoint(directory: dir)
        shape = try ModelRegistry.shape(of: ck)
        let tokURL = dir.appendingPathComponent("tokenizer.json")
        tokenizer = FileManager.default.fileExists(atPath: tokURL.path) ? try Tokenizer(contentsOf: tokURL) : nil
        modelName = dir.standardizedFileURL.lastPathComponent
        mailbox = try ZMQMailbox()
        cluster = try Cluster(totalLayers: shape.layers, stageCount: config.stages, policy: config.split,
                              modelPath: dir.standardizedFileURL.path, kvCapacityBytes: config.kvCapacityBytes,
                              headCostInLayers: Double(shape.headWeights) / Double(max(1, shape.matrixWeightsPerLayer)),
                              coordinatorKey: config.security?.keys.publicKey.z85 ?? "")
        let promptTokens = config.maxPromptTokens > 0 ? min(config.maxPromptTokens, shape.maxPositions) : shape.maxPositions
        maxPromptBytes = tokenizer?.textByteBound(tokens: promptTokens) ?? 0
        securityLog = SecurityLog(logger: logger)
    }

    /// Asks the service loop to drain and exit (any thread; e.g. from a SIGTERM handler).
    public func stop() { _ = mailbox.post(.stop) }

    var maxPromptTokens: Int { config.maxPromptTokens > 0 ? min(config.maxPromptTokens, shape.maxPositions) : shape.maxPositions }

    // MARK: loop

    /// Binds the sockets and serves until `stop()`. Blocks the calling thread.
    public func run() throws {
        context = try ZMQContext()
        if let security = config.security {
            // Before any socket binds: without the handler libzmq would let every key in.
            let log = securityLog
            zap = try ZAPHandler(context: context, policies: [
                ZAPDomain.clients: security.authorizedClients.map { .keys($0.keys) } ?? .anyKey,
                ZAPDomain.workers: .keys(security.authorizedWorkers.keys),
            ]) { refusal in
                log.note("refused \(refusal.domain == ZAPDomain.workers ? "worker" : "client") connection", [
                    "address": "\(refusal.address)", "mechanism": "\(refusal.mechanism)",
                    "key": "\(refusal.key?.z85 ?? "none")"])
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
                                            "api_keys": "\(config.apiKeys?.count ?? 0)"])
        if let endpoint = config.metricsEndpoint {
            let http = try HTTPEndpoint(context, bind: endpoint)
            metricsHTTP = http
            logger.info("metrics", metadata: ["endpoint": "\(http.boundEndpoint)", "path": "/metrics"])
        }
        onListening?(c, w)
        defer { closeAll() }
        var lastHeartbeat = clock.now, lastProbe = clock.now
        while true {
            var poller = ZMQPoller()
            let iClient = poller.add(clientSocket)
            let iWorker = poller.add(workerSocket)
            let iMail = poller.add(mailbox)
            let iHTTP = metricsHTTP.map { poller.add($0.socket) }
            let ready = try poller.poll(timeout: CoordinatorDefaults.pollInterval)
            if let iHTTP, ready.isReadable(iHTTP) { try metricsHTTP?.serveReadable(serveHTTP) }
            if ready.isReadable(iMail) {
                for cmd in mailbox.drain() {
                    switch cmd {
                    case .stop where draining == nil:
                        draining = clock.now
                        logger.info("draining", metadata: ["in_flight_calls": "\(calls.count + tokenizing.count)"])
                    case .stop: break
                    case let .tokenized(ticket, ids): tokenized(ticket, ids)
                    }
                }
            }
            if ready.isReadable(iWorker) {
                while let m = try workerSocket.tryReceiveRouted() { handleWorker(m) }
            }
            if ready.isReadable(iClient) {
                while let m = try clientSocket.tryReceiveRouted() {
                    let started = clock.now
                    handleClient(m)
                    // The loop must never wait on one client: say so when a frame held it up.
                    let took = clock.now - started
                    if took > CoordinatorDefaults.slowClientFrame {
                        warn("slow-client-frame", "one client frame held the service loop for \(took)", metadata: ["bytes": "\(m.frames.map(\.count).reduce(0, +))"])
                    } else {
                        logger.trace("client frame handled", metadata: ["bytes": "\(m.frames.map(\.count).reduce(0, +))", "took": "\(took)"])
                    }
                }
            }
            let now = clock.now
            metricsHTTP?.closeIdle(now: now)
            for summary in warnings.flush(now: now) { logger.warning("\(summary)") }
            if now - lastHeartbeat >= WorkerPlaneTiming.heartbeatInterval {
                lastHeartbeat = now
                let hb = WorkerMessage.heartbeat(Heartbeat(sentUnixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)))
                for id in cluster.liveRoutingIDs { sendWorker(id, hb) }
            }
            if now - lastProbe >= CoordinatorDefaults.clientProbeInterval {
                lastProbe = now
                probeClients()
            }
            checkTimers(now)
            schedule(now)
            if let d = draining, calls.isEmpty && tokenizing.isEmpty || now - d > config.drainTimeout {
                for call in Array(calls.values) { finish(call, status: Status(code: .unavailable, message: "the coordinator is shutting down")) }
                for (ticket, p) in tokenizing {
                    tokenizing[ticket] = nil
                    reply(p.key.routingID, .failure(callID: p.key.callID, .unavailable, "the coordinator is shutting down"))
                }
                releaseEnded()
                for id in cluster.liveRoutingIDs { sendWorker(id, .shutdown(Shutdown(reason: "coordinator shutting down"))) }
                // Give libzmq's I/O thread time to write the Shutdowns before the sockets close
                // (seen lost now and then when closing straight away, even with a linger).
                Thread.sleep(forTimeInterval: CoordinatorDefaults.shutdownFlush.seconds)
                logger.info("stopped", metadata: stats.metadata(stages: config.stages))
                return
            }
        }
    }

    private func closeAll() {
        // Tokenizations still running post into the mailbox; wait for them before closing it.
        for _ in 0..<CoordinatorDefaults.tokenizerThreads { tokenizerSlots.wait() }
        for _ in 0..<CoordinatorDefaults.tokenizerThreads { tokenizerSlots.signal() }
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

    // MARK: client plane

    private func handleClient(_ m: RoutedMessage) {
        guard m.frames.count == 1 else {
            warn("client-frames", "dropped a client message with \(m.frames.count) frames (expected 1)")
            return
        }
        let frame = m.frames[0]
        // No request of this server can be larger (the longest prompt plus every other field):
        // refuse it before spending time decoding it.
        if frame.count > requestByteLimit {
            if let id = frame.withUnsafeBytes(CallRequest.scanCallID) {
                reply(m.identity, .failure(callID: id, .invalidArgument,
                    "the request is \(frame.count) bytes; this server accepts at most \(requestByteLimit) (a prompt of at most "
                    + "\(maxPromptTokens) tokens, --max-prompt-tokens or the model's context, is at most \(maxPromptBytes) bytes of text)"))
            } else {
                warn("client-oversize", "dropped an oversized client frame without a call id", metadata: ["bytes": "\(frame.count)"])
            }
            return
        }
        let request: CallRequest
        do { request = try CallRequest.decode(frame) } catch {
            if let id = CallRequest.peekCallID(frame) {
                reply(m.identity, .end(callID: id, status: error.status))
            } else {
                warn("client-unparseable", "dropped an unparseable client frame", metadata: ["bytes": "\(frame.count)", "error": "\(error)"])
            }
            return
        }
        // Credentials before anything else: a caller without a key learns nothing about the
        // request, the model or the cluster.
        if let apiKeys = config.apiKeys, !apiKeys.admits(metadata: request.metadata) {
            warn("unauthenticated", "refused a call without a valid API key", metadata: ["method": "\(request.method)"])
            reply(m.identity, .failure(callID: request.callID, .unauthenticated,
                                       "a valid API key is required (call metadata \"authorization: Bearer <key>\")"))
            return
        }
        let call: DecoderCall
        do { call = try request.decodeCall() } catch {
            reply(m.identity, .end(callID: request.callID, status: error.status))
            return
        }
        let key = CallKey(routingID: m.identity, callID: request.callID)
        if calls[key] != nil || tokenizing.values.contains(where: { $0.key == key }) {
            reply(m.identity, .failure(callID: request.callID, .invalidArgument, "call id \(request.callID) is already in flight on this connection"))
            return
        }
        switch call {
        case .health: reply(m.identity, .response(callID: request.callID, health()))
        case .info: reply(m.identity, .response(callID: request.callID, info()))
        case .tokenize(let t):
            guard tokenizer != nil else {
                reply(m.identity, .failure(callID: request.callID, .invalidArgument, "the model has no tokenizer.json")); return
            }
            if let refusal = oversizeText(t.text, field: "TokenizeRequest.text") {
                reply(m.identity, .failure(callID: request.callID, .invalidArgument, refusal)); return
            }
            let now = clock.now
            tokenizeOffLoop(t.text, PendingText(key: key, purpose: .tokenize, received: now,
                                                deadline: now + callTimeout(request.timeoutMilliseconds)))
        case .cancel(let c):
            let target = CallKey(routingID: m.identity, callID: c.callID)
            if let victim = calls[target] {
                finish(victim, status: Status(code: .cancelled, message: "cancelled by call \(request.callID)"))
                releaseEnded()
                reply(m.identity, .response(callID: request.callID, CancelResponse()))
            } else if let ticket = tokenizing.first(where: { $0.value.key == target })?.key {
                tokenizing[ticket] = nil
                counters.callsByStatus[StatusCode.cancelled.description, default: 0] += 1
                reply(m.identity, .end(callID: c.callID, status: Status(code: .cancelled, message: "cancelled by call \(request.callID)")))
                reply(m.identity, .response(callID: request.callID, CancelResponse()))
            } else {
                reply(m.identity, .failure(callID: request.callID, .notFound, "call \(c.callID) is not in flight"))
            }
        case .generate(let g), .generateStream(let g):
            startGeneration(key, g, streaming: call.method.isStreaming, timeoutMs: request.timeoutMilliseconds)
        }
    }

    /// The call's deadline from now: its timeout_ms, or the default, clamped to the maximum.
    private func callTimeout(_ timeoutMs: UInt32) -> Duration {
        let timeout = timeoutMs == 0 ? config.defaultTimeout : .milliseconds(Int64(timeoutMs))
        return min(timeout, config.maxTimeout)
    }

    /// Refuses a text longer than any prompt the token limit allows, before it is tokenized.
    private func oversizeText(_ text: String, field: String) -> String? {
        let bytes = text.utf8.count
        guard bytes > maxPromptBytes else { return nil }
        return "\(field): \(bytes) bytes, more than any prompt of \(maxPromptTokens) tokens (the prompt-token limit, "
            + "--max-prompt-tokens or the model's context) can hold: at most \(maxPromptBytes) bytes"
    }

    /// Starts tokenizing on a tokenizer thread; the ids come back through the mailbox.
    private func tokenizeOffLoop(_ text: String, _ pending: PendingText) {
        guard let tokenizer else { return }
        let ticket = nextTicket
        nextTicket += 1
        tokenizing[ticket] = pending
        let mailbox = self.mailbox, slots = tokenizerSlots
        tokenizerQueue.async {
            slots.wait()
            defer { slots.signal() }
            _ = mailbox.post(.tokenized(ticket: ticket, ids: tokenizer.encode(text)))
        }
    }

    /// A tokenization finished: answer the Tokenize call, or go on with the generation.
    private func tokenized(_ ticket: UInt64, _ ids: [Int]) {
        // Gone when the call was cancelled, expired or its client left meanwhile.
        guard let p = tokenizing.removeValue(forKey: ticket) else { return }
        switch p.purpose {
        case .tokenize:
            reply(p.key.routingID, .response(callID: p.key.callID, TokenizeResponse(
                tokenIDs: ids.map { UInt32($0) }, tokens: ids.map { tokenizer?.token(forId: $0) ?? "" })))
        case let .generate(g, streaming):
            admitPrompt(p.key, g, prompt: ids, streaming: streaming, received: p.received, deadline: p.deadline)
        }
    }

    private func startGeneration(_ key: CallKey, _ g: GenerateRequest, streaming: Bool, timeoutMs: UInt32) {
        func fail(_ code: StatusCode, _ msg: String) { reply(key.routingID, .failure(callID: key.callID, code, msg)) }
        if draining != nil { return fail(.unavailable, "the coordinator is shutting down") }
        guard cluster.serving else {
            let missing = cluster.missingLayers.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ")
            return fail(.unavailable, "not serving: layers \(missing) have no ready worker")
        }
        let waiting = waitingCalls + tokenizing.count
        guard waiting < config.maxQueuedCalls else {
            return fail(.resourceExhausted, "the queue is full: \(waiting) calls wait for admission, at the limit of \(config.maxQueuedCalls) set by --max-queued; retry later")
        }
        let now = clock.now
        let deadline = now + callTimeout(timeoutMs)
        switch g.prompt {
        case .text(let text):
            guard tokenizer != nil else { return fail(.invalidArgument, "the model has no tokenizer.json: send prompt token ids") }
            if let refusal = oversizeText(text, field: "GenerateRequest.prompt.text") { return fail(.invalidArgument, refusal) }
            tokenizeOffLoop(text, PendingText(key: key, purpose: .generate(g, streaming: streaming), received: now, deadline: deadline))
        case .tokenIDs(let ids):
            admitPrompt(key, g, prompt: ids.map { Int($0) }, streaming: streaming, received: now, deadline: deadline)
        }
    }

    /// Checks a tokenized prompt and the request's limits, and queues the call for admission.
    private func admitPrompt(_ key: CallKey, _ g: GenerateRequest, prompt: [Int], streaming: Bool,
                             received: ContinuousClock.Instant, deadline: ContinuousClock.Instant) {
        func fail(_ code: StatusCode, _ msg: String) { reply(key.routingID, .failure(callID: key.callID, code, msg)) }
        if draining != nil { return fail(.unavailable, "the coordinator is shutting down") }
        let maxNew = g.maxNewTokens == 0 ? config.defaultMaxNewTokens : Int(g.maxNewTokens)
        guard !prompt.isEmpty else { return fail(.invalidArgument, "GenerateRequest.prompt: the prompt is empty") }
        guard prompt.count <= maxPromptTokens else {
            let setBy = maxPromptTokens < shape.maxPositions ? "--max-prompt-tokens" : "the model's context length"
            return fail(.invalidArgument, "GenerateRequest.prompt: prompt has \(prompt.count) tokens, over the limit of \(maxPromptTokens) set by \(setBy)")
        }
        guard maxNew <= config.maxNewTokens else {
            return fail(.invalidArgument, "GenerateRequest.max_new_tokens: \(maxNew) exceeds the limit of \(config.maxNewTokens) set by --max-new-tokens")
        }
        guard prompt.count + maxNew <= shape.maxPositions else {
            return fail(.invalidArgument, "GenerateRequest: prompt of \(prompt.count) tokens plus \(maxNew) new tokens exceeds the model's \(shape.maxPositions) positions")
        }
        if let bad = prompt.first(where: { $0 >= shape.vocabSize }) {
            return fail(.invalidArgument, "GenerateRequest.prompt.token_ids: token id \(bad) is outside the vocabulary (0..<\(shape.vocabSize))")
        }
        var s = g.sampling
        if s.seed == nil { s.seed = UInt64.random(in: 0...UInt64.max) }
        do {
            // The check the engine and the workers apply too; the workers map the wire's unset zeros alike.
            _ = try SamplingParameters(wireTemperature: s.temperature, topK: s.topK, topP: s.topP, repetitionPenalty: s.repetitionPenalty,
                                       seed: s.seed!, topLogprobs: s.topLogprobs).validated(stopStrings: s.stopStrings)
        } catch { return fail(.invalidArgument, "GenerateRequest.sampling: \(error)") }
        let out = OutputTracker(tokenizer: tokenizer, eosTokenIds: shape.eosTokenIds, stopTokenIds: s.stopTokenIDs.map { Int($0) },
                                stopStrings: s.stopStrings, maxNewTokens: maxNew)
        let call = CallState(key: key, streaming: streaming, received: received, deadline: deadline,
                             seqID: nextSeqID, prompt: prompt, sampling: s, output: out)
        nextSeqID += 1
        calls[key] = call
        bySeq[call.seqID] = call
        arrival.append(call)
        logger.debug("call started", metadata: ["call": "\(key.callID)", "seq": "\(call.seqID)", "prompt_tokens": "\(prompt.count)", "max_new": "\(maxNew)"])
    }

    /// Sends a reply; a client that went away (EHOSTUNREACH) has its calls cancelled.
    private func reply(_ identity: [UInt8], _ r: CallReply) {
        if case .trailer(_, let status, _) = r { counters.callsByStatus[status.code.description, default: 0] += 1 }
        do { try clientSocket.send(to: identity, frames: [r.encode()]) } catch {
            var cancelled = 0
            for call in calls.values where call.key.routingID == identity && !call.ended {
                call.ended = true
                calls[call.key] = nil
                cancelled += 1
            }
            for (ticket, p) in tokenizing where p.key.routingID == identity {
                tokenizing[ticket] = nil
                cancelled += 1
            }
            counters.callsByStatus[StatusCode.cancelled.description, default: 0] += UInt64(cancelled)
            logger.info("client gone; cancelling its calls", metadata: [
                "noticed_by": "\(r.isProbe ? "liveness probe" : "reply")", "calls": "\(cancelled)", "error": "\(error)"])
            releaseEnded()
        }
    }

    /// Sends CallReply.probe to every client with a call in progress; a send that fails means the
    /// client is gone, and `reply` cancels its calls and releases their sequences on every stage.
    private func probeClients() {
        var clients = Set<[UInt8]>()
        for call in calls.values where !call.ended { clients.insert(call.key.routingID) }
        for p in tokenizing.values { clients.insert(p.key.routingID) }
        for id in clients { reply(id, .probe) }
    }

    /// Answers a call with its final status (and, for an OK unary call, its response).
    private func finish(_ call: CallState, status: Status) {
        guard !call.ended else { return }
        call.ended = true
        calls[call.key] = nil
        if status.isOK {
            let r = call.output.result
            let timing = timingOf(call)
            if call.streaming {
                reply(call.key.routingID, .end(callID: call.key.callID, status: status))
            } else {
                reply(call.key.routingID, .response(callID: call.key.callID, GenerateResponse(
                    tokenIDs: r.tokenIds.map { UInt32($0) }, logprobs: r.logprobs, topLogprobs: call.topLogprobs, text: r.text,
                    finishReason: MQProtocol.FinishReason(r.finishReason), promptTokens: UInt32(call.prompt.count),
                    completionTokens: UInt32(r.tokenIds.count), timing: timing)))
            }
        } else {
            reply(call.key.routingID, .end(callID: call.key.callID, status: status))
        }
        logger.debug("call ended", metadata: ["call": "\(call.key.callID)", "status": "\(status)"])
    }

    private func timingOf(_ call: CallState) -> GenerationTiming {
        let now = clock.now
        let start = call.firstStepSent ?? now
        let first = call.firstTokenAt ?? now
        return GenerationTiming(queueNanoseconds: nanos(start - call.received), prefillNanoseconds: nanos(first - start),
                                decodeNanoseconds: nanos(now - first))
    }

    /// Sends Release for ended sequences that no in-flight step holds, and forgets them.
    private func releaseEnded() {
        var ids: [UInt64] = []
        for call in arrival where call.ended && !call.inStep {
            if call.started { ids.append(call.seqID) }
            if call.admitted {
                // Release travels on the control socket and the next Step on the data socket, which
                // are not ordered: a worker may see a new sequence before it has freed this one.
                // So the reservation returns to the pool only after a grace period.
                pendingFree.append((tokens: Self.reservation(call), at: clock.now))
                call.admitted = false
            }
            bySeq[call.seqID] = nil
        }
        arrival.removeAll { $0.ended && !$0.inStep }
        guard !ids.isEmpty else { return }
        for id in cluster.stageRoutingIDs { sendWorker(id, .release(Release(seqIDs: ids))) }
    }

    private func health() -> HealthResponse {
        let now = clock.now
        return HealthResponse(
            serving: cluster.serving && draining == nil,
            missingLayers: cluster.missingLayers.map { LayerRange(UInt32($0.lowerBound)..<UInt32($0.upperBound)) },
            workers: cluster.allRecords.map { w in
                WorkerStatus(workerID: w.workerID, dataEndpoint: w.dataEndpoint, state: w.state,
                             layers: w.stage.flatMap { s in cluster.plan.map { LayerRange(UInt32($0[s].lowerBound)..<UInt32($0[s].upperBound)) } },
                             stageIndex: UInt32(w.stage ?? 0), lastHeardMilliseconds: UInt64(max(0, (now - w.lastHeard).milliseconds)),
                             activeSequences: w.activeSequences)
            },
            totalLayers: UInt32(shape.layers), inFlightCalls: UInt32(calls.count))
    }

    /// Calls not ended that wait for KV admission (the queue `--max-queued` bounds).
    private var waitingCalls: Int { arrival.reduce(0) { $0 + (!$1.ended && !$1.admitted ? 1 : 0) } }

    /// GET /metrics on `--metrics-listen` (Prometheus text format); anything else is 404 or 405.
    private func serveHTTP(_ r: HTTPRequest) -> HTTPResponse {
        guard r.method == "GET" || r.method == "HEAD" else {
            return HTTPResponse(status: 405, reason: "Method Not Allowed", body: "only GET /metrics is served here\n")
        }
        guard r.path == "/metrics" else { return HTTPResponse(status: 404, reason: "Not Found", body: "only GET /metrics is served here\n") }
        let admitted = arrival.reduce(0) { $0 + (!$1.ended && $1.admitted ? 1 : 0) }
        let text = MetricsText.render(MetricsSnapshot(
            info: info(), health: health(), counters: counters, waitingCalls: waitingCalls, admittedCalls: admitted,
            maxQueuedCalls: config.maxQueuedCalls, workersRegistered: cluster.allRecords.filter { $0.state != .lost }.count))
        return HTTPResponse(status: 200, reason: "OK", contentType: "text/plain; version=0.0.4; charset=utf-8", body: text)
    }

    private func info() -> InfoResponse {
        let kind: MQProtocol.AttentionKind = MQProtocol.AttentionKind(heads: shape.heads, kvHeads: shape.kvHeads)
        let model = ModelInfo(name: modelName, architecture: shape.architecture, attentionKind: kind,
                              numLayers: UInt32(shape.layers), hiddenSize: UInt32(shape.hiddenSize), numHeads: UInt32(shape.heads),
                              kvHeads: UInt32(shape.kvHeads), headDim: UInt32(shape.headDim), vocabSize: UInt32(shape.vocabSize),
                              maxPositions: UInt32(shape.maxPositions), kvBytesPerToken: UInt64(shape.kvBytesPerToken(layerCount: shape.layers)),
                              eosTokenID: UInt32(shape.eosTokenIds.first ?? 0))
        var stages: [StageInfo] = []
        if let plan = cluster.plan {
            for (s, r) in plan.enumerated() {
                let w = cluster.worker(atStage: s)
                let stage = UInt32(s)
                stages.append(StageInfo(stageIndex: stage, workerID: w?.workerID ?? "", dataEndpoint: w?.dataEndpoint ?? "",
                                        layers: LayerRange(UInt32(r.lowerBound)..<UInt32(r.upperBound)),
                                        residentBytes: w?.residentBytes ?? 0, kvCapacityBytes: w?.kvCapacityBytes ?? 0,
                                        kvUsedBytes: w?.kvUsedBytes ?? 0,
                                        busyFraction: busy.fraction(stage: stage, now: clock.now),
                                        steps: busy.steps[stage] ?? 0, busyNanoseconds: busy.forwardNanos[stage] ?? 0))
            }
        }
        let limits = ServerLimits(maxPromptTokens: UInt32(maxPromptTokens), defaultMaxNewTokens: UInt32(config.defaultMaxNewTokens),
                                  maxNewTokens: UInt32(config.maxNewTokens),
                                  defaultTimeoutMilliseconds: UInt32(config.defaultTimeout.milliseconds),
                                  maxTimeoutMilliseconds: UInt32(config.maxTimeout.milliseconds))
        return InfoResponse(model: model, stages: stages, limits: limits)
    }

    // MARK: worker plane

    private func sendWorker(_ id: [UInt8], _ msg: WorkerMessage) {
        do { try workerSocket.send(to: id, frames: [msg.encode()]) } catch {
            logger.warning("cannot reach worker", metadata: ["worker": "\(cluster.record(id)?.workerID ?? "?")", "error": "\(error)"])
        }
    }

    private func handleWorker(_ m: RoutedMessage) {
        guard m.frames.count == 1 else { warn("worker-frames", "dropped a worker message with \(m.frames.count) frames (expected 1)"); return }
        let msg: WorkerMessage
        do { msg = try WorkerMessage.decode(m.frames[0]) } catch {
            warn("worker-undecodable", "dropped an undecodable worker frame", metadata: ["error": "\(error)"])
            return
        }
        let now = clock.now
        let key = m.userID ?? ""
        // Fencing: only a registered connection, speaking with the key it registered with, is
        // heard; anything else is dropped before it can touch the cluster's state.
        if case .register = msg {} else {
            guard let record = cluster.record(m.identity), record.publicKey == key else {
                warn("worker-unregistered", "dropped \(msg.kindName) from an unregistered worker connection", metadata: ["key": "\(key.isEmpty ? "none" : key)"])
                return
            }
        }
        cluster.heard(m.identity, now: now)
        let name = cluster.record(m.identity)?.workerID ?? "unregistered"
        switch msg {
        case .register(let r):
            do { try r.requireCompatibleVersion() } catch {
                logger.error("refused a worker of another protocol version", metadata: ["worker": "\(r.workerID)", "error": "\(error)"])
                sendWorker(m.identity, .error(.versionMismatch(worker: r.version)))
                return
            }
            if config.security != nil && key.isEmpty {
                warn("worker-keyless", "dropped a Register without a CURVE key", metadata: ["worker": "\(r.workerID)"])
                return
            }
            if let holder = cluster.conflictingRegistration(workerID: r.workerID, publicKey: key, routingID: m.identity) {
                warn("worker-id-taken", "refused a Register: the worker id is held by a live worker with another key", metadata: [
                    "worker": "\(r.workerID)", "key": "\(key)", "holder_key": "\(holder.publicKey)"])
                return
            }
            cluster.register(r, routingID: m.identity, publicKey: key, now: now)
            logger.info("worker registered", metadata: ["worker": "\(r.workerID)", "data": "\(r.dataEndpoint)", "memory": "\(r.memoryBytes)"])
            reconcile()
        case .ready(let r):
            if cluster.ready(r, from: m.identity) {
                logger.info("stage ready", metadata: ["worker": "\(name)", "layers": "\(r.layers)", "resident_bytes": "\(r.residentBytes)",
                                                     "kv_bytes_per_token": "\(r.kvBytesPerToken)", "load_ms": "\(r.loadNanoseconds / 1_000_000)"])
                updateDataTarget()
                if cluster.serving { logger.info("serving", metadata: ["stages": "\(config.stages)"]) }
            }
        case .stepResult(let r):
            guard let last = cluster.stageRoutingIDs.last, cluster.stageRoutingIDs.count == config.stages, last == m.identity,
                  r.epoch == cluster.epoch else {
                warn("stale-result", "dropped a StepResult that is not from the current last stage and epoch", metadata: [
                    "worker": "\(name)", "epoch": "\(r.epoch)", "current_epoch": "\(cluster.epoch)"])
                return
            }
            handleResult(r, now: now)
        case .heartbeat(let h): if let load = h.load { cluster.updateLoad(m.identity, load) }
        case .shutdown(let s): workerLost(m.identity, reason: "worker \(name) left: \(s.reason)")
        case .error(let e): handleWorkerError(e, from: m.identity, name: name)
        case .assign, .step, .release:
            warn("worker-unexpected", "unexpected \(msg.kindName) from worker \(name)")
        }
    }

    /// A warning about one bad frame, written unless a flood of its kind used up this interval's lines.
    private func warn(_ kind: String, _ message: @autoclosure () -> Logger.Message, metadata: Logger.Metadata? = nil) {
        guard case .write(let summary) = warnings.admit(kind, now: clock.now) else { return }
        if let summary { logger.warning("\(summary)") }
        logger.warning(message(), metadata: metadata)
    }

    private func reconcile() {
        for (id, a) in cluster.reconcile() {
            logger.info("assigning", metadata: ["worker": "\(cluster.record(id)?.workerID ?? "?")", "stage": "\(a.stageIndex)",
                                                "layers": "\(a.layers)", "next": "\(a.nextEndpoint)"])
            busy.assign(stage: a.stageIndex, worker: id)
            sendWorker(id, .assign(a))
        }
    }

    /// Points the step PUSH socket at stage 0's data endpoint when that changes.
    private func updateDataTarget() {
        guard let first = cluster.worker(atStage: 0), first.state == .ready,
              first.dataEndpoint != dataTarget || first.publicKey != dataTargetKey else { return }
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
            dataTarget = first.dataEndpoint
            dataTargetKey = first.publicKey
        } catch {
            logger.error("cannot connect to stage 0", metadata: ["endpoint": "\(first.dataEndpoint)", "error": "\(error)"])
            dataPush = nil
            dataTarget = nil
            dataTargetKey = nil
        }
    }

    private func handleWorkerError(_ e: WorkerError, from id: [UInt8], name: String) {
        logger.warning("worker error", metadata: ["worker": "\(name)", "error": "\(e)"])
        switch e.code {
        case .loadFailed, .invalidAssignment:
            workerLost(id, reason: "worker \(name) could not take its assignment: \(e.message)")
            return
        default: break
        }
        guard let sid = e.stepID, let step = inFlight.removeValue(forKey: sid) else { return }
        // The step stopped at that stage: its sequences' caches now disagree between stages, so
        // every call in it ends (the named one with the mapped code) and is released everywhere.
        for m in step.members {
            guard let call = bySeq[m.seq] else { continue }
            call.inStep = false
            let code: StatusCode = (e.code == .kvCacheFull && (e.seqID == nil || e.seqID == m.seq)) ? .resourceExhausted
                : (e.code == .stepFailed || e.code == .internalError ? .internalError : .unavailable)
            finish(call, status: Status(code: code, message: "stage \(name): \(e.message)"))
        }
        releaseEnded()
    }

    private func workerLost(_ id: [UInt8], reason: String) {
        guard let rec = cluster.markLost(id, now: clock.now) else { return }
        logger.error("worker lost", metadata: ["worker": "\(rec.workerID)", "reason": "\(reason)",
                                                "missing": "\(cluster.missingLayers)"])
        if rec.stage != nil {
            // Every call with state in the pipeline fails; surviving stages drop those sequences.
            let layers = rec.stage.flatMap { s in cluster.plan?[s] }.map { "\($0.lowerBound)..<\($0.upperBound)" } ?? "?"
            inFlight.removeAll()
            for call in arrival where !call.ended {
                call.inStep = false
                finish(call, status: Status(code: .unavailable, message: "worker \(rec.workerID) (layers \(layers)) lost: \(reason)"))
            }
            for call in arrival { call.inStep = false }
            releaseEnded()
            if rec.stage == 0 { dataPush?.close(); dataPush = nil; dataTarget = nil; dataTargetKey = nil }
        }
        reconcile()
    }

    // MARK: steps

    private func checkTimers(_ now: ContinuousClock.Instant) {
        for id in cluster.expired(now: now, expiry: WorkerPlaneTiming.peerExpiry) {
            workerLost(id, reason: "no heartbeat for \(WorkerPlaneTiming.peerExpiry)")
        }
        for (ticket, p) in tokenizing where now >= p.deadline {
            tokenizing[ticket] = nil
            reply(p.key.routingID, .failure(callID: p.key.callID, .deadlineExceeded, "deadline exceeded while tokenizing the prompt"))
        }
        cluster.forgetLost(now: now)
        var any = false
        for call in arrival where !call.ended && now >= call.deadline {
            finish(call, status: Status(code: .deadlineExceeded, message: "deadline exceeded after \(call.output.tokenIds.count) tokens"))
            any = true
        }
        for (id, step) in inFlight where now - step.sent > config.stepTimeout {
            logger.error("step timed out", metadata: ["step": "\(id)"])
            inFlight[id] = nil
            for m in step.members {
                guard let call = bySeq[m.seq] else { continue }
                call.inStep = false
                finish(call, status: Status(code: .unavailable, message: "step \(id) did not complete within \(config.stepTimeout)"))
            }
            any = true
        }
        if any { releaseEnded() }
    }

    /// Tokens of KV cache every stage can hold (the tightest stage decides), in whole blocks.
    private var kvCapacityTokens: Int? {
        var best: Int? = nil
        for s in 0..<config.stages {
            guard let w = cluster.worker(atStage: s), w.kvBytesPerToken > 0 else { return nil }
            let perBlock = Int(w.kvBytesPerToken) * CoordinatorDefaults.kvBlockTokens
            let tokens = Int(w.kvCapacityBytes) / perBlock * CoordinatorDefaults.kvBlockTokens
            best = min(best ?? tokens, tokens)
        }
        return best
    }

    /// KV tokens a call reserves: its prompt plus max new tokens, rounded up to whole blocks.
    static func reservation(_ call: CallState) -> Int {
        let n = call.prompt.count + call.output.maxNewTokens
        let b = CoordinatorDefaults.kvBlockTokens
        return (n + b - 1) / b * b
    }

    /// Admits waiting calls in arrival order while every stage has room for them (no overtaking,
    /// so a large request is not starved by small ones).
    private func admit() {
        let now = clock.now
        while let first = pendingFree.first, now - first.at >= CoordinatorDefaults.releaseGrace {
            reservedTokens -= first.tokens
            pendingFree.removeFirst()
        }
        guard let capacity = kvCapacityTokens else { return }
        for call in arrival where !call.ended && !call.admitted {
            let need = Self.reservation(call)
            if need > capacity {
                finish(call, status: Status(code: .resourceExhausted, message:
                    "the request needs \(need) tokens of KV cache but a stage holds at most \(capacity) (its KV memory, set by --kv-memory); "
                    + "shorten the prompt or max_new_tokens"))
                continue
            }
            guard reservedTokens + need <= capacity else { break }
            reservedTokens += need
            call.admitted = true
            counters.promptTokens += UInt64(call.prompt.count)
        }
    }

    private func schedule(_ now: ContinuousClock.Instant) {
        guard cluster.serving, let push = dataPush else { return }
        admit()
        while inFlight.count < max(1, config.microBatches) {
            // Sequences ready for a step: admitted, not finished, not already in the pipeline.
            let ready = arrival.filter { !$0.ended && $0.admitted && !$0.inStep }
            guard !ready.isEmpty else { return }
            // Spread the ready sequences over the free micro-batch slots so stages overlap.
            let slots = max(1, config.microBatches) - inFlight.count
            let share = min(CoordinatorDefaults.maxSequencesPerStep, (ready.count + slots - 1) / slots)
            var seqs: [StepSequence] = []
            var members: [(CallState, Int, Bool)] = []
            var tokens = 0
            for call in ready {
                guard seqs.count < share else { break }
                // Long prompts go in chunks so running decodes keep their pace.
                let fed = min(call.nextInput.count, config.prefillChunk)
                guard tokens + fed <= CoordinatorDefaults.maxTokensPerStep || seqs.isEmpty else { break }
                let sample = fed == call.nextInput.count
                seqs.append(StepSequence(seqID: call.seqID, position: UInt32(call.position),
                                         tokenIDs: call.nextInput.prefix(fed).map { UInt32($0) },
                                         sample: sample, sampling: call.position == 0 ? call.sampling : nil))
                members.append((call, fed, sample))
                tokens += fed
            }
            let step = Step(stepID: nextStepID, stageIndex: 0, sequences: seqs, epoch: cluster.epoch)
            do {
                let frames = try StepFrames(step: step, tensor: nil).encode()
                guard try push.trySend(frames: frames) else { return }   // stage 0 not connected yet: retry next loop
            } catch {
                logger.error("cannot send step", metadata: ["error": "\(error)"])
                return
            }
            nextStepID += 1
            inFlight[step.stepID] = InFlightStep(sent: now, members: members.map { (seq: $0.0.seqID, fed: $0.1, sampled: $0.2) })
            busy.start(now)
            for (call, _, _) in members {
                call.inStep = true
                call.started = true
                if call.firstStepSent == nil { call.firstStepSent = now }
            }
        }
    }

    private func handleResult(_ r: StepResult, now: ContinuousClock.Instant) {
        guard let step = inFlight.removeValue(forKey: r.stepID) else {
            logger.debug("ignored a result for step \(r.stepID) (not in flight)")
            return
        }
        stats.add(roundTrip: now - step.sent, stageNanos: r.timings.reduce(0) { $0 + $1.queueNanoseconds + $1.forwardNanoseconds })
        busy.add(r.timings)
        var results: [UInt64: SequenceResult] = [:]
        for x in r.results { results[x.seqID] = x }
        for m in step.members {
            guard let call = bySeq[m.seq] else { continue }
            call.inStep = false
            guard !call.ended else { continue }
            call.position += m.fed
            guard m.sampled else {
                call.nextInput.removeFirst(m.fed)    // the rest of a chunked prompt
                continue
            }
            guard let x = results[m.seq] else {
                finish(call, status: Status(code: .internalError, message: "step \(r.stepID) returned no token for sequence \(m.seq)"))
                continue
            }
            call.nextInput = [Int(x.tokenID)]
            if call.firstTokenAt == nil { call.firstTokenAt = now }
            let delta = call.output.append(id: Int(x.tokenID), logprob: x.logprob)
            counters.generatedTokens += 1
            if call.sampling.topLogprobs > 0 { call.topLogprobs.append(x.topLogprobs) }
            var reason = call.output.finishReason
            if reason == nil && call.position + 1 >= shape.maxPositions {
                // The context window is full (cannot happen when prompt + max_new_tokens fit).
                _ = call.output.finish(.length); reason = .length
            }
            if call.streaming {
                let last = reason != nil
                reply(call.key.routingID, .chunk(callID: call.key.callID, GenerateStreamChunk(
                    tokenIDs: [x.tokenID], logprobs: [x.logprob],
                    topLogprobs: call.sampling.topLogprobs > 0 ? [x.topLogprobs] : [], textDelta: delta,
                    finishReason: reason.map { MQProtocol.FinishReason($0) },
                    promptTokens: last ? UInt32(call.prompt.count) : 0,
                    completionTokens: last ? UInt32(call.output.tokenIds.count) : 0,
                    timing: last ? timingOf(call) : nil)))
            }
            if reason != nil { finish(call, status: Status(code: .ok)) }
        }
        releaseEnded()
    }

    public var hopStatistics: String { stats.summary(stages: config.stages) + "; " + busy.summary(now: clock.now) }
}

private func nanos(_ d: Duration) -> UInt64 {
    UInt64(max(0, d.components.seconds)) * 1_000_000_000 + UInt64(max(0, d.components.attoseconds)) / 1_000_000_000
}

/// Step round trips and the per-hop latency derived from them (PROTOCOL.md 6.2).
struct HopStats {
    var steps = 0
    var roundTripNanos: UInt64 = 0
    var stageNanos: UInt64 = 0

    mutating func add(roundTrip: Duration, stageNanos s: UInt64) {
        steps += 1
        roundTripNanos += nanos(roundTrip)
        stageNanos += s
    }

    func summary(stages: Int) -> String {
        guard steps > 0 else { return "no steps" }
        let rt = Double(roundTripNanos) / Double(steps) / 1e6
        let hop = Double(roundTripNanos > stageNanos ? roundTripNanos - stageNanos : 0) / Double(steps) / Double(stages + 1) / 1e3
        return String(format: "%d steps, mean round trip %.3f ms, mean per-hop latency %.1f us over %d hops", steps, rt, hop, stages + 1)
    }

    func metadata(stages: Int) -> Logger.Metadata { ["steps": "\(summary(stages: stages))"] }
}

/// A call whose text is being tokenized off the service loop.
struct PendingText {
    enum Purpose {
        case tokenize
        case generate(GenerateRequest, streaming: Bool)
    }
    let key: CallKey
    let purpose: Purpose
    let received: ContinuousClock.Instant
    let deadline: ContinuousClock.Instant
}

/// Connections the ZAP handler refused, reported from its thread and rate-limited like the
/// loop's own warnings.
final class SecurityLog: Sendable {
    private let logger: Logger
    private let limiter = LockedWarningLimiter()

    init(logger: Logger) { self.logger = logger }

    func note(_ what: String, _ metadata: Logger.Metadata = [:]) {
        guard case .write(let summary) = limiter.admit(what) else { return }
        if let summary { logger.warning("\(summary)") }
        logger.warning("\(what)", metadata: metadata)
    }
}

struct InFlightStep {
    var sent: ContinuousClock.Instant
    /// Each sequence of the step: how many tokens it fed and whether the last stage samples it.
    var members: [(seq: UInt64, fed: Int, sampled: Bool)]
}

/// How busy each stage is: the sum of its forward times over the wall time since its first step,
/// counted from the assignment of the worker that holds it (a replacement starts from zero).
struct BusyStats {
    var since: [UInt32: ContinuousClock.Instant] = [:]
    var forwardNanos: [UInt32: UInt64] = [:]
    var steps: [UInt32: UInt64] = [:]
    /// The worker each stage's counters belong to.
    var owner: [UInt32: [UInt8]] = [:]

    /// A worker (re)assigned to `stage`: a different worker than before starts new counters; the
    /// same worker re-pointed at a new next stage keeps them.
    mutating func assign(stage: UInt32, worker: [UInt8]) {
        guard owner[stage] != worker else { return }
        owner[stage] = worker
        since[stage] = nil; forwardNanos[stage] = nil; steps[stage] = nil
    }

    /// A step was sent: stages without a first step start their clocks now.
    mutating func start(_ now: ContinuousClock.Instant) {
        for stage in owner.keys where since[stage] == nil { since[stage] = now }
    }

    mutating func add(_ timings: [StageTiming]) {
        for t in timings {
            forwardNanos[t.stageIndex, default: 0] += t.forwardNanoseconds
            steps[t.stageIndex, default: 0] += 1
        }
    }

    func fraction(stage: UInt32, now: ContinuousClock.Instant) -> Double {
        guard let since = since[stage] else { return 0 }
        let wall = Double(nanos(now - since))
        return wall > 0 ? min(1, Double(forwardNanos[stage] ?? 0) / wall) : 0
    }

    func summary(now: ContinuousClock.Instant) -> String {
        let parts = forwardNanos.keys.sorted().map { String(format: "stage %d busy %.1f%%", $0, 100 * fraction(stage: $0, now: now)) }
        return parts.isEmpty ? "no stage timings" : parts.joined(separator: ", ")
    }
}
