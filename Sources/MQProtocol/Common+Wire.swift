// protobuf-c conversions of the common.proto types, and the enum conversions every plane uses.
// Enum numbers are the .proto's; unknown numbers become `.unrecognized` where a newer peer may
// send them harmlessly, and errors where the value cannot be interpreted (DType).

import CMQProto
import CProtobufC

// MARK: Enum numbers

/// The wire number of an imported protobuf-c enum (stored as a C int).
@inline(__always) func wireNumber<E: RawRepresentable>(_ value: E) -> Int32 where E.RawValue: BinaryInteger {
    Int32(truncatingIfNeeded: value.rawValue)
}

extension FinishReason {
    /// nil for FINISH_REASON_UNSPECIFIED.
    init?(wire: Mq__V1__FinishReason) {
        switch wireNumber(wire) {
        case 0: return nil
        case 1: self = .length
        case 2: self = .eos
        case 3: self = .stop
        case let other: self = .unrecognized(other)
        }
    }

    static func wire(_ value: FinishReason?) -> Mq__V1__FinishReason {
        let number: Int32
        switch value {
        case nil: number = 0
        case .length: number = 1
        case .eos: number = 2
        case .stop: number = 3
        case let .unrecognized(other): number = other
        }
        return Mq__V1__FinishReason(rawValue: .init(truncatingIfNeeded: number))
    }
}

extension DType {
    /// Throws for UNSPECIFIED and unknown numbers: bytes of an unknown type cannot be read.
    init(wire: Mq__V1__DType, path: @autoclosure () -> String) throws(ProtocolError) {
        switch wireNumber(wire) {
        case 1: self = .f32
        case 2: self = .f16
        case 3: self = .bf16
        case 0: throw .missingField(path())
        case let other: throw .unknownEnumValue(field: path(), value: other)
        }
    }

    var wire: Mq__V1__DType {
        let number: Int32
        switch self {
        case .f32: number = 1
        case .f16: number = 2
        case .bf16: number = 3
        }
        return Mq__V1__DType(rawValue: .init(truncatingIfNeeded: number))
    }
}

extension StatusCode {
    init(wire: Mq__V1__StatusCode) { self.init(rawValue: wireNumber(wire)) }
    var wire: Mq__V1__StatusCode { Mq__V1__StatusCode(rawValue: .init(truncatingIfNeeded: rawValue)) }
}

extension WorkerState {
    /// nil for WORKER_STATE_UNSPECIFIED.
    init?(wire: Mq__V1__WorkerState) {
        switch wireNumber(wire) {
        case 0: return nil
        case 1: self = .registered
        case 2: self = .loading
        case 3: self = .ready
        case 4: self = .lost
        case let other: self = .unrecognized(other)
        }
    }

    var wire: Mq__V1__WorkerState {
        let number: Int32
        switch self {
        case .registered: number = 1
        case .loading: number = 2
        case .ready: number = 3
        case .lost: number = 4
        case let .unrecognized(other): number = other
        }
        return Mq__V1__WorkerState(rawValue: .init(truncatingIfNeeded: number))
    }
}

extension AttentionKind {
    /// nil for ATTENTION_KIND_UNSPECIFIED.
    init?(wire: Mq__V1__AttentionKind) {
        switch wireNumber(wire) {
        case 0: return nil
        case 1: self = .multiQuery
        case 2: self = .groupedQuery
        case 3: self = .multiHead
        case let other: self = .unrecognized(other)
        }
    }

    var wire: Mq__V1__AttentionKind {
        let number: Int32
        switch self {
        case .multiQuery: number = 1
        case .groupedQuery: number = 2
        case .multiHead: number = 3
        case let .unrecognized(other): number = other
        }
        return Mq__V1__AttentionKind(rawValue: .init(truncatingIfNeeded: number))
    }
}

extension WorkerErrorCode {
    /// nil for ERROR_CODE_UNSPECIFIED.
    init?(wire: Mq__V1__ErrorCode) {
        switch wireNumber(wire) {
        case 0: return nil
        case 1: self = .versionMismatch
        case 2: self = .malformedMessage
        case 3: self = .loadFailed
        case 4: self = .invalidAssignment
        case 5: self = .notReady
        case 6: self = .unknownSequence
        case 7: self = .kvCacheFull
        case 8: self = .stepFailed
        case 9: self = .internalError
        case let other: self = .unrecognized(other)
        }
    }

    var wire: Mq__V1__ErrorCode {
        let number: Int32
        switch self {
        case .versionMismatch: number = 1
        case .malformedMessage: number = 2
        case .loadFailed: number = 3
        case .invalidAssignment: number = 4
        case .notReady: number = 5
        case .unknownSequence: number = 6
        case .kvCacheFull: number = 7
        case .stepFailed: number = 8
        case .internalError: number = 9
        case let .unrecognized(other): number = other
        }
        return Mq__V1__ErrorCode(rawValue: .init(truncatingIfNeeded: number))
    }
}

// MARK: Messages

