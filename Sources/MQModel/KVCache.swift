// The key/value cache of one process (all sequences, the layers it holds), in fixed-size blocks.
//
// Shapes: L = local layers (layerRange.count), B = tokens per block, KV = kvHeads · headDim.
//   block b: keys [L, B, KV] then values [L, B, KV] → stored as [L][2][B][KV] floats
// A token costs exactly 2 · KV · L floats: one KV head per layer for a multi-query model.
// Memory is reserved as one anonymous mapping of the byte budget; the kernel commits pages only
// when blocks are first written, so a large budget costs nothing until it is used.
//
// Prefix cache: a full block can be kept under a hash (its token ids chained with everything
// before it, chosen by the coordinator). Blocks are reference-counted: a new sequence may start
// with cached blocks (they are never written again, so no copy is needed), and a kept block whose
// last sequence is released stays resident until `evict` frees it.
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
    /// Sequences using each block (0 for a free block or a cached block nobody uses).
    private var refs: [Int32]
    /// Prefix cache: block by hash, and hash by block.
    private var cachedBlocks: [UInt64: Int32] = [:]
    private var hashOfBlock: [Int32: UInt64] = [:]
    /// Sequences that started with cached blocks, positions they reused, blocks evicted.
    public private(set) var prefixHits = 0
    public private(set) var prefixHitTokens = 0
    public private(set) var prefixEvictions = 0

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
    /// Blocks held in the prefix cache (in use or not).
    public var cachedBlockCount: Int { cachedBlocks.count }

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
        self.refs = Array(repeating: 0, count: blockCount)
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
            for _ in 0..<need {
                let b = freeBlocks.removeLast()
                refs[Int(b)] = 1
                e.blocks.append(b)
            }
        }
        entries[sequence] = e
    }

    /// Returns a sequence's blocks to the free list, except blocks another sequence uses or the
    /// prefix cache keeps.
    public func release(sequence: Int) {
        guard let e = entries.removeValue(forKey: sequence) else { return }
        for b in e.blocks.reversed() {
            refs[Int(b)] -= 1
            if refs[Int(b)] == 0 && hashOfBlock[b] == nil { freeBlocks.append(b) }
        }
    }

    // MARK: prefix cache

    /// Whether every block of `hashes` is cached.
    public func holds(prefix hashes: [UInt64]) -> Bool { hashes.allSatisfy { cachedBlocks[$0] != nil } }

    /// Starts a new `sequence` whose positions 0..<hashes.count·B are the cached blocks `hashes`.
    public func start(sequence: Int, prefix hashes: [UInt64]) throws {
        precondition(entries[sequence] == nil, "sequence \(sequence) already has a cache entry")
        var blocks: [Int32] = []
        blocks.reserveCapacity(hashes.count)
        for h in hashes {
            guard let b = cachedBlocks[h] else { throw ModelError.prefixNotCached(sequence: sequence, hash: h) }
            blocks.append(b)
        }
        for b in blocks { refs[Int(b)] += 1 }
        entries[sequence] = Entry(blocks: blocks, length: blocks.count * blockSize)
        prefixHits += 1
        prefixHitTokens += blocks.count * blockSize
    }

    /// Keeps block `index` of `sequence` in the prefix cache under `hash`; false (nothing done)
    /// when the sequence is unknown, the block not full yet, the block already kept, or the hash
    /// already cached.
    @discardableResult
    public func keep(sequence: Int, block index: Int, hash: UInt64) -> Bool {
        guard let e = entries[sequence], index >= 0, index < e.blocks.count, (index + 1) * blockSize <= e.length,
              cachedBlocks[hash] == nil else { return false }
        let b = e.blocks[index]
        guard hashOfBlock[b] == nil else { return false }
        cachedBlocks[hash] = b
        hashOfBlock[b] = hash
        return true
    }

    /// Frees the cached block `hash` if no sequence uses it; false otherwise (or when not cached).
    @discardableResult
    public func evict(hash: UInt64) -> Bool {
        guard let b = cachedBlocks[hash], refs[Int(b)] == 0 else { return false }
        cachedBlocks[hash] = nil
        hashOfBlock[b] = nil
        freeBlocks.append(b)
        prefixEvictions += 1
        return true
    }

    /// Forgets every cached block (those in use stay with their sequences until released);
    /// the counters start again.
    public func clearPrefixCache() {
        for (h, b) in cachedBlocks {
            cachedBlocks[h] = nil
            hashOfBlock[b] = nil
            if refs[Int(b)] == 0 { freeBlocks.append(b) }
        }
        prefixHits = 0
        prefixHitTokens = 0
        prefixEvictions = 0
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
