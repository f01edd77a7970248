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
        if let suffix {
            message.pointee.suffix_choice_case = MQ__V1__GENERATE_REQUEST__SUFFIX_CHOICE_SUFFIX
            message.pointee.suffix = arena.text(suffix)
        }
        message.pointee.prompt_logprobs = cBool(promptLogprobs)
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
        let suffix = m.suffix_choice_case == MQ__V1__GENERATE_REQUEST__SUFFIX_CHOICE_SUFFIX
            ? try decodeText(m.suffix, "\(path()).suffix") : nil
        // A fill-in-the-middle prompt is never empty (it holds the FIM tokens), so the text before
        // the gap may be.
        switch prompt {
        case .text(""), .tokenIDs([]):
            if suffix == nil { throw .invalidValue(field: "\(path()).prompt", reason: "the prompt is empty") }
        default: break
        }
        self.init(
            prompt: prompt, maxNewTokens: m.max_new_tokens,
            sampling: try decodeMessage(SamplingParams.self, m.sampling, "\(path()).sampling") ?? .greedy,
            suffix: suffix, promptLogprobs: m.prompt_logprobs != 0)
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

/// Checks the prompt-logprob arrays (since 1.4): none without prompt ids, else one log probability
/// per prompt token after the first and alternatives for none or all of them.
private func requirePromptAligned(ids: Int, logprobs: Int, topLogprobs: Int, _ path: @autoclosure () -> String) throws(ProtocolError) {
    let expected = max(0, ids - 1)
    guard logprobs == expected else {
        throw .invalidValue(field: "\(path()).prompt_logprobs", reason: "\(logprobs) log probabilities for \(ids) prompt tokens")
    }
    guard topLogprobs == 0 || topLogprobs == expected else {
        throw .invalidValue(field: "\(path()).prompt_top_logprobs", reason: "\(topLogprobs) lists for \(ids) prompt tokens")
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
        (message.pointee.n_prompt_token_ids, message.pointee.prompt_token_ids) = arena.array(promptTokenIDs)
        (message.pointee.n_prompt_logprobs, message.pointee.prompt_logprobs) = arena.array(promptLogprobs)
        (message.pointee.n_prompt_top_logprobs, message.pointee.prompt_top_logprobs) = arena.topLogprobs(promptTopLogprobs)
    }

    /// Requires a finish reason and aligned per-token arrays.
    init(c message: UnsafePointer<Mq__V1__GenerateResponse>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        guard let finishReason = FinishReason(wire: m.finish_reason) else { throw .missingField("\(path()).finish_reason") }
        let tokenIDs = decodeArray(m.n_token_ids, m.token_ids)
        try requireAligned(tokens: tokenIDs.count, logprobs: m.n_logprobs, topLogprobs: m.n_top_logprobs, path())
        try requirePromptAligned(ids: m.n_prompt_token_ids, logprobs: m.n_prompt_logprobs, topLogprobs: m.n_prompt_top_logprobs, path())
        self.init(
            tokenIDs: tokenIDs, logprobs: decodeArray(m.n_logprobs, m.logprobs),
            topLogprobs: try decodeTopLogprobs(m.n_top_logprobs, m.top_logprobs, "\(path()).top_logprobs"),
            text: try decodeText(m.text, "\(path()).text"), finishReason: finishReason,
            promptTokens: m.prompt_tokens, completionTokens: m.completion_tokens,
            timing: try decodeMessage(GenerationTiming.self, m.timing, "\(path()).timing") ?? GenerationTiming(),
            promptTokenIDs: decodeArray(m.n_prompt_token_ids, m.prompt_token_ids),
            promptLogprobs: decodeArray(m.n_prompt_logprobs, m.prompt_logprobs),
            promptTopLogprobs: try decodeTopLogprobs(m.n_prompt_top_logprobs, m.prompt_top_logprobs, "\(path()).prompt_top_logprobs"))
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
        (message.pointee.n_prompt_token_ids, message.pointee.prompt_token_ids) = arena.array(promptTokenIDs)
        (message.pointee.n_prompt_logprobs, message.pointee.prompt_logprobs) = arena.array(promptLogprobs)
        (message.pointee.n_prompt_top_logprobs, message.pointee.prompt_top_logprobs) = arena.topLogprobs(promptTopLogprobs)
    }

    /// Requires aligned per-token arrays.
    init(c message: UnsafePointer<Mq__V1__GenerateStreamChunk>, path: () -> String) throws(ProtocolError) {
        let m = message.pointee
        let tokenIDs = decodeArray(m.n_token_ids, m.token_ids)
        try requireAligned(tokens: tokenIDs.count, logprobs: m.n_logprobs, topLogprobs: m.n_top_logprobs, path())
        try requirePromptAligned(ids: m.n_prompt_token_ids, logprobs: m.n_prompt_logprobs, topLogprobs: m.n_prompt_top_logprobs, path())
        self.init(
            tokenIDs: tokenIDs, logprobs: decodeArray(m.n_logprobs, m.logprobs),
            topLogprobs: try decodeTopLogprobs(m.n_top_logprobs, m.top_logprobs, "\(path()).top_logprobs"),
            textDelta: try decodeText(m.text_delta, "\(path()).text_delta"),
            finishReason: FinishReason(wire: m.finish_reason), promptTokens: m.prompt_tokens,
            completionTokens: m.completion_tokens,
            timing: try decodeMessage(GenerationTiming.self, m.timing, "\(path()).timing"),
            promptTokenIDs: decodeArray(m.n_prompt_token_ids, m.prompt_token_ids),
            promptLogprobs: decodeArray(m.n_prompt_logprobs, m.prompt_logprobs),
            promptTopLogprobs: try decodeTopLogprobs(m.n_prompt_top_logprobs, m.prompt_top_logprobs, "\(path()).prompt_top_logprobs"))
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
