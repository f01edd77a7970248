// Swift values of Protos/mq/v1/client.proto: the gRPC-like client plane. A call is a CallRequest
// (one frame) naming a DecoderMethod and carrying that method's request; replies are CallReply
// frames: stream items, then one trailer with the status. Conversions: ClientPlane+Wire.swift.

// MARK: Status

/// Outcome of a call, with gRPC's numeric values (`STATUS_CODE_*`).
public enum StatusCode: Hashable, Sendable, CustomStringConvertible {
    case ok
    case cancelled
    case invalidArgument
    case deadlineExceeded
    case notFound
    case resourceExhausted
    case unimplemented
    /// gRPC's INTERNAL (`internal` is a Swift keyword).
    case internalError
    case unavailable
    /// No valid API key (gRPC's UNAUTHENTICATED).
    case unauthenticated
    /// A code this version does not know (from a newer server); treat it as a failure.
    case unrecognized(Int32)

    /// The gRPC number.
    public var rawValue: Int32 {
        switch self {
        case .ok: return 0
        case .cancelled: return 1
        case .invalidArgument: return 3
        case .deadlineExceeded: return 4
        case .notFound: return 5
        case .resourceExhausted: return 8
        case .unimplemented: return 12
        case .internalError: return 13
        case .unavailable: return 14
        case .unauthenticated: return 16
        case let .unrecognized(value): return value
        }
    }

    /// The code for a gRPC number; unknown numbers become `.unrecognized`.
    public init(rawValue: Int32) {
        switch rawValue {
        case 0: self = .ok
        case 1: self = .cancelled
        case 3: self = .invalidArgument
        case 4: self = .deadlineExceeded
        case 5: self = .notFound
        case 8: self = .resourceExhausted
        case 12: self = .unimplemented
        case 13: self = .internalError
        case 14: self = .unavailable
        case 16: self = .unauthenticated
        default: self = .unrecognized(rawValue)
        }
    }

    /// gRPC's upper-case name, for example "DEADLINE_EXCEEDED".
    public var description: String {
        switch self {
        case .ok: return "OK"
        case .cancelled: return "CANCELLED"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .resourceExhausted: return "RESOURCE_EXHAUSTED"
        case .unimplemented: return "UNIMPLEMENTED"
        case .internalError: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .unauthenticated: return "UNAUTHENTICATED"
        case let .unrecognized(value): return "STATUS_\(value)"
        }
    }
}

/// Status of a finished call.
public struct Status: Hashable, Sendable, CustomStringConvertible {
    public var code: StatusCode
    /// Detail naming what failed; empty for OK.
    public var message: String

    public init(code: StatusCode, message: String = "") {
        self.code = code
        self.message = message
    }

    public static let ok = Status(code: .ok)
    public var isOK: Bool { code == .ok }
    /// "INVALID_ARGUMENT: empty prompt"
    public var description: String { message.isEmpty ? code.description : "\(code): \(message)" }
}

// MARK: Calls

/// The methods of service mq.v1.Decoder, by their wire names.
public enum DecoderMethod: String, Hashable, Sendable, CaseIterable {
    case generate = "mq.v1.Decoder/Generate"
    case generateStream = "mq.v1.Decoder/GenerateStream"
    case cancel = "mq.v1.Decoder/Cancel"
    case tokenize = "mq.v1.Decoder/Tokenize"
    case health = "mq.v1.Decoder/Health"
    case info = "mq.v1.Decoder/Info"

    /// Whether replies are MESSAGE items followed by a TRAILER (server streaming).
    public var isStreaming: Bool { self == .generateStream }
}

/// A call with its typed request: what a CallRequest means once its method and payload are
/// decoded.
public enum DecoderCall: Hashable, Sendable {
    case generate(GenerateRequest)
    case generateStream(GenerateRequest)
    case cancel(CancelRequest)
    case tokenize(TokenizeRequest)
    case health(HealthRequest)
    case info(InfoRequest)

