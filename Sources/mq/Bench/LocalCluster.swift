// The local clusters `mq bench serve --start` measures: an mq-coordinator and its mq-workers started
// from the folder of this mq binary over ipc endpoints in a temporary folder, and stopped again on
// every path out of the command (including a signal to this process).
import Dispatch
import Foundation
import MQClient
import MQCommandLine
import MQTransport

#if canImport(Glibc)
import Glibc
#endif

/// An mq-coordinator and its mq-workers started by this process, talking over ipc endpoints in a
/// temporary folder (which also holds their logs). Workers beyond the coordinator's --workers
/// register as standbys. `killWorker` and `launchWorker` let --chaos replace workers while the
/// cluster runs; the processes it kills are expected to exit, any other exit is a failure. `stop`
/// ends them all, replacements included (SIGTERM, then SIGKILL after a grace period); a signal to
/// this process stops them too before it exits.
final class LocalCluster: @unchecked Sendable {
    // @unchecked: `clientSecurity` and `workerLaunch` are set in `start` before the cluster is
    // shared; `processes`, `expectedExits`, `nextWorkerIndex` and `stopped` are only touched while
    // holding `lock`.
    let directory: URL
    let clientEndpoint: String
    /// The client's CURVE settings when the cluster runs secured.
    private(set) var clientSecurity: MQClientSecurity?
    private var workerLaunch: WorkerLaunch?
    private var processes: [(name: String, process: Process)] = []
    /// Names of the processes `killWorker` killed.
    private var expectedExits: Set<String> = []
    /// The index of the next worker `launchWorker` starts (`worker<index>`).
    private var nextWorkerIndex = 0
    private let lock = NSLock()
    private var stopped = false

    /// How to start one more mq-worker.
    private struct WorkerLaunch {
        var executable: URL
        var coordinatorEndpoint: String
        var threads: Int
        /// Secured: worker key pairs `worker0` ... `worker<n-1>` exist in the run folder and the
        /// coordinator's authorized-workers file lists them all; nil when insecure.
        var keyPairs: Int?
        var coordinatorPublicKey: String
        /// More mq-worker options (e.g. --standby-preload).
        var extraArguments: [String] = []
    }

    private init(directory: URL) {
        self.directory = directory
        clientEndpoint = "ipc://" + directory.appendingPathComponent("clients.sock").path
    }

