// GPT-2 layout: SantaCoder's original checkpoints (`GPT2LMHeadCustomModel`, `model_type: gpt2` with
// `attention_head_type: multiquery`, as bigcode/santacoder and its fine-tunes were first published),
// and plain GPT-2 (`attention_head_type` absent or `multihead`). Same block as GPTBigCode; what
// differs is how the weights are stored.
//
// Shapes: T = tokens in the step, E = n_embd, H = n_head, D = E / H, KVH = 1 (multiquery) or H,
//         KV = KVH · D, I = n_inner (null → 4E), V = vocab, P = n_positions.
// Block (pre-LayerNorm):  x = x + c_proj(attn(ln_1(x)));  x = x + mlp(ln_2(x))
//                         mlp(h) = c_proj(act(c_fc(h))),  act = activation_function (gelu_new by default)
// Attention scale 1/√D (scale_attn_weights), also divided by (layer + 1) if scale_attn_by_inverse_layer_idx.
// Head: logits = ln_f(x) · wteᵀ (tied, the default) or · lm_headᵀ.
// Storage: GPT-2's Conv1D keeps weights as [in, out], the transpose of nn.Linear's [out, in]; every
// matrix is transposed at load time. Attention comes in two layouts, told apart by tensor names:
//   fused: attn.c_attn.weight [E, H·D + 2·KV], columns [Q | K | V];
//   split: attn.q_attn.weight [E, E] and attn.kv_attn.weight [E, 2·KV], columns [K | V]
//          (SantaCoder's first upload and Megatron's converter).
// Both become rows [Q | K | V] of one [H·D + 2·KV, E] matrix, the layout AttentionStep reads.
// Tensor names carry a `transformer.` prefix (transformers' save_pretrained) or none (OpenAI's GPT-2).
import Foundation
import MQCheckpoint
import MQKernels

/// GPT-2's config: the GPT family's shared fields (read as `config.hiddenSize` etc.) and GPT-2's own keys.
@dynamicMemberLookup
public struct GPT2Config: Sendable, Equatable {
    public var family: GPTFamilyConfig
    public var multiQuery: Bool
    public var scaleByInverseLayer: Bool

    public subscript<T>(dynamicMember field: WritableKeyPath<GPTFamilyConfig, T>) -> T {
        get { family[keyPath: field] }
        set { family[keyPath: field] = newValue }
    }

    public var headDim: Int { family.headDim }
    public var kvHeads: Int { multiQuery ? 1 : family.heads }
    /// "gpt2-santacoder" for the multi-query layout, "gpt2" for plain GPT-2.
    public var architecture: String { multiQuery ? "gpt2-santacoder" : "gpt2" }

    public init(_ file: ModelConfigFile) throws {
        family = try GPTFamilyConfig(file, modelType: "gpt2", defaultActivation: "gelu_new", genericKeys: false)
        let headType = try file.string("attention_head_type", default: "multihead")
        switch headType {
        case "multiquery": multiQuery = true
        case "multihead": multiQuery = false
        default:
            throw CheckpointError.badConfig(file: file.path, key: "attention_head_type",
                                            reason: "\"\(headType)\" is neither \"multiquery\" nor \"multihead\"")
        }
        scaleByInverseLayer = try file.bool("scale_attn_by_inverse_layer_idx", default: false)
        if try file.bool("add_cross_attention", default: false) {
            throw CheckpointError.unsupportedModel(file: file.path, reason: "add_cross_attention: true (an encoder-decoder GPT-2) is not supported")
        }
    }

    public var shape: ModelShape { family.shape(architecture: architecture, kvHeads: kvHeads) }
}

public final class GPT2: GPTStackModel {
    /// How a checkpoint stores each layer's attention input projection.
    public enum AttentionLayout: String, Sendable, Equatable {
        case fused   // attn.c_attn
        case split   // attn.q_attn + attn.kv_attn
    }

    public let config: GPT2Config
    /// The attention layout found in the checkpoint (of the first loaded layer; all must agree).
    public let attentionLayout: AttentionLayout?

