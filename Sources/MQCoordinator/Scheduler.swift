// The coordinator's decisions, apart from any socket or clock (STYLE habit 13): the call table,
// KV admission, building steps, taking results, deadlines, and what a lost worker means for the
// calls in flight (replay on a standby, PROTOCOL.md 6.5). Events come in as method calls with the
// current time; what must happen on the wire comes out as `SchedulerCommand`s, which the socket
// loop (CoordinatorService) carries out in order. Worker events, fencing and failover are in
// Scheduler+Workers.swift. The deterministic simulation tests drive exactly this type.
import Logging
import MQGeneration
import MQProtocol

/// What the scheduler asks the socket loop to do, in order.
enum SchedulerCommand {
    /// A reply to a client connection.
    case reply([UInt8], CallReply)
    /// A control message to a worker.
    case toWorker([UInt8], WorkerMessage)
    /// A step to stage 0's data socket. If it cannot be sent, the loop reports `stepNotSent`.
    case step(Step)
    /// A line for the log; `kind` non-nil makes it a rate-limited warning of that kind.
    case log(Logger.Level, String, Logger.Metadata, kind: String?)
}

struct SchedulerSettings {
    var stages: Int
    var microBatches: Int
    var prefillChunk: Int
    var maxQueuedCalls: Int
    var stepTimeout: Duration
    /// How long calls wait for a standby to take a lost stage before they fail (0: fail at once).
    var failoverTimeout: Duration
    var peerExpiry: Duration = WorkerPlaneTiming.peerExpiry
    var maxSequencesPerStep = CoordinatorDefaults.maxSequencesPerStep
    var maxTokensPerStep = CoordinatorDefaults.maxTokensPerStep
    /// The model's context length: a sequence that reaches it stops (length).
    var maxPositions: Int
    /// Reuse cached prompt prefixes (`--no-prefix-cache` turns it off; Scheduler+Prefix.swift).
    var prefixCache = true
}

struct Scheduler {
    let settings: SchedulerSettings
    var cluster: Cluster
    private(set) var calls: [CallKey: CallState] = [:]
    var bySeq: [UInt64: CallState] = [:]
    /// Calls in arrival order: admission and scheduling follow it.
    private(set) var arrival: [CallState] = []
    private var nextSeqID: UInt64 = 1
    private var nextStepID: UInt64 = 1
    /// Steps in the pipeline (up to `microBatches`, disjoint sequences), by step id.
    var inFlight: [UInt64: InFlightStep] = [:]
    /// KV positions reserved per stage by admitted calls (whole blocks of that stage), not
    /// counting blocks the prefix cache holds.
    var reserved: [Int]
    /// Sequences to free on every stage, carried by the next step (in order with the steps).
    var pendingReleases: [UInt64] = []
    /// The prefix cache every stage holds (nil until the stages' block size is known).
    var prefix: PrefixIndex?
    /// Blocks to keep and to evict on every stage, carried by the next step like the releases.
    var pendingCacheBlocks: [CachedBlock] = []
    var pendingEvictions: [UInt64] = []
    /// Evicted hashes some stage may still hold (the eviction is pending or its step has not come
    /// back): not cached again until it has, so a late eviction cannot free a newer block.
    var evictionsInDoubt: Set<UInt64> = []
    /// After a pipeline reset (every cache emptied): recompute the admitted calls' reservations.
    var resetReservations = false
    /// Set while a stage has no worker and calls wait for a standby; nil otherwise.
    var failoverSince: ContinuousClock.Instant?
    var draining = false
    var busy = BusyStats()
    var counters = ServiceCounters()
    private(set) var stats = HopStats()
    private var out: [SchedulerCommand] = []

    init(settings: SchedulerSettings, cluster: Cluster) {
        self.settings = settings
        self.cluster = cluster
        reserved = Array(repeating: 0, count: settings.stages)
    }

    /// The commands produced since the last call, in order.
    mutating func takeCommands() -> [SchedulerCommand] {
        defer { out.removeAll(keepingCapacity: true) }
        return out
    }

    mutating func emit(_ command: SchedulerCommand) { out.append(command) }

    mutating func log(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata = [:], kind: String? = nil) {
        out.append(.log(level, message, metadata, kind: kind))
    }

    // MARK: calls

