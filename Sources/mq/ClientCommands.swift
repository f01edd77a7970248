// `mq generate | stream | info | health --server ADDR`: thin commands that call a running
// mq-coordinator through MQClient. `mq generate --json` prints exactly what `mq run --json` prints
// for the same result (the response becomes MQEngine's GenerationResult and uses its jsonLine).
// Failures print "mq: error: STATUS_NAME: message" and exit non-zero. Remote tokenization is
// `remoteTokenize`, meant for `mq tokenize --server` (see RemoteServerOption).
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
        return try generateRequest(prompt: prompt, maxTokens: maxTokens, sampling: sampling, stops: stops)
    }
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

// MARK: Commands

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text on a running cluster (unary Generate call).",
        discussion: "With --json the output is exactly what `mq run --json` prints for the same request.")

    @OptionGroup var server: ServerOptions
    @OptionGroup var generation: RemoteGenerationOptions
    @Flag(help: "Print one JSON object: token_ids, logprobs, text, finish_reason (as `mq run --json`).") var json = false

    func run() throws {
        try reportingErrors {
            let request = try generation.request()
            let client = try server.connect()
            defer { client.close() }
            let response = try waitForCall { try await client.generate(request) }
            writeStdout(json ? try response.generationResult().jsonLine() + "\n" : response.text + "\n")
        }
    }
}

struct StreamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Stream text from a running cluster as it is generated (GenerateStream call).",
        discussion: """
            Prints text as it arrives. With --json prints one JSON object per chunk (token_ids, logprobs, \
            text_delta; the last one adds finish_reason, prompt_tokens, completion_tokens), then the whole \
            result as `mq run --json` prints it.
            """)

    @OptionGroup var server: ServerOptions
    @OptionGroup var generation: RemoteGenerationOptions
    @Flag(help: "Print a JSON line per chunk, then the whole result as `mq run --json` does.") var json = false

    func run() throws {
        try reportingErrors {
            let request = try generation.request()
            let client = try server.connect()
            defer { client.close() }
            try stream(request, from: client, json: json)
        }
    }
}

/// Streams `request`'s text to standard output as it arrives (with `json`, a JSON line per chunk,
/// then the whole result as `mq run --json` prints it); `mq stream` and `mq cluster up --prompt`.
func stream(_ request: GenerateRequest, from client: MQClient, json: Bool) throws {
    try waitForCall {
        var accumulator = GenerateStreamAccumulator()
        var printedText = false
        do {
            for try await chunk in client.generateStream(request) {
                try accumulator.add(chunk)
                if json {
                    writeStdout(chunk.jsonLine() + "\n")
                } else if !chunk.textDelta.isEmpty {
                    writeStdout(chunk.textDelta)
                    printedText = true
                }
            }
        } catch {
            if printedText { writeStdout("\n") }   // end the partial line before the error
            throw error
        }
        writeStdout(json ? try accumulator.response().generationResult().jsonLine() + "\n" : "\n")
    }
}

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a running cluster: model, pipeline stages and their workers, KV capacity, limits.")

    @OptionGroup var server: ServerOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try reportingErrors {
            let client = try server.connect()
            defer { client.close() }
            let info = try waitForCall { try await client.info() }
            writeStdout(json ? jsonLine(info.jsonObject) + "\n" : info.report())
        }
    }
}

struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Whether a running cluster serves every layer.",
        discussion: """
            Exits with 0 when serving, \(ClientCommandDefaults.notServingExitCode) when the coordinator answers but \
            layers are missing, 1 when the call fails (e.g. UNAVAILABLE: no coordinator). To wait for a cluster:
              until mq health --server tcp://127.0.0.1:5555 --timeout 1; do sleep 0.5; done
            """)

    @OptionGroup var server: ServerOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try reportingErrors {
            let client = try server.connect()
            defer { client.close() }
            let health = try waitForCall { try await client.health() }
            writeStdout(json ? jsonLine(health.jsonObject) + "\n" : health.report())
            if !health.serving { throw ExitCode(ClientCommandDefaults.notServingExitCode) }
        }
    }
}

/// `mq tokenize --server`: the coordinator's tokenizer, printed as `mq tokenize --model` prints.
func remoteTokenize(_ server: ServerOptions, text: String, json: Bool) throws {
    try reportingErrors {
        let client = try server.connect()
        defer { client.close() }
        let response = try waitForCall { try await client.tokenize(TokenizeRequest(text: text)) }
        if json {
            writeStdout("{\"ids\": [\(response.tokenIDs.map(String.init).joined(separator: ", "))]}\n")
        } else {
            for (index, id) in response.tokenIDs.enumerated() {
                writeStdout("\(id)\t\(index < response.tokens.count ? response.tokens[index] : "?")\n")
            }
        }
    }
}

// MARK: Running async calls from synchronous commands

/// Runs an MQClient call from a synchronous command and waits for it. The root command is
/// synchronous, so its subcommands cannot be `async`; the call runs on the concurrency pool while
/// this (main) thread waits, which blocks no pool thread. The client's own deadline bounds the wait.
func waitForCall<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = CallOutcome<T>()
    Task {
        do { outcome.set(.success(try await body())) } catch { outcome.set(.failure(error)) }
    }
    return try outcome.wait().get()
}

