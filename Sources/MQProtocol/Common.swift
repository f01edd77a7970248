// Swift values of Protos/mq/v1/common.proto: the types both planes share (finish reasons,
// tensor element types, layer ranges, sampling parameters, log probabilities).
// Plain Sendable values; the protobuf-c conversions live in Common+Wire.swift.

/// Why a generation ended (`FINISH_REASON_*`). `jsonName` is what `mq run --json` prints.
public enum FinishReason: Hashable, Sendable {
    /// max_new_tokens generated, or the context window is full.
    case length
    /// The model produced its end-of-sequence token.
    case eos
    /// A stop token id or a stop string matched.
    case stop
    /// A value from a newer minor version of the protocol.
    case unrecognized(Int32)

    /// "length", "eos", "stop" (or "unrecognized(N)").
    public var jsonName: String {
        switch self {
        case .length: return "length"
        case .eos: return "eos"
        case .stop: return "stop"
        case let .unrecognized(value): return "unrecognized(\(value))"
        }
    }
}

/// Element type of an activation tensor (`DTYPE_*`). Unknown values are refused when decoding:
/// a receiver cannot interpret bytes of an unknown type.
public enum DType: Hashable, Sendable, CaseIterable {
    case f32
    case f16
    case bf16

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        }
    }
}

/// A half-open range of decoder layers with global numbering: `first ..< end`.
/// Decoding guarantees `first <= end`.
public struct LayerRange: Hashable, Sendable, CustomStringConvertible {
    /// The first layer.
    public var first: UInt32
    /// One past the last layer.
    public var end: UInt32

    /// Creates `first ..< end`; use `init(validating:)` for untrusted numbers.
    public init(_ range: Range<UInt32>) {
        first = range.lowerBound
        end = range.upperBound
    }

    /// Creates the range, or throws when `first > end`.
    public init(first: UInt32, end: UInt32, field: String = "LayerRange") throws(ProtocolError) {
        guard first <= end else {
            throw .invalidValue(field: field, reason: "first_layer \(first) is after end_layer \(end)")
        }
        self.first = first
        self.end = end
    }

    /// The layers as a Swift range (nil for a value built by hand with `first > end`).
    public var range: Range<UInt32>? { first <= end ? first ..< end : nil }
    /// Number of layers.
    public var count: Int { first <= end ? Int(end - first) : 0 }
    public var isEmpty: Bool { count == 0 }
    public func contains(_ layer: UInt32) -> Bool { layer >= first && layer < end }

    /// "12..<24"
    public var description: String { "\(first)..<\(end)" }
}

/// How the next token is chosen; the default value is greedy decoding.
public struct SamplingParams: Hashable, Sendable {
    /// Softmax temperature; 0 is greedy.
    public var temperature: Float
    /// Keep the k most likely tokens; 0 means no limit.
    public var topK: UInt32
    /// Nucleus cut in (0, 1]; 1 means none, 0 means unset (none). Other values are refused.
    public var topP: Float
    /// Random seed; nil lets the coordinator choose.
    public var seed: UInt64?
    /// Repetition penalty, finite and > 0; 1 means none, 0 means unset (none).
    public var repetitionPenalty: Float
    /// Token ids that end generation.
    public var stopTokenIDs: [UInt32]
    /// Strings that end generation (non-empty; MQSampling's SamplingLimits bound their number and length).
    public var stopStrings: [String]
    /// Alternatives reported per generated token.
    public var topLogprobs: UInt32

    public init(
        temperature: Float = 0, topK: UInt32 = 0, topP: Float = 0, seed: UInt64? = nil,
        repetitionPenalty: Float = 0, stopTokenIDs: [UInt32] = [], stopStrings: [String] = [],
        topLogprobs: UInt32 = 0
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.repetitionPenalty = repetitionPenalty
        self.stopTokenIDs = stopTokenIDs
        self.stopStrings = stopStrings
        self.topLogprobs = topLogprobs
    }

    /// Greedy decoding, no stop conditions beyond EOS, no alternatives.
    public static let greedy = SamplingParams()

    /// Whether tokens are chosen by argmax.
    public var isGreedy: Bool { temperature == 0 }
}

/// One token with the natural log of its probability at temperature 1.
public struct TokenLogprob: Hashable, Sendable {
    public var tokenID: UInt32
    public var logprob: Float

    public init(tokenID: UInt32, logprob: Float) {
        self.tokenID = tokenID
        self.logprob = logprob
    }
}