    /// Calls not ended that wait for KV admission (the queue `--max-queued` bounds).
    var waitingCalls: Int { arrival.reduce(0) { $0 + (!$1.ended && !$1.admitted ? 1 : 0) } }
    var admittedCalls: Int { arrival.reduce(0) { $0 + (!$1.ended && $1.admitted ? 1 : 0) } }

    /// Why a new generation cannot be queued now (nil: it can). `alsoWaiting` counts calls the
    /// loop holds before they reach the scheduler (prompts being tokenized).
    func refusal(alsoWaiting: Int) -> Status? {
        if draining { return Status(code: .unavailable, message: "the coordinator is shutting down") }
        // During a failover new calls queue behind the replayed ones instead of failing.
        if !cluster.serving && failoverSince == nil {
            let missing = cluster.missingLayers.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ")
            return Status(code: .unavailable, message: "not serving: layers \(missing) have no ready worker")
        }
        let waiting = waitingCalls + alsoWaiting
        guard waiting < settings.maxQueuedCalls else {
            return Status(code: .resourceExhausted,
                          message: "the queue is full: \(waiting) calls wait for admission, at the limit of \(settings.maxQueuedCalls) set by --max-queued; retry later")
        }
        return nil
    }

    /// Queues a checked generation call; returns it (with its sequence id).
    @discardableResult
    mutating func addCall(key: CallKey, streaming: Bool, received: ContinuousClock.Instant, deadline: ContinuousClock.Instant,
                          prompt: [Int], sampling: SamplingParams, output: OutputTracker, promptLogprobs: Bool = false) -> CallState {
        let call = CallState(key: key, streaming: streaming, received: received, deadline: deadline,
                             seqID: nextSeqID, prompt: prompt, sampling: sampling, output: output)
        call.wantsPromptLogprobs = promptLogprobs
        nextSeqID += 1
        calls[key] = call
        bySeq[call.seqID] = call
        arrival.append(call)
        return call
    }

    /// Cancels `key`'s call; false if it is not in flight.
    mutating func cancel(_ key: CallKey, by callID: UInt64, now: ContinuousClock.Instant) -> Bool {
        guard let victim = calls[key] else { return false }
        finish(victim, status: Status(code: .cancelled, message: "cancelled by call \(callID)"), now: now)
        releaseEnded()
        return true
    }

    /// A client connection is gone: its calls end (CANCELLED, no reply) and are released.
    mutating func clientGone(_ routingID: [UInt8]) -> Int {
        var cancelled = 0
        for call in calls.values where call.key.routingID == routingID && !call.ended {
            call.ended = true
            calls[call.key] = nil
            cancelled += 1
        }
        counters.callsByStatus[StatusCode.cancelled.description, default: 0] += UInt64(cancelled)
        releaseEnded()
        return cancelled
    }

    /// Ends every call with `status` (shutdown).
    mutating func finishAll(_ status: Status, now: ContinuousClock.Instant) {
        for call in arrival where !call.ended { finish(call, status: status, now: now) }
        releaseEnded()
    }

    /// Answers a call with its final status (and, for an OK unary call, its response).
    mutating func finish(_ call: CallState, status: Status, now: ContinuousClock.Instant) {
        guard !call.ended else { return }
        call.ended = true
        calls[call.key] = nil
        counters.callsByStatus[status.code.description, default: 0] += 1
        if status.isOK && !call.streaming {
            let r = call.output.result
            emit(.reply(call.key.routingID, .response(callID: call.key.callID, GenerateResponse(
                tokenIDs: r.tokenIds.map { UInt32($0) }, logprobs: r.logprobs, topLogprobs: call.topLogprobs, text: r.text,
                finishReason: MQProtocol.FinishReason(r.finishReason), promptTokens: UInt32(call.prompt.count),
                completionTokens: UInt32(r.tokenIds.count), timing: call.timing(now: now),
                promptTokenIDs: call.promptScores == nil ? [] : call.prompt.map { UInt32($0) },
                promptLogprobs: call.promptScores?.logprobs ?? [], promptTopLogprobs: call.promptScores?.top ?? []))))
        } else {
            emit(.reply(call.key.routingID, .end(callID: call.key.callID, status: status)))
        }
        log(.debug, "call ended", ["call": "\(call.key.callID)", "status": "\(status)"])
    }