/// One result handed from the task to the waiting thread.
private final class CallOutcome<T: Sendable>: @unchecked Sendable {
    // @unchecked: `result` is only touched while holding `condition`.
    private let condition = NSCondition()
    private var result: Result<T, any Error>?

    func set(_ value: Result<T, any Error>) {
        condition.lock()
        result = value
        condition.broadcast()
        condition.unlock()
    }

    func wait() -> Result<T, any Error> {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let result { return result }
            condition.wait()
        }
    }
}

// MARK: Output

/// A reply this mq cannot present (from a newer server).
struct UnsupportedReply: Error, CustomStringConvertible {
    var description: String
}

extension GenerateResponse {
    /// The `mq run --json` value of this response.
    func generationResult() throws -> GenerationResult {
        let reason: MQEngine.FinishReason
        switch finishReason {
        case .length: reason = .length
        case .eos: reason = .eos
        case .stop: reason = .stop
        case let .unrecognized(value):
            throw UnsupportedReply(description: "the server reported finish reason \(value), which this mq does not know")
        }
        let top = topLogprobs.isEmpty ? nil : topLogprobs.map { $0.map { GenerationResult.TopLogprob(id: Int($0.tokenID), logprob: $0.logprob) } }
        return GenerationResult(tokenIds: tokenIDs.map(Int.init), logprobs: logprobs, text: text, finishReason: reason, topLogprobs: top)
    }
}

extension GenerateStreamChunk {
    /// One `mq stream --json` line; keys in a fixed order, values encoded as `mq run --json` does.
    func jsonLine() -> String {
        var line = "{\"token_ids\": \(jsonValue(tokenIDs)), \"logprobs\": \(jsonValue(logprobs)), \"text_delta\": \(jsonValue(textDelta))"
        if let finishReason {
            line += ", \"finish_reason\": \(jsonValue(finishReason.jsonName)), \"prompt_tokens\": \(promptTokens), \"completion_tokens\": \(completionTokens)"
        }
        return line + "}"
    }
}

/// A value encoded with the settings of `GenerationResult.jsonLine` (no escaped slashes).
private func jsonValue<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
}

/// A JSON object with sorted keys on one line.
private func jsonLine(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}

private func layerRangeObject(_ range: LayerRange) -> [String: Any] {
    ["first_layer": range.first, "end_layer": range.end]
}

/// "1.5 MiB"
private func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes), unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
}

/// Names of MQProtocol's attention kinds (spelled without the type name, which MQModel shares).
private struct AttentionKindName {
    let name: String
    let wire: String
}

extension ModelInfo {
    fileprivate var attention: AttentionKindName {
        switch attentionKind {
        case .multiQuery: return AttentionKindName(name: "multi-query", wire: "multi_query")
        case .groupedQuery: return AttentionKindName(name: "grouped-query", wire: "grouped_query")
        case .multiHead: return AttentionKindName(name: "multi-head", wire: "multi_head")
        case let .unrecognized(value): return AttentionKindName(name: "attention kind \(value)", wire: "unrecognized(\(value))")
        }
    }

    /// KV-cache bytes one token takes in `layers` layers (kv_bytes_per_token covers all layers).
    fileprivate func kvBytesPerToken(layers: Int) -> UInt64 {
        numLayers == 0 ? 0 : kvBytesPerToken / UInt64(numLayers) * UInt64(layers)
    }
}

extension InfoResponse {
    /// Tokens of KV cache the pipeline can hold (total, free): each token needs room on every
    /// stage, so the stage with the least room decides. nil without stages or capacities.
    fileprivate var tokenCapacity: (total: UInt64, free: UInt64)? {
        var total: UInt64?, free: UInt64?
        for stage in stages {
            let perToken = model.kvBytesPerToken(layers: stage.layers.count)
            guard perToken > 0 else { continue }
            let stageTotal = stage.kvCapacityBytes / perToken
            let stageFree = stage.kvCapacityBytes > stage.kvUsedBytes ? (stage.kvCapacityBytes - stage.kvUsedBytes) / perToken : 0
            total = min(total ?? .max, stageTotal)
            free = min(free ?? .max, stageFree)
        }
        guard let total, let free else { return nil }
        return (total, free)
    }

    /// Whether the server fills StageInfo's busy_fraction, steps and busy_ns (protocol 1.1 on);
    /// from an older one they read 0, which must not be printed as "idle".
    var reportsStageLoad: Bool { version.major > 1 || (version.major == 1 && version.minor >= 1) }

