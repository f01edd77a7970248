// The stage's side of the prefix cache (Protos/PROTOCOL.md 6.8): the keeps, releases and
// evictions a step carries, applied in the order the coordinator decided them, and the counters
// its heartbeats report. Reusing cached blocks when a sequence starts is part of Stage.admit.
import MQProtocol

extension Stage {
    /// The prefix-cache work a step carries (PROTOCOL.md 6.8), in its order: keep the named full
    /// blocks, release the sequences, then evict the named cached blocks. Returns the sequences
    /// freed and the blocks kept and evicted.
    func housekeeping(_ step: Step) -> (freed: Int, kept: Int, evicted: Int) {
        var kept = 0, evicted = 0
        for c in step.cacheBlocks where cache.keep(sequence: Self.cacheKey(c.seqID), block: Int(c.blockIndex), hash: c.hash) {
            kept += 1
        }
        let freed = release(step.releaseSeqIDs)
        for h in step.evictBlockHashes where cache.evict(hash: h) { evicted += 1 }
        return (freed, kept, evicted)
    }

    var prefixStats: PrefixCacheStats {
        PrefixCacheStats(cachedBlocks: UInt64(cache.cachedBlockCount), hits: UInt64(cache.prefixHits),
                         hitTokens: UInt64(cache.prefixHitTokens), evictions: UInt64(cache.prefixEvictions))
    }
}
