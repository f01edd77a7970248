// ZMQContext: the libzmq context (its I/O threads and the inproc namespace). Create one per process
// and pass it to every socket. Shutting it down is how a process stops all its service loops at
// once: every blocking call on every socket then fails with `ZMQError.Kind.contextTerminated`.

import CZMQ
import Foundation

/// A libzmq context. Thread-safe (libzmq documents contexts as safe to share between threads),
/// hence `Sendable`. Every `ZMQSocket` keeps its context alive, so the context is terminated only
/// after the last socket has been closed; with the module's short default linger that never blocks
/// for long.
public final class ZMQContext: @unchecked Sendable {
    // @unchecked: the only stored state is libzmq's context pointer, which libzmq allows to be used
    // from any thread; it is written once in init and freed in deinit.
    let handle: UnsafeMutableRawPointer
    private let zapLock = NSLock()
    private var zapInstalled = false

    /// Creates a context with `ioThreads` libzmq I/O threads.
    public init(ioThreads: Int32 = TransportDefaults.ioThreads) throws {
        guard let context = zmq_ctx_new() else {
            throw ZMQError.last("zmq_ctx_new")
        }
        if zmq_ctx_set(context, ZMQ_IO_THREADS, ioThreads) != 0 {
            let error = ZMQError.last("zmq_ctx_set ZMQ_IO_THREADS=\(ioThreads)")
            zmq_ctx_term(context)
            throw error
        }
        handle = context
    }

    /// Whether a ZAPHandler answers for this context (CURVE servers need one: see ZAPHandler).
    public var hasZAPHandler: Bool {
        zapLock.lock(); defer { zapLock.unlock() }
        return zapInstalled
    }

    func markZAPInstalled() {
        zapLock.lock(); defer { zapLock.unlock() }
        zapInstalled = true
    }

    /// Makes every blocking call on this context's sockets return with `contextTerminated`, and
    /// makes new sockets fail. Callable from any thread (e.g. a SIGTERM handler's thread); the
    /// owning loops then close their sockets and the context is freed with the last reference.
    public func shutdown() {
        // zmq_ctx_shutdown only fails with EFAULT for an invalid context, which `handle` never is.
        _ = zmq_ctx_shutdown(handle)
    }

    deinit {
        // All sockets hold a strong reference, so none is open here; zmq_ctx_term then waits only
        // for lingering messages (bounded by each socket's linger). Retry on EINTR as documented.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    /// The libzmq version this process runs against, e.g. (4, 3, 4).
    public static var libraryVersion: (major: Int32, minor: Int32, patch: Int32) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (major, minor, patch)
    }
}
