// The one launcher of a local cluster (STYLE habit 15): an mq-coordinator and its mq-workers started
// from a folder of built executables on this machine, used by `mq cluster up` (and so by
// deploy/local-cluster.sh), `mq bench serve --start` and the cluster tests. Endpoints are ipc sockets
// in a 0700 temporary folder or loopback TCP ports; secured by default (a CURVE key pair per process,
// made in the folder, and optionally an API key); every process logs to `<name>.log` in the folder.
import Dispatch
import Foundation
import MQClient
import MQProtocol
import MQTransport

#if canImport(Glibc)
import Glibc
#endif

/// Defaults of the local cluster launcher (STYLE habit 10).
public enum LocalClusterDefaults {
    /// How long `waitUntilServing` waits for every layer to be served (loading a model on a busy
    /// 2-core machine takes a while).
    public static let startTimeout: Duration = .seconds(300)
    /// Pause between Health polls while the cluster loads.
    public static let pollInterval: Duration = .milliseconds(100)
    /// Deadline of one Health call while waiting.
    public static let healthTimeout: Duration = .seconds(2)
    /// After SIGTERM, how long the processes get to exit before SIGKILL.
    public static let stopGraceSeconds: Double = 10
    /// Lines of each log that errors and `logs()` quote.
    public static let logTailLines = 30
}

/// Where the cluster listens.
public enum LocalClusterEndpoints: Sendable {
    /// ipc sockets in the cluster's folder (the data plane too).
    case ipc
    /// Loopback TCP: clients on `clientPort`, workers register on `clientPort + 1` (nil: ports
    /// nobody listens on now); workers' data planes on ports the OS picks.
    case tcp(clientPort: Int?)
}

/// What to start.
public struct LocalClusterOptions: Sendable {
    /// Hugging Face model folder (with config.json).
    public var model: URL
    /// Pipeline stages: the coordinator's --workers, and as many mq-worker processes.
    public var workers: Int
    /// Extra workers started at once, beyond `workers`: they register as standbys.
    public var standbys = 0
    /// The folder holding mq-coordinator and mq-worker.
    public var binaries: URL = LocalCluster.executableDirectory()
    public var endpoints: LocalClusterEndpoints = .ipc
    /// CURVE on every plane, with a key pair per process made in the folder.
    public var secured = true
    /// Secured, worker key pairs made beyond the started workers, for workers `launchWorker` starts
    /// later: the coordinator reads its authorized-workers file once, so every key is listed at start.
    public var spareKeys = 0
    /// An API key every call must carry (written to the coordinator's --api-keys file).
    public var apiKey: String?
    /// Each worker's --threads.
    public var workerThreads = 1
    /// More mq-coordinator and mq-worker options.
    public var coordinatorArguments: [String] = []
    public var workerArguments: [String] = []
    /// Prefix of the temporary folder's name.
    public var folderPrefix = "mq-cluster"
    /// Remove the folder (logs included) in `stop`.
    public var removeFolderOnStop = false
    /// SIGINT, SIGTERM and SIGHUP to this process stop the cluster before the process exits (for
    /// commands; the processes' PIDs are also in the folder's `pids` file).
    public var stopOnSignals = false

    public init(model: URL, workers: Int) {
        self.model = model
        self.workers = workers
    }
}

/// A failure to start, or to reach serving; names the process and quotes its log.
public struct LocalClusterError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An mq-coordinator and its mq-workers started by this process. Workers are named `worker<i>`
/// (their --worker-id, log, key pair and ipc socket). `killWorker` and `launchWorker` replace workers
/// while the cluster runs; a worker killed (by `killWorker` or any SIGKILL or SIGTERM) is expected to
/// be gone, any other exit while waiting for the cluster to serve is a failure. `stop` ends them all (SIGTERM, then SIGKILL after a grace period).
public final class LocalCluster: @unchecked Sendable {
    // @unchecked: the `let`s and `keys` are set in `init`; `processes`, `expectedExits`,
    // `nextWorkerIndex` and `stopped` are only touched while holding `lock`.
    public let options: LocalClusterOptions
    /// The cluster's folder (mode 0700): logs, keys, ipc sockets, `pids`.
    public let directory: URL
    public let clientEndpoint: String
    /// Where workers register.
    public let workerEndpoint: String
    /// CURVE keys when secured: the coordinator's and one per worker (`workers[i]` is `worker<i>`'s),
    /// written to `keys/` in the folder; the coordinator's public key is `serverKeyPath`.
    public struct Keys: Sendable {
        public let coordinator: CurveKeyPair
        public let workers: [CurveKeyPair]
    }
    public private(set) var keys: Keys?
    private var processes: [(name: String, process: Process)] = []
    private var expectedExits: Set<String> = []
    private var nextWorkerIndex = 0
    private let lock = NSLock()
    private var stopped = false

