// Swift values of Protos/mq/v1/worker.proto: the worker plane. Every frame is a WorkerMessage;
// Steps travel on data sockets with their activations in a separate frame (Frames.swift).
// Conversions and decode-time validation: WorkerPlane+Wire.swift.

/// The envelope of every worker-plane frame.
public enum WorkerMessage: Hashable, Sendable {
    /// Worker -> coordinator: the first message of a worker.
    case register(Register)
    /// Coordinator -> worker: a layer range to serve.
    case assign(Assign)
    /// Worker -> coordinator: the assignment is loaded.
    case ready(Ready)
    /// Data sockets only: a batch advancing one step.
    case step(Step)
    /// Last stage -> coordinator: the sampled tokens.
    case stepResult(StepResult)
    /// Coordinator -> every stage: free these sequences.
    case release(Release)
    /// Both directions, every heartbeat interval.
    case heartbeat(Heartbeat)
    /// Coordinator -> worker: exit; worker -> coordinator: leaving.
    case shutdown(Shutdown)
    /// Either direction: something failed.
    case error(WorkerError)

    /// The proto name of the body, for logs and errors ("Register", "Step", ...).
    public var kindName: String {
        switch self {
        case .register: return "Register"
        case .assign: return "Assign"
        case .ready: return "Ready"
        case .step: return "Step"
        case .stepResult: return "StepResult"
        case .release: return "Release"
        case .heartbeat: return "Heartbeat"
        case .shutdown: return "Shutdown"
        case .error: return "WorkerError"
        }
    }
}

/// A worker offers itself. Decoding requires a version, a worker id and a data endpoint.
public struct Register: Hashable, Sendable {
    public var version: ProtocolVersion
    public var workerID: String
    /// Memory offered for weights and KV cache.
    public var memoryBytes: UInt64
    /// Where peers connect to reach the worker's PULL socket (never a wildcard address).
    public var dataEndpoint: String
    public var pid: UInt32
    public var host: String
    /// Offers to load a stage ahead while it waits as a standby.
    public var standbyPreload: Bool

    public init(
        version: ProtocolVersion = .current, workerID: String, memoryBytes: UInt64, dataEndpoint: String,
        pid: UInt32, host: String, standbyPreload: Bool = false
    ) {
        self.standbyPreload = standbyPreload
        self.version = version
        self.workerID = workerID
        self.memoryBytes = memoryBytes
        self.dataEndpoint = dataEndpoint
        self.pid = pid
        self.host = host
    }

    /// What the coordinator checks first: throws `versionMismatch` unless the worker's major
    /// version equals this build's.
    public func requireCompatibleVersion() throws(ProtocolError) {
        try ProtocolVersion.current.requireCompatible(with: version)
    }
}

/// A layer range to serve. Decoding checks the invariants: a non-empty range, stage index below
/// the stage count, `isFirst` exactly for stage 0, `isLast` exactly for the last stage, and
/// `nextEndpoint` empty exactly for the last stage.
public struct Assign: Hashable, Sendable {
    public var assignmentID: UInt64
    public var modelPath: String
    public var stageIndex: UInt32
    public var numStages: UInt32
    /// Global layer numbers `first ..< end`.
    public var layers: LayerRange
    /// Embeds token ids.
    public var isFirst: Bool
    /// Final norm, LM head, sampling; sends StepResult.
    public var isLast: Bool
    /// The next stage's data endpoint; empty for the last stage.
    public var nextEndpoint: String
    /// KV-cache bytes the stage may use; 0 lets the worker decide.
    public var kvCapacityBytes: UInt64
    /// The pipeline's epoch: steps and results of another epoch are dropped (0: no fencing).
    public var epoch: UInt64
    /// Z85 CURVE key of the only peer that may push into this stage (empty without CURVE).
    public var previousKey: String
    /// Z85 CURVE key of the next stage's data socket (empty for the last stage, or without CURVE).
    public var nextKey: String
    /// Load and keep this stage's layers, but serve nothing: the worker stays a standby.
    public var standby: Bool = false

