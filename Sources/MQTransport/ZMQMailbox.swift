// ZMQMailbox: how other threads hand work to a service loop that owns ZMQ sockets. `post` may be
// called from any thread (including async tasks); it queues the message and, if the loop may be
// asleep in zmq_poll, writes one byte to a pipe the loop's poller watches (the self-pipe trick).
// No libzmq socket is shared, so the one-thread-per-socket rule holds.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A thread-safe queue that wakes a `ZMQPoller`. Many producers, one consumer (the loop).
public final class ZMQMailbox<Message: Sendable>: @unchecked Sendable {
    // @unchecked: `queue`, `signaled` and `closed` are only touched under `lock`; the descriptors
    // are constants, closed in deinit when no thread can use them any more.
    private let lock = NSLock()
    private var queue: [Message] = []
    /// True while a wake-up byte is (or is about to be) in the pipe: later posts skip the write.
    private var signaled = false
    private var closed = false
    private let readEnd: Int32
    private let writeEnd: Int32

    public init() throws {
        var descriptors: [Int32] = [-1, -1]
        if pipe(&descriptors) != 0 {
            throw ZMQError(operation: "pipe (mailbox)", code: errno)
        }
        for descriptor in descriptors {
            // Non-blocking: a full pipe already means "wake up", and the drain must never wait.
            let flags = fcntl(descriptor, F_GETFL)
            if flags < 0 || fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) != 0 || fcntl(descriptor, F_SETFD, FD_CLOEXEC) != 0 {
                let code = errno
                closeDescriptor(descriptors[0]); closeDescriptor(descriptors[1])
                throw ZMQError(operation: "fcntl (mailbox pipe)", code: code)
            }
        }
        readEnd = descriptors[0]
        writeEnd = descriptors[1]
    }

    deinit {
        closeDescriptor(readEnd)
        closeDescriptor(writeEnd)
    }

    /// The descriptor a poller watches; readable while messages wait. Use `ZMQPoller.add(mailbox)`.
    public var fileDescriptor: Int32 { readEnd }

    /// Queues `message` for the loop and wakes it. Returns false (message not queued) once the
    /// mailbox is closed, so a caller can fail its request instead of waiting for a dead loop.
    @discardableResult
    public func post(_ message: Message) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return false }
        queue.append(message)
        if !signaled {
            signaled = true
            var byte: UInt8 = 1
            // EAGAIN (pipe full) still leaves the loop woken; EINTR is retried.
            while write(writeEnd, &byte, 1) < 0 && errno == EINTR {}
        }
        return true
    }

    /// Takes every queued message, oldest first, and clears the wake-up. Called by the loop when the
    /// poller reports the mailbox readable (calling it at other times is harmless).
    public func drain() -> [Message] {
        // Empty the pipe before taking the queue: a post that lands after the queue is taken then
        // sees `signaled == false` and writes a fresh byte, so no wake-up is lost.
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count > 0 { continue }
            if count < 0 && errno == EINTR { continue }
            break
        }
        lock.lock()
        defer { lock.unlock() }
        signaled = false
        let messages = queue
        queue.removeAll()
        return messages
    }

    /// Refuses further posts and returns whatever was still queued, so the loop can answer it
    /// (e.g. fail pending calls) as it exits.
    public func close() -> [Message] {
        lock.lock()
        defer { lock.unlock() }
        closed = true
        let messages = queue
        queue.removeAll()
        return messages
    }

    public var isClosed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return closed
    }
}

/// close(2) under a name that does not collide with `ZMQMailbox.close()`.
private func closeDescriptor(_ descriptor: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(descriptor)
    #elseif canImport(Darwin)
    _ = Darwin.close(descriptor)
    #endif
}
