// ZAPHandler: the ZeroMQ Authentication Protocol (ZAP, RFC 27) handler of one context. libzmq asks
// it, over inproc://zeromq.zap.01, whether each new CURVE connection to a server socket may
// proceed; the request names the socket's ZAP domain and carries the client's public key. The
// handler answers from a policy per domain (any key, or a set of keys), which its owner may change
// at any time (a worker's data socket accepts only the stage before it, which changes with each
// Assign). An accepted connection gets the client's Z85 public key as its User-Id, so every
// message received on it says who sent it (`RoutedMessage.userID`, `ZMQSocket.lastUserID`).
//
// It must run before any CURVE server socket of its context binds: without a handler libzmq lets
// every client in. `ZMQSocket.secure(.curveServer)` refuses to proceed until one is installed.

import Foundation

/// Who may connect to the sockets of one ZAP domain.
public enum ZAPPolicy: Sendable, Equatable {
    /// Any client that completes the CURVE handshake (it knows the server's public key).
    case anyKey
    /// Only these keys.
    case keys(Set<CurvePublicKey>)
    /// Nobody (e.g. a worker's data socket before its first assignment).
    case nobody

    func allows(_ key: CurvePublicKey) -> Bool {
        switch self {
        case .anyKey: return true
        case .keys(let keys): return keys.contains(key)
        case .nobody: return false
        }
    }
}

/// One refused connection, for the owner's (rate-limited) log.
public struct ZAPRefusal: Sendable {
    public let domain: String
    public let address: String
    /// The client's key, or nil for a mechanism other than CURVE.
    public let key: CurvePublicKey?
    public let mechanism: String
}

public final class ZAPHandler: @unchecked Sendable {
    // @unchecked: `policies` and the counters are only touched under `lock`; the REP socket lives
    // on the handler's thread; the mailbox is thread-safe.
    public static let endpoint = "inproc://zeromq.zap.01"

    private let lock = NSLock()
    private var policies: [String: ZAPPolicy]
    private var accepted: UInt64 = 0
    private var refused: UInt64 = 0
    private let stopBox: ZMQMailbox<Bool>
    private var thread: ZMQServiceThread?
    private let context: ZMQContext

    /// Binds the ZAP endpoint of `context` and starts answering on a thread of its own.
    /// `onRefusal` is called on that thread for each refused connection.
    public init(context: ZMQContext, policies: [String: ZAPPolicy],
                onRefusal: (@Sendable (ZAPRefusal) -> Void)? = nil) throws {
        self.context = context
        self.policies = policies
        stopBox = try ZMQMailbox()
        let socket = try ZMQSocket(context, type: .rep, name: "zap")
        try socket.setLinger(.zero)
        try socket.bind(Self.endpoint)
        context.markZAPInstalled()
        let stop = stopBox
        thread = ZMQServiceThread.start(name: "mq-zap") { [unowned self] in
            defer { socket.close() }
            var poller = ZMQPoller()
            let requests = poller.add(socket)
            let stopIndex = poller.add(stop)
            while true {
                let ready = try poller.poll(timeout: nil)
                if ready.isReadable(stopIndex), !stop.drain().isEmpty || stop.isClosed { return }
                if ready.isReadable(requests) {
                    while let frames = try socket.tryReceive() {
                        try socket.send(frames: self.answer(frames, onRefusal: onRefusal))
                    }
                }
            }
        }
    }

    /// Replaces the policy of `domain` (new connections only; the owner checks each message's
    /// User-Id where connections made under an older policy matter).
    public func setPolicy(_ policy: ZAPPolicy, for domain: String) {
        lock.lock(); defer { lock.unlock() }
        policies[domain] = policy
    }

    public func policy(for domain: String) -> ZAPPolicy? {
        lock.lock(); defer { lock.unlock() }
        return policies[domain]
    }

    /// Connections accepted and refused so far.
    public var counts: (accepted: UInt64, refused: UInt64) {
        lock.lock(); defer { lock.unlock() }
        return (accepted, refused)
    }

    /// Stops the thread and closes the ZAP socket (before the context may terminate). Idempotent.
    public func stop() {
        guard let thread else { return }
        self.thread = nil
        _ = stopBox.post(true)
        try? thread.join()
        _ = stopBox.close()
    }

    deinit { stop() }

    /// The reply to one ZAP request (RFC 27): version, request id, status code, status text,
    /// user id, metadata.
    func answer(_ frames: [[UInt8]], onRefusal: (@Sendable (ZAPRefusal) -> Void)?) -> [[UInt8]] {
        // Request: version, request id, domain, address, routing id, mechanism, credentials...
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else {
            let id = frames.count > 1 ? frames[1] : []
            return [Array("1.0".utf8), id, Array("500".utf8), Array("malformed ZAP request".utf8), [], []]
        }
        let requestID = frames[1]
        let domain = String(decoding: frames[2], as: UTF8.self)
        let address = String(decoding: frames[3], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        let key = mechanism == "CURVE" && frames.count >= 7 ? CurvePublicKey(bytes: frames[6]) : nil
        lock.lock()
        let allowed = key.map { policies[domain]?.allows($0) ?? false } ?? false
        if allowed { accepted += 1 } else { refused += 1 }
        lock.unlock()
        if let key, allowed {
            return [Array("1.0".utf8), requestID, Array("200".utf8), Array("OK".utf8), Array(key.z85.utf8), []]
        }
        onRefusal?(ZAPRefusal(domain: domain, address: address, key: key, mechanism: mechanism))
        return [Array("1.0".utf8), requestID, Array("400".utf8), Array("key not authorized".utf8), [], []]
    }
}
