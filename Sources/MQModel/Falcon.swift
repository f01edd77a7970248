// Falcon (Falcon-7B, Falcon-40B and their fine-tunes): Hugging Face `model_type: falcon`, and the
// older RefinedWeb configs (`RefinedWebModel` = 7B style, `RefinedWeb` = 40B style) with `n_head`,
// `n_head_kv`, `n_layer`. Semantics follow transformers' modeling_falcon.py.
//
// Shapes: T = tokens in the step, E = hidden_size, H = heads, D = E / H, KVH = KV heads,
//         KV = KVH · D, F = ffn_hidden_size (null → 4E), V = vocab, P = max_position_embeddings.
// KV heads: new_decoder_architecture → num_kv_heads (g); else multi_query → 1 (num_kv_heads is
//           ignored, as transformers ignores it); else H.
// Blocks (every matrix optionally with a bias, `bias` in the config; rotary on q and k, no position
// embedding; attention scale 1/√D; mlp(h) = dense_4h_to_h(gelu_erf(dense_h_to_4h(h)))):
//   parallel, one norm (7B):      h = input_layernorm(x);           x = x + (mlp(h) + attn(h))
//   parallel, two norms (40B):    x = x + (mlp(ln_mlp(x)) + attn(ln_attn(x)))
//   sequential (parallel_attn false):
//                                 x = x + attn(input_layernorm(x)); x = x + mlp(post_attention_layernorm(x))
// Head: logits = ln_f(x) · word_embeddingsᵀ (tied, the default) or · lm_headᵀ.
// query_key_value rows come in three layouts, all rearranged at load time into [Q (H·D) | K (KV) | V (KV)]:
//   multi_query (7B):   [Q | k | v] already;
//   new decoder (40B):  per KV head j: [q_{j,0} … q_{j,r−1} | k_j | v_j], r = H / KVH;
//   multi-head (old):   per head h: [q_h | k_h | v_h] (the grouped layout with r = 1).
import Foundation
import MQCheckpoint
import MQKernels

public struct FalconConfig: Sendable, Equatable {
    /// How a block's layer norms feed attention and MLP.
    public enum NormLayout: String, Sendable, Equatable {
        case parallelShared     // input_layernorm feeds both (Falcon-7B)
        case parallelSeparate   // ln_attn feeds attention, ln_mlp the MLP (Falcon-40B)
        case sequential         // input_layernorm → attention, then post_attention_layernorm → MLP
    }

    public static let modelTypes = ["falcon", "RefinedWeb", "RefinedWebModel"]
    public static let defaultRopeTheta = 10_000.0
    public static let defaultMaxPositions = 2048   // FalconConfig's default; Falcon-7B/40B configs omit the key

    public var hiddenSize: Int
    public var heads: Int
    public var kvHeads: Int
    public var layers: Int
    public var ffnSize: Int
    public var vocabSize: Int
    public var positions: Int
    public var layerNormEpsilon: Float
    public var ropeTheta: Double
    public var newDecoderArchitecture: Bool
    public var norms: NormLayout
    public var bias: Bool
    public var activation: Activation
    public var tieWordEmbeddings: Bool
    public var eosTokenIds: [Int]
    public var bosTokenId: Int?

    public var headDim: Int { hiddenSize / heads }
    public var parallelAttention: Bool { norms != .sequential }

