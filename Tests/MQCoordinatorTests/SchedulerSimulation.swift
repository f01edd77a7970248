// One seeded run of the Scheduler inside a simulated cluster (STYLE.md, FoundationDB/TigerBeetle):
// the seed picks the cluster, the calls and the faults; a virtual clock and an event queue drive
// the Scheduler exactly as CoordinatorService's loop does (events in, `perform` of the commands
// out, a tick every 50 ms). Invariants are checked as replies arrive and when the run is quiet.
import MQGeneration
import MQProtocol
@testable import MQCoordinator
import struct MQSampling.SplitMix64

final class Simulation {
    static let origin = ContinuousClock.now
    let seed: UInt64
    var rng: SplitMix64
    var now = Simulation.origin
    var scheduler: Scheduler
    var queue = EventQueue<Event>(origin: Simulation.origin)
    var workers: [SimWorker] = []
    var calls: [CallRecord] = []
    var vanished: Set<Int> = []
    var violations: [String] = []
    var trace: [String]? = nil
    var events = 0
    /// The last delivery time per FIFO link (data connections, the coordinator's PUSH).
    var links: [Int: ContinuousClock.Instant] = [:]
    let vocab = 48    // the shared prefix in init draws from the same range
    let maxPositions: Int
    let faultFree: Bool
    // Fault knobs (per seed).
    let pNotConnected: Double, pDuplicate: Double, fastDetect: Bool, maxDelayMs: Int

    enum Event {
        case tick, probeWorkers, probeClients, heartbeats
        case workerBeat(Int), start(Int), crash(Int), hang(Int), resume(Int), process(Int)
        case arrive(Int, Inbound, incarnation: Int)
        case data(String, Step)
        case toScheduler([UInt8], WorkerMessage)
        case newCall(Int), vanish(Int)
    }

    struct CallRecord {
        let client: Int
        let streaming: Bool
        let prompt: [Int]
        let sampling: SamplingParams
        let maxNew: Int
        let eos: [Int]
        let timeout: Duration
        let reference: [Int]
        /// Asks for prompt logprobs (chosen from the seed, so no draw of the scenario changes).
        var promptLogprobs: Bool { sampling.seed! % 3 == 0 }
        var promptReference: [Float] { referencePromptLogprobs(prompt) }
        var refused: Status? = nil
        var added = false
        var chunks: [Int] = []
        var lastChunk = false
        var final: Status? = nil
        var gone = false
        var routingID: [UInt8] { Array("c\(client)".utf8) }
    }

