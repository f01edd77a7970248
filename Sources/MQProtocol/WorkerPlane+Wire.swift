// protobuf-c conversions of the worker.proto messages, with the invariants each message must
// satisfy before a worker or the coordinator acts on it (documented on the Swift types).

import CMQProto
import CProtobufC

extension WorkerMessage: CBridged, WireMessage {
    static let protoName = "WorkerMessage"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__WorkerMessage>) { mq__v1__worker_message__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__WorkerMessage>, arena: CArena) {
        switch self {
        case let .register(body):
            message.pointee.body_case = MQ__V1__WORKER_MESSAGE__BODY_REGISTER
            message.pointee.register_ = arena.message(body)
        case let .assign(body):
            message.pointee.body_case = MQ__V1__WORKER_MESSAGE__BODY_ASSIGN
            message.pointee.assign = arena.message(body)
        case let .ready(body):
            message.pointee.body_case = MQ__V1__WORKER_MESSAGE__BODY_READY
            message.pointee.ready = arena.message(body)
        case let .step(body):
            message.pointee.body_case = MQ__V1__WORKER_MESSAGE__BODY_STEP
            message.pointee.step = arena.message(body)
        case let .stepResult(body):
            message.pointee.body_case = MQ__V1__WORKER_MESSAGE__BODY_STEP_RESULT
            message.pointee.step_result = arena.message(body)
        case let .release(body):
            message.pointee.body_case = MQ__V1__WORKER_MESSAGE__BODY_RELEASE
            message.pointee.release = arena.message(body)
        case let .heartbeat(body):
            message.pointee.body_case = MQ__V1__WORKER_MESSAGE__BODY_HEARTBEAT
            message.pointee.heartbeat = arena.message(body)
        case let .shutdown(body):
            message.pointee.body_case = MQ__V1__WORKER_MESSAGE__BODY_SHUTDOWN
            message.pointee.shutdown = arena.message(body)
        case let .error(body):
            message.pointee.body_case = MQ__V1__WORKER_MESSAGE__BODY_ERROR
            message.pointee.error = arena.message(body)
        }
    }

    /// Requires a body. A body kind added by a newer minor version arrives as an unknown field,
    /// so it decodes as a missing body: log it and ignore the frame.
    init(c message: UnsafePointer<Mq__V1__WorkerMessage>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        switch m.body_case {
        case MQ__V1__WORKER_MESSAGE__BODY_REGISTER:
            self = .register(try decodeRequired(Register.self, m.register_, "\(path()).register"))
        case MQ__V1__WORKER_MESSAGE__BODY_ASSIGN:
            self = .assign(try decodeRequired(Assign.self, m.assign, "\(path()).assign"))
        case MQ__V1__WORKER_MESSAGE__BODY_READY:
            self = .ready(try decodeRequired(Ready.self, m.ready, "\(path()).ready"))
        case MQ__V1__WORKER_MESSAGE__BODY_STEP:
            self = .step(try decodeRequired(Step.self, m.step, "\(path()).step"))
        case MQ__V1__WORKER_MESSAGE__BODY_STEP_RESULT:
            self = .stepResult(try decodeRequired(StepResult.self, m.step_result, "\(path()).step_result"))
        case MQ__V1__WORKER_MESSAGE__BODY_RELEASE:
            self = .release(try decodeRequired(Release.self, m.release, "\(path()).release"))
        case MQ__V1__WORKER_MESSAGE__BODY_HEARTBEAT:
            self = .heartbeat(try decodeRequired(Heartbeat.self, m.heartbeat, "\(path()).heartbeat"))
        case MQ__V1__WORKER_MESSAGE__BODY_SHUTDOWN:
            self = .shutdown(try decodeRequired(Shutdown.self, m.shutdown, "\(path()).shutdown"))
        case MQ__V1__WORKER_MESSAGE__BODY_ERROR:
            self = .error(try decodeRequired(WorkerError.self, m.error, "\(path()).error"))
        default:
            throw .missingField("\(path()).body")
        }
    }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> WorkerMessage {
        try Wire.unpack(WorkerMessage.self, bytes)
    }
}

