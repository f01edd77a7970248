// Real processes on loopback: an mq-coordinator and mq-worker processes started from the built
// executables, talking over ipc sockets in a temporary folder, stopped (and killed if need be) at
// the end of each test.
import Foundation
import MQClient
import MQProtocol
import XCTest

final class LocalCluster {
    let dir: URL
    let model: URL
    let clientEndpoint: String
    let workerEndpoint: String
    private(set) var coordinator: Process!
    private(set) var workers: [Process] = []
    private var workerCount = 0

    /// The folder holding the built executables (next to the test bundle).
    static let binaries: URL = {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var d = exe.deletingLastPathComponent()
        for _ in 0..<3 {
            if FileManager.default.isExecutableFile(atPath: d.appendingPathComponent("mq-coordinator").path) { return d }
            d.deleteLastPathComponent()
        }
        // Fallback: the package's default debug build folder.
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        return root.appendingPathComponent(".build/debug")
    }()

    let kvMemory: String
    /// Many clients connecting at once on a loaded 2-core CI machine can take longer than the
    /// library's default 500 ms to connect; the tests are about the server, not that default.
    static let connectTimeout: Duration = .seconds(10)

    init(model: URL, workers: Int, split: String = "even", extraCoordinatorArgs: [String] = [], kvMemory: String = "64M") throws {
        self.kvMemory = kvMemory
        self.model = model
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mq-test-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        clientEndpoint = "ipc://\(dir.path)/clients.sock"
        workerEndpoint = "ipc://\(dir.path)/workers.sock"
        coordinator = try launch("mq-coordinator", ["--model", model.path, "--workers", "\(workers)", "--split", split,
                                                    "--listen", clientEndpoint, "--workers-listen", workerEndpoint,
                                                    "--log-level", "debug"] + extraCoordinatorArgs, log: "coordinator")
        for _ in 0..<workers { try startWorker() }
    }

    @discardableResult
    func startWorker() throws -> Process {
        let i = workerCount
        workerCount += 1
        let p = try launch("mq-worker", ["--coordinator", workerEndpoint, "--listen", "ipc://\(dir.path)/w\(i).sock",
                                         "--worker-id", "w\(i)", "--threads", "1", "--kv-memory", kvMemory], log: "worker\(i)")
        workers.append(p)
        return p
    }

    private func launch(_ name: String, _ args: [String], log: String) throws -> Process {
        let p = Process()
        p.executableURL = Self.binaries.appendingPathComponent(name)
        p.arguments = args
        FileManager.default.createFile(atPath: dir.appendingPathComponent("\(log).log").path, contents: nil)
        let h = try FileHandle(forWritingTo: dir.appendingPathComponent("\(log).log"))
        p.standardOutput = h
        p.standardError = h
        try p.run()
        return p
    }

    func client(timeout: Duration = .seconds(30)) throws -> MQClient {
        try MQClient(endpoint: clientEndpoint, defaultTimeout: timeout, connectTimeout: Self.connectTimeout)
    }

    /// Polls Health until the cluster serves (or fails the test after `timeout`).
    func waitUntilServing(timeout: Duration = .seconds(60), file: StaticString = #filePath, line: UInt = #line) async throws {
        let c = try client(timeout: .seconds(2))
        defer { c.close() }
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if let h = try? await c.health(timeout: .seconds(1)), h.serving { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("cluster not serving after \(timeout); logs:\n\(logs())", file: file, line: line)
        throw MQClientError(code: .unavailable, message: "cluster did not become ready")
    }

    func logs() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { $0.hasSuffix(".log") }.sorted() ?? []
        return files.map { f in
            let text = (try? String(contentsOfFile: dir.appendingPathComponent(f).path, encoding: .utf8)) ?? ""
            return "== \(f)\n" + text.split(separator: "\n").suffix(30).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// SIGTERM everything, then SIGKILL what is left after a grace period; removes the folder.
    func stop() {
        let all = workers + [coordinator].compactMap { $0 }
        for p in all where p.isRunning { kill(p.processIdentifier, SIGTERM) }
        let end = Date().addingTimeInterval(5)
        while all.contains(where: { $0.isRunning }) && Date() < end { usleep(20_000) }
        for p in all where p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        try? FileManager.default.removeItem(at: dir)
    }
}
