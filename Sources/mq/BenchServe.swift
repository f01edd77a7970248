// `mq bench serve`: load test of a running cluster (or of local clusters it starts itself). For each
// concurrency level it drives N GenerateStream calls at once (each stream issues its requests back
// to back) and reports aggregate completion tokens/s, time to first token, inter-token latency and
// stall percentiles, requests completed and failed (by status code), the most KV cache each stage held
// while the level ran (Info sampled during the run) and each stage's busy fraction (from the
// coordinator's StageInfo.busy_ns, sampled before and after the level).
//
// Prompts are random token ids below the served vocabulary, from a fixed seed, so two runs send the
// same requests; decoding is greedy. Every call has a deadline; failures are counted, never fatal.
// With --start MODEL --workers 1,2 it starts an mq-coordinator and K mq-workers from the folder of
// this mq binary (ipc endpoints in a temporary folder), measures, and stops them again, also on
// Ctrl-C or an error, so that no process outlives the command (LocalCluster.swift). With --chaos it
// also kills and replaces stage workers while the levels run (BenchChaos.swift) and reports stalls
// and recovery times (BenchStalls.swift).
import ArgumentParser
import Dispatch
import Foundation
import MQClient
import MQCommandLine
import MQTransport

#if canImport(Glibc)
import Glibc
#endif

// MARK: Defaults

/// Defaults and fixed intervals of `mq bench serve` (STYLE habit 10).
enum ServeBenchDefaults {
    static let streams = "1,4,16,64"
    static let requestsPerStream = 4
    static let promptTokens = 32
    static let maxTokens = 32
    static let seed: UInt64 = 1
    /// Deadline of one generation call, seconds: generous, since 64 streams on 2 cores queue.
    static let callTimeoutSeconds: Double = 300
    /// Requests run (one at a time, not measured) before the first level: the first steps of a
    /// fresh cluster page in weights and warm caches.
    static let warmupRequests = 1
    /// How often Info is sampled during a level for the KV high-water mark.
    static let infoIntervalMilliseconds = 100
    /// Deadline of one Info or Health call.
    static let infoTimeout: Duration = .seconds(5)
    /// How long --start waits for the cluster to serve every layer (loading a model on a busy
    /// 2-core machine takes a while).
    static let startTimeoutSeconds: Double = 300
    /// Pause between Health polls while a started cluster loads.
    static let startPollInterval: Duration = .milliseconds(250)
    /// After SIGTERM, how long started processes get to exit before SIGKILL.
    static let stopGraceSeconds: Double = 10
}

// MARK: Command

