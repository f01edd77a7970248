// Ranking tokens by logit without ties: each (value, id) pair becomes one UInt64 whose integer
// order is "value descending, then id ascending". With every key distinct, the top-k edge, the
// top-p nucleus and the top-logprobs list have exactly one answer, whatever the algorithm does
// with equal logits, so results never depend on sort stability or on which algorithm ran.
//
// Layout: bits 63...32 = the Float's bits mapped to an unsigned order (larger value, larger key),
//         bits 31...0  = UInt32.max - id (smaller id, larger key).
// Values must not be NaN (callers map NaN to -inf first); -0.0 is ranked as +0.0.
//
// The sort and selections here allocate nothing (the hot path promises that); the quicksort-based
// ones fall back to heapsort when partitions go badly, so their worst case is O(n log n).

enum RankedKey {
    /// The Float's bits as an unsigned integer with the same order (the key's upper half).
    @inline(__always)
    static func orderKey(_ value: Float) -> UInt32 {
        let bits = (value + 0).bitPattern   // + 0 turns -0.0 into +0.0
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    @inline(__always)
    static func make(_ value: Float, _ id: Int) -> UInt64 {
        UInt64(orderKey(value)) << 32 | UInt64(UInt32.max - UInt32(truncatingIfNeeded: id))
    }

    @inline(__always)
    static func id(_ key: UInt64) -> Int { Int(UInt32.max - UInt32(truncatingIfNeeded: key)) }

    @inline(__always)
    static func value(_ key: UInt64) -> Float {
        let ordered = UInt32(truncatingIfNeeded: key >> 32)
        return Float(bitPattern: ordered & 0x8000_0000 != 0 ? ordered & 0x7FFF_FFFF : ~ordered)
    }

    /// Ranges this short are finished by insertion sort.
    static let insertionSortLimit = 16

    /// Sorts `keys` into descending order.
    static func sortDescending(_ keys: UnsafeMutableBufferPointer<UInt64>) {
        guard let base = keys.baseAddress, keys.count > 1 else { return }
        quicksort(base, 0, keys.count, depthLimit: 2 * log2Floor(keys.count) + 2)
    }

    /// Largest heap `kthLargestValue` builds; beyond it a radix select is faster (a big heap's
    /// sift-downs miss the cache and mispredict, while radix select costs ~3 passes whatever k is).
    static let heapSelectLimit = 512
    /// Buckets per radix-select pass (11 bits of the 32-bit order key).
    static let radixBuckets = 2048

    /// The k-th largest of values[0..<count] (k in 1...count). Both strategies return exactly that
    /// value, so which one runs never changes a result.
    /// heap: scratch for min(k, count - k + 1) keys when that is ≤ heapSelectLimit.
    /// histogram: scratch for radixBuckets counters.
    static func kthLargestValue(_ values: UnsafePointer<Float>, count: Int, k: Int,
                                heap: UnsafeMutablePointer<UInt64>, histogram: UnsafeMutablePointer<Int32>) -> Float {
        let fromBelow = count - k + 1
        if k <= heapSelectLimit && k <= fromBelow {
            return heapSelect(values, count: count, size: k, heap: heap, smallest: false)
        }
        if fromBelow <= heapSelectLimit {
            return heapSelect(values, count: count, size: fromBelow, heap: heap, smallest: true)
        }
        return radixSelect(values, count: count, k: k, histogram: histogram)
    }

    /// One heap of the `size` best keys seen so far (or, if `smallest`, the `size` worst): most
    /// values lose a single comparison against the root, about one compare per value.
    /// Returns the root's value: the size-th largest (smallest). Smallest keys are kept as
    /// complemented keys, so that one min-heap serves both.
    @inline(__always)
    private static func heapSelect(_ values: UnsafePointer<Float>, count: Int, size: Int,
                                   heap: UnsafeMutablePointer<UInt64>, smallest: Bool) -> Float {
        @inline(__always) func heapKey(_ x: Float, _ i: Int) -> UInt64 { smallest ? ~make(x, i) : make(x, i) }
        @inline(__always) func rootValue() -> Float { value(smallest ? ~heap[0] : heap[0]) }
        for i in 0..<size { heap[i] = heapKey(values[i], i) }
        var i = size / 2 - 1
        while i >= 0 { siftDownMin(heap, i, size); i -= 1 }
        var edge = rootValue()   // values strictly beyond the edge cannot enter
        for i in size..<count {
            let x = values[i]
            if smallest ? x > edge : x < edge { continue }
            let key = heapKey(x, i)
            if key > heap[0] {
                heap[0] = key
                siftDownMin(heap, 0, size)
                edge = rootValue()
            }
        }
        return rootValue()
    }

    /// Most significant digit first radix select on the 32-bit order key of each value: each pass
    /// counts the values that share the digits found so far, by their next 11 (then 11, then 10)
    /// bits, and walks the counts down from the top to the bucket holding the k-th largest.
    static func radixSelect(_ values: UnsafePointer<Float>, count: Int, k: Int,
                            histogram: UnsafeMutablePointer<Int32>) -> Float {
        var prefix: UInt32 = 0, prefixMask: UInt32 = 0
        var remaining = Int32(truncatingIfNeeded: k)
        for pass in 0..<3 {
            let shift: UInt32 = pass == 0 ? 21 : pass == 1 ? 10 : 0   // digits: 31...21, 20...10, 9...0
            let buckets = pass == 2 ? 1024 : radixBuckets
            let digitMask = UInt32(buckets - 1)
            for b in 0..<buckets { histogram[b] = 0 }
            for i in 0..<count {
                let key = orderKey(values[i])
                if key & prefixMask == prefix { histogram[Int((key >> shift) & digitMask)] &+= 1 }
            }
            var b = buckets - 1
            while histogram[b] < remaining { remaining -= histogram[b]; b -= 1 }
            prefix |= UInt32(b) << shift
            prefixMask |= digitMask << shift
        }
        return Float(bitPattern: prefix & 0x8000_0000 != 0 ? prefix & 0x7FFF_FFFF : ~prefix)
    }

    static func log2Floor(_ n: Int) -> Int { Int.bitWidth - 1 - n.leadingZeroBitCount }

    private static func quicksort(_ a: UnsafeMutablePointer<UInt64>, _ lo: Int, _ hi: Int, depthLimit: Int) {
        var lo = lo, hi = hi, depth = depthLimit
        while hi - lo > insertionSortLimit {
            if depth == 0 { heapsort(a, lo, hi); return }
            depth -= 1
            let p = partition(a, lo, hi)
            // Recurse into the smaller side, loop on the larger: stack depth stays O(log n).
            if p - lo < hi - p - 1 {
                quicksort(a, lo, p, depthLimit: depth); lo = p + 1
            } else {
                quicksort(a, p + 1, hi, depthLimit: depth); hi = p
            }
        }
        insertionSort(a, lo, hi)
    }

    /// Lomuto partition of a[lo..<hi] around the median of three; returns the pivot's final index,
    /// with larger keys before it and smaller after (keys are distinct). Branch-free inner loop:
    /// every element is swapped and `store` advances only past larger ones, because on random keys
    /// a branch here is mispredicted half the time.
    @inline(__always)
    private static func partition(_ a: UnsafeMutablePointer<UInt64>, _ lo: Int, _ hi: Int) -> Int {
        let mid = lo + (hi - lo) / 2, last = hi - 1
        if a[mid] > a[lo] { a.swapAt(mid, lo) }
        if a[last] > a[lo] { a.swapAt(last, lo) }
        if a[last] > a[mid] { a.swapAt(last, mid) }
        // Now a[lo] ≥ a[mid] ≥ a[last]: the median is at mid; park it at the end.
        a.swapAt(mid, last)
        let pivot = a[last]
        var store = lo
        for i in lo..<last {
            let x = a[i]
            a[i] = a[store]
            a[store] = x
            store &+= x > pivot ? 1 : 0
        }
        a.swapAt(store, last)
        return store
    }

    private static func insertionSort(_ a: UnsafeMutablePointer<UInt64>, _ lo: Int, _ hi: Int) {
        guard hi - lo > 1 else { return }
        for i in (lo + 1)..<hi {
            let key = a[i]
            var j = i
            while j > lo && a[j - 1] < key { a[j] = a[j - 1]; j -= 1 }
            a[j] = key
        }
    }

    /// Restores the min-heap property of h[0..<end] below `start`.
    @inline(__always)
    private static func siftDownMin(_ h: UnsafeMutablePointer<UInt64>, _ start: Int, _ end: Int) {
        var root = start
        while true {
            var child = 2 * root + 1
            if child >= end { return }
            if child + 1 < end && h[child + 1] < h[child] { child += 1 }
            if h[child] < h[root] { h.swapAt(child, root); root = child } else { return }
        }
    }

    /// Descending heapsort of a[lo..<hi] through a min-heap: each step moves the smallest to the end.
    private static func heapsort(_ a: UnsafeMutablePointer<UInt64>, _ lo: Int, _ hi: Int) {
        let h = a + lo, n = hi - lo
        var i = n / 2 - 1
        while i >= 0 { siftDownMin(h, i, n); i -= 1 }
        var end = n - 1
        while end > 0 {
            h.swapAt(0, end)
            siftDownMin(h, 0, end)
            end -= 1
        }
    }
}

// MARK: - Nucleus (top-p) selection

extension RankedKey {
    /// Weight of one key's logit: exp((value - shift) · scale), as ExpKernel computes it.
    @inline(__always)
    static func weight(_ key: UInt64, shift: Double, scale: Double) -> Double {
        ExpKernel.expNonPositive((Double(value(key)) - shift) * scale)
    }

