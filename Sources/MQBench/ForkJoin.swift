// What one split of a product costs in synchronisation alone: `mq bench decode` reports it next to
// the decode rate, because a batch-1 token of tiny_starcoder is ~80 products of 40–300 µs each,
// so a few tens of microseconds per product decide whether a second thread pays.
//
// Measured: a parallel-for of `threads` parts that each take `partMicroseconds` (a busy wait, like
// a small product's share: 768×896 F16 at one row is ~80 µs on one thread), back to back (helpers
// spinning, as between the products of a token) and after a pause long enough for them to sleep
// (as between the steps of a server waiting for the network); the report is the time beyond one
// part's, i.e. what the split costs over a perfect one. Through the context's worker pool and, for
// comparison, DispatchQueue.concurrentPerform (what the products used before the pool).
import Foundation
import MQKernels

public struct ForkJoinReport: Sendable, Codable {
    /// Median microseconds per call beyond one part's duration.
    public var poolBackToBack: Double
    public var poolAfterPause: Double
    public var dispatchBackToBack: Double
    public var dispatchAfterPause: Double
}

public enum ForkJoin {
    /// Pause between the calls of the "after a pause" rows: ten times the pool's spin.
    static var pause: Double { 10 * Double(WorkerPool.spinNanoseconds) / 1e9 }
    /// What each part does: a busy wait this long.
    public static let partMicroseconds = 40.0

    public static func measure(_ compute: ComputeContext, calls: Int = 1000, pausedCalls: Int = 50) -> ForkJoinReport {
        let parts = compute.threads
        let pool = { compute.parallelFor(parts: parts) { _ in busyWait() } }
        let dispatch = { DispatchQueue.concurrentPerform(iterations: parts) { _ in busyWait() } }
        return ForkJoinReport(poolBackToBack: median(calls, pause: 0, pool), poolAfterPause: median(pausedCalls, pause: pause, pool),
                              dispatchBackToBack: median(calls, pause: 0, dispatch),
                              dispatchAfterPause: median(pausedCalls, pause: pause, dispatch))
    }

    static func median(_ n: Int, pause: Double, _ f: () -> Void) -> Double {
        f()
        var times: [Double] = []
        for _ in 0..<n {
            if pause > 0 { Thread.sleep(forTimeInterval: pause) }
            let t = DispatchTime.now().uptimeNanoseconds
            f()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1000 - partMicroseconds)
        }
        return times.sorted()[n / 2]
    }

    @inline(never)
    static func busyWait() {
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(partMicroseconds * 1000)
        while DispatchTime.now().uptimeNanoseconds < end {}
    }
}
