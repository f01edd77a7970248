// The results of `mq bench serve`: percentiles, per-stage and per-level figures, one run's table
// and the JSON report.
import ArgumentParser
import Dispatch
import Foundation
import MQClient
import MQCommandLine
import MQTransport

#if canImport(Glibc)
import Glibc
#endif

// MARK: Results

/// The nearest-rank percentile `p` (0...1) of ascending, non-empty `sorted`.
func nearestRank(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
}

/// p50, p90, p99 of a set of durations (nearest rank).
struct Percentiles: Encodable, Sendable {
    var p50: Double
    var p90: Double
    var p99: Double
    var count: Int

    init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        p50 = nearestRank(sorted, 0.5); p90 = nearestRank(sorted, 0.9); p99 = nearestRank(sorted, 0.99); count = values.count
    }

    var text: String { String(format: "%.0f/%.0f/%.0f", p50, p90, p99) }
}

/// One stage during one level.
struct ServeBenchStage: Encodable, Sendable {
    var stageIndex: UInt32
    var layers: String
    var kvCapacityBytes: UInt64
    /// Largest kv_used_bytes seen while the level ran.
    var kvUsedMaxBytes: UInt64?
    /// Computing time over the level's wall time: Δbusy_ns / wall (from the coordinator).
    var busyFraction: Double?
    /// The coordinator's own busy_fraction (since the stage's first step) after the level.
    var busyFractionSinceStart: Double?
    /// Steps the stage processed during the level.
    var steps: UInt64?
}

/// One concurrency level.
struct ServeBenchLevel: Encodable, Sendable {
    var streams: Int
    var wallSeconds: Double
    var requestsCompleted: Int
    var requestsFailed: Int
    /// Failed requests by status code name.
    var failures: [String: Int]
    var completionTokens: Int
    var tokensPerSecond: Double
    /// Tokens/s while every stream is decoding (`DecodeWindows`): the cluster's aggregate decode rate
    /// with `streams` sequences in its batch, without the prefills, ramp-up and tail that
    /// `tokensPerSecond` includes. nil when no such time exists (e.g. admission let the streams run
    /// one after another).
    var decodeTokensPerSecond: Double?
    var timeToFirstTokenMs: Percentiles?
    var interTokenLatencyMs: Percentiles?
    /// Over the requests with two tokens or more: each one's longest gap between two consecutive
    /// token-carrying chunks (`StreamStalls.longestGap`).
    var stallMs: TailPercentiles?
    var stages: [ServeBenchStage]
    var infoSamples: Int
    /// The kills of --chaos and the recovery after each; nil without --chaos.
    var chaos: ChaosLevel?

    init(streams: Int, wall: Duration, outcomes: [RequestOutcome], kv: KVSamples, before: InfoResponse?, after: InfoResponse?,
         chaos: ChaosLog? = nil) {
        self.streams = streams
        wallSeconds = wall.inSeconds
        requestsCompleted = outcomes.filter { $0.failure == nil }.count
        requestsFailed = outcomes.count - requestsCompleted
        failures = Dictionary(outcomes.compactMap(\.failure).map { ($0, 1) }, uniquingKeysWith: +)
        // Tokens of failed calls count too: the cluster produced them.
        completionTokens = outcomes.reduce(0) { $0 + $1.tokens }
        tokensPerSecond = wallSeconds > 0 ? Double(completionTokens) / wallSeconds : 0
        timeToFirstTokenMs = Percentiles(outcomes.compactMap(\.firstTokenMilliseconds))
        interTokenLatencyMs = Percentiles(outcomes.flatMap(\.interTokenMilliseconds))
        stallMs = TailPercentiles(outcomes.compactMap { StreamStalls.longestGap($0.chunks.map(\.seconds)).map { $0 * 1000 } })
        self.chaos = chaos.map {
            ChaosLevel(kills: $0.kills, skippedTicks: $0.skippedTicks, tokenTimes: outcomes.flatMap { $0.chunks.map(\.seconds) })
        }
        if let decode = DecodeWindows(outcomes: outcomes, streams: streams), decode.seconds > 0 {
            decodeTokensPerSecond = Double(decode.tokens) / decode.seconds
        }
        infoSamples = kv.samples

        let produced = completionTokens
        let reference = after ?? before
        let measured = (after?.reportsStageLoad ?? false)
        let wallNanoseconds = wall.inSeconds * 1e9
        stages = (reference?.stages ?? []).map { stage in
            let earlier = before?.stages.first { $0.stageIndex == stage.stageIndex && $0.workerID == stage.workerID }
            var result = ServeBenchStage(
                stageIndex: stage.stageIndex, layers: stage.layers.description, kvCapacityBytes: stage.kvCapacityBytes,
                kvUsedMaxBytes: kv.maxUsedBytes[stage.stageIndex])
            if measured {
                result.busyFractionSinceStart = stage.busyFraction
                // The same worker before and after, and counters that grew: otherwise the stage
                // was reassigned during the level and the difference means nothing. A level that
                // produced tokens without a single counted step means the coordinator does not fill
                // the counters (a 1.1 build before it measured them): unknown, not idle.
                if let earlier, stage.busyNanoseconds >= earlier.busyNanoseconds, stage.steps >= earlier.steps, wallNanoseconds > 0,
                   stage.steps > earlier.steps || produced == 0 {
                    result.busyFraction = min(1, Double(stage.busyNanoseconds - earlier.busyNanoseconds) / wallNanoseconds)
                    result.steps = stage.steps - earlier.steps
                }
            }
            return result
        }
    }
}

