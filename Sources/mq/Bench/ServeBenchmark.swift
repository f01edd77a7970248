// The load generator of `mq bench serve`: settings, the concurrent streams of one level, the
// prompts, and what each request and level recorded (BenchServe.swift is the command;
// ServeBenchResults.swift turns the records into rates, percentiles and tables).
import ArgumentParser
import Dispatch
import Foundation
import MQClient
import MQSampling
import MQCommandLine
import MQTransport

#if canImport(Glibc)
import Glibc
#endif

// MARK: Measurement

/// What every level sends.
struct ServeBenchSettings: Sendable, Encodable {
    var levels: [Int]
    var requestsPerStream: Int
    var promptTokens: Int
    var maxTokens: Int
    var seed: UInt64
    var warmup: Int
    var callTimeout: Duration
    /// --chaos: seconds between kills during each level; nil without chaos.
    var chaosSeconds: Double? = nil
    /// --standbys of a started cluster; nil against --server.
    var standbys: Int? = nil
    /// --shared-prefix: the first N prompt tokens of every request are the same.
    var sharedPrefix = 0

    enum CodingKeys: String, CodingKey {
        case levels, requestsPerStream, promptTokens, maxTokens, seed, warmup, callTimeoutSeconds, chaosSeconds, standbys, sharedPrefix
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(levels, forKey: .levels)
        try c.encode(requestsPerStream, forKey: .requestsPerStream)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(maxTokens, forKey: .maxTokens)
        try c.encode(seed, forKey: .seed)
        try c.encode(warmup, forKey: .warmup)
        try c.encode(callTimeout.inSeconds, forKey: .callTimeoutSeconds)
        try c.encodeIfPresent(chaosSeconds, forKey: .chaosSeconds)
        try c.encodeIfPresent(standbys, forKey: .standbys)
        try c.encode(sharedPrefix, forKey: .sharedPrefix)
    }
}

/// Runs the levels of one benchmark against one coordinator.
struct ServeBenchmark: Sendable {
    let endpoint: String
    let settings: ServeBenchSettings
    var security: MQClientSecurity? = nil
    var apiKey: String? = nil
    /// Whether the cluster runs with CURVE (reported with the results).
    var secured = false
    /// --chaos: kills and replaces workers during each level.
    var chaos: ChaosAgent? = nil
    /// Whether the started cluster's coordinator reuses cached prefixes (nil: not known, --server).
    var prefixCache: Bool? = nil
    /// --gateway: the requests go through mq-gateway's HTTP API (Info samples still use MQClient).
    var transport = ServeBenchTransport.zeromq

    func run(progress: @escaping @Sendable (String) -> Void) async throws -> ServeBenchRun {
        let client = try MQClient(endpoint: endpoint, defaultTimeout: settings.callTimeout, security: security, apiKey: apiKey)
        defer { client.close() }
        // A separate connection for Info samples, so that they do not queue behind 64 streams'
        // replies on one socket.
        let infoClient = try MQClient(endpoint: endpoint, defaultTimeout: ServeBenchDefaults.infoTimeout, security: security, apiKey: apiKey)
        defer { infoClient.close() }

        let info = try await infoClient.info()
        guard !info.stages.isEmpty else {
            throw ServeBenchError("\(endpoint) has no pipeline stages assigned yet (see mq health)")
        }
        guard info.model.vocabSize >= 2 else { throw ServeBenchError("\(endpoint) reports a vocabulary of \(info.model.vocabSize) tokens") }
        let limits = info.limits
        if limits.maxPromptTokens > 0, settings.promptTokens > Int(limits.maxPromptTokens) {
            throw ServeBenchError("--prompt-tokens \(settings.promptTokens) is over the server's limit of \(limits.maxPromptTokens)")
        }
        if limits.maxNewTokens > 0, settings.maxTokens > Int(limits.maxNewTokens) {
            throw ServeBenchError("--max-tokens \(settings.maxTokens) is over the server's limit of \(limits.maxNewTokens)")
        }
        let prompts = PromptSource(seed: settings.seed, vocabulary: info.model.vocabSize, length: settings.promptTokens,
                                   sharedPrefix: settings.sharedPrefix)

        for index in 0 ..< settings.warmup {
            let outcome = await drive(client: client, request: request(prompts.prompt(stream: -1, request: index)), timeout: settings.callTimeout, levelStart: ContinuousClock.now)
            if let code = outcome.failure { progress("warm-up request \(index + 1) failed: \(code)") }
        }

        var levels: [ServeBenchLevel] = []
        for streams in settings.levels {
            if let chaos, !levels.isEmpty {
                progress("chaos: waiting for the cluster to settle before the next level ...")
                try await chaos.settle(timeoutSeconds: ServeBenchDefaults.startTimeoutSeconds)
            }
            progress("level: \(streams) stream\(streams == 1 ? "" : "s") x \(settings.requestsPerStream) requests ...")
            levels.append(try await level(streams: streams, client: client, infoClient: infoClient, prompts: prompts, progress: progress))
        }
        let finalInfo = (try? await infoClient.info()) ?? info
        var run = ServeBenchRun(endpoint: endpoint, info: finalInfo, levels: levels, secured: secured)
        run.prefixCache = prefixCache
        return run
    }

