// The simulated world of SchedulerSimulationTests: a seeded PRNG, a toy model whose next token is a
// pure function of the history (and, when sampling, of the seed and the sample index), and stage
// workers that treat steps like MQWorker's DataPlane/Stage (epoch fencing, releases first, a new
// Assign drops every sequence, position checks, KV blocks). Nothing here reads a real clock.
import MQProtocol
@testable import MQCoordinator
import struct MQSampling.SplitMix64

/// The simulation's draws from the shared SplitMix64 (MQSampling).
extension SplitMix64 {
    mutating func int(_ r: Range<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
    mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func ms(_ r: ClosedRange<Int>) -> Duration { .milliseconds(int(r)) }
}

/// The toy model: the next token after `history`; sampled calls (seed non-nil) also depend on the
/// sampler's step, as the real sampler is keyed by (seed, step).
func toyToken(history: [Int], seed: UInt64?, sampleIndex: Int, vocab: Int) -> Int {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for t in history { h = (h ^ UInt64(t)) &* 0x100_0000_01B3 }
    if let seed { h ^= (seed &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(sampleIndex) &* 0xBF58_476D_1CE4_E5B9) }
    var g = SplitMix64(seed: h)
    return Int(g.next() % UInt64(vocab))
}

/// The toy model's log probability of prompt token `tokens[i]` after `tokens[..<i]` (prompt logprobs).
func toyPromptLogprob(_ tokens: ArraySlice<Int>) -> Float {
    -Float(toyToken(history: Array(tokens), seed: nil, sampleIndex: 0, vocab: 1000)) / 100
}

/// A call's prompt logprobs in the fault-free run: one per prompt token after the first.
func referencePromptLogprobs(_ prompt: [Int]) -> [Float] {
    prompt.indices.dropFirst().map { toyPromptLogprob(prompt[...$0]) }
}

/// What the fault-free run produces for a call.
func referenceTokens(prompt: [Int], sampling: SamplingParams, eos: [Int], maxNew: Int, maxPositions: Int, vocab: Int) -> [Int] {
    var history = prompt, out: [Int] = []
    let seed = sampling.temperature > 0 ? sampling.seed : nil
    while out.count < maxNew {
        let t = toyToken(history: history, seed: seed, sampleIndex: out.count, vocab: vocab)
        out.append(t)
        history.append(t)
        if eos.contains(t) || history.count >= maxPositions { break }
    }
    return out
}

/// Something a worker must handle, in arrival order.
enum Inbound {
    case control(WorkerMessage)
    case data(Step)
}

final class SimSequence {
    var tokens: [Int] = []
    var sampling: SamplingParams?
    var sampleIndex = 0
    /// Last stage, while a prefill with prompt logprobs runs: the scores so far.
    var scored: [Float]?
}

/// One mq-worker process.
final class SimWorker {
    let index: Int
    let name: String
    let endpoint: String
    var routingID: [UInt8]
    var incarnation = 0
    var started = false
    var crashed = false
    var hung = false
    var assign: Assign?
    var seqs: [UInt64: SimSequence] = [:]
    var released: Set<UInt64> = []
    var inbox: [Inbound] = []
    var processing = false
    var lastHeardCoordinator: ContinuousClock.Instant
    let bytesPerToken: UInt64 = 64
    let block: Int
    let capacityBytes: UInt64

    init(index: Int, block: Int, capacityTokens: Int, now: ContinuousClock.Instant) {
        self.index = index
        name = "w\(index)"
        endpoint = "tcp://sim:\(index)"
        routingID = Array("w\(index).0".utf8)
        self.block = block
        capacityBytes = UInt64(capacityTokens) * bytesPerToken
        lastHeardCoordinator = now
    }

    var alive: Bool { started && !crashed }
    var capacityBlocks: Int { Int(capacityBytes) / (Int(bytesPerToken) * block) }
    var blocksUsed: Int { seqs.values.reduce(0) { $0 + ($1.tokens.count + block - 1) / block } }

    var register: Register {
        Register(workerID: name, memoryBytes: 1 << 30, dataEndpoint: endpoint, pid: UInt32(index), host: "sim")
    }

    /// Reconnects as a new connection (the real worker gives up on a silent coordinator).
    func reconnect(now: ContinuousClock.Instant) {
        incarnation += 1
        routingID = Array("w\(index).\(incarnation)".utf8)
        assign = nil
        seqs.removeAll()
        released.removeAll()
        lastHeardCoordinator = now
    }

    /// What handling one message produces.
    enum Output {
        case toCoordinator(WorkerMessage)
        case forward(Step, to: String)
        /// Dropped (stale epoch, released sequence): a line for the trace.
        case note(String)
        /// A WorkerError the scheduler should never cause.
        case violation(String)
    }

    func handle(_ m: Inbound, vocab: Int) -> [Output] {
        switch m {
        case .control(.assign(let a)):
            // Same as Stage.reassign / a new Stage: every sequence goes.
            seqs.removeAll()
            assign = a
            return [.toCoordinator(.ready(Ready(assignmentID: a.assignmentID, workerID: name, layers: a.layers, residentBytes: 1,
                                                kvBytesPerToken: bytesPerToken, kvCapacityBytes: capacityBytes,
                                                loadNanoseconds: 1, kvBlockTokens: UInt32(block))))]
        case .control:
            return []
        case .data(let step):
            return handleStep(step, vocab: vocab)
        }
    }

