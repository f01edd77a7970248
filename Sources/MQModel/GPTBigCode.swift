// GPTBigCode (StarCoder, SantaCoder, tiny_starcoder): Hugging Face `model_type: gpt_bigcode`.
//
// Shapes: T = tokens in the step, E = n_embd, H = n_head, D = E / H, KVH = 1 (multi_query) or H,
//         KV = KVH · D, I = n_inner (null → 4E), V = vocab, P = n_positions.
// Block (pre-LayerNorm):  x = x + c_proj(attn(ln_1(x)));  x = x + mlp(ln_2(x))
//                         mlp(h) = c_proj(gelu_tanh(c_fc(h)))
// Head: logits = ln_f(x) · wteᵀ (tied) or · lm_headᵀ.
// c_attn rows come in two layouts: multi_query: [Q (E rows) | K (D) | V (D)];
// multi-head: per head h, [q_h | k_h | v_h] (D rows each), which is NOT GPT-2's layout.
// Both are rearranged at load time into [Q (H·D) | K (KV) | V (KV)] so one attention path serves all.
import Foundation
import MQCheckpoint
import MQKernels

public struct GPTBigCodeConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var heads: Int
    public var layers: Int
    public var positions: Int
    public var intermediateSize: Int
    public var vocabSize: Int
    public var layerNormEpsilon: Float
    public var multiQuery: Bool
    public var activation: Activation
    public var scaleAttentionWeights: Bool
    public var tieWordEmbeddings: Bool
    public var eosTokenIds: [Int]
    public var bosTokenId: Int?

    public var headDim: Int { hiddenSize / heads }
    public var kvHeads: Int { multiQuery ? 1 : heads }

    public init(_ c: ModelConfigFile) throws {
        let type = try c.string("model_type", default: "")
        guard type == "gpt_bigcode" else {
            throw CheckpointError.unsupportedModel(file: c.path, reason: "model_type \"\(type)\" is not gpt_bigcode")
        }
        hiddenSize = try c.int("n_embd", "hidden_size")
        heads = try c.int("n_head", "num_attention_heads")
        layers = try c.int("n_layer", "num_hidden_layers")
        positions = try c.int("n_positions", "max_position_embeddings")
        intermediateSize = try c.optionalInt("n_inner", "intermediate_size") ?? 4 * hiddenSize
        vocabSize = try c.int("vocab_size")
        layerNormEpsilon = Float(try c.double("layer_norm_epsilon", "layer_norm_eps", default: 1e-5))
        multiQuery = try c.bool("multi_query", default: true)
        let act = try c.string("activation_function", "hidden_act", default: "gelu_pytorch_tanh")
        guard let a = Activation(huggingFaceName: act) else {
            throw CheckpointError.badConfig(file: c.path, key: "activation_function", reason: "unsupported activation \"\(act)\"")
        }
        activation = a
        scaleAttentionWeights = try c.bool("scale_attn_weights", default: true)
        tieWordEmbeddings = try c.bool("tie_word_embeddings", default: true)
        eosTokenIds = try c.intList("eos_token_id")
        bosTokenId = try c.optionalInt("bos_token_id")
        for (k, v) in [("n_embd", hiddenSize), ("n_head", heads), ("n_layer", layers), ("n_positions", positions),
                       ("n_inner", intermediateSize), ("vocab_size", vocabSize)] where v <= 0 {
            throw CheckpointError.badConfig(file: c.path, key: k, reason: "must be positive, found \(v)")
        }
        guard hiddenSize % heads == 0 else {
            throw CheckpointError.badConfig(file: c.path, key: "n_head", reason: "n_embd \(hiddenSize) is not divisible by n_head \(heads)")
        }
    }

    public var shape: ModelShape {
        ModelShape(architecture: "gpt_bigcode", hiddenSize: hiddenSize, heads: heads, kvHeads: kvHeads,
                   headDim: headDim, layers: layers, intermediateSize: intermediateSize, vocabSize: vocabSize,
                   maxPositions: positions, eosTokenIds: eosTokenIds, bosTokenId: bosTokenId)
    }
}

public final class GPTBigCode: DecoderModel {
    public let config: GPTBigCodeConfig
    public let shape: ModelShape
    public let layerRange: Range<Int>
    /// Weights (matrices packed for MQKernels' linear) and the shared block math.
    let stack: GPTStack