    public init(
        assignmentID: UInt64, modelPath: String, stageIndex: UInt32, numStages: UInt32, layers: LayerRange,
        nextEndpoint: String, kvCapacityBytes: UInt64 = 0, epoch: UInt64 = 0, previousKey: String = "", nextKey: String = ""
    ) {
        self.epoch = epoch
        self.previousKey = previousKey
        self.nextKey = nextKey
        self.assignmentID = assignmentID
        self.modelPath = modelPath
        self.stageIndex = stageIndex
        self.numStages = numStages
        self.layers = layers
        self.isFirst = stageIndex == 0
        self.isLast = stageIndex + 1 == numStages
        self.nextEndpoint = nextEndpoint
        self.kvCapacityBytes = kvCapacityBytes
    }
}

/// The assignment is loaded.
public struct Ready: Hashable, Sendable {
    public var assignmentID: UInt64
    public var workerID: String
    public var layers: LayerRange
    public var residentBytes: UInt64
    /// KV-cache bytes per token on this stage's layers.
    public var kvBytesPerToken: UInt64
    public var kvCapacityBytes: UInt64
    public var loadNanoseconds: UInt64
    /// Positions per KV block (0 from a worker older than 1.3: 16).
    public var kvBlockTokens: UInt32
    /// Since 1.4: how the stage holds its matrices ("f32", "f16", "bf16", "q8_0"; "" from an older worker).
    public var weightFormat: String
    /// Since 1.4: bytes of weights the stage holds (0 from an older worker).
    public var weightBytes: UInt64

    public init(
        assignmentID: UInt64, workerID: String, layers: LayerRange, residentBytes: UInt64,
        kvBytesPerToken: UInt64, kvCapacityBytes: UInt64, loadNanoseconds: UInt64, kvBlockTokens: UInt32 = 0,
        weightFormat: String = "", weightBytes: UInt64 = 0
    ) {
        self.kvBlockTokens = kvBlockTokens
        self.weightFormat = weightFormat
        self.weightBytes = weightBytes
        self.assignmentID = assignmentID
        self.workerID = workerID
        self.layers = layers
        self.residentBytes = residentBytes
        self.kvBytesPerToken = kvBytesPerToken
        self.kvCapacityBytes = kvCapacityBytes
        self.loadNanoseconds = loadNanoseconds
    }
}

/// Shape and element type of the tensor frame that follows a Step header.
public struct TensorDesc: Hashable, Sendable {
    public var dtype: DType
    /// Dimensions, outermost first; activations are [tokens, hidden].
    public var shape: [UInt64]

    public init(dtype: DType, shape: [UInt64]) {
        self.dtype = dtype
        self.shape = shape
    }

    /// An F32 activation tensor [tokens, hidden].
    public static func activations(tokens: Int, hidden: Int) -> TensorDesc {
        TensorDesc(dtype: .f32, shape: [UInt64(max(tokens, 0)), UInt64(max(hidden, 0))])
    }

    /// Bytes of the tensor frame: product(shape) x element size; throws when a dimension is 0
    /// or the product overflows or exceeds `ProtocolLimits.maxTensorBytes`.
    public func byteCount(field: String = "TensorDesc") throws(ProtocolError) -> Int {
        guard !shape.isEmpty else { throw .invalidValue(field: "\(field).shape", reason: "no dimensions") }
        var total = UInt64(dtype.byteSize)
        for (index, dimension) in shape.enumerated() {
            guard dimension > 0 else {
                throw .invalidValue(field: "\(field).shape[\(index)]", reason: "dimension is 0")
            }
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= UInt64(ProtocolLimits.maxTensorBytes) else {
                throw .oversized(
                    what: "tensor \(shape) of \(dtype)", byteCount: overflow ? Int.max : Int(product),
                    limit: ProtocolLimits.maxTensorBytes)
            }
            total = product
        }
        return Int(total)
    }
}

