// protobuf-c conversions of the Health and Info messages (ClientPlane+Status.swift), with the checks
// a client makes before trusting them.

import CMQProto
import CProtobufC

// MARK: Health

extension HealthRequest: CBridged, WireMessage {
    static let protoName = "HealthRequest"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__HealthRequest>) { mq__v1__health_request__init(message) }
    func fill(_ message: UnsafeMutablePointer<Mq__V1__HealthRequest>, arena: CArena) {}
    init(c message: UnsafePointer<Mq__V1__HealthRequest>, path: () -> String) throws(ProtocolError) { self.init() }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> HealthRequest {
        try Wire.unpack(HealthRequest.self, bytes)
    }
}

extension WorkerStatus: CBridged {
    static let protoName = "WorkerStatus"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__WorkerStatus>) { mq__v1__worker_status__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__WorkerStatus>, arena: CArena) {
        message.pointee.worker_id = arena.string(workerID)
        message.pointee.data_endpoint = arena.string(dataEndpoint)
        message.pointee.state = state.wire
        if let layers { message.pointee.layers = arena.message(layers) }
        message.pointee.stage_index = stageIndex
        message.pointee.last_heard_ms = lastHeardMilliseconds
        message.pointee.active_sequences = activeSequences
    }

    /// Requires a state.
    init(c message: UnsafePointer<Mq__V1__WorkerStatus>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        guard let state = WorkerState(wire: m.state) else { throw .missingField("\(path()).state") }
        self.init(
            workerID: try decodeString(m.worker_id, "\(path()).worker_id"),
            dataEndpoint: try decodeString(m.data_endpoint, "\(path()).data_endpoint"), state: state,
            layers: try decodeMessage(LayerRange.self, m.layers, "\(path()).layers"), stageIndex: m.stage_index,
            lastHeardMilliseconds: m.last_heard_ms, activeSequences: m.active_sequences)
    }
}

extension HealthResponse: CBridged, WireMessage {
    static let protoName = "HealthResponse"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__HealthResponse>) { mq__v1__health_response__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__HealthResponse>, arena: CArena) {
        message.pointee.serving = cBool(serving)
        (message.pointee.n_missing_layers, message.pointee.missing_layers) = arena.messages(missingLayers)
        (message.pointee.n_workers, message.pointee.workers) = arena.messages(workers)
        message.pointee.total_layers = totalLayers
        message.pointee.in_flight_calls = inFlightCalls
    }

    init(c message: UnsafePointer<Mq__V1__HealthResponse>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        self.init(
            serving: m.serving != 0,
            missingLayers: try decodeMessages(LayerRange.self, m.n_missing_layers, m.missing_layers, "\(path()).missing_layers"),
            workers: try decodeMessages(WorkerStatus.self, m.n_workers, m.workers, "\(path()).workers"),
            totalLayers: m.total_layers, inFlightCalls: m.in_flight_calls)
    }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> HealthResponse {
        try Wire.unpack(HealthResponse.self, bytes)
    }
}

// MARK: Info

extension InfoRequest: CBridged, WireMessage {
    static let protoName = "InfoRequest"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__InfoRequest>) { mq__v1__info_request__init(message) }
    func fill(_ message: UnsafeMutablePointer<Mq__V1__InfoRequest>, arena: CArena) {}
    init(c message: UnsafePointer<Mq__V1__InfoRequest>, path: () -> String) throws(ProtocolError) { self.init() }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> InfoRequest {
        try Wire.unpack(InfoRequest.self, bytes)
    }
}

extension ModelInfo: CBridged {
    static let protoName = "ModelInfo"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__ModelInfo>) { mq__v1__model_info__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__ModelInfo>, arena: CArena) {
        message.pointee.name = arena.string(name)
        message.pointee.architecture = arena.string(architecture)
        message.pointee.attention_kind = attentionKind.wire
        message.pointee.num_layers = numLayers
        message.pointee.hidden_size = hiddenSize
        message.pointee.num_heads = numHeads
        message.pointee.kv_heads = kvHeads
        message.pointee.head_dim = headDim
        message.pointee.vocab_size = vocabSize
        message.pointee.max_positions = maxPositions
        message.pointee.kv_bytes_per_token = kvBytesPerToken
        message.pointee.eos_token_id = eosTokenID
        message.pointee.activation_dtype = activationDType.wire
        message.pointee.fim_available = cBool(fimAvailable)
    }

    /// Requires the attention kind and the activation type.
    init(c message: UnsafePointer<Mq__V1__ModelInfo>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        guard let attentionKind = AttentionKind(wire: m.attention_kind) else { throw .missingField("\(path()).attention_kind") }
        self.init(
            name: try decodeString(m.name, "\(path()).name"),
            architecture: try decodeString(m.architecture, "\(path()).architecture"), attentionKind: attentionKind,
            numLayers: m.num_layers, hiddenSize: m.hidden_size, numHeads: m.num_heads, kvHeads: m.kv_heads,
            headDim: m.head_dim, vocabSize: m.vocab_size, maxPositions: m.max_positions,
            kvBytesPerToken: m.kv_bytes_per_token, eosTokenID: m.eos_token_id,
            activationDType: try DType(wire: m.activation_dtype, path: "\(path()).activation_dtype"),
            fimAvailable: m.fim_available != 0)
    }
}

