// WarningLimiter: keeps a flood of bad frames from becoming a flood of log lines. Per kind of
// warning, the first `burst` of each interval are written; the rest are counted and reported in
// one summary line ("suppressed K similar warnings in the last Ts").
//
// It lives in MQTransport because the floods it tames arrive at the socket loops built on this
// module (the coordinator's and the worker's, like HTTPEndpoint), and both executables' libraries
// depend on it; MQProtocol stays the codec only. It is pure: no logger (MQTransport does not
// depend on swift-log; the caller writes the lines), no clock of its own (`now` is passed in).

import Foundation

public struct WarningLimiter: Sendable {
    /// What the caller writes for one warning.
    public enum Decision: Equatable, Sendable {
        /// Write the warning, after `summary` when the kind's previous interval suppressed some.
        case write(summary: Summary?)
        /// Count it and write nothing.
        case suppress
    }

    /// The warnings of one kind suppressed during one interval.
    public struct Summary: Equatable, Sendable, CustomStringConvertible {
        public let kind: String
        public let suppressed: Int
        /// From the interval's first warning to the end of the interval (or to now).
        public let elapsed: Duration

        public var description: String {
            let seconds = (elapsed.inSeconds * 10).rounded() / 10
            return "\(kind): suppressed \(suppressed) similar warning\(suppressed == 1 ? "" : "s") in the last \(seconds)s"
        }
    }

    private struct Window: Sendable {
        var start: ContinuousClock.Instant
        var written = 0
        var suppressed = 0
    }

    /// Warnings of one kind written per interval.
    public let burst: Int
    public let interval: Duration
    /// One entry per kind seen in the current interval; kinds are a fixed set of literals in the
    /// caller's code, so this stays small.
    private var windows: [String: Window] = [:]

    public init(burst: Int = TransportDefaults.warningBurst, interval: Duration = TransportDefaults.warningInterval) {
        precondition(burst >= 1 && interval > .zero, "WarningLimiter needs a burst ≥ 1 and a positive interval")
        self.burst = burst
        self.interval = interval
    }

    /// Decides about one warning of `kind` seen at `now`.
    public mutating func admit(_ kind: String, now: ContinuousClock.Instant) -> Decision {
        var summary: Summary?
        var window = windows[kind] ?? Window(start: now)
        if now - window.start >= interval {
            if window.suppressed > 0 { summary = Summary(kind: kind, suppressed: window.suppressed, elapsed: now - window.start) }
            window = Window(start: now)
        }
        defer { windows[kind] = window }
        if window.written < burst {
            window.written += 1
            return .write(summary: summary)
        }
        window.suppressed += 1
        return .suppress
    }

    /// Ends every interval that is over and returns a summary for each that suppressed warnings,
    /// so that a flood that stopped is still reported. Call it from the loop now and then (at
    /// `nextSummaryDue` at the latest).
    public mutating func flush(now: ContinuousClock.Instant) -> [Summary] {
        var out: [Summary] = []
        for (kind, window) in windows where now - window.start >= interval {
            if window.suppressed > 0 { out.append(Summary(kind: kind, suppressed: window.suppressed, elapsed: now - window.start)) }
            windows[kind] = nil
        }
        return out.sorted { $0.kind < $1.kind }
    }

    /// When the earliest pending summary is due (nil: nothing suppressed), for loops that
    /// otherwise wait without a timeout.
    public var nextSummaryDue: ContinuousClock.Instant? {
        windows.values.filter { $0.suppressed > 0 }.map { $0.start + interval }.min()
    }
}

/// A WarningLimiter shared between threads (for warnings raised off the loop that owns the
/// sockets, e.g. by the ZAP handler's thread about refused connections).
public final class LockedWarningLimiter: @unchecked Sendable {
    // @unchecked: `limiter` is only touched under `lock`.
    private let lock = NSLock()
    private var limiter: WarningLimiter

    public init(_ limiter: WarningLimiter = WarningLimiter()) { self.limiter = limiter }

    public func admit(_ kind: String, now: ContinuousClock.Instant = .now) -> WarningLimiter.Decision {
        lock.lock(); defer { lock.unlock() }
        return limiter.admit(kind, now: now)
    }
}