    public init(_ c: ModelConfigFile) throws {
        let type = try c.string("model_type", default: "")
        guard Self.modelTypes.contains(type) else {
            throw CheckpointError.unsupportedModel(file: c.path, reason: "model_type \"\(type)\" is not falcon")
        }
        if try c.bool("alibi", default: false) {
            throw CheckpointError.unsupportedModel(
                file: c.path, reason: "alibi: true (ALiBi position biases, Falcon-RW) is not supported; mq implements Falcon's rotary embeddings")
        }
        if try c.bool("apply_residual_connection_post_layernorm", default: false) {
            throw CheckpointError.unsupportedModel(
                file: c.path, reason: "apply_residual_connection_post_layernorm: true is not supported (no released Falcon uses it)")
        }
        hiddenSize = try c.int("hidden_size", "n_embed")
        heads = try c.int("num_attention_heads", "n_head")
        layers = try c.int("num_hidden_layers", "n_layer")
        vocabSize = try c.int("vocab_size")
        ffnSize = try c.optionalInt("ffn_hidden_size") ?? 4 * hiddenSize
        positions = try c.int("max_position_embeddings", default: Self.defaultMaxPositions)
        layerNormEpsilon = Float(try c.double("layer_norm_epsilon", default: 1e-5))
        bias = try c.bool("bias", default: false)
        tieWordEmbeddings = try c.bool("tie_word_embeddings", default: true)
        eosTokenIds = try c.intList("eos_token_id")
        bosTokenId = try c.optionalInt("bos_token_id")
        let act = try c.string("activation", default: "gelu")
        guard let a = Activation(huggingFaceName: act) else {
            throw CheckpointError.badConfig(file: c.path, key: "activation", reason: "unsupported activation \"\(act)\"")
        }
        activation = a
        for (k, v) in [("hidden_size", hiddenSize), ("num_attention_heads", heads), ("num_hidden_layers", layers),
                       ("ffn_hidden_size", ffnSize), ("vocab_size", vocabSize), ("max_position_embeddings", positions)] where v <= 0 {
            throw CheckpointError.badConfig(file: c.path, key: k, reason: "must be positive, found \(v)")
        }
        guard hiddenSize % heads == 0 else {
            throw CheckpointError.badConfig(file: c.path, key: "num_attention_heads",
                                            reason: "hidden_size \(hiddenSize) is not divisible by \(heads) heads")
        }
        guard (hiddenSize / heads) % 2 == 0 else {
            throw CheckpointError.badConfig(file: c.path, key: "num_attention_heads",
                                            reason: "head dim \(hiddenSize / heads) is odd; rotary embeddings need an even one")
        }

        // The RefinedWeb (40B) configs predate the flag: their model type implies the new decoder.
        newDecoderArchitecture = try c.bool("new_decoder_architecture", default: type == "RefinedWeb")
        let multiQuery = try c.bool("multi_query", default: true)
        let parallel = try c.bool("parallel_attn", default: true)
        let declaredKV = try c.optionalInt("num_kv_heads", "n_head_kv")
        if newDecoderArchitecture {
            let g = declaredKV ?? heads
            guard g > 0, heads % g == 0 else {
                throw CheckpointError.badConfig(file: c.path, key: "num_kv_heads",
                                                reason: "\(heads) heads cannot be split into \(g) KV groups")
            }
            kvHeads = g
        } else if multiQuery {
            kvHeads = 1   // transformers ignores num_kv_heads here (it defaults to the head count)
        } else {
            if let g = declaredKV, g != heads {
                throw CheckpointError.badConfig(
                    file: c.path, key: "num_kv_heads",
                    reason: "\(g) KV heads with multi_query false and new_decoder_architecture false; this layout has one KV head per head (\(heads))")
            }
            kvHeads = heads
        }

        // Which layer norms exist (transformers' FalconDecoderLayer): num_ln_in_parallel_attn defaults
        // to 2 with the new decoder, else 1. Combinations transformers cannot run are refused here.
        let lnCount = try c.optionalInt("num_ln_in_parallel_attn") ?? (newDecoderArchitecture ? 2 : 1)
        switch (parallel, newDecoderArchitecture, lnCount) {
        case (false, false, _): norms = .sequential
        case (true, true, 2): norms = .parallelSeparate
        case (true, _, 1): norms = .parallelShared
        case (false, true, _):
            throw CheckpointError.unsupportedModel(
                file: c.path, reason: "new_decoder_architecture with parallel_attn false is not a Falcon layout (transformers cannot run it)")
        default:
            throw CheckpointError.badConfig(
                file: c.path, key: "num_ln_in_parallel_attn",
                reason: "\(lnCount) layer norms with new_decoder_architecture \(newDecoderArchitecture) is not a Falcon layout")
        }

        ropeTheta = try Self.ropeTheta(c)
    }

