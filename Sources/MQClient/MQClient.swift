// MQClient: calls the mq coordinator like a gRPC service (Protos/PROTOCOL.md section 4). One
// client owns one DEALER connection, served by its own thread (ClientConnection.swift); any number
// of calls from any tasks may be in flight on it at once, each matched to its replies by call id.
//
//     let client = try MQClient(endpoint: "tcp://127.0.0.1:5555")
//     let response = try await client.generate(GenerateRequest(prompt: .text("def fib(n):"), maxNewTokens: 32))
//     for try await chunk in client.generateStream(request) { print(chunk.textDelta, terminator: "") }
//
// Every call has a deadline (the per-call timeout or the client's default), sent to the coordinator
// as timeout_ms and enforced here as well, so no call ever hangs: a coordinator that is not there
// fails a call with UNAVAILABLE within `MQClientDefaults.connectTimeout`, one that does not answer
// with DEADLINE_EXCEEDED shortly after the deadline. Cancelling the Swift task of a call (or
// dropping a stream) sends Cancel to the coordinator; a unary call then throws CANCELLED, a
// stream's iteration just ends, as Swift's async streams do. All failures are `MQClientError`s
// carrying a gRPC-style status code.
//
// The client-plane protocol types (GenerateRequest, StatusCode, ...) come from MQProtocol and are
// re-exported one by one, so that a client needs only `import MQClient` and sees no worker-plane
// type (Step, Assign, ...); code that needs those imports MQProtocol itself.
@_exported import enum MQProtocol.StatusCode
@_exported import enum MQProtocol.Prompt
@_exported import enum MQProtocol.FinishReason
@_exported import enum MQProtocol.DType
@_exported import enum MQProtocol.WorkerState
@_exported import enum MQProtocol.AttentionKind
@_exported import enum MQProtocol.ProtocolError
@_exported import enum MQProtocol.ByteCount
@_exported import struct MQProtocol.Status
@_exported import struct MQProtocol.GenerateRequest
@_exported import struct MQProtocol.GenerationTiming
@_exported import struct MQProtocol.GenerateResponse
@_exported import struct MQProtocol.GenerateStreamChunk
@_exported import struct MQProtocol.TokenizeRequest
@_exported import struct MQProtocol.TokenizeResponse
@_exported import struct MQProtocol.CancelResponse
@_exported import struct MQProtocol.HealthResponse
@_exported import struct MQProtocol.WorkerStatus
@_exported import struct MQProtocol.InfoResponse
@_exported import struct MQProtocol.ModelInfo
@_exported import struct MQProtocol.StageInfo
@_exported import struct MQProtocol.PrefixCacheStats
@_exported import struct MQProtocol.ServerLimits
@_exported import struct MQProtocol.LayerRange
@_exported import struct MQProtocol.SamplingParams
@_exported import struct MQProtocol.TokenLogprob
@_exported import struct MQProtocol.ProtocolVersion
import MQProtocol
import Foundation
import MQTransport

/// A client of one mq coordinator. Thread-safe; share one per process and endpoint.
public final class MQClient: Sendable {
    /// Receives a line for each reply the client drops as malformed (and for a connection that
    /// stops); nil ignores them. Called on the client's connection thread: keep it short.
    public typealias LogHandler = @Sendable (String) -> Void

    /// The coordinator's client endpoint, e.g. "tcp://127.0.0.1:5555" or "ipc:///run/mq.sock".
    public let endpoint: String
    /// Deadline of calls that name none.
    public let defaultTimeout: Duration
    /// How long a call waits for a connection before failing with UNAVAILABLE.
    public let connectTimeout: Duration
    /// Sent with every call as "authorization: Bearer <key>" when set.
    let apiKey: String?

    private let mailbox: ZMQMailbox<ClientCommand>
    private let thread: ZMQServiceThread
    private let ids: CallIDs

    /// Connects to `endpoint` (in the background: a coordinator may start later). Throws
    /// `MQClientError` INVALID_ARGUMENT for a malformed endpoint or a non-positive timeout.
    /// `context` lets several clients share libzmq's I/O thread; by default each has its own.
    /// `security` connects with CURVE (required by a coordinator that runs with keys); `apiKey`
    /// goes with every call when the coordinator requires API keys.
    public init(endpoint: String, defaultTimeout: Duration = MQClientDefaults.timeout,
                connectTimeout: Duration = MQClientDefaults.connectTimeout,
                security: MQClientSecurity? = nil, apiKey: String? = nil,
                context: ZMQContext? = nil, log: LogHandler? = nil) throws {
        if let apiKey, apiKey.isEmpty || apiKey.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw MQClientError(code: .invalidArgument, message: "an API key is one non-empty word")
        }
        self.apiKey = apiKey
        guard defaultTimeout > .zero else {
            throw MQClientError(code: .invalidArgument, message: "the default timeout must be positive, got \(defaultTimeout)")
        }
        guard connectTimeout > .zero else {
            throw MQClientError(code: .invalidArgument, message: "the connect timeout must be positive, got \(connectTimeout)")
        }
        self.endpoint = endpoint
        self.defaultTimeout = defaultTimeout
        self.connectTimeout = connectTimeout
        let ids = CallIDs()
        self.ids = ids
        let secured = security != nil

