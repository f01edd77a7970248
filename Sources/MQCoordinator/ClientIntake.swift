// The coordinator's client plane: a frame becomes a call. Frames too large for any request are
// refused unparsed; credentials are checked before the payload is decoded; text is tokenized on
// other threads (a prompt longer than the token limit allows is refused by its byte length
// first), so no client can hold up the service loop; a checked generation goes to the Scheduler.
import Foundation
import Logging
import MQGeneration
import MQProtocol
import MQSampling
import MQTransport

extension CoordinatorService {
    /// Handles one client frame, and says so when it held the loop up (it never should).
    func handleClientTimed(_ m: RoutedMessage) {
        let started = clock.now
        handleClient(m)
        let took = clock.now - started
        let bytes = m.frames.map(\.count).reduce(0, +)
        if took > CoordinatorDefaults.slowClientFrame {
            warn("slow-client-frame", "one client frame held the service loop for \(took)", metadata: ["bytes": "\(bytes)"])
        } else {
            logger.trace("client frame handled", metadata: ["bytes": "\(bytes)", "took": "\(took)"])
        }
    }

    func handleClient(_ m: RoutedMessage) {
        guard m.frames.count == 1 else {
            warn("client-frames", "dropped a client message with \(m.frames.count) frames (expected 1)")
            return
        }
        let frame = m.frames[0]
        // No request of this server can be larger (the longest prompt plus every other field):
        // refuse it before spending time decoding it.
        if frame.count > requestByteLimit {
            if let id = frame.withUnsafeBytes(CallRequest.scanCallID) {
                reply(m.identity, .failure(callID: id, .invalidArgument,
                    "the request is \(frame.count) bytes; this server accepts at most \(requestByteLimit) (a prompt of at most "
                    + "\(maxPromptTokens) tokens, --max-prompt-tokens or the model's context, is at most \(maxPromptBytes) bytes of text)"))
            } else {
                warn("client-oversize", "dropped an oversized client frame without a call id", metadata: ["bytes": "\(frame.count)"])
            }
            return
        }
        let request: CallRequest
        do { request = try CallRequest.decode(frame) } catch {
            if let id = CallRequest.peekCallID(frame) {
                reply(m.identity, .end(callID: id, status: error.status))
            } else {
                warn("client-unparseable", "dropped an unparseable client frame", metadata: ["bytes": "\(frame.count)", "error": "\(error)"])
            }
            return
        }
        // Credentials before anything else: a caller without a key learns nothing about the
        // request, the model or the cluster.
        if let apiKeys = config.apiKeys, !apiKeys.admits(metadata: request.metadata) {
            warn("unauthenticated", "refused a call without a valid API key", metadata: ["method": "\(request.method)"])
            reply(m.identity, .failure(callID: request.callID, .unauthenticated,
                                       "a valid API key is required (call metadata \"authorization: Bearer <key>\")"))
            return
        }
        let call: DecoderCall
        do { call = try request.decodeCall() } catch {
            reply(m.identity, .end(callID: request.callID, status: error.status))
            return
        }
        let key = CallKey(routingID: m.identity, callID: request.callID)
        if scheduler.calls[key] != nil || tokenizing.values.contains(where: { $0.key == key }) {
            reply(m.identity, .failure(callID: request.callID, .invalidArgument, "call id \(request.callID) is already in flight on this connection"))
            return
        }
        switch call {
        case .health: reply(m.identity, .response(callID: request.callID, health()))
        case .info: reply(m.identity, .response(callID: request.callID, info()))
        case .tokenize(let t):
            guard tokenizer != nil else {
                reply(m.identity, .failure(callID: request.callID, .invalidArgument, "the model has no tokenizer.json")); return
            }
            if let refusal = oversizeText(t.text, field: "TokenizeRequest.text") {
                reply(m.identity, .failure(callID: request.callID, .invalidArgument, refusal)); return
            }
            let now = clock.now
            tokenizeOffLoop(t.text, PendingText(key: key, purpose: .tokenize, received: now,
                                                deadline: now + callTimeout(request.timeoutMilliseconds)))
        case .cancel(let c):
            let target = CallKey(routingID: m.identity, callID: c.callID)
            if scheduler.cancel(target, by: request.callID, now: clock.now) {
                perform(scheduler.takeCommands())
                reply(m.identity, .response(callID: request.callID, CancelResponse()))
            } else if let ticket = tokenizing.first(where: { $0.value.key == target })?.key {
                tokenizing[ticket] = nil
                scheduler.counters.callsByStatus[StatusCode.cancelled.description, default: 0] += 1
                reply(m.identity, .end(callID: c.callID, status: Status(code: .cancelled, message: "cancelled by call \(request.callID)")))
                reply(m.identity, .response(callID: request.callID, CancelResponse()))
            } else {
                reply(m.identity, .failure(callID: request.callID, .notFound, "call \(c.callID) is not in flight"))
            }
        case .generate(let g), .generateStream(let g):
            startGeneration(key, g, streaming: call.method.isStreaming, timeoutMs: request.timeoutMilliseconds)
        }
    }