extension Bench {
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load test a cluster: N concurrent GenerateStream calls per level; tokens/s, latency percentiles, KV use, stage busy fractions.",
            discussion: """
                Against a running coordinator:
                  mq bench serve --server tcp://127.0.0.1:5555 --streams 1,4,16 --max-tokens 32
                Or start local clusters (1 and then 2 stages) from the binaries next to this mq and stop them afterwards:
                  mq bench serve --start models/bench/tiny_starcoder --workers 1,2 --streams 1,4,16

                tok/s is completion tokens received over the level's wall time (prompt prefill included); \
                decode tok/s counts only the time every stream is decoding (each has a request past its first \
                token, so no prompt is waiting for its prefill and every step decodes all the streams); the bursts \
                of prefills, the ramp-up and the tail are left out; each xN \
                is that rate over its rate at the level with the fewest streams. TTFT is from sending a call to its first token; ITL is the gap \
                between two token-carrying chunks of one stream. KV max is the largest kv_used_bytes each stage \
                reported in Info while the level ran (sampled every \(ServeBenchDefaults.infoIntervalMilliseconds) ms). \
                Busy is measured by the coordinator: the growth of each stage's StageInfo.busy_ns (the sum of its \
                workers' forward_ns) between Info before and after the level, over the level's wall time; it needs \
                a coordinator speaking protocol 1.1. Stall is, per request, the longest gap between two \
                token-carrying chunks (p50/p99/max over the level's requests).

                With --start, --chaos SECONDS kills (SIGKILL) a randomly chosen worker that holds a stage every \
                SECONDS of each measured level (victims drawn with --seed) and starts a replacement standby at once; \
                between levels it waits until the cluster serves again. It reports the kills and, for each, the time \
                from the SIGKILL to the next token of any stream (recovery). --standbys N (default \(ChaosDefaults.standbys) \
                with --chaos) starts N spare workers with the stage workers.
                """)

        @Option(help: "A running coordinator's client endpoint (tcp://HOST:PORT or ipc://PATH).")
        var server: String?

        @Option(help: "Start local clusters for this model folder instead of using --server.")
        var start: String?

        @Option(help: "With --start: worker counts (pipeline stages) to measure, one cluster each, e.g. 1,2.")
        var workers: String = "1"

        @Option(help: "Concurrent streams per level, e.g. 1,4,16,64.")
        var streams: String = ServeBenchDefaults.streams

        @Option(name: .customLong("requests-per-stream"), help: "Requests each stream sends back to back per level.")
        var requestsPerStream: Int = ServeBenchDefaults.requestsPerStream

        @Option(name: .customLong("prompt-tokens"), help: "Prompt length in tokens (random ids below the vocabulary).")
        var promptTokens: Int = ServeBenchDefaults.promptTokens

        @Option(name: .customLong("max-tokens"), help: "max_new_tokens of every request (greedy decoding).")
        var maxTokens: Int = ServeBenchDefaults.maxTokens

        @Option(help: "Seed of the random prompts.")
        var seed: UInt64 = ServeBenchDefaults.seed

        @Option(help: "Unmeasured requests sent before the first level.")
        var warmup: Int = ServeBenchDefaults.warmupRequests

        @Option(help: "Deadline of each generation call, seconds.")
        var timeout: Double = ServeBenchDefaults.callTimeoutSeconds

        @Option(name: .customLong("kv-memory"), help: "With --start: the coordinator's --kv-memory (KV bytes per stage, e.g. 256M).")
        var kvMemory: String?

        @Option(name: .customLong("worker-threads"), help: "With --start: compute threads per worker (default: all cores; the local stages take turns, see --coordinator-option).")
        var workerThreads: Int?

        @Option(name: .customLong("coordinator-option"),
                help: "With --start: an extra mq-coordinator option NAME=VALUE, e.g. micro-batches=2 (repeatable). Without a micro-batches option the local cluster runs one micro-batch, like deploy/local-cluster.sh: its stages share this machine's cores.")
        var coordinatorOptions: [String] = []

        @Flag(help: "Print one JSON object instead of tables.")
        var json = false

        @Option(help: "With --start: every SECONDS of each measured level, SIGKILL a random worker that holds a stage and start a replacement standby; reports stalls and recovery times.")
        var chaos: Double?

        @Option(help: "With --start: mq-worker processes started beyond --workers, which register as spares (default \(ChaosDefaults.standbys) with --chaos, else 0).")
        var standbys: Int?

        @Flag(name: .customLong("standby-preload"), help: "With --start: workers run with --standby-preload (a standby loads a stage ahead, so taking it over needs no load).")
        var standbyPreload = false

        @Option(help: "With --start: secured (CURVE keys on every plane, made for the run), insecure, or both (each worker count measured both ways, insecure first, in this one run).")
        var security = "secured"

        @OptionGroup var credentials: ClientCredentials

        func validate() throws {
            if (server == nil) == (start == nil) { throw ValidationError("give exactly one of --server and --start") }
            if let server { try credentials.check(server: server) }
            guard ["secured", "insecure", "both"].contains(security) else {
                throw ValidationError("--security: expected secured, insecure or both, got \"\(security)\"")
            }
            _ = try parsePositiveList(streams, flag: "--streams")
            if start != nil {
                _ = try parsePositiveList(workers, flag: "--workers")
            } else if workers != "1" {
                throw ValidationError("--workers only applies with --start")
            }
            for (name, value) in [("--requests-per-stream", requestsPerStream), ("--prompt-tokens", promptTokens), ("--max-tokens", maxTokens)]
            where value < 1 || value > Int(UInt32.max) {
                throw ValidationError("\(name) must be at least 1, got \(value)")
            }
            if warmup < 0 { throw ValidationError("--warmup must not be negative") }
            if let chaos {
                guard start != nil else { throw ValidationError("--chaos only applies with --start") }
                guard chaos > 0, chaos.isFinite else { throw ValidationError("--chaos must be a positive number of seconds, got \(chaos)") }
            }
            if let standbys {
                guard start != nil else { throw ValidationError("--standbys only applies with --start") }
                guard standbys >= 0 else { throw ValidationError("--standbys must not be negative") }
            }
            try ClientCommandDefaults.validate(timeout: timeout)
            if let workerThreads, workerThreads < 1 { throw ValidationError("--worker-threads must be at least 1") }
            _ = try coordinatorArguments()
        }

        func run() throws {
            try reportingErrors {
                let settings = ServeBenchSettings(
                    levels: try parsePositiveList(streams, flag: "--streams"), requestsPerStream: requestsPerStream,
                    promptTokens: promptTokens, maxTokens: maxTokens, seed: seed, warmup: warmup,
                    callTimeout: ClientCommandDefaults.duration(seconds: timeout), chaosSeconds: chaos,
                    standbys: start == nil ? nil : standbys ?? (chaos == nil ? 0 : ChaosDefaults.standbys))
                var runs: [ServeBenchRun] = []
                if let server {
                    runs.append(try measure(endpoint: server, settings: settings, security: try credentials.security(),
                                            apiKey: credentials.resolvedAPIKey, secured: credentials.serverKey != nil))
                } else if let start {
                    let modes = security == "both" ? [false, true] : [security == "secured"]
                    for count in try parsePositiveList(workers, flag: "--workers") {
                        for secured in modes {
                            let cluster = try LocalCluster.start(
                                model: start, workers: count, standbys: settings.standbys ?? 0,
                                spareKeys: chaos == nil ? 0 : ChaosDefaults.spareKeys,
                                workerThreads: workerThreads ?? max(1, ProcessInfo.processInfo.activeProcessorCount),
                                coordinatorArguments: try coordinatorArguments(),
                                workerArguments: standbyPreload ? ["--standby-preload"] : [], secured: secured)
                            defer { cluster.stop() }
                            if !json {
                                let spares = settings.standbys ?? 0
                                writeStderr("mq bench serve: \(count)-stage \(secured ? "secured" : "insecure") cluster"
                                            + (spares > 0 ? " with \(spares) standby\(spares == 1 ? "" : "s")" : "")
                                            + " serving \(start) (logs in \(cluster.directory.path))\n")
                            }
                            try cluster.waitUntilServing(timeoutSeconds: ServeBenchDefaults.startTimeoutSeconds)
                            let agent = chaos.map { ChaosAgent(cluster: cluster, intervalSeconds: $0, seed: seed) }
                            runs.append(try measure(endpoint: cluster.clientEndpoint, settings: settings, security: cluster.clientSecurity,
                                                    apiKey: nil, secured: secured, chaos: agent))
                        }
                    }
                }
                if json {
                    writeStdout(try ServeBenchReport(settings: settings, runs: runs).jsonLine() + "\n")
                }
            }
        }

        private func measure(endpoint: String, settings: ServeBenchSettings, security: MQClientSecurity?, apiKey: String?,
                             secured: Bool, chaos: ChaosAgent? = nil) throws -> ServeBenchRun {
            let json = self.json
            let run = try waitForCall {
                try await ServeBenchmark(endpoint: endpoint, settings: settings, security: security, apiKey: apiKey,
                                         secured: secured, chaos: chaos).run { line in
                    if !json { writeStderr(line + "\n") }
                }
            }
            if !json { writeStdout(run.table() + "\n") }
            return run
        }

        /// --coordinator-option NAME=VALUE pairs as mq-coordinator arguments.
        private func coordinatorArguments() throws -> [String] {
            var arguments: [String] = []
            if let kvMemory { arguments += ["--kv-memory", kvMemory] }
            for option in coordinatorOptions {
                let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, !parts[0].hasPrefix("-") else {
                    throw ValidationError("--coordinator-option: expected NAME=VALUE like micro-batches=2, got \"\(option)\"")
                }
                arguments += ["--" + parts[0], parts[1]]
            }
            if !arguments.contains("--micro-batches") { arguments += ["--micro-batches", "1"] }
            return arguments
        }
    }
}