        let socket: ZMQSocket
        let mailbox: ZMQMailbox<ClientCommand>
        do {
            socket = try ZMQSocket(context ?? ZMQContext(), type: .dealer, name: "mq-client")
            try socket.setImmediate(true)
            try socket.setLinger(.zero)
            try socket.setReconnectInterval(MQClientDefaults.reconnectInterval)
            try socket.setReconnectIntervalMax(MQClientDefaults.reconnectIntervalMax)
            try socket.setHeartbeatInterval(MQClientDefaults.heartbeatInterval)
            try socket.setHeartbeatTimeout(MQClientDefaults.heartbeatTimeout)
            try socket.setMaxMessageSize(Int64(MQClientDefaults.maxReplyBytes))
            if let security { try socket.secure(try security.socketSecurity()) }
            mailbox = try ZMQMailbox<ClientCommand>()
        } catch let error as MQClientError {
            throw error
        } catch {
            throw MQClientError(code: .internalError, message: "cannot create the client socket: \(error)")
        }
        do {
            try socket.connect(endpoint)
        } catch {
            throw MQClientError(
                code: .invalidArgument,
                message: "cannot connect to \"\(endpoint)\" (expected tcp://HOST:PORT or ipc://PATH): \(error)")
        }
        self.mailbox = mailbox
        let connection = ClientConnection(socket: socket, mailbox: mailbox, ids: ids, endpoint: endpoint,
                                          connectTimeout: connectTimeout, secured: secured, apiKey: apiKey, log: log)
        thread = ZMQServiceThread.start(name: "mq-client") { try connection.run() }
    }

    deinit {
        close()
    }

    /// Fails every call in flight with CANCELLED, closes the connection and stops its thread.
    /// Later calls fail with CANCELLED. Idempotent.
    public func close() {
        mailbox.post(.shutdown)
        // The thread only has to fail pending calls and close the socket; the wait is bounded so
        // that close never hangs even if it were called from that thread.
        _ = try? thread.join(timeout: MQClientDefaults.closeTimeout)
    }

    // MARK: Calls

    /// Generates a completion (unary Generate).
    public func generate(_ request: GenerateRequest, timeout: Duration? = nil,
                         metadata: [String: String] = [:]) async throws -> GenerateResponse {
        try await unary(.generate(request), GenerateResponse.self, timeout: timeout, metadata: metadata)
    }

    /// Starts a GenerateStream call and returns at once. Iterate the result for the chunks as the
    /// coordinator produces them; iteration ends after an OK trailer and throws `MQClientError`
    /// for any other outcome. The call id is known immediately, so another task can `cancel` it
    /// (the iteration then throws CANCELLED). Cancelling the iterating task, or dropping the
    /// stream, also sends Cancel; the iteration then ends without an error.
    public func generateStream(_ request: GenerateRequest, timeout: Duration? = nil,
                               metadata: [String: String] = [:]) -> GenerateStreamCall {
        let callID = ids.next()
        let (stream, continuation) = AsyncThrowingStream<GenerateStreamChunk, any Error>.makeStream()
        let call = GenerateStreamCall(callID: callID, chunks: stream, client: self)
        let outgoing: OutgoingCall
        do {
            outgoing = try prepare(.generateStream(request), callID: callID, timeout: timeout, metadata: metadata,
                                   sink: .stream(continuation))
        } catch {
            continuation.finish(throwing: error)
            return call
        }
        // Nobody can iterate the stream before this function returns, so the handler is in place
        // before any termination, and an abandon is always posted after the start.
        continuation.onTermination = { [mailbox] termination in
            if case .cancelled = termination {
                mailbox.post(.abandon(callID: callID, reason: "the stream was cancelled by its consumer"))
            }
        }
        if !mailbox.post(.start(outgoing)) {
            continuation.finish(throwing: Self.closedError(callID))
        }
        return call
    }

    /// Cancels one of this client's calls in flight (PROTOCOL.md 4.5): that call ends with
    /// CANCELLED. Throws NOT_FOUND when the coordinator no longer has it (it already finished).
    public func cancel(callID: UInt64, timeout: Duration? = nil) async throws -> CancelResponse {
        try await unary(.cancel(CancelRequest(callID: callID)), CancelResponse.self, timeout: timeout, metadata: [:])
    }

    /// Tokenizes text with the served model's tokenizer.
    public func tokenize(_ request: TokenizeRequest, timeout: Duration? = nil,
                         metadata: [String: String] = [:]) async throws -> TokenizeResponse {
        try await unary(.tokenize(request), TokenizeResponse.self, timeout: timeout, metadata: metadata)
    }

    /// Whether every layer is served, the missing ranges and every worker's state.
    public func health(timeout: Duration? = nil, metadata: [String: String] = [:]) async throws -> HealthResponse {
        try await unary(.health(HealthRequest()), HealthResponse.self, timeout: timeout, metadata: metadata)
    }

    /// The served model, its pipeline stages and the server's limits.
    public func info(timeout: Duration? = nil, metadata: [String: String] = [:]) async throws -> InfoResponse {
        try await unary(.info(InfoRequest()), InfoResponse.self, timeout: timeout, metadata: metadata)
    }

    // MARK: Internals

    /// One unary call: post it, wait for its trailer, decode the response.
    private func unary<Response: WireMessage>(_ call: DecoderCall, _: Response.Type, timeout: Duration?,
                                              metadata: [String: String]) async throws -> Response {
        let callID = ids.next()
        let gate = StartGate()
        let mailbox = self.mailbox
        let payload: [UInt8] = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
                let outgoing: OutgoingCall
                do {
                    outgoing = try prepare(call, callID: callID, timeout: timeout, metadata: metadata, sink: .unary { result in
                        continuation.resume(with: result.mapError { $0 as any Error })
                    })
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                switch gate.start({ mailbox.post(.start(outgoing)) }) {
                case .posted:
                    break
                case .cancelled:
                    continuation.resume(throwing: MQClientError(
                        code: .cancelled, message: "the calling task was cancelled before the call was sent", callID: callID))
                case .refused:
                    continuation.resume(throwing: Self.closedError(callID))
                }
            }
        } onCancel: {
            gate.cancel { mailbox.post(.abandon(callID: callID, reason: "the calling task was cancelled")) }
        }
        do {
            return try Response.decode(payload)
        } catch {
            throw MQClientError(code: .internalError,
                                message: "\(endpoint) answered \(call.method.rawValue) with a malformed \(Response.self): \(error)",
                                callID: callID)
        }
    }

    /// Builds the request frame and the local deadline of a call.
    private func prepare(_ call: DecoderCall, callID: UInt64, timeout: Duration?, metadata: [String: String],
                         sink: ReplySink) throws -> OutgoingCall {
        let timeout = timeout ?? defaultTimeout
        guard timeout > .zero else {
            throw MQClientError(code: .invalidArgument, message: "the timeout must be positive, got \(timeout)", callID: callID)
        }
        var metadata = metadata
        if let apiKey { metadata["authorization"] = "Bearer \(apiKey)" }
        let frame = CallRequest(callID: callID, call: call, timeoutMilliseconds: wireMilliseconds(timeout),
                                metadata: metadata).encode()
        guard frame.count <= ProtocolLimits.maxMessageBytes else {
            throw MQClientError(code: .invalidArgument,
                                message: "the request is \(frame.count) bytes, over the protocol's limit of \(ProtocolLimits.maxMessageBytes)",
                                callID: callID)
        }
        return OutgoingCall(callID: callID, method: call.method, frame: frame, timeout: timeout,
                            deadline: .now + timeout + MQClientDefaults.deadlineGrace, sink: sink)
    }

    private static func closedError(_ callID: UInt64) -> MQClientError {
        MQClientError(code: .cancelled, message: "the client is closed", callID: callID)
    }
}

/// Orders a unary call's start against its task's cancellation, which may run concurrently: an
/// abandon is posted only after the start (the mailbox keeps order), and a call whose task was
/// cancelled before it started is never sent.
private final class StartGate: @unchecked Sendable {
    // @unchecked: `state` is only touched under `lock`; the posts happen under it too, which is
    // what orders them.
    enum Outcome { case posted, cancelled, refused }
    private enum State { case idle, started, cancelled }
    private let lock = NSLock()
    private var state = State.idle

    func start(_ post: () -> Bool) -> Outcome {
        lock.lock()
        defer { lock.unlock() }
        if state == .cancelled { return .cancelled }
        guard post() else { return .refused }
        state = .started
        return .posted
    }

    func cancel(_ postAbandon: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        if state == .started { postAbandon() }
        state = .cancelled
    }
}
