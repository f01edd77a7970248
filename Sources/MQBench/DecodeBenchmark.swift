// `mq bench decode`: prefill and batched decode speed of one process, with the bytes each token
// moves and the achieved bandwidth next to this machine's streaming-read bandwidth, measured in the
// same run (the machine is noisy, so ratios are only meaningful side by side).
import Foundation
import MQCheckpoint
import MQKernels
import MQEngine
import MQModel

public struct DecodeBenchmarkOptions: Sendable {
    public var batch = 1
    public var context = 128
    public var tokens = 32
    public var threads = 2
    public var measureBandwidth = true
    public var seed: UInt64 = 1
    /// How the model holds its matrices (the checkpoint's precision, or Q8_0 quantized at load).
    public var weights: WeightPrecision = .stored
    public init() {}
}

public struct DecodeBenchmarkReport: Sendable, Codable {
    public var model: String
    public var architecture: String
    public var attention: String
    public var blas: String
    public var threads: Int
    public var batch: Int
    public var context: Int
    public var tokens: Int
    public var prefillTokensPerSecond: Double
    public var decodeTokensPerSecond: Double
    /// Median step time (the decode rates and GB/s use it), with the mean and 90th percentile.
    public var msPerStep: Double
    public var meanMsPerStep: Double
    public var p90MsPerStep: Double
    public var weightBytesPerStep: Int
    public var weightBytesPerToken: Int
    public var kvBytesPerToken: Int
    public var kvBytesReadPerStep: Int
    public var weightGBps: Double
    public var totalGBps: Double
    public var streamGBps: Double?
    public var residentBytes: Int
    public var kvCacheBytes: Int
    /// How the matrices were held ("f16", "q8_0", …) and the bytes of weights held.
    public var weightFormat: String
    public var weightBytesLoaded: Int
    /// Seconds to map, pack (or quantize) every weight; checkpoint bytes over that time; the peak
    /// resident memory during the load (VmHWM, reset before it) next to the resident memory after it.
    public var loadSeconds: Double
    public var loadGBps: Double
    public var loadPeakResidentBytes: Int
    public var loadedResidentBytes: Int
    /// Products per decode step (4 per layer, plus the LM head on a last stage).
    public var productsPerStep: Int
    /// The cost of one split of a product in synchronisation alone (nil with one thread).
    public var forkJoin: ForkJoinReport?

    public var text: String {
        var s = """
        model            \(model) (\(architecture), \(attention)), weights \(weightFormat) \(mb(weightBytesLoaded))
        load             \(fmt(loadSeconds, 2)) s, \(fmt(loadGBps, 2)) GB/s of checkpoint; resident peak \(mb(loadPeakResidentBytes)) during, \(mb(loadedResidentBytes)) after (\(fmt(Double(loadPeakResidentBytes) / Double(max(1, loadedResidentBytes)), 2))×)
        kernels          \(blas)
        batch/context    \(batch) sequences × \(context) prompt tokens, \(tokens) decode steps, \(threads) thread\(threads == 1 ? "" : "s")
        prefill          \(fmt(prefillTokensPerSecond, 1)) tokens/s
        decode           \(fmt(decodeTokensPerSecond, 2)) tokens/s, \(fmt(msPerStep, 2)) ms/step median (mean \(fmt(meanMsPerStep, 2)), p90 \(fmt(p90MsPerStep, 2)); ms/token per sequence)
        weights read     \(mb(weightBytesPerStep)) per step, \(mb(weightBytesPerToken)) per token
        KV cache         \(kvBytesPerToken) bytes per token; \(mb(kvBytesReadPerStep)) read per step
        achieved         \(fmt(weightGBps, 2)) GB/s weights, \(fmt(totalGBps, 2)) GB/s weights + KV
        """
        if let sb = streamGBps {
            s += "\nstream read      \(fmt(sb, 2)) GB/s on \(threads) thread\(threads == 1 ? "" : "s") (same run) → decode reaches \(fmt(100 * totalGBps / sb, 1))% of it"
        }
        s += "\nmemory           \(mb(residentBytes)) resident, KV cache \(mb(kvCacheBytes)) in use"
        if let f = forkJoin {
            let perStep = Double(productsPerStep) * f.poolBackToBack / 1000
            s += "\nsplit cost       \(fmt(f.poolBackToBack, 1)) µs per product over a perfect split, back to back (\(productsPerStep) products per step: \(fmt(perStep, 2)) ms), "
                + "\(fmt(f.poolAfterPause, 1)) µs after a pause; with DispatchQueue.concurrentPerform \(fmt(f.dispatchBackToBack, 1)) / \(fmt(f.dispatchAfterPause, 1)) µs"
        }
        return s
    }