/// All levels against one cluster.
struct ServeBenchRun: Encodable, Sendable {
    var endpoint: String
    var model: String
    var attention: String
    var numHeads: UInt32
    var kvHeads: UInt32
    var numStages: Int
    var kvBytesPerToken: UInt64
    /// Tokens of KV cache the pipeline holds (the tightest stage decides); nil when unknown.
    var kvCapacityTokens: UInt64?
    var protocolVersion: String
    var levels: [ServeBenchLevel]
    /// CURVE on every plane.
    var secured: Bool
    /// Whether the coordinator reused cached prefixes (nil: not known, --server).
    var prefixCache: Bool?
    /// Sequences that started with cached blocks on stage 0, and the prompt positions they reused
    /// (Info after the run; protocol 1.4).
    var prefixHits: UInt64
    var prefixHitTokens: UInt64
    /// Blocks stage 0 held in its prefix cache at the end, and their size in positions.
    var prefixCachedBlocks: UInt64

    init(endpoint: String, info: InfoResponse, levels: [ServeBenchLevel], secured: Bool = false) {
        self.secured = secured
        self.endpoint = endpoint
        model = info.model.name
        switch info.model.attentionKind {
        case .multiQuery: attention = "multi-query"
        case .groupedQuery: attention = "grouped-query"
        case .multiHead: attention = "multi-head"
        case let .unrecognized(value): attention = "attention kind \(value)"
        }
        numHeads = info.model.numHeads
        kvHeads = info.model.kvHeads
        numStages = info.stages.count
        kvBytesPerToken = info.model.kvBytesPerToken
        let perLayer = info.model.numLayers == 0 ? 0 : info.model.kvBytesPerToken / UInt64(info.model.numLayers)
        let capacities = info.stages.compactMap { stage -> UInt64? in
            let perToken = perLayer * UInt64(stage.layers.count)
            return perToken == 0 || stage.kvCapacityBytes == 0 ? nil : stage.kvCapacityBytes / perToken
        }
        kvCapacityTokens = capacities.count == info.stages.count ? capacities.min() : nil
        protocolVersion = info.version.description
        prefixHits = info.stages.first?.prefix.hits ?? 0
        prefixHitTokens = info.stages.first?.prefix.hitTokens ?? 0
        prefixCachedBlocks = info.stages.first?.prefix.cachedBlocks ?? 0
        self.levels = levels
    }

    /// The kills and recovery p50/max cells of a level's row.
    private static func chaosCells(_ chaos: ChaosLevel?) -> [String] {
        guard let chaos else { return ["-", "-"] }
        let recovery = chaos.recoveryMs.map { String(format: "%.0f/%.0f", $0.p50, $0.max) } ?? "-"
        return ["\(chaos.kills.count)", recovery + (chaos.unrecovered > 0 ? " (\(chaos.unrecovered) none)" : "")]
    }