extension Register: CBridged {
    static let protoName = "Register"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__Register>) { mq__v1__register__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__Register>, arena: CArena) {
        message.pointee.version = arena.message(version)
        message.pointee.worker_id = arena.string(workerID)
        message.pointee.memory_bytes = memoryBytes
        message.pointee.data_endpoint = arena.string(dataEndpoint)
        message.pointee.pid = pid
        message.pointee.host = arena.string(host)
        message.pointee.standby_preload = cBool(standbyPreload)
    }

    /// Requires the version, a worker id and a data endpoint. The version is not compared here:
    /// the coordinator calls `requireCompatibleVersion()` so it can answer with a WorkerError.
    init(c message: UnsafePointer<Mq__V1__Register>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        let version = try decodeRequired(ProtocolVersion.self, m.version, "\(path()).version")
        let workerID = try decodeString(m.worker_id, "\(path()).worker_id")
        guard !workerID.isEmpty else { throw .missingField("\(path()).worker_id") }
        let dataEndpoint = try decodeString(m.data_endpoint, "\(path()).data_endpoint")
        guard !dataEndpoint.isEmpty else { throw .missingField("\(path()).data_endpoint") }
        self.init(
            version: version, workerID: workerID, memoryBytes: m.memory_bytes, dataEndpoint: dataEndpoint,
            pid: m.pid, host: try decodeString(m.host, "\(path()).host"), standbyPreload: m.standby_preload != 0)
    }
}

extension Assign: CBridged {
    static let protoName = "Assign"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__Assign>) { mq__v1__assign__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__Assign>, arena: CArena) {
        message.pointee.assignment_id = assignmentID
        message.pointee.model_path = arena.string(modelPath)
        message.pointee.stage_index = stageIndex
        message.pointee.num_stages = numStages
        message.pointee.first_layer = layers.first
        message.pointee.end_layer = layers.end
        message.pointee.is_first = cBool(isFirst)
        message.pointee.is_last = cBool(isLast)
        message.pointee.next_endpoint = arena.string(nextEndpoint)
        message.pointee.kv_capacity_bytes = kvCapacityBytes
        message.pointee.epoch = epoch
        message.pointee.previous_key = arena.string(previousKey)
        message.pointee.next_key = arena.string(nextKey)
        message.pointee.standby = cBool(standby)
    }

    /// Checks the invariants listed on `Assign`.
    init(c message: UnsafePointer<Mq__V1__Assign>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        guard m.first_layer < m.end_layer else {
            throw .invalidValue(field: "\(path()).end_layer", reason: "layer range \(m.first_layer)..<\(m.end_layer) is empty")
        }
        guard m.stage_index < m.num_stages else {
            throw .invalidValue(field: "\(path()).stage_index", reason: "stage \(m.stage_index) of \(m.num_stages) stages")
        }
        let isFirst = m.is_first != 0, isLast = m.is_last != 0
        guard isFirst == (m.stage_index == 0) else {
            throw .invalidValue(field: "\(path()).is_first", reason: "is_first is \(isFirst) for stage \(m.stage_index)")
        }
        guard isLast == (m.stage_index + 1 == m.num_stages) else {
            throw .invalidValue(
                field: "\(path()).is_last", reason: "is_last is \(isLast) for stage \(m.stage_index) of \(m.num_stages)")
        }
        let modelPath = try decodeString(m.model_path, "\(path()).model_path")
        guard !modelPath.isEmpty else { throw .missingField("\(path()).model_path") }
        let nextEndpoint = try decodeString(m.next_endpoint, "\(path()).next_endpoint")
        guard nextEndpoint.isEmpty == isLast else {
            throw .invalidValue(
                field: "\(path()).next_endpoint",
                reason: isLast ? "the last stage sends to the coordinator, not to \"\(nextEndpoint)\"" : "empty for a stage that is not last")
        }
        let previousKey = try decodeString(m.previous_key, "\(path()).previous_key")
        let nextKey = try decodeString(m.next_key, "\(path()).next_key")
        for (field, key) in [("previous_key", previousKey), ("next_key", nextKey)] where !key.isEmpty && key.utf8.count != 40 {
            throw .invalidValue(field: "\(path()).\(field)", reason: "a CURVE key in Z85 has 40 characters, not \(key.utf8.count)")
        }
        guard !(isLast && !nextKey.isEmpty) else {
            throw .invalidValue(field: "\(path()).next_key", reason: "the last stage has no next stage")
        }
        self.init(
            assignmentID: m.assignment_id, modelPath: modelPath, stageIndex: m.stage_index, numStages: m.num_stages,
            layers: LayerRange(m.first_layer ..< m.end_layer), nextEndpoint: nextEndpoint,
            kvCapacityBytes: m.kv_capacity_bytes, epoch: m.epoch, previousKey: previousKey, nextKey: nextKey)
        standby = m.standby != 0
    }
}