    private func fmt(_ x: Double, _ d: Int) -> String { String(format: "%.\(d)f", x) }
    private func mb(_ b: Int) -> String { String(format: "%.2f MB", Double(b) / 1e6) }
}

public enum DecodeBenchmark {
    public static func run(directory: URL, options o: DecodeBenchmarkOptions) throws -> DecodeBenchmarkReport {
        guard o.batch >= 1, o.context >= 1, o.tokens >= 1, o.threads >= 1 else {
            throw EngineError.invalidArgument(field: "batch/context/tokens/threads", reason: "must all be at least 1")
        }
        resetPeakResident()
        let loadStart = now()
        let ck = try Checkpoint(directory: directory)
        let compute = ComputeContext(threads: o.threads)
        let model = try ModelRegistry.load(ck, compute: compute, weights: o.weights)
        let loadSeconds = now() - loadStart
        let loadPeak = peakResidentBytes(), loaded = residentBytes()
        let checkpointBytes = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".safetensors") }
            .reduce(0) { $0 + (((try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent($1).path))?[.size] as? Int) ?? 0) }
        // Measured after the load so its 1 GiB buffer does not count in the load's peak.
        let stream = o.measureBandwidth ? MemoryBandwidth.measure(threads: o.threads) : nil
        let shape = model.shape
        guard o.context + o.tokens <= shape.maxPositions else {
            throw EngineError.promptTooLong(promptTokens: o.context, maxNewTokens: o.tokens, maxPositions: shape.maxPositions)
        }
        let E = shape.hiddenSize, V = shape.vocabSize, B = o.batch
        let perSeq = o.context + o.tokens + 2
        let cache = try KVCache(layers: model.layerRange, kvDim: shape.kvHeads * shape.headDim,
                                blocks: B * ((perSeq + KVCache.defaultBlockSize - 1) / KVCache.defaultBlockSize))
        var rng = o.seed
        func nextToken() -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int((rng >> 33) % UInt64(V))
        }
        var hidden = [Float](repeating: 0, count: max(o.context, B) * E)
        var logits = [Float](repeating: 0, count: B * V)
        var last = [Int](repeating: 0, count: B)

        // Prefill: each sequence's prompt in one matrix-matrix pass.
        let t0 = now()
        for b in 0..<B {
            try cache.reserve(sequence: b, positions: perSeq)
            let step = (0..<o.context).map { StepToken(sequence: b, position: $0, token: nextToken()) }
            try hidden.withUnsafeMutableBufferPointer { h in
                try model.embed(step, into: h.baseAddress!)
                try model.forward(step, hidden: h.baseAddress!, cache: cache)
                try logits.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: [o.context - 1], into: $0.baseAddress!) }
            }
            last[b] = argmax(logits, 0, V)
        }
        let prefillSeconds = now() - t0

        // Decode: all B sequences advance one token per step; the first two steps are warm-up.
        var position = o.context
        func decodeStep() throws {
            let step = (0..<B).map { StepToken(sequence: $0, position: position, token: last[$0]) }
            try hidden.withUnsafeMutableBufferPointer { h in
                try model.embed(step, into: h.baseAddress!)
                try model.forward(step, hidden: h.baseAddress!, cache: cache)
                try logits.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: Array(0..<B), into: $0.baseAddress!) }
            }
            for b in 0..<B { last[b] = argmax(logits, b * V, V) }
            position += 1
        }
        try decodeStep(); try decodeStep()
        let warmContext = position
        // Per-step times; the median is reported because this machine is shared and noisy (a mean
        // is dragged by the steps that another process's burst slowed down).
        var steps: [Double] = []
        steps.reserveCapacity(o.tokens)
        for _ in 0..<o.tokens {
            let t = now()
            try decodeStep()
            steps.append(now() - t)
        }
        steps.sort()
        let stepSeconds = steps[steps.count / 2]
        let meanStepSeconds = steps.reduce(0, +) / Double(steps.count)
        let kvPerToken = shape.kvBytesPerToken(layerCount: model.layerRange.count)
        // Average context attended per step: warmContext+1 ... warmContext+tokens.
        let avgContext = Double(warmContext) + Double(o.tokens + 1) / 2
        let kvRead = Int(Double(B) * avgContext * Double(kvPerToken))
        let wBytes = model.weightBytesPerToken
        return DecodeBenchmarkReport(
            model: directory.lastPathComponent, architecture: shape.architecture, attention: shape.attentionKind.description,
            blas: (model.weightFormat == .q8_0 ? "mq Q8_0 int8 \(Q8Kernel.best)" : "mq packed linear, batch-1 tile \(PanelKernel.best)") + ", \(o.threads) thread\(o.threads == 1 ? "" : "s")", threads: o.threads, batch: B, context: o.context, tokens: o.tokens,
            prefillTokensPerSecond: Double(B * o.context) / prefillSeconds,
            decodeTokensPerSecond: Double(B) / stepSeconds, msPerStep: stepSeconds * 1000,
            meanMsPerStep: meanStepSeconds * 1000, p90MsPerStep: steps[min(steps.count - 1, steps.count * 9 / 10)] * 1000,
            weightBytesPerStep: wBytes, weightBytesPerToken: wBytes / B, kvBytesPerToken: kvPerToken,
            kvBytesReadPerStep: kvRead,
            weightGBps: Double(wBytes) / stepSeconds / 1e9, totalGBps: Double(wBytes + kvRead) / stepSeconds / 1e9,
            streamGBps: stream.map { $0 / 1e9 }, residentBytes: residentBytes(), kvCacheBytes: cache.usedBytes,
            weightFormat: model.weightFormat?.rawValue ?? "none", weightBytesLoaded: model.weightBytesLoaded,
            loadSeconds: loadSeconds, loadGBps: Double(checkpointBytes) / loadSeconds / 1e9,
            loadPeakResidentBytes: loadPeak, loadedResidentBytes: loaded,
            productsPerStep: 4 * model.layerRange.count + 1, forkJoin: o.threads > 1 ? ForkJoin.measure(compute) : nil)
    }

    static func argmax(_ a: [Float], _ start: Int, _ n: Int) -> Int {
        var best = 0
        for i in 1..<n where a[start + i] > a[start + best] { best = i }
        return best
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}

/// Resident set size of this process (Linux /proc/self/statm; 0 where unavailable).
public func residentBytes() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let f = s.split(separator: " ")
    guard f.count > 1, let pages = Int(f[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Peak resident set size of this process since start or the last `resetPeakResident` (VmHWM; 0
/// where unavailable).
public func peakResidentBytes() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          // "VmHWM:\t 3371612 kB": the number is padded to 8 columns, so from 10 GB up a tab alone
          // separates it from the label (splitting on spaces only read those peaks as 0).
          let kb = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") else { return 0 }
    return kb * 1024
}

/// Resets VmHWM to the current resident size (Linux: "5" to /proc/self/clear_refs), so a
/// measurement's peak is its own.
public func resetPeakResident() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}
