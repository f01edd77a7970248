// POST /v1/completions: the OpenAI request body as typed, checked Swift values (validate at the
// edge, STYLE habit 7). Every parameter OpenAI defines is either carried to the coordinator or
// refused with a 400 naming it; nothing is silently ignored except `user` (an opaque tag). `suffix`
// is mq's fill-in-the-middle; `echo` with `logprobs` asks for the prompt's log probabilities
// (protocol 1.4), and with max_tokens 0 only scores the prompt, as evaluation harnesses do.
import Foundation
import MQCheckpoint
import MQClient

/// The prompt field: a string, a list of strings, a list of token ids or a list of such lists.
public enum CompletionPrompt: Equatable, Sendable {
    case texts([String])
    case tokenLists([[UInt32]])

    /// One mq prompt per OpenAI prompt.
    var prompts: [Prompt] {
        switch self {
        case let .texts(texts): return texts.map { .text($0) }
        case let .tokenLists(lists): return lists.map { .tokenIDs($0) }
        }
    }
}

/// A checked completion request.
public struct CompletionRequest: Equatable, Sendable {
    public var model: String
    public var prompt: CompletionPrompt
    public var maxTokens: UInt32
    public var temperature: Float
    public var topP: Float
    /// mq extension (as vLLM): keep the k most likely tokens; 0 is no limit.
    public var topK: UInt32
    /// mq extension (as vLLM): repetition penalty, 1 is none.
    public var repetitionPenalty: Float
    public var n: Int
    public var stop: [String]
    public var seed: UInt64?
    /// Alternatives per token, nil when logprobs were not asked for.
    public var logprobs: UInt32?
    public var echo: Bool
    public var stream: Bool
    public var includeUsage: Bool
    /// Fill-in-the-middle: the text after the gap (the prompt is the text before it); nil: none.
    public var suffix: String?
    /// max_tokens 0 with echo: only score the prompt (one token is generated and dropped, since
    /// mq always generates at least one).
    public var scoreOnly = false

    /// Whether the coordinator must return the prompt's log probabilities (echo with logprobs).
    var promptLogprobs: Bool { echo && logprobs != nil }

    /// The GenerateRequests of choice `choice` (0..<n) of every prompt. Seeds: with n > 1 and a
    /// seed, choice j uses seed + j so that sampled choices differ yet are reproducible; without a
    /// seed the coordinator picks one per call.
    func generateRequest(prompt: Prompt, choice: Int) -> GenerateRequest {
        let sampling = SamplingParams(
            temperature: temperature, topK: topK, topP: topP,
            seed: seed.map { $0 &+ UInt64(choice) }, repetitionPenalty: repetitionPenalty,
            stopStrings: stop, topLogprobs: logprobs ?? 0)
        return GenerateRequest(prompt: prompt, maxNewTokens: scoreOnly ? 1 : maxTokens, sampling: sampling, suffix: suffix,
                               promptLogprobs: promptLogprobs)
    }
}

/// Named limits and defaults of the completions endpoint.
public enum CompletionLimits {
    /// OpenAI's default max_tokens for /v1/completions.
    public static let defaultMaxTokens: UInt32 = 16
    /// Most choices (prompts x n) one request may ask for: each is a call on the cluster.
    public static let maxChoices = 64
    /// OpenAI allows up to 4 stop sequences; mq's sampler allows more, but clients expect this.
    public static let maxStops = 4
    /// Most alternatives per token (MQSampling's SamplingLimits.maxTopLogprobs).
    public static let maxLogprobs: UInt32 = 20
    public static let maxTemperature: Double = 2
}

extension CompletionRequest {
    /// Parses and checks a JSON body. Throws `GatewayError` (400) naming the offending field.
    public static func parse(_ body: [UInt8]) throws(GatewayError) -> CompletionRequest {
        var fields = try JSONFields.parseObject(body)
        return try parse(&fields)
    }

