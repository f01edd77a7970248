// What a generation is, apart from how it is computed: the request (prompt ids, sampling, stop
// conditions), the events and result (`mq run --json`'s object) and why it finished. The
// single-process Engine (MQEngine) and the distributed coordinator (MQCoordinator) both speak
// these types and track output with OutputTracker, so the coordinator needs no engine.
import Foundation
import MQSampling

/// Why a generation stopped. Raw values are the wire/JSON spellings.
public enum FinishReason: String, Sendable, Codable {
    case length, eos, stop
}

/// What `generate` reports as each token is produced: `textDelta` is the text it completes (empty
/// while a UTF-8 character is incomplete; at the end it includes any lossily decoded remainder).
public struct GenerationEvent: Sendable {
    public var id: Int
    public var logprob: Float
    public var textDelta: String

    public init(id: Int, logprob: Float, textDelta: String) {
        self.id = id; self.logprob = logprob; self.textDelta = textDelta
    }
}

public struct GenerationRequest: Sendable {
    public var promptIds: [Int]
    public var maxNewTokens: Int
    public var sampling: SamplingParameters
    /// Token ids that end generation with finish reason "stop" (the model's eos_token_id always
    /// ends it with "eos"). The ending token is reported in `tokenIds`, as Hugging Face's generate
    /// does, but not in `text`.
    public var stopTokenIds: [Int]
    /// Strings that end generation when they appear in the text; the text is cut before them.
    public var stopStrings: [String]
    /// Also report the log probability of every prompt token after the first (and, with
    /// sampling.topLogprobs > 0, the alternatives at each of those positions).
    public var promptLogprobs: Bool

    public init(promptIds: [Int], maxNewTokens: Int, sampling: SamplingParameters = SamplingParameters(),
                stopTokenIds: [Int] = [], stopStrings: [String] = [], promptLogprobs: Bool = false) {
        self.promptIds = promptIds; self.maxNewTokens = maxNewTokens; self.sampling = sampling
        self.stopTokenIds = stopTokenIds; self.stopStrings = stopStrings; self.promptLogprobs = promptLogprobs
    }
}

/// The `mq run --json` object: token ids, natural-log probability of each under the model's own
/// softmax at temperature 1, the decoded text and the finish reason.
public struct GenerationResult: Sendable, Codable, Equatable {
    public var tokenIds: [Int]
    public var logprobs: [Float]
    public var text: String
    public var finishReason: FinishReason
    /// When requested (top_logprobs > 0): per generated token, the most likely alternatives under
    /// the same temperature-1 softmax, most likely first.
    public var topLogprobs: [[TopLogprob]]?
    /// With GenerationRequest.promptLogprobs: the prompt's ids, promptLogprobs[i] = log p(prompt[i + 1]
    /// | prompt[...i]) at temperature 1, and (with top_logprobs) the alternatives at each position.
    public var promptTokenIds: [Int]?
    public var promptLogprobs: [Float]?
    public var promptTopLogprobs: [[TopLogprob]]?

    public struct TopLogprob: Sendable, Codable, Equatable {
        public var id: Int
        public var logprob: Float
        public init(id: Int, logprob: Float) { self.id = id; self.logprob = logprob }
    }

    enum CodingKeys: String, CodingKey {
        case tokenIds = "token_ids", logprobs, text, finishReason = "finish_reason", topLogprobs = "top_logprobs"
        case promptTokenIds = "prompt_token_ids", promptLogprobs = "prompt_logprobs", promptTopLogprobs = "prompt_top_logprobs"
    }

    public init(tokenIds: [Int], logprobs: [Float], text: String, finishReason: FinishReason, topLogprobs: [[TopLogprob]]? = nil) {
        self.tokenIds = tokenIds; self.logprobs = logprobs; self.text = text; self.finishReason = finishReason
        self.topLogprobs = topLogprobs
    }

    /// One line of JSON with keys in a fixed order (token_ids, logprobs, text, finish_reason, then
    /// the optional top_logprobs, prompt_token_ids, prompt_logprobs, prompt_top_logprobs).
    public func jsonLine() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func j<T: Encodable>(_ v: T) -> String { String(decoding: (try? enc.encode(v)) ?? Data("null".utf8), as: UTF8.self) }
        let top = topLogprobs.map { ", \"top_logprobs\": \(j($0))" } ?? ""
        var prompt = promptTokenIds.map { ", \"prompt_token_ids\": \(j($0))" } ?? ""
        prompt += promptLogprobs.map { ", \"prompt_logprobs\": \(j($0))" } ?? ""
        prompt += promptTopLogprobs.map { ", \"prompt_top_logprobs\": \(j($0))" } ?? ""
        return "{\"token_ids\": \(j(tokenIds)), \"logprobs\": \(j(logprobs)), \"text\": \(j(text)), \"finish_reason\": \(j(finishReason.rawValue))\(top)\(prompt)}"
    }
}
