// Serving POST /v1/completions over the coordinators: every (prompt, choice) pair is one mq call.
// Unary: the calls run at once and their responses become the choices. Streamed: each call's chunks
// become server-sent events as they arrive, tagged with their choice index; the first event is
// awaited before the HTTP status is sent, so a request refused at admission (queue full, cluster
// unavailable, bad prompt) still gets its own status code. A client that goes away mid-stream closes
// the connection's inbound side (or makes a write fail): the stream's calls are then cancelled on
// the coordinator (and so on every stage), so nothing generates for nobody.
import Foundation
import HTTPTypes
import Hummingbird
import MQClient
import NIOCore

/// What the completions endpoint needs, shared by every request.
struct CompletionService: Sendable {
    let backends: Backends
    let text: TokenText
    let metrics: GatewayMetrics
    let callTimeout: Duration

    /// The choices of a request, in OpenAI's order: prompt i's choice j has index i * n + j.
    private func choices(_ request: CompletionRequest) -> [(index: Int, prompt: Prompt, request: GenerateRequest, countsPrompt: Bool)] {
        var out: [(Int, Prompt, GenerateRequest, Bool)] = []
        for (i, prompt) in request.prompt.prompts.enumerated() {
            for j in 0..<request.n {
                out.append((i * request.n + j, prompt, request.generateRequest(prompt: prompt, choice: j), j == 0))
            }
        }
        return out
    }

    /// The text echo puts in front of a choice's completion.
    private func echoText(_ prompt: Prompt) throws(GatewayError) -> String {
        switch prompt {
        case let .text(text): return text
        case let .tokenIDs(ids):
            guard let text = text.decode(ids) else {
                throw .invalid("echo with a token id prompt needs the gateway to know the tokenizer (mq-gateway --tokenizer)", param: "echo")
            }
            return text
        }
    }

    private func checkCanServe(_ request: CompletionRequest) async throws {
        let served = try await backends.modelName()
        guard request.model == served else { throw GatewayError.modelNotFound(request.model) }
        if request.logprobs != nil, text.tokenizer == nil {
            throw GatewayError.invalid("logprobs need the gateway to know the tokenizer (mq-gateway --tokenizer)", param: "logprobs")
        }
        if request.echo { for prompt in request.prompt.prompts { _ = try echoText(prompt) } }
    }

    // MARK: Unary

    func complete(_ request: CompletionRequest) async throws -> Response {
        try await checkCanServe(request)
        let envelope = CompletionEnvelope(model: request.model)
        let choices = choices(request)
        let responses = try await withThrowingTaskGroup(of: (Int, GenerateResponse).self) { group in
            for choice in choices {
                group.addTask { [backends, callTimeout] in
                    (choice.index, try await backends.withFailover { try await $0.generate(choice.request, timeout: callTimeout) })
                }
            }
            var responses = [Int: GenerateResponse]()
            for try await (index, response) in group { responses[index] = response }
            return responses
        }
        var usage = Usage()
        var objects: [Any] = []
        for choice in choices {
            let response = responses[choice.index]!
            let prefix = request.echo ? try echoText(choice.prompt) : ""
            var logprobs: [String: Any]? = nil
            if request.logprobs != nil {
                var builder = LogprobsBuilder(text: text, startOffset: request.promptLogprobs ? 0 : prefix.unicodeScalars.count)
                var parts: [[String: Any]] = []
                if request.promptLogprobs {
                    parts.append(builder.promptObject(ids: response.promptTokenIDs, logprobs: response.promptLogprobs,
                                                      top: response.promptTopLogprobs))
                }
                if !request.scoreOnly {
                    parts.append(builder.object(ids: response.tokenIDs, logprobs: response.logprobs, top: response.topLogprobs))
                }
                logprobs = LogprobsBuilder.concatenate(parts)
            }
            objects.append(choiceObject(index: choice.index, text: prefix + (request.scoreOnly ? "" : response.text), logprobs: logprobs,
                                        finishReason: request.scoreOnly ? "length" : openAIFinishReason(response.finishReason)))
            if choice.countsPrompt { usage.promptTokens += Int(response.promptTokens) }
            usage.completionTokens += request.scoreOnly ? 0 : Int(response.completionTokens)
        }
        metrics.addTokens(prompt: usage.promptTokens, completion: usage.completionTokens)
        return jsonResponse(envelope.object(choices: objects, usage: usage.object))
    }