    static func parse(_ f: inout JSONFields) throws(GatewayError) -> CompletionRequest {
        guard let model = try f.string("model") else { throw .invalid("you must provide a model parameter", param: "model") }
        let suffix = try f.string("suffix")
        let prompt = try parsePrompt(f.value("prompt"), allowEmpty: suffix != nil)
        let echo = try f.bool("echo") ?? false
        let maxTokens = try f.integer("max_tokens", in: 0...Int64(UInt32.max)).map { UInt32($0) } ?? CompletionLimits.defaultMaxTokens
        guard maxTokens > 0 || echo else {
            throw .invalid("max_tokens must be at least 1 (0 only with echo, to score the prompt)", param: "max_tokens")
        }
        let temperature = try f.number("temperature", in: 0...CompletionLimits.maxTemperature) ?? 1
        let topP = try f.number("top_p", in: 0...1) ?? 1
        guard topP > 0 else { throw .invalid("top_p must be greater than 0", param: "top_p") }
        let topK = try f.integer("top_k", in: -1...Int64(UInt32.max)) ?? 0
        let repetitionPenalty = try f.number("repetition_penalty", in: 0...100) ?? 1
        guard repetitionPenalty > 0 else { throw .invalid("repetition_penalty must be greater than 0", param: "repetition_penalty") }
        let n = Int(try f.integer("n", in: 1...Int64(CompletionLimits.maxChoices)) ?? 1)
        if let bestOf = try f.integer("best_of", in: 1...Int64(CompletionLimits.maxChoices)), Int(bestOf) != n {
            throw .invalid("best_of is not supported (only best_of equal to n)", param: "best_of")
        }
        let stop = try parseStop(f.value("stop"))
        let seed = try f.integer("seed", in: -JSONFields.maxExactInteger...JSONFields.maxExactInteger).map { UInt64(bitPattern: $0) }
        let logprobs = try f.integer("logprobs", in: 0...Int64(CompletionLimits.maxLogprobs)).map { UInt32($0) }
        let stream = try f.bool("stream") ?? false
        var includeUsage = false
        if let options = f.value("stream_options"), !options.isNull {
            guard stream else { throw .invalid("stream_options is only allowed when stream is true", param: "stream_options") }
            guard let dict = options.objectValue else { throw .invalid("stream_options must be an object", param: "stream_options") }
            includeUsage = try JSONFields(dict, prefix: "stream_options.").bool("include_usage") ?? false
        }
        for penalty in ["presence_penalty", "frequency_penalty"] {
            if let value = try f.number(penalty, in: -2...2), value != 0 {
                throw .invalid("\(penalty) is not supported by mq (use repetition_penalty); only 0 is accepted", param: penalty)
            }
        }
        if let bias = f.value("logit_bias"), !bias.isNull {
            guard let dict = bias.objectValue else { throw .invalid("logit_bias must be an object", param: "logit_bias") }
            if !dict.isEmpty { throw .invalid("logit_bias is not supported by mq", param: "logit_bias") }
        }
        _ = try f.string("user")
        var request = CompletionRequest(
            model: model, prompt: prompt, maxTokens: maxTokens, temperature: Float(temperature), topP: Float(topP),
            topK: topK < 0 ? 0 : UInt32(topK), repetitionPenalty: Float(repetitionPenalty), n: n, stop: stop, seed: seed,
            logprobs: logprobs, echo: echo, stream: stream, includeUsage: includeUsage, suffix: suffix)
        request.scoreOnly = maxTokens == 0
        return try request.checkedChoices()
    }

    private func checkedChoices() throws(GatewayError) -> CompletionRequest {
        let count = prompt.prompts.count * n
        guard count <= CompletionLimits.maxChoices else {
            throw .invalid("\(count) choices (prompts x n) requested; at most \(CompletionLimits.maxChoices) per request", param: "n")
        }
        return self
    }

    /// `allowEmpty`: with a suffix (fill-in-the-middle) the text before the gap may be empty.
    static func parsePrompt(_ value: JSONValue?, allowEmpty: Bool = false) throws(GatewayError) -> CompletionPrompt {
        let bad = GatewayError.invalid(
            "prompt must be a string, a list of strings, a list of token ids or a list of lists of token ids", param: "prompt")
        guard let value, !value.isNull else { throw .invalid("you must provide a prompt", param: "prompt") }
        if let text = value.stringValue { return .texts([allowEmpty ? text : try nonEmpty(text)]) }
        guard let list = value.arrayValue, !list.isEmpty else { throw bad }
        if list.allSatisfy({ $0.stringValue != nil }) {
            var texts: [String] = []
            for item in list { texts.append(allowEmpty ? item.stringValue! : try nonEmpty(item.stringValue!)) }
            return .texts(texts)
        }
        if list.allSatisfy({ $0.doubleValue != nil }) { return .tokenLists([try tokenIDs(list)]) }
        if list.allSatisfy({ $0.arrayValue != nil }) {
            var lists: [[UInt32]] = []
            for item in list { lists.append(try tokenIDs(item.arrayValue!)) }
            return .tokenLists(lists)
        }
        throw bad
    }