    /// The plain-text report of this run.
    func table() -> String {
        var lines = [
            "\(model): \(attention) (\(numHeads) query heads, \(kvHeads) KV head\(kvHeads == 1 ? "" : "s")), "
                + "\(numStages) stage\(numStages == 1 ? "" : "s"), \(kvBytesPerToken) KV bytes/token, "
                + "KV capacity \(kvCapacityTokens.map { "\($0) tokens" } ?? "unknown"), protocol \(protocolVersion), "
                + "\(secured ? "CURVE" : "no CURVE"), "
                + (prefixCache.map { $0 ? "prefix cache on" : "prefix cache off" } ?? "prefix cache")
                + " (\(prefixHits) hits, \(prefixHitTokens) tokens reused, \(prefixCachedBlocks) blocks cached at the end), \(endpoint)",
        ]
        let withChaos = levels.contains { $0.chaos != nil }
        let chaosHeader: [String] = withChaos ? ["kills", "recovery ms p50/max"] : []
        let header: [String] = ["streams", "ok", "failed", "tokens", "wall s", "tok/s", "xN", "decode tok/s", "xN", "TTFT ms p50/90/99",
                                "ITL ms p50/90/99", "stall ms p50/99/max"] + chaosHeader + ["KV max MiB/stage", "busy %/stage", "steps/stage"]
        let first = levels.min { $0.streams < $1.streams }
        let base = first?.tokensPerSecond ?? 0, decodeBase = first?.decodeTokensPerSecond ?? 0
        var rows: [[String]] = [header]
        for level in levels {
            let failed = level.requestsFailed == 0 ? "0"
                : "\(level.requestsFailed) (" + level.failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
            let latency: [String] = [
                "\(level.streams)", "\(level.requestsCompleted)", failed, "\(level.completionTokens)",
                String(format: "%.1f", level.wallSeconds), String(format: "%.1f", level.tokensPerSecond),
                base > 0 ? String(format: "%.1f", level.tokensPerSecond / base) : "-",
                level.decodeTokensPerSecond.map { String(format: "%.1f", $0) } ?? "-",
                decodeBase > 0 ? level.decodeTokensPerSecond.map { String(format: "%.1f", $0 / decodeBase) } ?? "-" : "-",
                level.timeToFirstTokenMs?.text ?? "-", level.interTokenLatencyMs?.text ?? "-", level.stallMs?.text ?? "-",
            ]
            let stages: [String] = [
                level.stages.map { $0.kvUsedMaxBytes.map { String(format: "%.2f", Double($0) / 1_048_576) } ?? "?" }.joined(separator: "/"),
                level.stages.map { $0.busyFraction.map { String(format: "%.0f", $0 * 100) } ?? "?" }.joined(separator: "/"),
                level.stages.map { $0.steps.map(String.init) ?? "?" }.joined(separator: "/"),
            ]
            rows.append(latency + (withChaos ? Self.chaosCells(level.chaos) : []) + stages)
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            lines.append(row.enumerated().map { column, cell in
                String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  "))
        }
        lines.append("busy and steps are measured by the coordinator (StageInfo.busy_ns and steps before and after each level); KV max from Info samples")
        lines.append("stall: per request, the longest gap between two token-carrying chunks"
                     + (withChaos ? "; recovery: from a SIGKILL to the next token of any stream (\"none\": no token before the level ended)" : ""))
        for level in levels {
            guard let chaos = level.chaos else { continue }
            let kills = chaos.kills.map { kill in
                String(format: "%.2f s %@", kill.seconds, kill.worker)
                    + (kill.replacement.map { " -> \($0)" } ?? "")
                    + (kill.recoveryMs.map { String(format: " %.0f ms", $0) } ?? " no token after")
            }
            lines.append("chaos at \(level.streams) stream\(level.streams == 1 ? "" : "s"): "
                         + (kills.isEmpty ? "no kill" : kills.joined(separator: ", "))
                         + (chaos.skippedTicks > 0 ? "; \(chaos.skippedTicks) tick\(chaos.skippedTicks == 1 ? "" : "s") killed nobody" : ""))
        }
        if levels.contains(where: { $0.stages.contains { $0.busyFraction == nil } }) {
            lines.append("busy/steps \"?\": the coordinator speaks protocol \(protocolVersion) (stage load needs 1.1) or a stage changed during the level")
        }
        return lines.joined(separator: "\n")
    }
}

/// The `--json` object.
struct ServeBenchReport: Encodable {
    var settings: ServeBenchSettings
    var runs: [ServeBenchRun]

    func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