/// "1,4,16" → [1, 4, 16], each at least 1.
private func parsePositiveList(_ text: String, flag: String) throws -> [Int] {
    let values = try parseIds(text, flag: flag)
    guard values.allSatisfy({ $0 >= 1 }) else { throw ValidationError("\(flag): every value must be at least 1, got \(text)") }
    return values
}

private func writeStderr(_ s: String) {
    FileHandle.standardError.write(Data(s.utf8))
}

// MARK: Measurement

/// What every level sends.
struct ServeBenchSettings: Sendable, Encodable {
    var levels: [Int]
    var requestsPerStream: Int
    var promptTokens: Int
    var maxTokens: Int
    var seed: UInt64
    var warmup: Int
    var callTimeout: Duration
    /// --chaos: seconds between kills during each level; nil without chaos.
    var chaosSeconds: Double? = nil
    /// --standbys of a started cluster; nil against --server.
    var standbys: Int? = nil

    enum CodingKeys: String, CodingKey {
        case levels, requestsPerStream, promptTokens, maxTokens, seed, warmup, callTimeoutSeconds, chaosSeconds, standbys
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(levels, forKey: .levels)
        try c.encode(requestsPerStream, forKey: .requestsPerStream)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(maxTokens, forKey: .maxTokens)
        try c.encode(seed, forKey: .seed)
        try c.encode(warmup, forKey: .warmup)
        try c.encode(callTimeout.seconds, forKey: .callTimeoutSeconds)
        try c.encodeIfPresent(chaosSeconds, forKey: .chaosSeconds)
        try c.encodeIfPresent(standbys, forKey: .standbys)
    }
}