    public var method: DecoderMethod {
        switch self {
        case .generate: return .generate
        case .generateStream: return .generateStream
        case .cancel: return .cancel
        case .tokenize: return .tokenize
        case .health: return .health
        case .info: return .info
        }
    }

    /// The serialized request message, for CallRequest.payload.
    public func encodePayload() -> [UInt8] {
        switch self {
        case let .generate(request), let .generateStream(request): return request.encode()
        case let .cancel(request): return request.encode()
        case let .tokenize(request): return request.encode()
        case let .health(request): return request.encode()
        case let .info(request): return request.encode()
        }
    }
}

/// A call from a client: one ZeroMQ frame on the client plane.
public struct CallRequest: Hashable, Sendable {
    /// The client's protocol version.
    public var version: ProtocolVersion
    /// Nonzero, unique among the client socket's in-flight calls.
    public var callID: UInt64
    /// "mq.v1.Decoder/<Method>" (a String, not a DecoderMethod, so that an unknown method can be
    /// decoded and answered with UNIMPLEMENTED).
    public var method: String
    /// Deadline relative to the server's receipt, in milliseconds; 0 is the server's default.
    public var timeoutMilliseconds: UInt32
    /// Tracing key/value pairs, not interpreted by the server.
    public var metadata: [String: String]
    /// The method's serialized request message.
    public var payload: [UInt8]

    public init(
        version: ProtocolVersion = .current, callID: UInt64, method: String,
        timeoutMilliseconds: UInt32 = 0, metadata: [String: String] = [:], payload: [UInt8] = []
    ) {
        self.version = version
        self.callID = callID
        self.method = method
        self.timeoutMilliseconds = timeoutMilliseconds
        self.metadata = metadata
        self.payload = payload
    }

    /// A request for a typed call.
    public init(
        version: ProtocolVersion = .current, callID: UInt64, call: DecoderCall, timeoutMilliseconds: UInt32 = 0,
        metadata: [String: String] = [:]
    ) {
        self.init(
            version: version, callID: callID, method: call.method.rawValue, timeoutMilliseconds: timeoutMilliseconds,
            metadata: metadata, payload: call.encodePayload())
    }

    /// What the server does with a request: checks the major version (UNIMPLEMENTED on mismatch),
    /// resolves the method (UNIMPLEMENTED when unknown) and decodes the payload (INVALID_ARGUMENT
    /// when malformed). `ProtocolError.statusCode` gives the reply's code.
    public func decodeCall() throws(ProtocolError) -> DecoderCall {
        try ProtocolVersion.current.requireCompatible(with: version)
        guard let known = DecoderMethod(rawValue: method) else { throw .unknownMethod(method) }
        switch known {
        case .generate: return .generate(try GenerateRequest.decode(payload))
        case .generateStream: return .generateStream(try GenerateRequest.decode(payload))
        case .cancel: return .cancel(try CancelRequest.decode(payload))
        case .tokenize: return .tokenize(try TokenizeRequest.decode(payload))
        case .health: return .health(try HealthRequest.decode(payload))
        case .info: return .info(try InfoRequest.decode(payload))
        }
    }
}

/// A reply from the coordinator: one ZeroMQ frame. A call gets zero or more `.message` replies
/// (streaming methods only), then exactly one `.trailer`.
public enum CallReply: Hashable, Sendable {
    /// A stream item (REPLY_KIND_MESSAGE): a serialized GenerateStreamChunk.
    case message(callID: UInt64, payload: [UInt8])
    /// The end of the call (REPLY_KIND_TRAILER): its status and, for a unary method with status
    /// OK, the serialized response; otherwise an empty payload.
    case trailer(callID: UInt64, status: Status, payload: [UInt8])

    public var callID: UInt64 {
        switch self {
        case let .message(callID, _), let .trailer(callID, _, _): return callID
        }
    }

