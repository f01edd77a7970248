// Swift values of client.proto's status methods: Health (is every layer served, which workers are
// where) and Info (the model, the stages, the server's limits). The calls and generation messages
// are in ClientPlane.swift; conversions in ClientPlane+Wire.swift and ClientPlane+StatusWire.swift.

// MARK: Health

/// Request of Health.
public struct HealthRequest: Hashable, Sendable {
    public init() {}
}

/// Lifecycle of a worker as the coordinator sees it (`WORKER_STATE_*`).
public enum WorkerState: Hashable, Sendable {
    /// Registered, without layers (a spare).
    case registered
    /// Assigned, loading.
    case loading
    /// Serving its range.
    case ready
    /// Silent or failed; its range is missing until reassigned.
    case lost
    /// A state from a newer minor version.
    case unrecognized(Int32)
}

/// One worker in a HealthResponse.
public struct WorkerStatus: Hashable, Sendable {
    public var workerID: String
    public var dataEndpoint: String
    public var state: WorkerState
    /// nil for a worker without an assignment.
    public var layers: LayerRange?
    public var stageIndex: UInt32
    /// Milliseconds since the coordinator last heard from the worker.
    public var lastHeardMilliseconds: UInt64
    public var activeSequences: UInt32

    public init(
        workerID: String, dataEndpoint: String, state: WorkerState, layers: LayerRange? = nil,
        stageIndex: UInt32 = 0, lastHeardMilliseconds: UInt64 = 0, activeSequences: UInt32 = 0
    ) {
        self.workerID = workerID
        self.dataEndpoint = dataEndpoint
        self.state = state
        self.layers = layers
        self.stageIndex = stageIndex
        self.lastHeardMilliseconds = lastHeardMilliseconds
        self.activeSequences = activeSequences
    }
}

/// Response of Health.
public struct HealthResponse: Hashable, Sendable {
    /// Every layer is held by a ready worker.
    public var serving: Bool
    /// Layer ranges no ready worker holds, ascending.
    public var missingLayers: [LayerRange]
    public var workers: [WorkerStatus]
    public var totalLayers: UInt32
    public var inFlightCalls: UInt32

    public init(
        serving: Bool, missingLayers: [LayerRange], workers: [WorkerStatus], totalLayers: UInt32,
        inFlightCalls: UInt32 = 0
    ) {
        self.serving = serving
        self.missingLayers = missingLayers
        self.workers = workers
        self.totalLayers = totalLayers
        self.inFlightCalls = inFlightCalls
    }
}

// MARK: Info

/// Request of Info.
public struct InfoRequest: Hashable, Sendable {
    public init() {}
}

/// How attention heads share keys and values (`ATTENTION_KIND_*`).
public enum AttentionKind: Hashable, Sendable {
    /// One KV head for all query heads.
    case multiQuery
    /// A KV head per group of query heads.
    case groupedQuery
    /// A KV head per query head.
    case multiHead
    /// A kind from a newer minor version.
    case unrecognized(Int32)

    /// The kind implied by the head counts.
    public init(heads: Int, kvHeads: Int) {
        if kvHeads == 1 { self = .multiQuery } else if kvHeads == heads { self = .multiHead } else { self = .groupedQuery }
    }
}

/// The served model.
public struct ModelInfo: Hashable, Sendable {
    public var name: String
    /// The config's model_type, for example "gpt_bigcode".
    public var architecture: String
    public var attentionKind: AttentionKind
    public var numLayers: UInt32
    public var hiddenSize: UInt32
    public var numHeads: UInt32
    public var kvHeads: UInt32
    public var headDim: UInt32
    public var vocabSize: UInt32
    public var maxPositions: UInt32
    /// KV-cache bytes per token over all layers.
    public var kvBytesPerToken: UInt64
    public var eosTokenID: UInt32
    /// Element type of the activations between stages.
    public var activationDType: DType
    /// Since 1.4: the tokenizer has fill-in-the-middle tokens (GenerateRequest.suffix works).
    public var fimAvailable: Bool

