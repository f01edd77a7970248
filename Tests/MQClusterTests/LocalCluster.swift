// Real processes on loopback: an mq-coordinator and mq-worker processes started from the built
// executables, talking over ipc sockets in a temporary folder, stopped (and killed if need be) at
// the end of each test.
import Foundation
import MQClient
import MQProtocol
import MQTransport
import XCTest

final class LocalCluster {
    let dir: URL
    let model: URL
    let clientEndpoint: String
    let workerEndpoint: String
    private(set) var coordinator: Process!
    private(set) var workers: [Process] = []
    private var workerCount = 0
    /// CURVE keys when the cluster runs secured: the coordinator's, one per worker (listed in
    /// the coordinator's --authorized-workers), and the API key every call must carry.
    struct Keys {
        let coordinator: CurveKeyPair
        let workers: [CurveKeyPair]
        let apiKey: String
    }
    let keys: Keys?

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

    /// `secured`: CURVE on every plane and an API key (keys made here); `tcp`: loopback TCP
    /// endpoints instead of ipc ones (what a capture of the wire can see).
    init(model: URL, workers: Int, split: String = "even", extraCoordinatorArgs: [String] = [], kvMemory: String = "64M",
         secured: Bool = false, tcp: Bool = false) throws {
        self.kvMemory = kvMemory
        self.model = model
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mq-test-\(UInt32.random(in: 0...UInt32.max))")
        // 0700: the executables refuse unsecured ipc sockets in a folder others can enter.
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if tcp {
            clientEndpoint = "tcp://127.0.0.1:\(Self.freePort())"
            workerEndpoint = "tcp://127.0.0.1:\(Self.freePort())"
        } else {
            clientEndpoint = "ipc://\(dir.path)/clients.sock"
            workerEndpoint = "ipc://\(dir.path)/workers.sock"
        }
        var securityArgs: [String] = []
        if secured {
            let keys = Keys(coordinator: try CurveKeyPair.generate(), workers: try (0..<workers + 2).map { _ in try CurveKeyPair.generate() },
                            apiKey: "test-api-key-\(UInt64.random(in: 0...UInt64.max))")
            try keys.coordinator.write(base: dir.appendingPathComponent("coordinator").path)
            for (i, k) in keys.workers.enumerated() { try k.write(base: dir.appendingPathComponent("w\(i)").path) }
            try keys.workers.map(\.publicKey.z85).joined(separator: "\n").write(to: dir.appendingPathComponent("authorized-workers"), atomically: true, encoding: .utf8)
            try keys.apiKey.write(to: dir.appendingPathComponent("api-keys"), atomically: true, encoding: .utf8)
            securityArgs = ["--curve-key", dir.appendingPathComponent("coordinator.key").path,
                            "--authorized-workers", dir.appendingPathComponent("authorized-workers").path,
                            "--api-keys", dir.appendingPathComponent("api-keys").path]
            self.keys = keys
        } else {
            self.keys = nil
        }
        coordinator = try launch("mq-coordinator", ["--model", model.path, "--workers", "\(workers)", "--split", split,
                                                    "--listen", clientEndpoint, "--workers-listen", workerEndpoint,
                                                    "--log-level", "debug"] + securityArgs + extraCoordinatorArgs, log: "coordinator")
        for _ in 0..<workers { try startWorker() }
    }

    /// A TCP port nobody listens on now (the OS's choice for a socket bound to port 0).
    static func freePort() -> Int {
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

    @discardableResult
    func startWorker(extraArgs: [String] = []) throws -> Process {
        let i = workerCount
        workerCount += 1
        var args = ["--coordinator", workerEndpoint, "--listen", workerEndpoint.hasPrefix("tcp") ? "tcp://127.0.0.1:*" : "ipc://\(dir.path)/w\(i).sock",
                    "--worker-id", "w\(i)", "--threads", "1", "--kv-memory", kvMemory]
        if keys != nil {
            args += ["--curve-key", dir.appendingPathComponent("w\(i).key").path,
                     "--coordinator-key", dir.appendingPathComponent("coordinator.pub").path]
        }
        let p = try launch("mq-worker", args + extraArgs, log: "worker\(i)")
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

    /// A client with the cluster's credentials (when secured).
    func client(timeout: Duration = .seconds(30)) throws -> MQClient {
        try MQClient(endpoint: clientEndpoint, defaultTimeout: timeout, connectTimeout: Self.connectTimeout,
                     security: try keys.map { try MQClientSecurity(serverKey: $0.coordinator.publicKey.z85) }, apiKey: keys?.apiKey)
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
