// mq-gateway: an OpenAI-compatible HTTP server in front of one or more mq coordinators (MQGateway).
import ArgumentParser
import Foundation
import Logging
import MQClient
import MQCommandLine
import MQGateway
import MQTokenizer
import MQTransport

@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mq-gateway",
        abstract: "Serve the OpenAI HTTP API (/v1/completions, /v1/models, /health, /metrics) over mq coordinators.",
        discussion: """
        Calls go to the coordinators through MQClient (round-robin; a coordinator that is unavailable is \
        skipped), so gateways scale horizontally. Every coordinator must serve the same model. With \
        --api-keys, every /v1 request needs "Authorization: Bearer <key>". --tokenizer (the model's \
        tokenizer.json) lets the gateway show logprobs tokens as text and echo token id prompts.
        """)

    @Option(name: .customLong("coordinator"), help: "A coordinator's client endpoint, e.g. tcp://127.0.0.1:5555 (repeatable).")
    var coordinators: [String] = []
    @Option(help: "HTTP listen address (a non-loopback address needs --api-keys or --insecure).") var host = "127.0.0.1"
    @Option(help: "HTTP port (0: any free port; the bound port is printed).") var port = GatewayDefaults.port
    @Option(name: .customLong("api-keys"), help: "File of API keys (one a line, # comments) HTTP clients must present as Bearer tokens.")
    var apiKeys: String?
    @Option(help: "The model's tokenizer.json, or its folder: logprobs as token text, echo of token id prompts.")
    var tokenizer: String?
    @Option(name: .customLong("served-model-name"), help: "The model name requests must name (default: the coordinator's).")
    var servedModelName: String?
    @Option(help: "Deadline of one completion in seconds (the HTTP answer is 504 when it passes).")
    var timeout: Double = Double(GatewayDefaults.callTimeout.components.seconds)
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted (413 beyond).")
    var maxBodyBytes = GatewayDefaults.maxBodyBytes
    @Option(name: .customLong("max-concurrent"), help: "Completions served at once (429 beyond).")
    var maxConcurrent = GatewayDefaults.maxConcurrentCompletions
    @Option(name: .customLong("server-key"), help: "The coordinators' CURVE public key file (coordinator.pub).")
    var serverKey: String?
    @Option(name: .customLong("client-key"), help: "This gateway's CURVE secret key file, for coordinators with --authorized-clients.")
    var clientKey: String?
    @Option(name: .customLong("api-key"), help: "API key the gateway presents to the coordinators (default: $MQ_API_KEY).")
    var coordinatorAPIKey: String?
    @Flag(help: "Allow a network-reachable coordinator without --server-key, or an HTTP address other machines reach without --api-keys.")
    var insecure = false
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    func validate() throws {
        guard !coordinators.isEmpty else { throw ValidationError("give at least one --coordinator tcp://HOST:PORT") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard timeout.isFinite, timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout must be seconds in (0, 86400]") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        guard maxConcurrent >= 1 else { throw ValidationError("--max-concurrent must be at least 1") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level: unknown level \"\(logLevel)\"") }
        if clientKey != nil && serverKey == nil { throw ValidationError("--client-key needs --server-key") }
        _ = try security()
        _ = try keys()
        _ = try loadTokenizer()
        try SecureDefaults.check(binds: [], connects: coordinators.map { ("--coordinator", $0) }, secured: serverKey != nil,
                                 insecure: insecure, keyFlags: "--server-key coordinator.pub")
        if apiKeys == nil, !insecure, EndpointExposure(endpoint: "tcp://\(host):\(port)").insecureUseRefusal(binding: true) != nil {
            throw ValidationError("--host \(host): other machines could call the gateway, and it has no --api-keys. "
                                  + "Give it API keys (--api-keys FILE), or pass --insecure to serve anyone.")
        }
    }

    func security() throws -> MQClientSecurity? {
        guard let serverKey else { return nil }
        return try loadKey("--server-key/--client-key") { try MQClientSecurity.load(serverKeyFile: serverKey, clientKeyFile: clientKey) }
    }

    func keys() throws -> APIKeys? {
        try apiKeys.map { path in try loadKey("--api-keys") { try APIKeys.load(file: path) } }
    }

    func loadTokenizer() throws -> Tokenizer? {
        guard var path = tokenizer else { return nil }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            path += "/tokenizer.json"
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--tokenizer: cannot read \(path)") }
        do { return try Tokenizer(data: data, source: path) } catch { throw ValidationError("--tokenizer \(path): \(error)") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "mq-gateway")
        let security = try security()
        let apiKey = coordinatorAPIKey ?? ProcessInfo.processInfo.environment["MQ_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let callTimeout = Duration.milliseconds(Int64((timeout * 1000).rounded(.up)))
        let clients = try coordinators.map { endpoint in
            try MQClient(endpoint: endpoint, defaultTimeout: callTimeout, security: security, apiKey: apiKey,
                         log: { line in logger.warning("\(endpoint): \(line)") })
        }
        let backends = Backends(clients: clients, servedModelName: servedModelName)
        defer { backends.close() }
        var configuration = GatewayConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.apiKeys = try keys()
        configuration.maxBodyBytes = maxBodyBytes
        configuration.maxConcurrentCompletions = maxConcurrent
        configuration.callTimeout = callTimeout
        if insecure && configuration.apiKeys == nil { logger.warning("serving HTTP without API keys (--insecure)") }
        let gateway = Gateway(configuration: configuration, backends: backends, text: TokenText(tokenizer: try loadTokenizer()))
        let host = self.host
        try await gateway.run(logger: logger) { bound in
            FileHandle.standardOutput.write(Data("mq-gateway listening: http://\(host):\(bound)\n".utf8))
        }
    }
}