    /// Theta from `rope_parameters` (transformers 5), else `rope_theta`, else 10000. Scaled variants
    /// (linear, dynamic NTK, ...) change the frequencies and are refused rather than ignored.
    static func ropeTheta(_ c: ModelConfigFile) throws -> Double {
        for key in ["rope_parameters", "rope_scaling"] {
            guard let v = c.root[key], !v.isNull else { continue }
            guard let o = v.objectValue else {
                throw CheckpointError.badConfig(file: c.path, key: key, reason: "expected an object, found \(v)")
            }
            let kind = o["rope_type"]?.stringValue ?? o["type"]?.stringValue ?? "default"
            guard kind == "default" else {
                throw CheckpointError.unsupportedModel(file: c.path, reason: "\(key): rope type \"\(kind)\" is not supported (only default rotary embeddings)")
            }
            if let t = o["rope_theta"], !t.isNull {
                guard let d = t.doubleValue, d > 0 else {
                    throw CheckpointError.badConfig(file: c.path, key: "\(key).rope_theta", reason: "expected a positive number, found \(t)")
                }
                return d
            }
        }
        let theta = try c.double("rope_theta", default: defaultRopeTheta)
        guard theta > 0 else { throw CheckpointError.badConfig(file: c.path, key: "rope_theta", reason: "must be positive, found \(theta)") }
        return theta
    }

    public var shape: ModelShape {
        ModelShape(architecture: "falcon", hiddenSize: hiddenSize, heads: heads, kvHeads: kvHeads,
                   headDim: headDim, layers: layers, intermediateSize: ffnSize, vocabSize: vocabSize,
                   maxPositions: positions, eosTokenIds: eosTokenIds, bosTokenId: bosTokenId)
    }
}

public final class Falcon: DecoderModel {
    struct Layer {
        var lnAttn: LayerNormWeights               // input_layernorm or ln_attn
        var lnMlp: LayerNormWeights?               // ln_mlp or post_attention_layernorm (nil: shared)
        var qkvW: any LinearWeights, qkvB: FloatTensor?  // [H·D + 2·KV, E], rearranged to [Q | K | V]
        var denseW: any LinearWeights, denseB: FloatTensor?
        var fc1W: any LinearWeights, fc1B: FloatTensor?  // dense_h_to_4h [F, E]
        var fc2W: any LinearWeights, fc2B: FloatTensor?  // dense_4h_to_h [E, F]
        var byteCount: Int {
            lnAttn.byteCount + (lnMlp?.byteCount ?? 0) + [qkvB, denseB, fc1B, fc2B].compactMap { $0?.byteCount }.reduce(0, +)
                + [qkvW, denseW, fc1W, fc2W].reduce(0) { $0 + $1.byteCount }
        }
    }

    public let config: FalconConfig
    public let shape: ModelShape
    public let layerRange: Range<Int>
    let embeddings: TokenRows?        // [V, E] rows: a table, or the tied head when it is loaded too
    let finalNorm: LayerNormWeights?  // ln_f
    let head: (any LinearWeights)?    // [V, E], packed for `linear`
    let blocks: [Layer]               // blocks[i] is global layer layerRange.lowerBound + i
    let rotary: RotaryTable           // cos/sin [P, D/2]
    public let compute: ComputeContext
    /// Named intermediates are copied here when set (ActivationTaps).
    public var taps: ActivationTaps?
    private let work = Workspace()

    public var hasEmbedding: Bool { embeddings != nil }
    public var hasHead: Bool { head != nil }
    /// The format of the matrices (the first layer's, else the head's or the embedding table's).
    public var weightFormat: WeightFormat? { blocks.first?.qkvW.format ?? head?.format ?? embeddings?.format }