    // MARK: Streamed

    enum Event: Sendable {
        case chunk(choice: Int, GenerateStreamChunk)
        case failed(choice: Int, GatewayError)
        /// A choice's call ended (after its last chunk or its failure).
        case ended(choice: Int)
    }

    /// `connection`: the request's (already collected) body, through which Hummingbird reports the
    /// client closing the connection.
    func stream(_ request: CompletionRequest, started: ContinuousClock.Instant, connection: RequestBody) async throws -> Response {
        try await checkCanServe(request)
        let choices = choices(request)
        let (events, sink) = AsyncStream<Event>.makeStream()
        let tasks = choices.map { choice in
            Task { [backends, callTimeout] in
                await Self.pump(choice.index, choice.request, backends: backends, timeout: callTimeout, into: sink)
            }
        }
        let producers = Producers(tasks)
        // The first event decides the HTTP status: a failure before any output is an error response.
        var iterator = events.makeAsyncIterator()
        guard let first = await iterator.next() else { throw GatewayError(status: 500, type: "server_error", message: "no reply") }
        if case let .failed(_, error) = first {
            producers.cancel()
            throw error
        }
        metrics.observeFirstToken(seconds: (ContinuousClock.now - started).seconds)

        var echoes: [Int: String] = [:]
        if request.echo { for choice in choices { echoes[choice.index] = try echoText(choice.prompt) } }
        let promptCounted = Set(choices.filter(\.countsPrompt).map(\.index))
        let writer = StreamWriter(request: request, text: text, metrics: metrics, echoes: echoes, promptCounted: promptCounted,
                                  choiceCount: choices.count)
        let body = ResponseBody { bodyWriter in
            defer { producers.cancel() }
            // The writes alone would not notice a client that closed the connection: they are
            // buffered, and a half-closed socket accepts them. The connection's inbound end does.
            try await connection.consumeWithInboundCloseHandler { _ in
                try await writer.run(first: first, rest: events, to: &bodyWriter)
            } onInboundClosed: {
                producers.cancel()
            }
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Runs one choice's GenerateStream and forwards its chunks; retries on another coordinator
    /// while it fails with UNAVAILABLE before its first chunk. Cancelling the task drops the call's
    /// stream, which makes MQClient send Cancel.
    static func pump(_ index: Int, _ request: GenerateRequest, backends: Backends, timeout: Duration,
                     into sink: AsyncStream<Event>.Continuation) async {
        defer { sink.yield(.ended(choice: index)) }
        let candidates = backends.order()
        for (attempt, client) in candidates.enumerated() {
            var forwarded = false
            do {
                for try await chunk in client.generateStream(request, timeout: timeout) {
                    forwarded = true
                    sink.yield(.chunk(choice: index, chunk))
                }
                return
            } catch let error as MQClientError
                        where error.code == .unavailable && !forwarded && attempt + 1 < candidates.count {
                continue
            } catch {
                sink.yield(.failed(choice: index, GatewayError.from(any: error)))
                return
            }
        }
    }
}

/// The producer tasks of a stream, cancelled when the response ends (or fails) whichever way.
final class Producers: Sendable {
    let tasks: [Task<Void, Never>]
    init(_ tasks: [Task<Void, Never>]) { self.tasks = tasks }
    func cancel() { for task in tasks { task.cancel() } }
}

/// Turns a stream's events into server-sent events on the response body.
struct StreamWriter: Sendable {
    let request: CompletionRequest
    let text: TokenText
    let metrics: GatewayMetrics
    let echoes: [Int: String]
    let promptCounted: Set<Int>
    let choiceCount: Int

    func run(first: CompletionService.Event, rest events: AsyncStream<CompletionService.Event>,
             to writer: inout any ResponseBodyWriter) async throws {
        let envelope = CompletionEnvelope(model: request.model)
        var builders: [Int: LogprobsBuilder] = [:]
        var pendingEchoes = echoes
        var usage = Usage()
        var ended = 0
        let usageField: Any? = request.includeUsage ? NSNull() : nil
        var iterator = events.makeAsyncIterator()
        var next: CompletionService.Event? = first
        while let event = next {
            switch event {
            case let .chunk(index, chunk):
                var builder = builders[index]
                    ?? LogprobsBuilder(text: text, startOffset: request.promptLogprobs ? 0 : (echoes[index] ?? "").unicodeScalars.count)
                // A choice's echo goes first, with the prompt's log probabilities (on its first chunk).
                if let echo = pendingEchoes.removeValue(forKey: index) {
                    let logprobs = request.promptLogprobs
                        ? builder.promptObject(ids: chunk.promptTokenIDs, logprobs: chunk.promptLogprobs, top: chunk.promptTopLogprobs)
                        : nil
                    try await write(envelope.object(choices: [choiceObject(index: index, text: echo, logprobs: logprobs, finishReason: nil)],
                                                    usage: usageField), to: &writer)
                }
                var logprobs: [String: Any]? = nil
                if request.logprobs != nil && !request.scoreOnly {
                    logprobs = builder.object(ids: chunk.tokenIDs, logprobs: chunk.logprobs, top: chunk.topLogprobs)
                }
                builders[index] = builder
                let delta = request.scoreOnly ? "" : chunk.textDelta
                if let reason = chunk.finishReason {
                    if promptCounted.contains(index) { usage.promptTokens += Int(chunk.promptTokens) }
                    usage.completionTokens += request.scoreOnly ? 0 : Int(chunk.completionTokens)
                    try await write(envelope.object(
                        choices: [choiceObject(index: index, text: delta, logprobs: logprobs,
                                               finishReason: request.scoreOnly ? "length" : openAIFinishReason(reason))],
                        usage: usageField), to: &writer)
                } else if !delta.isEmpty || !chunk.tokenIDs.isEmpty && !request.scoreOnly {
                    // One event per token-carrying chunk, even when its text is held back (a
                    // character split over tokens): clients see every token arrive.
                    try await write(envelope.object(
                        choices: [choiceObject(index: index, text: delta, logprobs: logprobs, finishReason: nil)],
                        usage: usageField), to: &writer)
                }
            case let .failed(_, error):
                // The status line is sent: the error goes in the stream, as OpenAI's servers do.
                try await writer.write(ByteBuffer(bytes: sseEvent(["error": errorObject(error)])))
            case .ended:
                ended += 1
            }
            next = ended == choiceCount ? nil : await iterator.next()
        }
        metrics.addTokens(prompt: usage.promptTokens, completion: usage.completionTokens)
        if request.includeUsage {
            try await write(envelope.object(choices: [], usage: usage.object), to: &writer)
        }
        try await writer.write(ByteBuffer(bytes: sseDone))
        try await writer.finish(nil)
    }

    private func write(_ object: [String: Any], to writer: inout any ResponseBodyWriter) async throws {
        try await writer.write(ByteBuffer(bytes: sseEvent(object)))
    }

    private func errorObject(_ error: GatewayError) -> [String: Any] {
        ["message": error.message, "type": error.type, "param": error.param ?? NSNull(), "code": error.code ?? NSNull()]
    }
}

func jsonResponse(_ object: Any, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
    var headers = extra
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONOut.encode(object))))
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
