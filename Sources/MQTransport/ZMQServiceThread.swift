// ZMQServiceThread: runs a blocking loop (zmq_poll, blocking receive) on its own Foundation Thread,
// away from Swift concurrency's cooperative pool, which must never block. The body is passed with
// `sending`, so the sockets it captures move to the new thread and the compiler stops the starting
// thread from touching them again. That is what makes the non-Sendable ZMQSocket usable here.

import Foundation

/// A dedicated thread running one service loop, with a join that returns the loop's error.
public final class ZMQServiceThread: @unchecked Sendable {
    // @unchecked: `outcome` is only read or written while holding `condition`.
    public let name: String
    private let condition = NSCondition()
    private var outcome: Result<Void, any Error>?

    private init(name: String) {
        self.name = name
    }

    /// Starts `body` on a new thread named `name`.
    @discardableResult
    public static func start(name: String, stackSize: Int? = nil,
                             _ body: sending @escaping () throws -> Void) -> ZMQServiceThread {
        let service = ZMQServiceThread(name: name)
        let box = BodyBox(body)
        let thread = Thread {
            let result = Result { try box.take()() }
            service.finish(result)
        }
        thread.name = name
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
        return service
    }

    private func finish(_ result: Result<Void, any Error>) {
        condition.lock()
        outcome = result
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the loop to return; rethrows the error it threw.
    public func join() throws {
        condition.lock()
        while outcome == nil { condition.wait() }
        let result = outcome!
        condition.unlock()
        try result.get()
    }

    /// Waits at most `timeout`; false if the loop is still running. Rethrows the loop's error.
    public func join(timeout: Duration) throws -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout.inSeconds)
        condition.lock()
        while outcome == nil {
            if !condition.wait(until: deadline) { break }
        }
        let result = outcome
        condition.unlock()
        guard let result else { return false }
        try result.get()
        return true
    }

    public var isFinished: Bool {
        condition.lock()
        defer { condition.unlock() }
        return outcome != nil
    }
}

/// Carries the loop body to the new thread. @unchecked Sendable is sound because the body arrived
/// as `sending` (no other reference to what it captures exists) and is taken exactly once, by the
/// new thread.
private final class BodyBox: @unchecked Sendable {
    private var body: (() throws -> Void)?

    init(_ body: sending @escaping () throws -> Void) {
        self.body = body
    }

    func take() -> () throws -> Void {
        let taken = body!
        body = nil
        return taken
    }
}
