// How much of the machine one piece of compute may use: a value handed to the code that splits work
// across threads (packed products, attention and sampling over a batch), never a global. Each model,
// pipeline stage or benchmark is built with its own, so two of them in one process (tests, the
// local stages of a cluster) can run with different counts. Results never depend on it: every
// split keeps one summation order per output (see PackedLinear.swift and AttentionStep.swift).
//
// A context with two or more threads owns a WorkerPool (its helper threads start on first use and
// stop when the last copy of the context is gone); copies of a context share it. `parallelFor` is
// the one entry point every split goes through.
import Foundation

public struct ComputeContext: Sendable, Equatable, CustomStringConvertible {
    /// Threads a product splits its output vectors over; attention and sampling over a batch split
    /// only when this is at least 2. At least 1.
    public let threads: Int
    /// Multiply-adds of a step's attention (positions · heads · head dim) below which it stays on
    /// one thread: a second thread costs more than it saves. Tests set 0 to send the small fixtures
    /// down the two-thread path.
    public var parallelAttentionWork: Int
    /// The caller plus `threads − 1` helpers; nil with one thread.
    private let pool: WorkerPool?

    /// The threshold measured as worthwhile: 2^16 multiply-adds.
    public static let defaultParallelAttentionWork = 1 << 16

    /// `threads` below 1 counts as 1.
    public init(threads: Int, parallelAttentionWork: Int = ComputeContext.defaultParallelAttentionWork) {
        self.threads = max(1, threads)
        self.parallelAttentionWork = max(0, parallelAttentionWork)
        pool = self.threads > 1 ? WorkerPool(threads: self.threads) : nil
    }

    /// One thread per active core of this machine (the command-line default).
    public static var allCores: ComputeContext { ComputeContext(threads: ProcessInfo.processInfo.activeProcessorCount) }
    /// Everything on the calling thread.
    public static let serial = ComputeContext(threads: 1)

    /// Calls `body(p)` for every p in 0..<parts, spread over this context's threads (the caller is
    /// one of them), and returns when all have returned. Parts must write disjoint memory; they run
    /// in no fixed order. A call made while the pool is busy (from inside a part, or from another
    /// thread sharing the context) runs its parts on its own thread.
    public func parallelFor(parts: Int, _ body: (Int) -> Void) {
        if let pool, parts > 1 {
            pool.run(parts: parts, body)
        } else {
            for p in 0..<max(0, parts) { body(p) }
        }
    }

    public static func == (a: ComputeContext, b: ComputeContext) -> Bool {
        a.threads == b.threads && a.parallelAttentionWork == b.parallelAttentionWork
    }

    public var description: String { "\(threads) thread\(threads == 1 ? "" : "s")" }
}
