// The threads a ComputeContext splits work over: `threads − 1` persistent helpers plus the calling
// thread, which take the parts of one parallel-for as they come free and spin briefly between
// calls, so a call costs a few atomic operations instead of a thread wake-up and a join.
//
// Why: a decoded token is ~100 small products (tiny_starcoder F16, batch 1: ~80 µs each on one
// thread). Dispatching each through DispatchQueue.concurrentPerform woke a pool thread that the
// VM had halted while idle, and the product waited for it: measured per product, the wake-up and
// join cost as much as the second thread saved (see README "Performance"). Here a helper that
// finished a part polls for the next call for `spinNanoseconds` before it sleeps on a condition
// variable, so within a token (products microseconds apart) nothing sleeps or wakes.
//
// Protocol (one call at a time per pool; a second concurrent or nested caller runs its parts
// inline, which gives the same results because every caller's parts write disjoint outputs):
//   ticket = generation (32 bits) | parts (16) | next part (16), one atomic word. The caller
//   publishes a new generation with next = 0; every thread (caller included) claims parts by
//   compare-and-swap, so a late helper can never claim a part of a later call than the one it
//   read. `finished` counts completed parts; the call returns when it reaches `parts`, and only
//   then is the body released. A helper reads the body only after claiming a part, so the body
//   it sees is the current call's.
// Sleeping never loses a wake-up: a sleeper announces itself (sleepers += 1) before it checks its
// condition under the mutex, and the thread that changes the condition checks for sleepers after
// changing it (both sequentially consistent), taking the mutex to broadcast when there are any.
import CMemoryHints
import Foundation
import Synchronization

/// Runs `parts` independent pieces of work on the calling thread and the pool's helpers.
public final class WorkerPool: @unchecked Sendable {
    /// How long a thread polls before it sleeps: longer than the gaps between the products of a
    /// token (layer norm, attention, sampling: microseconds), short enough that an idle helper
    /// leaves the core to other processes quickly. 200 µs and 50 µs could not be told apart on
    /// the loaded machine this was written on; the shorter wastes less of a shared core.
    public static let spinNanoseconds: UInt64 = 50_000
    /// The most parts one call may have (16 bits of the ticket).
    public static let maxParts = 0xFFFF

    /// Helpers besides the caller.
    public let helpers: Int
    private let shared: PoolState
    private var started = false

    /// A pool of `threads` threads in all (the caller and `threads − 1` helpers), started on first use.
    public init(threads: Int) {
        helpers = max(0, threads - 1)
        shared = PoolState()
    }

    deinit {
        if started { shared.shutDown() }
    }

    /// Calls `body(p)` once for each p in 0..<parts, on the calling thread and the helpers, and
    /// returns when all have returned. Parts run in no fixed order or thread; each must write only
    /// memory no other part touches.
    public func run(parts: Int, _ body: (Int) -> Void) {
        precondition(parts <= Self.maxParts, "at most \(Self.maxParts) parts per call")
        guard parts > 1, helpers > 0, shared.busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for p in 0..<max(0, parts) { body(p) }
            return
        }
        defer { shared.busy.store(false, ordering: .releasing) }
        if !started {
            started = true
            for i in 0..<helpers { shared.startHelper(index: i) }
        }
        withoutActuallyEscaping(body) { escapable in
            shared.call(parts: parts, escapable)
        }
    }
}

/// What the caller and the helpers share. Helpers hold it (not the pool), so the pool's deinit can
/// stop them.
private final class PoolState: @unchecked Sendable {
    let busy = Atomic<Bool>(false)
    /// generation << 32 | parts << 16 | next part.
    let ticket = Atomic<UInt64>(0)
    let finished = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
    /// Helpers asleep or about to sleep waiting for a new generation; the caller asleep or about to
    /// sleep waiting for `finished`.
    let sleepingHelpers = Atomic<Int>(0)
    let sleepingCaller = Atomic<Int>(0)
    let condition = NSCondition()
    /// The current call's body: set before its generation is published, cleared after every part
    /// finished; read only by a thread holding a claimed part of that call.
    var body: ((Int) -> Void)?

