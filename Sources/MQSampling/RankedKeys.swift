// Ranking tokens by logit without ties: each (value, id) pair becomes one UInt64 whose integer
// order is "value descending, then id ascending". With every key distinct, top-k selection,
// top-p sorting and the top-logprobs list have exactly one answer, whatever the algorithm does
// with equal logits, so results never depend on sort stability.
//
// Layout: bits 63...32 = the Float's bits mapped to an unsigned order (larger value, larger key),
//         bits 31...0  = UInt32.max - id (smaller id, larger key).
// Values must not be NaN (callers map NaN to -inf first); -0.0 is ranked as +0.0.
//
// The sort and selection here allocate nothing (the hot path promises that) and fall back to
// heapsort when quicksort partitions go badly, so their worst case is O(n log n).

enum RankedKey {
    @inline(__always)
    static func make(_ value: Float, _ id: Int) -> UInt64 {
        let bits = (value + 0).bitPattern   // + 0 turns -0.0 into +0.0
        let ordered = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return UInt64(ordered) << 32 | UInt64(UInt32.max - UInt32(truncatingIfNeeded: id))
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

    /// Rearranges `keys` so that keys[rank - 1] is the rank-th largest, everything before it is
    /// larger and everything after it smaller (rank in 1...count).
    static func selectDescending(_ keys: UnsafeMutableBufferPointer<UInt64>, rank: Int) {
        guard let a = keys.baseAddress, rank >= 1, rank <= keys.count else { return }
        let target = rank - 1
        var lo = 0, hi = keys.count
        var depth = 2 * log2Floor(keys.count) + 2
        while hi - lo > insertionSortLimit {
            if depth == 0 { heapsort(a, lo, hi); return }
            depth -= 1
            let p = partition(a, lo, hi)
            if p == target { return }
            if target < p { hi = p } else { lo = p + 1 }
        }
        insertionSort(a, lo, hi)
    }

    private static func log2Floor(_ n: Int) -> Int { Int.bitWidth - 1 - n.leadingZeroBitCount }

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
    /// with larger keys before it and smaller after (keys are distinct).
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
        for i in lo..<last where a[i] > pivot {
            a.swapAt(i, store)
            store += 1
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

    /// Descending heapsort of a[lo..<hi] through a min-heap: each step moves the smallest to the end.
    private static func heapsort(_ a: UnsafeMutablePointer<UInt64>, _ lo: Int, _ hi: Int) {
        let h = a + lo, n = hi - lo
        func siftDown(_ start: Int, _ end: Int) {
            var root = start
            while true {
                var child = 2 * root + 1
                if child >= end { return }
                if child + 1 < end && h[child + 1] < h[child] { child += 1 }
                if h[child] < h[root] { h.swapAt(child, root); root = child } else { return }
            }
        }
        var i = n / 2 - 1
        while i >= 0 { siftDown(i, n); i -= 1 }
        var end = n - 1
        while end > 0 {
            h.swapAt(0, end)
            siftDown(0, end)
            end -= 1
        }
    }
}

private extension UnsafeMutablePointer where Pointee == UInt64 {
    @inline(__always)
    func swapAt(_ i: Int, _ j: Int) { let t = self[i]; self[i] = self[j]; self[j] = t }
}
