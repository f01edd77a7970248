// ZMQSocket: one libzmq socket — its type, lifetime, endpoints and typed options. Sending and
// receiving live in ZMQSocket+Messages.swift.
//
// Threading rule: a libzmq socket must be used by one thread at a time, so `ZMQSocket` is
// deliberately NOT `Sendable`. The compiler then enforces the rule: a socket stays in the region
// (thread, closure) that created it, or is handed over whole with `sending` — e.g. into
// `ZMQServiceThread.start { ... }`, after which the creator can no longer touch it. Other threads
// talk to the loop that owns the socket through a `ZMQMailbox` (thread-safe, wakes the loop's poll).

import CZMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The socket types MQTransport supports (the patterns a coordinator/worker system needs).
public enum ZMQSocketType: Sendable, Equatable, CustomStringConvertible {
    /// Raw TCP (ZMQ_STREAM): frames are [connection id, bytes]; used for the HTTP metrics endpoint.
    case router, dealer, push, pull, pair, req, rep, stream

    var rawValue: Int32 {
        switch self {
        case .router: return ZMQ_ROUTER
        case .dealer: return ZMQ_DEALER
        case .push: return ZMQ_PUSH
        case .pull: return ZMQ_PULL
        case .pair: return ZMQ_PAIR
        case .req: return ZMQ_REQ
        case .rep: return ZMQ_REP
        case .stream: return ZMQ_STREAM
        }
    }

    public var description: String {
        switch self {
        case .router: return "ROUTER"
        case .dealer: return "DEALER"
        case .push: return "PUSH"
        case .pull: return "PULL"
        case .pair: return "PAIR"
        case .req: return "REQ"
        case .rep: return "REP"
        case .stream: return "STREAM"
        }
    }
}

/// A libzmq socket. Not thread-safe and not `Sendable`: see the threading rule at the top of this file.
public final class ZMQSocket {
    public let type: ZMQSocketType
    /// A label for logs and errors ("client-router", "stage-1-out"); may be empty.
    public let name: String
    /// Keeps the context alive while the socket is open (zmq_ctx_term must not run before zmq_close).
    public let context: ZMQContext
    /// Endpoints currently bound or connected, as resolved by libzmq (a wildcard tcp port appears
    /// as the port actually chosen).
    public private(set) var endpoints: [String] = []

    /// nil once closed.
    var handle: UnsafeMutableRawPointer?
    /// One message struct reused for every frame this socket sends or receives, so the hot path
    /// allocates no zmq_msg_t. Heap-allocated because a small zmq_msg_t keeps its bytes inline and
    /// must not move between zmq_msg_data() and the copy.
    let scratch: UnsafeMutablePointer<zmq_msg_t>
    /// Filesystem paths of ipc endpoints this socket bound. libzmq 4.3.4 leaves the socket file
    /// behind on unbind and close (it only unlinks a stale one at the next bind), so we remove it,
    /// and a stopped cluster leaves no stray files.
    private var boundIPCPaths: [String: String] = [:]
    /// Set if a multipart send failed after its first frame went out: libzmq would glue the next
    /// message onto the unfinished one, so further sends are refused.
    var multipartBroken = false
    /// The User-Id of the connection the last received message came from (the sender's CURVE
    /// public key in Z85, set by the ZAPHandler); nil for connections without CURVE.
    public internal(set) var lastUserID: String?

