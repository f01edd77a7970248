// protobuf-c conversions of the client.proto messages, with the checks a server or client makes
// before trusting a decoded value (required fields, UTF-8, consistent lengths, no empty prompt).

import CMQProto
import CProtobufC

// MARK: Status and calls

extension Status: CBridged {
    static let protoName = "Status"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__Status>) { mq__v1__status__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__Status>, arena: CArena) {
        message.pointee.code = code.wire
        message.pointee.message = arena.string(self.message)
    }

    init(c message: UnsafePointer<Mq__V1__Status>, path: () -> String) throws(ProtocolError) {
        self.init(code: StatusCode(wire: message.pointee.code), message: try decodeString(message.pointee.message, "\(path()).message"))
    }
}

/// One metadata entry of a CallRequest (protobuf maps are repeated key/value messages).
struct MetadataEntry: CBridged {
    var key: String
    var value: String

    static let protoName = "CallRequest.MetadataEntry"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__CallRequest__MetadataEntry>) {
        mq__v1__call_request__metadata_entry__init(message)
    }

    init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__CallRequest__MetadataEntry>, arena: CArena) {
        message.pointee.key = arena.string(key)
        message.pointee.value = arena.string(value)
    }

    init(c message: UnsafePointer<Mq__V1__CallRequest__MetadataEntry>, path: () -> String) throws(ProtocolError) {
        key = try decodeString(message.pointee.key, "\(path()).key")
        value = try decodeString(message.pointee.value, "\(path()).value")
    }
}

