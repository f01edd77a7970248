// Single-process generation: a model folder's tokenizer, all its layers and a sampler, run as
// prefill (one matrix-matrix pass over the prompt) then one token per step against the KV cache.
// `mq run` uses this; the distributed service must produce the same tokens.
import Foundation
import MQCheckpoint
import MQKernels
import MQModel
import MQSampling
import MQTokenizer
// The request/result types and OutputTracker live in MQGeneration (shared with the coordinator).
@_exported import MQGeneration

public enum EngineError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    case promptTooLong(promptTokens: Int, maxNewTokens: Int, maxPositions: Int)
    case invalidArgument(field: String, reason: String)
    case noTokenizer(directory: String)
    case noFIMTokens(model: String)

    public var description: String {
        switch self {
        case .emptyPrompt: return "the prompt is empty (it must have at least one token)"
        case .promptTooLong(let p, let n, let m):
            return "prompt of \(p) tokens plus \(n) new tokens exceeds the model's \(m) positions"
        case .invalidArgument(let f, let r): return "invalid \(f): \(r)"
        case .noTokenizer(let d): return "\(d): no tokenizer.json, so text prompts cannot be encoded (use token ids)"
        case .noFIMTokens(let m):
            return "model \(m) has no fill-in-the-middle tokens (<fim_prefix>/<fim_suffix>/<fim_middle> or <fim-prefix>/<fim-suffix>/<fim-middle> in tokenizer.json), so --suffix cannot be used"
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

    /// The fill-in-the-middle prompt (PSM order) for the text before and after the gap.
    public func encodeFIM(prefix: String, suffix: String) throws -> [Int] {
        let fim = try fimTokens()
        return tokenizer!.encode(fim.text(prefix: prefix, suffix: suffix))
    }

    /// The fill-in-the-middle prompt for an already tokenized prefix: its ids are kept as given.
    public func encodeFIM(prefixIds: [Int], suffix: String) throws -> [Int] {
        let fim = try fimTokens()
        return fim.prompt(prefixIDs: prefixIds, suffixIDs: tokenizer!.encode(suffix))
    }

    private func fimTokens() throws -> FIMTokens {
        guard let tokenizer else { throw EngineError.noTokenizer(directory: directory.path) }
        guard let fim = tokenizer.fimTokens else { throw EngineError.noFIMTokens(model: directory.lastPathComponent) }
        return fim
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
        var promptScores: PromptScorer?
        var scorer = r.promptLogprobs ? PromptScorer(vocabSize: V, topCount: r.sampling.topLogprobs) : nil
        while !out.isFinished {
            try hidden.withUnsafeMutableBufferPointer { h in
                try model.embed(step, into: h.baseAddress!)
                try model.forward(step, hidden: h.baseAddress!, cache: cache)
                if scorer != nil {
                    // The prompt is one chunk here; its logits are computed a block of rows at a time.
                    var scratch = [Float](repeating: 0, count: PromptScorer.scratchFloats(tokens: step.count, vocabSize: V))
                    try scratch.withUnsafeMutableBufferPointer { s in
                        try scorer!.score(chunk: r.promptIds, final: true, scratch: s.baseAddress!) { rows, into in
                            try model.logits(hidden: h.baseAddress!, rows: Array(rows), into: into)
                        }
                    }
                }
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
            if let done = scorer {
                promptScores = done
                scorer = nil
            }
        }
        var result = out.result
        if r.sampling.topLogprobs > 0 { result.topLogprobs = top }
        if let promptScores {
            result.promptTokenIds = r.promptIds
            result.promptLogprobs = promptScores.logprobs
            if r.sampling.topLogprobs > 0 {
                result.promptTopLogprobs = promptScores.topLogprobs.map { $0.map { GenerationResult.TopLogprob(id: $0.id, logprob: $0.logprob) } }
            }
        }
        return result
    }
}
