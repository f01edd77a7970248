// mq-coordinator: splits a model's layers across mq-worker processes and serves client calls.
import ArgumentParser
import Dispatch
import Foundation
import Logging
import MQCommandLine
import MQCoordinator
import MQTransport

struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mq-coordinator",
        abstract: "Serve a model split across mq-worker processes (pipeline parallelism over ZeroMQ).",
        discussion: """
        Workers connect to --workers-listen and are assigned contiguous layer ranges once --workers of \
        them have registered. Clients (mq generate/stream/info/health, MQClient) call --listen.
        """)

    @Option(help: "Hugging Face model folder (config.json, tokenizer.json; weights are read by the workers).")
    var model: String
    @Option(help: "Client endpoint (ROUTER), tcp or ipc.") var listen = CoordinatorDefaults.clientEndpoint
    @Option(name: .customLong("workers-listen"), help: "Worker endpoint (ROUTER), tcp or ipc.") var workersListen = CoordinatorDefaults.workerEndpoint
    @Option(help: "Number of pipeline stages (workers that get layers).") var workers: Int = 1
    @Option(help: "Layer split: 'balanced' (equal weight bytes per stage, counting the LM head on the last), 'even' (equal layer counts), 'memory' (proportional to memory offered), or counts per stage like 10,10.")
    var split: String = "balanced"
    @Option(name: .customLong("kv-memory"), help: "KV-cache bytes each stage may use (suffixes K, M, G; default: the worker decides).")
    var kvMemory: ByteSize?
    @Option(name: .customLong("max-new-tokens"), help: "Largest max_new_tokens a call may ask for.") var maxNewTokens = CoordinatorDefaults.maxNewTokens
    @Option(name: .customLong("max-prompt-tokens"), help: "Longest prompt accepted (0: the model's context length).") var maxPromptTokens = 0
    @Option(name: .customLong("max-queued"), help: "Calls waiting for admission (KV cache) beyond which new calls get RESOURCE_EXHAUSTED.") var maxQueued = CoordinatorDefaults.maxQueuedCalls
    @Option(name: .customLong("micro-batches"), help: "Steps kept in the pipeline at once (default: one per stage).") var microBatches: Int?
    @Option(name: .customLong("prefill-chunk"), help: "Prompt tokens a sequence feeds per step (longer prompts are chunked).") var prefillChunk = CoordinatorDefaults.prefillChunk
    @Option(name: .customLong("max-step-tokens"), help: "Tokens one step may carry, prompt chunks and decodes together (bounds a step's time; the first sequence's chunk always goes).")
    var maxStepTokens = CoordinatorDefaults.maxTokensPerStep
    @Flag(name: .customLong("no-prefix-cache"), help: "Do not keep or reuse prompt prefixes in the stages' KV caches (on by default).") var noPrefixCache = false
    @Option(name: .customLong("metrics-listen"), help: "Serve Prometheus metrics (GET /metrics: KV used/free per stage, busy time, calls, tokens) on tcp://HOST:PORT.")
    var metricsListen: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(name: .customLong("curve-key"), help: "This coordinator's CURVE secret key file (NAME.key from mq keygen): encrypts and authenticates the client and worker planes.")
    var curveKey: String?
    @Option(name: .customLong("authorized-workers"), help: "File of worker public keys (one Z85 key a line, # comments) allowed to register; required with --curve-key.")
    var authorizedWorkers: String?
    @Option(name: .customLong("authorized-clients"), help: "File of client public keys allowed to call (default with --curve-key: any client that has the coordinator's public key).")
    var authorizedClients: String?
    @Option(name: .customLong("api-keys"), help: "File of API keys (one a line, # comments); every call must carry one (mq --api-key, MQ_API_KEY).")
    var apiKeys: String?
    @Flag(help: "Allow network-reachable endpoints without CURVE keys (unauthenticated, unencrypted).")
    var insecure = false
    @Option(name: .customLong("failover-timeout"), help: "Seconds calls wait, kept for replay, for a standby mq-worker to take a lost stage (0: they end UNAVAILABLE at once).")
    var failoverTimeout: Double = CoordinatorDefaults.failoverTimeout.inSeconds

    func validate() throws {
        if workers < 1 { throw ValidationError("--workers must be at least 1") }
        if let m = microBatches, m < 1 { throw ValidationError("--micro-batches must be at least 1") }
        if prefillChunk < 1 { throw ValidationError("--prefill-chunk must be at least 1") }
        if maxStepTokens < 1 { throw ValidationError("--max-step-tokens must be at least 1") }
        _ = try parseSplit()
        if let m = metricsListen, !m.hasPrefix("tcp://") { throw ValidationError("--metrics-listen: expected tcp://HOST:PORT (HTTP needs TCP), got \"\(m)\"") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level: unknown level \"\(logLevel)\"") }
        guard failoverTimeout.isFinite, failoverTimeout >= 0, failoverTimeout <= 86_400 else {
            throw ValidationError("--failover-timeout must be seconds in 0...86400, got \(failoverTimeout)")
        }
        if (curveKey == nil) != (authorizedWorkers == nil) {
            throw ValidationError("--curve-key and --authorized-workers go together: the coordinator's key, and the workers it accepts")
        }
        if authorizedClients != nil && curveKey == nil { throw ValidationError("--authorized-clients needs --curve-key") }
        _ = try security()
        if let apiKeys { _ = try loadKey("--api-keys") { try APIKeys.load(file: apiKeys) } }
        // The metrics endpoint is plain HTTP and shows no request content; it is checked too, as
        // it reveals the cluster's shape.
        try SecureDefaults.check(
            binds: [("--listen", listen), ("--workers-listen", workersListen)] + (metricsListen.map { [("--metrics-listen", $0)] } ?? []),
            connects: [], secured: curveKey != nil, insecure: insecure,
            keyFlags: "--curve-key coordinator.key --authorized-workers workers.txt")
    }

    func security() throws -> CoordinatorSecurity? {
        guard let curveKey, let authorizedWorkers else { return nil }
        return CoordinatorSecurity(
            keys: try loadKey("--curve-key") { try CurveKeyPair.load(secretKeyFile: curveKey) },
            authorizedWorkers: try loadKey("--authorized-workers") { try AuthorizedKeys.load(file: authorizedWorkers) },
            authorizedClients: try authorizedClients.map { path in try loadKey("--authorized-clients") { try AuthorizedKeys.load(file: path) } })
    }

    func parseSplit() throws -> SplitPolicy {
        switch split {
        case "balanced": return .balanced
        case "even": return .even
        case "memory": return .memory
        default:
            let parts = split.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--split: expected balanced, even, memory or positive layer counts like 10,10")
            }
            return .layers(parts.map { $0! })
        }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "mq-coordinator")
        var config = CoordinatorConfig(modelPath: model, stages: workers)
        config.clientEndpoint = listen
        config.workerEndpoint = workersListen
        config.split = try parseSplit()
        config.kvCapacityBytes = kvMemory?.bytes ?? 0
        config.maxNewTokens = maxNewTokens
        config.maxPromptTokens = maxPromptTokens
        config.maxQueuedCalls = maxQueued
        config.microBatches = microBatches ?? workers
        config.prefillChunk = prefillChunk
        config.maxStepTokens = maxStepTokens
        config.prefixCache = !noPrefixCache
        config.metricsEndpoint = metricsListen
        config.security = try security()
        config.failoverTimeout = .milliseconds(Int64(failoverTimeout * 1000))
        config.apiKeys = try apiKeys.map { path in try loadKey("--api-keys") { try APIKeys.load(file: path) } }
        if config.security == nil && insecure {
            logger.warning("running with --insecure: the client and worker planes are unauthenticated and unencrypted")
        }
        let service: CoordinatorService
        do { service = try CoordinatorService(config: config, logger: logger) } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        service.onListening = { c, w in
            FileHandle.standardOutput.write(Data("mq-coordinator listening: clients \(c), workers \(w)\n".utf8))
        }
        // SIGTERM / SIGINT drain the service; the handlers run on a dispatch queue, not in signal context.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let queue = DispatchQueue(label: "signals")
        let sources = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler { service.stop() }
            s.resume()
            return s
        }
        defer { sources.forEach { $0.cancel() } }
        do { try service.run() } catch {
            logger.critical("stopped: \(error)")
            throw ExitCode.failure
        }
        print("mq-coordinator: \(service.hopStatistics)")
    }
}

CoordinatorCommand.main()
