// `mq bench serve`'s fault statistics, pure functions of the times a level recorded (seconds since
// the level started), so that tests can feed them made-up times:
//   stall     the longest gap between two consecutive token-carrying chunks of one request (its
//             time to first token is reported apart, as TTFT)
//   recovery  for each worker --chaos killed, the time from the SIGKILL to the next token any
//             stream received
// A token that arrives just after a kill may have left the pipeline before the kill (a later stage
// finishing a step); recovery is then short although the next step waits for the replacement. The
// stall percentiles show that wait.

/// p50, p99 and the maximum of a set of values (nearest rank, like `Percentiles`).
struct TailPercentiles: Encodable, Sendable, Equatable {
    var p50: Double
    var p99: Double
    var max: Double
    var count: Int

    init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        p50 = nearestRank(sorted, 0.5); p99 = nearestRank(sorted, 0.99); max = sorted[sorted.count - 1]; count = values.count
    }

    /// "p50/p99/max" in whole units.
    var text: String { String(format: "%.0f/%.0f/%.0f", p50, p99, max) }
}

enum StreamStalls {
    /// The longest gap between consecutive times of one request's token-carrying chunks, in the
    /// times' unit; nil with fewer than two chunks. The times are in arrival order.
    static func longestGap(_ times: [Double]) -> Double? {
        guard times.count >= 2 else { return nil }
        return zip(times.dropFirst(), times).map { $0 - $1 }.max()
    }

    /// For each kill time, the time from it to the first token time strictly after it; nil when no
    /// token followed it (the level ended first).
    static func recoveryTimes(kills: [Double], tokens: [Double]) -> [Double?] {
        let sorted = tokens.sorted()
        return kills.map { kill in
            // Binary search for the first token time > kill.
            var low = 0, high = sorted.count
            while low < high {
                let middle = (low + high) / 2
                if sorted[middle] <= kill { low = middle + 1 } else { high = middle }
            }
            return low < sorted.count ? sorted[low] - kill : nil
        }
    }
}

/// A worker --chaos killed during a level.
struct ChaosKill: Encodable, Sendable, Equatable {
    /// When the SIGKILL was sent, seconds since the level started.
    var seconds: Double
    /// The victim's worker id (and process name).
    var worker: String
    var pid: Int32
    /// The replacement standby started right after; nil when it could not be started.
    var replacement: String?
    /// From the SIGKILL to the next token of any stream, ms; nil when none came before the level ended.
    var recoveryMs: Double?
}

/// What --chaos did during one level and how the cluster recovered.
struct ChaosLevel: Encodable, Sendable {
    var killCount: Int
    var kills: [ChaosKill]
    /// Recovery times of the kills a token followed.
    var recoveryMs: TailPercentiles?
    /// Kills no token followed before the level ended.
    var unrecovered: Int
    /// Chaos ticks that killed nobody (no live worker held a stage, or Health did not answer).
    var skippedTicks: Int

    /// `kills` with `recoveryMs` still unset; `tokenTimes` are every token-carrying chunk's arrival.
    init(kills: [ChaosKill], skippedTicks: Int, tokenTimes: [Double]) {
        let recoveries = StreamStalls.recoveryTimes(kills: kills.map(\.seconds), tokens: tokenTimes)
        self.kills = zip(kills, recoveries).map { kill, recovery in
            var k = kill
            k.recoveryMs = recovery.map { $0 * 1000 }
            return k
        }
        killCount = kills.count
        recoveryMs = TailPercentiles(self.kills.compactMap(\.recoveryMs))
        unrecovered = recoveries.filter { $0 == nil }.count
        self.skippedTicks = skippedTicks
    }
}