/// One sequence's part of a Step.
public struct StepSequence: Hashable, Sendable {
    /// Nonzero, never reused.
    public var seqID: UInt64
    /// Tokens already in the sequence's KV cache; 0 starts the sequence.
    public var position: UInt32
    /// The step's input tokens (at least one); the sequence owns that many tensor rows.
    public var tokenIDs: [UInt32]
    /// Whether the last stage samples from the sequence's last row.
    public var sample: Bool
    /// Required when `position` is 0, ignored otherwise.
    public var sampling: SamplingParams?
    /// With position 0: the sampler's first step (tokens the call generated before a replay).
    public var sampleStart: UInt32
    /// Since 1.4: the last stage scores the prompt tokens of this prefill (every chunk of it) and
    /// returns them with the sampled token; every stage must then run the whole prompt (no
    /// cached-prefix reuse).
    public var promptLogprobs: Bool

    public init(seqID: UInt64, position: UInt32, tokenIDs: [UInt32], sample: Bool = true, sampling: SamplingParams? = nil,
                sampleStart: UInt32 = 0, promptLogprobs: Bool = false) {
        self.promptLogprobs = promptLogprobs
        self.sampleStart = sampleStart
        self.seqID = seqID
        self.position = position
        self.tokenIDs = tokenIDs
        self.sample = sample
        self.sampling = sampling
    }
}

/// Time one stage spent on a step.
public struct StageTiming: Hashable, Sendable {
    public var stageIndex: UInt32
    /// From receipt of the frames to the start of computation.
    public var queueNanoseconds: UInt64
    /// The stage's computation.
    public var forwardNanoseconds: UInt64

    public init(stageIndex: UInt32, queueNanoseconds: UInt64, forwardNanoseconds: UInt64) {
        self.stageIndex = stageIndex
        self.queueNanoseconds = queueNanoseconds
        self.forwardNanoseconds = forwardNanoseconds
    }
}

/// A batch of sequences advancing one step: the header frame of the data plane. Decoding checks:
/// nonzero step id, at least one sequence, nonzero and distinct sequence ids, at least one token
/// per sequence, no position overflow, sampling present at position 0, and for a tensor: rank 2
/// with as many rows as the sequences have tokens.
public struct Step: Hashable, Sendable {
    public var stepID: UInt64
    /// The stage that must process this frame.
    public var stageIndex: UInt32
    /// Sequences in tensor row order.
    public var sequences: [StepSequence]
    /// The tensor in the next frame; nil on the frame to stage 0.
    public var tensor: TensorDesc?
    /// Timings of the stages already passed.
    public var timings: [StageTiming]
    /// The pipeline epoch the coordinator sent it into (Assign.epoch).
    public var epoch: UInt64
    /// Sequences every stage frees before processing this step.
    public var releaseSeqIDs: [UInt64]

    public init(stepID: UInt64, stageIndex: UInt32, sequences: [StepSequence], tensor: TensorDesc? = nil, timings: [StageTiming] = [],
                epoch: UInt64 = 0, releaseSeqIDs: [UInt64] = []) {
        self.epoch = epoch
        self.releaseSeqIDs = releaseSeqIDs
        self.stepID = stepID
        self.stageIndex = stageIndex
        self.sequences = sequences
        self.tensor = tensor
        self.timings = timings
    }

    /// Total tokens over the sequences: the tensor's row count.
    public var tokenCount: Int { sequences.reduce(0) { $0 + $1.tokenIDs.count } }
}

/// The token sampled for one sequence.
public struct SequenceResult: Hashable, Sendable {
    public var seqID: UInt64
    public var tokenID: UInt32
    /// Natural log of its probability at temperature 1.
    public var logprob: Float
    /// Alternatives, most likely first (empty unless requested).
    public var topLogprobs: [TokenLogprob]
    /// Since 1.4, for a prefill fed with promptLogprobs: the log probability of each fed token
    /// after the first (one fewer than the prefill's tokens).
    public var promptLogprobs: [Float]
    /// Alternatives at each of those positions (empty unless top logprobs were requested).
    public var promptTopLogprobs: [[TokenLogprob]]