    /// Loads `layers` (default: all) and, if asked, the embeddings and/or the final norm and head;
    /// steps run with `compute`.
    public init(checkpoint: Checkpoint, layers: Range<Int>? = nil, embedding: Bool = true, head wantHead: Bool = true,
                compute: ComputeContext) throws {
        let config = try GPTBigCodeConfig(checkpoint.config)
        self.config = config
        shape = config.shape
        let range = layers ?? 0..<config.layers
        guard range.lowerBound >= 0, range.upperBound <= config.layers else {
            throw CheckpointError.badConfig(file: checkpoint.config.path, key: "n_layer",
                                            reason: "layer range \(range) outside the model's \(config.layers) layers")
        }
        layerRange = range
        let E = config.hiddenSize, I = config.intermediateSize, V = config.vocabSize, P = config.positions
        let KV = config.kvHeads * config.headDim
        // Head and embedding rows are packed from the checkpoint's bytes (a tied pair once).
        let finalNorm: LayerNormWeights?, head: PackedWeight?
        if wantHead {
            finalNorm = try LayerNormWeights(checkpoint, "transformer.ln_f", width: E)
            head = PackedWeight(try checkpoint.raw(config.tieWordEmbeddings ? "transformer.wte.weight" : "lm_head.weight", shape: [V, E]))
        } else {
            finalNorm = nil
            head = nil
        }
        let wte = embedding
            ? try TokenRows.load(checkpoint, "transformer.wte.weight", vocab: V, hidden: E, head: head, tied: config.tieWordEmbeddings) : nil
        let wpe = embedding ? try checkpoint.load("transformer.wpe.weight", shape: [P, E]) : nil
        var blocks: [GPTStack.Layer] = []
        for i in range {
            let prefix = "transformer.h.\(i)."
            var qkvW = try checkpoint.load(prefix + "attn.c_attn.weight", shape: [E + 2 * KV, E])
            var qkvB = try checkpoint.load(prefix + "attn.c_attn.bias", shape: [E + 2 * KV])
            if !config.multiQuery {
                qkvW = Self.regroupMultiHead(qkvW, heads: config.heads, headDim: config.headDim, columns: E)
                qkvB = Self.regroupMultiHead(qkvB, heads: config.heads, headDim: config.headDim, columns: 1)
            }
            blocks.append(GPTStack.Layer(
                ln1: try LayerNormWeights(checkpoint, prefix + "ln_1", width: E),
                qkvW: PackedWeight(qkvW), qkvB: qkvB,
                projW: PackedWeight(try checkpoint.raw(prefix + "attn.c_proj.weight", shape: [E, E])),
                projB: try checkpoint.load(prefix + "attn.c_proj.bias", shape: [E]),
                ln2: try LayerNormWeights(checkpoint, prefix + "ln_2", width: E),
                fcW: PackedWeight(try checkpoint.raw(prefix + "mlp.c_fc.weight", shape: [I, E])),
                fcB: try checkpoint.load(prefix + "mlp.c_fc.bias", shape: [I]),
                fc2W: PackedWeight(try checkpoint.raw(prefix + "mlp.c_proj.weight", shape: [E, I])),
                fc2B: try checkpoint.load(prefix + "mlp.c_proj.bias", shape: [E])))
        }
        stack = GPTStack(
            dims: .init(hidden: E, heads: config.heads, kvHeads: config.kvHeads, headDim: config.headDim, intermediate: I, vocab: V,
                        positions: P, layerNormEpsilon: config.layerNormEpsilon, activation: config.activation,
                        scaleAttentionWeights: config.scaleAttentionWeights, scaleByInverseLayer: false),
            layerRange: range, wte: wte, wpe: wpe, finalNorm: finalNorm, head: head, blocks: blocks, compute: compute)
    }

    /// Rows [q_h | k_h | v_h] per head (D rows each) → [all q | all k | all v]. `columns` = row length.
    static func regroupMultiHead(_ t: FloatTensor, heads h: Int, headDim d: Int, columns n: Int) -> FloatTensor {
        let out = UnsafeMutablePointer<Float>.allocate(capacity: t.count)
        let src = t.pointer
        for head in 0..<h {
            for part in 0..<3 {         // 0 = q, 1 = k, 2 = v
                let from = src + (head * 3 * d + part * d) * n      // rows of this head's part
                let to = out + (part * h * d + head * d) * n
                to.update(from: from, count: d * n)
            }
        }
        return FloatTensor(name: t.name, shape: t.shape, owned: out, sourceDType: t.sourceDType)
    }

    public var compute: ComputeContext { stack.compute }
    public var taps: ActivationTaps? {
        get { stack.taps }
        set { stack.taps = newValue }
    }
    public var hasEmbedding: Bool { stack.hasEmbedding }
    public var hasHead: Bool { stack.hasHead }
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
