// A client call in progress: who asked, its deadline, its sequence on the workers and its output.
import MQGeneration
import MQProtocol

struct CallKey: Hashable {
    let routingID: [UInt8]
    let callID: UInt64
}

final class CallState {
    let key: CallKey
    let streaming: Bool
    let received: ContinuousClock.Instant
    let deadline: ContinuousClock.Instant
    let seqID: UInt64
    let prompt: [Int]
    /// Normalized (seed chosen, "unset" zeros replaced by neutral values) before it goes to workers.
    let sampling: SamplingParams
    var output: OutputTracker
    /// Tokens already in the workers' caches for this sequence.
    var position = 0
    /// Tokens the next step feeds: the prompt, then the last sampled token.
    var nextInput: [Int]
    /// A step holding this sequence is in flight.
    var inStep = false
    /// Its KV reservation is counted (prompt + max new tokens on every stage).
    var admitted = false
    /// Alternatives per generated token, when the request asked for them.
    var topLogprobs: [[TokenLogprob]] = []
    /// Some step holding it was sent, so workers may hold its KV cache (Release needed).
    var started = false
    /// The client has been answered (finished, failed, cancelled); only cleanup remains.
    var ended = false
    var firstStepSent: ContinuousClock.Instant?
    var firstTokenAt: ContinuousClock.Instant?
    /// KV positions reserved on each stage while admitted.
    var reservation: [Int] = []
    /// Times the call was replayed after losing a stage.
    var replays = 0
    /// Its prompt tokens were counted once (admission may happen again after a failover).
    var promptCounted = false
    /// Prefix cache: the chained hashes of the prompt's full blocks (computed at first need).
    var promptBlockHashes: [UInt64]?
    /// Cached blocks its sequence starts with (sent with its first step), and the positions they
    /// hold (where its first step starts).
    var reusedBlocks: [UInt64] = []
    var prefixStart = 0
    /// Cached blocks it uses (reused or kept from its own prompt), released when it ends.
    var prefixRefs: [UInt64] = []
    /// Its prompt's blocks were offered to the prefix cache (after its prefill).
    var prefixKept = false
    /// The request asked for prompt logprobs.
    var wantsPromptLogprobs = false
    /// The prompt logprobs, once the last stage returned them with the first token (a replay after
    /// that does not ask again).
    var promptScores: (logprobs: [Float], top: [[TokenLogprob]])?
    /// Whether steps of this call ask the last stage to score the prompt: until the scores are in.
    var scoresPrompt: Bool { wantsPromptLogprobs && promptScores == nil }

    init(key: CallKey, streaming: Bool, received: ContinuousClock.Instant, deadline: ContinuousClock.Instant,
         seqID: UInt64, prompt: [Int], sampling: SamplingParams, output: OutputTracker) {
        self.key = key; self.streaming = streaming; self.received = received; self.deadline = deadline
        self.seqID = seqID; self.prompt = prompt; self.sampling = sampling; self.output = output
        self.nextInput = prompt
    }
}

extension CallState {
    /// After the pipeline lost a stage (every stage drops its caches at the new epoch): feed the
    /// prompt and the tokens generated so far again from position 0. The KV reservation stays;
    /// the sampler on the last stage continues at step `output.tokenIds.count` (sample_start).
    func prepareReplay() {
        position = 0
        nextInput = prompt + output.tokenIds
        forgetPrefix()
        inStep = false
        started = false
        replays += 1
    }

    /// Every stage dropped its cache: the call holds no cached blocks.
    func forgetPrefix() {
        reusedBlocks = []
        prefixStart = 0
        prefixRefs = []
        prefixKept = false
    }

    /// Queue, prefill and decode times of the call so far.
    func timing(now: ContinuousClock.Instant) -> GenerationTiming {
        let start = firstStepSent ?? now
        let first = firstTokenAt ?? now
        return GenerationTiming(queueNanoseconds: nanos(start - received), prefillNanoseconds: nanos(first - start),
                                decodeNanoseconds: nanos(now - first))
    }
}

func nanos(_ d: Duration) -> UInt64 {
    d.wholeNanoseconds
}

extension MQProtocol.FinishReason {
    init(_ r: MQGeneration.FinishReason) {
        switch r {
        case .length: self = .length
        case .eos: self = .eos
        case .stop: self = .stop
        }
    }
}
