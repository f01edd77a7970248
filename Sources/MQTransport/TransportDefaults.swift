// TransportDefaults: every default, limit and timeout MQTransport applies, in one place.
// A new `ZMQSocket` gets linger, high-water marks and the inbound frame limit from here; callers
// override per socket (a client-facing ROUTER wants a small frame limit, the stage-to-stage
// activation plane a large one).

/// Defaults applied by MQTransport. Values are what a new socket gets before any setter is called.
public enum TransportDefaults {
    /// How long a closed socket keeps trying to deliver queued messages. Short, so that closing a
    /// socket whose peer is dead never delays `zmq_ctx_term` (process exit) noticeably, yet long
    /// enough to flush a last reply over loopback.
    public static let linger: Duration = .milliseconds(100)

    /// Outbound queue limit, in messages, per peer. libzmq's own default (1000) is kept explicit
    /// here so it shows up in one place; at the limit a send blocks or reports "would block".
    public static let sendHighWaterMark: Int32 = 1000

    /// Inbound queue limit, in messages, per peer.
    public static let receiveHighWaterMark: Int32 = 1000

    /// Largest inbound frame a socket accepts (ZMQ_MAXMSGSIZE, checked per frame by libzmq's
    /// tcp/ipc decoder; inproc is not checked). A peer that sends a larger frame is disconnected
    /// and the frame is never delivered. 256 MiB covers a prefill activation block
    /// (tokens x hidden x 4 bytes) of a few thousand tokens on a 6k-wide model.
    public static let maxFrameSize: Int64 = 256 << 20

    /// Number of libzmq I/O threads per context. One is plenty below ~1 GB/s of traffic and the
    /// machine has two cores to share with the model.
    public static let ioThreads: Int32 = 1

    /// Poll granularity a service loop should use when it must also check a clock (heartbeats).
    /// Purely a suggestion for callers; MQTransport itself never polls on a timer.
    public static let servicePollInterval: Duration = .milliseconds(100)

    /// Warnings of one kind a service loop writes per `warningInterval` (see WarningLimiter); a
    /// flood of bad frames beyond that becomes one summary line per interval.
    public static let warningBurst = 5
    public static let warningInterval: Duration = .seconds(10)

    /// Largest routing id libzmq accepts (ZMQ_ROUTING_ID is 1...255 bytes).
    public static let maxRoutingIDLength = 255

}