    /// Loads `layers` (default: all) and, if asked, the embedding and/or the final norm and head;
    /// steps run with `compute`.
    public init(checkpoint: Checkpoint, layers: Range<Int>? = nil, embedding: Bool = true, head wantHead: Bool = true,
                compute: ComputeContext, weights: WeightPrecision = .stored) throws {
        let config = try FalconConfig(checkpoint.config)
        self.config = config
        self.compute = compute
        shape = config.shape
        let range = layers ?? 0..<config.layers
        guard range.lowerBound >= 0, range.upperBound <= config.layers else {
            throw CheckpointError.badConfig(file: checkpoint.config.path, key: "num_hidden_layers",
                                            reason: "layer range \(range) outside the model's \(config.layers) layers")
        }
        layerRange = range
        let E = config.hiddenSize, F = config.ffnSize, V = config.vocabSize, D = config.headDim, H = config.heads, KVH = config.kvHeads
        let QKV = (H + 2 * KVH) * D
        // Head and embedding rows are packed from the checkpoint's bytes (a tied pair once).
        let matrices = MatrixLoader(precision: weights, threads: compute.threads)
        if wantHead {
            finalNorm = try LayerNormWeights(checkpoint, "transformer.ln_f", width: E)
            head = matrices(try checkpoint.raw(
                config.tieWordEmbeddings ? "transformer.word_embeddings.weight" : "lm_head.weight", shape: [V, E]))
        } else {
            finalNorm = nil
            head = nil
        }
        embeddings = embedding
            ? try TokenRows.load(checkpoint, "transformer.word_embeddings.weight", vocab: V, hidden: E, head: head,
                                 tied: config.tieWordEmbeddings, matrices: matrices) : nil
        func optionalBias(_ name: String, _ n: Int) throws -> FloatTensor? {
            config.bias ? try checkpoint.load(name, shape: [n]) : nil
        }
        var loaded: [Layer] = []
        for i in range {
            let prefix = "transformer.h.\(i)."
            var qkvW = try checkpoint.load(prefix + "self_attention.query_key_value.weight", shape: [QKV, E])
            var qkvB = try optionalBias(prefix + "self_attention.query_key_value.bias", QKV)
            if KVH > 1 {
                // Grouped [q_0 … q_{r−1} | k | v] per KV head (the old multi-head layout is r = 1).
                qkvW = Self.regroupGrouped(qkvW, groups: KVH, queriesPerGroup: H / KVH, headDim: D, columns: E)
                qkvB = qkvB.map { Self.regroupGrouped($0, groups: KVH, queriesPerGroup: H / KVH, headDim: D, columns: 1) }
            }
            let lnAttnName = config.norms == .parallelSeparate ? "ln_attn" : "input_layernorm"
            let lnMlp: LayerNormWeights? = switch config.norms {
            case .parallelShared: nil
            case .parallelSeparate: try LayerNormWeights(checkpoint, prefix + "ln_mlp", width: E)
            case .sequential: try LayerNormWeights(checkpoint, prefix + "post_attention_layernorm", width: E)
            }
            loaded.append(Layer(
                lnAttn: try LayerNormWeights(checkpoint, prefix + lnAttnName, width: E),
                lnMlp: lnMlp,
                qkvW: matrices(qkvW), qkvB: qkvB,
                denseW: matrices(try checkpoint.raw(prefix + "self_attention.dense.weight", shape: [E, E])),
                denseB: try optionalBias(prefix + "self_attention.dense.bias", E),
                fc1W: matrices(try checkpoint.raw(prefix + "mlp.dense_h_to_4h.weight", shape: [F, E])),
                fc1B: try optionalBias(prefix + "mlp.dense_h_to_4h.bias", F),
                fc2W: matrices(try checkpoint.raw(prefix + "mlp.dense_4h_to_h.weight", shape: [E, F])),
                fc2B: try optionalBias(prefix + "mlp.dense_4h_to_h.bias", E)))
        }
        blocks = loaded
        rotary = RotaryTable(headDim: D, theta: config.ropeTheta, positions: config.positions)
    }

    /// Rows grouped per KV head, g groups of [q_0 … q_{r−1} | k | v] (D rows each), →
    /// [Q (g·r·D) | K (g·D) | V (g·D)], query head j·r + i keeping its number. `columns` = row length.
    static func regroupGrouped(_ t: FloatTensor, groups g: Int, queriesPerGroup r: Int, headDim d: Int, columns n: Int) -> FloatTensor {
        let out = UnsafeMutablePointer<Float>.allocate(capacity: t.count)
        let src = t.pointer
        let qRows = g * r * d
        for j in 0..<g {
            let group = src + j * (r + 2) * d * n                          // rows of group j
            (out + j * r * d * n).update(from: group, count: r * d * n)                     // q_{j,·}
            (out + (qRows + j * d) * n).update(from: group + r * d * n, count: d * n)       // k_j
            (out + (qRows + g * d + j * d) * n).update(from: group + (r + 1) * d * n, count: d * n)  // v_j
        }
        return FloatTensor(name: t.name, shape: t.shape, owned: out, sourceDType: t.sourceDType)
    }

    public var weightBytesLoaded: Int {
        blocks.reduce(0) { $0 + $1.byteCount } + (finalNorm?.byteCount ?? 0)
            + (embeddings?.byteCount ?? 0) + (head?.byteCount ?? 0)
    }

    public var weightBytesPerToken: Int {
        var n = blocks.reduce(0) { $0 + $1.byteCount }
        if let head, let finalNorm { n += head.byteCount + finalNorm.byteCount }
        if hasEmbedding { n += config.hiddenSize * 4 }   // one row of word_embeddings
        return n
    }

