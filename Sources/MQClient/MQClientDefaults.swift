// Every timeout, interval and limit the client library applies, in one place (STYLE habit 10).
// The socket settings follow Protos/PROTOCOL.md 4.7: ZMQ_IMMEDIATE so that a request is never
// queued for a coordinator that is not connected, ZMQ_LINGER 0 so that closing never blocks.
import MQProtocol

/// Defaults of `MQClient`.
public enum MQClientDefaults {
    /// Deadline of a call that names none. Long enough for a long generation on a slow model,
    /// short enough that a stuck coordinator is noticed within a minute.
    public static let timeout: Duration = .seconds(60)

    /// How long after a call's deadline the client fails it locally with DEADLINE_EXCEEDED. The
    /// coordinator ends the call at the deadline itself (measured from its receipt of the frame,
    /// so slightly later than our clock); the grace lets its trailer, which may say more, arrive
    /// first over a loaded network or machine.
    public static let deadlineGrace: Duration = .milliseconds(200)

    /// How long a call waits for a connected coordinator before it fails with UNAVAILABLE. With
    /// ZMQ_IMMEDIATE a request cannot be queued without a completed connection; a fresh client
    /// needs a moment (TCP + ZMTP handshake, about 1 ms on loopback) before its first call can go
    /// out, and a refused connection is retried every `reconnectInterval`. Half a second covers a
    /// few retries and still lets "server down" fail well within a second.
    public static let connectTimeout: Duration = .milliseconds(500)

    /// First delay before libzmq retries a refused or dropped connection (ZMQ_RECONNECT_IVL).
    public static let reconnectInterval: Duration = .milliseconds(100)

    /// Cap of libzmq's exponential reconnect backoff (ZMQ_RECONNECT_IVL_MAX): a long-lived client
    /// notices a restarted coordinator within a second.
    public static let reconnectIntervalMax: Duration = .seconds(1)

    /// ZMTP heartbeat on the connection: libzmq drops a connection whose peer has not answered a
    /// PING for `heartbeatTimeout` (a host that vanished without closing TCP), after which calls
    /// fail fast with UNAVAILABLE instead of waiting for their deadlines. The coordinator's libzmq
    /// answers PINGs by itself.
    public static let heartbeatInterval: Duration = .seconds(2)
    public static let heartbeatTimeout: Duration = .seconds(6)

    /// Largest reply frame accepted (ZMQ_MAXMSGSIZE): the protocol's frame limit, so a hostile
    /// or broken peer cannot make the client allocate more.
    public static let maxReplyBytes = ProtocolLimits.maxMessageBytes

    /// Deadline of the Cancel call the client sends when a caller's Swift task is cancelled. Its
    /// reply is not awaited; this only tells the coordinator how long the request stays relevant.
    public static let cancelTimeout: Duration = .seconds(5)

    /// How long `close()` waits for the connection thread to finish (it normally takes
    /// microseconds: the thread is woken by the close command and only fails pending calls).
    public static let closeTimeout: Duration = .seconds(2)
}
