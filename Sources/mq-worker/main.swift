// mq-worker: one pipeline stage. Registers with the coordinator, loads the layer range it is
// assigned, runs prefill and decode steps and forwards activations to the next stage. A thin
// executable: flags, logging and signals here; everything else is MQWorker.WorkerService.
import ArgumentParser
import Dispatch
import Foundation
import Logging
import MQKernels
import MQModel
import MQCommandLine
import MQProtocol
import MQTransport
import MQWorker

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mq-worker",
        abstract: "Serve a contiguous range of a model's decoder layers as one stage of an mq pipeline.",
        discussion: """
        The worker binds its data socket (--listen), registers with the coordinator (--coordinator) and \
        loads the layers it is assigned from the model folder the coordinator names (or --model). Steps \
        arrive on the data socket; activations go straight to the next stage; the last stage samples and \
        reports tokens to the coordinator. SIGTERM or SIGINT finishes the current step, tells the \
        coordinator and exits with status 0.

        Example (two machines): mq-worker --coordinator tcp://10.0.0.2:5556 --listen 'tcp://*:5601' --advertise 10.0.0.7
        """)

    @Option(help: "The coordinator's worker endpoint, e.g. tcp://127.0.0.1:5556 (required).")
    var coordinator: String

    @Option(help: "Where the data socket binds (tcp://HOST:PORT with * for any port, or ipc:///path).")
    var listen: String = WorkerDefaults.listenEndpoint

    @Option(help: "Host or address other machines use to reach this worker; replaces the host of the bound endpoint in what is advertised.")
    var advertise: String?

    @Option(help: "Memory offered to the coordinator for weights and KV cache (suffixes K, M, G, T). Default: physical memory.")
    var memory: ByteSize?

    @Option(name: .customLong("kv-memory"), help: "Most KV-cache memory this worker uses (suffixes K, M, G, T).")
    var kvMemory = ByteSize(WorkerDefaults.kvMemoryBytes)

    @Option(help: "Model folder to load instead of the path the coordinator sends.")
    var model: String?

    @Option(name: .customLong("worker-id"), help: "Name of this worker in the cluster. Default: <host>-<pid>.")
    var workerID: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(help: "Compute threads of the packed matrix kernel (and of attention and sampling). Default: all cores.")
    var threads: Int?

    @Option(help: "How the stage holds its matrices: stored (the checkpoint's precision, default) or q8_0 (8-bit blocks this worker quantizes while loading its layers).")
    var weights: WeightPrecision = .stored

    @Option(name: .customLong("curve-key"), help: "This worker's CURVE secret key file (NAME.key from mq keygen; its NAME.pub must be in the coordinator's --authorized-workers).")
    var curveKey: String?

    @Option(name: .customLong("coordinator-key"), help: "The coordinator's CURVE public key file (coordinator.pub); required with --curve-key.")
    var coordinatorKey: String?

    @Flag(help: "Allow network-reachable endpoints without CURVE keys (unauthenticated, unencrypted).")
    var insecure = false

    @Flag(name: .customLong("standby-preload"), help: "While waiting as a standby, load and pack the layers of the stage the coordinator names (the one fewest standbys have prepared, the largest first), so taking it over after a loss needs no load. Costs that stage's weight memory while idle.")
    var standbyPreload = false

    func security() throws -> WorkerSecurity? {
        guard let curveKey, let coordinatorKey else { return nil }
        return WorkerSecurity(keys: try loadKey("--curve-key") { try CurveKeyPair.load(secretKeyFile: curveKey) },
                              coordinatorKey: try loadKey("--coordinator-key") { try CurvePublicKey.load(file: coordinatorKey) })
    }

    func validate() throws {
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level: unknown level \"\(logLevel)\" (trace, debug, info, notice, warning, error, critical)")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if kvMemory.bytes == 0 { throw ValidationError("--kv-memory must be positive") }
        if let model, !FileManager.default.fileExists(atPath: model + "/config.json") {
            throw ValidationError("--model \(model): no config.json there")
        }
        if (curveKey == nil) != (coordinatorKey == nil) {
            throw ValidationError("--curve-key and --coordinator-key go together: this worker's key, and the coordinator's it must authenticate")
        }
        _ = try security()
        try SecureDefaults.check(binds: [("--listen", listen)], connects: [("--coordinator", coordinator)],
                                 secured: curveKey != nil, insecure: insecure,
                                 keyFlags: "--curve-key worker.key --coordinator-key coordinator.pub")
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "mq-worker")
        var configuration = WorkerConfiguration(coordinatorEndpoint: coordinator, listenEndpoint: listen,
                                                advertiseHost: advertise, kvMemoryBytes: kvMemory.bytes,
                                                modelPathOverride: model, logger: logger)
        if let threads { configuration.compute = ComputeContext(threads: threads) }
        configuration.weights = weights
        if let memory { configuration.memoryBytes = memory.bytes }
        configuration.security = try security()
        configuration.standbyPreload = standbyPreload
        if let workerID { configuration.workerID = workerID }
        let service: WorkerService
        do { service = try WorkerService(configuration: configuration) } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        // The handlers run on a dispatch queue, not in signal context; stop() only posts to a mailbox.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let queue = DispatchQueue(label: "mq-worker.signals")
        let sources = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { service.stop(reason: "signal \(number == SIGTERM ? "SIGTERM" : "SIGINT")") }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try service.run()
        } catch let error as WorkerServiceError {
            logger.critical("\(error)")
            // A version mismatch cannot be fixed by retrying: a distinct status tells supervisors so.
            if case .versionMismatch = error { throw ExitCode(2) }
            throw ExitCode.failure
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
    }
}

WorkerCommand.main()

extension WeightPrecision: ExpressibleByArgument {}
