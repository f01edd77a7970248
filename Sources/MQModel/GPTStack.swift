// The decoder stack GPTBigCode and GPT-2 (SantaCoder's original layout) share once loaded: learned
// position embeddings, pre-LayerNorm blocks with attention then a two-layer MLP, final norm and a
// (usually tied) head. The architecture files differ only in how they read and arrange weights.
//
// Shapes: T = tokens in the step, E = hidden size, H = heads, D = head dim, KVH = KV heads,
//         KV = KVH · D, I = MLP width, V = vocab, P = positions.
// Block:  x = x + c_proj(attn(ln_1(x)));  x = x + c_proj(act(c_fc(ln_2(x))))
// Weights are nn.Linear-shaped [out, in], packed at load; qkv rows are [Q (H·D) | K (KV) | V (KV)].
import MQCheckpoint
import MQKernels

final class GPTStack {
    struct Layer {
        var ln1: LayerNormWeights
        var qkvW: any LinearWeights, qkvB: FloatTensor
        var projW: any LinearWeights, projB: FloatTensor
        var ln2: LayerNormWeights
        var fcW: any LinearWeights, fcB: FloatTensor
        var fc2W: any LinearWeights, fc2B: FloatTensor
        var byteCount: Int {
            ln1.byteCount + ln2.byteCount + [qkvB, projB, fcB, fc2B].reduce(0) { $0 + $1.byteCount }
                + [qkvW, projW, fcW, fc2W].reduce(0) { $0 + $1.byteCount }
        }
    }

    struct Dimensions {
        var hidden, heads, kvHeads, headDim, intermediate, vocab, positions: Int
        var layerNormEpsilon: Float
        var activation: Activation
        var scaleAttentionWeights: Bool
        /// GPT-2's scale_attn_by_inverse_layer_idx: the attention scale is also divided by layer + 1.
        var scaleByInverseLayer: Bool
    }

    let dims: Dimensions
    let layerRange: Range<Int>
    let wte: TokenRows?        // [V, E] rows: a table, or the tied head when it is loaded too
    let wpe: FloatTensor?      // [P, E]
    let finalNorm: LayerNormWeights?   // ln_f
    let head: (any LinearWeights)?    // [V, E]
    let blocks: [Layer]        // blocks[i] is global layer layerRange.lowerBound + i
    let compute: ComputeContext
    /// Named intermediates are copied here when set (ActivationTaps).
    var taps: ActivationTaps?
    private let work = Workspace()

    init(dims: Dimensions, layerRange: Range<Int>, wte: TokenRows?, wpe: FloatTensor?,
         finalNorm: LayerNormWeights?, head: (any LinearWeights)?, blocks: [Layer], compute: ComputeContext) {
        self.dims = dims; self.layerRange = layerRange; self.wpe = wpe; self.compute = compute
        self.finalNorm = finalNorm; self.blocks = blocks
        self.head = head
        self.wte = wte
    }

    var hasEmbedding: Bool { wte != nil && wpe != nil }
    var hasHead: Bool { head != nil }
    /// The format of the matrices (the first layer's, else the head's or the embedding table's).
    var weightFormat: WeightFormat? { blocks.first?.qkvW.format ?? head?.format ?? wte?.format }

    var weightBytesLoaded: Int {
        blocks.reduce(0) { $0 + $1.byteCount } + (wpe?.byteCount ?? 0) + (finalNorm?.byteCount ?? 0)
            + (wte?.byteCount ?? 0) + (head?.byteCount ?? 0)
    }

    var weightBytesPerToken: Int {
        var n = blocks.reduce(0) { $0 + $1.byteCount }
        if let head, let finalNorm { n += head.byteCount + finalNorm.byteCount }
        if hasEmbedding { n += 2 * dims.hidden * 4 }   // one row of wte and one of wpe
        return n
    }

    func embed(_ tokens: [StepToken], into hidden: UnsafeMutablePointer<Float>) throws {
        guard let wte, let wpe else { throw ModelError.notLoaded("the embeddings") }
        let E = dims.hidden
        try embedTokens(tokens, wte, vocab: dims.vocab, positions: dims.positions, width: E, into: hidden)
        for (t, tok) in tokens.enumerated() { addInPlace(hidden + t * E, wpe.pointer + tok.position * E, count: E) }
        taps?.record(ActivationTaps.embed, hidden, rows: tokens.count, width: E)
    }

