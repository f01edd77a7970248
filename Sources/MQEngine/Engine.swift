// Single-process generation: a model folder's tokenizer, all its layers and a sampler, run as
// prefill (one matrix-matrix pass over the prompt) then one token per step against the KV cache.
// `mq run` uses this; the distributed service must produce the same tokens.
import Foundation
import MQCheckpoint
import MQKernels
import MQModel
import MQSampling
import MQTokenizer

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

    public init(promptIds: [Int], maxNewTokens: Int, sampling: SamplingParameters = SamplingParameters(),
                stopTokenIds: [Int] = [], stopStrings: [String] = []) {
        self.promptIds = promptIds; self.maxNewTokens = maxNewTokens; self.sampling = sampling
        self.stopTokenIds = stopTokenIds; self.stopStrings = stopStrings
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

    public struct TopLogprob: Sendable, Codable, Equatable {
        public var id: Int
        public var logprob: Float
        public init(id: Int, logprob: Float) { self.id = id; self.logprob = logprob }
    }

    enum CodingKeys: String, CodingKey {
        case tokenIds = "token_ids", logprobs, text, finishReason = "finish_reason", topLogprobs = "top_logprobs"
    }

    public init(tokenIds: [Int], logprobs: [Float], text: String, finishReason: FinishReason, topLogprobs: [[TopLogprob]]? = nil) {
        self.tokenIds = tokenIds; self.logprobs = logprobs; self.text = text; self.finishReason = finishReason
        self.topLogprobs = topLogprobs
    }

    /// One line of JSON with keys in a fixed order (token_ids, logprobs, text, finish_reason).
    public func jsonLine() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func j<T: Encodable>(_ v: T) -> String { String(decoding: (try? enc.encode(v)) ?? Data("null".utf8), as: UTF8.self) }
        let top = topLogprobs.map { ", \"top_logprobs\": \(j($0))" } ?? ""
        return "{\"token_ids\": \(j(tokenIds)), \"logprobs\": \(j(logprobs)), \"text\": \(j(text)), \"finish_reason\": \(j(finishReason.rawValue))\(top)}"
    }
}

public enum EngineError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    case promptTooLong(promptTokens: Int, maxNewTokens: Int, maxPositions: Int)
    case invalidArgument(field: String, reason: String)
    case noTokenizer(directory: String)

    public var description: String {
        switch self {
        case .emptyPrompt: return "the prompt is empty (it must have at least one token)"
        case .promptTooLong(let p, let n, let m):
            return "prompt of \(p) tokens plus \(n) new tokens exceeds the model's \(m) positions"
        case .invalidArgument(let f, let r): return "invalid \(f): \(r)"
        case .noTokenizer(let d): return "\(d): no tokenizer.json, so text prompts cannot be encoded (use token ids)"
        }
    }
}

public final class Engine {
    public let directory: URL
    public let checkpoint: Checkpoint
    public let model: any DecoderModel
    public let tokenizer: Tokenizer?
    private let sequenceId = 1

    /// Loads the whole model in `directory` (config.json, safetensors, tokenizer.json if present),
    /// to run with `compute`'s threads, its matrices held as `weights` says.
    public init(directory: URL, compute: ComputeContext, weights: WeightPrecision = .stored) throws {
        self.directory = directory
        checkpoint = try Checkpoint(directory: directory)
        model = try ModelRegistry.load(checkpoint, compute: compute, weights: weights)
        let tok = directory.appendingPathComponent("tokenizer.json")
        tokenizer = FileManager.default.fileExists(atPath: tok.path) ? try Tokenizer(contentsOf: tok) : nil
    }

    public var shape: ModelShape { model.shape }
    public var compute: ComputeContext { model.compute }

    public func encode(_ text: String) throws -> [Int] {
        guard let tokenizer else { throw EngineError.noTokenizer(directory: directory.path) }
        return tokenizer.encode(text)
    }

    /// Checks a request against the model before any work: prompt length, token ids, parameters.
    public func validate(_ r: GenerationRequest) throws {
        guard !r.promptIds.isEmpty else { throw EngineError.emptyPrompt }
        guard r.maxNewTokens >= 1 else {
            throw EngineError.invalidArgument(field: "max_tokens", reason: "must be at least 1, got \(r.maxNewTokens)")
        }
        guard r.promptIds.count + r.maxNewTokens <= shape.maxPositions else {
            throw EngineError.promptTooLong(promptTokens: r.promptIds.count, maxNewTokens: r.maxNewTokens, maxPositions: shape.maxPositions)
        }
        if let bad = r.promptIds.first(where: { $0 < 0 || $0 >= shape.vocabSize }) {
            throw EngineError.invalidArgument(field: "prompt_ids", reason: "token id \(bad) is outside the vocabulary (0..<\(shape.vocabSize))")
        }
        _ = try r.sampling.validated(stopStrings: r.stopStrings)
    }

    /// Runs one request to completion. `onEvent` sees each token as it is produced with the text it
    /// adds (never splitting a UTF-8 character); return false from it to stop early (finish "stop").
    public func generate(_ r: GenerationRequest,
                         onEvent: ((GenerationEvent) -> Bool)? = nil) throws -> GenerationResult {
        try validate(r)
        let E = shape.hiddenSize, V = shape.vocabSize
        let cache = try KVCache(layers: model.layerRange, kvDim: shape.kvHeads * shape.headDim,
                                blocks: (r.promptIds.count + r.maxNewTokens + KVCache.defaultBlockSize - 1) / KVCache.defaultBlockSize)
        try cache.reserve(sequence: sequenceId, positions: r.promptIds.count + r.maxNewTokens)
        var sampler = try Sampler(parameters: r.sampling, vocabSize: V)
        var out = OutputTracker(tokenizer: tokenizer, eosTokenIds: shape.eosTokenIds, stopTokenIds: r.stopTokenIds,
                                stopStrings: r.stopStrings, maxNewTokens: r.maxNewTokens)
        var hidden = [Float](repeating: 0, count: r.promptIds.count * E)
        var logits = [Float](repeating: 0, count: V)
        var history = r.promptIds
        history.reserveCapacity(r.promptIds.count + r.maxNewTokens)
        var step = r.promptIds.enumerated().map { StepToken(sequence: sequenceId, position: $0.offset, token: $0.element) }
        var top: [[GenerationResult.TopLogprob]] = []
        while !out.isFinished {
            try hidden.withUnsafeMutableBufferPointer { h in
                try model.embed(step, into: h.baseAddress!)
                try model.forward(step, hidden: h.baseAddress!, cache: cache)
                try logits.withUnsafeMutableBufferPointer {
                    try model.logits(hidden: h.baseAddress!, rows: [step.count - 1], into: $0.baseAddress!)
                }
            }
            let s = logits.withUnsafeBufferPointer { sampler.sample(logits: $0, history: history) }
            history.append(s.id)
            let delta = out.append(id: s.id, logprob: s.logprob)
            if r.sampling.topLogprobs > 0 { top.append(s.top.map { GenerationResult.TopLogprob(id: $0.id, logprob: $0.logprob) }) }
            if let cont = onEvent?(GenerationEvent(id: s.id, logprob: s.logprob, textDelta: delta)), !cont, !out.isFinished {
                _ = out.finish(.stop)
            }
            step = [StepToken(sequence: sequenceId, position: history.count - 1, token: s.id)]
        }
        var result = out.result
        if r.sampling.topLogprobs > 0 { result.topLogprobs = top }
        return result
    }
}
