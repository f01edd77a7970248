// The coordinator's record of the prefix cache (PROTOCOL.md 6.8): which full KV blocks every stage
// keeps, by hash, how many calls use each, and which to evict first. The coordinator decides
// everything about the cache (stages only do what steps tell them: keep, reuse, evict), so every
// stage holds the same blocks, every stage reuses the same prefix length, and admission can count
// exactly the blocks a call adds. Pure value type, no clock: recency is a use counter.
//
// A block's hash chains its token ids with the hash of the block before it (vLLM's scheme), so a
// hash names a whole prefix; entries also keep their tokens and parent, and a lookup compares
// them, so a hash collision costs a miss, never a wrong reuse.
import MQProtocol

struct PrefixIndex {
    struct Entry {
        let parent: UInt64?
        let tokens: [Int]
        /// Block index in the prefix (0 first): deeper blocks are evicted first among equals, so a
        /// prefix shrinks from its end and its remaining blocks stay reachable.
        let depth: Int
        /// Calls using the block (reusing it, or the call that computed it until it ends).
        var refs: Int
        var lastUse: UInt64
    }

    let blockTokens: Int
    private(set) var entries: [UInt64: Entry] = [:]
    private var useCounter: UInt64 = 0

    init(blockTokens: Int) {
        precondition(blockTokens > 0, "a block holds at least one position")
        self.blockTokens = blockTokens
    }

    /// Blocks every stage keeps.
    var count: Int { entries.count }
    /// Blocks no call uses (evictable).
    var unreferenced: Int { entries.values.reduce(0) { $0 + ($1.refs == 0 ? 1 : 0) } }
    var referenceCount: Int { entries.values.reduce(0) { $0 + $1.refs } }

    /// The chained hashes of the first `blocks` full blocks of `tokens`.
    static func hashes(of tokens: [Int], blocks: Int, blockTokens: Int) -> [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(blocks)
        var parent: UInt64 = 0x6D71_7072_6566_6978    // "mqprefix": the hash before block 0
        for b in 0..<blocks {
            parent = blockHash(parent: parent, tokens[(b * blockTokens)..<((b + 1) * blockTokens)])
            out.append(parent)
        }
        return out
    }

    /// FNV-1a over the parent hash and the token ids, then SplitMix64's finalizer.
    static func blockHash(parent: UInt64, _ tokens: ArraySlice<Int>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ v: UInt64) {
            for shift in stride(from: 0, to: 64, by: 8) { h = (h ^ ((v >> UInt64(shift)) & 0xFF)) &* 0x100_0000_01B3 }
        }
        mix(parent)
        for t in tokens { mix(UInt64(truncatingIfNeeded: t)) }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }

    /// How many leading blocks of `tokens` (with `hashes`, their chained hashes) are cached, at
    /// most `limit`.
    func match(_ tokens: [Int], hashes: [UInt64], limit: Int) -> Int {
        var n = 0
        while n < min(limit, hashes.count), let e = entries[hashes[n]], e.depth == n,
              e.parent == (n == 0 ? nil : hashes[n - 1]),
              e.tokens.elementsEqual(tokens[(n * blockTokens)..<((n + 1) * blockTokens)]) {
            n += 1
        }
        return n
    }

    func contains(_ hash: UInt64) -> Bool { entries[hash] != nil }

    /// A call starts using cached blocks.
    mutating func reference(_ hashes: [UInt64]) {
        useCounter += 1
        for h in hashes {
            entries[h]?.refs += 1
            entries[h]?.lastUse = useCounter
        }
    }

    /// A call stops using blocks (unknown hashes are ignored).
    mutating func unreference(_ hashes: [UInt64]) {
        useCounter += 1
        for h in hashes where entries[h] != nil {
            precondition(entries[h]!.refs > 0, "prefix block \(h) released more often than used")
            entries[h]!.refs -= 1
            entries[h]!.lastUse = useCounter
        }
    }

    /// Records block `depth` of a prefix, computed by a call that keeps using it (refs 1). False
    /// when the hash is already cached.
    mutating func insert(hash: UInt64, parent: UInt64?, tokens: ArraySlice<Int>, depth: Int) -> Bool {
        guard entries[hash] == nil else { return false }
        useCounter += 1
        entries[hash] = Entry(parent: parent, tokens: Array(tokens), depth: depth, refs: 1, lastUse: useCounter)
        return true
    }

    /// Removes `count` blocks no call uses, least recently used first (the deepest first among
    /// equals), none of `keep`; nil (nothing removed) if there are not that many.
    mutating func evict(_ count: Int, keeping keep: Set<UInt64> = []) -> [UInt64]? {
        guard count > 0 else { return [] }
        let candidates = entries.filter { $0.value.refs == 0 && !keep.contains($0.key) }
        guard candidates.count >= count else { return nil }
        let victims = candidates.sorted {
            ($0.value.lastUse, -$0.value.depth, $0.key) < ($1.value.lastUse, -$1.value.depth, $1.key)
        }.prefix(count).map(\.key)
        for h in victims { entries[h] = nil }
        return victims
    }

    /// Forgets everything (every stage dropped its cache: a new epoch).
    mutating func removeAll() { entries.removeAll() }
}