extension StageInfo: CBridged {
    static let protoName = "StageInfo"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__StageInfo>) { mq__v1__stage_info__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__StageInfo>, arena: CArena) {
        message.pointee.stage_index = stageIndex
        message.pointee.worker_id = arena.string(workerID)
        message.pointee.data_endpoint = arena.string(dataEndpoint)
        message.pointee.layers = arena.message(layers)
        message.pointee.resident_bytes = residentBytes
        message.pointee.kv_capacity_bytes = kvCapacityBytes
        message.pointee.kv_used_bytes = kvUsedBytes
        // Clamped so that what goes on the wire always passes decodeFraction: a busy time summed
        // from the workers' clocks can exceed the coordinator's wall time by a little.
        message.pointee.busy_fraction = busyFraction.isNaN ? 0 : min(max(busyFraction, 0), 1)
        message.pointee.steps = steps
        message.pointee.busy_ns = busyNanoseconds
        message.pointee.weight_format = arena.string(weightFormat)
        message.pointee.weight_bytes = weightBytes
    }

    /// Requires the layer range.
    init(c message: UnsafePointer<Mq__V1__StageInfo>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        self.init(
            stageIndex: m.stage_index, workerID: try decodeString(m.worker_id, "\(path()).worker_id"),
            dataEndpoint: try decodeString(m.data_endpoint, "\(path()).data_endpoint"),
            layers: try decodeRequired(LayerRange.self, m.layers, "\(path()).layers"), residentBytes: m.resident_bytes,
            kvCapacityBytes: m.kv_capacity_bytes, kvUsedBytes: m.kv_used_bytes,
            busyFraction: try decodeFraction(m.busy_fraction, "\(path()).busy_fraction"), steps: m.steps,
            busyNanoseconds: m.busy_ns,
            weightFormat: try decodeString(m.weight_format, "\(path()).weight_format"), weightBytes: m.weight_bytes)
    }
}

/// A `double` field holding a fraction: NaN, infinities and values outside [0, 1] are refused.
private func decodeFraction(_ value: Double, _ path: @autoclosure () -> String) throws(ProtocolError) -> Double {
    guard value.isFinite, value >= 0, value <= 1 else {
        throw .invalidValue(field: path(), reason: "\(value) is not a fraction in [0, 1]")
    }
    return value
}

extension ServerLimits: CBridged {
    static let protoName = "ServerLimits"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__ServerLimits>) { mq__v1__server_limits__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__ServerLimits>, arena: CArena) {
        message.pointee.max_prompt_tokens = maxPromptTokens
        message.pointee.default_max_new_tokens = defaultMaxNewTokens
        message.pointee.max_new_tokens = maxNewTokens
        message.pointee.default_timeout_ms = defaultTimeoutMilliseconds
        message.pointee.max_timeout_ms = maxTimeoutMilliseconds
    }

    init(c message: UnsafePointer<Mq__V1__ServerLimits>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        self.init(
            maxPromptTokens: m.max_prompt_tokens, defaultMaxNewTokens: m.default_max_new_tokens,
            maxNewTokens: m.max_new_tokens, defaultTimeoutMilliseconds: m.default_timeout_ms,
            maxTimeoutMilliseconds: m.max_timeout_ms)
    }
}

extension InfoResponse: CBridged, WireMessage {
    static let protoName = "InfoResponse"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__InfoResponse>) { mq__v1__info_response__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__InfoResponse>, arena: CArena) {
        message.pointee.version = arena.message(version)
        message.pointee.model = arena.message(model)
        (message.pointee.n_stages, message.pointee.stages) = arena.messages(stages)
        message.pointee.limits = arena.message(limits)
    }

    /// Requires the version, the model and the limits.
    init(c message: UnsafePointer<Mq__V1__InfoResponse>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        self.init(
            version: try decodeRequired(ProtocolVersion.self, m.version, "\(path()).version"),
            model: try decodeRequired(ModelInfo.self, m.model, "\(path()).model"),
            stages: try decodeMessages(StageInfo.self, m.n_stages, m.stages, "\(path()).stages"),
            limits: try decodeRequired(ServerLimits.self, m.limits, "\(path()).limits"))
    }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> InfoResponse {
        try Wire.unpack(InfoResponse.self, bytes)
    }
}