/// Runs the levels of one benchmark against one coordinator.
struct ServeBenchmark: Sendable {
    let endpoint: String
    let settings: ServeBenchSettings
    var security: MQClientSecurity? = nil
    var apiKey: String? = nil
    /// Whether the cluster runs with CURVE (reported with the results).
    var secured = false
    /// --chaos: kills and replaces workers during each level.
    var chaos: ChaosAgent? = nil

    func run(progress: @escaping @Sendable (String) -> Void) async throws -> ServeBenchRun {
        let client = try MQClient(endpoint: endpoint, defaultTimeout: settings.callTimeout, security: security, apiKey: apiKey)
        defer { client.close() }
        // A separate connection for Info samples, so that they do not queue behind 64 streams'
        // replies on one socket.
        let infoClient = try MQClient(endpoint: endpoint, defaultTimeout: ServeBenchDefaults.infoTimeout, security: security, apiKey: apiKey)
        defer { infoClient.close() }

        let info = try await infoClient.info()
        guard !info.stages.isEmpty else {
            throw ServeBenchError("\(endpoint) has no pipeline stages assigned yet (see mq health)")
        }
        guard info.model.vocabSize >= 2 else { throw ServeBenchError("\(endpoint) reports a vocabulary of \(info.model.vocabSize) tokens") }
        let limits = info.limits
        if limits.maxPromptTokens > 0, settings.promptTokens > Int(limits.maxPromptTokens) {
            throw ServeBenchError("--prompt-tokens \(settings.promptTokens) is over the server's limit of \(limits.maxPromptTokens)")
        }
        if limits.maxNewTokens > 0, settings.maxTokens > Int(limits.maxNewTokens) {
            throw ServeBenchError("--max-tokens \(settings.maxTokens) is over the server's limit of \(limits.maxNewTokens)")
        }
        let prompts = PromptSource(seed: settings.seed, vocabulary: info.model.vocabSize, length: settings.promptTokens)

        for index in 0 ..< settings.warmup {
            let outcome = await Self.drive(client: client, request: request(prompts.prompt(stream: -1, request: index)), timeout: settings.callTimeout, levelStart: ContinuousClock.now)
            if let code = outcome.failure { progress("warm-up request \(index + 1) failed: \(code)") }
        }

        var levels: [ServeBenchLevel] = []
        for streams in settings.levels {
            if let chaos, !levels.isEmpty {
                progress("chaos: waiting for the cluster to settle before the next level ...")
                try await chaos.settle(timeoutSeconds: ServeBenchDefaults.startTimeoutSeconds)
            }
            progress("level: \(streams) stream\(streams == 1 ? "" : "s") x \(settings.requestsPerStream) requests ...")
            levels.append(try await level(streams: streams, client: client, infoClient: infoClient, prompts: prompts, progress: progress))
        }
        let finalInfo = (try? await infoClient.info()) ?? info
        return ServeBenchRun(endpoint: endpoint, info: finalInfo, levels: levels, secured: secured)
    }

