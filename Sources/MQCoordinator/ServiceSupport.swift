// Bookkeeping the coordinator reports (step round trips, stage busy time) and small types of its
// socket loop (a prompt being tokenized, the rate-limited log of refused connections).
import Foundation
import Logging
import MQProtocol
import MQTransport

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
