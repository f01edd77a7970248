// Prompt log probabilities ("echo" scoring): while a prompt is prefilled, the log probability of
// each prompt token after the first under the model's own softmax at temperature 1, and optionally
// the most likely alternatives at each of those positions. The prefill may come in chunks (one
// call per chunk, in order): the last row of a chunk predicts the first token of the next, so that
// row's logits wait in `pending` until the next chunk names its token.
//
// Shapes: V = vocabSize, n = tokens in a chunk, B = rowsPerBlock.
//   logits of a block   [B, V]   raw logits of up to B of the chunk's rows, written by the caller
//   pending             [V]      logits of the previous chunk's last row (empty at the start)
// Memory: a prompt's logits [n, V] are never held at once; the caller computes them B rows at a
// time into a scratch of B · V floats (49,152 vocab: 3 MiB), whatever the prompt's length.
import Foundation

public struct PromptScorer: Sendable {
    /// Rows whose logits are computed per call of the caller's closure.
    public static let rowsPerBlock = 16

    public let vocabSize: Int
    /// Alternatives reported per position (0: none).
    public let topCount: Int
    /// logprobs[i]: natural log of p(prompt[i + 1] | prompt[...i]).
    public private(set) var logprobs: [Float] = []
    /// topLogprobs[i]: the `topCount` most likely tokens at that position (empty when topCount is 0).
    public private(set) var topLogprobs: [[TokenLogprob]] = []
    /// Tokens scored so far, the first one included.
    public private(set) var tokensSeen = 0
    private var pending: [Float] = []
    private var topScratch: [UInt64]

    public init(vocabSize: Int, topCount: Int) {
        self.vocabSize = vocabSize
        self.topCount = max(0, topCount)
        topScratch = Array(repeating: 0, count: max(1, topCount))
    }

    /// Floats the caller's scratch must hold for a chunk of `tokens` tokens.
    public static func scratchFloats(tokens: Int, vocabSize: Int) -> Int { min(rowsPerBlock, max(1, tokens)) * vocabSize }

    /// Scores one chunk of the prompt, in order after the previous ones. `final`: the chunk ends the
    /// prompt (its last row predicts a token outside it and is not computed here). `logits(rows,
    /// into)` writes the raw logits of the chunk's rows `rows` (chunk-relative, at most
    /// `rowsPerBlock`) as [rows.count, V] into `into`, which is `scratch` (at least
    /// `scratchFloats(tokens:vocabSize:)` floats).
    public mutating func score(chunk tokens: [Int], final: Bool, scratch: UnsafeMutablePointer<Float>,
                               logits: (Range<Int>, UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        let n = tokens.count, V = vocabSize
        guard n > 0 else { return }
        if !pending.isEmpty {
            pending.withUnsafeBufferPointer { scoreRow($0, target: tokens[0]) }
            pending = []
        }
        tokensSeen += n
        let computed = final ? n - 1 : n        // rows 0..<n-1 predict tokens[1...]; row n-1 the next chunk
        var start = 0
        while start < computed {
            let end = min(start + Self.rowsPerBlock, computed)
            try logits(start..<end, scratch)
            for r in start..<end {
                let row = UnsafeBufferPointer(start: scratch + (r - start) * V, count: V)
                if r + 1 < n { scoreRow(row, target: tokens[r + 1]) } else { pending = Array(row) }
            }
            start = end
        }
    }

    private mutating func scoreRow(_ row: UnsafeBufferPointer<Float>, target: Int) {
        let normalizer = LogNormalizer(row)
        logprobs.append(row.indices.contains(target) ? normalizer.logprob(row[target]) : -.infinity)
        if topCount > 0 {
            let top = topScratch.withUnsafeMutableBufferPointer {
                bestLogprobs(row: row, normalizer: normalizer, count: topCount, scratch: $0.baseAddress)
            }
            topLogprobs.append(top)
        }
    }
}
