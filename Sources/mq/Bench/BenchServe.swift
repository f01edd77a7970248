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
// Ctrl-C or an error, so that no process outlives the command (MQLocalCluster). With --chaos it
// also kills and replaces stage workers while the levels run (BenchChaos.swift) and reports stalls
// and recovery times (BenchStalls.swift).
import ArgumentParser
import Dispatch
import Foundation
import MQClient
import MQCommandLine
import MQLocalCluster
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

                --shared-prefix N makes the first N prompt tokens of every request (warm-up included) the same, \
                the rest random, like an editor sending one file again and again; with --start, --prefix-cache both \
                measures each worker count without and then with the coordinator's prefix cache, in one run.

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

        @Option(name: .customLong("shared-prefix"), help: "The first N prompt tokens are the same in every request (the rest random), to measure the prefix cache.")
        var sharedPrefix: Int = 0

        @Option(name: .customLong("prefix-cache"), help: "With --start: on, off (the coordinator's --no-prefix-cache) or both (each worker count measured without, then with the cache, in this one run).")
        var prefixCache = "on"

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

        @Flag(help: "With --start: also start mq-gateway and measure every cluster both ways, interleaved: directly over ZeroMQ, then the same requests through the gateway's OpenAI HTTP API (streamed completions), --gateway-rounds times.")
        var gateway = false

        @Option(name: .customLong("gateway-rounds"), help: "With --gateway: rounds of (ZeroMQ, HTTP) measurements per cluster.")
        var gatewayRounds = 2

        @OptionGroup var credentials: ClientCredentials

        func validate() throws {
            if (server == nil) == (start == nil) { throw ValidationError("give exactly one of --server and --start") }
            if let server { try credentials.check(server: server) }
            guard ["secured", "insecure", "both"].contains(security) else {
                throw ValidationError("--security: expected secured, insecure or both, got \"\(security)\"")
            }
            guard ["on", "off", "both"].contains(prefixCache) else {
                throw ValidationError("--prefix-cache: expected on, off or both, got \"\(prefixCache)\"")
            }
            if prefixCache != "on" && start == nil { throw ValidationError("--prefix-cache only applies with --start") }
            guard sharedPrefix >= 0, sharedPrefix <= promptTokens else {
                throw ValidationError("--shared-prefix must be in 0...\(promptTokens) (--prompt-tokens), got \(sharedPrefix)")
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
            if gateway && start == nil { throw ValidationError("--gateway only applies with --start") }
            if gateway && chaos != nil { throw ValidationError("--gateway and --chaos do not go together") }
            if gatewayRounds < 1 { throw ValidationError("--gateway-rounds must be at least 1") }
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
                    standbys: start == nil ? nil : standbys ?? (chaos == nil ? 0 : ChaosDefaults.standbys), sharedPrefix: sharedPrefix)
                var runs: [ServeBenchRun] = []
                if let server {
                    runs.append(try measure(endpoint: server, settings: settings, security: try credentials.security(),
                                            apiKey: credentials.resolvedAPIKey, secured: credentials.serverKey != nil))
                } else if let start {
                    let modes = security == "both" ? [false, true] : [security == "secured"]
                    let caches = prefixCache == "both" ? [false, true] : [prefixCache == "on"]
                    for count in try parsePositiveList(workers, flag: "--workers") {
                        for (secured, cached) in modes.flatMap({ m in caches.map { (m, $0) } }) {
                            var options = LocalClusterOptions(model: URL(fileURLWithPath: start).standardizedFileURL, workers: count)
                            options.standbys = settings.standbys ?? 0
                            options.spareKeys = chaos == nil ? 0 : ChaosDefaults.spareKeys
                            options.workerThreads = workerThreads ?? max(1, ProcessInfo.processInfo.activeProcessorCount)
                            options.coordinatorArguments = try coordinatorArguments() + (cached ? [] : ["--no-prefix-cache"])
                            options.workerArguments = standbyPreload ? ["--standby-preload"] : []
                            options.secured = secured
                            options.folderPrefix = "mq-bench"
                            options.stopOnSignals = true
                            let cluster = try LocalCluster(options)
                            defer { cluster.stop() }
                            if !json {
                                let spares = settings.standbys ?? 0
                                writeStderr("mq bench serve: \(count)-stage \(secured ? "secured" : "insecure") cluster, prefix cache \(cached ? "on" : "off"),"
                                            + (spares > 0 ? " with \(spares) standby\(spares == 1 ? "" : "s")" : "")
                                            + " serving \(start) (logs in \(cluster.directory.path))\n")
                            }
                            try waitForCall { try await cluster.waitUntilServing(timeout: .seconds(ServeBenchDefaults.startTimeoutSeconds)) }
                            let agent = chaos.map { ChaosAgent(cluster: cluster, intervalSeconds: $0, seed: seed) }
                            guard gateway else {
                                runs.append(try measure(endpoint: cluster.clientEndpoint, settings: settings, security: try cluster.clientSecurity,
                                                        apiKey: nil, secured: secured, chaos: agent, prefixCache: cached))
                                continue
                            }
                            let started = try cluster.startGateway()
                            try waitForCall { try await cluster.waitUntilGatewayServing(started, timeout: .seconds(ServeBenchDefaults.startTimeoutSeconds)) }
                            let client = try cluster.client()
                            let model = try waitForCall { try await client.info() }.model.name
                            client.close()
                            for round in 1 ... gatewayRounds {
                                for transport in [ServeBenchTransport.zeromq, .http(port: started.port, model: model)] {
                                    let label: String
                                    if case .http = transport { label = "\(started.url) (mq-gateway, HTTP)" } else { label = "\(cluster.clientEndpoint) (ZeroMQ)" }
                                    if !json { writeStderr("mq bench serve: round \(round) of \(gatewayRounds): \(label)\n") }
                                    runs.append(try measure(endpoint: cluster.clientEndpoint, settings: settings, security: try cluster.clientSecurity,
                                                            apiKey: nil, secured: secured, prefixCache: cached, transport: transport, label: label))
                                }
                            }
                        }
                    }
                }
                if json {
                    writeStdout(try ServeBenchReport(settings: settings, runs: runs).jsonLine() + "\n")
                }
            }
        }

        private func measure(endpoint: String, settings: ServeBenchSettings, security: MQClientSecurity?, apiKey: String?,
                             secured: Bool, chaos: ChaosAgent? = nil, prefixCache: Bool? = nil, transport: ServeBenchTransport = .zeromq,
                             label: String? = nil) throws -> ServeBenchRun {
            let json = self.json
            var run = try waitForCall {
                try await ServeBenchmark(endpoint: endpoint, settings: settings, security: security, apiKey: apiKey,
                                         secured: secured, chaos: chaos, prefixCache: prefixCache, transport: transport).run { line in
                    if !json { writeStderr(line + "\n") }
                }
            }
            if let label { run.endpoint = label }
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
func parsePositiveList(_ text: String, flag: String) throws -> [Int] {
    let values = try parseIds(text, flag: flag)
    guard values.allSatisfy({ $0 >= 1 }) else { throw ValidationError("\(flag): every value must be at least 1, got \(text)") }
    return values
}

func writeStderr(_ s: String) {
    FileHandle.standardError.write(Data(s.utf8))
}