extension ProtocolVersion: CBridged {
    static let protoName = "ProtocolVersion"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__ProtocolVersion>) { mq__v1__protocol_version__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__ProtocolVersion>, arena: CArena) {
        message.pointee.major = major
        message.pointee.minor = minor
    }

    init(c message: UnsafePointer<Mq__V1__ProtocolVersion>, path: () -> String) throws(ProtocolError) {
        self.init(major: message.pointee.major, minor: message.pointee.minor)
    }
}

extension LayerRange: CBridged {
    static let protoName = "LayerRange"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__LayerRange>) { mq__v1__layer_range__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__LayerRange>, arena: CArena) {
        message.pointee.first_layer = first
        message.pointee.end_layer = end
    }

    init(c message: UnsafePointer<Mq__V1__LayerRange>, path: () -> String) throws(ProtocolError) {
        try self.init(first: message.pointee.first_layer, end: message.pointee.end_layer, field: path())
    }
}

/// TokenIds: a list of ids wrapped so that it fits a oneof.
struct TokenIDList: CBridged {
    var ids: [UInt32]

    static let protoName = "TokenIds"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__TokenIds>) { mq__v1__token_ids__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__TokenIds>, arena: CArena) {
        (message.pointee.n_ids, message.pointee.ids) = arena.array(ids)
    }

    init(ids: [UInt32]) { self.ids = ids }

    init(c message: UnsafePointer<Mq__V1__TokenIds>, path: () -> String) throws(ProtocolError) {
        ids = decodeArray(message.pointee.n_ids, message.pointee.ids)
    }
}

extension SamplingParams: CBridged {
    static let protoName = "SamplingParams"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__SamplingParams>) { mq__v1__sampling_params__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__SamplingParams>, arena: CArena) {
        message.pointee.temperature = temperature
        message.pointee.top_k = topK
        message.pointee.top_p = topP
        if let seed {
            message.pointee.seed_choice_case = MQ__V1__SAMPLING_PARAMS__SEED_CHOICE_SEED
            message.pointee.seed = seed
        }
        message.pointee.repetition_penalty = repetitionPenalty
        (message.pointee.n_stop_token_ids, message.pointee.stop_token_ids) = arena.array(stopTokenIDs)
        (message.pointee.n_stop_strings, message.pointee.stop_strings) = arena.texts(stopStrings)
        message.pointee.top_logprobs = topLogprobs
    }

    /// Checks that the floats are finite and non-negative.
    init(c message: UnsafePointer<Mq__V1__SamplingParams>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        try requireFiniteNonNegative(m.temperature, "\(path()).temperature")
        try requireFiniteNonNegative(m.top_p, "\(path()).top_p")
        try requireFiniteNonNegative(m.repetition_penalty, "\(path()).repetition_penalty")
        self.init(
            temperature: m.temperature, topK: m.top_k, topP: m.top_p,
            seed: m.seed_choice_case == MQ__V1__SAMPLING_PARAMS__SEED_CHOICE_SEED ? m.seed : nil,
            repetitionPenalty: m.repetition_penalty,
            stopTokenIDs: decodeArray(m.n_stop_token_ids, m.stop_token_ids),
            stopStrings: try decodeTexts(m.n_stop_strings, m.stop_strings, "\(path()).stop_strings"),
            topLogprobs: m.top_logprobs)
    }
}

extension TokenLogprob: CBridged {
    static let protoName = "TokenLogprob"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__TokenLogprob>) { mq__v1__token_logprob__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__TokenLogprob>, arena: CArena) {
        message.pointee.token_id = tokenID
        message.pointee.logprob = logprob
    }

    init(c message: UnsafePointer<Mq__V1__TokenLogprob>, path: () -> String) throws(ProtocolError) {
        self.init(tokenID: message.pointee.token_id, logprob: message.pointee.logprob)
    }
}

/// TopLogprobs: the alternatives at one position.
struct TopLogprobList: CBridged {
    var candidates: [TokenLogprob]

    static let protoName = "TopLogprobs"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__TopLogprobs>) { mq__v1__top_logprobs__init(message) }

    init(_ candidates: [TokenLogprob]) { self.candidates = candidates }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__TopLogprobs>, arena: CArena) {
        (message.pointee.n_candidates, message.pointee.candidates) = arena.messages(candidates)
    }

    init(c message: UnsafePointer<Mq__V1__TopLogprobs>, path: () -> String) throws(ProtocolError) {
        candidates = try decodeMessages(
            TokenLogprob.self, message.pointee.n_candidates, message.pointee.candidates, "\(path()).candidates")
    }
}

extension CArena {
    /// A repeated TopLogprobs field.
    func topLogprobs(_ lists: [[TokenLogprob]]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Mq__V1__TopLogprobs>?>?) {
        messages(lists.map(TopLogprobList.init))
    }
}

/// A repeated TopLogprobs field.
func decodeTopLogprobs(
    _ count: Int, _ pointer: UnsafePointer<UnsafeMutablePointer<Mq__V1__TopLogprobs>?>?, _ path: @autoclosure () -> String
) throws(ProtocolError) -> [[TokenLogprob]] {
    try decodeMessages(TopLogprobList.self, count, pointer, path()).map(\.candidates)
}