    /// The coordinator's liveness probe (PROTOCOL.md §4.9): a stream item for call id 0, which no
    /// call ever has, so clients drop it like any reply for a call not in flight. Sending it is how
    /// the coordinator learns that a client whose calls produce no replies yet has gone away.
    public static let probe = CallReply.message(callID: 0, payload: [])

    public var isProbe: Bool { self == .probe }

    public var payload: [UInt8] {
        switch self {
        case let .message(_, payload), let .trailer(_, _, payload): return payload
        }
    }

    /// The status, for a trailer.
    public var status: Status? {
        if case let .trailer(_, status, _) = self { return status }
        return nil
    }

    /// The OK trailer of a unary call, carrying its response.
    public static func response(callID: UInt64, _ response: some WireMessage) -> CallReply {
        .trailer(callID: callID, status: .ok, payload: response.encode())
    }

    /// A trailer ending a call with `status` and no payload (any failure, or the end of a stream).
    public static func end(callID: UInt64, status: Status) -> CallReply {
        .trailer(callID: callID, status: status, payload: [])
    }

    /// A trailer ending a call with a failure.
    public static func failure(callID: UInt64, _ code: StatusCode, _ message: String) -> CallReply {
        .end(callID: callID, status: Status(code: code, message: message))
    }

    /// A stream item.
    public static func chunk(callID: UInt64, _ chunk: GenerateStreamChunk) -> CallReply {
        .message(callID: callID, payload: chunk.encode())
    }
}

// MARK: Generate

/// The prompt of a GenerateRequest.
public enum Prompt: Hashable, Sendable {
    /// Text for the coordinator to tokenize.
    case text(String)
    /// Token ids used as given.
    case tokenIDs([UInt32])
}

/// Request of Generate and GenerateStream.
public struct GenerateRequest: Hashable, Sendable {
    /// Text or token ids; decoding refuses an empty prompt.
    public var prompt: Prompt
    /// Tokens to generate at most; 0 is the server's default.
    public var maxNewTokens: UInt32
    /// How tokens are chosen.
    public var sampling: SamplingParams
    /// Fill-in-the-middle (since 1.4): the text after the gap; the prompt is the text before it.
    /// nil: no FIM. "" is a FIM request with an empty suffix.
    public var suffix: String?
    /// Since 1.4: also return the log probability of every prompt token after the first.
    public var promptLogprobs: Bool

    public init(prompt: Prompt, maxNewTokens: UInt32 = 0, sampling: SamplingParams = .greedy, suffix: String? = nil,
                promptLogprobs: Bool = false) {
        self.prompt = prompt
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.suffix = suffix
        self.promptLogprobs = promptLogprobs
    }
}

/// Time a generation spent, measured by the coordinator.
public struct GenerationTiming: Hashable, Sendable {
    public var queueNanoseconds: UInt64
    public var prefillNanoseconds: UInt64
    public var decodeNanoseconds: UInt64

    public init(queueNanoseconds: UInt64 = 0, prefillNanoseconds: UInt64 = 0, decodeNanoseconds: UInt64 = 0) {
        self.queueNanoseconds = queueNanoseconds
        self.prefillNanoseconds = prefillNanoseconds
        self.decodeNanoseconds = decodeNanoseconds
    }
}

/// Response of Generate. Decoding checks that there is one log probability per token and either
/// no alternatives or one list per token.
public struct GenerateResponse: Hashable, Sendable {
    public var tokenIDs: [UInt32]
    /// logprobs[i]: natural log of the probability of tokenIDs[i] at temperature 1.
    public var logprobs: [Float]
    /// Alternatives per token (empty when none were requested).
    public var topLogprobs: [[TokenLogprob]]
    public var text: String
    public var finishReason: FinishReason
    public var promptTokens: UInt32
    public var completionTokens: UInt32
    public var timing: GenerationTiming
    /// With GenerateRequest.promptLogprobs (since 1.4): the prompt as the model saw it.
    public var promptTokenIDs: [UInt32]
    /// promptLogprobs[i]: natural log of the probability of promptTokenIDs[i + 1] given the tokens
    /// before it (promptTokenIDs.count - 1 values).
    public var promptLogprobs: [Float]
    /// Alternatives at each position of promptLogprobs (empty unless sampling.topLogprobs > 0).
    public var promptTopLogprobs: [[TokenLogprob]]

