// The connection thread of an MQClient: the only code that touches the client's DEALER socket.
// Callers on any thread or task post commands through a ZMQMailbox; the thread sends requests,
// routes each CallReply to its call by call id, and enforces every call's local deadline. It
// blocks in zmq_poll, so it runs on its own ZMQServiceThread, never on the Swift concurrency pool.
//
// A call's life here: `start` queues it; it is sent as soon as the socket has a connected peer
// (ZMQ_IMMEDIATE: libzmq will not queue it for a coordinator that is not there); if no connection
// comes within the connect timeout it fails with UNAVAILABLE. Once sent, replies with its id are
// delivered until the TRAILER; if none arrives by deadline + grace it fails with
// DEADLINE_EXCEEDED. Replies for ids not in flight (finished, timed out, cancelled) are dropped.
import Foundation
import MQProtocol
import MQTransport

/// What callers post to the connection thread.
enum ClientCommand: Sendable {
    /// Send a new call and deliver its replies.
    case start(OutgoingCall)
    /// The caller gave up on a call (its task was cancelled, its stream dropped): end it locally
    /// (a unary call throws CANCELLED) and, if the coordinator has it, send a Cancel for it.
    case abandon(callID: UInt64, reason: String)
    /// Fail every pending call, close the socket and end the thread.
    case shutdown
}

/// Where a call's replies go.
enum ReplySink: Sendable {
    /// A unary call: completed exactly once, with the OK trailer's payload or the failure.
    case unary(@Sendable (Result<[UInt8], MQClientError>) -> Void)
    /// A streaming call: each MESSAGE's chunk is yielded; the trailer finishes the stream.
    case stream(AsyncThrowingStream<GenerateStreamChunk, any Error>.Continuation)

    func succeed(_ payload: [UInt8]) {
        switch self {
        case let .unary(complete): complete(.success(payload))
        case let .stream(continuation): continuation.finish()
        }
    }

    func fail(_ error: MQClientError) {
        switch self {
        case let .unary(complete): complete(.failure(error))
        case let .stream(continuation): continuation.finish(throwing: error)
        }
    }
}

/// A call ready to go: its encoded CallRequest and where its replies go.
struct OutgoingCall: Sendable {
    let callID: UInt64
    let method: DecoderMethod
    /// The encoded CallRequest (one frame).
    let frame: [UInt8]
    /// The deadline sent as timeout_ms (for messages).
    let timeout: Duration
    /// When the client gives up locally: the caller's clock at the call plus timeout plus grace.
    let deadline: ContinuousClock.Instant
    let sink: ReplySink
}

/// Call ids: nonzero, unique per client socket (PROTOCOL.md 4.1: a counter is enough). Shared by
/// callers and the connection thread (which needs ids for the Cancel calls it sends).
final class CallIDs: @unchecked Sendable {
    // @unchecked: `last` is only read and written under `lock`.
    private let lock = NSLock()
    private var last: UInt64 = 0

    func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        last &+= 1
        if last == 0 { last = 1 }
        return last
    }
}

/// The state and loop of the connection thread. Not Sendable: created by `MQClient.init`, then
/// moved whole into the thread.
final class ClientConnection {
    private let socket: ZMQSocket
    private let mailbox: ZMQMailbox<ClientCommand>
    private let ids: CallIDs
    private let endpoint: String
    private let connectTimeout: Duration
    /// Whether the socket uses CURVE (only for the hint in the UNAVAILABLE message).
    private let secured: Bool
    private let log: MQClient.LogHandler?
    /// The client's API key: a Cancel sent on a caller's behalf needs it like any call.
    private let apiKey: String?

    private struct ActiveCall {
        let call: OutgoingCall
        /// When the call was queued here (for the UNAVAILABLE message).
        let queuedAt: ContinuousClock.Instant
        /// Until when an unsent call may wait for a connection.
        let connectDeadline: ContinuousClock.Instant
        var sent = false
        /// When the loop must look at this call again.
        var wakeTime: ContinuousClock.Instant { sent ? call.deadline : connectDeadline }
    }

    private var calls: [UInt64: ActiveCall] = [:]
    /// Ids of calls waiting to be sent, oldest first (requests go out in the order they were made).
    private var unsent: [UInt64] = []
    /// Set by `.shutdown`: later commands of the same batch are refused.
    private var stopping = false