    public init(
        name: String, architecture: String, attentionKind: AttentionKind, numLayers: UInt32,
        hiddenSize: UInt32, numHeads: UInt32, kvHeads: UInt32, headDim: UInt32, vocabSize: UInt32,
        maxPositions: UInt32, kvBytesPerToken: UInt64, eosTokenID: UInt32, activationDType: DType = .f32,
        fimAvailable: Bool = false
    ) {
        self.fimAvailable = fimAvailable
        self.name = name
        self.architecture = architecture
        self.attentionKind = attentionKind
        self.numLayers = numLayers
        self.hiddenSize = hiddenSize
        self.numHeads = numHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.vocabSize = vocabSize
        self.maxPositions = maxPositions
        self.kvBytesPerToken = kvBytesPerToken
        self.eosTokenID = eosTokenID
        self.activationDType = activationDType
    }
}

/// One pipeline stage in an InfoResponse.
public struct StageInfo: Hashable, Sendable {
    public var stageIndex: UInt32
    public var workerID: String
    public var dataEndpoint: String
    public var layers: LayerRange
    public var residentBytes: UInt64
    public var kvCapacityBytes: UInt64
    public var kvUsedBytes: UInt64
    /// Since 1.1: fraction of wall time in [0, 1] the stage spent computing over the
    /// coordinator's measurement window (from the first step after its assignment); 0 before any
    /// step or from a 1.0 server.
    public var busyFraction: Double
    /// Since 1.1: steps the stage has processed since its assignment.
    public var steps: UInt64
    /// Since 1.1: nanoseconds the stage has spent computing since its assignment (sum of its
    /// StageTiming.forwardNanoseconds); two samples give the busy fraction between them.
    public var busyNanoseconds: UInt64
    /// Since 1.4: how the stage holds its matrices ("f32", "f16", "bf16", "q8_0"; "" when unknown).
    public var weightFormat: String
    /// Since 1.4: bytes of weights the stage holds (0 when unknown).
    public var weightBytes: UInt64

    public init(
        stageIndex: UInt32, workerID: String, dataEndpoint: String, layers: LayerRange,
        residentBytes: UInt64 = 0, kvCapacityBytes: UInt64 = 0, kvUsedBytes: UInt64 = 0,
        busyFraction: Double = 0, steps: UInt64 = 0, busyNanoseconds: UInt64 = 0,
        weightFormat: String = "", weightBytes: UInt64 = 0
    ) {
        self.weightFormat = weightFormat
        self.weightBytes = weightBytes
        self.stageIndex = stageIndex
        self.workerID = workerID
        self.dataEndpoint = dataEndpoint
        self.layers = layers
        self.residentBytes = residentBytes
        self.kvCapacityBytes = kvCapacityBytes
        self.kvUsedBytes = kvUsedBytes
        self.busyFraction = busyFraction
        self.steps = steps
        self.busyNanoseconds = busyNanoseconds
    }
}

/// Limits and defaults the server applies.
public struct ServerLimits: Hashable, Sendable {
    public var maxPromptTokens: UInt32
    public var defaultMaxNewTokens: UInt32
    public var maxNewTokens: UInt32
    public var defaultTimeoutMilliseconds: UInt32
    public var maxTimeoutMilliseconds: UInt32

    public init(
        maxPromptTokens: UInt32, defaultMaxNewTokens: UInt32, maxNewTokens: UInt32,
        defaultTimeoutMilliseconds: UInt32, maxTimeoutMilliseconds: UInt32
    ) {
        self.maxPromptTokens = maxPromptTokens
        self.defaultMaxNewTokens = defaultMaxNewTokens
        self.maxNewTokens = maxNewTokens
        self.defaultTimeoutMilliseconds = defaultTimeoutMilliseconds
        self.maxTimeoutMilliseconds = maxTimeoutMilliseconds
    }
}

/// Response of Info.
public struct InfoResponse: Hashable, Sendable {
    public var version: ProtocolVersion
    public var model: ModelInfo
    /// Pipeline stages in order.
    public var stages: [StageInfo]
    public var limits: ServerLimits

    public init(version: ProtocolVersion = .current, model: ModelInfo, stages: [StageInfo], limits: ServerLimits) {
        self.version = version
        self.model = model
        self.stages = stages
        self.limits = limits
    }
}