    /// The call's deadline from now: its timeout_ms, or the default, clamped to the maximum.
    func callTimeout(_ timeoutMs: UInt32) -> Duration {
        let timeout = timeoutMs == 0 ? config.defaultTimeout : .milliseconds(Int64(timeoutMs))
        return min(timeout, config.maxTimeout)
    }

    /// Refuses a text longer than any prompt the token limit allows, before it is tokenized.
    func oversizeText(_ text: String, field: String) -> String? {
        let bytes = text.utf8.count
        guard bytes > maxPromptBytes else { return nil }
        return "\(field): \(bytes) bytes, more than any prompt of \(maxPromptTokens) tokens (the prompt-token limit, "
            + "--max-prompt-tokens or the model's context) can hold: at most \(maxPromptBytes) bytes"
    }

    /// Starts tokenizing on a tokenizer thread; the ids come back through the mailbox.
    func tokenizeOffLoop(_ text: String, _ pending: PendingText) {
        guard let tokenizer else { return }
        let ticket = nextTicket
        nextTicket += 1
        tokenizing[ticket] = pending
        let mailbox = self.mailbox, slots = tokenizerSlots
        tokenizerQueue.async {
            slots.wait()
            defer { slots.signal() }
            _ = mailbox.post(.tokenized(ticket: ticket, ids: tokenizer.encode(text)))
        }
    }

    /// A tokenization finished: answer the Tokenize call, or go on with the generation.
    func tokenized(_ ticket: UInt64, _ ids: [Int]) {
        // Gone when the call was cancelled, expired or its client left meanwhile.
        guard let p = tokenizing.removeValue(forKey: ticket) else { return }
        switch p.purpose {
        case .tokenize:
            reply(p.key.routingID, .response(callID: p.key.callID, TokenizeResponse(
                tokenIDs: ids.map { UInt32($0) }, tokens: ids.map { tokenizer?.token(forId: $0) ?? "" })))
        case let .generate(g, streaming):
            var prompt = ids
            // A token-id prompt with a suffix: `ids` are the suffix's; the prompt ids are the prefix.
            if case let .tokenIDs(prefix) = g.prompt, g.suffix != nil, let fim = tokenizer?.fimTokens {
                prompt = fim.prompt(prefixIDs: prefix.map { Int($0) }, suffixIDs: ids)
            }
            admitPrompt(p.key, g, prompt: prompt, streaming: streaming, received: p.received, deadline: p.deadline)
        }
    }

    func startGeneration(_ key: CallKey, _ g: GenerateRequest, streaming: Bool, timeoutMs: UInt32) {
        func fail(_ code: StatusCode, _ msg: String) { reply(key.routingID, .failure(callID: key.callID, code, msg)) }
        if let refusal = scheduler.refusal(alsoWaiting: tokenizing.count) { return fail(refusal.code, refusal.message) }
        let now = clock.now
        let deadline = now + callTimeout(timeoutMs)
        if let suffix = g.suffix {
            // Fill-in-the-middle: the prompt in the tokenizer's own FIM tokens (PSM order).
            guard let fim = tokenizer?.fimTokens else {
                return fail(.invalidArgument, "GenerateRequest.suffix: model \(modelName) has no fill-in-the-middle tokens "
                            + "(<fim_prefix>/<fim_suffix>/<fim_middle> or <fim-prefix>/<fim-suffix>/<fim-middle> in its tokenizer.json)")
            }
            let pending = PendingText(key: key, purpose: .generate(g, streaming: streaming), received: now, deadline: deadline)
            switch g.prompt {
            case .text(let prefix):
                let text = fim.text(prefix: prefix, suffix: suffix)
                if let refusal = oversizeText(text, field: "GenerateRequest.prompt.text + suffix") { return fail(.invalidArgument, refusal) }
                tokenizeOffLoop(text, pending)
            case .tokenIDs:
                if let refusal = oversizeText(suffix, field: "GenerateRequest.suffix") { return fail(.invalidArgument, refusal) }
                tokenizeOffLoop(suffix, pending)    // the prompt ids are joined to the suffix's in `tokenized`
            }
            return
        }
        switch g.prompt {
        case .text(let text):
            guard tokenizer != nil else { return fail(.invalidArgument, "the model has no tokenizer.json: send prompt token ids") }
            if let refusal = oversizeText(text, field: "GenerateRequest.prompt.text") { return fail(.invalidArgument, refusal) }
            tokenizeOffLoop(text, PendingText(key: key, purpose: .generate(g, streaming: streaming), received: now, deadline: deadline))
        case .tokenIDs(let ids):
            admitPrompt(key, g, prompt: ids.map { Int($0) }, streaming: streaming, received: now, deadline: deadline)
        }
    }