extension Ready: CBridged {
    static let protoName = "Ready"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__Ready>) { mq__v1__ready__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__Ready>, arena: CArena) {
        message.pointee.assignment_id = assignmentID
        message.pointee.worker_id = arena.string(workerID)
        message.pointee.layers = arena.message(layers)
        message.pointee.resident_bytes = residentBytes
        message.pointee.kv_bytes_per_token = kvBytesPerToken
        message.pointee.kv_capacity_bytes = kvCapacityBytes
        message.pointee.load_ns = loadNanoseconds
        message.pointee.kv_block_tokens = kvBlockTokens
        message.pointee.weight_format = arena.string(weightFormat)
        message.pointee.weight_bytes = weightBytes
    }

    /// Requires the layer range.
    init(c message: UnsafePointer<Mq__V1__Ready>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        self.init(
            assignmentID: m.assignment_id, workerID: try decodeString(m.worker_id, "\(path()).worker_id"),
            layers: try decodeRequired(LayerRange.self, m.layers, "\(path()).layers"), residentBytes: m.resident_bytes,
            kvBytesPerToken: m.kv_bytes_per_token, kvCapacityBytes: m.kv_capacity_bytes, loadNanoseconds: m.load_ns,
            kvBlockTokens: m.kv_block_tokens,
            weightFormat: try decodeString(m.weight_format, "\(path()).weight_format"), weightBytes: m.weight_bytes)
    }
}

extension TensorDesc: CBridged {
    static let protoName = "TensorDesc"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__TensorDesc>) { mq__v1__tensor_desc__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__TensorDesc>, arena: CArena) {
        message.pointee.dtype = dtype.wire
        (message.pointee.n_shape, message.pointee.shape) = arena.array(shape)
    }

    /// Requires a known dtype and a shape whose byte count is within the limits.
    init(c message: UnsafePointer<Mq__V1__TensorDesc>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        self.init(
            dtype: try DType(wire: m.dtype, path: "\(path()).dtype"), shape: decodeArray(m.n_shape, m.shape))
        _ = try byteCount(field: path())
    }
}

extension StepSequence: CBridged {
    static let protoName = "StepSequence"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__StepSequence>) { mq__v1__step_sequence__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__StepSequence>, arena: CArena) {
        message.pointee.seq_id = seqID
        message.pointee.position = position
        (message.pointee.n_token_ids, message.pointee.token_ids) = arena.array(tokenIDs)
        message.pointee.sample = cBool(sample)
        if let sampling { message.pointee.sampling = arena.message(sampling) }
        message.pointee.sample_start = sampleStart
        message.pointee.prompt_logprobs = cBool(promptLogprobs)
    }

    /// Requires a nonzero id, at least one token, no position overflow, sampling at position 0.
    init(c message: UnsafePointer<Mq__V1__StepSequence>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        guard m.seq_id != 0 else { throw .invalidValue(field: "\(path()).seq_id", reason: "must be nonzero") }
        guard m.n_token_ids > 0 else { throw .invalidValue(field: "\(path()).token_ids", reason: "no tokens") }
        guard UInt64(m.position) + UInt64(m.n_token_ids) <= UInt64(UInt32.max) else {
            throw .invalidValue(
                field: "\(path()).position", reason: "position \(m.position) + \(m.n_token_ids) tokens overflows")
        }
        let sampling = try decodeMessage(SamplingParams.self, m.sampling, "\(path()).sampling")
        guard m.position != 0 || sampling != nil else { throw .missingField("\(path()).sampling") }
        self.init(
            seqID: m.seq_id, position: m.position, tokenIDs: decodeArray(m.n_token_ids, m.token_ids),
            sample: m.sample != 0, sampling: sampling, sampleStart: m.sample_start, promptLogprobs: m.prompt_logprobs != 0)
    }
}

