// The one error type MQClient throws: a gRPC-style status code, a message naming what failed, and
// the call it belongs to. Failures reported by the coordinator (a non-OK trailer) and failures
// detected locally (deadline passed, no connection, malformed reply, client closed) look the same
// to a caller, as in gRPC.
import MQProtocol

/// A failed call.
public struct MQClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The status code: the coordinator's, or a local one (DEADLINE_EXCEEDED, UNAVAILABLE,
    /// CANCELLED, INTERNAL for a reply that does not follow the protocol, INVALID_ARGUMENT for a
    /// request the client refuses to send).
    public var code: StatusCode
    /// What failed, e.g. "prompt has 9000 tokens, limit 8000".
    public var message: String
    /// The call's id, when the call got one.
    public var callID: UInt64?

    public init(code: StatusCode, message: String, callID: UInt64? = nil) {
        self.code = code
        self.message = message
        self.callID = callID
    }

    /// The error for a non-OK trailer.
    public init(status: Status, callID: UInt64?) {
        self.init(code: status.code, message: status.message, callID: callID)
    }

    public var status: Status { Status(code: code, message: message) }

    /// "DEADLINE_EXCEEDED: no reply from tcp://127.0.0.1:5555 within 2.2 s": what `mq` prints after
    /// "mq: error: ".
    public var description: String { message.isEmpty ? code.description : "\(code): \(message)" }
}
