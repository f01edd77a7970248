// Stage: one pipeline stage's compute state — the loaded layer range of a model, its KV-cache
// shard and, on the last stage, a sampler and token history per sequence — and the step itself:
// check a decoded Step against that state, run every sequence's rows through the layers as one
// batch, then either hand the activations on or sample the next tokens. No sockets here (the data
// plane owns them); every failure is a WorkerError naming the step and sequence.
//
// Shapes: T = tokens in the step (all sequences' rows, concatenated in Step.sequences order),
// E = hidden size, V = vocabulary, R = sequences with `sample` set.
//   hidden[T, E]   F32, row t = token t of the step (stage 0: embeddings; else the tensor frame)
//   logits[R, V]   last stage only, one row per sampled sequence (its last row of `hidden`)

import Foundation
import Logging
import MQCheckpoint
import MQKernels
import MQModel
import MQProtocol
import MQSampling

/// The part of an assignment that decides whether a new Assign needs the weights loaded again.
struct StageIdentity: Equatable, CustomStringConvertible {
    var modelPath: String
    var layers: Range<Int>
    var embeds: Bool
    var hasHead: Bool

    var description: String {
        var text = "layers \(layers.lowerBound)..<\(layers.upperBound) of \(modelPath)"
        if embeds { text += ", embedding" }
        if hasHead { text += ", final norm + LM head" }
        return text
    }
}

/// What processing a step produced.
enum StepOutcome {
    /// Not the last stage: the step for the next stage, and its activations [T, E] (valid until the
    /// stage processes another step).
    case forward(Step, UnsafeRawBufferPointer)
    /// The last stage: the sampled tokens.
    case result(StepResult)
}

/// The tokens of one step's sampled rows, each slot written by the thread that sampled that row.
private final class SampledRows: @unchecked Sendable {
    let tokens: UnsafeMutablePointer<SampledToken?>
    let count: Int
    init(count: Int) {
        self.count = count
        tokens = .allocate(capacity: max(1, count))
        tokens.initialize(repeating: nil, count: count)
    }
    deinit { tokens.deinitialize(count: count); tokens.deallocate() }
}

final class Stage {
    /// Sampled rows from which a step samples on all compute threads.
    static let parallelSamplingRows = 4
    /// One sequence held by this stage.
    /// A class, so that sampling mutates the sampler in place while reading the history (a
    /// struct in the dictionary would have to be copied out, and a copied Sampler copies its
    /// vocabulary-sized scratch on first use).
    final class SequenceState {
        /// Last stage only: draws depend on (seed, how many tokens it sampled before).
        var sampler: Sampler?
        /// Last stage only: every token id this stage saw for the sequence (prompt, then each fed-back
        /// sampled token): the repetition penalty's history, as in MQEngine.
        var history: [Int] = []
        /// Last stage only, while a prefill with prompt logprobs runs (Stage+PromptLogprobs.swift).
        var promptScorer: PromptScorer?
    }

    let identity: StageIdentity
    let model: any DecoderModel
    let shape: ModelShape
    private(set) var assignment: Assign
    private(set) var cache: KVCache
    /// Nanoseconds the weights took to load (reported again in Ready when they are kept).
    let loadNanoseconds: UInt64
    private(set) var sequences: [UInt64: SequenceState] = [:]

    // Scratch reused by every step, so decoding allocates no model buffers per token.
    private var tokens: [StepToken] = []
    private var sampleRows: [Int] = []
    private var created: [UInt64] = []
    private(set) var hidden: UnsafeMutablePointer<Float>
    private var hiddenCapacity: Int
    private(set) var logits: UnsafeMutablePointer<Float>
    private var logitsCapacity: Int

