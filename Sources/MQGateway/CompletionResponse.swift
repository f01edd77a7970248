// The OpenAI shapes of what /v1/completions returns: the whole response, the stream chunks, the
// `logprobs` object (tokens as text, their log probabilities, the top alternatives as
// {token: logprob}, and each token's character offset in the choice's text) and `usage`.
import Foundation
import MQClient
import MQTokenizer

/// Token ids as the text OpenAI's logprobs show: each token's own bytes, or "bytes:\xNN..." for a
/// token that is not whole UTF-8 on its own (as OpenAI shows such tokens).
public struct TokenText: Sendable {
    public let tokenizer: Tokenizer?

    public init(tokenizer: Tokenizer?) { self.tokenizer = tokenizer }

    /// The bytes of one token (nil without a tokenizer).
    func bytes(_ id: UInt32) -> [UInt8]? {
        tokenizer?.decodeBytes([Int(id)])
    }

    func string(_ id: UInt32) -> String {
        guard let bytes = bytes(id) else { return "token:\(id)" }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return "bytes:" + bytes.map { String(format: "\\x%02x", $0) }.joined()
    }

    /// The text of a token id prompt, as echo shows it.
    func decode(_ ids: [UInt32]) -> String? {
        tokenizer?.decode(ids.map(Int.init))
    }
}

/// Builds one choice's `logprobs` objects, chunk after chunk: it remembers the character offset
/// reached so far. Offsets count Unicode scalars (Python's str indexes), by the UTF-8 lead bytes of
/// the tokens before, starting after the echoed prompt.
struct LogprobsBuilder {
    let text: TokenText
    private(set) var offset: Int

    init(text: TokenText, startOffset: Int) {
        self.text = text
        offset = startOffset
    }

    mutating func object(ids: [UInt32], logprobs: [Float], top: [[TokenLogprob]]) -> [String: Any] {
        var tokens: [String] = [], offsets: [Int] = [], tops: [Any] = []
        for (i, id) in ids.enumerated() {
            tokens.append(text.string(id))
            offsets.append(offset)
            offset += (text.bytes(id) ?? []).reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
            var alternatives: [String: Any] = [:]
            if i < top.count {
                for alternative in top[i] { alternatives[text.string(alternative.tokenID)] = JSONOut.number(alternative.logprob) }
            }
            // OpenAI always lists the chosen token among the alternatives.
            if i < logprobs.count { alternatives[tokens[i]] = JSONOut.number(logprobs[i]) }
            tops.append(alternatives)
        }
        return ["tokens": tokens, "token_logprobs": logprobs.map(JSONOut.number), "top_logprobs": tops, "text_offset": offsets]
    }

    /// The prompt's part (echo with logprobs): the first token has no log probability (null, as
    /// OpenAI shows it); token i > 0 has `logprobs[i - 1]` and the alternatives `top[i - 1]`.
    mutating func promptObject(ids: [UInt32], logprobs: [Float], top: [[TokenLogprob]]) -> [String: Any] {
        guard let first = ids.first else { return object(ids: [], logprobs: [], top: []) }
        let firstToken = text.string(first)
        let firstOffset = offset
        offset += (text.bytes(first) ?? []).reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
        let rest = object(ids: Array(ids.dropFirst()), logprobs: logprobs, top: top)
        return Self.concatenate([
            ["tokens": [firstToken], "token_logprobs": [NSNull()], "top_logprobs": [NSNull()], "text_offset": [firstOffset]], rest,
        ])
    }

    /// Logprobs objects one after the other, as one.
    static func concatenate(_ parts: [[String: Any]]) -> [String: Any] {
        var joined: [String: Any] = [:]
        for key in ["tokens", "token_logprobs", "top_logprobs", "text_offset"] {
            joined[key] = parts.flatMap { ($0[key] as? [Any]) ?? [] }
        }
        return joined
    }
}

/// OpenAI's finish_reason: "stop" for a stop sequence or the end-of-sequence token, "length" for
/// max_tokens or a full context window.
func openAIFinishReason(_ reason: FinishReason) -> String {
    switch reason {
    case .length: return "length"
    case .eos, .stop: return "stop"
    case let .unrecognized(value): return "unknown_\(value)"
    }
}

/// The ids and timestamps shared by a response's objects.
struct CompletionEnvelope {
    let id: String
    let created: Int
    let model: String

    init(model: String) {
        id = "cmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        created = Int(Date().timeIntervalSince1970)
        self.model = model
    }

    func object(choices: [Any], usage: Any?) -> [String: Any] {
        var object: [String: Any] = ["id": id, "object": "text_completion", "created": created, "model": model,
                                     "choices": choices, "system_fingerprint": NSNull()]
        if let usage { object["usage"] = usage }
        return object
    }
}

struct Usage {
    var promptTokens = 0
    var completionTokens = 0

    var object: [String: Any] {
        ["prompt_tokens": promptTokens, "completion_tokens": completionTokens, "total_tokens": promptTokens + completionTokens]
    }
}

/// One choice of a non-streamed response.
func choiceObject(index: Int, text: String, logprobs: [String: Any]?, finishReason: String?) -> [String: Any] {
    ["index": index, "text": text, "logprobs": logprobs ?? NSNull(), "finish_reason": finishReason ?? NSNull()]
}

/// A server-sent event carrying a JSON object: "data: {...}\n\n".
func sseEvent(_ object: Any) -> [UInt8] {
    Array("data: ".utf8) + JSONOut.encode(object) + Array("\n\n".utf8)
}

let sseDone = Array("data: [DONE]\n\n".utf8)