    /// Checks a tokenized prompt and the request's limits, and queues the call for admission.
    func admitPrompt(_ key: CallKey, _ g: GenerateRequest, prompt: [Int], streaming: Bool,
                             received: ContinuousClock.Instant, deadline: ContinuousClock.Instant) {
        func fail(_ code: StatusCode, _ msg: String) { reply(key.routingID, .failure(callID: key.callID, code, msg)) }
        if scheduler.draining { return fail(.unavailable, "the coordinator is shutting down") }
        let maxNew = g.maxNewTokens == 0 ? config.defaultMaxNewTokens : Int(g.maxNewTokens)
        guard !prompt.isEmpty else { return fail(.invalidArgument, "GenerateRequest.prompt: the prompt is empty") }
        guard prompt.count <= maxPromptTokens else {
            let setBy = maxPromptTokens < shape.maxPositions ? "--max-prompt-tokens" : "the model's context length"
            return fail(.invalidArgument, "GenerateRequest.prompt: prompt has \(prompt.count) tokens, over the limit of \(maxPromptTokens) set by \(setBy)")
        }
        guard maxNew <= config.maxNewTokens else {
            return fail(.invalidArgument, "GenerateRequest.max_new_tokens: \(maxNew) exceeds the limit of \(config.maxNewTokens) set by --max-new-tokens")
        }
        guard prompt.count + maxNew <= shape.maxPositions else {
            return fail(.invalidArgument, "GenerateRequest: prompt of \(prompt.count) tokens plus \(maxNew) new tokens exceeds the model's \(shape.maxPositions) positions")
        }
        if let bad = prompt.first(where: { $0 >= shape.vocabSize }) {
            return fail(.invalidArgument, "GenerateRequest.prompt.token_ids: token id \(bad) is outside the vocabulary (0..<\(shape.vocabSize))")
        }
        var s = g.sampling
        if s.seed == nil { s.seed = UInt64.random(in: 0...UInt64.max) }
        do {
            // The check the engine and the workers apply too; the workers map the wire's unset zeros alike.
            _ = try SamplingParameters(wireTemperature: s.temperature, topK: s.topK, topP: s.topP, repetitionPenalty: s.repetitionPenalty,
                                       seed: s.seed!, topLogprobs: s.topLogprobs).validated(stopStrings: s.stopStrings)
        } catch { return fail(.invalidArgument, "GenerateRequest.sampling: \(error)") }
        let out = OutputTracker(tokenizer: tokenizer, eosTokenIds: shape.eosTokenIds, stopTokenIds: s.stopTokenIDs.map { Int($0) },
                                stopStrings: s.stopStrings, maxNewTokens: maxNew)
        let call = scheduler.addCall(key: key, streaming: streaming, received: received, deadline: deadline,
                                     prompt: prompt, sampling: s, output: out, promptLogprobs: g.promptLogprobs)
        logger.debug("call started", metadata: ["call": "\(key.callID)", "seq": "\(call.seqID)", "prompt_tokens": "\(prompt.count)", "max_new": "\(maxNew)"])
    }


    /// Calls still being tokenized whose deadline passed.
    func expireTokenizing(_ now: ContinuousClock.Instant) {
        for (ticket, p) in tokenizing where now >= p.deadline {
            tokenizing[ticket] = nil
            reply(p.key.routingID, .failure(callID: p.key.callID, .deadlineExceeded, "deadline exceeded while tokenizing the prompt"))
        }
    }

    var maxPromptTokens: Int { config.maxPromptTokens > 0 ? min(config.maxPromptTokens, shape.maxPositions) : shape.maxPositions }

    /// Largest client frame worth decoding: the longest prompt (as text or as ids) plus room for
    /// every other field.
    var requestByteLimit: Int {
        max(maxPromptBytes, maxPromptTokens * 5) + CoordinatorDefaults.requestOverheadBytes
    }
}