    /// Σ weight over keys[0..<count], in ExpKernel's chunk order.
    static func mass(_ keys: UnsafePointer<UInt64>, count: Int, shift: Double, scale: Double) -> Double {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: ExpKernel.blockSize) { buffer in
            let values = buffer.baseAddress!
            var total = 0.0
            var start = 0
            while start < count {
                let n = min(ExpKernel.blockSize, count - start)
                for j in 0..<n { values[j] = value(keys[start + j]) }
                total += ExpKernel.sum(values, count: n, shift: shift, scale: scale, chunkSums: nil)
                start += n
            }
            return total
        }
    }

    /// Rearranges `keys` so that its first n entries are the nucleus, the fewest largest keys
    /// whose weights add up to at least `target`, and returns n (all keys when rounding leaves the
    /// total short). Sampling needs the set, not its order, so this is a quickselect guided by
    /// mass: expected O(count) instead of sorting. The chosen set depends only on the keys.
    static func selectNucleus(_ keys: UnsafeMutableBufferPointer<UInt64>, target: Double,
                              shift: Double, scale: Double) -> Int {
        guard let a = keys.baseAddress, !keys.isEmpty else { return 0 }
        var lo = 0, hi = keys.count
        var above = 0.0   // mass of keys[0..<lo], all larger than anything in lo..<hi
        var depth = 2 * log2Floor(keys.count) + 2
        while hi - lo > insertionSortLimit && depth > 0 {
            depth -= 1
            let p = partition(a, lo, hi)
            let upper = above + mass(a + lo, count: p - lo, shift: shift, scale: scale)
            if upper >= target { hi = p; continue }
            let withPivot = upper + weight(a[p], shift: shift, scale: scale)
            if withPivot >= target { return p + 1 }
            above = withPivot
            lo = p + 1
        }
        // A short (or stubborn) range is left: order it and walk it.
        sortDescending(UnsafeMutableBufferPointer(start: a + lo, count: hi - lo))
        for j in lo..<hi {
            above += weight(a[j], shift: shift, scale: scale)
            if above >= target { return j + 1 }
        }
        return hi
    }
}

private extension UnsafeMutablePointer where Pointee == UInt64 {
    @inline(__always)
    func swapAt(_ i: Int, _ j: Int) { let t = self[i]; self[i] = self[j]; self[j] = t }
}