    init(seed: UInt64, tracing: Bool = false) {
        self.seed = seed
        rng = SplitMix64(seed: seed)
        if tracing { trace = [] }
        let stages = rng.int(2...3)
        maxPositions = rng.chance(0.2) ? rng.int(24...60) : 4096
        faultFree = rng.chance(0.2)
        pNotConnected = faultFree ? 0 : [0, 0, 0.05, 0.3][rng.int(0..<4)]
        pDuplicate = [0, 0.05, 0.3][rng.int(0..<3)]
        fastDetect = rng.chance(0.7)
        maxDelayMs = [1, 5, 40][rng.int(0..<3)]
        let failover: Duration = rng.chance(0.25) ? .zero : rng.ms(300...4000)
        let cluster = try! Cluster(totalLayers: 6, stageCount: stages, policy: .even, modelPath: "/m", kvCapacityBytes: 0)
        // The prefix cache's knobs come from their own stream, so the seeds keep their scenarios.
        var side = SplitMix64(seed: seed ^ 0x7072_6566_6978)
        let prefixCache = side.chance(0.8)
        let oldWorker = side.chance(0.05) ? side.int(0..<5) : -1    // one worker of protocol 1.3
        let sharedVocab = 48
        let shared = (0..<side.int(0...40)).map { _ in side.int(1..<sharedVocab) }
        // A third of the seeds bound a step's tokens tightly (the pinned regression seeds are not
        // among them, so their scenarios stay as they were); sendStep checks the bound.
        var bound = SplitMix64(seed: seed ^ 0x746F_6B65_6E73)
        let maxStepTokens = seed % 3 == 0 ? bound.int(4...120) : CoordinatorDefaults.maxTokensPerStep
        scheduler = Scheduler(settings: SchedulerSettings(
            stages: stages, microBatches: rng.int(1...3), prefillChunk: rng.int(3...24), maxQueuedCalls: rng.int(2...8),
            stepTimeout: rng.chance(0.1) ? rng.ms(500...3000) : .seconds(20), failoverTimeout: failover, maxTokensPerStep: maxStepTokens, maxPositions: maxPositions,
            prefixCache: prefixCache),
            cluster: cluster)
        let block = [4, 8, 16][rng.int(0..<3)]
        let capacity = rng.int(2...12) * 16
        let standbys = faultFree ? rng.int(0...1) : rng.int(0...2)
        for i in 0..<(stages + standbys) {
            workers.append(SimWorker(index: i, block: block, capacityTokens: capacity, now: now))
            workers[i].speaksPrefixCache = i != oldWorker
            queue.push(now + (i < stages ? rng.ms(0...200) : rng.ms(0...6000)), .start(i))
        }
        // Faults.
        if !faultFree {
            for _ in 0..<rng.int(0...2) {
                let w = rng.int(0..<workers.count)
                let at = now + rng.ms(100...5000)
                if rng.chance(0.5) { queue.push(at, .crash(w)) } else {
                    queue.push(at, .hang(w))
                    queue.push(at + rng.ms(50...6000), .resume(w))
                }
            }
        }
        let clients = rng.int(1...3)
        for c in 0..<clients where !faultFree && rng.chance(0.15) { queue.push(now + rng.ms(200...5000), .vanish(c)) }
        for i in 0..<rng.int(1...6) {
            var prompt = (0..<rng.int(1...30)).map { _ in rng.int(1..<vocab) }
            let maxNew = rng.int(1...min(30, max(1, maxPositions - prompt.count)))
            // Many calls start alike (a shared prefix of some length), to exercise the prefix cache.
            let room = maxPositions - prompt.count - maxNew
            if side.chance(0.6) && room > 0 { prompt = Array(shared.prefix(min(room, side.int(0...shared.count)))) + prompt }
            let temperature: Float = rng.chance(0.5) ? 0 : 0.8
            let sampling = SamplingParams(temperature: temperature, seed: rng.next())
            let eos = rng.chance(0.5) ? [0] : []
            let timeout: Duration = !faultFree && rng.chance(0.15) ? rng.ms(20...2000) : .seconds(60)
            let ref = referenceTokens(prompt: prompt, sampling: sampling, eos: eos, maxNew: maxNew, maxPositions: maxPositions, vocab: vocab)
            calls.append(CallRecord(client: rng.int(0..<clients), streaming: rng.chance(0.5), prompt: prompt, sampling: sampling,
                                    maxNew: maxNew, eos: eos, timeout: timeout, reference: ref))
            queue.push(now + rng.ms(0...2000), .newCall(i))
        }
        queue.push(now, .tick)
        if fastDetect { queue.push(now, .probeWorkers) }
        queue.push(now, .heartbeats)
        if !faultFree { queue.push(now, .probeClients) }
    }

    func note(_ s: @autoclosure () -> String) {
        if trace != nil { trace!.append("\(now - Simulation.origin) \(s())") }
    }

    func violation(_ s: String) {
        violations.append("\(now - Simulation.origin): \(s)")
        note("VIOLATION \(s)")
    }

    func delay() -> Duration { rng.ms(0...maxDelayMs) }

    /// Runs to the end: every call answered (or its client gone) and the pipeline quiet.
    func run() {
        let limit = now + .seconds(150)
        var quietSince: ContinuousClock.Instant? = nil
        while let (at, e) = queue.pop() {
            now = at
            events += 1
            handle(e)
            switch e {
            case .toScheduler(_, .heartbeat): break
            case .toScheduler, .newCall:
                // The loop ticks after every wake-up, not only every 50 ms.
                scheduler.tick(now: now)
                perform()
            default: break
            }
            if now > limit {
                violation("not quiet after 150 s: in flight \(scheduler.inFlight.keys.sorted()), releases \(scheduler.pendingReleases), "
                          + "calls \(calls.indices.filter { !calls[$0].gone && calls[$0].final == nil && calls[$0].refused == nil }.map { $0 + 1 })")
                break
            }
            if case .tick = e {
                let pending = calls.contains { !$0.gone && $0.final == nil && $0.refused == nil }
                let quiet = !pending && scheduler.inFlight.isEmpty && scheduler.pendingReleases.isEmpty
                    && scheduler.pendingCacheBlocks.isEmpty && scheduler.pendingEvictions.isEmpty
                    && calls.allSatisfy { $0.added || $0.refused != nil }
                if quiet { quietSince = quietSince ?? now } else { quietSince = nil }
                if let q = quietSince, now - q >= .milliseconds(200) { break }
            }
        }
        finalChecks()
    }

