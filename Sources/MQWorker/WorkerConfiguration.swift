// What a worker is told when it starts (endpoints, identity, memory, model override, logger), its
// timing (heartbeats, liveness, backoff; injectable so tests run in milliseconds), and every
// default and limit of the module in one place.

import Foundation
import Logging
import MQKernels
import MQModel
import MQProtocol
import MQTransport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Defaults of MQWorker, in one place.
public enum WorkerDefaults {
    /// Where the data PULL socket binds when nothing else is asked: loopback, a port the OS picks.
    public static let listenEndpoint = "tcp://127.0.0.1:*"
    /// KV-cache budget (`--kv-memory`): 512 MiB. The cache reserves it as one anonymous mapping
    /// with MAP_NORESERVE, so pages are committed only when sequences use them.
    public static let kvMemoryBytes: UInt64 = 512 << 20
    /// How often a Register that could not leave (no connection to the coordinator yet, the DEALER
    /// has ZMQ_IMMEDIATE set) is tried again. libzmq reconnects the TCP link by itself meanwhile.
    public static let registerRetryInterval: Duration = .milliseconds(100)
    /// How long a stage waits for the next stage to accept a step before failing it. Twice
    /// `WorkerPlaneTiming.peerExpiry`, so when the next stage has died the coordinator declares it
    /// lost first and its calls end with UNAVAILABLE; with equal timeouts the two raced, and a call
    /// sometimes ended with this stage's INTERNAL "did not take it" instead (seen in CI). It also
    /// covers a next stage that is connecting right after an Assign.
    public static let forwardTimeout: Duration = WorkerPlaneTiming.peerExpiry * 2
    /// How long the last messages (final StepResult, Shutdown) may take to leave when stopping.
    public static let closingLinger: Duration = .milliseconds(200)
}

/// Liveness timing of the control socket (Paranoid Pirate, Protos/PROTOCOL.md 6.4). `standard` is
/// the protocol's values; tests inject shorter ones.
public struct WorkerTiming: Sendable, Equatable {
    /// Time between two heartbeats the worker sends.
    public var heartbeatInterval: Duration
    /// Silent intervals after which the coordinator counts as gone.
    public var heartbeatLiveness: Int
    /// First wait before reconnecting to a silent coordinator; doubles up to `reconnectMaxBackoff`.
    public var reconnectInitialBackoff: Duration
    public var reconnectMaxBackoff: Duration
    /// Retry period of a Register that could not be sent yet.
    public var registerRetryInterval: Duration
    /// How long a step waits for the next stage to take it.
    public var forwardTimeout: Duration

    public init(heartbeatInterval: Duration = WorkerPlaneTiming.heartbeatInterval,
                heartbeatLiveness: Int = WorkerPlaneTiming.heartbeatLiveness,
                reconnectInitialBackoff: Duration = WorkerPlaneTiming.reconnectInitialBackoff,
                reconnectMaxBackoff: Duration = WorkerPlaneTiming.reconnectMaxBackoff,
                registerRetryInterval: Duration = WorkerDefaults.registerRetryInterval,
                forwardTimeout: Duration = WorkerDefaults.forwardTimeout) {
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatLiveness = heartbeatLiveness
        self.reconnectInitialBackoff = reconnectInitialBackoff
        self.reconnectMaxBackoff = reconnectMaxBackoff
        self.registerRetryInterval = registerRetryInterval
        self.forwardTimeout = forwardTimeout
    }

    /// The protocol's constants (`WorkerPlaneTiming`).
    public static let standard = WorkerTiming()

    /// Silence after which the coordinator is dead: interval x liveness.
    public var peerExpiry: Duration { heartbeatInterval * heartbeatLiveness }
}

/// CURVE on the worker's sockets (PROTOCOL.md 7): its own key pair, and the coordinator's public
/// key, which its control socket authenticates. Its data socket accepts only the key its Assign
/// names (the previous stage, or the coordinator for stage 0); its output authenticates the next
/// stage's key.
public struct WorkerSecurity: Sendable, Equatable {
    public var keys: CurveKeyPair
    public var coordinatorKey: CurvePublicKey

