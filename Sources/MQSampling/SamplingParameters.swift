// What a request asks of the sampler, its limits, and the one check that turns untrusted request
// fields into parameters the sampler can rely on: `validated(stopStrings:)`, used alike by the
// engine (`mq run`), the CLI, the coordinator and the worker. Field names in errors and in Codable
// form are the wire names (snake_case), so an API error can be shown to the client as is.

/// Limits and defaults of this module, in one place.
public enum SamplingLimits {
    /// Most alternatives a request may ask for per token (OpenAI's API allows 20 as well).
    public static let maxTopLogprobs = 20
    /// Largest vocabulary a Sampler accepts (token ids live in 32-bit key halves and counters).
    public static let maxVocabSize = 1 << 24
    /// Largest top_k accepted: no vocabulary is larger, so a bigger value can only be a mistake.
    public static let maxTopK = maxVocabSize
    /// Most stop strings a request may give (each is searched for after every token).
    public static let maxStopStrings = 16
    /// Longest stop string, in UTF-8 bytes.
    public static let maxStopStringBytes = 256
}

public enum SamplingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `field` is the wire name ("temperature", "top_k", "top_p", "repetition_penalty",
    /// "top_logprobs", "stop_strings", "vocab_size", "step").
    case invalid(field: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let field, let reason): return "invalid sampling parameter \(field): \(reason)"
        }
    }
}

public struct SamplingParameters: Sendable, Equatable, Codable {
    /// Softmax temperature; 0 means greedy (argmax, ties go to the lowest id). Finite, ≥ 0.
    public var temperature: Float
    /// Keep only the k highest logits (ties at the k-th value are all kept, as in Hugging Face's
    /// TopKLogitsWarper); 0 disables; values above the vocabulary size keep everything.
    /// 0...SamplingLimits.maxTopK.
    public var topK: Int
    /// Nucleus sampling: keep the smallest highest-first set whose probability reaches top_p
    /// (always at least one token); 1 disables. In (0, 1].
    public var topP: Float
    /// CTRL / Hugging Face repetition penalty on every token id in prompt + output:
    /// logit < 0 ? logit · p : logit / p. 1 disables; finite and > 0.
    public var repetitionPenalty: Float
    /// Per-request seed: the draw at step n depends only on (seed, n).
    public var seed: UInt64
    /// How many most likely alternatives to report per token, 0...SamplingLimits.maxTopLogprobs.
    public var topLogprobs: Int

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, repetitionPenalty: Float = 1,
                seed: UInt64 = 0, topLogprobs: Int = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
        self.topLogprobs = topLogprobs
    }

    /// True when the choice is the (penalised) argmax and the seed plays no part.
    public var isGreedy: Bool { temperature == 0 }

    /// The parameters a wire SamplingParams (Protos/mq/v1/common.proto) stands for: proto3 cannot
    /// tell an unset float from 0, so top_p 0 and repetition_penalty 0 mean "unset" and become the
    /// neutral 1. Nothing else is mapped: top_p 2 stays 2 and `validated` refuses it.
    public init(wireTemperature temperature: Float, topK: UInt32, topP: Float, repetitionPenalty: Float,
                seed: UInt64, topLogprobs: UInt32) {
        self.init(temperature: temperature, topK: Int(topK), topP: topP == 0 ? 1 : topP,
                  repetitionPenalty: repetitionPenalty == 0 ? 1 : repetitionPenalty,
                  seed: seed, topLogprobs: Int(topLogprobs))
    }

    /// The one validation of a request's sampling: returns self when every field, and every stop
    /// string the request gives, is in range; otherwise names the first bad field and its limit.
    /// NaN and infinities fail every float check.
    public func validated(stopStrings: [String] = []) throws(SamplingError) -> SamplingParameters {
        func fail(_ field: String, _ reason: String) -> SamplingError { .invalid(field: field, reason: reason) }
        guard temperature.isFinite, temperature >= 0 else {
            throw fail("temperature", "must be a finite number ≥ 0 (0 = greedy), got \(temperature)")
        }
        guard (0...SamplingLimits.maxTopK).contains(topK) else {
            throw fail("top_k", "must be in 0...\(SamplingLimits.maxTopK) (0 = disabled), got \(topK)")
        }
        guard topP > 0, topP <= 1 else {   // also false for NaN
            throw fail("top_p", "must be in (0, 1] (1 = disabled), got \(topP)")
        }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw fail("repetition_penalty", "must be a finite number > 0 (1 = disabled), got \(repetitionPenalty)")
        }
        guard (0...SamplingLimits.maxTopLogprobs).contains(topLogprobs) else {
            throw fail("top_logprobs", "must be in 0...\(SamplingLimits.maxTopLogprobs), got \(topLogprobs)")
        }
        guard stopStrings.count <= SamplingLimits.maxStopStrings else {
            throw fail("stop_strings", "at most \(SamplingLimits.maxStopStrings) stop strings, got \(stopStrings.count)")
        }
        for (i, stop) in stopStrings.enumerated() {
            // An empty stop string would match before the first token; refuse it rather than ignore it.
            guard !stop.isEmpty else { throw fail("stop_strings[\(i)]", "must not be empty") }
            guard stop.utf8.count <= SamplingLimits.maxStopStringBytes else {
                throw fail("stop_strings[\(i)]", "must be at most \(SamplingLimits.maxStopStringBytes) UTF-8 bytes, got \(stop.utf8.count)")
            }
        }
        return self
    }

    enum CodingKeys: String, CodingKey {
        case temperature, seed
        case topK = "top_k", topP = "top_p", repetitionPenalty = "repetition_penalty", topLogprobs = "top_logprobs"
    }

    /// Missing fields take the defaults of `init`, so `{}` decodes to greedy decoding. Decoding does
    /// not validate: call `validated()`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SamplingParameters()
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? d.temperature
        topK = try c.decodeIfPresent(Int.self, forKey: .topK) ?? d.topK
        topP = try c.decodeIfPresent(Float.self, forKey: .topP) ?? d.topP
        repetitionPenalty = try c.decodeIfPresent(Float.self, forKey: .repetitionPenalty) ?? d.repetitionPenalty
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        topLogprobs = try c.decodeIfPresent(Int.self, forKey: .topLogprobs) ?? d.topLogprobs
    }
}
