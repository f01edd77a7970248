// ProtocolError: every way a frame from the network can fail to become a typed MQProtocol value.
// Decoding never traps: bad bytes, truncated frames, invalid UTF-8, unknown enum values, wrong
// frame counts and version mismatches all end up here, naming the field that failed.

/// A frame or message that does not satisfy the mq wire protocol (Protos/PROTOCOL.md).
public enum ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// protobuf-c could not parse the bytes as the named message (random or truncated bytes).
    case malformed(message: String, byteCount: Int)
    /// A required field is absent, named by its path (for example "CallRequest.version").
    case missingField(String)
    /// A string or text field does not hold valid UTF-8.
    case invalidUTF8(field: String)
    /// A field holds a value the protocol forbids.
    case invalidValue(field: String, reason: String)
    /// An enum field holds a number this version does not know, where guessing is unsafe.
    case unknownEnumValue(field: String, value: Int32)
    /// CallRequest.method names no method of mq.v1.Decoder.
    case unknownMethod(String)
    /// The peer speaks another major protocol version.
    case versionMismatch(local: ProtocolVersion, remote: ProtocolVersion)
    /// A frame is larger than the protocol allows.
    case oversized(what: String, byteCount: Int, limit: Int)
    /// A multipart message has the wrong number of frames.
    case wrongFrameCount(what: String, expected: String, actual: Int)
    /// A message arrived where the protocol expects another kind (for example a Register on a
    /// data socket).
    case unexpectedMessage(expected: String, actual: String)

    public var description: String {
        switch self {
        case let .malformed(message, byteCount):
            return "malformed \(message): \(byteCount) bytes that protobuf-c cannot parse"
        case let .missingField(field):
            return "missing required field \(field)"
        case let .invalidUTF8(field):
            return "invalid UTF-8 in \(field)"
        case let .invalidValue(field, reason):
            return "invalid \(field): \(reason)"
        case let .unknownEnumValue(field, value):
            return "unknown value \(value) in \(field)"
        case let .unknownMethod(method):
            return "unknown method \"\(method)\" (known: "
                + DecoderMethod.allCases.map(\.rawValue).joined(separator: ", ") + ")"
        case let .versionMismatch(local, remote):
            return "protocol version mismatch: the peer speaks mq protocol \(remote), this side speaks "
                + "\(local); major versions must be equal"
        case let .oversized(what, byteCount, limit):
            return "\(what) is \(byteCount) bytes, over the limit of \(limit)"
        case let .wrongFrameCount(what, expected, actual):
            return "\(what) has \(actual) frame(s), expected \(expected)"
        case let .unexpectedMessage(expected, actual):
            return "unexpected \(actual), expected \(expected)"
        }
    }

    /// The status a coordinator replies with when a client's call fails with this error:
    /// UNIMPLEMENTED for an unknown method or another major version (as gRPC answers an unknown
    /// service), INVALID_ARGUMENT for everything else.
    public var statusCode: StatusCode {
        switch self {
        case .unknownMethod, .versionMismatch: return .unimplemented
        default: return .invalidArgument
        }
    }

    /// The Status carrying this error to a client.
    public var status: Status { Status(code: statusCode, message: description) }
}