    /// Creates a socket and applies the module defaults (linger, high-water marks, inbound frame
    /// limit) from `TransportDefaults`.
    public init(_ context: ZMQContext, type: ZMQSocketType, name: String = "") throws {
        guard let socket = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError.last("zmq_socket \(type)", endpoint: name)
        }
        self.type = type
        self.name = name
        self.context = context
        self.handle = socket
        self.scratch = .allocate(capacity: 1)
        try setLinger(TransportDefaults.linger)
        try setSendHighWaterMark(TransportDefaults.sendHighWaterMark)
        try setReceiveHighWaterMark(TransportDefaults.receiveHighWaterMark)
        try setMaxMessageSize(TransportDefaults.maxFrameSize)
    }

    deinit {
        close()
        scratch.deallocate()
    }

    /// Closes the socket. Idempotent. Queued outbound messages get `linger` to leave.
    public func close() {
        guard let socket = handle else { return }
        handle = nil
        endpoints.removeAll()
        for path in boundIPCPaths.values { Self.unlinkSocketFile(path) }
        boundIPCPaths.removeAll()
        // zmq_close only fails for an invalid socket, which `socket` is not.
        _ = zmq_close(socket)
    }

    public var isClosed: Bool { handle == nil }

    /// "ROUTER client-router tcp://127.0.0.1:5555": what errors name as the endpoint.
    var label: String {
        var parts = [type.description]
        if !name.isEmpty { parts.append(name) }
        if !endpoints.isEmpty { parts.append(endpoints.joined(separator: ",")) }
        return parts.joined(separator: " ")
    }

    func openHandle(_ operation: String) throws -> UnsafeMutableRawPointer {
        guard let socket = handle else {
            throw ZMQError(operation: operation, endpoint: label, code: ENOTSOCK, detail: "the socket is closed")
        }
        return socket
    }

    // MARK: - Endpoints

    /// Binds to `endpoint` (tcp://host:port, ipc:///path, inproc://name) and returns the endpoint
    /// as resolved by libzmq: binding `tcp://127.0.0.1:*` returns the port the OS chose.
    @discardableResult
    public func bind(_ endpoint: String) throws -> String {
        let socket = try openHandle("bind")
        if zmq_bind(socket, endpoint) != 0 {
            throw ZMQError.last("bind \(endpoint)", endpoint: label)
        }
        let resolved = try lastEndpoint
        endpoints.append(resolved)
        if let path = Self.ipcPath(resolved) { boundIPCPaths[resolved] = path }
        return resolved
    }

    /// Connects to `endpoint`. Succeeds even if nobody listens yet: libzmq connects (and
    /// reconnects) in the background.
    public func connect(_ endpoint: String) throws {
        let socket = try openHandle("connect")
        if zmq_connect(socket, endpoint) != 0 {
            throw ZMQError.last("connect \(endpoint)", endpoint: label)
        }
        endpoints.append(endpoint)
    }

    /// Stops listening on `endpoint`; pass the resolved form `bind` returned for wildcard binds.
    public func unbind(_ endpoint: String) throws {
        let socket = try openHandle("unbind")
        if zmq_unbind(socket, endpoint) != 0 {
            throw ZMQError.last("unbind \(endpoint)", endpoint: label)
        }
        endpoints.removeAll { $0 == endpoint }
        if let path = boundIPCPaths.removeValue(forKey: endpoint) { Self.unlinkSocketFile(path) }
    }

    /// Drops the connection to `endpoint` (and stops reconnecting to it).
    public func disconnect(_ endpoint: String) throws {
        let socket = try openHandle("disconnect")
        if zmq_disconnect(socket, endpoint) != 0 {
            throw ZMQError.last("disconnect \(endpoint)", endpoint: label)
        }
        endpoints.removeAll { $0 == endpoint }
    }

    /// ZMQ_LAST_ENDPOINT: the endpoint of the last bind or connect, resolved.
    public var lastEndpoint: String {
        get throws {
            let bytes = try bytesOption(ZMQ_LAST_ENDPOINT, "ZMQ_LAST_ENDPOINT", capacity: 1024)
            // libzmq returns a NUL-terminated string; drop the terminator.
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// The filesystem path of an `ipc://` endpoint; nil for other transports and for Linux's
    /// abstract namespace (`ipc://@name`), which has no file.
    static func ipcPath(_ endpoint: String) -> String? {
        guard endpoint.hasPrefix("ipc://") else { return nil }
        let path = String(endpoint.dropFirst("ipc://".count))
        guard !path.isEmpty, !path.hasPrefix("@") else { return nil }
        return path
    }

    /// Best effort: a file already gone (or never created) is not an error worth reporting.
    private static func unlinkSocketFile(_ path: String) {
        _ = unlink(path)
    }

    // MARK: - Typed options (set before bind/connect unless noted; libzmq applies most only to
    // connections made afterwards)

    /// How long queued messages may wait for delivery after `close()`; nil waits forever
    /// (avoid: it can block process exit when a peer is dead).
    public func setLinger(_ linger: Duration?) throws {
        try setInt32(ZMQ_LINGER, "ZMQ_LINGER", linger.map(Self.milliseconds) ?? -1)
    }

    /// Outbound queue limit in messages per peer (0 = unlimited).
    public func setSendHighWaterMark(_ messages: Int32) throws {
        try setInt32(ZMQ_SNDHWM, "ZMQ_SNDHWM", messages)
    }

    /// Inbound queue limit in messages per peer (0 = unlimited).
    public func setReceiveHighWaterMark(_ messages: Int32) throws {
        try setInt32(ZMQ_RCVHWM, "ZMQ_RCVHWM", messages)
    }

    /// The identity a ROUTER peer sees for this socket: 1...255 bytes, not starting with a zero
    /// byte (libzmq reserves those for generated ids).
    public func setRoutingID(_ id: [UInt8]) throws {
        guard (1...TransportDefaults.maxRoutingIDLength).contains(id.count), id[0] != 0 else {
            throw ZMQError(operation: "setsockopt ZMQ_ROUTING_ID", endpoint: label, code: EINVAL,
                           detail: "a routing id has 1...255 bytes and must not start with a zero byte (got \(id.count) bytes)")
        }
        try setBytes(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID", id)
    }

    /// The routing id set with `setRoutingID` (empty if none).
    public var routingID: [UInt8] {
        get throws { try bytesOption(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID", capacity: 256) }
    }

    /// ROUTER: report an unknown identity as `hostUnreachable` instead of silently dropping the
    /// message (and report a full peer queue as `wouldBlock`).
    public func setRouterMandatory(_ on: Bool) throws {
        try setInt32(ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY", on ? 1 : 0)
    }

    /// ROUTER: a new connection presenting an identity already in use takes it over (a restarted
    /// worker reusing its id) instead of being ignored.
    public func setRouterHandover(_ on: Bool) throws {
        try setInt32(ZMQ_ROUTER_HANDOVER, "ZMQ_ROUTER_HANDOVER", on ? 1 : 0)
    }

    /// ROUTER/DEALER: send an empty message on connect, so a ROUTER learns the peer's identity
    /// before the peer says anything.
    public func setProbeRouter(_ on: Bool) throws {
        try setInt32(ZMQ_PROBE_ROUTER, "ZMQ_PROBE_ROUTER", on ? 1 : 0)
    }

    /// How long a blocking `send` waits at the high-water mark (nil = forever, the libzmq default).
    public func setSendTimeout(_ timeout: Duration?) throws {
        try setInt32(ZMQ_SNDTIMEO, "ZMQ_SNDTIMEO", timeout.map(Self.milliseconds) ?? -1)
    }

    /// How long a blocking `receive()` waits (nil = forever, the libzmq default).
    public func setReceiveTimeout(_ timeout: Duration?) throws {
        try setInt32(ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO", timeout.map(Self.milliseconds) ?? -1)
    }

    /// Queue messages only to completed connections: with no live peer a send blocks / reports
    /// `wouldBlock` instead of queueing for a peer that may never come.
    public func setImmediate(_ on: Bool) throws {
        try setInt32(ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE", on ? 1 : 0)
    }

    /// ZMTP heartbeat: send a PING every `interval` on each connection (nil disables).
    public func setHeartbeatInterval(_ interval: Duration?) throws {
        try setInt32(ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL", interval.map(Self.milliseconds) ?? 0)
    }

    /// Close a connection that sent nothing for `timeout` after a PING (default: the interval).
    public func setHeartbeatTimeout(_ timeout: Duration) throws {
        try setInt32(ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT", Self.milliseconds(timeout))
    }

    /// Ask the remote side to time out this connection after `ttl` without traffic (libzmq keeps
    /// it in deciseconds, at most 6553.5 s).
    public func setHeartbeatTTL(_ ttl: Duration) throws {
        let milliseconds = Self.milliseconds(ttl)
        guard milliseconds <= 6_553_599 else {
            throw ZMQError(operation: "setsockopt ZMQ_HEARTBEAT_TTL", endpoint: label, code: EINVAL,
                           detail: "ttl \(ttl) exceeds libzmq's limit of 6553.599 s")
        }
        try setInt32(ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL", milliseconds)
    }

    /// Largest inbound frame, in bytes (nil = unlimited). A peer sending a larger frame over tcp or
    /// ipc is disconnected and the frame is dropped; inproc traffic is not checked by libzmq.
    public func setMaxMessageSize(_ bytes: Int64?) throws {
        try setInt64(ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", bytes ?? -1)
    }

    /// TCP keepalive (SO_KEEPALIVE): `idle` before the first probe, `interval` between probes,
    /// `count` unanswered probes before the OS drops the connection. Whole seconds; nil leaves the
    /// OS default. Catches peers that vanished without closing (power loss, cable).
    public func setTCPKeepalive(_ on: Bool, idle: Duration? = nil, interval: Duration? = nil, count: Int32? = nil) throws {
        try setInt32(ZMQ_TCP_KEEPALIVE, "ZMQ_TCP_KEEPALIVE", on ? 1 : 0)
        if let idle { try setInt32(ZMQ_TCP_KEEPALIVE_IDLE, "ZMQ_TCP_KEEPALIVE_IDLE", Self.seconds(idle)) }
        if let interval { try setInt32(ZMQ_TCP_KEEPALIVE_INTVL, "ZMQ_TCP_KEEPALIVE_INTVL", Self.seconds(interval)) }
        if let count { try setInt32(ZMQ_TCP_KEEPALIVE_CNT, "ZMQ_TCP_KEEPALIVE_CNT", count) }
    }

    /// First delay before reconnecting a dropped or refused connection.
    public func setReconnectInterval(_ interval: Duration) throws {
        try setInt32(ZMQ_RECONNECT_IVL, "ZMQ_RECONNECT_IVL", Self.milliseconds(interval))
    }

    /// Upper bound of the exponential reconnect backoff (nil = no backoff, always the interval).
    public func setReconnectIntervalMax(_ maximum: Duration?) throws {
        try setInt32(ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX", maximum.map(Self.milliseconds) ?? 0)
    }

    // MARK: - Raw option access

    func setInt32(_ option: Int32, _ optionName: String, _ value: Int32) throws {
        let socket = try openHandle("setsockopt \(optionName)")
        var value = value
        if zmq_setsockopt(socket, option, &value, MemoryLayout<Int32>.size) != 0 {
            throw ZMQError.last("setsockopt \(optionName)=\(value)", endpoint: label)
        }
    }

    func setInt64(_ option: Int32, _ optionName: String, _ value: Int64) throws {
        let socket = try openHandle("setsockopt \(optionName)")
        var value = value
        if zmq_setsockopt(socket, option, &value, MemoryLayout<Int64>.size) != 0 {
            throw ZMQError.last("setsockopt \(optionName)=\(value)", endpoint: label)
        }
    }

    func setBytes(_ option: Int32, _ optionName: String, _ value: [UInt8]) throws {
        let socket = try openHandle("setsockopt \(optionName)")
        let rc = value.withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
        if rc != 0 {
            throw ZMQError.last("setsockopt \(optionName)", endpoint: label)
        }
    }

    func int32Option(_ option: Int32, _ optionName: String) throws -> Int32 {
        let socket = try openHandle("getsockopt \(optionName)")
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if zmq_getsockopt(socket, option, &value, &size) != 0 {
            throw ZMQError.last("getsockopt \(optionName)", endpoint: label)
        }
        return value
    }

    func int64Option(_ option: Int32, _ optionName: String) throws -> Int64 {
        let socket = try openHandle("getsockopt \(optionName)")
        var value: Int64 = 0
        var size = MemoryLayout<Int64>.size
        if zmq_getsockopt(socket, option, &value, &size) != 0 {
            throw ZMQError.last("getsockopt \(optionName)", endpoint: label)
        }
        return value
    }

    func bytesOption(_ option: Int32, _ optionName: String, capacity: Int) throws -> [UInt8] {
        let socket = try openHandle("getsockopt \(optionName)")
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        let rc = buffer.withUnsafeMutableBytes { zmq_getsockopt(socket, option, $0.baseAddress, &size) }
        if rc != 0 {
            throw ZMQError.last("getsockopt \(optionName)", endpoint: label)
        }
        return Array(buffer.prefix(size))
    }

    // MARK: - Duration conversion

    /// Milliseconds for libzmq, rounding a positive sub-millisecond remainder up (a 0.5 ms timeout
    /// must not become 0, which libzmq reads as "do not wait") and clamping to Int32.
    static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: duration.millisecondsRoundedUp)
    }

    static func seconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        return Int32(clamping: max(1, seconds + (attoseconds > 0 ? 1 : 0)))
    }
}
