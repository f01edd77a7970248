// The scheduler's side of the prefix cache (PROTOCOL.md 6.8). The coordinator decides, for every
// stage at once, which full prompt blocks are kept, which a new call reuses and which are evicted;
// the steps carry those decisions to every stage in order, so all stages hold the same blocks and
// reuse the same prefix length. A call reuses at most its prompt's full blocks before its last
// token (the last stage needs a computed row to sample from), reserves KV only for the rest, and
// offers its prompt's full blocks to the cache once its prefill is done. A kept block belongs to
// the cache, not to the call's reservation: admission counts reserved + cached blocks against
// each stage's capacity and evicts unused cached blocks, least recently used first, to make room
// — never a block a call uses, so an admitted call always finds its space.
import MQProtocol

extension Scheduler {
    /// The block size the cache works in, creating the index on first use; nil when the cache is
    /// off, the stages' block sizes differ or a stage's worker speaks a protocol older than 1.4
    /// (then nothing is kept or reused).
    mutating func preparePrefix(_ capacities: [(tokens: Int, block: Int)]) -> Int? {
        guard settings.prefixCache, let block = capacities.first?.block, capacities.allSatisfy({ $0.block == block }),
              (0..<settings.stages).allSatisfy({ s in
                  cluster.worker(atStage: s).map { $0.version.major > 1 || ($0.version.major == 1 && $0.version.minor >= 4) } ?? false
              }) else {
            if prefix != nil { prefix = nil }
            return nil
        }
        if prefix?.blockTokens != block {
            if prefix != nil { resetPrefix() }
            prefix = PrefixIndex(blockTokens: block)
        }
        return block
    }

    /// The cached blocks `call` can start with (empty when it must prefill everything: a call that
    /// asks for prompt logprobs has every prompt position scored, so it reuses nothing).
    mutating func prefixHits(_ call: CallState, block: Int) -> [UInt64] {
        guard let prefix, call.position == 0, !call.scoresPrompt else { return [] }
        let hashes = promptHashes(call, block: block)
        // At least the last input token is computed, so the last stage has a row to sample.
        let n = prefix.match(call.prompt, hashes: hashes, limit: (call.nextInput.count - 1) / block)
        return Array(hashes.prefix(n))
    }

    func promptHashes(_ call: CallState, block: Int) -> [UInt64] {
        if let h = call.promptBlockHashes { return h }
        let h = PrefixIndex.hashes(of: call.prompt, blocks: call.prompt.count / block, blockTokens: block)
        call.promptBlockHashes = h
        return h
    }

    /// `call` starts with the cached blocks `hits`: it feeds only what follows them.
    mutating func reuse(_ hits: [UInt64], block: Int, by call: CallState) {
        prefix?.reference(hits)
        call.prefixRefs = hits
        call.reusedBlocks = hits
        call.prefixStart = hits.count * block
        call.position = call.prefixStart
        call.nextInput.removeFirst(call.prefixStart)
        counters.prefixHits += 1
        counters.prefixHitTokens += UInt64(call.prefixStart)
    }

    /// After `call`'s prefill: its prompt's full blocks not cached yet join the cache (every stage
    /// keeps them with the next step), and leave its reservation.
    mutating func keepPrefix(_ call: CallState) {
        call.prefixKept = true
        guard var index = prefix, settings.prefixCache else { return }
        let block = index.blockTokens
        let hashes = promptHashes(call, block: block)
        for i in call.reusedBlocks.count..<hashes.count where !evictionsInDoubt.contains(hashes[i]) {
            let tokens = call.prompt[(i * block)..<((i + 1) * block)]
            guard index.insert(hash: hashes[i], parent: i == 0 ? nil : hashes[i - 1], tokens: tokens, depth: i) else { continue }
            call.prefixRefs.append(hashes[i])
            pendingCacheBlocks.append(CachedBlock(seqID: call.seqID, blockIndex: UInt32(i), hash: hashes[i]))
            for s in call.reservation.indices where s < reserved.count {
                call.reservation[s] -= block
                reserved[s] -= block
            }
        }
        prefix = index
    }

    /// `call` ended: the cached blocks it used stay resident, unused by it.
    mutating func releasePrefix(_ call: CallState) {
        guard !call.prefixRefs.isEmpty else { return }
        prefix?.unreference(call.prefixRefs)
        call.prefixRefs = []
    }

    /// Every stage dropped its caches (a new epoch): so does the index, and the admitted calls'
    /// reservations are recomputed at the next admission (their prompts are no longer cached).
    mutating func resetPrefix() {
        prefix?.removeAll()
        pendingCacheBlocks.removeAll()
        pendingEvictions.removeAll()
        evictionsInDoubt.removeAll()
        for call in arrival { call.forgetPrefix() }
        resetReservations = true
    }

    /// Each admitted call reserves its whole need again, in arrival order; one that no longer fits
    /// (its prefix was shared, or a replacement worker holds less) waits for admission again.
    mutating func recomputeReservations(_ capacities: [(tokens: Int, block: Int)]) {
        resetReservations = false
        reserved = Array(repeating: 0, count: settings.stages)
        for call in arrival where !call.ended && call.admitted {
            let n = call.prompt.count + call.output.maxNewTokens
            let need = capacities.map { (n + $0.block - 1) / $0.block * $0.block }
            if call.inStep || need.indices.allSatisfy({ reserved[$0] + need[$0] <= capacities[$0].tokens }) {
                for s in need.indices { reserved[s] += need[s] }
                call.reservation = need
            } else {
                call.reservation = []
                call.admitted = false
            }
        }
    }
}
