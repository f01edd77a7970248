// Held-out perplexity of a loaded model, computed exactly as tools/train/evaluate.py computes it
// with transformers, so the two numbers compare: the token stream is cut into windows of C + 1
// tokens that start every C tokens (each window starting with the last token of the previous one),
// each window's first C' ≤ C tokens run through the model as one prefill from position 0 with a
// fresh cache, and every next token is predicted once:
//   per-token perplexity = exp(Σ NLL / predicted tokens),  NLL in nats from a log-softmax of the
//   raw logits (max subtracted, sum in Double).
//
// Shapes: C = context (window), V = vocabulary, E = hidden size.
import Foundation
import MQModel
import MQSampling

public struct PerplexityResult: Sendable, Codable, Equatable {
    public var windows: Int
    public var predictedTokens: Int
    /// Σ NLL over every predicted token, in nats.
    public var totalNLL: Double
    public var perplexity: Double { exp(totalNLL / Double(max(1, predictedTokens))) }
}

public enum Perplexity {
    /// Evaluates `ids` in windows of `context` tokens (at most `limitWindows` of them when > 0).
    /// `progress` is called after each window with (done, total).
    public static func evaluate(_ model: any DecoderModel, ids: [Int], context: Int, limitWindows: Int = 0,
                                progress: ((Int, Int) -> Void)? = nil) throws -> PerplexityResult {
        let shape = model.shape
        guard model.hasEmbedding, model.hasHead else { throw ModelError.notLoaded("the embeddings and the LM head (perplexity needs the whole model)") }
        guard context >= 1, context <= shape.maxPositions else {
            throw EngineError.invalidArgument(field: "context", reason: "must be in 1...\(shape.maxPositions), got \(context)")
        }
        guard ids.count >= 2 else { throw EngineError.invalidArgument(field: "ids", reason: "need at least 2 tokens, got \(ids.count)") }
        var starts = Array(stride(from: 0, to: ids.count - 1, by: context))
        if limitWindows > 0 { starts = Array(starts.prefix(limitWindows)) }
        let E = shape.hiddenSize, V = shape.vocabSize
        let cache = try KVCache(layers: model.layerRange, kvDim: shape.kvHeads * shape.headDim,
                                blocks: (context + KVCache.defaultBlockSize - 1) / KVCache.defaultBlockSize)
        var hidden = [Float](repeating: 0, count: context * E)   // [C, E]
        var logits = [Float](repeating: 0, count: context * V)   // [C, V]
        var result = PerplexityResult(windows: 0, predictedTokens: 0, totalNLL: 0)
        for (w, start) in starts.enumerated() {
            let window = ids[start..<min(ids.count, start + context + 1)]   // C' + 1 tokens
            let inputs = Array(window.dropLast()), targets = Array(window.dropFirst())
            let T = inputs.count
            try cache.reserve(sequence: 0, positions: T)
            let step = inputs.enumerated().map { StepToken(sequence: 0, position: $0.offset, token: $0.element) }
            try hidden.withUnsafeMutableBufferPointer { h in
                try model.embed(step, into: h.baseAddress!)
                try model.forward(step, hidden: h.baseAddress!, cache: cache)
                try logits.withUnsafeMutableBufferPointer { l in
                    try model.logits(hidden: h.baseAddress!, rows: Array(0..<T), into: l.baseAddress!)
                    for t in 0..<T {
                        let row = UnsafeBufferPointer(rebasing: l[(t * V)..<((t + 1) * V)])
                        result.totalNLL -= Double(logSoftmaxValue(logits: row, index: targets[t]))
                    }
                }
            }
            cache.release(sequence: 0)
            result.windows += 1
            result.predictedTokens += T
            progress?(w + 1, starts.count)
        }
        return result
    }

    /// Token ids stored as little-endian uint16, one after another (what tools/train/prepare.py
    /// writes as heldout.bin).
    public static func readUInt16Tokens(path: String) throws -> [Int] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError.invalidArgument(field: "tokens", reason: "cannot read \(path)")
        }
        guard data.count % 2 == 0 else {
            throw EngineError.invalidArgument(field: "tokens", reason: "\(path): \(data.count) bytes is not a whole number of uint16 ids")
        }
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 2)).map { Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        }
    }
}