    /// Starts the coordinator and `workers + standbys` workers; returns once they are started (see
    /// `waitUntilServing`). On a failure stops whatever it started.
    public init(_ options: LocalClusterOptions) throws {
        self.options = options
        guard FileManager.default.fileExists(atPath: options.model.appendingPathComponent("config.json").path) else {
            throw LocalClusterError("local cluster: \(options.model.path)/config.json not found")
        }
        for name in ["mq-coordinator", "mq-worker"] where !FileManager.default.isExecutableFile(atPath: options.binaries.appendingPathComponent(name).path) {
            throw LocalClusterError("local cluster: \(name) not found in \(options.binaries.path) (build all products: swift build -c release)")
        }
        // mkdtemp: mode 0700, so the executables accept unsecured ipc sockets in it.
        var template = Array((NSTemporaryDirectory() + options.folderPrefix + ".XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw LocalClusterError("local cluster: cannot create a temporary folder in \(NSTemporaryDirectory()): errno \(errno)")
        }
        directory = URL(fileURLWithPath: String(cString: made))
        switch options.endpoints {
        case .ipc:
            clientEndpoint = "ipc://" + directory.appendingPathComponent("clients.sock").path
            workerEndpoint = "ipc://" + directory.appendingPathComponent("workers.sock").path
        case .tcp(let port):
            let clientPort = port ?? Self.freeTCPPort()
            clientEndpoint = "tcp://127.0.0.1:\(clientPort)"
            workerEndpoint = "tcp://127.0.0.1:\(port.map { $0 + 1 } ?? Self.freeTCPPort())"
        }
        if options.stopOnSignals { ChildProcesses.shared.register(self) }
        do {
            var security: [String] = []
            if options.secured {
                try FileManager.default.createDirectory(at: directory.appendingPathComponent("keys"), withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
                let keys = Keys(coordinator: try CurveKeyPair.generate(),
                                workers: try (0 ..< options.workers + options.standbys + options.spareKeys).map { _ in try CurveKeyPair.generate() })
                try keys.coordinator.write(base: keyPath("coordinator"))
                for (index, pair) in keys.workers.enumerated() { try pair.write(base: keyPath("worker\(index)")) }
                try keys.workers.map(\.publicKey.z85).joined(separator: "\n")
                    .write(toFile: keyPath("authorized-workers"), atomically: true, encoding: .utf8)
                security = ["--curve-key", keyPath("coordinator.key"), "--authorized-workers", keyPath("authorized-workers")]
                self.keys = keys
            }
            if let apiKey = options.apiKey {
                try apiKey.write(toFile: keyPath("api-keys"), atomically: true, encoding: .utf8)
                security += ["--api-keys", keyPath("api-keys")]
            }
            try launch("coordinator", "mq-coordinator",
                       ["--model", options.model.path, "--workers", "\(options.workers)", "--listen", clientEndpoint,
                        "--workers-listen", workerEndpoint] + security + options.coordinatorArguments)
            for _ in 0 ..< options.workers + options.standbys { try launchWorker() }
        } catch {
            stop()
            throw error
        }
    }

    /// The coordinator's public key file when secured (what `mq ... --server-key` takes).
    public var serverKeyPath: String? { keys == nil ? nil : keyPath("coordinator.pub") }

    /// The client's CURVE settings when secured.
    public var clientSecurity: MQClientSecurity? {
        get throws { try keys.map { try MQClientSecurity(serverKey: $0.coordinator.publicKey.z85) } }
    }

    /// A client with the cluster's credentials.
    public func client(timeout: Duration = MQClientDefaults.timeout, connectTimeout: Duration = MQClientDefaults.connectTimeout) throws -> MQClient {
        try MQClient(endpoint: clientEndpoint, defaultTimeout: timeout, connectTimeout: connectTimeout,
                     security: try clientSecurity, apiKey: options.apiKey)
    }

    func keyPath(_ name: String) -> String { directory.appendingPathComponent("keys").appendingPathComponent(name).path }

    /// The coordinator process.
    public var coordinator: Process {
        lock.lock()
        defer { lock.unlock() }
        return processes[0].process
    }

    /// The worker processes in the order they started: `workers[i]` is `worker<i>`.
    public var workers: [Process] {
        lock.lock()
        defer { lock.unlock() }
        return processes.dropFirst().filter { $0.name.hasPrefix("worker") }.map(\.process)
    }

    /// Starts the next worker, `worker<index>`, with `extraArguments` after the cluster's worker
    /// arguments; returns its name. Fails when a secured cluster has used up its key pairs.
    @discardableResult
    public func launchWorker(extraArguments: [String] = []) throws -> String {
        lock.lock()
        let index = nextWorkerIndex
        nextWorkerIndex += 1
        lock.unlock()
        let name = "worker\(index)"
        var arguments = ["--coordinator", workerEndpoint, "--worker-id", name, "--threads", "\(options.workerThreads)"]
        switch options.endpoints {
        case .ipc: arguments += ["--listen", "ipc://" + directory.appendingPathComponent("\(name).sock").path]
        case .tcp: arguments += ["--listen", "tcp://127.0.0.1:*"]
        }
        if let keys {
            guard index < keys.workers.count else {
                throw LocalClusterError("local cluster: no key pair left for \(name) (\(keys.workers.count) were made and listed in authorized-workers)")
            }
            arguments += ["--curve-key", keyPath("\(name).key"), "--coordinator-key", keyPath("coordinator.pub")]
        }
        try launch(name, "mq-worker", arguments + options.workerArguments + extraArguments)
        return name
    }

    /// SIGKILLs the worker `name` if it is one of ours and still runs; from then on its exit is
    /// expected. Returns its process id and the time just after the signal was sent.
    public func killWorker(_ name: String) -> (pid: Int32, at: ContinuousClock.Instant)? {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped, !expectedExits.contains(name),
              let entry = processes.first(where: { $0.name == name && $0.name != "coordinator" }), entry.process.isRunning
        else { return nil }
        let pid = entry.process.processIdentifier
        expectedExits.insert(name)
        kill(pid, SIGKILL)
        return (pid, ContinuousClock.now)
    }

    /// Names of the worker processes that run and were not killed by `killWorker`.
    public var liveWorkers: Set<String> {
        lock.lock()
        defer { lock.unlock() }
        return Set(processes.filter { $0.name.hasPrefix("worker") && !expectedExits.contains($0.name) && $0.process.isRunning }.map(\.name))
    }

    /// Whether the cluster is settled: every layer is served, and the workers the coordinator counts
    /// as alive are exactly the live worker processes (every standby and replacement registered, no
    /// killed worker still taken for alive).
    public static func settled(_ health: HealthResponse, liveWorkers: Set<String>) -> Bool {
        let registered = Set(health.workers.filter { $0.state != .lost }.map(\.workerID))
        return health.serving && registered == liveWorkers
    }

    /// Polls Health until every layer is served and every live worker process has registered; fails
    /// (quoting the logs) when the coordinator exits, a worker fails, or time runs out.
    public func waitUntilServing(timeout: Duration = LocalClusterDefaults.startTimeout) async throws {
        let client = try client(timeout: LocalClusterDefaults.healthTimeout)
        defer { client.close() }
        let end = ContinuousClock.now + timeout
        while true {
            if let exited = exitedProcess() {
                throw LocalClusterError("local cluster: \(exited) exited before the cluster served (logs in \(directory.path)):\n" + logs())
            }
            let live = liveWorkers
            if let health = try? await client.health(timeout: LocalClusterDefaults.healthTimeout), health.serving,
               live.isSubset(of: Set(health.workers.filter { $0.state != .lost }.map(\.workerID))) {
                return
            }
            if ContinuousClock.now > end {
                throw LocalClusterError("local cluster: not serving every layer with every worker registered after \(timeout) (logs in \(directory.path)):\n" + logs())
            }
            try await Task.sleep(for: LocalClusterDefaults.pollInterval)
        }
    }

    /// The first process whose exit means the cluster cannot come up: the coordinator's, whatever
    /// ended it, or a worker's that ended itself (an error) or crashed. A worker SIGKILLed or
    /// SIGTERMed by someone (`killWorker`, a test, the OOM killer) merely stops being live.
    private func exitedProcess() -> String? {
        lock.lock()
        defer { lock.unlock() }
        return processes.first { entry in
            guard !entry.process.isRunning, !expectedExits.contains(entry.name) else { return false }
            let killed = entry.process.terminationReason == .uncaughtSignal
                && [SIGKILL, SIGTERM].contains(entry.process.terminationStatus)
            return entry.name == "coordinator" || !killed
        }?.name
    }

    /// The last lines of every process's log, each under `== <name>.log`.
    public func logs() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.filter { $0.hasSuffix(".log") }.sorted() ?? []
        return files.map { file in
            let text = (try? String(contentsOfFile: directory.appendingPathComponent(file).path, encoding: .utf8)) ?? ""
            return "== \(file)\n" + text.split(separator: "\n").suffix(LocalClusterDefaults.logTailLines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    func launch(_ name: String, _ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = options.binaries.appendingPathComponent(executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let log = directory.appendingPathComponent("\(name).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil), let handle = FileHandle(forWritingAtPath: log.path) else {
            throw LocalClusterError("local cluster: cannot write \(log.path)")
        }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw LocalClusterError("local cluster: cannot start \(executable): \(error)")
        }
        try? handle.close()
        lock.lock()
        if stopped {
            // A replacement started while `stop` ran: it must not outlive the cluster.
            lock.unlock()
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw LocalClusterError("local cluster: stopped while \(name) started")
        }
        processes.append((name, process))
        lock.unlock()
        let line = Data("\(name) \(process.processIdentifier)\n".utf8)
        let pidsPath = directory.appendingPathComponent("pids").path
        if let pids = FileHandle(forWritingAtPath: pidsPath) {
            pids.seekToEndOfFile()
            pids.write(line)
            try? pids.close()
        } else {
            FileManager.default.createFile(atPath: pidsPath, contents: line)
        }
    }

    /// SIGTERM to every process (workers first, so the coordinator sees them go), a grace period,
    /// then SIGKILL for any left; removes the folder if the options say so. Idempotent; safe to
    /// call from a signal handler's queue.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        let running = processes.reversed().filter { $0.process.isRunning }
        for entry in running { kill(entry.process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(LocalClusterDefaults.stopGraceSeconds)
        while running.contains(where: { $0.process.isRunning }), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        for entry in running where entry.process.isRunning { kill(entry.process.processIdentifier, SIGKILL) }
        for entry in running { entry.process.waitUntilExit() }
        if options.removeFolderOnStop { try? FileManager.default.removeItem(at: directory) }
        if options.stopOnSignals { ChildProcesses.shared.unregister(self) }
    }

    /// A TCP port nobody listens on now (the OS's choice for a socket bound to port 0 on loopback).
    public static func freeTCPPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The folder of the running executable (through /proc/self/exe, so that a symlink or a
    /// relative argv[0] still finds its sibling executables).
    public static func executableDirectory() -> URL {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path).deletingLastPathComponent()
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }
}

/// The clusters started with `stopOnSignals`, so that SIGINT, SIGTERM and SIGHUP stop them before
/// the process exits. (A process killed with SIGKILL cannot clean up: its children's PIDs are in
/// the file `pids` of the cluster's folder, for killing by hand.)
final class ChildProcesses: @unchecked Sendable {
    // @unchecked: `clusters` and `sources` are only touched under `lock`.
    static let shared = ChildProcesses()
    private let lock = NSLock()
    private var clusters: [ObjectIdentifier: LocalCluster] = [:]
    private var sources: [any DispatchSourceSignal] = []

    func register(_ cluster: LocalCluster) {
        lock.lock()
        defer { lock.unlock() }
        clusters[ObjectIdentifier(cluster)] = cluster
        guard sources.isEmpty else { return }
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber, SIG_IGN)   // delivered to the dispatch source instead
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [unowned self] in
                self.stopAll()
                exit(128 + signalNumber)
            }
            source.resume()
            sources.append(source)
        }
    }

    func unregister(_ cluster: LocalCluster) {
        lock.lock()
        clusters[ObjectIdentifier(cluster)] = nil
        lock.unlock()
    }

    private func stopAll() {
        lock.lock()
        let all = Array(clusters.values)
        lock.unlock()
        for cluster in all {
            cluster.stop()
            FileHandle.standardError.write(Data("local cluster: stopped (logs in \(cluster.directory.path))\n".utf8))
        }
    }
}