extension CallRequest: CBridged, WireMessage {
    static let protoName = "CallRequest"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__CallRequest>) { mq__v1__call_request__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__CallRequest>, arena: CArena) {
        message.pointee.version = arena.message(version)
        message.pointee.call_id = callID
        message.pointee.method = arena.string(method)
        message.pointee.timeout_ms = timeoutMilliseconds
        // Sorted so that equal requests encode to equal bytes.
        let entries = metadata.sorted { $0.key < $1.key }.map { MetadataEntry(key: $0.key, value: $0.value) }
        (message.pointee.n_metadata, message.pointee.metadata) = arena.messages(entries)
        message.pointee.payload = arena.bytes(payload)
    }

    /// Requires the version and a nonzero call id; duplicate metadata keys keep the last value.
    init(c message: UnsafePointer<Mq__V1__CallRequest>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        let version = try decodeRequired(ProtocolVersion.self, m.version, "\(path()).version")
        guard m.call_id != 0 else { throw .invalidValue(field: "\(path()).call_id", reason: "must be nonzero") }
        var metadata: [String: String] = [:]
        for entry in try decodeMessages(MetadataEntry.self, m.n_metadata, m.metadata, "\(path()).metadata") {
            metadata[entry.key] = entry.value
        }
        self.init(
            version: version, callID: m.call_id, method: try decodeString(m.method, "\(path()).method"),
            timeoutMilliseconds: m.timeout_ms, metadata: metadata, payload: decodeBytes(m.payload))
    }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> CallRequest {
        try Wire.unpack(CallRequest.self, bytes)
    }

    /// The call id of bytes that protobuf-c can parse as a CallRequest even though they fail
    /// validation (bad UTF-8, missing version, bad payload), so that the server can still send
    /// an error trailer to the caller; nil when there is no usable id (then the frame is dropped).
    public static func peekCallID(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        let id = try? Wire.withUnpacked(CallRequest.self, bytes) { message throws(ProtocolError) -> UInt64 in
            message.pointee.call_id
        }
        return id == 0 ? nil : id
    }

    /// The call id of a CallRequest found by walking its top-level fields, without unpacking
    /// anything (the payload is skipped by its length, never copied): for a frame too large to be
    /// worth parsing, so the refusal costs microseconds. nil when the walk finds no nonzero
    /// call_id or the bytes are not a protobuf field sequence.
    public static func scanCallID(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        var at = 0
        func varint() -> UInt64? {
            var value: UInt64 = 0, shift: UInt64 = 0
            while at < bytes.count, shift < 64 {
                let byte = bytes[at]
                at += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        var callID: UInt64 = 0
        while at < bytes.count {
            guard let tag = varint() else { return nil }
            switch tag & 7 {
            case 0:
                guard let value = varint() else { return nil }
                if tag >> 3 == 2 { callID = value }    // call_id = 2; protobuf: the last one wins
            case 1: at += 8
            case 2:
                guard let length = varint(), length <= UInt64(bytes.count - at) else { return nil }
                at += Int(length)
            case 5: at += 4
            default: return nil
            }
        }
        return at == bytes.count && callID != 0 ? callID : nil
    }

    /// `peekCallID` for any byte collection.
    public static func peekCallID(_ bytes: some Collection<UInt8>) -> UInt64? {
        Array(bytes).withUnsafeBytes { peekCallID($0) }
    }
}

extension CallReply: CBridged, WireMessage {
    static let protoName = "CallReply"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__CallReply>) { mq__v1__call_reply__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__CallReply>, arena: CArena) {
        message.pointee.call_id = callID
        switch self {
        case let .message(_, payload):
            message.pointee.kind = MQ__V1__REPLY_KIND__REPLY_KIND_MESSAGE
            message.pointee.payload = arena.bytes(payload)
        case let .trailer(_, status, payload):
            message.pointee.kind = MQ__V1__REPLY_KIND__REPLY_KIND_TRAILER
            message.pointee.status = arena.message(status)
            message.pointee.payload = arena.bytes(payload)
        }
    }

    /// Requires a known kind, a status on a trailer and none on a stream item.
    init(c message: UnsafePointer<Mq__V1__CallReply>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        let status = try decodeMessage(Status.self, m.status, "\(path()).status")
        switch wireNumber(m.kind) {
        case wireNumber(MQ__V1__REPLY_KIND__REPLY_KIND_MESSAGE):
            guard status == nil else {
                throw .invalidValue(field: "\(path()).status", reason: "present on a REPLY_KIND_MESSAGE reply")
            }
            self = .message(callID: m.call_id, payload: decodeBytes(m.payload))
        case wireNumber(MQ__V1__REPLY_KIND__REPLY_KIND_TRAILER):
            guard let status else { throw .missingField("\(path()).status") }
            self = .trailer(callID: m.call_id, status: status, payload: decodeBytes(m.payload))
        case 0:
            throw .missingField("\(path()).kind")
        case let other:
            throw .unknownEnumValue(field: "\(path()).kind", value: other)
        }
    }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> CallReply {
        try Wire.unpack(CallReply.self, bytes)
    }

    /// The payload of an OK unary trailer as a typed response. Throws `unexpectedMessage` for a
    /// stream item or a failed call (check `status` first).
    public func response<M: WireMessage>(as _: M.Type) throws(ProtocolError) -> M {
        guard case let .trailer(_, status, payload) = self, status.isOK else {
            throw .unexpectedMessage(expected: "an OK trailer carrying \(M.self)", actual: "\(self.kindDescription)")
        }
        return try M.decode(payload)
    }

    /// The payload of a stream item as a GenerateStreamChunk.
    public func chunk() throws(ProtocolError) -> GenerateStreamChunk {
        guard case let .message(_, payload) = self else {
            throw .unexpectedMessage(expected: "a stream item (REPLY_KIND_MESSAGE)", actual: kindDescription)
        }
        return try GenerateStreamChunk.decode(payload)
    }

    private var kindDescription: String {
        switch self {
        case .message: return "a stream item"
        case let .trailer(_, status, _): return "a trailer with status \(status)"
        }
    }
}

// MARK: Generate

extension GenerateRequest: CBridged, WireMessage {
    static let protoName = "GenerateRequest"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__GenerateRequest>) { mq__v1__generate_request__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__GenerateRequest>, arena: CArena) {
        switch prompt {
        case let .text(text):
            message.pointee.prompt_case = MQ__V1__GENERATE_REQUEST__PROMPT_TEXT
            message.pointee.text = arena.text(text)
        case let .tokenIDs(ids):
            message.pointee.prompt_case = MQ__V1__GENERATE_REQUEST__PROMPT_TOKEN_IDS
            message.pointee.token_ids = arena.message(TokenIDList(ids: ids))
        }
        message.pointee.max_new_tokens = maxNewTokens
        message.pointee.sampling = arena.message(sampling)
    }

    /// Requires a non-empty prompt; absent sampling means greedy.
    init(c message: UnsafePointer<Mq__V1__GenerateRequest>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        let prompt: Prompt
        switch m.prompt_case {
        case MQ__V1__GENERATE_REQUEST__PROMPT_TEXT:
            prompt = .text(try decodeText(m.text, "\(path()).text"))
        case MQ__V1__GENERATE_REQUEST__PROMPT_TOKEN_IDS:
            prompt = .tokenIDs(try decodeRequired(TokenIDList.self, m.token_ids, "\(path()).token_ids").ids)
        default:
            throw .missingField("\(path()).prompt")
        }
        switch prompt {
        case .text(""), .tokenIDs([]): throw .invalidValue(field: "\(path()).prompt", reason: "the prompt is empty")
        default: break
        }
        self.init(
            prompt: prompt, maxNewTokens: m.max_new_tokens,
            sampling: try decodeMessage(SamplingParams.self, m.sampling, "\(path()).sampling") ?? .greedy)
    }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> GenerateRequest {
        try Wire.unpack(GenerateRequest.self, bytes)
    }
}