    init(socket: ZMQSocket, mailbox: ZMQMailbox<ClientCommand>, ids: CallIDs, endpoint: String,
         connectTimeout: Duration, secured: Bool, apiKey: String? = nil, log: MQClient.LogHandler?) {
        self.secured = secured
        self.apiKey = apiKey
        self.socket = socket
        self.mailbox = mailbox
        self.ids = ids
        self.endpoint = endpoint
        self.connectTimeout = connectTimeout
        self.log = log
    }

    /// The loop. Returns after `.shutdown`; throws if libzmq fails (e.g. its context was shut
    /// down). Either way every pending call has been failed and the socket closed.
    func run() throws {
        // Two pollers over the same items (socket 0, mailbox 1): the socket's writability matters
        // only while calls wait to be sent; polling it otherwise would wake the loop constantly.
        var reading = ZMQPoller()
        let socketIndex = reading.add(socket, for: .readable)
        let mailboxIndex = reading.add(mailbox)
        var sending = ZMQPoller()
        sending.add(socket, for: [.readable, .writable])
        sending.add(mailbox)

        var stopReason = MQClientError(code: .cancelled, message: "the client was closed")
        defer { finish(stopReason) }
        do {
            while true {
                try expireCalls()
                try sendQueued()
                let timeout = nextWake().map { max(.zero, $0 - .now) }
                let ready = try unsent.isEmpty ? reading.poll(timeout: timeout) : sending.poll(timeout: timeout)
                if ready.isReadable(socketIndex) {
                    while let frames = try socket.tryReceive() { route(frames) }
                }
                if ready.isReadable(mailboxIndex) {
                    for command in mailbox.drain() { try handle(command) }
                    if stopping { return }
                }
            }
        } catch {
            stopReason = MQClientError(code: .unavailable, message: "the client's connection to \(endpoint) stopped: \(error)")
            log?("mq client: \(stopReason.message)")
            throw error
        }
    }

    // MARK: Commands

    private func handle(_ command: ClientCommand) throws {
        switch command {
        case let .start(call):
            guard !stopping else {
                call.sink.fail(MQClientError(code: .cancelled, message: "the client was closed", callID: call.callID))
                return
            }
            guard calls[call.callID] == nil else {
                // Ids come from one counter, so this is a bug in this module, reported, not trapped.
                call.sink.fail(MQClientError(code: .internalError, message: "call id \(call.callID) is already in flight", callID: call.callID))
                return
            }
            let now = ContinuousClock.now
            calls[call.callID] = ActiveCall(call: call, queuedAt: now, connectDeadline: min(now + connectTimeout, call.deadline))
            unsent.append(call.callID)
        case let .abandon(callID, reason):
            guard let active = calls.removeValue(forKey: callID) else { return }   // already ended
            if active.sent {
                try sendCancel(of: callID)
            } else {
                unsent.removeAll { $0 == callID }
            }
            // A stream is abandoned only from its own termination handler: it has already ended
            // for its consumer (iteration returns nil, as AsyncThrowingStream does on task
            // cancellation). Finishing it here too would race with that and could turn the end
            // into a thrown CANCELLED.
            if case .unary = active.call.sink {
                active.call.sink.fail(MQClientError(code: .cancelled, message: reason, callID: callID))
            }
        case .shutdown:
            stopping = true
        }
    }

    /// Tells the coordinator to stop a call nobody waits for any more (PROTOCOL.md 4.5). Best
    /// effort: its replies (OK or NOT_FOUND, and the call's CANCELLED trailer) are for ids no
    /// longer in flight and are dropped.
    private func sendCancel(of callID: UInt64) throws {
        let request = CallRequest(
            callID: ids.next(), call: .cancel(CancelRequest(callID: callID)),
            timeoutMilliseconds: wireMilliseconds(MQClientDefaults.cancelTimeout),
            metadata: apiKey.map { ["authorization": "Bearer \($0)"] } ?? [:])
        if try !socket.trySend(frames: [request.encode()]) {
            log?("mq client: could not send Cancel for call \(callID) to \(endpoint): no connection")
        }
    }

    // MARK: Deadlines and sending

    private func nextWake() -> ContinuousClock.Instant? {
        calls.values.lazy.map(\.wakeTime).min()
    }