    func report() -> String {
        let m = model
        var lines = [
            "model:      \(m.name) (\(m.architecture))",
            "attention:  \(m.attention.name): \(m.numHeads) query heads, \(m.kvHeads) KV head\(m.kvHeads == 1 ? "" : "s"), head size \(m.headDim)",
            "shape:      \(m.numLayers) layers, hidden size \(m.hiddenSize), vocabulary \(m.vocabSize), context \(m.maxPositions) tokens, EOS id \(m.eosTokenID)",
            "KV cache:   \(m.kvBytesPerToken) bytes per token (all layers)",
        ]
        if let capacity = tokenCapacity {
            lines.append("capacity:   \(capacity.total) tokens of KV cache, \(capacity.free) free (the tightest stage decides)")
        } else {
            lines.append("capacity:   unknown (no stage reports KV capacity)")
        }
        lines.append("protocol:   \(version)")
        lines.append("stages:     \(stages.isEmpty ? "none assigned" : "\(stages.count)")")
        for stage in stages {
            lines.append("  stage \(stage.stageIndex): layers \(stage.layers), worker \(stage.workerID) at \(stage.dataEndpoint), "
                + "weights \(formatBytes(stage.residentBytes)), KV \(formatBytes(stage.kvUsedBytes)) used of \(formatBytes(stage.kvCapacityBytes))"
                + (reportsStageLoad ? ", busy \(String(format: "%.1f", stage.busyFraction * 100))% over \(stage.steps) steps" : ""))
        }
        let l = limits
        lines.append("limits:     prompt up to \(l.maxPromptTokens) tokens, up to \(l.maxNewTokens) new tokens (default \(l.defaultMaxNewTokens)), "
            + "timeout \(l.defaultTimeoutMilliseconds) ms by default, at most \(l.maxTimeoutMilliseconds) ms")
        return lines.joined(separator: "\n") + "\n"
    }

    fileprivate var jsonObject: [String: Any] {
        let m = model
        var object: [String: Any] = [
            "version": ["major": version.major, "minor": version.minor],
            "model": [
                "name": m.name, "architecture": m.architecture, "attention_kind": m.attention.wire,
                "num_layers": m.numLayers, "hidden_size": m.hiddenSize, "num_heads": m.numHeads, "kv_heads": m.kvHeads,
                "head_dim": m.headDim, "vocab_size": m.vocabSize, "max_positions": m.maxPositions,
                "kv_bytes_per_token": m.kvBytesPerToken, "eos_token_id": m.eosTokenID,
            ] as [String: Any],
            "stages": stages.map { stage -> [String: Any] in
                [
                    "stage_index": stage.stageIndex, "worker_id": stage.workerID, "data_endpoint": stage.dataEndpoint,
                    "layers": layerRangeObject(stage.layers), "resident_bytes": stage.residentBytes,
                    "kv_capacity_bytes": stage.kvCapacityBytes, "kv_used_bytes": stage.kvUsedBytes,
                    "busy_fraction": stage.busyFraction, "steps": stage.steps, "busy_ns": stage.busyNanoseconds,
                ]
            },
            "limits": [
                "max_prompt_tokens": limits.maxPromptTokens, "default_max_new_tokens": limits.defaultMaxNewTokens,
                "max_new_tokens": limits.maxNewTokens, "default_timeout_ms": limits.defaultTimeoutMilliseconds,
                "max_timeout_ms": limits.maxTimeoutMilliseconds,
            ] as [String: Any],
        ]
        if let capacity = tokenCapacity {
            object["kv_capacity_tokens"] = capacity.total
            object["kv_free_tokens"] = capacity.free
        }
        return object
    }
}

extension WorkerState {
    fileprivate var name: String {
        switch self {
        case .registered: return "REGISTERED"
        case .loading: return "LOADING"
        case .ready: return "READY"
        case .lost: return "LOST"
        case let .unrecognized(value): return "STATE_\(value)"
        }
    }
}

extension HealthResponse {
    fileprivate func report() -> String {
        var lines = [
            "serving:        \(serving ? "yes" : "no")",
            "missing layers: \(missingLayers.isEmpty ? "none" : missingLayers.map(\.description).joined(separator: ", ")) (of \(totalLayers))",
            "calls:          \(inFlightCalls) in flight",
            "workers:        \(workers.isEmpty ? "none registered" : "\(workers.count)")",
        ]
        for w in workers {
            let placement = w.layers.map { "stage \(w.stageIndex), layers \($0)" } ?? "no layers (spare)"
            lines.append("  \(w.workerID): \(w.state.name), \(placement), data \(w.dataEndpoint), "
                + "last heard \(w.lastHeardMilliseconds) ms ago, \(w.activeSequences) sequences")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    fileprivate var jsonObject: [String: Any] {
        [
            "serving": serving,
            "missing_layers": missingLayers.map(layerRangeObject),
            "total_layers": totalLayers,
            "in_flight_calls": inFlightCalls,
            "workers": workers.map { w -> [String: Any] in
                var object: [String: Any] = [
                    "worker_id": w.workerID, "data_endpoint": w.dataEndpoint, "state": w.state.name,
                    "last_heard_ms": w.lastHeardMilliseconds, "active_sequences": w.activeSequences,
                ]
                if let layers = w.layers {
                    object["layers"] = layerRangeObject(layers)
                    object["stage_index"] = w.stageIndex
                }
                return object
            },
        ]
    }
}