    public func embed(_ tokens: [StepToken], into hidden: UnsafeMutablePointer<Float>) throws {
        guard let embeddings else { throw ModelError.notLoaded("the embeddings") }
        try embedTokens(tokens, embeddings, vocab: config.vocabSize, positions: config.positions, width: config.hiddenSize, into: hidden)
        taps?.record(ActivationTaps.embed, hidden, rows: tokens.count, width: config.hiddenSize)
    }

    public func forward(_ tokens: [StepToken], hidden x: UnsafeMutablePointer<Float>, cache: KVCache) throws {
        let T = tokens.count
        guard T > 0 else { throw ModelError.emptyStep }
        let E = config.hiddenSize, F = config.ffnSize, H = config.heads, D = config.headDim
        let KVH = config.kvHeads, QKV = (H + 2 * KVH) * D
        try AttentionStep.validate(tokens, cache: cache, maxPositions: config.positions)
        let scale = 1 / Float(D).squareRoot()
        let eps = config.layerNormEpsilon
        let normed = work.floats(.normed, T * E)    // [T, E]
        let qkv = work.floats(.qkv, T * QKV)        // [T, (H + 2·KVH)·D]
        let attn = work.floats(.attn, T * E)        // [T, E]  attention heads, later the MLP output
        let proj = work.floats(.proj, T * E)        // [T, E]  attention after dense
        let mlp = work.floats(.mlp, T * F)          // [T, F]
        for (i, w) in blocks.enumerated() {
            let layer = layerRange.lowerBound + i
            // attention
            layerNorm(x, w.lnAttn.weight.pointer, w.lnAttn.bias.pointer, normed, tokens: T, channels: E, eps: eps)
            linear(normed, w.qkvW, w.qkvB?.pointer, qkv, tokens: T, compute: compute)
            // Rotate the H query heads and the KVH key heads (contiguous at the start of each row)
            // before AttentionStep copies the keys into the cache.
            for (t, tok) in tokens.enumerated() {
                rotary.withRow(tok.position) { cos, sin in
                    applyRotaryNeoX(qkv + t * QKV, heads: H + KVH, headDim: D, cos: cos, sin: sin)
                }
            }
            try AttentionStep.run(tokens, qkv: qkv, qkvStride: QKV, heads: H, kvHeads: KVH, headDim: D,
                                  layer: layer, cache: cache, scale: scale, work: work, compute: compute, out: attn)
            linear(attn, w.denseW, w.denseB?.pointer, proj, tokens: T, compute: compute)
            if let taps { taps.record(ActivationTaps.attnOut(layer), proj, rows: T, width: E) }
            // MLP input: the attention's normed input, or its own norm of x (before or after attention)
            switch config.norms {
            case .parallelShared: break
            case .parallelSeparate:
                let lnMlp = w.lnMlp!   // loaded for every layout but parallelShared
                layerNorm(x, lnMlp.weight.pointer, lnMlp.bias.pointer, normed, tokens: T, channels: E, eps: eps)
            case .sequential:
                let lnMlp = w.lnMlp!
                addInPlace(x, proj, count: T * E)
                layerNorm(x, lnMlp.weight.pointer, lnMlp.bias.pointer, normed, tokens: T, channels: E, eps: eps)
            }
            linear(normed, w.fc1W, w.fc1B?.pointer, mlp, tokens: T, compute: compute)
            config.activation.apply(mlp, count: T * F)
            linear(mlp, w.fc2W, w.fc2B?.pointer, attn, tokens: T, compute: compute)
            // transformers adds attention to the MLP output first, then the sum to the residual.
            if config.parallelAttention { addInPlace(attn, proj, count: T * E) }
            addInPlace(x, attn, count: T * E)
            if let taps { taps.record(ActivationTaps.blockOut(layer), x, rows: T, width: E) }
        }
        AttentionStep.commitLengths(tokens, cache: cache)
    }

    public func logits(hidden: UnsafePointer<Float>, rows: [Int], into logits: UnsafeMutablePointer<Float>) throws {
        guard let head, let finalNorm else { throw ModelError.notLoaded("the final norm and LM head") }
        headLogits(hidden: hidden, rows: rows, finalNorm: finalNorm, head: head, width: config.hiddenSize, vocab: config.vocabSize,
                   eps: config.layerNormEpsilon, work: work, taps: taps, compute: compute, into: logits)
    }
}
