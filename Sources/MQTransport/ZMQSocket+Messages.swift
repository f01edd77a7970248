// Multipart send and receive on a ZMQSocket: blocking, with a timeout, and non-blocking, plus the
// ROUTER helpers that split off or prepend the identity frame.
//
// Error policy: "nothing to receive" and "would block" are ordinary results (nil / false), EINTR is
// retried, everything else (ETERM at shutdown, EHOSTUNREACH from a router-mandatory ROUTER, a
// closed socket) is thrown as a ZMQError naming the socket. Nothing here traps on network input.

import CZMQ

/// A message received on (or to be sent from) a ROUTER: the peer's routing identity and the
/// frames that followed it.
public struct RoutedMessage: Sendable, Equatable {
    public var identity: [UInt8]
    public var frames: [[UInt8]]
    /// The User-Id the ZAP handler gave the sender's connection: its CURVE public key in Z85;
    /// nil on connections without CURVE.
    public var userID: String?

    public init(identity: [UInt8], frames: [[UInt8]], userID: String? = nil) {
        self.identity = identity
        self.frames = frames
        self.userID = userID
    }
}

extension ZMQSocket {
    // MARK: - Sending

    /// Sends one multipart message, waiting while the peer queue is full (up to the send timeout;
    /// expiry throws `wouldBlock`).
    public func send(frames: [[UInt8]]) throws {
        try requireSent(sendMessage(identity: nil, count: frames.count, dontWait: false) {
            try Self.initialize($1, frame: frames[$0])
        })
    }

    /// Sends one multipart message whose frames may be byte arrays, Data or raw buffers.
    public func send(frames: [ZMQFrame]) throws {
        try requireSent(sendMessage(identity: nil, count: frames.count, dontWait: false) {
            try Self.initialize($1, frame: frames[$0])
        })
    }

    /// Sends without waiting; returns false (nothing sent) if the message cannot be queued now.
    public func trySend(frames: [[UInt8]]) throws -> Bool {
        try sendMessage(identity: nil, count: frames.count, dontWait: true) {
            try Self.initialize($1, frame: frames[$0])
        }
    }

    /// Sends without waiting; returns false (nothing sent) if the message cannot be queued now.
    public func trySend(frames: [ZMQFrame]) throws -> Bool {
        try sendMessage(identity: nil, count: frames.count, dontWait: true) {
            try Self.initialize($1, frame: frames[$0])
        }
    }

    /// ROUTER: sends `frames` to the peer with routing id `identity`. With router-mandatory on, an
    /// unknown identity throws `hostUnreachable`; otherwise libzmq drops the message silently.
    public func send(to identity: [UInt8], frames: [[UInt8]]) throws {
        try requireSent(routedSend(identity, count: frames.count, dontWait: false) {
            try Self.initialize($1, frame: frames[$0])
        }, identity: identity)
    }

    /// ROUTER: as `send(to:frames:)`, with frames that may be byte arrays, Data or raw buffers.
    public func send(to identity: [UInt8], frames: [ZMQFrame]) throws {
        try requireSent(routedSend(identity, count: frames.count, dontWait: false) {
            try Self.initialize($1, frame: frames[$0])
        }, identity: identity)
    }

    /// ROUTER, non-blocking: false if the peer's queue is full (reported only with router-mandatory
    /// on; without it libzmq drops the message and this returns true).
    public func trySend(to identity: [UInt8], frames: [[UInt8]]) throws -> Bool {
        try routedSend(identity, count: frames.count, dontWait: true) {
            try Self.initialize($1, frame: frames[$0])
        }
    }

    /// ROUTER, non-blocking, with frames that may be byte arrays, Data or raw buffers.
    public func trySend(to identity: [UInt8], frames: [ZMQFrame]) throws -> Bool {
        try routedSend(identity, count: frames.count, dontWait: true) {
            try Self.initialize($1, frame: frames[$0])
        }
    }

    // MARK: - Receiving

    /// Receives one multipart message, waiting up to the receive timeout (forever by default);
    /// nil if that timeout expired.
    public func receive() throws -> [[UInt8]]? {
        try receiveMessage(dontWait: false)
    }

