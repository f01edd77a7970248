// The KV cache's prefix blocks: a sequence that starts with blocks another sequence computed gets
// bit-identical logits to computing its whole prompt, kept blocks outlive their sequence, a block in
// use is never evicted, and memory returns to zero once the cached blocks are evicted.
import XCTest
import MQCheckpoint
import MQKernels
@testable import MQModel

final class PrefixCacheTests: XCTestCase {
    /// Feeds `tokens` at positions `start...` of `sequence` and returns the last row's logits [V].
    func feed(_ model: any DecoderModel, _ cache: KVCache, sequence: Int, start: Int, _ tokens: [Int]) throws -> [Float] {
        let E = model.shape.hiddenSize, V = model.shape.vocabSize
        try cache.reserve(sequence: sequence, positions: start + tokens.count)
        let steps = tokens.enumerated().map { StepToken(sequence: sequence, position: start + $0.offset, token: $0.element) }
        var hidden = [Float](repeating: 0, count: steps.count * E)   // [T, E]
        var logits = [Float](repeating: 0, count: V)                 // [1, V]
        try hidden.withUnsafeMutableBufferPointer { h in
            try model.embed(steps, into: h.baseAddress!)
            try model.forward(steps, hidden: h.baseAddress!, cache: cache)
            try logits.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: [steps.count - 1], into: $0.baseAddress!) }
        }
        return logits
    }

    func testReusedBlocksGiveTheSameLogitsAndAreFreedOnlyWhenUnused() throws {
        let model = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model("mqa")), compute: .allCores)
        let kv = model.shape.kvHeads * model.shape.headDim
        let shared = (0..<35).map { (37 * $0 + 11) % 512 }
        let a = shared + [1, 2, 3, 4, 5], b = shared + [9, 8, 7, 6, 5, 4]
        let cache = try KVCache(layers: model.layerRange, kvDim: kv, blockSize: 16, blocks: 8)
        _ = try feed(model, cache, sequence: 1, start: 0, a)
        XCTAssertFalse(cache.keep(sequence: 1, block: 2, hash: 0xC), "block 2 holds 8 of 16 positions: not full")
        XCTAssertTrue(cache.keep(sequence: 1, block: 0, hash: 0xA))
        XCTAssertTrue(cache.keep(sequence: 1, block: 1, hash: 0xB))
        XCTAssertFalse(cache.keep(sequence: 1, block: 1, hash: 0xB), "already kept")
        cache.release(sequence: 1)
        XCTAssertEqual(cache.usedBlocks, 2, "the kept blocks outlive their sequence")
        XCTAssertEqual(cache.cachedBlockCount, 2)

        // Sequence 2 starts with the cached 32 positions and computes only the rest.
        XCTAssertThrowsError(try cache.start(sequence: 2, prefix: [0xA, 0xD])) {
            XCTAssertEqual($0 as? ModelError, .prefixNotCached(sequence: 2, hash: 0xD))
        }
        try cache.start(sequence: 2, prefix: [0xA, 0xB])
        XCTAssertEqual(cache.length(of: 2), 32)
        let reused = try feed(model, cache, sequence: 2, start: 32, Array(b.dropFirst(32)))
        XCTAssertEqual(cache.usedBlocks, 3, "one new block for positions 32..<41")
        XCTAssertEqual(cache.prefixHits, 1)
        XCTAssertEqual(cache.prefixHitTokens, 32)
        let fresh = try KVCache(layers: model.layerRange, kvDim: kv, blockSize: 16, blocks: 8)
        XCTAssertEqual(reused, try feed(model, fresh, sequence: 2, start: 0, b), "reused blocks must give bit-identical logits")

        XCTAssertFalse(cache.evict(hash: 0xA), "sequence 2 uses the block")
        cache.release(sequence: 2)
        XCTAssertEqual(cache.usedBlocks, 2)
        XCTAssertTrue(cache.evict(hash: 0xB))
        XCTAssertTrue(cache.evict(hash: 0xA))
        XCTAssertFalse(cache.evict(hash: 0xA), "gone already")
        XCTAssertEqual(cache.usedBytes, 0)
        XCTAssertEqual(cache.prefixEvictions, 2)

        // Clearing drops cached blocks; one in use goes back to the free list with its sequence.
        _ = try feed(model, cache, sequence: 3, start: 0, a)
        XCTAssertTrue(cache.keep(sequence: 3, block: 0, hash: 0xA))
        cache.clearPrefixCache()
        XCTAssertEqual(cache.cachedBlockCount, 0)
        XCTAssertEqual(cache.usedBlocks, 3)
        cache.release(sequence: 3)
        XCTAssertEqual(cache.usedBytes, 0)
    }
}