    // MARK: events

    func handle(_ e: Event) {
        switch e {
        case .tick:
            scheduler.tick(now: now)
            perform()
            queue.push(now + .milliseconds(50), .tick)
        case .probeWorkers:
            // The loop's heartbeat send to a dead process fails at once (ROUTER_MANDATORY).
            if fastDetect {
                for id in scheduler.cluster.liveRoutingIDs where worker(routing: id)?.alive != true {
                    note("send to \(id) failed: lost")
                    scheduler.workerLost(id, reason: "its connection closed (process gone)", now: now)
                    perform()
                }
            }
            queue.push(now + .milliseconds(100), .probeWorkers)
        case .heartbeats:
            for id in scheduler.cluster.liveRoutingIDs { send(to: id, .heartbeat(Heartbeat(sentUnixMilliseconds: 0))) }
            perform()
            queue.push(now + WorkerPlaneTiming.heartbeatInterval, .heartbeats)
        case .probeClients:
            for c in vanished where scheduler.calls.values.contains(where: { $0.key.routingID == Array("c\(c)".utf8) }) {
                clientGone(c)
            }
            queue.push(now + .milliseconds(250), .probeClients)
        case .start(let w):
            let sw = workers[w]
            guard !sw.started else { return }
            sw.started = true
            sw.lastHeardCoordinator = now
            note("\(sw.name) registers")
            toScheduler(sw, .register(sw.register), duplicate: false)
            queue.push(now + rng.ms(100...1000), .workerBeat(w))
        case .workerBeat(let w):
            let sw = workers[w]
            guard sw.alive else { return }
            if !sw.hung {
                if now - sw.lastHeardCoordinator > WorkerPlaneTiming.peerExpiry {
                    sw.reconnect(now: now)
                    note("\(sw.name) heard nothing from the coordinator: registers anew as \(sw.routingID)")
                    toScheduler(sw, .register(sw.register), duplicate: false)
                } else {
                    toScheduler(sw, .heartbeat(Heartbeat(workerID: sw.name, sentUnixMilliseconds: 0)), duplicate: true)
                }
            }
            queue.push(now + WorkerPlaneTiming.heartbeatInterval, .workerBeat(w))
        case .crash(let w):
            note("\(workers[w].name) crashes")
            workers[w].crashed = true
            workers[w].inbox.removeAll()
        case .hang(let w):
            note("\(workers[w].name) hangs")
            workers[w].hung = true
        case .resume(let w):
            let sw = workers[w]
            guard sw.hung else { return }
            note("\(sw.name) resumes")
            sw.hung = false
            sw.lastHeardCoordinator = now
            schedule(sw)
        case .process(let w):
            let sw = workers[w]
            sw.processing = false
            guard sw.alive, !sw.hung, !sw.inbox.isEmpty else { return }
            let m = sw.inbox.removeFirst()
            for o in sw.handle(m, vocab: vocab) {
                switch o {
                case .toCoordinator(let msg): toScheduler(sw, msg, duplicate: true)
                case .forward(let step, let endpoint): forward(step, from: sw.index, to: endpoint)
                case .note(let s): note(s)
                case .violation(let s): violation(s)
                }
            }
            schedule(sw)
        case .arrive(let w, let m, let incarnation):
            let sw = workers[w]
            guard sw.alive, sw.incarnation == incarnation else { return }
            if case .control(.heartbeat) = m {
                if !sw.hung { sw.lastHeardCoordinator = now }
                return
            }
            sw.inbox.append(m)
            schedule(sw)
        case .data(let endpoint, let step):
            guard let sw = workers.first(where: { $0.endpoint == endpoint }), sw.alive else {
                note("step \(step.stepID) lost on the way to \(endpoint)")
                return
            }
            sw.inbox.append(.data(step))
            schedule(sw)
        case .toScheduler(let id, let msg):
            note("\(id) -> scheduler: \(msg.kindName)")
            scheduler.workerMessage(msg, from: id, key: "", secured: false, now: now)
            perform()
        case .newCall(let i):
            newCall(i)
        case .vanish(let c):
            note("client \(c) vanishes")
            vanished.insert(c)
        }
    }

