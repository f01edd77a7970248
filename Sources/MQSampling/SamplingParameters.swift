// What a request asks of the sampler, its limits, and the checks that turn untrusted request
// fields into parameters the sampler can rely on. Field names in errors and in Codable form are the
// wire names (snake_case), so an API error can be shown to the client as is.

/// Limits and defaults of this module, in one place.
public enum SamplingLimits {
    /// Most alternatives a request may ask for per token (OpenAI's API allows 20 as well).
    public static let maxTopLogprobs = 20
    /// Largest vocabulary a Sampler accepts (token ids live in 32-bit key halves and counters).
    public static let maxVocabSize = 1 << 24
}

public enum SamplingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `field` is the wire name ("temperature", "top_k", "top_p", "repetition_penalty",
    /// "top_logprobs", "vocab_size", "step").
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

    /// Returns self when every field is in range; otherwise names the first bad field.
    public func validated() throws -> SamplingParameters {
        func fail(_ field: String, _ reason: String) -> SamplingError { .invalid(field: field, reason: reason) }
        guard temperature.isFinite, temperature >= 0 else {
            throw fail("temperature", "must be a finite number ≥ 0 (0 = greedy), got \(temperature)")
        }
        guard topK >= 0 else { throw fail("top_k", "must be ≥ 0 (0 = disabled), got \(topK)") }
        guard topP > 0, topP <= 1 else {   // also false for NaN
            throw fail("top_p", "must be in (0, 1] (1 = disabled), got \(topP)")
        }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw fail("repetition_penalty", "must be a finite number > 0 (1 = disabled), got \(repetitionPenalty)")
        }
        guard (0...SamplingLimits.maxTopLogprobs).contains(topLogprobs) else {
            throw fail("top_logprobs", "must be in 0...\(SamplingLimits.maxTopLogprobs), got \(topLogprobs)")
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
