// The two ends every architecture shares: token embedding rows in, and the final LayerNorm plus LM
// head out. GPTStack (GPT-2, GPTBigCode) adds learned positions after the lookup; Falcon does not
// (its positions are rotary, applied in attention).
//
// Shapes: T = tokens in the step, E = hidden size, V = vocab, R = rows asked for logits.
import MQCheckpoint
import MQKernels

/// hidden[T, E] = row `token` of `rows` for each token, after checking tokens against the vocabulary
/// and positions against `positions`.
func embedTokens(_ tokens: [StepToken], _ rows: TokenRows, vocab: Int, positions: Int, width E: Int,
                 into hidden: UnsafeMutablePointer<Float>) throws {
    for (t, tok) in tokens.enumerated() {
        guard tok.token >= 0 && tok.token < vocab else {
            throw ModelError.tokenOutOfRange(token: tok.token, vocab: vocab)
        }
        guard tok.position >= 0 && tok.position < positions else {
            throw ModelError.positionOutOfRange(sequence: tok.sequence, position: tok.position, max: positions)
        }
        rows.copy(tok.token, into: hidden + t * E, width: E)
    }
}

/// logits[R, V] = finalNorm(hidden[rows]) · headᵀ; records the final_norm and logits taps.
func headLogits(hidden: UnsafePointer<Float>, rows: [Int], finalNorm: LayerNormWeights, head: any LinearWeights,
                width E: Int, vocab V: Int, eps: Float, work: Workspace, taps: ActivationTaps?, compute: ComputeContext,
                into logits: UnsafeMutablePointer<Float>) {
    let R = rows.count
    let normed = work.floats(.logitsRows, R * E)   // [R, E]
    for (r, row) in rows.enumerated() {
        layerNorm(hidden + row * E, finalNorm.weight.pointer, finalNorm.bias.pointer, normed + r * E, tokens: 1, channels: E, eps: eps)
    }
    taps?.record(ActivationTaps.finalNorm, normed, rows: R, width: E)
    linear(normed, head, nil, logits, tokens: R, compute: compute)
    taps?.record(ActivationTaps.logits, logits, rows: R, width: V)
}