    /// Ended calls that no step holds: their sequences are released on every stage with the next
    /// step, and their KV reservations return to the pool now (the release is ordered before any
    /// step that could use the space).
    mutating func releaseEnded() {
        for call in arrival where call.ended && !call.inStep {
            if call.started { pendingReleases.append(call.seqID) }
            releasePrefix(call)
            if call.admitted {
                for (s, n) in call.reservation.enumerated() where s < reserved.count { reserved[s] -= n }
                call.reservation = []
                call.admitted = false
            }
            bySeq[call.seqID] = nil
        }
        arrival.removeAll { $0.ended && !$0.inStep }
    }

    // MARK: time

    /// Deadlines, lost workers, failover and step timeouts, admission, then new steps.
    mutating func tick(now: ContinuousClock.Instant) {
        for id in cluster.expired(now: now, expiry: settings.peerExpiry) {
            workerLost(id, reason: "no heartbeat for \(settings.peerExpiry)", now: now)
        }
        cluster.forgetLost(now: now)
        checkFailover(now: now)
        for call in arrival where !call.ended && now >= call.deadline {
            finish(call, status: Status(code: .deadlineExceeded, message: "deadline exceeded after \(call.output.tokenIds.count) tokens"), now: now)
        }
        for (id, step) in inFlight where now - step.sent > settings.stepTimeout {
            log(.error, "step timed out", ["step": "\(id)"])
            inFlight[id] = nil
            for m in step.members {
                guard let call = bySeq[m.seq] else { continue }
                call.inStep = false
                finish(call, status: Status(code: .unavailable, message: "step \(id) did not complete within \(settings.stepTimeout)"), now: now)
            }
            requeue(step)
        }
        releaseEnded()
        schedule(now: now)
    }

    // MARK: admission

    /// Positions of KV cache each stage can hold, in whole blocks (nil until every stage is Ready).
    var stageCapacities: [(tokens: Int, block: Int)]? {
        var out: [(Int, Int)] = []
        for s in 0..<settings.stages {
            guard let w = cluster.worker(atStage: s), w.state == .ready, w.kvBytesPerToken > 0 else { return nil }
            let block = Int(w.kvBlockTokens == 0 ? UInt32(CoordinatorDefaults.kvBlockTokens) : w.kvBlockTokens)
            out.append((Int(w.kvCapacityBytes) / (Int(w.kvBytesPerToken) * block) * block, block))
        }
        return out
    }

    /// Positions of KV cache every stage can hold (the tightest decides).
    var kvCapacityTokens: Int? { stageCapacities?.map(\.tokens).min() }

    /// Admits waiting calls in arrival order while every stage has room for the prompt plus max
    /// new tokens (no overtaking, so a large request is not starved by small ones).
    /// With the prefix cache, a call reserves only the blocks its cached prefix does not cover,
    /// and unused cached blocks are evicted (least recently used first) to make room.
    mutating func admit(now: ContinuousClock.Instant) {
        guard let capacities = stageCapacities else { return }
        if resetReservations { recomputeReservations(capacities) }
        let block = preparePrefix(capacities)
        for call in arrival where !call.ended && !call.admitted {
            let n = call.prompt.count + call.output.maxNewTokens
            let need = capacities.map { (n + $0.block - 1) / $0.block * $0.block }
            if let s = need.indices.first(where: { need[$0] > capacities[$0].tokens }) {
                finish(call, status: Status(code: .resourceExhausted, message:
                    "the request needs \(need[s]) tokens of KV cache but stage \(s) holds at most \(capacities[s].tokens) (--kv-memory); shorten the prompt or max_new_tokens"), now: now)
                continue
            }
            let hits = block.map { prefixHits(call, block: $0) } ?? []
            let fresh = need.map { $0 - hits.count * (block ?? 0) }
            let cached = (prefix?.count ?? 0) * (block ?? 0)
            let short = fresh.indices.map { reserved[$0] + cached + fresh[$0] - capacities[$0].tokens }.max() ?? 0
            if short > 0 {
                guard let block, let victims = prefix?.evict((short + block - 1) / block, keeping: Set(hits)) else { break }
                pendingEvictions += victims
                evictionsInDoubt.formUnion(victims)
                counters.prefixEvictions += UInt64(victims.count)
            }
            for s in fresh.indices { reserved[s] += fresh[s] }
            call.reservation = fresh
            call.admitted = true
            if let block, !hits.isEmpty { reuse(hits, block: block, by: call) }
            if !call.promptCounted { counters.promptTokens += UInt64(call.prompt.count) }
            call.promptCounted = true
        }
    }

    // MARK: steps