    public init(keys: CurveKeyPair, coordinatorKey: CurvePublicKey) {
        self.keys = keys
        self.coordinatorKey = coordinatorKey
    }

    /// The ZAP domain of the data socket.
    static let dataDomain = "mq.data"
}

/// Everything a `WorkerService` needs to start.
public struct WorkerConfiguration: Sendable {
    /// The coordinator's worker ROUTER, e.g. "tcp://10.0.0.2:5556"; the control DEALER connects here.
    public var coordinatorEndpoint: String
    /// Where the data PULL socket binds ("tcp://127.0.0.1:*", "tcp://*:5601", "ipc:///tmp/w1.sock").
    public var listenEndpoint: String
    /// Replaces the host of the bound endpoint in what the worker advertises (multi-machine use:
    /// bind "tcp://*:5601", advertise "10.0.0.7"). Without it a wildcard host is replaced by this
    /// host's address.
    public var advertiseHost: String?
    /// Unique name in the cluster (default "<host>-<pid>").
    public var workerID: String
    /// Memory offered for weights and KV cache (Register.memory_bytes).
    public var memoryBytes: UInt64
    /// Upper bound of the KV cache (`--kv-memory`). An Assign with a nonzero kv_capacity_bytes
    /// lowers it further; it never raises it.
    public var kvMemoryBytes: UInt64
    /// A model folder to load instead of Assign.model_path (the coordinator's path may not exist
    /// on this machine).
    public var modelPathOverride: String?
    /// Threads a loaded stage computes with (`--threads`): its products, attention and sampling.
    public var compute: ComputeContext
    /// How a loaded stage holds its matrices (`--weights`): the checkpoint's precision, or Q8_0
    /// quantized while loading (each worker quantizes its own layers).
    public var weights: WeightPrecision = .stored
    public var timing: WorkerTiming
    public var logger: Logger
    /// CURVE keys; nil runs without (loopback, ipc, or --insecure).
    public var security: WorkerSecurity?
    /// While waiting as a standby, load the stage the coordinator names ahead of need
    /// (`--standby-preload`), so taking over a lost stage needs no load.
    public var standbyPreload = false

    public init(coordinatorEndpoint: String,
                listenEndpoint: String = WorkerDefaults.listenEndpoint,
                advertiseHost: String? = nil,
                workerID: String = WorkerConfiguration.defaultWorkerID(),
                memoryBytes: UInt64 = ProcessInfo.processInfo.physicalMemory,
                kvMemoryBytes: UInt64 = WorkerDefaults.kvMemoryBytes,
                modelPathOverride: String? = nil,
                compute: ComputeContext = .allCores,
                timing: WorkerTiming = .standard,
                logger: Logger = Logger(label: "mq.worker"),
                security: WorkerSecurity? = nil) {
        self.security = security
        self.coordinatorEndpoint = coordinatorEndpoint
        self.listenEndpoint = listenEndpoint
        self.advertiseHost = advertiseHost
        self.workerID = workerID
        self.memoryBytes = memoryBytes
        self.kvMemoryBytes = kvMemoryBytes
        self.modelPathOverride = modelPathOverride
        self.compute = compute
        self.timing = timing
        self.logger = logger
    }

    /// "<host>-<pid>".
    public static func defaultWorkerID() -> String {
        "\(HostInfo.hostName)-\(getpid())"
    }

