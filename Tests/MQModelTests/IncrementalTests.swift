// Incremental decoding against full recomputation, batching against running alone, layer-range
// stages chained against the whole model, and the KV cache's exact accounting.
import XCTest
import MQCheckpoint
import MQKernels
@testable import MQModel

final class IncrementalTests: XCTestCase {
    /// Logits of the last position after feeding `steps` (each a chunk of the sequence) through one cache.
    func lastLogits(_ models: [any DecoderModel], chunks: [[Int]], sequence: Int = 3, cache: KVCache? = nil) throws -> [Float] {
        let shape = models[0].shape
        let E = shape.hiddenSize, V = shape.vocabSize
        let total = chunks.reduce(0) { $0 + $1.count }
        let caches = try cache.map { [$0] } ?? models.map { try KVCache(layers: $0.layerRange, kvDim: shape.kvHeads * shape.headDim, blocks: 8) }
        for c in caches { try c.reserve(sequence: sequence, positions: total) }
        var logits = [Float](repeating: 0, count: V)
        var pos = 0
        for chunk in chunks {
            let toks = chunk.enumerated().map { StepToken(sequence: sequence, position: pos + $0.offset, token: $0.element) }
            var hidden = [Float](repeating: 0, count: toks.count * E)
            try hidden.withUnsafeMutableBufferPointer { h in
                try models.first!.embed(toks, into: h.baseAddress!)
                for (i, m) in models.enumerated() { try m.forward(toks, hidden: h.baseAddress!, cache: caches[min(i, caches.count - 1)]) }
                try logits.withUnsafeMutableBufferPointer { try models.last!.logits(hidden: h.baseAddress!, rows: [toks.count - 1], into: $0.baseAddress!) }
            }
            pos += chunk.count
        }
        return logits
    }