    /// Builds steps while micro-batch slots are free and sequences are ready; a step also carries
    /// the pending releases (alone, when nothing else is ready).
    mutating func schedule(now: ContinuousClock.Instant) {
        guard cluster.serving else { return }
        admit(now: now)
        // Every step built in this pass carries the pending releases, not just the first: the
        // loop may fail to send one step (not connected, `stepNotSent`) and send the next, and
        // the space those releases free may already be admitted to a call in a later step; a
        // release must reach every stage before any step that could use its space (seed 2573:
        // KV cache full on a stage). Releasing an id twice is harmless on a worker.
        // The prefix cache's keeps and evictions travel the same way, for the same reason.
        let releases = pendingReleases, keeps = pendingCacheBlocks, evictions = pendingEvictions
        pendingReleases.removeAll()
        pendingCacheBlocks.removeAll()
        pendingEvictions.removeAll()
        var first = true
        defer {
            if first {
                pendingReleases = releases
                pendingCacheBlocks = keeps
                pendingEvictions = evictions
            }
        }
        let housekeeping = !releases.isEmpty || !keeps.isEmpty || !evictions.isEmpty
        while inFlight.count < max(1, settings.microBatches) {
            let ready = arrival.filter { !$0.ended && $0.admitted && !$0.inStep }
            guard !ready.isEmpty || (first && housekeeping) else { return }
            first = false
            // Spread the ready sequences over the free micro-batch slots so stages overlap.
            let slots = max(1, settings.microBatches) - inFlight.count
            let share = min(settings.maxSequencesPerStep, (ready.count + slots - 1) / slots)
            var seqs: [StepSequence] = []
            var members: [InFlightStep.Member] = []
            var tokens = 0
            for call in ready {
                guard seqs.count < share else { break }
                // Long prompts (and replays) go in chunks so running decodes keep their pace.
                let fed = min(call.nextInput.count, settings.prefillChunk)
                guard tokens + fed <= settings.maxTokensPerStep || seqs.isEmpty else { break }
                let sample = fed == call.nextInput.count
                // Its first step starts the sequence: after its cached prefix, if it reuses one.
                let starts = call.position == call.prefixStart
                seqs.append(StepSequence(seqID: call.seqID, position: UInt32(call.position),
                                         tokenIDs: call.nextInput.prefix(fed).map { UInt32($0) }, sample: sample,
                                         sampling: starts ? call.sampling : nil,
                                         sampleStart: starts ? UInt32(call.output.tokenIds.count) : 0,
                                         promptLogprobs: call.scoresPrompt,
                                         prefixBlockHashes: starts ? call.reusedBlocks : [],
                                         prefixTokenIDs: starts ? call.prompt.prefix(call.prefixStart).map { UInt32($0) } : []))
                members.append(InFlightStep.Member(seq: call.seqID, fed: fed, sampled: sample))
                tokens += fed
            }
            let step = Step(stepID: nextStepID, stageIndex: 0, sequences: seqs, epoch: cluster.epoch, releaseSeqIDs: releases,
                            cacheBlocks: keeps, evictBlockHashes: evictions)
            nextStepID += 1
            inFlight[step.stepID] = InFlightStep(sent: now, members: members, releases: releases, cacheBlocks: keeps, evictions: evictions)
            busy.start(now)
            for m in members {
                let call = bySeq[m.seq]!
                call.inStep = true
                call.started = true
                if call.firstStepSent == nil { call.firstStepSent = now }
            }
            emit(.step(step))
            if seqs.isEmpty { return }    // a release-only step: one is enough
        }
    }

    /// The loop could not hand `stepID` to stage 0 (not connected yet): undo it; it is rebuilt
    /// at the next tick.
    mutating func stepNotSent(_ stepID: UInt64) {
        guard let step = inFlight.removeValue(forKey: stepID) else { return }
        for m in step.members { bySeq[m.seq]?.inStep = false }
        requeue(step)
    }

    /// A step that may not have reached every stage: its releases and cache changes go again with
    /// the next step (each is harmless twice on a stage), ahead of newer ones.
    mutating func requeue(_ step: InFlightStep) {
        pendingReleases.insert(contentsOf: step.releases.filter { !pendingReleases.contains($0) }, at: 0)
        pendingCacheBlocks.insert(contentsOf: step.cacheBlocks.filter { !pendingCacheBlocks.contains($0) }, at: 0)
        pendingEvictions.insert(contentsOf: step.evictions.filter { !pendingEvictions.contains($0) }, at: 0)
    }

