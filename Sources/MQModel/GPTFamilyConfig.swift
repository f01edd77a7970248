// The configuration GPT-2 (`model_type: gpt2`) and GPTBigCode (`gpt_bigcode`) share: sizes, norm
// epsilon, activation, attention scaling, tying and special tokens, read and validated once.
// What differs stays in each architecture's file: how multi-query is declared (GPT-2's
// attention_head_type, GPTBigCode's multi_query), GPT-2's scale_attn_by_inverse_layer_idx and
// add_cross_attention refusal, and each type's default activation.
//
// Shapes: E = n_embd, H = n_head, D = E / H, I = n_inner (null → 4E), V = vocab_size, P = n_positions.
import MQCheckpoint

public struct GPTFamilyConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var heads: Int
    public var layers: Int
    public var positions: Int
    public var intermediateSize: Int
    public var vocabSize: Int
    public var layerNormEpsilon: Float
    public var activation: Activation
    public var scaleAttentionWeights: Bool
    public var tieWordEmbeddings: Bool
    public var eosTokenIds: [Int]
    public var bosTokenId: Int?

    public var headDim: Int { hiddenSize / heads }

    /// Reads the shared keys of `file`, refusing a `model_type` other than `modelType`.
    /// `genericKeys`: also accept transformers' generic names intermediate_size, layer_norm_eps and
    /// hidden_act (GPTBigCodeConfig does; GPT2Config does not).
    init(_ file: ModelConfigFile, modelType: String, defaultActivation: String, genericKeys: Bool) throws {
        let type = try file.string("model_type", default: "")
        guard type == modelType else {
            throw CheckpointError.unsupportedModel(file: file.path, reason: "model_type \"\(type)\" is not \(modelType)")
        }
        hiddenSize = try file.int("n_embd", "hidden_size")
        heads = try file.int("n_head", "num_attention_heads")
        layers = try file.int("n_layer", "num_hidden_layers")
        positions = try file.int("n_positions", "max_position_embeddings")
        intermediateSize = try (genericKeys ? file.optionalInt("n_inner", "intermediate_size") : file.optionalInt("n_inner"))
            ?? 4 * hiddenSize
        vocabSize = try file.int("vocab_size")
        layerNormEpsilon = Float(try genericKeys ? file.double("layer_norm_epsilon", "layer_norm_eps", default: 1e-5)
                                                 : file.double("layer_norm_epsilon", default: 1e-5))
        let activationName = try genericKeys ? file.string("activation_function", "hidden_act", default: defaultActivation)
                                             : file.string("activation_function", default: defaultActivation)
        guard let activation = Activation(huggingFaceName: activationName) else {
            throw CheckpointError.badConfig(file: file.path, key: "activation_function", reason: "unsupported activation \"\(activationName)\"")
        }
        self.activation = activation
        scaleAttentionWeights = try file.bool("scale_attn_weights", default: true)
        tieWordEmbeddings = try file.bool("tie_word_embeddings", default: true)
        eosTokenIds = try file.intList("eos_token_id")
        bosTokenId = try file.optionalInt("bos_token_id")
        for (key, value) in [("n_embd", hiddenSize), ("n_head", heads), ("n_layer", layers), ("n_positions", positions),
                             ("n_inner", intermediateSize), ("vocab_size", vocabSize)] where value <= 0 {
            throw CheckpointError.badConfig(file: file.path, key: key, reason: "must be positive, found \(value)")
        }
        guard hiddenSize % heads == 0 else {
            throw CheckpointError.badConfig(file: file.path, key: "n_head", reason: "n_embd \(hiddenSize) is not divisible by n_head \(heads)")
        }
    }

    func shape(architecture: String, kvHeads: Int) -> ModelShape {
        ModelShape(architecture: architecture, hiddenSize: hiddenSize, heads: heads, kvHeads: kvHeads,
                   headDim: headDim, layers: layers, intermediateSize: intermediateSize, vocabSize: vocabSize,
                   maxPositions: positions, eosTokenIds: eosTokenIds, bosTokenId: bosTokenId)
    }

    /// `requested` (default: every layer), checked against n_layer; `file` is named in the error.
    func layerRange(_ requested: Range<Int>?, file: String) throws -> Range<Int> {
        let range = requested ?? 0..<layers
        guard range.lowerBound >= 0, range.upperBound <= layers else {
            throw CheckpointError.badConfig(file: file, key: "n_layer", reason: "layer range \(range) outside the model's \(layers) layers")
        }
        return range
    }
}

extension GPTStack.Dimensions {
    init(_ config: GPTFamilyConfig, kvHeads: Int, scaleByInverseLayer: Bool) {
        self.init(hidden: config.hiddenSize, heads: config.heads, kvHeads: kvHeads, headDim: config.headDim,
                  intermediate: config.intermediateSize, vocab: config.vocabSize, positions: config.positions,
                  layerNormEpsilon: config.layerNormEpsilon, activation: config.activation,
                  scaleAttentionWeights: config.scaleAttentionWeights, scaleByInverseLayer: scaleByInverseLayer)
    }
}