    private func error(_ code: WorkerErrorCode, _ message: String, _ step: Step, seq: UInt64? = nil) -> Output {
        .toCoordinator(.error(WorkerError(code: code, message: message, stepID: step.stepID, seqID: seq)))
    }

    private func handleStep(_ step: Step, vocab: Int) -> [Output] {
        guard let a = assign else { return [error(.notReady, "no assignment", step)] }
        guard step.epoch == a.epoch else { return [.note("\(name) dropped step \(step.stepID) of epoch \(step.epoch) (mine \(a.epoch))")] }
        for id in step.releaseSeqIDs {
            released.insert(id)
            seqs[id] = nil
        }
        if let gone = step.sequences.first(where: { released.contains($0.seqID) }) {
            return [.violation("\(name) got step \(step.stepID) with released sequence \(gone.seqID)")]
        }
        var next = step
        next.stageIndex += 1
        guard step.stageIndex == a.stageIndex else {
            return [.violation("step \(step.stepID) for stage \(step.stageIndex) reached stage \(a.stageIndex)"),
                    error(.malformedMessage, "miswired", step)]
        }
        for s in step.sequences {
            let held = seqs[s.seqID]
            if s.position == 0 ? held != nil : held?.tokens.count != Int(s.position) {
                return [.violation("\(name) stage \(a.stageIndex): sequence \(s.seqID) at position \(s.position) but holds \(held.map { "\($0.tokens.count)" } ?? "nothing") (step \(step.stepID), epoch \(step.epoch))"),
                        error(.unknownSequence, "position mismatch", step, seq: s.seqID)]
            }
        }
        var created: [UInt64] = []
        for s in step.sequences {
            if s.position == 0 {
                let q = SimSequence()
                q.sampling = s.sampling
                q.sampleIndex = Int(s.sampleStart)
                if s.promptLogprobs { q.scored = [] }
                seqs[s.seqID] = q
                created.append(s.seqID)
            }
            seqs[s.seqID]!.tokens += s.tokenIDs.map { Int($0) }
        }
        if blocksUsed > capacityBlocks {
            // The real Stage reserves before it computes; the sim just undoes what it did.
            for s in step.sequences { seqs[s.seqID]?.tokens.removeLast(s.tokenIDs.count) }
            for id in created { seqs[id] = nil }
            return [.violation("\(name) KV cache full: \(blocksUsed) blocks over \(capacityBlocks) (step \(step.stepID))"),
                    error(.kvCacheFull, "KV cache full", step, seq: step.sequences.first?.seqID)]
        }
        guard a.isLast else { return [.forward(next, to: a.nextEndpoint)] }
        var violations: [Output] = []
        for s in step.sequences {
            let q = seqs[s.seqID]!
            if s.promptLogprobs && q.scored == nil {
                violations.append(.violation("\(name): sequence \(s.seqID) asks for prompt logprobs at \(s.position) but did not start with them"))
            }
            if !s.promptLogprobs && q.scored != nil {
                // PROTOCOL.md 4.10: the flag is on every chunk of a scored prefill (a prefix cache reads it).
                violations.append(.violation("\(name): sequence \(s.seqID)'s scored prefill has a chunk at \(s.position) without the flag"))
            }
            guard q.scored != nil else { continue }
            for p in Int(s.position) ..< Int(s.position) + s.tokenIDs.count where p > 0 { q.scored!.append(toyPromptLogprob(q.tokens[...p])) }
        }
        var results: [SequenceResult] = []
        for s in step.sequences where s.sample {
            let q = seqs[s.seqID]!
            let seed = (q.sampling?.temperature ?? 0) > 0 ? q.sampling?.seed : nil
            let t = toyToken(history: q.tokens, seed: seed, sampleIndex: q.sampleIndex, vocab: vocab)
            q.sampleIndex += 1
            results.append(SequenceResult(seqID: s.seqID, tokenID: UInt32(t), logprob: -Float(t % 7), promptLogprobs: q.scored ?? []))
            q.scored = nil
        }
        if !violations.isEmpty { return violations }
        return [.toCoordinator(.stepResult(StepResult(stepID: step.stepID, results: results, epoch: step.epoch)))]
    }
}

/// A timed event queue (a binary heap): earliest first, ties in insertion order, so a seed always
/// replays alike. Times are whole microseconds after `origin`.
struct EventQueue<E> {
    let origin: ContinuousClock.Instant
    private var heap: [Int64] = []    // (microseconds << 24) | index into payloads
    private var payloads: [E?] = []
    init(origin: ContinuousClock.Instant) { self.origin = origin }
    var isEmpty: Bool { heap.isEmpty }

    mutating func push(_ at: ContinuousClock.Instant, _ e: E) {
        let d = (at - origin).components
        let us = d.seconds * 1_000_000 + d.attoseconds / 1_000_000_000_000
        var i = heap.count
        heap.append(us << 24 | Int64(payloads.count))
        payloads.append(e)
        while i > 0, heap[(i - 1) / 2] > heap[i] {
            heap.swapAt(i, (i - 1) / 2)
            i = (i - 1) / 2
        }
    }

    mutating func pop() -> (ContinuousClock.Instant, E)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && heap[l] < heap[m] { m = l }
                if r < heap.count && heap[r] < heap[m] { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        let n = Int(top & 0xFF_FFFF)
        let e = payloads[n]!
        payloads[n] = nil
        return (origin + .microseconds(top >> 24), e)
    }
}
