// The BPE model: vocabulary, ranked merges, and the merge loop of tokenizers' `Word::merge_all`
// (a priority queue on (rank, position), stale entries skipped), with a bounded word cache.
//
// Options follow tokenizers: `ignore_merges` (a word found whole in the vocabulary is one token),
// `continuing_subword_prefix` / `end_of_word_suffix`, `byte_fallback` (`<0xXX>` tokens for unknown
// characters), `unk_token` with `fuse_unk`; without an unk token unknown characters are dropped.

import Foundation

final class BPEModel: Sendable {
    /// Words at most this long (in scalars) are cached, as in tokenizers.
    static let maxCachedWordLength = 256
    /// The cache stops growing at this many words; it is never evicted (deterministic memory bound).
    static let cacheCapacity = 100_000

    /// token bytes -> id
    let vocab: [TokenKey: Int]
    /// id -> token
    let vocabR: [Int: String]
    /// Single-scalar tokens, the common initial symbols (only used without prefix/suffix).
    private let scalarIds: [UInt32: Int]
    /// (left << 32 | right) -> (rank << 32 | new id)
    private let merges: [UInt64: UInt64]
    private let unkId: Int?
    private let fuseUnk: Bool
    private let byteFallback: Bool
    private let ignoreMerges: Bool
    private let prefix: String?
    private let suffix: String?
    private let byteFallbackIds: [Int]?
    private let cache = WordCache()

    var vocabSize: Int { vocab.count }