    private func request(_ ids: [UInt32]) -> GenerateRequest {
        GenerateRequest(prompt: .tokenIDs(ids), maxNewTokens: UInt32(settings.maxTokens), sampling: .greedy)
    }

    private func level(streams: Int, client: MQClient, infoClient: MQClient, prompts: PromptSource,
                       progress: @escaping @Sendable (String) -> Void) async throws -> ServeBenchLevel {
        let before = try? await infoClient.info()
        let sampler = Task { await Self.sampleKV(infoClient) }
        let clock = ContinuousClock()
        let started = clock.now
        let chaosTask = chaos.map { agent in Task { await agent.run(levelStart: started, progress: progress) } }
        let requestsPerStream = settings.requestsPerStream
        let timeout = settings.callTimeout
        let outcomes = await withTaskGroup(of: [RequestOutcome].self) { group in
            for stream in 0 ..< streams {
                group.addTask {
                    var outcomes: [RequestOutcome] = []
                    for index in 0 ..< requestsPerStream {
                        var o = await drive(client: client, request: request(prompts.prompt(stream: stream, request: index)),
                                                 timeout: timeout, levelStart: started)
                        o.stream = stream
                        outcomes.append(o)
                    }
                    return outcomes
                }
            }
            var all: [RequestOutcome] = []
            for await part in group { all += part }
            return all
        }
        let wall = clock.now - started
        chaosTask?.cancel()
        let chaosLog = await chaosTask?.value
        sampler.cancel()
        let kvSamples = await sampler.value
        let after = try? await infoClient.info()
        return ServeBenchLevel(streams: streams, wall: wall, outcomes: outcomes, kv: kvSamples, before: before, after: after, chaos: chaosLog)
    }

    /// One request over this run's transport.
    private func drive(client: MQClient, request: GenerateRequest, timeout: Duration,
                       levelStart: ContinuousClock.Instant) async -> RequestOutcome {
        switch transport {
        case .zeromq:
            return await Self.drive(client: client, request: request, timeout: timeout, levelStart: levelStart)
        case let .http(port, model):
            return await GatewayStreamDriver.drive(port: port, model: model, request: request, timeout: timeout, levelStart: levelStart)
        }
    }

    /// One GenerateStream call, timed chunk by chunk. Never throws: a failure is an outcome.
    static func drive(client: MQClient, request: GenerateRequest, timeout: Duration,
                      levelStart: ContinuousClock.Instant) async -> RequestOutcome {
        let clock = ContinuousClock()
        let sent = clock.now
        var outcome = RequestOutcome()
        var previous: ContinuousClock.Instant?
        var finished = false
        do {
            for try await chunk in client.generateStream(request, timeout: timeout) {
                let now = clock.now
                if !chunk.tokenIDs.isEmpty {
                    if let previous {
                        outcome.interTokenMilliseconds.append((now - previous).inMilliseconds)
                    } else {
                        outcome.firstTokenMilliseconds = (now - sent).inMilliseconds
                    }
                    previous = now
                    outcome.chunks.append((seconds: (now - levelStart).inSeconds, tokens: chunk.tokenIDs.count))
                }
                if chunk.isLast { finished = true }
            }
            if !finished { outcome.failure = "NO_LAST_CHUNK" }
        } catch let error as MQClientError {
            outcome.failure = error.code.description
        } catch {
            outcome.failure = "ERROR"
        }
        return outcome
    }