    private func expireCalls() throws {
        let now = ContinuousClock.now
        let expired = calls.filter { $0.value.wakeTime <= now }.keys.sorted()
        for callID in expired {
            guard let active = calls.removeValue(forKey: callID) else { continue }
            let call = active.call
            if active.sent {
                call.sink.fail(MQClientError(
                    code: .deadlineExceeded,
                    message: "no reply from \(endpoint) to \(call.method.rawValue) within its deadline of "
                        + "\(describe(call.timeout)) (+ \(describe(MQClientDefaults.deadlineGrace)) grace)",
                    callID: callID))
            } else {
                unsent.removeAll { $0 == callID }
                call.sink.fail(MQClientError(
                    code: .unavailable,
                    message: "cannot reach \(endpoint): no connection to a coordinator within "
                        + "\(describe(active.connectDeadline - active.queuedAt)) (is it running and listening there? "
                        + (secured ? "If it is, its CURVE key is not the --server-key given, or it does not accept this client's key)"
                                   : "If it runs with CURVE keys, pass its public key: --server-key coordinator.pub)"),
                    callID: callID))
            }
        }
    }

    /// Sends waiting calls in order while the socket has a connected peer with room.
    private func sendQueued() throws {
        while let callID = unsent.first {
            guard let active = calls[callID] else {
                unsent.removeFirst()
                continue
            }
            guard try socket.trySend(frames: [active.call.frame]) else { return }
            unsent.removeFirst()
            calls[callID]?.sent = true
        }
    }

    // MARK: Replies

    /// Delivers one reply message to its call. Nothing a peer sends can trap here: frames that are
    /// not one valid CallReply are logged and dropped (the call then ends by its trailer or its
    /// deadline); a valid reply that breaks the call's protocol ends that call with INTERNAL.
    private func route(_ frames: [[UInt8]]) {
        guard frames.count == 1 else {
            log?("mq client: dropped a reply of \(frames.count) frames from \(endpoint) (a CallReply is exactly one frame)")
            return
        }
        let frame = frames[0]
        guard frame.count <= MQClientDefaults.maxReplyBytes else {
            log?("mq client: dropped a reply of \(frame.count) bytes from \(endpoint) (limit \(MQClientDefaults.maxReplyBytes))")
            return
        }
        let reply: CallReply
        do {
            reply = try CallReply.decode(frame)
        } catch {
            log?("mq client: dropped a malformed reply from \(endpoint): \(error)")
            return
        }
        // Replies for calls not in flight are normal after a local timeout or cancel.
        guard let active = calls[reply.callID] else { return }
        let callID = reply.callID
        switch reply {
        case let .message(_, payload):
            guard case let .stream(continuation) = active.call.sink else {
                end(callID, failure: "\(endpoint) sent a stream item for unary method \(active.call.method.rawValue)")
                return
            }
            do {
                continuation.yield(try GenerateStreamChunk.decode(payload))
            } catch {
                end(callID, failure: "\(endpoint) sent a malformed stream item for call \(callID): \(error)")
            }
        case let .trailer(_, status, payload):
            calls.removeValue(forKey: callID)
            if status.isOK {
                active.call.sink.succeed(payload)
            } else {
                active.call.sink.fail(MQClientError(status: status, callID: callID))
            }
        }
    }

    /// Ends a call whose replies break the protocol.
    private func end(_ callID: UInt64, failure message: String) {
        guard let active = calls.removeValue(forKey: callID) else { return }
        log?("mq client: \(message)")
        active.call.sink.fail(MQClientError(code: .internalError, message: message, callID: callID))
    }

    // MARK: Shutdown

    /// Fails every call still pending or queued in the mailbox with `reason`, and closes the socket.
    private func finish(_ reason: MQClientError) {
        for command in mailbox.close() {
            if case let .start(call) = command {
                call.sink.fail(MQClientError(code: reason.code, message: reason.message, callID: call.callID))
            }
        }
        let pending = calls
        calls.removeAll()
        unsent.removeAll()
        for (callID, active) in pending.sorted(by: { $0.key < $1.key }) {
            active.call.sink.fail(MQClientError(code: reason.code, message: reason.message, callID: callID))
        }
        socket.close()
    }
}

/// A Duration as CallRequest.timeout_ms: rounded up to whole milliseconds, at least 1 (0 would
/// mean "the server's default"), at most UInt32.max (the server clamps to its own maximum).
func wireMilliseconds(_ duration: Duration) -> UInt32 {
    UInt32(clamping: max(1, duration.millisecondsRoundedUp))
}

/// "250 ms", "1.5 s": durations in error messages.
func describe(_ duration: Duration) -> String {
    let milliseconds = duration.inMilliseconds
    if milliseconds < 1000 { return "\(Int(milliseconds.rounded())) ms" }
    let value = milliseconds / 1000
    return value == value.rounded() ? "\(Int(value)) s" : "\(String(format: "%.1f", value)) s"
}
