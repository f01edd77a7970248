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

/// GPTBigCode's config: the GPT family's shared fields (read as `config.hiddenSize` etc.) and multi_query.
@dynamicMemberLookup
public struct GPTBigCodeConfig: Sendable, Equatable {
    public var family: GPTFamilyConfig
    public var multiQuery: Bool

    public subscript<T>(dynamicMember field: WritableKeyPath<GPTFamilyConfig, T>) -> T {
        get { family[keyPath: field] }
        set { family[keyPath: field] = newValue }
    }

    public var headDim: Int { family.headDim }
    public var kvHeads: Int { multiQuery ? 1 : family.heads }

    public init(_ file: ModelConfigFile) throws {
        family = try GPTFamilyConfig(file, modelType: "gpt_bigcode", defaultActivation: "gelu_pytorch_tanh", genericKeys: true)
        multiQuery = try file.bool("multi_query", default: true)
    }

    public var shape: ModelShape { family.shape(architecture: "gpt_bigcode", kvHeads: kvHeads) }
}

public final class GPTBigCode: GPTStackModel {
    public let config: GPTBigCodeConfig

    /// Loads `layers` (default: all) and, if asked, the embeddings and/or the final norm and head;
    /// steps run with `compute`.
    public init(checkpoint: Checkpoint, layers: Range<Int>? = nil, embedding: Bool = true, head wantHead: Bool = true,
                compute: ComputeContext, weights: WeightPrecision = .stored) throws {
        let config = try GPTBigCodeConfig(checkpoint.config)
        self.config = config
        let range = try config.family.layerRange(layers, file: checkpoint.config.path)
        let E = config.hiddenSize, I = config.intermediateSize, V = config.vocabSize, P = config.positions
        let KV = config.kvHeads * config.headDim
        // Head and embedding rows are packed from the checkpoint's bytes (a tied pair once).
        let matrices = MatrixLoader(precision: weights, threads: compute.threads)
        let finalNorm: LayerNormWeights?, head: (any LinearWeights)?
        if wantHead {
            finalNorm = try LayerNormWeights(checkpoint, "transformer.ln_f", width: E)
            head = matrices(try checkpoint.raw(config.tieWordEmbeddings ? "transformer.wte.weight" : "lm_head.weight", shape: [V, E]))
        } else {
            finalNorm = nil
            head = nil
        }
        let wte = embedding
            ? try TokenRows.load(checkpoint, "transformer.wte.weight", vocab: V, hidden: E, head: head, tied: config.tieWordEmbeddings, matrices: matrices) : nil
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
                qkvW: matrices(qkvW), qkvB: qkvB,
                projW: matrices(try checkpoint.raw(prefix + "attn.c_proj.weight", shape: [E, E])),
                projB: try checkpoint.load(prefix + "attn.c_proj.bias", shape: [E]),
                ln2: try LayerNormWeights(checkpoint, prefix + "ln_2", width: E),
                fcW: matrices(try checkpoint.raw(prefix + "mlp.c_fc.weight", shape: [I, E])),
                fcB: try checkpoint.load(prefix + "mlp.c_fc.bias", shape: [I]),
                fc2W: matrices(try checkpoint.raw(prefix + "mlp.c_proj.weight", shape: [E, I])),
                fc2B: try checkpoint.load(prefix + "mlp.c_proj.bias", shape: [E])))
        }
        let stack = GPTStack(
            dims: .init(config.family, kvHeads: config.kvHeads, scaleByInverseLayer: false),
            layerRange: range, wte: wte, wpe: wpe, finalNorm: finalNorm, head: head, blocks: blocks, compute: compute)
        super.init(shape: config.shape, stack: stack)
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
}