    public init(
        tokenIDs: [UInt32], logprobs: [Float], topLogprobs: [[TokenLogprob]] = [], text: String,
        finishReason: FinishReason, promptTokens: UInt32, completionTokens: UInt32,
        timing: GenerationTiming = GenerationTiming(), promptTokenIDs: [UInt32] = [], promptLogprobs: [Float] = [],
        promptTopLogprobs: [[TokenLogprob]] = []
    ) {
        self.promptTokenIDs = promptTokenIDs
        self.promptLogprobs = promptLogprobs
        self.promptTopLogprobs = promptTopLogprobs
        self.tokenIDs = tokenIDs
        self.logprobs = logprobs
        self.topLogprobs = topLogprobs
        self.text = text
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.timing = timing
    }
}

/// One item of a GenerateStream; `finishReason` is nil on every chunk but the last.
public struct GenerateStreamChunk: Hashable, Sendable {
    public var tokenIDs: [UInt32]
    public var logprobs: [Float]
    public var topLogprobs: [[TokenLogprob]]
    /// Whole UTF-8 characters added since the previous chunk (may be empty).
    public var textDelta: String
    public var finishReason: FinishReason?
    /// Set on the last chunk only.
    public var promptTokens: UInt32
    /// Set on the last chunk only.
    public var completionTokens: UInt32
    /// Set on the last chunk only.
    public var timing: GenerationTiming?
    /// On the first chunk only, with GenerateRequest.promptLogprobs: as in GenerateResponse.
    public var promptTokenIDs: [UInt32]
    public var promptLogprobs: [Float]
    public var promptTopLogprobs: [[TokenLogprob]]

    public init(
        tokenIDs: [UInt32], logprobs: [Float], topLogprobs: [[TokenLogprob]] = [], textDelta: String,
        finishReason: FinishReason? = nil, promptTokens: UInt32 = 0, completionTokens: UInt32 = 0,
        timing: GenerationTiming? = nil, promptTokenIDs: [UInt32] = [], promptLogprobs: [Float] = [],
        promptTopLogprobs: [[TokenLogprob]] = []
    ) {
        self.promptTokenIDs = promptTokenIDs
        self.promptLogprobs = promptLogprobs
        self.promptTopLogprobs = promptTopLogprobs
        self.tokenIDs = tokenIDs
        self.logprobs = logprobs
        self.topLogprobs = topLogprobs
        self.textDelta = textDelta
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.timing = timing
    }

    public var isLast: Bool { finishReason != nil }
}

// MARK: Cancel, Tokenize

/// Request of Cancel: the caller's own in-flight call to cancel.
public struct CancelRequest: Hashable, Sendable {
    public var callID: UInt64
    public init(callID: UInt64) { self.callID = callID }
}

/// Response of Cancel (empty: the status says whether the call was found).
public struct CancelResponse: Hashable, Sendable {
    public init() {}
}

/// Request of Tokenize.
public struct TokenizeRequest: Hashable, Sendable {
    public var text: String
    public init(text: String) { self.text = text }
}

/// Response of Tokenize.
public struct TokenizeResponse: Hashable, Sendable {
    public var tokenIDs: [UInt32]
    /// Each id's vocabulary entry as written in tokenizer.json.
    public var tokens: [String]

    public init(tokenIDs: [UInt32], tokens: [String] = []) {
        self.tokenIDs = tokenIDs
        self.tokens = tokens
    }
}