extension StageTiming: CBridged {
    static let protoName = "StageTiming"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__StageTiming>) { mq__v1__stage_timing__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__StageTiming>, arena: CArena) {
        message.pointee.stage_index = stageIndex
        message.pointee.queue_ns = queueNanoseconds
        message.pointee.forward_ns = forwardNanoseconds
    }

    init(c message: UnsafePointer<Mq__V1__StageTiming>, path: () -> String) throws(ProtocolError) {
        self.init(
            stageIndex: message.pointee.stage_index, queueNanoseconds: message.pointee.queue_ns,
            forwardNanoseconds: message.pointee.forward_ns)
    }
}

extension Step: CBridged {
    static let protoName = "Step"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__Step>) { mq__v1__step__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__Step>, arena: CArena) {
        message.pointee.step_id = stepID
        message.pointee.stage_index = stageIndex
        (message.pointee.n_sequences, message.pointee.sequences) = arena.messages(sequences)
        if let tensor { message.pointee.tensor = arena.message(tensor) }
        (message.pointee.n_timings, message.pointee.timings) = arena.messages(timings)
        message.pointee.epoch = epoch
        (message.pointee.n_release_seq_ids, message.pointee.release_seq_ids) = arena.array(releaseSeqIDs)
    }

    /// Checks the invariants listed on `Step`.
    init(c message: UnsafePointer<Mq__V1__Step>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        guard m.step_id != 0 else { throw .invalidValue(field: "\(path()).step_id", reason: "must be nonzero") }
        let sequences = try decodeMessages(StepSequence.self, m.n_sequences, m.sequences, "\(path()).sequences")
        let releases: [UInt64] = decodeArray(m.n_release_seq_ids, m.release_seq_ids)
        guard !sequences.isEmpty || !releases.isEmpty else {
            throw .invalidValue(field: "\(path()).sequences", reason: "no sequences (and no releases)")
        }
        var seen = Set<UInt64>()
        for (index, sequence) in sequences.enumerated() where !seen.insert(sequence.seqID).inserted {
            throw .invalidValue(
                field: "\(path()).sequences[\(index)].seq_id", reason: "sequence \(sequence.seqID) appears twice")
        }
        self.init(
            stepID: m.step_id, stageIndex: m.stage_index, sequences: sequences,
            tensor: try decodeMessage(TensorDesc.self, m.tensor, "\(path()).tensor"),
            timings: try decodeMessages(StageTiming.self, m.n_timings, m.timings, "\(path()).timings"), epoch: m.epoch,
            releaseSeqIDs: releases)
        if let tensor {
            guard tensor.shape.count == 2 else {
                throw .invalidValue(field: "\(path()).tensor.shape", reason: "\(tensor.shape) is not [tokens, hidden]")
            }
            guard tensor.shape[0] == UInt64(tokenCount) else {
                throw .invalidValue(
                    field: "\(path()).tensor.shape[0]",
                    reason: "\(tensor.shape[0]) rows for \(tokenCount) tokens in the step's sequences")
            }
        }
    }
}

extension SequenceResult: CBridged {
    static let protoName = "SequenceResult"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__SequenceResult>) { mq__v1__sequence_result__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__SequenceResult>, arena: CArena) {
        message.pointee.seq_id = seqID
        message.pointee.token_id = tokenID
        message.pointee.logprob = logprob
        if !topLogprobs.isEmpty { message.pointee.top_logprobs = arena.message(TopLogprobList(topLogprobs)) }
        (message.pointee.n_prompt_logprobs, message.pointee.prompt_logprobs) = arena.array(promptLogprobs)
        (message.pointee.n_prompt_top_logprobs, message.pointee.prompt_top_logprobs) = arena.topLogprobs(promptTopLogprobs)
    }

    /// Requires a nonzero sequence id and prompt alternatives for none or all prompt logprobs.
    init(c message: UnsafePointer<Mq__V1__SequenceResult>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        guard m.seq_id != 0 else { throw .invalidValue(field: "\(path()).seq_id", reason: "must be nonzero") }
        guard m.n_prompt_top_logprobs == 0 || m.n_prompt_top_logprobs == m.n_prompt_logprobs else {
            throw .invalidValue(field: "\(path()).prompt_top_logprobs",
                                reason: "\(m.n_prompt_top_logprobs) lists for \(m.n_prompt_logprobs) prompt log probabilities")
        }
        self.init(
            seqID: m.seq_id, tokenID: m.token_id, logprob: m.logprob,
            topLogprobs: try decodeMessage(TopLogprobList.self, m.top_logprobs, "\(path()).top_logprobs")?.candidates ?? [],
            promptLogprobs: decodeArray(m.n_prompt_logprobs, m.prompt_logprobs),
            promptTopLogprobs: try decodeTopLogprobs(m.n_prompt_top_logprobs, m.prompt_top_logprobs, "\(path()).prompt_top_logprobs"))
    }
}