    /// The last stage's result of a step in flight: append each sampled token, stream it, and end
    /// the calls that finished.
    mutating func stepResult(_ r: StepResult, now: ContinuousClock.Instant) {
        guard let step = inFlight.removeValue(forKey: r.stepID) else {
            log(.debug, "ignored a result for step \(r.stepID) (not in flight)")
            return
        }
        stats.add(roundTrip: now - step.sent, stageNanos: r.timings.reduce(0) { $0 + $1.queueNanoseconds + $1.forwardNanoseconds })
        // Every stage has applied the step's evictions (unless a later step still carries them).
        for h in step.evictions where !pendingEvictions.contains(h) { evictionsInDoubt.remove(h) }
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
                finish(call, status: Status(code: .internalError, message: "step \(r.stepID) returned no token for sequence \(m.seq)"), now: now)
                continue
            }
            let withPromptScores = call.scoresPrompt
            if withPromptScores {
                // Every prompt token after the first, scored over all the prefill's chunks.
                guard x.promptLogprobs.count == call.prompt.count - 1,
                      call.sampling.topLogprobs == 0 || x.promptTopLogprobs.count == x.promptLogprobs.count else {
                    finish(call, status: Status(code: .internalError, message:
                        "step \(r.stepID) returned \(x.promptLogprobs.count) prompt logprobs for sequence \(m.seq)'s \(call.prompt.count)-token prompt"), now: now)
                    continue
                }
                call.promptScores = (x.promptLogprobs, call.sampling.topLogprobs > 0 ? x.promptTopLogprobs : [])
            }
            call.nextInput = [Int(x.tokenID)]
            // The prompt is in every stage's cache now: keep its full blocks for later calls.
            if !call.prefixKept { keepPrefix(call) }
            if call.firstTokenAt == nil { call.firstTokenAt = now }
            let delta = call.output.append(id: Int(x.tokenID), logprob: x.logprob)
            counters.generatedTokens += 1
            if call.sampling.topLogprobs > 0 { call.topLogprobs.append(x.topLogprobs) }
            var reason = call.output.finishReason
            if reason == nil && call.position + 1 >= settings.maxPositions {
                // The context window is full (cannot happen when prompt + max_new_tokens fit).
                _ = call.output.finish(.length); reason = .length
            }
            if call.streaming {
                let last = reason != nil
                emit(.reply(call.key.routingID, .chunk(callID: call.key.callID, GenerateStreamChunk(
                    tokenIDs: [x.tokenID], logprobs: [x.logprob],
                    topLogprobs: call.sampling.topLogprobs > 0 ? [x.topLogprobs] : [], textDelta: delta,
                    finishReason: reason.map { MQProtocol.FinishReason($0) },
                    promptTokens: last ? UInt32(call.prompt.count) : 0,
                    completionTokens: last ? UInt32(call.output.tokenIds.count) : 0,
                    timing: last ? call.timing(now: now) : nil,
                    promptTokenIDs: withPromptScores ? call.prompt.map { UInt32($0) } : [],
                    promptLogprobs: withPromptScores ? call.promptScores!.logprobs : [],
                    promptTopLogprobs: withPromptScores ? call.promptScores!.top : []))))
            }
            if reason != nil { finish(call, status: Status(code: .ok), now: now) }
        }
        releaseEnded()
    }

    /// A step stopped at a stage (WorkerError naming it): its sequences' caches now disagree
    /// between stages, so every call in it ends (`code` for the named sequence, or all).
    mutating func stepFailed(_ stepID: UInt64, code: (UInt64) -> StatusCode, message: String, now: ContinuousClock.Instant) {
        guard let step = inFlight.removeValue(forKey: stepID) else { return }
        for m in step.members {
            guard let call = bySeq[m.seq] else { continue }
            call.inStep = false
            finish(call, status: Status(code: code(m.seq), message: message), now: now)
        }
        requeue(step)
        releaseEnded()
    }
}

struct InFlightStep {
    struct Member {
        let seq: UInt64
        /// Tokens it fed.
        let fed: Int
        /// Whether the last stage samples it.
        let sampled: Bool
    }
    var sent: ContinuousClock.Instant
    var members: [Member]
    /// The releases this step carries (re-queued if the step is lost before it passes).
    var releases: [UInt64]
    /// The prefix-cache keeps and evictions it carries (re-queued alike).
    var cacheBlocks: [CachedBlock] = []
    var evictions: [UInt64] = []
}