    /// Largest kv_used_bytes per stage index seen in Info samples until the task is cancelled.
    static func sampleKV(_ client: MQClient) async -> KVSamples {
        var samples = KVSamples()
        while !Task.isCancelled {
            do {
                let info = try await client.info()
                samples.add(info)
            } catch {
                if Task.isCancelled { break }
                samples.failedSamples += 1
            }
            try? await Task.sleep(for: .milliseconds(ServeBenchDefaults.infoIntervalMilliseconds))
        }
        return samples
    }
}

struct ServeBenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The fixed-seed prompts: stream s, request r always gets the same ids (stream -1 is warm-up);
/// the first `sharedPrefix` ids are the same in every prompt (an editor sending one file again).
struct PromptSource: Sendable {
    let seed: UInt64
    let vocabulary: UInt32
    let length: Int
    var sharedPrefix = 0

    func prompt(stream: Int, request: Int) -> [UInt32] {
        var rng = SplitMix64(seed: seed ^ (UInt64(bitPattern: Int64(stream)) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(request) &* 0xBF58_476D_1CE4_E5B9))
        var shared = SplitMix64(seed: seed ^ 0x5348_4152_4544)
        // Ids 1..<vocabulary: id 0 is the end-of-sequence token of many models.
        let ids = (0 ..< length).map { _ in UInt32(1 + rng.next() % UInt64(vocabulary - 1)) }
        return (0 ..< min(sharedPrefix, length)).map { _ in UInt32(1 + shared.next() % UInt64(vocabulary - 1)) } + ids.dropFirst(sharedPrefix)
    }
}

/// What one request produced.
struct RequestOutcome: Sendable {
    /// Which of the level's streams sent it.
    var stream = 0
    /// Every token-carrying chunk: when it arrived (seconds since the level started) and its tokens.
    var chunks: [(seconds: Double, tokens: Int)] = []
    var tokens: Int { chunks.reduce(0) { $0 + $1.tokens } }
    var firstTokenMilliseconds: Double?
    var interTokenMilliseconds: [Double] = []
    /// The status code name of a failed call; nil for a completed one.
    var failure: String?
}

/// The times when every stream of a level had a request past its first token — so no prompt was
/// waiting for its prefill and every step the cluster ran was a decode step of all the streams — and
/// the tokens received in them. Each stream decodes from a request's first token to its last; the
/// windows are the intersection of those intervals over all streams.
struct DecodeWindows {
    var windows: [(start: Double, end: Double)] = []
    var tokens = 0
    var seconds: Double { windows.reduce(0) { $0 + $1.end - $1.start } }

    /// nil when some stream has no request that produced a token.
    init?(outcomes: [RequestOutcome], streams: Int) {
        let perStream = Dictionary(grouping: outcomes, by: \.stream)
        guard streams > 0, perStream.count == streams else { return nil }
        var common: [(start: Double, end: Double)]? = nil
        for (_, requests) in perStream {
            let decoding = requests.compactMap { r -> (start: Double, end: Double)? in
                guard let first = r.chunks.first?.seconds, let last = r.chunks.last?.seconds, first < last else { return nil }
                return (first, last)
            }.sorted { $0.start < $1.start }
            common = common.map { Self.intersect($0, decoding) } ?? decoding
        }
        windows = common ?? []
        guard !windows.isEmpty else { return nil }
        for o in outcomes {
            for c in o.chunks where windows.contains(where: { c.seconds > $0.start && c.seconds <= $0.end }) { tokens += c.tokens }
        }
    }

    /// Intersection of two sorted lists of disjoint intervals.
    static func intersect(_ a: [(start: Double, end: Double)], _ b: [(start: Double, end: Double)]) -> [(start: Double, end: Double)] {
        var out: [(start: Double, end: Double)] = []
        var i = 0, j = 0
        while i < a.count && j < b.count {
            let lo = max(a[i].start, b[j].start), hi = min(a[i].end, b[j].end)
            if lo < hi { out.append((lo, hi)) }
            if a[i].end < b[j].end { i += 1 } else { j += 1 }
        }
        return out
    }
}

/// The KV high-water marks of one level.
struct KVSamples: Sendable {
    var maxUsedBytes: [UInt32: UInt64] = [:]
    var samples = 0
    var failedSamples = 0

    mutating func add(_ info: InfoResponse) {
        samples += 1
        for stage in info.stages {
            maxUsedBytes[stage.stageIndex] = max(maxUsedBytes[stage.stageIndex] ?? 0, stage.kvUsedBytes)
        }
    }
}
