// ComputeContext.parallelFor over its WorkerPool: every part runs exactly once per call, across many
// back-to-back calls (helpers spinning), after the helpers fell asleep, with calls nested inside a
// part or made from two threads at once (those run inline), and helpers exit with the context.
import Foundation
import XCTest
import MQKernels

final class WorkerPoolTests: XCTestCase {
    /// Counts per part, written by whichever thread runs the part (each part its own slot).
    final class Counts: @unchecked Sendable {
        let slots: UnsafeMutablePointer<Int>
        let count: Int
        init(_ n: Int) { count = n; slots = .allocate(capacity: n); slots.initialize(repeating: 0, count: n) }
        deinit { slots.deallocate() }
        var all: [Int] { Array(UnsafeBufferPointer(start: slots, count: count)) }
    }

    func testEveryPartRunsExactlyOnceInManyCalls() {
        for threads in [1, 2, 3, 5] {
            let compute = ComputeContext(threads: threads)
            for parts in [0, 1, 2, 3, 7, 64, 1000] {
                let c = Counts(max(1, parts))
                for _ in 0..<200 { compute.parallelFor(parts: parts) { c.slots[$0] += 1 } }
                XCTAssertEqual(c.all, parts == 0 ? [0] : [Int](repeating: 200, count: parts), "\(threads) threads, \(parts) parts")
            }
        }
    }

    func testPartsRunOnSeveralThreadsAndAfterTheHelpersSlept() {
        let compute = ComputeContext(threads: 2)
        let threadOfPart = Counts(64)
        // Parts long enough that the helper, once awake, takes some of them.
        for round in 0..<3 {
            compute.parallelFor(parts: 64) { p in
                threadOfPart.slots[p] = Thread.isMainThread ? 1 : 2
                var x = 0.0
                for i in 0..<20_000 { x += Double(i).squareRoot() }
                if x < 0 { threadOfPart.slots[p] = 0 }
            }
            XCTAssertFalse(threadOfPart.all.contains(0), "round \(round)")
            // Longer than the spin: the helper goes to sleep and must be woken by the next call.
            Thread.sleep(forTimeInterval: 2 * Double(WorkerPool.spinNanoseconds) / 1e9 + 0.01)
        }
        XCTAssertTrue(Thread.isMainThread)
        XCTAssertTrue(threadOfPart.all.contains(2), "no part ran on the helper: \(threadOfPart.all)")
    }

    func testNestedAndConcurrentCallsRunInline() {
        let compute = ComputeContext(threads: 2)
        let outer = 8, inner = 16
        let c = Counts(outer * inner)
        compute.parallelFor(parts: outer) { o in
            compute.parallelFor(parts: inner) { i in c.slots[o * inner + i] += 1 }
        }
        XCTAssertEqual(c.all, [Int](repeating: 1, count: outer * inner))

        // Two threads sharing one context call it at the same time, many times.
        let d = Counts(2 * 32)
        DispatchQueue.concurrentPerform(iterations: 2) { caller in
            for _ in 0..<500 { compute.parallelFor(parts: 32) { d.slots[caller * 32 + $0] += 1 } }
        }
        XCTAssertEqual(d.all, [Int](repeating: 500, count: 64))
    }

    func testHelpersStopWithTheLastCopyOfTheContext() throws {
        guard FileManager.default.fileExists(atPath: "/proc/thread-self") else { throw XCTSkip("needs /proc") }
        // The kernel thread id of the calling thread ("PID/task/TID").
        func tid() -> Int { Int((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self"))?.split(separator: "/").last ?? "") ?? -1 }
        func alive(_ t: Int) -> Bool { FileManager.default.fileExists(atPath: "/proc/self/task/\(t)") }
        let me = tid()
        var helpers = Set<Int>()
        do {
            let compute = ComputeContext(threads: 3)
            let copy = compute
            let ran = Counts(32)
            for _ in 0..<20 where helpers.isEmpty {
                copy.parallelFor(parts: 32) { p in
                    ran.slots[p] = tid()
                    let end = DispatchTime.now().uptimeNanoseconds + 200_000
                    while DispatchTime.now().uptimeNanoseconds < end {}
                }
                helpers = Set(ran.all).subtracting([me])
            }
            XCTAssertFalse(helpers.isEmpty, "no part ran on a helper")
            XCTAssertFalse(helpers.contains(-1))
            XCTAssertTrue(helpers.allSatisfy(alive), "helpers live while the context does")
            withExtendedLifetime(compute) {}   // the optimizer may end its life right after the last use
        }
        let deadline = Date().addingTimeInterval(5)
        while helpers.contains(where: alive) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertFalse(helpers.contains(where: alive), "the helpers stop with the context")
    }
}
