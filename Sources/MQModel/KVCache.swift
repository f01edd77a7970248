// The key/value cache of one process (all sequences, the layers it holds), in fixed-size blocks.
//
// Shapes: L = local layers (layerRange.count), B = tokens per block, KV = kvHeads · headDim.
//   block b: keys [L, B, KV] then values [L, B, KV] → stored as [L][2][B][KV] floats
// A token costs exactly 2 · KV · L floats: one KV head per layer for a multi-query model.
// Memory is reserved as one anonymous mapping of the byte budget; the kernel commits pages only
// when blocks are first written, so a large budget costs nothing until it is used.
import Foundation
import MQKernels

public final class KVCache {
    public static let defaultBlockSize = 16

    public let layerRange: Range<Int>
    public let kvDim: Int
    public let blockSize: Int
    public let blockCount: Int
    private let storage: UnsafeMutablePointer<Float>
    private let mappedBytes: Int
    private var freeBlocks: [Int32]
    private var entries: [Int: Entry] = [:]

    struct Entry {
        var blocks: [Int32]
        var length: Int   // positions 0..<length hold valid keys/values
    }

    /// Floats in one block: L · 2 · B · KV.
    private var blockFloats: Int { layerRange.count * 2 * blockSize * kvDim }
    /// KV bytes per cached token (all local layers).
    public var bytesPerToken: Int { 2 * kvDim * layerRange.count * MemoryLayout<Float>.size }
    public var bytesPerBlock: Int { blockFloats * MemoryLayout<Float>.size }
    public var capacityTokens: Int { blockCount * blockSize }
    public var capacityBytes: Int { blockCount * bytesPerBlock }
    public var usedBlocks: Int { blockCount - freeBlocks.count }
    public var freeBlockCount: Int { freeBlocks.count }
    public var usedBytes: Int { usedBlocks * bytesPerBlock }

    /// A cache of `blocks` blocks (at least one).
    public init(layers: Range<Int>, kvDim: Int, blockSize: Int = KVCache.defaultBlockSize, blocks: Int) throws {
        precondition(kvDim > 0 && blockSize > 0 && !layers.isEmpty, "bad cache geometry")
        self.layerRange = layers
        self.kvDim = kvDim
        self.blockSize = blockSize
        self.blockCount = max(1, blocks)
        let bytes = blockCount * layers.count * 2 * blockSize * kvDim * MemoryLayout<Float>.size
        guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              p != MAP_FAILED else {
            throw ModelError.cacheFull(sequence: -1, neededBlocks: blockCount, freeBlocks: 0)
        }
        self.storage = p.bindMemory(to: Float.self, capacity: bytes / 4)
        self.mappedBytes = bytes
        // Hand out low block numbers first (pop from the end).
        self.freeBlocks = (0..<Int32(blockCount)).reversed()
    }

    /// A cache within a byte budget.
    public convenience init(layers: Range<Int>, kvDim: Int, blockSize: Int = KVCache.defaultBlockSize, budgetBytes: Int) throws {
        let perBlock = layers.count * 2 * blockSize * kvDim * MemoryLayout<Float>.size
        try self.init(layers: layers, kvDim: kvDim, blockSize: blockSize, blocks: budgetBytes / perBlock)
    }

    deinit { munmap(storage, mappedBytes) }

    /// Blocks needed to hold `positions` tokens.
    public func blocksNeeded(positions: Int) -> Int { (positions + blockSize - 1) / blockSize }

    /// Whether `positions` more tokens could be reserved for a new sequence right now.
    public func canHold(positions: Int) -> Bool { blocksNeeded(positions: positions) <= freeBlocks.count }

    /// Makes sure `sequence` has blocks for positions 0..<positions (creating its entry if new).
    public func reserve(sequence: Int, positions: Int) throws {
        var e = entries[sequence] ?? Entry(blocks: [], length: 0)
        let need = blocksNeeded(positions: positions) - e.blocks.count
        if need > 0 {
            guard need <= freeBlocks.count else {
                throw ModelError.cacheFull(sequence: sequence, neededBlocks: need, freeBlocks: freeBlocks.count)
            }
            for _ in 0..<need { e.blocks.append(freeBlocks.removeLast()) }
        }
        entries[sequence] = e
    }

    /// Returns a sequence's blocks to the free list.
    public func release(sequence: Int) {
        guard let e = entries.removeValue(forKey: sequence) else { return }
        freeBlocks.append(contentsOf: e.blocks.reversed())
    }

    public func contains(sequence: Int) -> Bool { entries[sequence] != nil }
    public func length(of sequence: Int) -> Int { entries[sequence]?.length ?? 0 }
    public func reservedPositions(of sequence: Int) -> Int { (entries[sequence]?.blocks.count ?? 0) * blockSize }

    /// Forgets positions at and after `length` (their blocks stay reserved).
    public func truncate(sequence: Int, to length: Int) {
        guard var e = entries[sequence] else { return }
        e.length = min(e.length, max(0, length))
        entries[sequence] = e
    }

    func setLength(sequence: Int, _ n: Int) {
        entries[sequence]?.length = n
    }

    /// Pointer to the key row of (sequence, global layer, position); values follow at +B·KV floats.
    func keyRow(sequence: Int, layer: Int, position: Int) throws -> UnsafeMutablePointer<Float> {
        guard let e = entries[sequence] else { throw ModelError.unknownSequence(sequence) }
        let bi = position / blockSize
        guard bi < e.blocks.count else {
            throw ModelError.cacheFull(sequence: sequence, neededBlocks: bi + 1 - e.blocks.count, freeBlocks: freeBlocks.count)
        }
        return rowPointer(block: Int(e.blocks[bi]), layer: layer, offset: position % blockSize)
    }

    @inline(__always)
    private func rowPointer(block: Int, layer: Int, offset: Int) -> UnsafeMutablePointer<Float> {
        let l = layer - layerRange.lowerBound
        // block b, layer l, keys: [L][2][B][KV]
        return storage + block * blockFloats + (l * 2 * blockSize + offset) * kvDim
    }

    /// Fills `runs` with the cached keys/values of positions 0..<count of (sequence, layer), one run
    /// per block; returns how many runs. `runs` must hold blocksNeeded(count) entries.
    func runs(sequence: Int, layer: Int, count: Int, into runs: UnsafeMutablePointer<KVRun>) throws -> Int {
        guard let e = entries[sequence] else { throw ModelError.unknownSequence(sequence) }
        var left = count, i = 0
        while left > 0 {
            let k = rowPointer(block: Int(e.blocks[i]), layer: layer, offset: 0)
            let n = min(left, blockSize)
            runs[i] = KVRun(keys: UnsafePointer(k), values: UnsafePointer(k + blockSize * kvDim), count: n)
            left -= n; i += 1
        }
        return i
    }
}