    /// Loads `layers` (default: all) and, if asked, the embeddings and/or the final norm and head;
    /// steps run with `compute`.
    public init(checkpoint: Checkpoint, layers: Range<Int>? = nil, embedding: Bool = true, head wantHead: Bool = true,
                compute: ComputeContext, weights: WeightPrecision = .stored) throws {
        let config = try GPT2Config(checkpoint.config)
        self.config = config
        let range = try config.family.layerRange(layers, file: checkpoint.config.path)
        let E = config.hiddenSize, I = config.intermediateSize, V = config.vocabSize, P = config.positions
        let KV = config.kvHeads * config.headDim
        // transformers writes "transformer.wte.weight"; OpenAI's GPT-2 files have bare "wte.weight".
        let root = checkpoint.has("transformer.wte.weight") || !checkpoint.has("wte.weight") ? "transformer." : ""
        // Head and embedding rows are packed from the checkpoint's bytes (a tied pair once).
        let matrices = MatrixLoader(precision: weights, threads: compute.threads)
        let finalNorm: LayerNormWeights?, head: (any LinearWeights)?
        if wantHead {
            finalNorm = try LayerNormWeights(checkpoint, root + "ln_f", width: E)
            head = matrices(try checkpoint.raw(config.tieWordEmbeddings ? root + "wte.weight" : "lm_head.weight", shape: [V, E]))
        } else {
            finalNorm = nil
            head = nil
        }
        let wte = embedding
            ? try TokenRows.load(checkpoint, root + "wte.weight", vocab: V, hidden: E, head: head, tied: config.tieWordEmbeddings, matrices: matrices) : nil
        let wpe = embedding ? try checkpoint.load(root + "wpe.weight", shape: [P, E]) : nil
        /// A Conv1D weight [in, out] as a Linear weight [out, in].
        func conv1D(_ name: String, in n: Int, out m: Int) throws -> FloatTensor {
            Self.transposed(try checkpoint.load(name, shape: [n, m]))
        }
        var layout: AttentionLayout? = nil
        var blocks: [GPTStack.Layer] = []
        for i in range {
            let prefix = root + "h.\(i)."
            let found: AttentionLayout
            if checkpoint.has(prefix + "attn.c_attn.weight") { found = .fused }
            else if checkpoint.has(prefix + "attn.q_attn.weight") && checkpoint.has(prefix + "attn.kv_attn.weight") { found = .split }
            else {
                throw CheckpointError.missingTensor(name: prefix + "attn.c_attn.weight (or attn.q_attn.weight + attn.kv_attn.weight)",
                                                   directory: checkpoint.directory.path)
            }
            if let layout, layout != found {
                throw CheckpointError.unsupportedModel(file: checkpoint.config.path,
                                                       reason: "layer \(i) stores attention as \(found.rawValue), earlier layers as \(layout.rawValue)")
            }
            layout = found
            let qkvW: FloatTensor, qkvB: FloatTensor
            switch found {
            case .fused:
                qkvW = try conv1D(prefix + "attn.c_attn.weight", in: E, out: E + 2 * KV)
                qkvB = try checkpoint.load(prefix + "attn.c_attn.bias", shape: [E + 2 * KV])
            case .split:
                // Rows [Q | K | V]: q_attn's transpose on top of kv_attn's.
                let q = try checkpoint.load(prefix + "attn.q_attn.weight", shape: [E, E])
                let kv = try checkpoint.load(prefix + "attn.kv_attn.weight", shape: [E, 2 * KV])
                qkvW = Self.transposedStack([q, kv], rows: E, name: prefix + "attn.q_attn+kv_attn.weight")
                let qBias = try checkpoint.load(prefix + "attn.q_attn.bias", shape: [E])
                let kvBias = try checkpoint.load(prefix + "attn.kv_attn.bias", shape: [2 * KV])
                qkvB = Self.concatenated([qBias, kvBias], name: prefix + "attn.q_attn+kv_attn.bias")
            }
            blocks.append(GPTStack.Layer(
                ln1: try LayerNormWeights(checkpoint, prefix + "ln_1", width: E),
                qkvW: matrices(qkvW), qkvB: qkvB,
                projW: matrices(try conv1D(prefix + "attn.c_proj.weight", in: E, out: E)),
                projB: try checkpoint.load(prefix + "attn.c_proj.bias", shape: [E]),
                ln2: try LayerNormWeights(checkpoint, prefix + "ln_2", width: E),
                fcW: matrices(try conv1D(prefix + "mlp.c_fc.weight", in: E, out: I)),
                fcB: try checkpoint.load(prefix + "mlp.c_fc.bias", shape: [I]),
                fc2W: matrices(try conv1D(prefix + "mlp.c_proj.weight", in: I, out: E)),
                fc2B: try checkpoint.load(prefix + "mlp.c_proj.bias", shape: [E])))
        }
        let stack = GPTStack(
            dims: .init(config.family, kvHeads: config.kvHeads, scaleByInverseLayer: config.scaleByInverseLayer),
            layerRange: range, wte: wte, wpe: wpe, finalNorm: finalNorm, head: head, blocks: blocks, compute: compute)
        attentionLayout = layout
        super.init(shape: config.shape, stack: stack)
    }

    /// t[N, M] → [M, N] (owned copy).
    static func transposed(_ t: FloatTensor) -> FloatTensor {
        let n = t.shape[0], m = t.shape[1]
        let out = UnsafeMutablePointer<Float>.allocate(capacity: n * m)
        transpose(t.pointer, rows: n, columns: m, into: out)
        return FloatTensor(name: t.name, shape: [m, n], owned: out, sourceDType: t.sourceDType)
    }

    /// Tensors [N, Mᵢ] sharing N = `rows` → [Σ Mᵢ, N]: each transposed, stacked in order.
    static func transposedStack(_ ts: [FloatTensor], rows n: Int, name: String) -> FloatTensor {
        let total = ts.reduce(0) { $0 + $1.shape[1] }
        let out = UnsafeMutablePointer<Float>.allocate(capacity: total * n)
        var at = out
        for t in ts {
            transpose(t.pointer, rows: n, columns: t.shape[1], into: at)
            at += t.shape[1] * n
        }
        return FloatTensor(name: name, shape: [total, n], owned: out, sourceDType: ts[0].sourceDType)
    }

    static func concatenated(_ ts: [FloatTensor], name: String) -> FloatTensor {
        let total = ts.reduce(0) { $0 + $1.count }
        let out = UnsafeMutablePointer<Float>.allocate(capacity: total)
        var at = out
        for t in ts { at.update(from: t.pointer, count: t.count); at += t.count }
        return FloatTensor(name: name, shape: [total], owned: out, sourceDType: ts[0].sourceDType)
    }

    /// dst[M, N] = src[N, M]ᵀ, in tiles so both sides stay in cache for large matrices.
    static func transpose(_ src: UnsafePointer<Float>, rows n: Int, columns m: Int, into dst: UnsafeMutablePointer<Float>) {
        let tile = 32
        for r0 in stride(from: 0, to: n, by: tile) {
            for c0 in stride(from: 0, to: m, by: tile) {
                for r in r0..<min(r0 + tile, n) {
                    for c in c0..<min(c0 + tile, m) { dst[c * n + r] = src[r * m + c] }
                }
            }
        }
    }
}