    func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }

    let prompt = [5, 17, 300, 42, 42, 7, 99, 128, 3, 64, 200, 11, 250, 1, 77, 19, 400, 23]  // 18 tokens: crosses a 16-token block

    func testPrefillThenDecodeEqualsFullRecomputation() throws {
        for name in ["mqa", "mha"] {
            let model = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model(name)), compute: .allCores)
            let full = try lastLogits([model], chunks: [prompt])
            let incremental = try lastLogits([model], chunks: [Array(prompt.prefix(10))] + prompt.dropFirst(10).map { [$0] })
            let oneByOne = try lastLogits([model], chunks: prompt.map { [$0] })
            XCTAssertLessThan(maxDiff(full, incremental), 1e-4, name)
            XCTAssertLessThan(maxDiff(full, oneByOne), 1e-4, name)
        }
    }

    func testLayerRangeStagesEqualWholeModel() throws {
        let ck = try Checkpoint(directory: Fixtures.model("mqa"))
        let whole = try ModelRegistry.load(ck, compute: .allCores)
        let s0 = try ModelRegistry.load(ck, layers: 0..<1, embedding: true, head: false, compute: .allCores)
        let s1 = try ModelRegistry.load(ck, layers: 1..<3, embedding: false, head: true, compute: .allCores)
        XCTAssertFalse(s0.hasHead); XCTAssertFalse(s1.hasEmbedding)
        XCTAssertLessThan(s0.weightBytesLoaded + s1.weightBytesLoaded, whole.weightBytesLoaded + 64 * 512 * 4 + 1)
        let a = try lastLogits([whole], chunks: [Array(prompt.prefix(6)), [9], [10]])
        let b = try lastLogits([s0, s1], chunks: [Array(prompt.prefix(6)), [9], [10]])
        XCTAssertEqual(a, b, "a pipeline of stages must compute exactly what the whole model computes")
        XCTAssertThrowsError(try s1.embed([StepToken(sequence: 0, position: 0, token: 1)], into: UnsafeMutablePointer<Float>.allocate(capacity: 64)))
    }

    func testBatchedStepEqualsEachSequenceAlone() throws {
        // Bit-identical, not just close: every kernel computes a row the same way whatever else is
        // in the step (packed linear, per-token attention), on one thread or split over two or three;
        // a zero threshold sends the small fixture's attention down the two-thread path. Every
        // context must also give the numbers of the single-threaded one.
        var reference: [Float]?
        for compute in [ComputeContext.serial, ComputeContext(threads: 2), ComputeContext(threads: 2, parallelAttentionWork: 0),
                        ComputeContext(threads: 3, parallelAttentionWork: 0)] {
            let work = "\(compute), parallel attention from \(compute.parallelAttentionWork)"
            let model = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model("mqa")), compute: compute)
            XCTAssertEqual(model.compute, compute)
            let shape = model.shape
            let E = shape.hiddenSize, V = shape.vocabSize
            let prompts = [[1, 2, 3], [400, 5], [7, 8, 9, 10, 11]]
            let alone = try prompts.map { try lastLogits([model], chunks: [$0, [33]]) }
            // Together: prefill each, then one step holding one token of every sequence.
            let cache = try KVCache(layers: model.layerRange, kvDim: shape.kvHeads * shape.headDim, blocks: 8)
            for (s, p) in prompts.enumerated() {
                try cache.reserve(sequence: s, positions: p.count + 1)
                _ = try lastLogits([model], chunks: [p], sequence: s, cache: cache)
            }
            let step = prompts.enumerated().map { StepToken(sequence: $0.offset, position: $0.element.count, token: 33) }
            var hidden = [Float](repeating: 0, count: step.count * E)
            var logits = [Float](repeating: 0, count: step.count * V)
            try hidden.withUnsafeMutableBufferPointer { h in
                try model.embed(step, into: h.baseAddress!)
                try model.forward(step, hidden: h.baseAddress!, cache: cache)
                try logits.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: [0, 1, 2], into: $0.baseAddress!) }
            }
            for s in 0..<3 { XCTAssertEqual(Array(logits[(s * V)..<((s + 1) * V)]), alone[s], "sequence \(s), \(work)") }
            // A prefill of all three prompts in one step (attention split across threads) equals each alone.
            let c2 = try KVCache(layers: model.layerRange, kvDim: shape.kvHeads * shape.headDim, blocks: 8)
            var all: [StepToken] = []
            for (s, p) in prompts.enumerated() {
                try c2.reserve(sequence: s, positions: p.count)
                all += p.enumerated().map { StepToken(sequence: s, position: $0.offset, token: $0.element) }
            }
            var h2 = [Float](repeating: 0, count: all.count * E)
            var l2 = [Float](repeating: 0, count: 3 * V)
            let lastRows = [2, 4, 9]
            try h2.withUnsafeMutableBufferPointer { h in
                try model.embed(all, into: h.baseAddress!)
                try model.forward(all, hidden: h.baseAddress!, cache: c2)
                try l2.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: lastRows, into: $0.baseAddress!) }
            }
            for s in 0..<3 {
                XCTAssertEqual(Array(l2[(s * V)..<((s + 1) * V)]), try lastLogits([model], chunks: [prompts[s]]), "prefill \(s), \(work)")
            }
            if let reference { XCTAssertEqual(l2, reference, "batched prefill, \(work) against one thread") } else { reference = l2 }
        }
    }

    func testCacheAccountingAndErrors() throws {
        let model = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model("mqa")), compute: .allCores)
        let mha = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model("mha")), compute: .allCores)
        // KV bytes per token = 2 · KVH · D · layers · 4: 1 head for MQA, H for MHA.
        XCTAssertEqual(model.shape.kvBytesPerToken(layerCount: 3), 2 * 1 * 16 * 3 * 4)
        XCTAssertEqual(mha.shape.kvBytesPerToken(layerCount: 3), 4 * model.shape.kvBytesPerToken(layerCount: 3))
        XCTAssertEqual(model.shape.attentionKind, .multiQuery)
        XCTAssertEqual(mha.shape.attentionKind, .multiHead)
        let cache = try KVCache(layers: 0..<3, kvDim: 16, blockSize: 16, blocks: 2)
        XCTAssertEqual(cache.bytesPerToken, 2 * 16 * 3 * 4)
        XCTAssertEqual(cache.capacityBytes, 2 * 16 * cache.bytesPerToken)
        try cache.reserve(sequence: 1, positions: 17)
        XCTAssertEqual(cache.usedBlocks, 2)
        XCTAssertThrowsError(try cache.reserve(sequence: 2, positions: 1)) { XCTAssertEqual($0 as? ModelError, .cacheFull(sequence: 2, neededBlocks: 1, freeBlocks: 0)) }
        cache.release(sequence: 1)
        XCTAssertEqual(cache.usedBytes, 0)
        // A step that skips positions, a token outside the vocabulary, an unknown sequence: errors, not traps.
        let c2 = try KVCache(layers: model.layerRange, kvDim: 16, blocks: 4)
        try c2.reserve(sequence: 1, positions: 8)
        var h = [Float](repeating: 0, count: 64 * 2)
        try h.withUnsafeMutableBufferPointer { hp in
            XCTAssertThrowsError(try model.forward([StepToken(sequence: 1, position: 3, token: 1)], hidden: hp.baseAddress!, cache: c2)) {
                XCTAssertEqual($0 as? ModelError, .positionGap(sequence: 1, position: 3, cached: 0)) }
            XCTAssertThrowsError(try model.embed([StepToken(sequence: 1, position: 0, token: 512)], into: hp.baseAddress!))
            XCTAssertThrowsError(try model.forward([StepToken(sequence: 9, position: 0, token: 1)], hidden: hp.baseAddress!, cache: c2))
            XCTAssertThrowsError(try model.forward([], hidden: hp.baseAddress!, cache: c2))
        }
    }
}
