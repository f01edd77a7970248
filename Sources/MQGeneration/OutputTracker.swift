// One sequence's output as tokens arrive: the text (streamed in whole UTF-8 characters), stop
// conditions and the finish reason. `mq run` and the coordinator both use it, so a distributed run
// reports exactly what a single process reports.
import MQTokenizer

public struct OutputTracker {
    public private(set) var tokenIds: [Int] = []
    public private(set) var logprobs: [Float] = []
    public private(set) var text = ""
    public private(set) var finishReason: FinishReason?
    private var decoder: StreamingDecoder?
    private let eos: Set<Int>
    private let stopIds: Set<Int>
    private let stopStrings: [[UInt8]]
    private let longestStop: Int
    public let maxNewTokens: Int
    private var textBytes: [UInt8] = []

    /// - eosTokenIds: end the sequence with finish reason `eos` (reported in tokenIds, not in text).
    /// - stopTokenIds: end it with `stop` (likewise).
    /// - stopStrings: end it with `stop` when the text contains one; the text is cut before it.
    public init(tokenizer: Tokenizer?, eosTokenIds: [Int], stopTokenIds: [Int] = [], stopStrings: [String] = [], maxNewTokens: Int) {
        decoder = tokenizer.map { StreamingDecoder(tokenizer: $0, skipSpecialTokens: true) }
        eos = Set(eosTokenIds)
        stopIds = Set(stopTokenIds)
        self.stopStrings = stopStrings.filter { !$0.isEmpty }.map { Array($0.utf8) }
        longestStop = self.stopStrings.map(\.count).max() ?? 0
        self.maxNewTokens = maxNewTokens
        tokenIds.reserveCapacity(maxNewTokens)
        logprobs.reserveCapacity(maxNewTokens)
    }

    public var isFinished: Bool { finishReason != nil }

    /// Records a sampled token and returns the text it adds (possibly empty). After the call,
    /// `finishReason` is set if the sequence is done.
    public mutating func append(id: Int, logprob: Float) -> String {
        precondition(finishReason == nil, "token appended to a finished sequence")
        tokenIds.append(id)
        logprobs.append(logprob)
        if eos.contains(id) { finishReason = .eos; return flush() }
        if stopIds.contains(id) { finishReason = .stop; return flush() }
        let delta = decoder?.push(id) ?? ""
        if let out = checkStops(appending: delta) { return out }
        if tokenIds.count >= maxNewTokens { finishReason = .length; return delta + flush() }
        return delta
    }

    /// Ends the sequence early for a reason decided outside (e.g. the context window is full).
    public mutating func finish(_ reason: FinishReason) -> String {
        guard finishReason == nil else { return "" }
        finishReason = reason
        return flush()
    }

    public var result: GenerationResult {
        GenerationResult(tokenIds: tokenIds, logprobs: logprobs, text: text, finishReason: finishReason ?? .length)
    }

    /// Appends `delta`; if a stop string now appears, cuts the text before it, finishes, and
    /// returns the part of `delta` that precedes the stop string. Returns nil if no stop string.
    private mutating func checkStops(appending delta: String) -> String? {
        let before = textBytes.count
        textBytes.append(contentsOf: delta.utf8)
        text += delta
        guard longestStop > 0, !delta.isEmpty else { return nil }
        // Only windows that end inside the new bytes can be new matches.
        let from = max(0, before - longestStop + 1)
        var cut: Int? = nil
        for s in stopStrings where s.count <= textBytes.count {
            var i = from
            while i + s.count <= textBytes.count {
                if textBytes[i] == s[0] && textBytes[i..<(i + s.count)].elementsEqual(s) {
                    if cut == nil || i < cut! { cut = i }
                    break
                }
                i += 1
            }
        }
        guard let c = cut else { return nil }
        textBytes.removeSubrange(c...)
        text = String(decoding: textBytes, as: UTF8.self)
        finishReason = .stop
        return c > before ? String(decoding: textBytes[before..<c], as: UTF8.self) : ""
    }

    private mutating func flush() -> String {
        guard var d = decoder else { return "" }
        let tail = d.finish()
        decoder = d
        text += tail
        textBytes.append(contentsOf: tail.utf8)
        return tail
    }
}