    func worker(routing id: [UInt8]) -> SimWorker? { workers.first { $0.routingID == id } }

    func schedule(_ sw: SimWorker) {
        guard !sw.processing, !sw.hung, sw.alive, let first = sw.inbox.first else { return }
        sw.processing = true
        var cost = rng.ms(0...3)
        if case .control(.assign) = first { cost = rng.ms(5...400) }    // loading or re-assigning
        queue.push(now + cost, .process(sw.index))
    }

    func toScheduler(_ sw: SimWorker, _ msg: WorkerMessage, duplicate: Bool) {
        queue.push(now + delay(), .toScheduler(sw.routingID, msg))
        if duplicate && rng.chance(pDuplicate) { queue.push(now + delay() + delay(), .toScheduler(sw.routingID, msg)) }
    }

    /// A control message to a worker connection; to a closed one the send fails and the loop
    /// reports the worker lost.
    func send(to id: [UInt8], _ msg: WorkerMessage) {
        guard let sw = worker(routing: id), sw.alive || !fastDetect else {
            if scheduler.cluster.record(id) != nil {
                note("send \(msg.kindName) to \(id) failed: lost")
                scheduler.workerLost(id, reason: "its connection closed (process gone)", now: now)
            }
            return
        }
        let at = max(now + delay(), links[-1 - sw.index, default: now])
        links[-1 - sw.index] = at
        queue.push(at, .arrive(sw.index, .control(msg), incarnation: sw.incarnation))
    }

    /// The data path: FIFO per connection.
    func forward(_ step: Step, from: Int, to endpoint: String) {
        let link = (from + 1) * 1000 + (workers.firstIndex { $0.endpoint == endpoint } ?? 999)
        let at = max(now + rng.ms(0...3), links[link, default: now])
        links[link] = at
        queue.push(at, .data(endpoint, step))
    }

    /// CoordinatorService.perform: carries out the commands in order; failures become events.
    func perform() {
        var pending = scheduler.takeCommands()[...]
        while let c = pending.popFirst() {
            switch c {
            case let .reply(id, r): reply(id, r)
            case let .toWorker(id, msg):
                note("scheduler -> \(id): \(msg.kindName)")
                send(to: id, msg)
            case let .step(step): sendStep(step)
            case let .log(level, message, metadata, _): if level >= .notice { note("log: \(message) \(metadata)") }
            }
            let more = scheduler.takeCommands()
            if !more.isEmpty { pending = (more + pending)[...] }
        }
    }

    func sendStep(_ step: Step) {
        let c = scheduler.cluster
        if step.epoch != c.epoch || !c.serving { violation("step \(step.stepID) sent while not serving epoch \(step.epoch)") }
        let tokens = step.sequences.reduce(0) { $0 + $1.tokenIDs.count }
        if step.sequences.count > 1 && tokens > scheduler.settings.maxTokensPerStep {
            violation("step \(step.stepID) carries \(tokens) tokens in \(step.sequences.count) sequences, over the bound of \(scheduler.settings.maxTokensPerStep)")
        }
        guard let first = c.worker(atStage: 0), first.state == .ready, !rng.chance(pNotConnected),
              let sw = worker(routing: first.routingID) ?? workers.first(where: { $0.endpoint == first.dataEndpoint }) else {
            note("step \(step.stepID) not sent")
            scheduler.stepNotSent(step.stepID)
            return
        }
        note("step \(step.stepID) epoch \(step.epoch): \(step.sequences.map { "\($0.seqID)@\($0.position)+\($0.tokenIDs.count)\($0.prefixBlockHashes.isEmpty ? "" : " reusing \($0.prefixBlockHashes.count)")" }) release \(step.releaseSeqIDs) keep \(step.cacheBlocks.map { "\($0.seqID)#\($0.blockIndex)" }) evict \(step.evictBlockHashes.count)")
        forward(step, from: -1, to: sw.endpoint)
    }
}
