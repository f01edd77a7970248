// An mq-gateway (the OpenAI-compatible HTTP server) in front of a local cluster's coordinator,
// started from the same folder of executables with the cluster's credentials: its CURVE public
// key, its API key (in the environment, not on the command line) and the model's tokenizer. Used by
// `mq cluster up` (deploy/local-cluster.sh), `mq bench serve --gateway` and the gateway tests.
import Foundation
import MQTransport

#if canImport(Glibc)
import Glibc
#endif

public struct LocalGatewayOptions: Sendable {
    /// HTTP port on 127.0.0.1; nil: one nobody listens on now.
    public var port: Int?
    /// API keys HTTP clients must present (written to the gateway's --api-keys file); none: open.
    public var apiKeys: [String] = []
    /// More mq-gateway options.
    public var arguments: [String] = []

    public init(port: Int? = nil, apiKeys: [String] = [], arguments: [String] = []) {
        self.port = port
        self.apiKeys = apiKeys
        self.arguments = arguments
    }
}

/// A started gateway: where it listens.
public struct LocalGateway: Sendable {
    public let port: Int
    /// "http://127.0.0.1:PORT"
    public var url: String { "http://127.0.0.1:\(port)" }
}

extension LocalCluster {
    /// Starts `mq-gateway` (process name "gateway", log gateway.log) in front of the coordinator;
    /// see `waitUntilGatewayServing`.
    public func startGateway(_ gateway: LocalGatewayOptions = LocalGatewayOptions()) throws -> LocalGateway {
        guard FileManager.default.isExecutableFile(atPath: options.binaries.appendingPathComponent("mq-gateway").path) else {
            throw LocalClusterError("local cluster: mq-gateway not found in \(options.binaries.path) (build all products: swift build -c release)")
        }
        let port = gateway.port ?? Self.freeTCPPort()
        var arguments = ["--coordinator", clientEndpoint, "--port", "\(port)"]
        let tokenizer = options.model.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: tokenizer.path) { arguments += ["--tokenizer", tokenizer.path] }
        if keys != nil { arguments += ["--server-key", keyPath("coordinator.pub")] }
        if !gateway.apiKeys.isEmpty {
            let file = directory.appendingPathComponent("gateway-api-keys").path
            guard FileManager.default.createFile(atPath: file, contents: Data((gateway.apiKeys.joined(separator: "\n") + "\n").utf8),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw LocalClusterError("local cluster: cannot write \(file)")
            }
            arguments += ["--api-keys", file]
        }
        try launch("gateway", "mq-gateway", arguments + gateway.arguments,
                   environment: options.apiKey.map { ["MQ_API_KEY": $0] } ?? [:])
        return LocalGateway(port: port)
    }

    /// Polls the gateway's GET /health until it answers 200 (every layer served, through the
    /// gateway); fails with the logs when the gateway exits or the timeout passes.
    public func waitUntilGatewayServing(_ gateway: LocalGateway, timeout: Duration = LocalClusterDefaults.startTimeout) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = try? Self.httpStatus(port: gateway.port, path: "/health"), status == 200 { return }
            if let gone = gatewayExit() { throw LocalClusterError("local cluster: \(gone)\n" + logs()) }
            try await Task.sleep(for: LocalClusterDefaults.pollInterval)
        }
        throw LocalClusterError("local cluster: the gateway on port \(gateway.port) did not serve within \(timeout)\n" + logs())
    }

    private func gatewayExit() -> String? {
        let text = (try? String(contentsOf: directory.appendingPathComponent("pids"), encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("gateway ") }),
              let pid = Int32(line.split(separator: " ").last ?? "") else { return nil }
        return kill(pid, 0) == 0 ? nil : "mq-gateway (pid \(pid)) exited"
    }

    /// Whether nothing listens on 127.0.0.1:port now (a bind to it succeeds).
    public static func isTCPPortFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// The status code of a plain HTTP/1.1 GET to 127.0.0.1:port (nil when nothing answers).
    static func httpStatus(port: Int, path: String) throws -> Int? {
        guard let fd = LoopbackSocket.connect(port: port, receiveTimeoutSeconds: 5) else { return nil }
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 12 else { return nil }
        // "HTTP/1.1 200 OK"
        let line = String(decoding: buffer[0..<n], as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        return parts.count >= 2 ? Int(parts[1]) : nil
    }
}