    func startHelper(index: Int) {
        let name = "mq-compute-\(index + 1)"   // what ps and /proc show (at most 15 bytes)
        let t = Thread { [self] in
            Thread.current.name = name   // from the thread itself (only then does Linux see it); cosmetic
            self.helperLoop()
        }
        t.start()
    }

    func shutDown() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        condition.lock(); condition.broadcast(); condition.unlock()
    }

    /// One call, from the thread that won `busy`.
    func call(parts: Int, _ f: @escaping (Int) -> Void) {
        body = f
        finished.store(0, ordering: .relaxed)
        let generation = (ticket.load(ordering: .relaxed) >> 32) &+ 1
        ticket.store((generation << 32) | (UInt64(parts) << 16), ordering: .sequentiallyConsistent)
        if sleepingHelpers.load(ordering: .sequentiallyConsistent) > 0 {
            condition.lock(); condition.broadcast(); condition.unlock()
        }
        work(generation: generation & 0xFFFF_FFFF)
        if !spin(until: { finished.load(ordering: .acquiring) == parts }) {
            sleepingCaller.add(1, ordering: .sequentiallyConsistent)
            condition.lock()
            while finished.load(ordering: .sequentiallyConsistent) < parts { condition.wait() }
            condition.unlock()
            sleepingCaller.subtract(1, ordering: .sequentiallyConsistent)
        }
        body = nil
    }

    /// Claims and runs parts of `generation` until none is left.
    func work(generation: UInt64) {
        var t = ticket.load(ordering: .acquiring)
        while true {
            let parts = (t >> 16) & 0xFFFF, next = t & 0xFFFF
            guard (t >> 32) == generation, next < parts else { return }
            let (exchanged, current) = ticket.compareExchange(expected: t, desired: t + 1, ordering: .acquiringAndReleasing)
            if exchanged {
                runPart(Int(next))
                if finished.add(1, ordering: .sequentiallyConsistent).newValue == Int(parts),
                   sleepingCaller.load(ordering: .sequentiallyConsistent) > 0 {
                    condition.lock(); condition.broadcast(); condition.unlock()
                }
                t = ticket.load(ordering: .acquiring)
            } else {
                t = current
            }
        }
    }

    /// Kept out of line so the body's reference is released before the part is counted finished
    /// (the caller's `withoutActuallyEscaping` checks nobody holds it afterwards).
    @inline(never)
    func runPart(_ p: Int) { body!(p) }

    private func helperLoop() {
        var seen: UInt64 = 0
        while !stopping.load(ordering: .relaxed) {
            let fresh = { (self.ticket.load(ordering: .acquiring) >> 32) != seen || self.stopping.load(ordering: .relaxed) }
            if !spin(until: fresh) {
                sleepingHelpers.add(1, ordering: .sequentiallyConsistent)
                condition.lock()
                while (ticket.load(ordering: .sequentiallyConsistent) >> 32) == seen && !stopping.load(ordering: .sequentiallyConsistent) {
                    condition.wait()
                }
                condition.unlock()
                sleepingHelpers.subtract(1, ordering: .sequentiallyConsistent)
            }
            seen = ticket.load(ordering: .acquiring) >> 32
            work(generation: seen)
        }
    }

    /// Polls `done` for up to `spinNanoseconds`; false when it is still false then.
    @inline(__always)
    private func spin(until done: () -> Bool) -> Bool {
        var start: UInt64 = 0
        var i = 0
        while !done() {
            mq_cpu_relax()
            i &+= 1
            if i & 63 == 0 {
                let now = DispatchTime.now().uptimeNanoseconds
                if start == 0 { start = now } else if now - start > WorkerPool.spinNanoseconds { return false }
            }
        }
        return true
    }
}