    private init(identity: StageIdentity, model: any DecoderModel, assignment: Assign, cache: KVCache, loadNanoseconds: UInt64) {
        self.identity = identity
        self.model = model
        self.shape = model.shape
        self.assignment = assignment
        self.cache = cache
        self.loadNanoseconds = loadNanoseconds
        hiddenCapacity = shape.hiddenSize
        hidden = .allocate(capacity: hiddenCapacity)
        logitsCapacity = identity.hasHead ? shape.vocabSize : 1
        logits = .allocate(capacity: logitsCapacity)
    }

    deinit {
        hidden.deallocate()
        logits.deallocate()
    }

    // MARK: - Loading

    /// The identity an Assign asks for, with the model folder actually used.
    static func identity(of assign: Assign, modelPath: String) -> StageIdentity {
        StageIdentity(modelPath: modelPath, layers: Int(assign.layers.first)..<Int(assign.layers.end),
                      embeds: assign.isFirst, hasHead: assign.isLast)
    }

    /// Memory-maps the checkpoint, loads only the assigned layers (plus the embedding on the first
    /// stage and the final norm and head on the last) and creates the KV cache. The model computes,
    /// and the stage samples, with `compute`'s threads.
    static func load(_ assign: Assign, modelPath: String, kvBudgetBytes: UInt64, compute: ComputeContext,
                     weights: WeightPrecision = .stored, logger: Logger) throws(WorkerError) -> Stage {
        let start = ContinuousClock.now
        let identity = identity(of: assign, modelPath: modelPath)
        func failure(_ code: WorkerErrorCode, _ message: String) -> WorkerError {
            WorkerError(code: code, message: "assignment \(assign.assignmentID) (\(identity)): \(message)")
        }
        guard !identity.layers.isEmpty else { throw failure(.invalidAssignment, "the layer range is empty") }
        let checkpoint: Checkpoint
        let modelShape: ModelShape
        do {
            checkpoint = try Checkpoint(directory: URL(fileURLWithPath: modelPath))
            modelShape = try ModelRegistry.shape(of: checkpoint)
        } catch {
            throw failure(.loadFailed, "\(error)")
        }
        guard identity.layers.upperBound <= modelShape.layers else {
            throw failure(.invalidAssignment, "the model has \(modelShape.layers) layers (0..<\(modelShape.layers))")
        }
        let model: any DecoderModel
        let cache: KVCache
        do {
            model = try ModelRegistry.load(checkpoint, layers: identity.layers, embedding: identity.embeds, head: identity.hasHead,
                                           compute: compute, weights: weights)
            cache = try makeCache(model: model, budgetBytes: kvBudgetBytes)
            try warmUp(model)
        } catch {
            throw failure(.loadFailed, "\(error)")
        }
        let elapsed = ContinuousClock.now - start
        for layer in identity.layers {
            logger.debug("loaded layer \(layer)", metadata: ["layer": "\(layer)"])
        }
        return Stage(identity: identity, model: model, assignment: assign, cache: cache,
                     loadNanoseconds: nanoseconds(elapsed))
    }