    /// Starts a coordinator for `workers` stages and `workers + standbys` workers. Secured, it also
    /// makes `spareKeys` worker key pairs for replacements started later: the coordinator reads its
    /// authorized-workers file once, so every key a worker may ever use is listed at start.
    static func start(model: String, workers: Int, standbys: Int = 0, spareKeys: Int = 0, workerThreads: Int,
                      coordinatorArguments: [String], workerArguments: [String] = [], secured: Bool) throws -> LocalCluster {
        let modelURL = URL(fileURLWithPath: model).standardizedFileURL
        guard FileManager.default.fileExists(atPath: modelURL.appendingPathComponent("config.json").path) else {
            throw ServeBenchError("--start: \(modelURL.path)/config.json not found")
        }
        let binaries = executableDirectory()
        for name in ["mq-coordinator", "mq-worker"] where !FileManager.default.isExecutableFile(atPath: binaries.appendingPathComponent(name).path) {
            throw ServeBenchError("--start: \(name) not found next to this mq in \(binaries.path) (build all products: swift build -c release)")
        }
        var template = Array((NSTemporaryDirectory() + "mq-bench.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw ServeBenchError("--start: cannot create a temporary folder in \(NSTemporaryDirectory()): errno \(errno)")
        }
        let cluster = LocalCluster(directory: URL(fileURLWithPath: String(cString: made)))
        ChildProcesses.shared.register(cluster)
        do {
            let workerEndpoint = "ipc://" + cluster.directory.appendingPathComponent("workers.sock").path
            var launch = WorkerLaunch(executable: binaries.appendingPathComponent("mq-worker"), coordinatorEndpoint: workerEndpoint,
                                      threads: workerThreads, keyPairs: nil, coordinatorPublicKey: cluster.keyPath("coordinator.pub"),
                                      extraArguments: workerArguments)
            // Secured: a key pair per process in the run folder (mode 0700 from mkdtemp).
            var coordinatorKeys: [String] = []
            if secured {
                let coordinator = try CurveKeyPair.generate()
                try coordinator.write(base: cluster.keyPath("coordinator"))
                let keyPairs = workers + standbys + spareKeys
                var listed: [String] = []
                for index in 0 ..< keyPairs {
                    let pair = try CurveKeyPair.generate()
                    try pair.write(base: cluster.keyPath("worker\(index)"))
                    listed.append(pair.publicKey.z85)
                }
                try listed.joined(separator: "\n").write(toFile: cluster.keyPath("authorized-workers"), atomically: true, encoding: .utf8)
                coordinatorKeys = ["--curve-key", cluster.keyPath("coordinator.key"), "--authorized-workers", cluster.keyPath("authorized-workers")]
                cluster.clientSecurity = try MQClientSecurity(serverKey: coordinator.publicKey.z85)
                launch.keyPairs = keyPairs
            }
            cluster.workerLaunch = launch
            try cluster.launch(
                "coordinator", binaries.appendingPathComponent("mq-coordinator"),
                ["--model", modelURL.path, "--workers", "\(workers)", "--listen", cluster.clientEndpoint,
                 "--workers-listen", workerEndpoint] + coordinatorKeys + coordinatorArguments)
            for _ in 0 ..< workers + standbys { _ = try cluster.launchWorker() }
        } catch {
            cluster.stop()
            throw error
        }
        return cluster
    }

    private func keyPath(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Starts the next worker, `worker<index>` (its --worker-id, ipc socket, log and key pair share
    /// the name); returns the name. Fails when a secured cluster has used up its key pairs.
    func launchWorker() throws -> String {
        guard let launch = workerLaunch else { throw ServeBenchError("--start: the cluster was not started") }
        lock.lock()
        let index = nextWorkerIndex
        nextWorkerIndex += 1
        lock.unlock()
        let name = "worker\(index)"
        var keys: [String] = []
        if let keyPairs = launch.keyPairs {
            guard index < keyPairs else {
                throw ServeBenchError("--start: no key pair left for \(name) (\(keyPairs) were made and listed in authorized-workers)")
            }
            keys = ["--curve-key", keyPath("\(name).key"), "--coordinator-key", launch.coordinatorPublicKey]
        }
        try self.launch(
            name, launch.executable,
            ["--coordinator", launch.coordinatorEndpoint, "--listen", "ipc://" + directory.appendingPathComponent("\(name).sock").path,
             "--worker-id", name, "--threads", "\(launch.threads)"] + keys + launch.extraArguments)
        return name
    }

    /// SIGKILLs the worker `name` if it is one of ours and still runs; from then on its exit is
    /// expected. Returns its process id and the time just after the signal was sent.
    func killWorker(_ name: String) -> (pid: Int32, at: ContinuousClock.Instant)? {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped, !expectedExits.contains(name),
              let entry = processes.first(where: { $0.name == name && $0.name != "coordinator" }), entry.process.isRunning
        else { return nil }
        let pid = entry.process.processIdentifier
        expectedExits.insert(name)
        guard kill(pid, SIGKILL) == 0 else { return nil }
        return (pid, ContinuousClock.now)
    }

    /// The names of the workers that run and were not killed on purpose.
    var liveWorkers: Set<String> {
        lock.lock()
        defer { lock.unlock() }
        return Set(processes.filter { $0.name != "coordinator" && !expectedExits.contains($0.name) && $0.process.isRunning }.map(\.name))
    }

    /// Whether the cluster is settled: every layer is served, and the workers the coordinator counts
    /// as alive are exactly the live worker processes (every standby and replacement registered, no
    /// killed worker still taken for alive).
    static func settled(_ health: HealthResponse, liveWorkers: Set<String>) -> Bool {
        let registered = Set(health.workers.filter { $0.state != .lost }.map(\.workerID))
        return health.serving && registered == liveWorkers
    }

    private func launch(_ name: String, _ executable: URL, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let log = directory.appendingPathComponent("\(name).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil), let handle = FileHandle(forWritingAtPath: log.path) else {
            throw ServeBenchError("--start: cannot write \(log.path)")
        }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw ServeBenchError("--start: cannot start \(executable.path): \(error)")
        }
        lock.lock()
        if stopped {
            // A replacement started while `stop` ran: it must not outlive the command.
            lock.unlock()
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw ServeBenchError("--start: the cluster was stopped while \(name) started")
        }
        processes.append((name, process))
        lock.unlock()
        let line = Data("\(name) \(process.processIdentifier)\n".utf8)
        if let pids = FileHandle(forWritingAtPath: directory.appendingPathComponent("pids").path) {
            pids.seekToEndOfFile()
            pids.write(line)
            try? pids.close()
        } else {
            FileManager.default.createFile(atPath: directory.appendingPathComponent("pids").path, contents: line)
        }
    }

    /// Polls Health until the cluster is `settled` (every layer served, every worker registered);
    /// fails when a process exits unexpectedly or time runs out.
    func waitUntilServing(timeoutSeconds: Double) throws {
        let client = try MQClient(endpoint: clientEndpoint, defaultTimeout: ServeBenchDefaults.infoTimeout, security: clientSecurity)
        defer { client.close() }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while true {
            if let exited = exitedProcess() {
                throw ServeBenchError("--start: \(exited) exited before the cluster served; its log: \(directory.path)/\(exited).log\n" + logTail(exited))
            }
            let live = liveWorkers
            let settled = (try? waitForCall { Self.settled(try await client.health(), liveWorkers: live) }) ?? false
            if settled { return }
            if Date() > deadline {
                throw ServeBenchError("--start: the cluster did not serve every layer with every worker registered within \(Int(timeoutSeconds)) s (logs in \(directory.path))")
            }
            Thread.sleep(forTimeInterval: ServeBenchDefaults.startPollInterval.inSeconds)
        }
    }

    private func exitedProcess() -> String? {
        lock.lock()
        defer { lock.unlock() }
        return processes.first { !$0.process.isRunning && !expectedExits.contains($0.name) }?.name
    }

    private func logTail(_ name: String) -> String {
        let text = (try? String(contentsOf: directory.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(15).joined(separator: "\n")
    }

    /// SIGTERM to every process (workers first, so the coordinator sees them go), a grace period,
    /// then SIGKILL for any left. Idempotent; safe to call from a signal handler's queue.
    func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        let running = processes.reversed().filter { $0.process.isRunning }
        for entry in running { kill(entry.process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(ServeBenchDefaults.stopGraceSeconds)
        while running.contains(where: { $0.process.isRunning }), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        for entry in running where entry.process.isRunning { kill(entry.process.processIdentifier, SIGKILL) }
        for entry in running { entry.process.waitUntilExit() }
        ChildProcesses.shared.unregister(self)
    }
}

/// The clusters this process has started, so that SIGINT, SIGTERM and SIGHUP stop them before
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
        for cluster in all { cluster.stop() }
    }
}

/// The folder of the running mq binary (through /proc/self/exe, so that a symlink or a relative
/// argv[0] still finds its sibling executables).
private func executableDirectory() -> URL {
    if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        return URL(fileURLWithPath: path).deletingLastPathComponent()
    }
    return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
}