    private func request(_ ids: [UInt32]) -> GenerateRequest {
        GenerateRequest(prompt: .tokenIDs(ids), maxNewTokens: UInt32(settings.maxTokens), sampling: .greedy)
    }

    private func level(streams: Int, client: MQClient, infoClient: MQClient, prompts: PromptSource,
                       progress: @escaping @Sendable (String) -> Void) async throws -> ServeBenchLevel {
        let before = try? await infoClient.info()
        let sampler = Task { await Self.sampleKV(infoClient) }
        let clock = ContinuousClock()
        let started = clock.now
        let chaosTask = chaos.map { agent in Task { await agent.run(levelStart: started, progress: progress) } }
        let requestsPerStream = settings.requestsPerStream
        let timeout = settings.callTimeout
        let outcomes = await withTaskGroup(of: [RequestOutcome].self) { group in
            for stream in 0 ..< streams {
                group.addTask {
                    var outcomes: [RequestOutcome] = []
                    for index in 0 ..< requestsPerStream {
                        var o = await Self.drive(client: client, request: request(prompts.prompt(stream: stream, request: index)),
                                                 timeout: timeout, levelStart: started)
                        o.stream = stream
                        outcomes.append(o)
                    }
                    return outcomes
                }
            }
            var all: [RequestOutcome] = []
            for await part in group { all += part }
            return all
        }
        let wall = clock.now - started
        chaosTask?.cancel()
        let chaosLog = await chaosTask?.value
        sampler.cancel()
        let kvSamples = await sampler.value
        let after = try? await infoClient.info()
        return ServeBenchLevel(streams: streams, wall: wall, outcomes: outcomes, kv: kvSamples, before: before, after: after, chaos: chaosLog)
    }

    /// One GenerateStream call, timed chunk by chunk. Never throws: a failure is an outcome.
    static func drive(client: MQClient, request: GenerateRequest, timeout: Duration,
                      levelStart: ContinuousClock.Instant) async -> RequestOutcome {
        let clock = ContinuousClock()
        let sent = clock.now
        var outcome = RequestOutcome()
        var previous: ContinuousClock.Instant?
        var finished = false
        do {
            for try await chunk in client.generateStream(request, timeout: timeout) {
                let now = clock.now
                if !chunk.tokenIDs.isEmpty {
                    if let previous {
                        outcome.interTokenMilliseconds.append((now - previous).milliseconds)
                    } else {
                        outcome.firstTokenMilliseconds = (now - sent).milliseconds
                    }
                    previous = now
                    outcome.chunks.append((seconds: (now - levelStart).seconds, tokens: chunk.tokenIDs.count))
                }
                if chunk.isLast { finished = true }
            }
            if !finished { outcome.failure = "NO_LAST_CHUNK" }
        } catch let error as MQClientError {
            outcome.failure = error.code.description
        } catch {
            outcome.failure = "ERROR"
        }
        return outcome
    }

    /// Largest kv_used_bytes per stage index seen in Info samples until the task is cancelled.
    static func sampleKV(_ client: MQClient) async -> KVSamples {
        var samples = KVSamples()
        while !Task.isCancelled {
            do {
                let info = try await client.info()
                samples.add(info)
            } catch {
                if Task.isCancelled { break }
                samples.failedSamples += 1
            }
            try? await Task.sleep(for: .milliseconds(ServeBenchDefaults.infoIntervalMilliseconds))
        }
        return samples
    }
}

struct ServeBenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The fixed-seed prompts: stream s, request r always gets the same ids (stream -1 is warm-up).
struct PromptSource: Sendable {
    let seed: UInt64
    let vocabulary: UInt32
    let length: Int