    /// Runs one token through the stage with a throw-away cache. The weights are memory-mapped, so
    /// until something reads them they are neither resident nor checked by the page cache; this
    /// pages them in during the load (while heartbeats continue) instead of during the first call,
    /// and makes Ready's resident bytes show them.
    private static func warmUp(_ model: any DecoderModel) throws {
        let shape = model.shape
        let scratch = try KVCache(layers: model.layerRange, kvDim: shape.kvHeads * shape.headDim, blocks: 1)
        try scratch.reserve(sequence: 0, positions: 1)
        let token = [StepToken(sequence: 0, position: 0, token: 0)]
        var hidden = [Float](repeating: 0, count: shape.hiddenSize)   // [1, E]
        try hidden.withUnsafeMutableBufferPointer { h in
            if model.hasEmbedding { try model.embed(token, into: h.baseAddress!) }
            try model.forward(token, hidden: h.baseAddress!, cache: scratch)
            if model.hasHead {
                var logits = [Float](repeating: 0, count: shape.vocabSize)   // [1, V]
                try logits.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: [0], into: $0.baseAddress!) }
            }
        }
    }

    private static func makeCache(model: any DecoderModel, budgetBytes: UInt64) throws -> KVCache {
        try KVCache(layers: model.layerRange, kvDim: model.shape.kvHeads * model.shape.headDim,
                    budgetBytes: Int(clamping: budgetBytes))
    }

    /// A new Assign for the same weights: forget every sequence (the pipeline was reset) and take
    /// the new stage index and budget. The cache is recreated only if the budget changed.
    func reassign(_ assign: Assign, kvBudgetBytes: UInt64) throws(WorkerError) {
        dropAllSequences()
        // KVCache(budgetBytes:) holds max(1, budget / block) whole blocks.
        let blocks = max(1, Int(clamping: kvBudgetBytes) / cache.bytesPerBlock)
        if blocks != cache.blockCount {
            do {
                cache = try Stage.makeCache(model: model, budgetBytes: kvBudgetBytes)
            } catch {
                throw WorkerError(code: .loadFailed,
                                  message: "assignment \(assign.assignmentID): cannot reserve a KV cache of \(kvBudgetBytes) bytes: \(error)")
            }
        }
        assignment = assign
    }

    // MARK: - Sequences

    var activeSequences: Int { sequences.count }

    /// Frees the sequences' blocks and samplers; unknown ids are ignored. Returns how many it held.
    @discardableResult
    func release(_ ids: [UInt64]) -> Int {
        var freed = 0
        for id in ids where sequences.removeValue(forKey: id) != nil {
            cache.release(sequence: Self.cacheKey(id))
            freed += 1
        }
        return freed
    }

    /// Forgets every sequence and the prefix cache (a new epoch or a lost coordinator: the
    /// coordinator's record of what is cached starts empty too).
    func dropAllSequences() {
        for id in sequences.keys { cache.release(sequence: Self.cacheKey(id)) }
        sequences.removeAll()
        cache.clearPrefixCache()
    }

    /// KVCache keys sequences by Int; the bit pattern keeps distinct UInt64 ids distinct.
    static func cacheKey(_ id: UInt64) -> Int { Int(bitPattern: UInt(id)) }

    // MARK: - Steps

    /// Runs one decoded step. `tensor` is the activation frame (nil on stage 0), already checked
    /// by StepFrames against `step.tensor`. `receivedAt` is when its frames left the socket.
    func process(_ step: Step, tensor: UnsafeRawBufferPointer?, receivedAt: ContinuousClock.Instant) throws(WorkerError) -> StepOutcome {
        let computeStart = ContinuousClock.now
        try check(step)
        let T = step.tokenCount, E = shape.hiddenSize
        try admit(step)
        tokens.removeAll(keepingCapacity: true)
        for seq in step.sequences {
            let key = Self.cacheKey(seq.seqID)
            for (offset, id) in seq.tokenIDs.enumerated() {
                tokens.append(StepToken(sequence: key, position: Int(seq.position) + offset, token: Int(id)))
            }
        }
        ensureHidden(T * E)
        do {
            if identity.embeds {
                try model.embed(tokens, into: hidden)
            } else if let tensor {
                // StepFrames checked the byte count against the shape, and `check` the shape [T, E].
                UnsafeMutableRawPointer(hidden).copyMemory(from: tensor.baseAddress!, byteCount: T * E * 4)
            }
            try model.forward(tokens, hidden: hidden, cache: cache)
        } catch {
            abandonCreated()
            throw Self.stepError(error, step: step)
        }
        // History: every stage sees the token ids; only the last needs them.
        if identity.hasHead {
            for seq in step.sequences {
                sequences[seq.seqID]?.history.append(contentsOf: seq.tokenIDs.lazy.map { Int($0) })
            }
        }
        created.removeAll(keepingCapacity: true)

        guard identity.hasHead else {
            let timing = StageTiming(stageIndex: step.stageIndex, queueNanoseconds: Self.nanoseconds(computeStart - receivedAt),
                                     forwardNanoseconds: Self.nanoseconds(ContinuousClock.now - computeStart))
            // The next stage gets the step's releases and cache changes too (each stage applies them).
            var next = step
            next.stageIndex += 1
            next.tensor = .activations(tokens: T, hidden: E)
            next.timings.append(timing)
            return .forward(next, UnsafeRawBufferPointer(start: hidden, count: T * E * MemoryLayout<Float>.size))
        }

        // Last stage: prompt logprobs of the sequences that asked for them (before `logits` is
        // reused for sampling), then logits of each sampled sequence's last row and its sampler.
        let promptScores = try scorePrompts(step)
        sampleRows.removeAll(keepingCapacity: true)
        var row = 0
        for seq in step.sequences {
            row += seq.tokenIDs.count
            if seq.sample { sampleRows.append(row - 1) }
        }
        var results: [SequenceResult] = []
        if !sampleRows.isEmpty {
            let V = shape.vocabSize
            ensureLogits(sampleRows.count * V)
            do {
                try model.logits(hidden: hidden, rows: sampleRows, into: logits)
            } catch {
                throw Self.stepError(error, step: step)
            }
            var states: [SequenceState] = []
            states.reserveCapacity(sampleRows.count)
            for seq in step.sequences where seq.sample {
                guard let state = sequences[seq.seqID], state.sampler != nil else {
                    throw WorkerError(code: .internalError, message: "sequence \(seq.seqID) has no sampler on the last stage",
                                      stepID: step.stepID, seqID: seq.seqID)
                }
                states.append(state)
            }
            // Each sequence has its own sampler (seeded per sequence and token index), so rows can be
            // sampled on any thread in any order with the same draws; a batch's rows (each a pass over
            // the vocabulary for the log-normalizer) are shared out between the compute threads.
            let drawn = SampledRows(count: states.count)
            let sampleRow = { (r: Int) in
                let state = states[r]
                drawn.tokens[r] = state.sampler!.sample(logits: UnsafeBufferPointer(start: self.logits + r * V, count: V),
                                                        history: state.history)
            }
            if states.count >= Self.parallelSamplingRows {   // (with one thread parallelFor runs them in turn)
                model.compute.parallelFor(parts: states.count) { sampleRow($0) }
            } else {
                for r in states.indices { sampleRow(r) }
            }
            results = zip(states.indices, step.sequences.filter(\.sample)).map { r, seq in
                let token = drawn.tokens[r]!
                let prompt = promptScores[seq.seqID]
                return SequenceResult(
                    seqID: seq.seqID, tokenID: UInt32(token.id), logprob: token.logprob,
                    topLogprobs: token.top.map { TokenLogprob(tokenID: UInt32($0.id), logprob: $0.logprob) },
                    promptLogprobs: prompt?.logprobs ?? [],
                    promptTopLogprobs: prompt?.topLogprobs.map { $0.map { TokenLogprob(tokenID: UInt32($0.id), logprob: $0.logprob) } } ?? [])
            }
        }
        let timing = StageTiming(stageIndex: step.stageIndex, queueNanoseconds: Self.nanoseconds(computeStart - receivedAt),
                                 forwardNanoseconds: Self.nanoseconds(ContinuousClock.now - computeStart))
        return .result(StepResult(stepID: step.stepID, results: results, timings: step.timings + [timing], epoch: step.epoch))
    }

    /// Checks everything about the step that does not change state: the stage index, the tensor's
    /// presence and width, token ids, and each sequence's position against this stage's cache.
    private func check(_ step: Step) throws(WorkerError) {
        func malformed(_ message: String, seqID: UInt64? = nil) -> WorkerError {
            WorkerError(code: .malformedMessage, message: message, stepID: step.stepID, seqID: seqID)
        }
        let mine = assignment.stageIndex
        guard step.stageIndex == mine else {
            throw malformed("Step \(step.stepID) is for stage \(step.stageIndex), but this worker is stage \(mine) "
                            + "(layers \(assignment.layers)): the pipeline is miswired")
        }
        if identity.embeds {
            guard step.tensor == nil else {
                throw malformed("stage \(mine) embeds token ids itself, but Step \(step.stepID) carries a tensor")
            }
        } else {
            guard let desc = step.tensor else {
                throw malformed("stage \(mine) needs the activations of stage \(mine - 1), but Step \(step.stepID) has no tensor")
            }
            guard desc.dtype == .f32 else {
                throw malformed("Step.tensor.dtype is \(desc.dtype); protocol 1.0 carries f32 activations")
            }
            guard desc.shape.count == 2, desc.shape[1] == UInt64(shape.hiddenSize) else {
                throw malformed("Step.tensor.shape \(desc.shape) is not [\(step.tokenCount), \(shape.hiddenSize)] "
                                + "(the model's hidden size is \(shape.hiddenSize))")
            }
        }
        let V = shape.vocabSize
        for seq in step.sequences {
            if let bad = seq.tokenIDs.first(where: { Int($0) >= V }) {
                throw malformed("sequence \(seq.seqID): token id \(bad) is outside the vocabulary (0..<\(V))", seqID: seq.seqID)
            }
            let held = sequences[seq.seqID] != nil
            if seq.isNew {
                if !seq.prefixBlockHashes.isEmpty {
                    let covered = seq.prefixBlockHashes.count * cache.blockSize
                    guard Int(seq.position) == covered, cache.holds(prefix: seq.prefixBlockHashes) else {
                        throw WorkerError(code: .unknownSequence,
                                          message: "sequence \(seq.seqID): starts at position \(seq.position) with \(seq.prefixBlockHashes.count) cached "
                                            + "blocks, but stage \(mine) holds \(covered == Int(seq.position) ? "not all of them" : "blocks of \(cache.blockSize) positions")",
                                          stepID: step.stepID, seqID: seq.seqID)
                    }
                }
                guard !held else {
                    throw WorkerError(code: .unknownSequence,
                                      message: "sequence \(seq.seqID) already holds \(cache.length(of: Self.cacheKey(seq.seqID))) "
                                        + "positions on stage \(mine); a step at position 0 would start it again",
                                      stepID: step.stepID, seqID: seq.seqID)
                }
            } else {
                let length = cache.length(of: Self.cacheKey(seq.seqID))
                guard held, length == Int(seq.position) else {
                    throw WorkerError(code: .unknownSequence,
                                      message: held
                                        ? "sequence \(seq.seqID): step at position \(seq.position), but stage \(mine) holds \(length) positions"
                                        : "sequence \(seq.seqID) is unknown on stage \(mine) (step at position \(seq.position))",
                                      stepID: step.stepID, seqID: seq.seqID)
                }
            }
            try checkPromptScoring(seq, step: step)
            let end = Int(seq.position) + seq.tokenIDs.count
            guard end <= shape.maxPositions else {
                throw WorkerError(code: .stepFailed,
                                  message: "sequence \(seq.seqID): positions \(seq.position)..<\(end) exceed the model's "
                                    + "\(shape.maxPositions) positions",
                                  stepID: step.stepID, seqID: seq.seqID)
            }
        }
    }

    /// Creates the step's new sequences (with their samplers on the last stage) and reserves KV
    /// blocks for every sequence's new positions. On failure, the sequences this step created are
    /// removed again, so a failed prefill leaves nothing behind.
    private func admit(_ step: Step) throws(WorkerError) {
        created.removeAll(keepingCapacity: true)
        for seq in step.sequences {
            if seq.isNew {
                let state = SequenceState()
                if identity.hasHead {
                    guard let params = seq.sampling else {
                        abandonCreated()
                        throw WorkerError(code: .malformedMessage, message: "sequence \(seq.seqID) starts without sampling parameters",
                                          stepID: step.stepID, seqID: seq.seqID)
                    }
                    do {
                        // A replayed call continues its draws where it left off (sample_start).
                        state.sampler = try Sampler(parameters: Self.samplingParameters(params), vocabSize: shape.vocabSize,
                                                    startStep: Int(seq.sampleStart))
                    } catch {
                        abandonCreated()
                        throw WorkerError(code: .malformedMessage, message: "sequence \(seq.seqID): \(error)",
                                          stepID: step.stepID, seqID: seq.seqID)
                    }
                    state.history.reserveCapacity(seq.prefixTokenIDs.count + seq.tokenIDs.count + 64)
                    state.history.append(contentsOf: seq.prefixTokenIDs.lazy.map { Int($0) })
                    if seq.promptLogprobs {
                        state.promptScorer = PromptScorer(vocabSize: shape.vocabSize, topCount: Int(params.topLogprobs))
                    }
                }
                sequences[seq.seqID] = state
                created.append(seq.seqID)
                if !seq.prefixBlockHashes.isEmpty {
                    do {
                        try cache.start(sequence: Self.cacheKey(seq.seqID), prefix: seq.prefixBlockHashes)
                    } catch {
                        abandonCreated()
                        throw Self.stepError(error, step: step, seqID: seq.seqID)
                    }
                }
            }
            do {
                try cache.reserve(sequence: Self.cacheKey(seq.seqID), positions: Int(seq.position) + seq.tokenIDs.count)
            } catch {
                abandonCreated()
                throw Self.stepError(error, step: step, seqID: seq.seqID)
            }
        }
    }

    private func abandonCreated() {
        _ = release(created)
        created.removeAll(keepingCapacity: true)
    }

    /// The wire's sampling parameters in MQSampling's terms, checked by the validation the
    /// coordinator applies ("0 means unset" becomes the neutral value, top_p 1 and repetition
    /// penalty 1); an absent seed is 0 (the coordinator always sets one).
    static func samplingParameters(_ p: SamplingParams) throws(SamplingError) -> SamplingParameters {
        try SamplingParameters(wireTemperature: p.temperature, topK: p.topK, topP: p.topP, repetitionPenalty: p.repetitionPenalty,
                               seed: p.seed ?? 0, topLogprobs: p.topLogprobs).validated(stopStrings: p.stopStrings)
    }

    /// A model error as the WorkerError the coordinator acts on: a full cache is KV_CACHE_FULL
    /// (RESOURCE_EXHAUSTED for the client), anything else STEP_FAILED.
    static func stepError(_ error: any Error, step: Step, seqID: UInt64? = nil) -> WorkerError {
        if let error = error as? WorkerError { return error }
        if case let .cacheFull(sequence, needed, free)? = error as? ModelError {
            let id = UInt64(UInt(bitPattern: sequence))
            return WorkerError(code: .kvCacheFull,
                               message: "sequence \(id): KV cache full (needs \(needed) more blocks, \(free) free; its size is set by --kv-memory)",
                               stepID: step.stepID, seqID: seqID ?? id)
        }
        return WorkerError(code: .stepFailed, message: "Step \(step.stepID): \(error)", stepID: step.stepID, seqID: seqID)
    }

    // MARK: - Scratch

    private func ensureHidden(_ count: Int) {
        guard count > hiddenCapacity else { return }
        let capacity = max(count, hiddenCapacity * 3 / 2)
        hidden.deallocate()
        hidden = .allocate(capacity: capacity)
        hiddenCapacity = capacity
    }

    func ensureLogits(_ count: Int) {
        guard count > logitsCapacity else { return }
        let capacity = max(count, logitsCapacity * 3 / 2)
        logits.deallocate()
        logits = .allocate(capacity: capacity)
        logitsCapacity = capacity
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 { duration.wholeNanoseconds }
}
