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
/// temporary folder (which also holds their logs). `stop` ends them (SIGTERM, then SIGKILL after a
/// grace period); a signal to this process stops them too before it exits.
final class LocalCluster: @unchecked Sendable {
    // @unchecked: `processes` is written only in `start` before the cluster is shared, and read in
    // `stop`, which holds `lock`.
    let directory: URL
    let clientEndpoint: String
    /// The client's CURVE settings when the cluster runs secured.
    private(set) var clientSecurity: MQClientSecurity?
    private var processes: [(name: String, process: Process)] = []
    private let lock = NSLock()
    private var stopped = false

    private init(directory: URL) {
        self.directory = directory
        clientEndpoint = "ipc://" + directory.appendingPathComponent("clients.sock").path
    }

    static func start(model: String, workers: Int, workerThreads: Int, coordinatorArguments: [String], secured: Bool) throws -> LocalCluster {
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
            // Secured: a key pair per process in the run folder (mode 0700 from mkdtemp).
            func keyPath(_ name: String) -> String { cluster.directory.appendingPathComponent(name).path }
            var coordinatorKeys: [String] = [], workerKeys: [[String]] = Array(repeating: [], count: workers)
            if secured {
                let coordinator = try CurveKeyPair.generate()
                try coordinator.write(base: keyPath("coordinator"))
                var listed: [String] = []
                for index in 0 ..< workers {
                    let pair = try CurveKeyPair.generate()
                    try pair.write(base: keyPath("worker\(index)"))
                    listed.append(pair.publicKey.z85)
                    workerKeys[index] = ["--curve-key", keyPath("worker\(index).key"), "--coordinator-key", keyPath("coordinator.pub")]
                }
                try listed.joined(separator: "\n").write(toFile: keyPath("authorized-workers"), atomically: true, encoding: .utf8)
                coordinatorKeys = ["--curve-key", keyPath("coordinator.key"), "--authorized-workers", keyPath("authorized-workers")]
                cluster.clientSecurity = try MQClientSecurity(serverKey: coordinator.publicKey.z85)
            }
            try cluster.launch(
                "coordinator", binaries.appendingPathComponent("mq-coordinator"),
                ["--model", modelURL.path, "--workers", "\(workers)", "--listen", cluster.clientEndpoint,
                 "--workers-listen", workerEndpoint] + coordinatorKeys + coordinatorArguments)
            for index in 0 ..< workers {
                try cluster.launch(
                    "worker\(index)", binaries.appendingPathComponent("mq-worker"),
                    ["--coordinator", workerEndpoint, "--listen", "ipc://" + cluster.directory.appendingPathComponent("worker\(index).sock").path,
                     "--worker-id", "worker\(index)", "--threads", "\(workerThreads)"] + workerKeys[index])
            }
        } catch {
            cluster.stop()
            throw error
        }
        return cluster
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

    /// Polls Health until every layer is served; fails when a process exits or time runs out.
    func waitUntilServing(timeoutSeconds: Double) throws {
        let client = try MQClient(endpoint: clientEndpoint, defaultTimeout: ServeBenchDefaults.infoTimeout, security: clientSecurity)
        defer { client.close() }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while true {
            if let exited = exitedProcess() {
                throw ServeBenchError("--start: \(exited) exited before the cluster served; its log: \(directory.path)/\(exited).log\n" + logTail(exited))
            }
            let serving = (try? waitForCall { try await client.health().serving }) ?? false
            if serving { return }
            if Date() > deadline {
                throw ServeBenchError("--start: the cluster did not serve every layer within \(Int(timeoutSeconds)) s (logs in \(directory.path))")
            }
            Thread.sleep(forTimeInterval: ServeBenchDefaults.startPollInterval.seconds)
        }
    }

    private func exitedProcess() -> String? {
        lock.lock()
        defer { lock.unlock() }
        return processes.first { !$0.process.isRunning }?.name
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
