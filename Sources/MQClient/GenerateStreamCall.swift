// The handle of a GenerateStream call: its call id (so that it can be cancelled from elsewhere)
// and its chunks as an AsyncSequence; plus GenerateStreamAccumulator, which joins the chunks into
// the GenerateResponse a unary Generate would have returned (PROTOCOL.md 4.4).

import MQProtocol

/// A GenerateStream call in flight. Iterating it yields the chunks; iteration ends after the
/// coordinator's OK trailer and throws `MQClientError` on any other outcome.
public struct GenerateStreamCall: AsyncSequence, Sendable {
    public typealias Element = GenerateStreamChunk
    public typealias AsyncIterator = AsyncThrowingStream<GenerateStreamChunk, any Error>.AsyncIterator

    /// The call's id, for `MQClient.cancel(callID:)`.
    public let callID: UInt64
    /// The chunks (the same sequence this value iterates).
    public let chunks: AsyncThrowingStream<GenerateStreamChunk, any Error>
    private let client: MQClient

    init(callID: UInt64, chunks: AsyncThrowingStream<GenerateStreamChunk, any Error>, client: MQClient) {
        self.callID = callID
        self.chunks = chunks
        self.client = client
    }

    public func makeAsyncIterator() -> AsyncIterator { chunks.makeAsyncIterator() }

    /// Asks the coordinator to cancel this call; the stream then ends with CANCELLED.
    @discardableResult
    public func cancel(timeout: Duration? = nil) async throws -> CancelResponse {
        try await client.cancel(callID: callID, timeout: timeout)
    }

    /// Reads the whole stream and returns what Generate would have returned.
    public func collect() async throws -> GenerateResponse {
        var accumulator = GenerateStreamAccumulator()
        for try await chunk in chunks { try accumulator.add(chunk) }
        return try accumulator.response()
    }
}

/// Joins stream chunks: token ids, log probabilities, alternatives and text are concatenated, the
/// last chunk supplies the finish reason, counts and timing.
public struct GenerateStreamAccumulator: Sendable {
    public private(set) var tokenIDs: [UInt32] = []
    public private(set) var logprobs: [Float] = []
    public private(set) var topLogprobs: [[TokenLogprob]] = []
    public private(set) var text = ""
    /// From the first chunk, when prompt logprobs were requested (since 1.4).
    public private(set) var promptTokenIDs: [UInt32] = []
    public private(set) var promptLogprobs: [Float] = []
    public private(set) var promptTopLogprobs: [[TokenLogprob]] = []
    /// The last chunk, once it has arrived.
    public private(set) var last: GenerateStreamChunk?

    public init() {}

    /// Adds the next chunk. Throws INTERNAL for a chunk after the last one.
    public mutating func add(_ chunk: GenerateStreamChunk) throws {
        guard last == nil else {
            throw MQClientError(code: .internalError, message: "the server sent a stream chunk after the last one")
        }
        if !chunk.promptTokenIDs.isEmpty {
            guard promptTokenIDs.isEmpty else {
                throw MQClientError(code: .internalError, message: "the server sent the prompt logprobs twice in one stream")
            }
            promptTokenIDs = chunk.promptTokenIDs
            promptLogprobs = chunk.promptLogprobs
            promptTopLogprobs = chunk.promptTopLogprobs
        }
        tokenIDs += chunk.tokenIDs
        logprobs += chunk.logprobs
        topLogprobs += chunk.topLogprobs
        text += chunk.textDelta
        if chunk.isLast { last = chunk }
    }

    /// The joined response. Throws INTERNAL when the last chunk (with the finish reason) never came.
    public func response() throws -> GenerateResponse {
        guard let last, let finishReason = last.finishReason else {
            throw MQClientError(code: .internalError, message: "the stream ended without its last chunk (no finish reason)")
        }
        return GenerateResponse(
            tokenIDs: tokenIDs, logprobs: logprobs, topLogprobs: topLogprobs, text: text, finishReason: finishReason,
            promptTokens: last.promptTokens, completionTokens: last.completionTokens,
            timing: last.timing ?? GenerationTiming(), promptTokenIDs: promptTokenIDs, promptLogprobs: promptLogprobs,
            promptTopLogprobs: promptTopLogprobs)
    }
}
