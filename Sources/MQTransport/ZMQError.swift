// ZMQError: the one error type MQTransport throws. It names the operation ("bind", "send", ...),
// the socket and endpoint involved and libzmq's errno text, so a log line alone says what failed.
// Network failures are values of this type; nothing in MQTransport traps on them.

import CZMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reported by libzmq (or by MQTransport's own argument checks).
public struct ZMQError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being done: "bind", "connect", "send", "receive", "poll", "setsockopt ZMQ_LINGER", ...
    public let operation: String
    /// The socket's name and endpoints, or the endpoint of a bind/connect; empty when not relevant.
    public let endpoint: String
    /// The errno value libzmq reported (ETERM, EHOSTUNREACH, EAGAIN, ...).
    public let code: Int32
    /// Extra explanation from MQTransport when the errno alone is not enough.
    public let detail: String?

    public init(operation: String, endpoint: String = "", code: Int32, detail: String? = nil) {
        self.operation = operation
        self.endpoint = endpoint
        self.code = code
        self.detail = detail
    }

    /// Captures `zmq_errno()` right after a failed libzmq call.
    static func last(_ operation: String, endpoint: String = "") -> ZMQError {
        ZMQError(operation: operation, endpoint: endpoint, code: zmq_errno())
    }

    /// libzmq's text for `code` (it covers both its own codes such as ETERM and plain errno values).
    public var message: String { String(cString: zmq_strerror(code)) }

    /// The broad classes of failure a caller reacts to differently.
    public enum Kind: Sendable, Equatable {
        /// The operation would block (non-blocking call) or its send/receive timeout expired.
        case wouldBlock
        /// A ROUTER with router-mandatory was asked to send to an identity it has no peer for.
        case hostUnreachable
        /// The context was shut down or terminated: the owning loop should close its sockets and exit.
        case contextTerminated
        /// Anything else (bad endpoint, address in use, invalid option, closed socket, ...).
        case other
    }

    public var kind: Kind {
        switch code {
        case EAGAIN: return .wouldBlock
        case EHOSTUNREACH: return .hostUnreachable
        case ETERM: return .contextTerminated
        default: return .other
        }
    }

    public var description: String {
        var text = "zmq \(operation)"
        if !endpoint.isEmpty { text += " (\(endpoint))" }
        text += " failed: \(message) [errno \(code)]"
        if let detail { text += ": \(detail)" }
        return text
    }
}
