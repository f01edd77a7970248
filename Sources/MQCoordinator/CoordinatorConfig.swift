// The coordinator's configuration and its named defaults (limits, timeouts, intervals).
import Foundation
import MQProtocol
import MQTransport

/// How the model's layers are divided among the stages.
public enum SplitPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Equal work per stage: the weight bytes each stage reads per step, counting the LM head (often
    /// worth several layers) on the last stage, so no stage holds up the pipeline.
    case balanced
    /// As equal layer counts as possible (earlier stages get the remainder).
    case even
    /// Exactly these layer counts, one per stage (must sum to the model's layers).
    case layers([Int])
    /// In proportion to the memory each worker offers in its Register.
    case memory

    public var description: String {
        switch self {
        case .balanced: return "balanced"
        case .even: return "even"
        case .layers(let l): return l.map(String.init).joined(separator: ",")
        case .memory: return "memory"
        }
    }
}

public enum CoordinatorDefaults {
    public static let clientEndpoint = "tcp://127.0.0.1:5555"
    public static let workerEndpoint = "tcp://127.0.0.1:5556"
    public static let defaultMaxNewTokens = 64
    public static let maxNewTokens = 4096
    public static let defaultTimeout: Duration = .seconds(60)
    public static let maxTimeout: Duration = .seconds(3600)
    /// A step that has not come back after this long fails its calls (workers that stop answering
    /// are normally caught sooner by heartbeat expiry).
    public static let stepTimeout: Duration = .seconds(120)
    /// Upper bounds on one step (sequences and tokens), so a burst of prompts cannot build a step
    /// too large to move between stages, or so long to compute that running decodes stall behind it
    /// (and, on a slow machine, that it outlives `stepTimeout`: 16 prompts × a 512-token chunk made
    /// 8,192-token steps). The token bound (`--max-step-tokens`) counts prompt and decode tokens; a
    /// step always takes its first sequence's chunk, so a chunk larger than it still progresses.
    public static let maxSequencesPerStep = 64
    public static let maxTokensPerStep = 2048
    /// Calls waiting for admission (KV cache) beyond this get RESOURCE_EXHAUSTED (--max-queued).
    public static let maxQueuedCalls = 256
    /// Prompt tokens a sequence feeds per step; longer prompts are prefilled in chunks so that
    /// running decodes keep going.
    public static let prefillChunk = 512
    /// Positions per KV block assumed for a worker older than protocol 1.3, whose Ready does not
    /// say (KVCache.defaultBlockSize); newer workers report theirs.
    public static let kvBlockTokens = 16
    /// On SIGTERM, in-flight calls may finish for this long before they are failed.
    public static let drainTimeout: Duration = .seconds(10)
    /// Lost workers listed in Health, most recent first, once per worker id.
    public static let lostWorkersRemembered = 16
    /// How long a lost worker stays listed in Health.
    public static let lostWorkerRetention: Duration = .seconds(600)
    /// How long closing the worker socket waits for queued messages (the final Shutdowns).
    public static let shutdownLinger: Duration = .milliseconds(300)
    /// How long calls wait, kept for replay, for a standby worker to take a lost stage before
    /// they end UNAVAILABLE (`--failover-timeout`; 0 ends them at once).
    public static let failoverTimeout: Duration = .seconds(30)
    /// How often every worker gets a heartbeat: a send to a worker whose connection closed (its
    /// process died) fails at once, so a dead worker is noticed within this interval.
    public static let workerProbeInterval: Duration = .milliseconds(100)
    /// Pause after sending the final Shutdowns, before closing the worker socket.
    public static let shutdownFlush: Duration = .milliseconds(200)
    /// How often each client with a call in progress gets a liveness probe (CallReply.probe): a
    /// unary call, or a stream still waiting for its first token, sends nothing else that would
    /// reveal a vanished client before its deadline.
    public static let clientProbeInterval: Duration = .milliseconds(250)
    /// A client frame whose handling holds the service loop longer than this is logged (it should
    /// never happen: big prompts are refused by size or tokenized on other threads).
    public static let slowClientFrame: Duration = .milliseconds(20)
    /// Room in a client frame for everything but the prompt (sampling, stop strings, metadata).
    public static let requestOverheadBytes = 64 << 10
    /// Threads that tokenize prompts off the service loop.
    public static let tokenizerThreads = 2
    /// Longest wait in one poll (timers are checked at least this often).
    public static let pollInterval: Duration = .milliseconds(50)
}

public struct CoordinatorConfig: Sendable {
    public var modelPath: String
    public var clientEndpoint = CoordinatorDefaults.clientEndpoint
    public var workerEndpoint = CoordinatorDefaults.workerEndpoint
    public var stages: Int
    public var split: SplitPolicy = .balanced
    public var defaultMaxNewTokens = CoordinatorDefaults.defaultMaxNewTokens
    public var maxNewTokens = CoordinatorDefaults.maxNewTokens
    /// 0 means the model's context length.
    public var maxPromptTokens = 0
    public var defaultTimeout = CoordinatorDefaults.defaultTimeout
    public var maxTimeout = CoordinatorDefaults.maxTimeout
    public var stepTimeout = CoordinatorDefaults.stepTimeout
    public var maxQueuedCalls = CoordinatorDefaults.maxQueuedCalls
    /// Steps kept in the pipeline at once, each with its own sequences (default: one per stage).
    public var microBatches: Int
    public var prefillChunk = CoordinatorDefaults.prefillChunk
    /// Tokens (prompt chunks plus decodes) one step may carry (`--max-step-tokens`).
    public var maxStepTokens = CoordinatorDefaults.maxTokensPerStep
    /// Reuse cached prompt prefixes on every stage (`--no-prefix-cache` turns it off).
    public var prefixCache = true
    /// KV bytes offered to each stage in Assign (0 lets each worker decide).
    public var kvCapacityBytes: UInt64 = 0
    public var drainTimeout = CoordinatorDefaults.drainTimeout
    /// How long calls wait for a standby to take a lost stage (0: they end at once).
    public var failoverTimeout = CoordinatorDefaults.failoverTimeout
    /// tcp://HOST:PORT for the Prometheus metrics endpoint (GET /metrics); nil: none.
    public var metricsEndpoint: String? = nil
    /// CURVE on the client and worker planes; nil runs without (loopback, ipc, or --insecure).
    public var security: CoordinatorSecurity? = nil
    /// API keys every call must present; nil: none required.
    public var apiKeys: APIKeys? = nil

    public init(modelPath: String, stages: Int) {
        self.modelPath = modelPath
        self.stages = stages
        self.microBatches = stages
    }
}