    init(json: JSONCursor) throws {
        if let dropout = try json.optionalField("dropout"), try dropout.number() != 0 {
            throw dropout.unsupported("BPE dropout (it makes encoding random)")
        }
        // Vocabulary.
        var vocab: [TokenKey: Int] = [:]
        var vocabR: [Int: String] = [:]
        let vocabJSON = try json.requiredField("vocab")
        let entries = try vocabJSON.objectEntries()
        vocab.reserveCapacity(entries.count)
        for (token, value) in entries {
            let id = try value.tokenId()
            vocab[TokenKey(token)] = id
            vocabR[id] = token
        }
        self.vocab = vocab
        self.vocabR = vocabR

        prefix = try json.optionalField("continuing_subword_prefix")?.string()
        suffix = try json.optionalField("end_of_word_suffix")?.string()
        fuseUnk = try json.bool("fuse_unk", default: false)
        byteFallback = try json.bool("byte_fallback", default: false)
        ignoreMerges = try json.bool("ignore_merges", default: false)
        if let unk = try json.optionalField("unk_token") {
            let token = try unk.string()
            guard let id = vocab[TokenKey(token)] else { throw unk.invalid("unk_token \(token.debugDescription) is not in model.vocab") }
            unkId = id
        } else {
            unkId = nil
        }
        if byteFallback {
            byteFallbackIds = (0..<256).map { b in vocab[TokenKey(String(format: "<0x%02X>", b))] ?? -1 }
        } else {
            byteFallbackIds = nil
        }

        var scalarIds: [UInt32: Int] = [:]
        for (key, id) in vocab {
            let s = String(decoding: key.bytes, as: UTF8.self).unicodeScalars
            if s.count == 1 { scalarIds[s.first!.value] = id }
        }
        self.scalarIds = scalarIds

        // Merges: "a b" strings (lines starting with "#version" skipped) or [a, b] pairs.
        let prefixBytes = prefix.map { Array($0.utf8) } ?? []
        var merges: [UInt64: UInt64] = [:]
        let mergesJSON = try json.optionalField("merges")?.array() ?? []
        merges.reserveCapacity(mergesJSON.count)
        var rank: UInt64 = 0
        for item in mergesJSON {
            let a: String, b: String
            switch item.value {
            case let .string(line):
                if line.hasPrefix("#version") { continue }
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw item.invalid("expected \"a b\" or [a, b]") }
                a = String(parts[0]); b = String(parts[1])
            case let .array(pair):
                guard pair.count == 2, case let .string(x) = pair[0], case let .string(y) = pair[1] else {
                    throw item.invalid("expected \"a b\" or [a, b]")
                }
                a = x; b = y
            default:
                throw item.invalid("expected \"a b\" or [a, b]")
            }
            guard let aId = vocab[TokenKey(a)] else { throw item.invalid("merge token \(a.debugDescription) is not in model.vocab") }
            guard let bId = vocab[TokenKey(b)] else { throw item.invalid("merge token \(b.debugDescription) is not in model.vocab") }
            var newBytes = Array(a.utf8)
            let bBytes = Array(b.utf8)
            if bBytes.starts(with: prefixBytes) {
                newBytes += bBytes[prefixBytes.count...]
            } else {
                newBytes += bBytes
            }
            guard let newId = vocab[TokenKey(bytes: newBytes)] else {
                throw item.invalid("merged token \(String(decoding: newBytes, as: UTF8.self).debugDescription) is not in model.vocab")
            }
            merges[UInt64(aId) << 32 | UInt64(bId)] = rank << 32 | UInt64(newId)
            rank += 1
        }
        self.merges = merges
    }

    /// Appends the ids of one pre-tokenized word.
    func tokenize(_ word: [Unicode.Scalar], into out: inout [Int]) {
        if word.isEmpty { return }
        let cacheable = word.count <= BPEModel.maxCachedWordLength
        if cacheable, let hit = cache.get(word) {
            out.append(contentsOf: hit)
            return
        }
        var ids: [Int]
        if ignoreMerges, let id = vocab[TokenKey(bytes: utf8(word[...]))] {
            ids = [id]
        } else {
            ids = mergeWord(word)
        }
        if cacheable { cache.put(word, ids) }
        out.append(contentsOf: ids)
    }

    private func utf8(_ s: ArraySlice<Unicode.Scalar>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.count)
        for c in s { bytes.append(contentsOf: UTF8.encode(c)!) }
        return bytes
    }

    /// Initial symbols per scalar (with prefix/suffix, byte fallback, unk), then the merge loop.
    private func mergeWord(_ word: [Unicode.Scalar]) -> [Int] {
        var symbols: [Int] = []
        symbols.reserveCapacity(word.count)
        var pendingUnk: Int? = nil
        for (i, s) in word.enumerated() {
            let id: Int?
            var bytes: [UInt8]? = nil
            if prefix == nil && suffix == nil {
                id = scalarIds[s.value]
            } else {
                var b: [UInt8] = []
                if i > 0, let p = prefix { b += p.utf8 }
                b += UTF8.encode(s)!
                if i == word.count - 1, let x = suffix { b += x.utf8 }
                bytes = b
                id = vocab[TokenKey(bytes: b)]
            }
            if let id {
                if let u = pendingUnk { symbols.append(u); pendingUnk = nil }
                symbols.append(id)
                continue
            }
            if let table = byteFallbackIds {
                let b = bytes ?? Array(UTF8.encode(s)!)
                let ids = b.map { table[Int($0)] }
                if !ids.contains(-1) {
                    // tokenizers does not flush a pending unk here, so it lands after these bytes.
                    symbols.append(contentsOf: ids)
                    continue
                }
            }
            if let unk = unkId {
                if pendingUnk != nil && !fuseUnk { symbols.append(unk) }
                pendingUnk = unk
            }
        }
        if let u = pendingUnk { symbols.append(u) }
        if symbols.count < 2 || merges.isEmpty { return symbols }
        return mergeAll(symbols)
    }

    private struct QueueEntry {
        var rank: UInt32
        var pos: Int32
        /// Token ids go up to UInt32.max (JSONCursor.tokenId): as an Int32, an id from 2^31 on turned
        /// negative and trapped in `lookup` (found by probing fuzz-tokenizer-json).
        var newId: UInt32
        @inline(__always) func before(_ o: QueueEntry) -> Bool { rank != o.rank ? rank < o.rank : pos < o.pos }
    }

    /// tokenizers' `Word::merge_all` without dropout.
    private func mergeAll(_ initial: [Int]) -> [Int] {
        let n = initial.count
        var ids = initial
        var prev = [Int32](repeating: -1, count: n)
        var next = [Int32](repeating: -1, count: n)
        var alive = [Bool](repeating: true, count: n)
        for i in 0..<n {
            prev[i] = Int32(i - 1)
            next[i] = i + 1 < n ? Int32(i + 1) : -1
        }
        var heap: [QueueEntry] = []
        heap.reserveCapacity(n)

        func push(_ e: QueueEntry) {
            heap.append(e)
            var c = heap.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                if heap[c].before(heap[p]) { heap.swapAt(c, p); c = p } else { break }
            }
        }
        func pop() -> QueueEntry? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var p = 0
                while true {
                    let l = 2 * p + 1, r = l + 1
                    var m = p
                    if l < heap.count, heap[l].before(heap[m]) { m = l }
                    if r < heap.count, heap[r].before(heap[m]) { m = r }
                    if m == p { break }
                    heap.swapAt(p, m)
                    p = m
                }
            }
            return top
        }
        func lookup(_ a: Int, _ b: Int) -> (rank: UInt32, newId: UInt32)? {
            guard let m = merges[UInt64(a) << 32 | UInt64(b)] else { return nil }
            return (UInt32(m >> 32), UInt32(truncatingIfNeeded: m))
        }

        for i in 0..<(n - 1) {
            if let m = lookup(ids[i], ids[i + 1]) { push(QueueEntry(rank: m.rank, pos: Int32(i), newId: m.newId)) }
        }
        while let top = pop() {
            let pos = Int(top.pos)
            if !alive[pos] || next[pos] < 0 { continue }
            let right = Int(next[pos])
            guard let current = lookup(ids[pos], ids[right]), current.newId == top.newId else { continue }
            ids[pos] = Int(top.newId)
            alive[right] = false
            next[pos] = next[right]
            if next[right] >= 0 { prev[Int(next[right])] = Int32(pos) }
            if prev[pos] >= 0 {
                let p = Int(prev[pos])
                if let m = lookup(ids[p], ids[pos]) { push(QueueEntry(rank: m.rank, pos: Int32(p), newId: m.newId)) }
            }
            if next[pos] >= 0 {
                if let m = lookup(ids[pos], ids[Int(next[pos])]) { push(QueueEntry(rank: m.rank, pos: top.pos, newId: m.newId)) }
            }
        }
        var out: [Int] = []
        out.reserveCapacity(n)
        for i in 0..<n where alive[i] { out.append(ids[i]) }
        return out
    }
}

/// Word -> ids, shared by all threads encoding with one tokenizer.
final class WordCache: @unchecked Sendable {
    // Safety: `words` is only touched while holding `lock`.
    private let lock = NSLock()
    private var words: [[Unicode.Scalar]: [Int]] = [:]

    func get(_ word: [Unicode.Scalar]) -> [Int]? {
        lock.lock()
        defer { lock.unlock() }
        return words[word]
    }

    func put(_ word: [Unicode.Scalar], _ ids: [Int]) {
        lock.lock()
        defer { lock.unlock() }
        if words.count < BPEModel.cacheCapacity { words[word] = ids }
    }
}