    private static func nonEmpty(_ text: String) throws(GatewayError) -> String {
        guard !text.isEmpty else { throw .invalid("prompt must not be empty", param: "prompt") }
        return text
    }

    private static func tokenIDs(_ list: [JSONValue]) throws(GatewayError) -> [UInt32] {
        guard !list.isEmpty else { throw .invalid("a token id prompt must not be empty", param: "prompt") }
        var ids: [UInt32] = []
        ids.reserveCapacity(list.count)
        for value in list {
            guard let x = value.doubleValue, x.rounded() == x, x >= 0, x <= Double(UInt32.max) else {
                throw .invalid("prompt token ids must be integers in 0...\(UInt32.max)", param: "prompt")
            }
            ids.append(UInt32(x))
        }
        return ids
    }

    static func parseStop(_ value: JSONValue?) throws(GatewayError) -> [String] {
        guard let value, !value.isNull else { return [] }
        let stops: [String]
        if let text = value.stringValue {
            stops = [text]
        } else if let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) {
            stops = list.map { $0.stringValue! }
        } else {
            throw .invalid("stop must be a string or a list of strings", param: "stop")
        }
        guard stops.count <= CompletionLimits.maxStops else {
            throw .invalid("at most \(CompletionLimits.maxStops) stop sequences, got \(stops.count)", param: "stop")
        }
        guard stops.allSatisfy({ !$0.isEmpty }) else { throw .invalid("stop sequences must not be empty", param: "stop") }
        return stops
    }
}

/// Typed reads of a JSON object's fields; a wrong type is a 400 naming the field. JSON null reads
/// as absent, as OpenAI treats it.
struct JSONFields {
    /// Integers beyond 2^53 do not survive JSON's doubles exactly; they are refused.
    static let maxExactInteger: Int64 = 1 << 53

    private let object: [String: JSONValue]
    private let prefix: String

    init(_ object: [String: JSONValue], prefix: String = "") {
        self.object = object
        self.prefix = prefix
    }

    static func parseObject(_ body: [UInt8]) throws(GatewayError) -> JSONFields {
        let parsed: JSONValue
        do { parsed = try JSONValue.parse(Data(body)) } catch { throw .invalid("the request body is not valid JSON") }
        guard let object = parsed.objectValue else { throw .invalid("the request body must be a JSON object") }
        return JSONFields(object)
    }

    func value(_ key: String) -> JSONValue? { object[key] }

    private func present(_ key: String) -> JSONValue? {
        guard let value = object[key], !value.isNull else { return nil }
        return value
    }

    func string(_ key: String) throws(GatewayError) -> String? {
        guard let value = present(key) else { return nil }
        guard let text = value.stringValue else { throw .invalid("\(prefix)\(key) must be a string", param: prefix + key) }
        return text
    }

    func bool(_ key: String) throws(GatewayError) -> Bool? {
        guard let value = present(key) else { return nil }
        guard let flag = value.boolValue else { throw .invalid("\(prefix)\(key) must be true or false", param: prefix + key) }
        return flag
    }

    func number(_ key: String, in range: ClosedRange<Double>) throws(GatewayError) -> Double? {
        guard let value = present(key) else { return nil }
        guard let x = value.doubleValue else { throw .invalid("\(prefix)\(key) must be a number", param: prefix + key) }
        guard x.isFinite, range.contains(x) else {
            throw .invalid("\(prefix)\(key) must be in [\(format(range.lowerBound)), \(format(range.upperBound))], got \(format(x))",
                           param: prefix + key)
        }
        return x
    }

    func integer(_ key: String, in range: ClosedRange<Int64>) throws(GatewayError) -> Int64? {
        guard let value = present(key) else { return nil }
        guard let x = value.doubleValue, x.isFinite, x.rounded() == x else {
            throw .invalid("\(prefix)\(key) must be an integer", param: prefix + key)
        }
        guard x >= Double(range.lowerBound), x <= Double(range.upperBound) else {
            throw .invalid("\(prefix)\(key) must be in \(range.lowerBound)...\(range.upperBound), got \(format(x))", param: prefix + key)
        }
        return Int64(x)
    }

    private func format(_ x: Double) -> String { x.rounded() == x && abs(x) < 1e15 ? String(Int64(x)) : String(x) }
}