    public init(seqID: UInt64, tokenID: UInt32, logprob: Float, topLogprobs: [TokenLogprob] = [],
                promptLogprobs: [Float] = [], promptTopLogprobs: [[TokenLogprob]] = []) {
        self.promptLogprobs = promptLogprobs
        self.promptTopLogprobs = promptTopLogprobs
        self.seqID = seqID
        self.tokenID = tokenID
        self.logprob = logprob
        self.topLogprobs = topLogprobs
    }
}

/// The outcome of a step, from the last stage.
public struct StepResult: Hashable, Sendable {
    public var stepID: UInt64
    /// One per sequence with `sample`, in the step's order.
    public var results: [SequenceResult]
    /// Every stage's timing, in stage order.
    public var timings: [StageTiming]
    /// The step's epoch.
    public var epoch: UInt64

    public init(stepID: UInt64, results: [SequenceResult], timings: [StageTiming] = [], epoch: UInt64 = 0) {
        self.epoch = epoch
        self.stepID = stepID
        self.results = results
        self.timings = timings
    }
}

/// Free the sequences' KV cache and samplers.
public struct Release: Hashable, Sendable {
    public var seqIDs: [UInt64]
    public init(seqIDs: [UInt64]) { self.seqIDs = seqIDs }
}

/// The load a worker reports in its heartbeats.
public struct WorkerLoad: Hashable, Sendable {
    public var activeSequences: UInt32
    public var kvUsedBytes: UInt64
    public var kvCapacityBytes: UInt64
    public var stepsDone: UInt64

    public init(activeSequences: UInt32, kvUsedBytes: UInt64, kvCapacityBytes: UInt64, stepsDone: UInt64) {
        self.activeSequences = activeSequences
        self.kvUsedBytes = kvUsedBytes
        self.kvCapacityBytes = kvCapacityBytes
        self.stepsDone = stepsDone
    }
}

/// Liveness signal.
public struct Heartbeat: Hashable, Sendable {
    /// Empty from the coordinator.
    public var workerID: String
    /// Sender's wall clock, for logs.
    public var sentUnixMilliseconds: UInt64
    /// nil from the coordinator.
    public var load: WorkerLoad?

    public init(workerID: String = "", sentUnixMilliseconds: UInt64, load: WorkerLoad? = nil) {
        self.workerID = workerID
        self.sentUnixMilliseconds = sentUnixMilliseconds
        self.load = load
    }
}

/// Exit (to a worker) or leaving (from a worker).
public struct Shutdown: Hashable, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// What failed, in a WorkerError (`ERROR_CODE_*`).
public enum WorkerErrorCode: Hashable, Sendable {
    case versionMismatch
    case malformedMessage
    case loadFailed
    case invalidAssignment
    case notReady
    case unknownSequence
    case kvCacheFull
    case stepFailed
    /// ERROR_CODE_INTERNAL (`internal` is a Swift keyword).
    case internalError
    /// A code from a newer minor version.
    case unrecognized(Int32)
}

/// A request that could not be honoured. Also a Swift Error, so that a worker can throw it and
/// send what it caught.
public struct WorkerError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: WorkerErrorCode
    public var message: String
    /// The step concerned (0 on the wire means none).
    public var stepID: UInt64?
    /// The sequence concerned (0 on the wire means none).
    public var seqID: UInt64?

    public init(code: WorkerErrorCode, message: String, stepID: UInt64? = nil, seqID: UInt64? = nil) {
        self.code = code
        self.message = message
        self.stepID = stepID
        self.seqID = seqID
    }

    /// The refusal a coordinator sends to a worker of another major version.
    public static func versionMismatch(worker: ProtocolVersion) -> WorkerError {
        WorkerError(
            code: .versionMismatch,
            message: ProtocolError.versionMismatch(local: .current, remote: worker).description)
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let stepID { text += " (step \(stepID)" + (seqID.map { ", sequence \($0))" } ?? ")") }
        else if let seqID { text += " (sequence \(seqID))" }
        return text
    }
}
