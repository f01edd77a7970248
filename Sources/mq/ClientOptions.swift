// The options the client commands share (ClientCommands.swift): where the coordinator is and how
// long a call may take, the credentials (server key, client key, API key; secure by default),
// and how a generation request is built from the command line.
import ArgumentParser
import Foundation
import MQClient
import MQCommandLine
import MQEngine

// MARK: Options

/// Where the coordinator listens and how long a call may take.
struct ServerOptions: ParsableArguments {
    @Option(help: "The coordinator's client endpoint, e.g. tcp://127.0.0.1:5555 or ipc:///tmp/mq.sock.")
    var server: String

    @Option(help: "Deadline of the call in seconds: a coordinator that is down fails at once (UNAVAILABLE), one that does not answer by then fails with DEADLINE_EXCEEDED.")
    var timeout: Double = ClientCommandDefaults.timeoutSeconds

    @OptionGroup var credentials: ClientCredentials

    func validate() throws {
        try ClientCommandDefaults.validate(timeout: timeout)
        try credentials.check(server: server)
    }

    func connect() throws -> MQClient {
        try credentials.client(server, timeout: ClientCommandDefaults.duration(seconds: timeout))
    }
}

/// How a client command authenticates: the coordinator's CURVE key, an optional client key, an
/// API key. Secure by default: a network-reachable --server needs --server-key (or --insecure).
struct ClientCredentials: ParsableArguments {
    @Option(name: .customLong("server-key"), help: "The coordinator's CURVE public key file (coordinator.pub): encrypts the connection and authenticates the server.")
    var serverKey: String?

    @Option(name: .customLong("client-key"), help: "This client's CURVE secret key file, for a coordinator that lists its clients (--authorized-clients). Default: a fresh key per call.")
    var clientKey: String?

    @Option(name: .customLong("api-key"), help: "API key sent with every call (default: $MQ_API_KEY).")
    var apiKey: String?

    @Flag(help: "Allow a network-reachable --server without --server-key (unencrypted).")
    var insecure = false

    func check(server: String) throws {
        if clientKey != nil && serverKey == nil { throw ValidationError("--client-key needs --server-key") }
        _ = try security()
        try SecureDefaults.check(binds: [], connects: [("--server", server)], secured: serverKey != nil, insecure: insecure,
                                 keyFlags: "--server-key coordinator.pub")
    }

    func security() throws -> MQClientSecurity? {
        guard let serverKey else { return nil }
        return try loadKey("--server-key/--client-key") { try MQClientSecurity.load(serverKeyFile: serverKey, clientKeyFile: clientKey) }
    }

    /// --api-key, else $MQ_API_KEY, else none.
    var resolvedAPIKey: String? {
        if let apiKey { return apiKey }
        let env = ProcessInfo.processInfo.environment["MQ_API_KEY"] ?? ""
        return env.isEmpty ? nil : env
    }

    func client(_ endpoint: String, timeout: Duration) throws -> MQClient {
        try MQClient(endpoint: endpoint, defaultTimeout: timeout, security: try security(), apiKey: resolvedAPIKey)
    }
}

/// `--server` for a command that otherwise works locally (`mq tokenize`): with it, the command
/// asks the coordinator instead of loading the model.
struct RemoteServerOption: ParsableArguments {
    @Option(help: "Ask the coordinator at this endpoint (tcp://HOST:PORT or ipc://PATH) instead of loading the model.")
    var server: String?

    @Option(help: "With --server: deadline of the call in seconds.")
    var timeout: Double = ClientCommandDefaults.timeoutSeconds

    @OptionGroup var credentials: ClientCredentials

    func validate() throws {
        try ClientCommandDefaults.validate(timeout: timeout)
        if let server { try credentials.check(server: server) }
    }

    /// The server options, when --server was given.
    var remote: ServerOptions? {
        guard let server else { return nil }
        var options = ServerOptions()
        options.server = server
        options.timeout = timeout
        options.credentials = credentials
        return options
    }
}