    func prompt(stream: Int, request: Int) -> [UInt32] {
        var rng = SplitMix64(seed: seed ^ (UInt64(bitPattern: Int64(stream)) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(request) &* 0xBF58_476D_1CE4_E5B9))
        // Ids 1..<vocabulary: id 0 is the end-of-sequence token of many models.
        return (0 ..< length).map { _ in UInt32(1 + rng.next() % UInt64(vocabulary - 1)) }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny generator whose sequence depends only on the seed.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What one request produced.
struct RequestOutcome: Sendable {
    /// Which of the level's streams sent it.
    var stream = 0
    /// Every token-carrying chunk: when it arrived (seconds since the level started) and its tokens.
    var chunks: [(seconds: Double, tokens: Int)] = []
    var tokens: Int { chunks.reduce(0) { $0 + $1.tokens } }
    var firstTokenMilliseconds: Double?
    var interTokenMilliseconds: [Double] = []
    /// The status code name of a failed call; nil for a completed one.
    var failure: String?
}

/// The times when every stream of a level had a request past its first token — so no prompt was
/// waiting for its prefill and every step the cluster ran was a decode step of all the streams — and
/// the tokens received in them. Each stream decodes from a request's first token to its last; the
/// windows are the intersection of those intervals over all streams.
struct DecodeWindows {
    var windows: [(start: Double, end: Double)] = []
    var tokens = 0
    var seconds: Double { windows.reduce(0) { $0 + $1.end - $1.start } }

    /// nil when some stream has no request that produced a token.
    init?(outcomes: [RequestOutcome], streams: Int) {
        let perStream = Dictionary(grouping: outcomes, by: \.stream)
        guard streams > 0, perStream.count == streams else { return nil }
        var common: [(start: Double, end: Double)]? = nil
        for (_, requests) in perStream {
            let decoding = requests.compactMap { r -> (start: Double, end: Double)? in
                guard let first = r.chunks.first?.seconds, let last = r.chunks.last?.seconds, first < last else { return nil }
                return (first, last)
            }.sorted { $0.start < $1.start }
            common = common.map { Self.intersect($0, decoding) } ?? decoding
        }
        windows = common ?? []
        guard !windows.isEmpty else { return nil }
        for o in outcomes {
            for c in o.chunks where windows.contains(where: { c.seconds > $0.start && c.seconds <= $0.end }) { tokens += c.tokens }
        }
    }

    /// Intersection of two sorted lists of disjoint intervals.
    static func intersect(_ a: [(start: Double, end: Double)], _ b: [(start: Double, end: Double)]) -> [(start: Double, end: Double)] {
        var out: [(start: Double, end: Double)] = []
        var i = 0, j = 0
        while i < a.count && j < b.count {
            let lo = max(a[i].start, b[j].start), hi = min(a[i].end, b[j].end)
            if lo < hi { out.append((lo, hi)) }
            if a[i].end < b[j].end { i += 1 } else { j += 1 }
        }
        return out
    }
}

/// The KV high-water marks of one level.
struct KVSamples: Sendable {
    var maxUsedBytes: [UInt32: UInt64] = [:]
    var samples = 0
    var failedSamples = 0

    mutating func add(_ info: InfoResponse) {
        samples += 1
        for stage in info.stages {
            maxUsedBytes[stage.stageIndex] = max(maxUsedBytes[stage.stageIndex] ?? 0, stage.kvUsedBytes)
        }
    }
}

// MARK: Results

/// p50, p90, p99 of a set of durations (nearest rank).
struct Percentiles: Encodable, Sendable {
    var p50: Double
    var p90: Double
    var p99: Double
    var count: Int

    init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        func rank(_ p: Double) -> Double { sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))] }
        p50 = rank(0.5); p90 = rank(0.9); p99 = rank(0.99); count = values.count
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
        wallSeconds = wall.seconds
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
        let wallNanoseconds = wall.seconds * 1e9
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
                + "\(secured ? "CURVE" : "no CURVE"), \(endpoint)",
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

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    var milliseconds: Double { seconds * 1000 }
}