extension StepResult: CBridged {
    static let protoName = "StepResult"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__StepResult>) { mq__v1__step_result__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__StepResult>, arena: CArena) {
        message.pointee.step_id = stepID
        (message.pointee.n_results, message.pointee.results) = arena.messages(results)
        (message.pointee.n_timings, message.pointee.timings) = arena.messages(timings)
        message.pointee.epoch = epoch
    }

    /// Requires a nonzero step id.
    init(c message: UnsafePointer<Mq__V1__StepResult>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        guard m.step_id != 0 else { throw .invalidValue(field: "\(path()).step_id", reason: "must be nonzero") }
        self.init(
            stepID: m.step_id, results: try decodeMessages(SequenceResult.self, m.n_results, m.results, "\(path()).results"),
            timings: try decodeMessages(StageTiming.self, m.n_timings, m.timings, "\(path()).timings"), epoch: m.epoch)
    }
}

extension Release: CBridged {
    static let protoName = "Release"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__Release>) { mq__v1__release__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__Release>, arena: CArena) {
        (message.pointee.n_seq_ids, message.pointee.seq_ids) = arena.array(seqIDs)
    }

    init(c message: UnsafePointer<Mq__V1__Release>, path: () -> String) throws(ProtocolError) {
        self.init(seqIDs: decodeArray(message.pointee.n_seq_ids, message.pointee.seq_ids))
    }
}

extension WorkerLoad: CBridged {
    static let protoName = "WorkerLoad"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__WorkerLoad>) { mq__v1__worker_load__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__WorkerLoad>, arena: CArena) {
        message.pointee.active_sequences = activeSequences
        message.pointee.kv_used_bytes = kvUsedBytes
        message.pointee.kv_capacity_bytes = kvCapacityBytes
        message.pointee.steps_done = stepsDone
    }

    init(c message: UnsafePointer<Mq__V1__WorkerLoad>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        self.init(
            activeSequences: m.active_sequences, kvUsedBytes: m.kv_used_bytes, kvCapacityBytes: m.kv_capacity_bytes,
            stepsDone: m.steps_done)
    }
}

extension Heartbeat: CBridged {
    static let protoName = "Heartbeat"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__Heartbeat>) { mq__v1__heartbeat__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__Heartbeat>, arena: CArena) {
        message.pointee.worker_id = arena.string(workerID)
        message.pointee.sent_unix_ms = sentUnixMilliseconds
        if let load { message.pointee.load = arena.message(load) }
    }

    init(c message: UnsafePointer<Mq__V1__Heartbeat>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        self.init(
            workerID: try decodeString(m.worker_id, "\(path()).worker_id"), sentUnixMilliseconds: m.sent_unix_ms,
            load: try decodeMessage(WorkerLoad.self, m.load, "\(path()).load"))
    }
}

extension Shutdown: CBridged {
    static let protoName = "Shutdown"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__Shutdown>) { mq__v1__shutdown__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__Shutdown>, arena: CArena) {
        message.pointee.reason = arena.string(reason)
    }

    init(c message: UnsafePointer<Mq__V1__Shutdown>, path: () -> String) throws(ProtocolError) {
        self.init(reason: try decodeString(message.pointee.reason, "\(path()).reason"))
    }
}

extension WorkerError: CBridged {
    static let protoName = "WorkerError"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__WorkerError>) { mq__v1__worker_error__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__WorkerError>, arena: CArena) {
        message.pointee.code = code.wire
        message.pointee.message = arena.string(self.message)
        message.pointee.step_id = stepID ?? 0
        message.pointee.seq_id = seqID ?? 0
    }

    /// Requires a code.
    init(c message: UnsafePointer<Mq__V1__WorkerError>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        guard let code = WorkerErrorCode(wire: m.code) else { throw .missingField("\(path()).code") }
        self.init(
            code: code, message: try decodeString(m.message, "\(path()).message"),
            stepID: m.step_id == 0 ? nil : m.step_id, seqID: m.seq_id == 0 ? nil : m.seq_id)
    }
}