extension GenerationTiming: CBridged {
    static let protoName = "GenerationTiming"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__GenerationTiming>) { mq__v1__generation_timing__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__GenerationTiming>, arena: CArena) {
        message.pointee.queue_ns = queueNanoseconds
        message.pointee.prefill_ns = prefillNanoseconds
        message.pointee.decode_ns = decodeNanoseconds
    }

    init(c message: UnsafePointer<Mq__V1__GenerationTiming>, path: () -> String) throws(ProtocolError) {
        self.init(
            queueNanoseconds: message.pointee.queue_ns, prefillNanoseconds: message.pointee.prefill_ns,
            decodeNanoseconds: message.pointee.decode_ns)
    }
}

/// Checks that per-token arrays line up: one logprob per token, alternatives for none or all.
private func requireAligned(tokens: Int, logprobs: Int, topLogprobs: Int, _ path: @autoclosure () -> String) throws(ProtocolError) {
    guard logprobs == tokens else {
        throw .invalidValue(field: "\(path()).logprobs", reason: "\(logprobs) log probabilities for \(tokens) tokens")
    }
    guard topLogprobs == 0 || topLogprobs == tokens else {
        throw .invalidValue(field: "\(path()).top_logprobs", reason: "\(topLogprobs) lists for \(tokens) tokens")
    }
}

extension GenerateResponse: CBridged, WireMessage {
    static let protoName = "GenerateResponse"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__GenerateResponse>) { mq__v1__generate_response__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__GenerateResponse>, arena: CArena) {
        (message.pointee.n_token_ids, message.pointee.token_ids) = arena.array(tokenIDs)
        (message.pointee.n_logprobs, message.pointee.logprobs) = arena.array(logprobs)
        (message.pointee.n_top_logprobs, message.pointee.top_logprobs) = arena.topLogprobs(topLogprobs)
        message.pointee.text = arena.text(text)
        message.pointee.finish_reason = FinishReason.wire(finishReason)
        message.pointee.prompt_tokens = promptTokens
        message.pointee.completion_tokens = completionTokens
        message.pointee.timing = arena.message(timing)
    }

    /// Requires a finish reason and aligned per-token arrays.
    init(c message: UnsafePointer<Mq__V1__GenerateResponse>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        guard let finishReason = FinishReason(wire: m.finish_reason) else { throw .missingField("\(path()).finish_reason") }
        let tokenIDs = decodeArray(m.n_token_ids, m.token_ids)
        try requireAligned(tokens: tokenIDs.count, logprobs: m.n_logprobs, topLogprobs: m.n_top_logprobs, path())
        self.init(
            tokenIDs: tokenIDs, logprobs: decodeArray(m.n_logprobs, m.logprobs),
            topLogprobs: try decodeTopLogprobs(m.n_top_logprobs, m.top_logprobs, "\(path()).top_logprobs"),
            text: try decodeText(m.text, "\(path()).text"), finishReason: finishReason,
            promptTokens: m.prompt_tokens, completionTokens: m.completion_tokens,
            timing: try decodeMessage(GenerationTiming.self, m.timing, "\(path()).timing") ?? GenerationTiming())
    }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> GenerateResponse {
        try Wire.unpack(GenerateResponse.self, bytes)
    }
}

