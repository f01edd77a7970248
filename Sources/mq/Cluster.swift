// `mq cluster up`: a whole cluster on this machine (what deploy/local-cluster.sh runs after building).
// A thin command over MQLocalCluster, the one local cluster launcher: starts an mq-coordinator and N
// mq-workers (+ standbys) from the folder of this mq binary on loopback TCP, secured with a CURVE key
// pair per process, waits until every layer is served, prints how to call it, streams a prompt if
// given, and stops every process it started on the way out (Ctrl-C included).
import ArgumentParser
import Foundation
import MQClient
import MQLocalCluster
import MQModel

/// Defaults of `mq cluster up` (STYLE habit 10), the ones deploy/local-cluster.sh documents.
enum ClusterUpDefaults {
    static let model = "models/default"
    static let workers = 2
    static let port = 5555
    /// Metrics listen on the client port plus this, unless --metrics-port says otherwise.
    static let metricsPortOffset = 9
    static let split = "balanced"
    /// The OpenAI-compatible gateway's HTTP port (with --port 0: a free one).
    static let gatewayPort = 8000
    /// How long to wait for every worker to load its layers.
    static let startTimeout: Duration = .seconds(120)
}

struct Cluster: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a local cluster of mq-coordinator and mq-worker processes.",
        subcommands: [Up.self])

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a coordinator and N workers on this machine, wait until they serve, optionally stream a prompt.",
            discussion: """
                The executables are taken from the folder of this mq. Clients connect to tcp://127.0.0.1:PORT \
                and workers register on PORT+1 (--port 0: ports nobody listens on now). Secured by default: \
                a CURVE key pair per process in the run folder it prints (mode 0700); clients pass \
                --server-key <folder>/keys/coordinator.pub. Every stage shares this machine's cores, so the \
                coordinator runs one micro-batch and each worker uses every core. With --prompt it streams \
                the completion and stops; without it (or with --keep) it runs until Ctrl-C.
                """)

        @Option(help: "Hugging Face model folder.") var model = ClusterUpDefaults.model
        @Option(help: "Pipeline stages / worker processes.") var workers = ClusterUpDefaults.workers
        @Option(help: "Extra workers that wait to take over a lost stage.") var standbys = 0
        @Option(help: "Client port; workers register on PORT+1 (0: free ports).") var port = ClusterUpDefaults.port
        @Option(help: "How the coordinator splits layers: balanced, even, memory or A,B,...") var split = ClusterUpDefaults.split
        @Option(name: .customLong("metrics-port"), help: "Prometheus metrics at http://127.0.0.1:P/metrics (default PORT+9; 0: off).")
        var metricsPort: Int?
        @Option(help: "Compute threads per worker (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
        @Option(help: "How each worker holds its matrices: stored (the checkpoint's precision, default) or q8_0 (quantized by each worker while loading its layers).")
        var weights: WeightPrecision = .stored
        @Flag(help: "No CURVE keys (plain ZeroMQ on loopback, for comparison).") var insecure = false
        @Flag(name: .customLong("no-prefix-cache"), help: "Run the coordinator with --no-prefix-cache (no reuse of cached prompt prefixes).")
        var noPrefixCache = false
        @Option(name: .customLong("gateway-port"), help: "HTTP port of mq-gateway, the OpenAI-compatible API (default 8000, or a free port with --port 0; 0: a free port).")
        var gatewayPort: Int?
        @Flag(name: .customLong("no-gateway"), help: "Do not start mq-gateway.") var noGateway = false
        @Option(name: .customLong("gateway-api-keys"), help: "API keys file (one a line) HTTP clients of the gateway must present as Bearer tokens.")
        var gatewayAPIKeys: String?
        @Option(name: .customLong("kv-memory"), help: "KV-cache memory of each worker, e.g. 512M (default: the worker decides).")
        var kvMemory: String?
        @Option(name: .customLong("max-queued"), help: "Calls the coordinator queues for admission; beyond, calls fail fast (RESOURCE_EXHAUSTED, HTTP 429).")
        var maxQueued: Int?
        @Option(name: .customLong("api-key"), help: "Make the coordinator require this API key (clients: --api-key or MQ_API_KEY; the gateway gets it).")
        var apiKey: String?
        @Flag(help: "Keep the cluster running until Ctrl-C after the prompt.") var keep = false
        @Option(help: "Generate from this text (streamed) once the cluster serves.") var prompt: String?
        @Option(help: "With --prompt: fill in the middle, this being the text after the gap (needs a model with FIM tokens).") var suffix: String?
        @Option(name: .customLong("max-tokens"), help: "Maximum new tokens for --prompt.") var maxTokens: Int = 64
        @OptionGroup var sampling: SamplingOptions
        @Option(name: .customLong("stop"), help: "Stop when this text appears (repeatable).") var stops: [String] = []

        func validate() throws {
            guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
            guard standbys >= 0 else { throw ValidationError("--standbys must not be negative") }
            guard (0 ... 65534).contains(port) else { throw ValidationError("--port must be in 0...65534") }
            if let metricsPort, !(0 ... 65535).contains(metricsPort) { throw ValidationError("--metrics-port must be in 0...65535") }
            if let gatewayPort, !(0 ... 65535).contains(gatewayPort) { throw ValidationError("--gateway-port must be in 0...65535") }
            if let maxQueued, maxQueued < 0 { throw ValidationError("--max-queued must not be negative") }
            if noGateway && (gatewayPort != nil || gatewayAPIKeys != nil) { throw ValidationError("--no-gateway goes without --gateway-port and --gateway-api-keys") }
            if let apiKey, apiKey.utf8.count < 16 || apiKey.contains(where: \.isWhitespace) {
                throw ValidationError("--api-key must be one word of at least 16 characters")
            }
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
            if suffix != nil && prompt == nil { throw ValidationError("--suffix needs --prompt (the text before the gap)") }
            guard maxTokens >= 1, maxTokens <= Int(UInt32.max) else { throw ValidationError("--max-tokens must be in 1...\(UInt32.max)") }
            _ = try sampling.parameters(stopStrings: stops)
        }

        func run() throws {
            try reportingErrors {
                let request = try prompt.map { text in
                    var r = try generateRequest(prompt: .text(text), maxTokens: maxTokens, sampling: sampling, stops: stops)
                    r.suffix = suffix
                    return r
                }
                let metrics = metricsPort ?? (port == 0 ? 0 : port + ClusterUpDefaults.metricsPortOffset)
                var options = LocalClusterOptions(model: URL(fileURLWithPath: model).standardizedFileURL, workers: workers)
                options.standbys = standbys
                options.endpoints = .tcp(clientPort: port == 0 ? nil : port)
                options.secured = !insecure
                options.workerThreads = threads
                options.apiKey = apiKey
                options.workerArguments += ["--weights", weights.rawValue]
                // One micro-batch: the stages take turns with all of this machine's cores rather than
                // running side by side on a share of them (on 2 cores with tiny_starcoder and 2 stages,
                // 16 streams decode 169 tok/s this way against 109-131 tok/s with two micro-batches).
                options.coordinatorArguments = ["--split", split, "--micro-batches", "1"]
                    + (metrics == 0 ? [] : ["--metrics-listen", "tcp://127.0.0.1:\(metrics)"])
                    + (noPrefixCache ? ["--no-prefix-cache"] : [])
                    + (maxQueued.map { ["--max-queued", "\($0)"] } ?? [])
                options.workerArguments += kvMemory.map { ["--kv-memory", $0] } ?? []
                options.stopOnSignals = true
                let cluster = try LocalCluster(options)
                defer {
                    cluster.stop()
                    writeStderr("mq cluster up: stopped (logs in \(cluster.directory.path))\n")
                }
                writeStderr("mq cluster up: waiting for \(workers) workers to load \(options.model.path) (logs in \(cluster.directory.path)) ...\n")
                try waitForCall { try await cluster.waitUntilServing(timeout: ClusterUpDefaults.startTimeout) }
                var gateway: LocalGateway? = nil
                if !noGateway {
                    // The default port when it is free; else (or with --port 0) any free port.
                    let chosen = gatewayPort
                        ?? (port != 0 && LocalCluster.isTCPPortFree(ClusterUpDefaults.gatewayPort) ? ClusterUpDefaults.gatewayPort : 0)
                    let started = try cluster.startGateway(LocalGatewayOptions(
                        port: chosen == 0 ? nil : chosen, arguments: gatewayAPIKeys.map { ["--api-keys", $0] } ?? []))
                    try waitForCall { try await cluster.waitUntilGatewayServing(started, timeout: ClusterUpDefaults.startTimeout) }
                    gateway = started
                }
                let client = try cluster.client()
                defer { client.close() }
                let info = try waitForCall { try await client.info() }
                writeStderr(info.report())
                writeStderr(howToCall(cluster, metricsPort: metrics, gateway: gateway, modelName: info.model.name))
                if let request, let prompt {
                    writeStdout(prompt)
                    try stream(request, from: client, json: false, after: suffix)
                }
                if keep || prompt == nil {
                    writeStderr("mq cluster up: running; press Ctrl-C to stop\n")
                    cluster.coordinator.waitUntilExit()   // Ctrl-C stops the cluster and exits (MQLocalCluster)
                    throw ClusterUpError("mq-coordinator exited (status \(cluster.coordinator.terminationStatus)):\n" + cluster.logs())
                }
            }
        }

        /// The commands that call this cluster, with this mq's path (relative to the current folder
        /// when inside it, e.g. .build/release/mq).
        private func howToCall(_ cluster: LocalCluster, metricsPort: Int, gateway: LocalGateway?, modelName: String) -> String {
            var mq = LocalCluster.executableDirectory().appendingPathComponent("mq").path
            let here = FileManager.default.currentDirectoryPath + "/"
            if mq.hasPrefix(here) { mq = String(mq.dropFirst(here.count)) }
            let server = "--server \(cluster.clientEndpoint)" + (cluster.serverKeyPath.map { " --server-key \($0)" } ?? "")
            var text = """
                mq cluster up: serving on \(cluster.clientEndpoint)
                  \(mq) stream   \(server) --prompt 'def fibonacci(n):' --max-tokens 64
                  \(mq) generate \(server) --prompt-ids 1,2,3 --max-tokens 8 --json
                  \(mq) health   \(server)

                """
            if metricsPort != 0 { text += "  curl -s http://127.0.0.1:\(metricsPort)/metrics      # Prometheus metrics\n" }
            if let gateway {
                let auth = gatewayAPIKeys == nil ? "" : " -H \"Authorization: Bearer $KEY\""
                text += """
                    mq cluster up: OpenAI-compatible gateway on \(gateway.url) (mq-gateway; model name from \(gateway.url)/v1/models)
                      curl -s \(gateway.url)/v1/completions\(auth) -H 'Content-Type: application/json' -d '{"model": "\(modelName)", "prompt": "def fibonacci(n):", "max_tokens": 32}'

                    """
            }
            return text
        }
    }
}

struct ClusterUpError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