    /// Receives one multipart message, waiting at most `timeout`; nil if none arrived in time.
    public func receive(timeout: Duration) throws -> [[UInt8]]? {
        let deadline = ContinuousClock.now + timeout
        while true {
            // Try first: when a message is already queued this costs no poll.
            if let frames = try receiveMessage(dontWait: true) { return frames }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return nil }
            if try !waitUntilReadable(timeout: remaining) { return nil }
        }
    }

    /// Receives one multipart message if one is queued; nil otherwise. Never waits.
    public func tryReceive() throws -> [[UInt8]]? {
        try receiveMessage(dontWait: true)
    }

    /// Receives one multipart message if one is queued and hands `body` its frames in libzmq's
    /// own buffers, valid only during the call: nothing is copied (a data-plane step's activations
    /// go straight from libzmq into the stage's hidden buffer). nil when nothing was queued.
    public func withNextMessage<T>(_ body: ([UnsafeRawBufferPointer]) throws -> T) throws -> T? {
        let socket = try openHandle("receive")
        var messages: [UnsafeMutablePointer<zmq_msg_t>] = []
        defer {
            for m in messages { zmq_msg_close(m); m.deallocate() }
        }
        while true {
            let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
            zmq_msg_init(message)
            let flags: Int32 = messages.isEmpty ? ZMQ_DONTWAIT : 0
            if zmq_msg_recv(message, socket, flags) < 0 {
                let code = zmq_errno()
                zmq_msg_close(message)
                message.deallocate()
                if code == EINTR { continue }
                if code == EAGAIN && messages.isEmpty { return nil }
                throw ZMQError(operation: "receive", endpoint: label, code: code,
                               detail: messages.isEmpty ? nil : "after \(messages.count) frame(s) of a multipart message")
            }
            messages.append(message)
            if zmq_msg_more(message) == 0 {
                lastUserID = zmq_msg_gets(message, "User-Id").map { String(cString: $0) }
                break
            }
        }
        let frames = messages.map { UnsafeRawBufferPointer(start: zmq_msg_data($0), count: zmq_msg_size($0)) }
        return try body(frames)
    }

    /// ROUTER: `receive()` with the identity frame split off.
    public func receiveRouted() throws -> RoutedMessage? {
        try routed(receive(), operation: "receive")
    }

    /// ROUTER: `receive(timeout:)` with the identity frame split off.
    public func receiveRouted(timeout: Duration) throws -> RoutedMessage? {
        try routed(receive(timeout: timeout), operation: "receive")
    }

    /// ROUTER: `tryReceive()` with the identity frame split off.
    public func tryReceiveRouted() throws -> RoutedMessage? {
        try routed(tryReceive(), operation: "receive")
    }

    // MARK: - Internals

    private func requireSent(_ sent: Bool, identity: [UInt8]? = nil) throws {
        if !sent {
            throw ZMQError(operation: Self.sendOperation(identity), endpoint: label, code: EAGAIN,
                           detail: "the peer queue stayed full until the send timeout (ZMQ_SNDTIMEO) expired")
        }
    }

    private func routedSend(_ identity: [UInt8], count: Int, dontWait: Bool,
                            initialize: (Int, UnsafeMutablePointer<zmq_msg_t>) throws -> Void) throws -> Bool {
        guard type == .router else {
            throw ZMQError(operation: Self.sendOperation(identity), endpoint: label, code: ENOTSUP,
                           detail: "routed sends need a ROUTER socket")
        }
        do {
            return try sendMessage(identity: identity, count: count, dontWait: dontWait, initialize: initialize)
        } catch let error as ZMQError where error.kind == .hostUnreachable {
            throw ZMQError(operation: error.operation, endpoint: error.endpoint, code: error.code,
                           detail: "no connected peer has routing id \(Self.hex(identity))")
        }
    }

    /// Sends `count` frames (preceded by `identity` if given). Returns false if the first frame
    /// would block (nothing was sent). A failure after the first frame leaves libzmq holding half a
    /// message, so the socket refuses further sends (it has to be closed and recreated).
    func sendMessage(identity: [UInt8]?, count: Int, dontWait: Bool,
                     initialize: (Int, UnsafeMutablePointer<zmq_msg_t>) throws -> Void) throws -> Bool {
        // The operation text is built only on failure: no string work on the hot path.
        let operation = { Self.sendOperation(identity) }
        let socket = try openHandle("send")
        guard !multipartBroken else {
            throw ZMQError(operation: operation(), endpoint: label, code: EPROTO,
                           detail: "an earlier multipart send failed midway; close and recreate the socket")
        }
        guard count > 0 else {
            throw ZMQError(operation: operation(), endpoint: label, code: EINVAL, detail: "a message needs at least one frame")
        }
        let offset = identity == nil ? 0 : 1
        let total = count + offset
        for part in 0..<total {
            do {
                if let identity, part == 0 {
                    try Self.initialize(scratch, frame: identity)
                } else {
                    try initialize(part - offset, scratch)
                }
            } catch {
                if part > 0 { multipartBroken = true }
                throw error
            }
            var flags: Int32 = part < total - 1 ? ZMQ_SNDMORE : 0
            // Only the first frame may be refused for a full queue: once it is accepted libzmq
            // accepts the rest of the message (the high-water mark counts whole messages).
            if part == 0 && dontWait { flags |= ZMQ_DONTWAIT }
            while zmq_msg_send(scratch, socket, flags) < 0 {
                let code = zmq_errno()
                if code == EINTR { continue }
                zmq_msg_close(scratch)
                if part == 0 && code == EAGAIN { return false }
                if part > 0 { multipartBroken = true }
                throw ZMQError(operation: operation(), endpoint: label, code: code,
                               detail: part == 0 ? nil : "failed at frame \(part + 1) of \(total)")
            }
        }
        return true
    }

    /// Receives one whole multipart message, or nil if the first frame is not there (EAGAIN:
    /// non-blocking and empty, or the receive timeout expired). libzmq delivers the frames of a
    /// message together, so the frames after the first never wait.
    func receiveMessage(dontWait: Bool) throws -> [[UInt8]]? {
        let socket = try openHandle("receive")
        var frames: [[UInt8]] = []
        while true {
            zmq_msg_init(scratch)
            let flags: Int32 = frames.isEmpty && dontWait ? ZMQ_DONTWAIT : 0
            if zmq_msg_recv(scratch, socket, flags) < 0 {
                let code = zmq_errno()
                zmq_msg_close(scratch)
                if code == EINTR { continue }
                if code == EAGAIN && frames.isEmpty { return nil }
                throw ZMQError(operation: "receive", endpoint: label, code: code,
                               detail: frames.isEmpty ? nil : "after \(frames.count) frame(s) of a multipart message")
            }
            let size = zmq_msg_size(scratch)
            let source = zmq_msg_data(scratch)
            let frame = [UInt8](unsafeUninitializedCapacity: size) { destination, initialized in
                // Raw copyMemory is a memcpy even in debug builds (a typed element loop is not).
                if size > 0, let source { UnsafeMutableRawPointer(destination.baseAddress!).copyMemory(from: source, byteCount: size) }
                initialized = size
            }
            let more = zmq_msg_more(scratch) != 0
            if !more {
                // Metadata rides on every frame from the peer's connection; the last frame is
                // never a ROUTER's locally made identity frame.
                lastUserID = zmq_msg_gets(scratch, "User-Id").map { String(cString: $0) }
            }
            zmq_msg_close(scratch)
            frames.append(frame)
            if !more { return frames }
        }
    }

    /// Waits until a message can be received, at most `timeout`. EINTR counts as "look again".
    func waitUntilReadable(timeout: Duration) throws -> Bool {
        let socket = try openHandle("poll")
        var item = zmq_pollitem_t(socket: socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let ready = zmq_poll(&item, 1, Int(Self.milliseconds(timeout)))
        if ready < 0 {
            let code = zmq_errno()
            if code == EINTR { return true }
            throw ZMQError(operation: "poll", endpoint: label, code: code)
        }
        return ready > 0
    }

    private func routed(_ frames: [[UInt8]]?, operation: String) throws -> RoutedMessage? {
        guard type == .router else {
            throw ZMQError(operation: operation, endpoint: label, code: ENOTSUP, detail: "routed receives need a ROUTER socket")
        }
        guard var frames else { return nil }
        // A ROUTER always prepends the identity, so `frames` has at least one element.
        let identity = frames.removeFirst()
        return RoutedMessage(identity: identity, frames: frames, userID: lastUserID)
    }

    static func initialize(_ message: UnsafeMutablePointer<zmq_msg_t>, frame: [UInt8]) throws {
        try frame.withUnsafeBytes { try initialize(message, copying: $0) }
    }

    static func initialize(_ message: UnsafeMutablePointer<zmq_msg_t>, copying bytes: UnsafeRawBufferPointer) throws {
        if zmq_msg_init_size(message, bytes.count) != 0 {
            throw ZMQError.last("zmq_msg_init_size \(bytes.count)")
        }
        if bytes.count > 0, let source = bytes.baseAddress, let destination = zmq_msg_data(message) {
            destination.copyMemory(from: source, byteCount: bytes.count)
        }
    }

    static func initialize(_ message: UnsafeMutablePointer<zmq_msg_t>, frame: ZMQFrame) throws {
        switch frame {
        case .bytes(let bytes):
            try initialize(message, frame: bytes)
        case .data(let data):
            try data.withUnsafeBytes { try initialize(message, copying: $0) }
        case .raw(let buffer):
            try initialize(message, copying: buffer)
        }
    }

    static func sendOperation(_ identity: [UInt8]?) -> String {
        identity.map { "send to \(hex($0))" } ?? "send"
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var text = "0x"
        for byte in bytes.prefix(32) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        if bytes.count > 32 { text += "..." }
        return text
    }
}
