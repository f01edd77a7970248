// The numbers of the mq wire protocol in one place: the version, frame size limits and the
// worker-plane heartbeat constants (Paranoid Pirate style, see Protos/PROTOCOL.md).

/// A protocol version; peers refuse each other when the major versions differ.
public struct ProtocolVersion: Hashable, Sendable, CustomStringConvertible {
    /// Bumped for incompatible changes.
    public var major: UInt32
    /// Bumped for compatible additions.
    public var minor: UInt32

    public init(major: UInt32, minor: UInt32) {
        self.major = major
        self.minor = minor
    }

    /// The version this build speaks: 1.1 (1.1 added StageInfo's busy_fraction, steps and busy_ns).
    public static let current = ProtocolVersion(major: 1, minor: 4)

    public var description: String { "\(major).\(minor)" }

    /// Whether a peer speaking `other` can talk to this one (same major version).
    public func isCompatible(with other: ProtocolVersion) -> Bool { major == other.major }

    /// Throws `ProtocolError.versionMismatch` unless `remote` has this version's major version.
    public func requireCompatible(with remote: ProtocolVersion) throws(ProtocolError) {
        guard isCompatible(with: remote) else { throw .versionMismatch(local: self, remote: remote) }
    }
}

/// Size limits applied when decoding, so that a hostile peer cannot make a process allocate
/// without bound. Transports should also set ZMQ_MAXMSGSIZE to `maxTensorBytes`.
public enum ProtocolLimits {
    /// Largest protobuf frame (CallRequest, CallReply, WorkerMessage, payloads): 16 MiB, room for
    /// a prompt of millions of characters or tokens.
    public static let maxMessageBytes = 16 << 20
    /// Largest activation tensor frame: 1 GiB (for example 8192 tokens x 32768 hidden x F32).
    public static let maxTensorBytes = 1 << 30
    /// How many released sequence ids a worker remembers, to drop a Step that arrives on the
    /// data socket after its sequence's Release arrived on the control socket (the two sockets
    /// are not ordered; sequence ids are never reused).
    public static let releasedSequencesRemembered = 65_536
}

/// Liveness on the worker plane's control sockets (zguide's Paranoid Pirate pattern). Both sides
/// send a Heartbeat every `heartbeatInterval`; any message counts as a sign of life; a peer not
/// heard from for `heartbeatLiveness` intervals is dead. A worker that loses the coordinator
/// reconnects after `reconnectInitialBackoff`, doubling up to `reconnectMaxBackoff`, and
/// registers again.
public enum WorkerPlaneTiming {
    /// Time between two heartbeats sent by each side.
    public static let heartbeatInterval: Duration = .milliseconds(1000)
    /// Silent intervals after which a peer is declared dead.
    public static let heartbeatLiveness = 3
    /// The silence after which a peer is dead: interval x liveness (3 s).
    public static var peerExpiry: Duration { heartbeatInterval * heartbeatLiveness }
    /// First wait before a worker reconnects to a silent coordinator.
    public static let reconnectInitialBackoff: Duration = .milliseconds(1000)
    /// Longest wait between reconnection attempts.
    public static let reconnectMaxBackoff: Duration = .milliseconds(32_000)
}