    func forward(_ tokens: [StepToken], hidden x: UnsafeMutablePointer<Float>, cache: KVCache) throws {
        let T = tokens.count
        guard T > 0 else { throw ModelError.emptyStep }
        let E = dims.hidden, I = dims.intermediate, H = dims.heads, D = dims.headDim
        let KVH = dims.kvHeads, KV = KVH * D, QKV = H * D + 2 * KV
        try AttentionStep.validate(tokens, cache: cache, maxPositions: dims.positions)
        let baseScale: Float = dims.scaleAttentionWeights ? 1 / Float(D).squareRoot() : 1
        let normed = work.floats(.normed, T * E)    // [T, E]
        let qkv = work.floats(.qkv, T * QKV)        // [T, H·D + 2·KV]
        let attn = work.floats(.attn, T * E)        // [T, E]
        let proj = work.floats(.proj, T * E)        // [T, E]
        let mlp = work.floats(.mlp, T * I)          // [T, I]
        for (i, w) in blocks.enumerated() {
            let layer = layerRange.lowerBound + i
            let scale = dims.scaleByInverseLayer ? baseScale / Float(layer + 1) : baseScale
            // attention
            layerNorm(x, w.ln1.weight.pointer, w.ln1.bias.pointer, normed, tokens: T, channels: E, eps: dims.layerNormEpsilon)
            linear(normed, w.qkvW, w.qkvB.pointer, qkv, tokens: T, compute: compute)
            try AttentionStep.run(tokens, qkv: qkv, qkvStride: QKV, heads: H, kvHeads: KVH, headDim: D,
                                  layer: layer, cache: cache, scale: scale, work: work, compute: compute, out: attn)
            linear(attn, w.projW, w.projB.pointer, proj, tokens: T, compute: compute)
            if let taps { taps.record(ActivationTaps.attnOut(layer), proj, rows: T, width: E) }
            addInPlace(x, proj, count: T * E)
            // MLP
            layerNorm(x, w.ln2.weight.pointer, w.ln2.bias.pointer, normed, tokens: T, channels: E, eps: dims.layerNormEpsilon)
            linear(normed, w.fcW, w.fcB.pointer, mlp, tokens: T, compute: compute)
            dims.activation.apply(mlp, count: T * I)
            linear(mlp, w.fc2W, w.fc2B.pointer, proj, tokens: T, compute: compute)
            addInPlace(x, proj, count: T * E)
            if let taps { taps.record(ActivationTaps.blockOut(layer), x, rows: T, width: E) }
        }
        AttentionStep.commitLengths(tokens, cache: cache)
    }

    func logits(hidden: UnsafePointer<Float>, rows: [Int], into logits: UnsafeMutablePointer<Float>) throws {
        guard let head, let finalNorm else { throw ModelError.notLoaded("the final norm and LM head") }
        headLogits(hidden: hidden, rows: rows, finalNorm: finalNorm, head: head, width: dims.hidden, vocab: dims.vocab,
                   eps: dims.layerNormEpsilon, work: work, taps: taps, compute: compute, into: logits)
    }
}

/// What GPT2 and GPTBigCode share once loaded: a DecoderModel whose steps all run through one
/// GPTStack. Each architecture file only reads and arranges its checkpoint's weights into the
/// stack and hands it here.
public class GPTStackModel: DecoderModel {
    public let shape: ModelShape
    /// Weights (matrices packed for MQKernels' linear) and the shared block math.
    let stack: GPTStack

    init(shape: ModelShape, stack: GPTStack) {
        self.shape = shape
        self.stack = stack
    }

    public var layerRange: Range<Int> { stack.layerRange }
    public var compute: ComputeContext { stack.compute }
    public var taps: ActivationTaps? {
        get { stack.taps }
        set { stack.taps = newValue }
    }
    public var hasEmbedding: Bool { stack.hasEmbedding }
    public var hasHead: Bool { stack.hasHead }
    public var weightFormat: WeightFormat? { stack.weightFormat }
    public var weightBytesLoaded: Int { stack.weightBytesLoaded }
    public var weightBytesPerToken: Int { stack.weightBytesPerToken }

    public func embed(_ tokens: [StepToken], into hidden: UnsafeMutablePointer<Float>) throws {
        try stack.embed(tokens, into: hidden)
    }

    public func forward(_ tokens: [StepToken], hidden x: UnsafeMutablePointer<Float>, cache: KVCache) throws {
        try stack.forward(tokens, hidden: x, cache: cache)
    }

    public func logits(hidden: UnsafePointer<Float>, rows: [Int], into logits: UnsafeMutablePointer<Float>) throws {
        try stack.logits(hidden: hidden, rows: rows, into: logits)
    }
}