extension GenerateStreamChunk: CBridged, WireMessage {
    static let protoName = "GenerateStreamChunk"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__GenerateStreamChunk>) { mq__v1__generate_stream_chunk__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__GenerateStreamChunk>, arena: CArena) {
        (message.pointee.n_token_ids, message.pointee.token_ids) = arena.array(tokenIDs)
        (message.pointee.n_logprobs, message.pointee.logprobs) = arena.array(logprobs)
        (message.pointee.n_top_logprobs, message.pointee.top_logprobs) = arena.topLogprobs(topLogprobs)
        message.pointee.text_delta = arena.text(textDelta)
        message.pointee.finish_reason = FinishReason.wire(finishReason)
        message.pointee.prompt_tokens = promptTokens
        message.pointee.completion_tokens = completionTokens
        if let timing { message.pointee.timing = arena.message(timing) }
    }

    /// Requires aligned per-token arrays.
    init(c message: UnsafePointer<Mq__V1__GenerateStreamChunk>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        let tokenIDs = decodeArray(m.n_token_ids, m.token_ids)
        try requireAligned(tokens: tokenIDs.count, logprobs: m.n_logprobs, topLogprobs: m.n_top_logprobs, path())
        self.init(
            tokenIDs: tokenIDs, logprobs: decodeArray(m.n_logprobs, m.logprobs),
            topLogprobs: try decodeTopLogprobs(m.n_top_logprobs, m.top_logprobs, "\(path()).top_logprobs"),
            textDelta: try decodeText(m.text_delta, "\(path()).text_delta"),
            finishReason: FinishReason(wire: m.finish_reason), promptTokens: m.prompt_tokens,
            completionTokens: m.completion_tokens,
            timing: try decodeMessage(GenerationTiming.self, m.timing, "\(path()).timing"))
    }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> GenerateStreamChunk {
        try Wire.unpack(GenerateStreamChunk.self, bytes)
    }
}

// MARK: Cancel, Tokenize

extension CancelRequest: CBridged, WireMessage {
    static let protoName = "CancelRequest"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__CancelRequest>) { mq__v1__cancel_request__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__CancelRequest>, arena: CArena) {
        message.pointee.call_id = callID
    }

    /// Requires a nonzero call id.
    init(c message: UnsafePointer<Mq__V1__CancelRequest>, path: () -> String) throws(ProtocolError) {
        guard message.pointee.call_id != 0 else { throw .invalidValue(field: "\(path()).call_id", reason: "must be nonzero") }
        self.init(callID: message.pointee.call_id)
    }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> CancelRequest {
        try Wire.unpack(CancelRequest.self, bytes)
    }
}

extension CancelResponse: CBridged, WireMessage {
    static let protoName = "CancelResponse"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__CancelResponse>) { mq__v1__cancel_response__init(message) }
    func fill(_ message: UnsafeMutablePointer<Mq__V1__CancelResponse>, arena: CArena) {}
    init(c message: UnsafePointer<Mq__V1__CancelResponse>, path: () -> String) throws(ProtocolError) { self.init() }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> CancelResponse {
        try Wire.unpack(CancelResponse.self, bytes)
    }
}

extension TokenizeRequest: CBridged, WireMessage {
    static let protoName = "TokenizeRequest"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__TokenizeRequest>) { mq__v1__tokenize_request__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__TokenizeRequest>, arena: CArena) {
        message.pointee.text = arena.text(text)
    }

    init(c message: UnsafePointer<Mq__V1__TokenizeRequest>, path: () -> String) throws(ProtocolError) {
        self.init(text: try decodeText(message.pointee.text, "\(path()).text"))
    }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> TokenizeRequest {
        try Wire.unpack(TokenizeRequest.self, bytes)
    }
}

extension TokenizeResponse: CBridged, WireMessage {
    static let protoName = "TokenizeResponse"
    static func cInit(_ message: UnsafeMutablePointer<Mq__V1__TokenizeResponse>) { mq__v1__tokenize_response__init(message) }

    func fill(_ message: UnsafeMutablePointer<Mq__V1__TokenizeResponse>, arena: CArena) {
        (message.pointee.n_token_ids, message.pointee.token_ids) = arena.array(tokenIDs)
        (message.pointee.n_tokens, message.pointee.tokens) = arena.texts(tokens)
    }

    /// Requires no token strings or one per id.
    init(c message: UnsafePointer<Mq__V1__TokenizeResponse>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        guard m.n_tokens == 0 || m.n_tokens == m.n_token_ids else {
            throw .invalidValue(field: "\(path()).tokens", reason: "\(m.n_tokens) strings for \(m.n_token_ids) ids")
        }
        self.init(
            tokenIDs: decodeArray(m.n_token_ids, m.token_ids),
            tokens: try decodeTexts(m.n_tokens, m.tokens, "\(path()).tokens"))
    }

    public func encode() -> [UInt8] { Wire.pack(self) }
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> TokenizeResponse {
        try Wire.unpack(TokenizeResponse.self, bytes)
    }
}

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
            activationDType: try DType(wire: m.activation_dtype, path: "\(path()).activation_dtype"))
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
            busyNanoseconds: m.busy_ns)
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
