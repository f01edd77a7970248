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
            if json {
                writeStdout(try response.generationResult().jsonLine() + "\n")
            } else {
                writeStdout(response.text + "\n")
                if request.promptLogprobs { writeStdout(promptLogprobsReport(try response.generationResult())) }
            }
        }
    }
}

struct StreamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Stream text from a running cluster as it is generated (GenerateStream call).",
        discussion: """
            Prints text as it arrives. With --json prints one JSON object per chunk (token_ids, logprobs, \
            text_delta; with --prompt-logprobs the first adds prompt_token_ids and prompt_logprobs; the last \
            one adds finish_reason, prompt_tokens, completion_tokens), then the whole result as `mq run --json` prints it.
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
/// Streams `request`'s text to stdout (or JSON lines with `json`); `after` (e.g. a FIM suffix) is
/// printed after the generated text, before the final newline.
func stream(_ request: GenerateRequest, from client: MQClient, json: Bool, after: String? = nil) throws {
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
        if json {
            writeStdout(try accumulator.response().generationResult().jsonLine() + "\n")
        } else {
            writeStdout((after ?? "") + "\n")
            if request.promptLogprobs { writeStdout(promptLogprobsReport(try accumulator.response().generationResult())) }
        }
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
        func entries(_ lists: [[TokenLogprob]]) -> [[GenerationResult.TopLogprob]] {
            lists.map { $0.map { GenerationResult.TopLogprob(id: Int($0.tokenID), logprob: $0.logprob) } }
        }
        var result = GenerationResult(tokenIds: tokenIDs.map(Int.init), logprobs: logprobs, text: text, finishReason: reason,
                                      topLogprobs: topLogprobs.isEmpty ? nil : entries(topLogprobs))
        if !promptTokenIDs.isEmpty {
            result.promptTokenIds = promptTokenIDs.map(Int.init)
            result.promptLogprobs = promptLogprobs
            result.promptTopLogprobs = promptTopLogprobs.isEmpty ? nil : entries(promptTopLogprobs)
        }
        return result
    }
}

/// `--prompt-logprobs` without `--json`: one line per prompt token, its id and log probability
/// (none for the first token), then the prompt's total.
func promptLogprobsReport(_ result: GenerationResult) -> String {
    guard let ids = result.promptTokenIds, let logprobs = result.promptLogprobs else { return "" }
    var lines = ["prompt logprobs (token id, natural log of its probability given the tokens before it):"]
    for (i, id) in ids.enumerated() {
        lines.append(i == 0 ? "  \(id)\t-" : "  \(id)\t\(logprobs[i - 1])")
    }
    lines.append("  total \(logprobs.reduce(0, +)) over \(logprobs.count) tokens")
    return lines.joined(separator: "\n") + "\n"
}

extension GenerateStreamChunk {
    /// One `mq stream --json` line; keys in a fixed order, values encoded as `mq run --json` does.
    func jsonLine() -> String {
        var line = "{\"token_ids\": \(jsonValue(tokenIDs)), \"logprobs\": \(jsonValue(logprobs)), \"text_delta\": \(jsonValue(textDelta))"
        if !promptTokenIDs.isEmpty {    // the first chunk of a call with --prompt-logprobs
            line += ", \"prompt_token_ids\": \(jsonValue(promptTokenIDs)), \"prompt_logprobs\": \(jsonValue(promptLogprobs))"
        }
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
    /// Whether the server fills StageInfo's prefix-cache counters (protocol 1.4 on).
    var reportsPrefixCache: Bool { version.major > 1 || (version.major == 1 && version.minor >= 4) }

    func report() -> String {
        let m = model
        var lines = [
            "model:      \(m.name) (\(m.architecture))",
            "attention:  \(m.attention.name): \(m.numHeads) query heads, \(m.kvHeads) KV head\(m.kvHeads == 1 ? "" : "s"), head size \(m.headDim)",
            "shape:      \(m.numLayers) layers, hidden size \(m.hiddenSize), vocabulary \(m.vocabSize), context \(m.maxPositions) tokens, EOS id \(m.eosTokenID)",
            "KV cache:   \(m.kvBytesPerToken) bytes per token (all layers)",
            "FIM:        \(m.fimAvailable ? "available (--suffix)" : "not available: the tokenizer has no fill-in-the-middle tokens")",
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
                + (stage.weightFormat.isEmpty ? "" : "weights \(stage.weightFormat) \(formatBytes(stage.weightBytes)), ")
                + "resident \(formatBytes(stage.residentBytes)), KV \(formatBytes(stage.kvUsedBytes)) used of \(formatBytes(stage.kvCapacityBytes))"
                + (reportsStageLoad ? ", busy \(String(format: "%.1f", stage.busyFraction * 100))% over \(stage.steps) steps" : "")
                + (reportsPrefixCache ? ", prefix cache \(stage.prefix.cachedBlocks) blocks, \(stage.prefix.hits) hits "
                    + "(\(stage.prefix.hitTokens) tokens reused), \(stage.prefix.evictions) evictions" : ""))
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
                "kv_bytes_per_token": m.kvBytesPerToken, "eos_token_id": m.eosTokenID, "fim_available": m.fimAvailable,
            ] as [String: Any],
            "stages": stages.map { stage -> [String: Any] in
                [
                    "stage_index": stage.stageIndex, "worker_id": stage.workerID, "data_endpoint": stage.dataEndpoint,
                    "layers": layerRangeObject(stage.layers), "resident_bytes": stage.residentBytes,
                    "kv_capacity_bytes": stage.kvCapacityBytes, "kv_used_bytes": stage.kvUsedBytes,
                    "busy_fraction": stage.busyFraction, "steps": stage.steps, "busy_ns": stage.busyNanoseconds,
                    "weight_format": stage.weightFormat, "weight_bytes": stage.weightBytes,
                    "prefix_cached_blocks": stage.prefix.cachedBlocks, "prefix_hits": stage.prefix.hits,
                    "prefix_hit_tokens": stage.prefix.hitTokens, "prefix_evictions": stage.prefix.evictions,
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