    /// Checks what can be checked before any socket exists; names the bad field.
    public func validate() throws(WorkerServiceError) {
        func bad(_ field: String, _ reason: String) -> WorkerServiceError {
            .invalidConfiguration(field: field, reason: reason)
        }
        guard !coordinatorEndpoint.isEmpty else { throw bad("coordinatorEndpoint", "is empty") }
        guard !listenEndpoint.isEmpty else { throw bad("listenEndpoint", "is empty") }
        guard !workerID.isEmpty, !workerID.utf8.contains(0) else {
            throw bad("workerID", "must be non-empty and contain no NUL")
        }
        if let host = advertiseHost, host.isEmpty || host.contains("/") || host == "*" {
            throw bad("advertiseHost", "\"\(host)\" is not a host name or address")
        }
        guard kvMemoryBytes > 0 else { throw bad("kvMemoryBytes", "must be positive") }
        guard timing.heartbeatInterval > .zero, timing.heartbeatLiveness > 0,
              timing.reconnectInitialBackoff > .zero, timing.reconnectMaxBackoff >= timing.reconnectInitialBackoff,
              timing.registerRetryInterval > .zero, timing.forwardTimeout > .zero else {
            throw bad("timing", "intervals must be positive and the maximum backoff at least the initial one")
        }
    }
}

/// Everything that can stop `WorkerService.run()` with an error.
public enum WorkerServiceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A configuration field is unusable.
    case invalidConfiguration(field: String, reason: String)
    /// The coordinator refused this worker's protocol version (retrying cannot help).
    case versionMismatch(String)
    /// `run()` was called while the service was already running (or after it ended).
    case alreadyStarted
    /// A socket could not be set up (bind, connect), naming the endpoint.
    case transport(String)
    /// The data-plane thread ended with an error.
    case dataPlaneFailed(String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(field, reason): return "invalid worker configuration \(field): \(reason)"
        case let .versionMismatch(message): return "the coordinator refused this worker: \(message)"
        case .alreadyStarted: return "WorkerService.run() can be called only once"
        case let .transport(message): return message
        case let .dataPlaneFailed(message): return "the data plane failed: \(message)"
        }
    }
}

/// Facts about this machine and process the worker reports.
enum HostInfo {
    /// gethostname(2), or "localhost" if it fails.
    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }

    /// Resident bytes of this process: the second field of /proc/self/statm times the page size.
    /// 0 where /proc is not available.
    static func residentBytes() -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = UInt64(fields[1].trimmingCharacters(in: .whitespacesAndNewlines)) else { return 0 }
        return pages * UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 1))
    }

    /// An address peers on other machines can use for this host: the first non-loopback IPv4
    /// address its name resolves to, else the first address, else "127.0.0.1".
    static func externalAddress() -> String {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(hostName, nil, &hints, &list) == 0, let first = list else { return "127.0.0.1" }
        defer { freeaddrinfo(first) }
        var candidates: [String] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let entry = node {
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                let address = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                candidates.append(entry.pointee.ai_family == AF_INET6 ? "[\(address)]" : address)
            }
            node = entry.pointee.ai_next
        }
        return candidates.first { !$0.hasPrefix("127.") && !$0.hasPrefix("[") && $0 != "[::1]" }
            ?? candidates.first ?? "127.0.0.1"
    }
}

/// The data endpoint a worker advertises in Register: the endpoint libzmq resolved, with the host
/// replaced by `advertiseHost` when given, and a wildcard host (`*`, 0.0.0.0, ::) replaced by
/// `fallbackHost()` otherwise, so that peers never receive an address they cannot connect to.
/// Non-tcp endpoints (ipc) are returned unchanged.
public func advertisedEndpoint(resolved: String, advertiseHost: String?,
                               fallbackHost: (() -> String)? = nil) -> String {
    let prefix = "tcp://"
    guard resolved.hasPrefix(prefix) else { return resolved }
    let rest = resolved.dropFirst(prefix.count)
    guard let colon = rest.lastIndex(of: ":") else { return resolved }
    let host = String(rest[..<colon])
    let port = rest[rest.index(after: colon)...]
    let wildcard = ["*", "0.0.0.0", "[::]", "::", "[*]", ""].contains(host)
    guard var newHost = advertiseHost ?? (wildcard ? (fallbackHost ?? HostInfo.externalAddress)() : nil) else { return resolved }
    if newHost.contains(":") && !newHost.hasPrefix("[") { newHost = "[\(newHost)]" }
    return "\(prefix)\(newHost):\(port)"
}
