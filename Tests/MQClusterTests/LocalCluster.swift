// Real processes on loopback for the cluster tests: the one local cluster launcher (MQLocalCluster)
// with the tests' settings (the debug build's executables, ipc endpoints unless `tcp`, insecure
// unless `secured`, one thread and a small KV cache per worker, debug logs), stopped and its folder
// removed at the end of each test.
import Foundation
import MQClient
import MQLocalCluster
import XCTest

extension LocalCluster {
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

    /// Many clients connecting at once on a loaded 2-core CI machine can take longer than the
    /// library's default 500 ms to connect; the tests are about the server, not that default.
    static let connectTimeout: Duration = .seconds(10)

    /// `secured`: CURVE on every plane (with two spare worker key pairs, listed but unused) and an
    /// API key; `tcp`: loopback TCP endpoints instead of ipc ones (what a capture of the wire can see).
    convenience init(model: URL, workers: Int, split: String = "even", extraCoordinatorArgs: [String] = [], kvMemory: String = "64M",
                     secured: Bool = false, tcp: Bool = false, extraWorkerArgs: [String] = []) throws {
        var options = LocalClusterOptions(model: model, workers: workers)
        options.binaries = Self.binaries
        options.endpoints = tcp ? .tcp(clientPort: nil) : .ipc
        options.secured = secured
        options.spareKeys = secured ? 2 : 0
        options.apiKey = secured ? "test-api-key-\(UInt64.random(in: 0...UInt64.max))" : nil
        options.coordinatorArguments = ["--split", split, "--log-level", "debug"] + extraCoordinatorArgs
        options.workerArguments = ["--kv-memory", kvMemory] + extraWorkerArgs
        options.folderPrefix = "mq-test"
        options.removeFolderOnStop = true
        try self.init(options)
    }

    /// A client with the cluster's credentials (when secured).
    func client(timeout: Duration = .seconds(30)) throws -> MQClient {
        try client(timeout: timeout, connectTimeout: Self.connectTimeout)
    }

    /// Starts one more worker (a standby once every stage is served).
    @discardableResult
    func startWorker(extraArgs: [String] = []) throws -> Process {
        let name = try launchWorker(extraArguments: extraArgs)
        return workers[Int(name.dropFirst("worker".count))!]
    }
}
