// What every architecture file provides, and the step batch it runs.
//
// Shapes: T = tokens in a step (any mix of sequences and positions), E = hidden size,
// V = vocabulary size. A step's hidden state is hidden[T, E], row t belonging to batch.tokens[t].
import MQCheckpoint
import MQKernels

/// How keys and values are shared among query heads.
public enum AttentionKind: Sendable, Equatable, CustomStringConvertible {
    case multiQuery              // one KV head for all query heads (Shazeer 2019)
    case grouped(groups: Int)    // g KV heads, each shared by heads/g query heads
    case multiHead               // one KV head per query head

    public init(heads: Int, kvHeads: Int) {
        if kvHeads == 1 && heads > 1 { self = .multiQuery }
        else if kvHeads == heads { self = .multiHead }
        else { self = .grouped(groups: kvHeads) }
    }

    public var description: String {
        switch self {
        case .multiQuery: return "multi-query"
        case .grouped(let g): return "grouped (\(g) KV heads)"
        case .multiHead: return "multi-head"
        }
    }
}

/// Architecture-neutral dimensions of a decoder-only model.
public struct ModelShape: Sendable, Equatable {
    public var architecture: String      // "gpt_bigcode", "falcon", ...
    public var hiddenSize: Int           // E
    public var heads: Int                // H
    public var kvHeads: Int              // KVH
    public var headDim: Int              // D
    public var layers: Int               // all layers of the model, not just the loaded ones
    public var intermediateSize: Int     // I
    public var vocabSize: Int            // V
    public var maxPositions: Int
    public var eosTokenIds: [Int]
    public var bosTokenId: Int?

    public var attentionKind: AttentionKind { AttentionKind(heads: heads, kvHeads: kvHeads) }
    /// Floats of keys plus values stored per token per layer: 2 · KVH · D.
    public var kvFloatsPerTokenPerLayer: Int { 2 * kvHeads * headDim }
    /// KV-cache bytes per token for `layerCount` layers at F32.
    public func kvBytesPerToken(layerCount: Int) -> Int { kvFloatsPerTokenPerLayer * layerCount * 4 }
    /// Weights of one decoder layer's four matrices (qkv, attention output, MLP in and out), the
    /// part of a step's reads that scales with layers; norms and biases are negligible.
    public var matrixWeightsPerLayer: Int {
        hiddenSize * (heads + 2 * kvHeads) * headDim + heads * headDim * hiddenSize + 2 * hiddenSize * intermediateSize
    }
    /// Weights of the LM head, V · E.
    public var headWeights: Int { vocabSize * hiddenSize }
}

/// One token of a step: which sequence, at which position, and (on the first stage) which token id.
public struct StepToken: Sendable, Equatable {
    public var sequence: Int
    public var position: Int
    public var token: Int
    public init(sequence: Int, position: Int, token: Int) {
        self.sequence = sequence; self.position = position; self.token = token
    }
}

/// Errors raised while running a step (bad input that got past the edge, or a full cache).
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case tokenOutOfRange(token: Int, vocab: Int)
    case positionOutOfRange(sequence: Int, position: Int, max: Int)
    case positionGap(sequence: Int, position: Int, cached: Int)
    case cacheFull(sequence: Int, neededBlocks: Int, freeBlocks: Int)
    case unknownSequence(Int)
    case notLoaded(String)
    case emptyStep

    public var description: String {
        switch self {
        case .tokenOutOfRange(let t, let v): return "token id \(t) is outside the vocabulary (0..<\(v))"
        case .positionOutOfRange(let s, let p, let m): return "sequence \(s): position \(p) exceeds the model's \(m) positions"
        case .positionGap(let s, let p, let c): return "sequence \(s): position \(p) given but only \(c) positions are cached"
        case .cacheFull(let s, let n, let f): return "sequence \(s): KV cache full (needs \(n) more blocks, \(f) free)"
        case .unknownSequence(let s): return "sequence \(s) has no KV cache entry"
        case .notLoaded(let what): return "this stage did not load \(what)"
        case .emptyStep: return "a step needs at least one token"
        }
    }
}

/// A decoder-only transformer, or the contiguous range of its layers that one pipeline stage holds.
/// Layer numbers are global: a stage holding layers 12..<24 calls them 12...23.
public protocol DecoderModel: AnyObject {
    var shape: ModelShape { get }
    /// Global layer numbers this instance holds.
    var layerRange: Range<Int> { get }
    var hasEmbedding: Bool { get }
    var hasHead: Bool { get }
    /// The threads (and thresholds) its steps split work with, fixed when it was loaded.
    var compute: ComputeContext { get }
    /// Bytes of weights read by one decode step of one token through this instance (every matrix
    /// and vector of its layers, plus the head if present; the embedding reads one row).
    var weightBytesPerToken: Int { get }
    /// Bytes of weights held (mapped or converted) by this instance.
    var weightBytesLoaded: Int { get }
    /// How its matrices are held (nil when it holds none).
    var weightFormat: WeightFormat? { get }
    /// Where named intermediate tensors go (see ActivationTaps); nil (the default) records nothing.
    var taps: ActivationTaps? { get set }

    /// hidden[T, E] = token embedding + position embedding.
    func embed(_ tokens: [StepToken], into hidden: UnsafeMutablePointer<Float>) throws
    /// Runs this instance's layers over hidden[T, E] in place, writing keys/values into `cache`.
    /// The cache must already hold blocks for every position in `tokens` (see KVCache.reserve).
    func forward(_ tokens: [StepToken], hidden: UnsafeMutablePointer<Float>, cache: KVCache) throws
    /// logits[R, V] for the hidden rows listed in `rows` (final norm, then the LM head).
    func logits(hidden: UnsafePointer<Float>, rows: [Int], into logits: UnsafeMutablePointer<Float>) throws
}