enum ClientCommandDefaults {
    /// Default --timeout, seconds (the client library's default deadline).
    static let timeoutSeconds: Double = 60
    /// Longest --timeout accepted: a day, far beyond any server's maximum (which clamps anyway).
    static let maxTimeoutSeconds: Double = 86_400
    /// `mq health` exit status when the coordinator answers but not every layer is served (a failed
    /// call exits with 1), so that scripts can tell "not ready yet" from "not reachable".
    static let notServingExitCode: Int32 = 2

    static func validate(timeout: Double) throws {
        guard timeout.isFinite, timeout > 0, timeout <= maxTimeoutSeconds else {
            throw ValidationError("--timeout must be a number of seconds in (0, \(Int(maxTimeoutSeconds))], got \(timeout)")
        }
    }

    static func duration(seconds: Double) -> Duration {
        .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }
}

/// The prompt and sampling flags of `mq generate` and `mq stream`, spelled as in `mq run`.
struct RemoteGenerationOptions: ParsableArguments {
    @Option(help: "Prompt text (tokenized by the coordinator).") var prompt: String?
    @Option(name: .customLong("prompt-ids"), help: "Prompt as token ids, e.g. 1,2,3.") var promptIds: String?
    @Option(name: .customLong("prompt-file"), help: "Prompt text read from this file (- for standard input), e.g. a whole source file.")
    var promptFile: String?
    @Option(name: .customLong("max-tokens"), help: "Maximum new tokens.") var maxTokens: Int = 64
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .customLong("stop"), help: "Stop when this text appears (repeatable).") var stops: [String] = []
    @OptionGroup var scoring: PromptOptions

    func validate() throws {
        if [prompt != nil, promptIds != nil, promptFile != nil].filter({ $0 }).count != 1 {
            throw ValidationError("give exactly one of --prompt, --prompt-ids and --prompt-file")
        }
        guard maxTokens >= 1, maxTokens <= Int(UInt32.max) else { throw ValidationError("--max-tokens must be in 1...\(UInt32.max)") }
        _ = try sampling.parameters(stopStrings: stops)
    }

    /// The request, with every sampling field set explicitly (seed included, 0 by default as in
    /// `mq run`), so that the cluster computes what `mq run` computes with the same flags.
    func request() throws -> GenerateRequest {
        let prompt: Prompt
        if let promptIds {
            prompt = .tokenIDs(try parseIds(promptIds, flag: "--prompt-ids").map { id in
                guard let value = UInt32(exactly: id) else {
                    throw ValidationError("--prompt-ids: \(id) is not a token id (0...\(UInt32.max))")
                }
                return value
            })
        } else if let promptFile {
            let data = promptFile == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: promptFile)
            guard let data else { throw ValidationError("--prompt-file: cannot read \(promptFile)") }
            guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("--prompt-file \(promptFile): not UTF-8 text") }
            prompt = .text(text)
        } else {
            prompt = .text(self.prompt ?? "")
        }
        var request = try generateRequest(prompt: prompt, maxTokens: maxTokens, sampling: sampling, stops: stops)
        request.suffix = scoring.suffix
        request.promptLogprobs = scoring.promptLogprobs
        return request
    }
}

/// Fill-in-the-middle and prompt scoring, shared by `mq run`, `mq generate` and `mq stream`.
struct PromptOptions: ParsableArguments {
    @Option(help: "Fill in the middle: the text after the gap (the prompt is the text before it); needs a model with FIM tokens.")
    var suffix: String?
    @Flag(name: .customLong("prompt-logprobs"),
          help: "Also report the log probability of every prompt token after the first (with --top-logprobs, its alternatives too).")
    var promptLogprobs = false
}

/// A request with every sampling field set explicitly (seed included, 0 by default as in `mq run`),
/// so that the cluster computes what `mq run` computes with the same flags.
func generateRequest(prompt: Prompt, maxTokens: Int, sampling options: SamplingOptions, stops: [String]) throws -> GenerateRequest {
    let checked = try options.parameters(stopStrings: stops)
    let sampling = SamplingParams(
        temperature: checked.temperature, topK: UInt32(clamping: checked.topK), topP: checked.topP,
        seed: checked.seed, repetitionPenalty: checked.repetitionPenalty, stopStrings: stops,
        topLogprobs: UInt32(clamping: checked.topLogprobs))
    return GenerateRequest(prompt: prompt, maxNewTokens: UInt32(maxTokens), sampling: sampling)
}
