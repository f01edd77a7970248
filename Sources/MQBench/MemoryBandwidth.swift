// Streaming-read bandwidth of this machine, measured the way decoding reads weights: each thread
// sums its own contiguous slice of a buffer far larger than the last-level cache. Benchmarks report
// their achieved GB/s against this number, measured in the same run.
import Foundation

public enum MemoryBandwidth {
    /// Default buffer: 1 GiB, well past any last-level cache.
    public static let defaultBytes = 1 << 30

    /// Best of `repeats` passes, in bytes per second.
    public static func measure(threads: Int, bytes: Int = defaultBytes, repeats: Int = 3) -> Double {
        let n = bytes / 4
        let buf = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { buf.deallocate() }
        // Touch every page first (and with threads, so pages are spread as the read will use them).
        run(threads: threads, n: n, buf: buf) { p, c in p.update(repeating: 1, count: c); return 1 }
        var best = 0.0
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let s = run(threads: threads, n: n, buf: buf) { p, c in sumStream(p, c) }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            precondition(s > 0)   // keeps the sum alive
            best = max(best, Double(n * 4) / dt)
        }
        return best
    }

    /// Runs `body` over `threads` contiguous slices of buf[0..<n] on their own threads; sums results.
    @discardableResult
    static func run(threads: Int, n: Int, buf: UnsafeMutablePointer<Float>? = nil,
                    _ body: @escaping @Sendable (UnsafeMutablePointer<Float>, Int) -> Float) -> Float {
        let slice = (n + threads - 1) / threads
        let results = UnsafeMutablePointer<Float>.allocate(capacity: threads)
        defer { results.deallocate() }
        let group = DispatchGroup()
        let box = Box(buf: buf, results: results)
        for t in 0..<threads {
            group.enter()
            let th = Thread {
                if let b = box.buf {
                    let start = t * slice, count = max(0, min(slice, n - start))
                    box.results[t] = body(b + start, count)
                }
                group.leave()
            }
            th.start()
        }
        group.wait()
        return (0..<threads).reduce(0) { $0 + results[$1] }
    }

    /// Pointers handed to worker threads; each thread touches only its own slice and result slot.
    struct Box: @unchecked Sendable {
        var buf: UnsafeMutablePointer<Float>?
        var results: UnsafeMutablePointer<Float>
    }

    @inline(never)
    static func sumStream(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        var a0 = SIMD8<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        var i = 0
        while i + 32 <= n {
            a0 += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            a1 += UnsafeRawPointer(p + i + 8).loadUnaligned(as: SIMD8<Float>.self)
            a2 += UnsafeRawPointer(p + i + 16).loadUnaligned(as: SIMD8<Float>.self)
            a3 += UnsafeRawPointer(p + i + 24).loadUnaligned(as: SIMD8<Float>.self)
            i += 32
        }
        var s = (a0 + a1 + a2 + a3).sum()
        while i < n { s += p[i]; i += 1 }
        return s
    }
}
