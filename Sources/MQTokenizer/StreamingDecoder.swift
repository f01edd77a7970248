// Incremental decoding for streaming generation: feed ids one at a time, get the new text.
//
// A delta never ends inside a UTF-8 character: bytes of an unfinished character wait for the next
// id. Invalid bytes become U+FFFD as soon as they are known to be invalid, so the concatenation of
// every `push` plus `finish` equals `decode(allIds)`.

public struct StreamingDecoder: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    /// Bytes not yet turned into text (a valid but unfinished UTF-8 prefix).
    private var pending: [UInt8] = []
    /// Tokens decoded so far (the no-decoder pipeline puts a space before all but the first).
    private var tokenCount = 0
    /// For decoders that are not per-token: every id so far, and how many bytes were emitted.
    private var allIds: [Int] = []
    private var emittedBytes = 0

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one id; returns the text that is now complete (possibly empty).
    public mutating func push(_ id: Int) -> String {
        if tokenizer.decoding.isPerToken {
            guard let token = tokenizer.decodedToken(id, skipSpecialTokens: skipSpecialTokens) else { return "" }
            pending += tokenizer.decoding.tokenBytes(token, index: tokenCount)
            tokenCount += 1
        } else {
            // Rare decoder chains (ByteLevel after another step): re-decode everything and emit the
            // bytes past what was already emitted.
            allIds.append(id)
            let bytes = tokenizer.decodeBytes(allIds, skipSpecialTokens: skipSpecialTokens)
            if bytes.count > emittedBytes + pending.count {
                pending += bytes[(emittedBytes + pending.count)...]
            }
        }
        let (text, consumed) = UTF8Lossy.decodePrefix(pending, final: false)
        emittedBytes += consumed
        pending.removeFirst(consumed)
        return text
    }

    /// Flushes what is left (an unfinished character becomes U+FFFD) and returns it.
    public mutating func finish() -> String {
        let text = UTF8Lossy.decode(pending)
        emittedBytes += pending.count
        pending.removeAll()
        return text
    }
}
