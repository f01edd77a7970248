// ZMQPoller: waits on several sockets (and plain file descriptors, such as a ZMQMailbox's wake-up
// pipe) at once and says which are ready. The heart of a service loop:
//
//     var poller = ZMQPoller()
//     let clients = poller.add(router)
//     let commands = poller.add(mailbox)
//     while running {
//         let ready = try poller.poll(timeout: TransportDefaults.servicePollInterval)
//         if ready.isReadable(clients) { while let m = try router.tryReceiveRouted() { ... } }
//         if ready.isReadable(commands) { for c in mailbox.drain() { ... } }
//     }
//
// zmq_poll blocks its thread: run such loops on a ZMQServiceThread, never on the Swift
// concurrency pool. Owned by one thread, like the sockets it holds.

import CZMQ

/// Which readiness to wait for.
public struct ZMQPollEvents: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// A message can be received (socket) / data can be read (file descriptor).
    public static let readable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A message can be sent without blocking.
    public static let writable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// The outcome of one `poll`: which registered items are ready, by the index `add` returned.
/// Two bit sets, so a service loop's poll allocates nothing.
public struct ZMQPollResult: Sendable, Equatable {
    let readable: UInt64
    let writable: UInt64

    public func isReadable(_ index: Int) -> Bool { readable & (1 << UInt64(index)) != 0 }
    public func isWritable(_ index: Int) -> Bool { writable & (1 << UInt64(index)) != 0 }
    /// Indexes of items with any requested event ready, in registration order.
    public var readyIndexes: [Int] {
        let any = readable | writable
        return (0..<ZMQPoller.capacity).filter { any & (1 << UInt64($0)) != 0 }
    }
    /// True when the poll timed out with nothing ready.
    public var isEmpty: Bool { readable | writable == 0 }
}

/// A set of sockets and file descriptors to wait on together.
public struct ZMQPoller {
    /// Most items one poller holds (the width of `ZMQPollResult`'s bit sets). A service loop polls a
    /// handful of sockets; more than this means the loop is designed wrong.
    public static let capacity = 64

    private var items: [zmq_pollitem_t] = []
    /// The socket behind each item (nil for a file descriptor); held so it stays alive, and read
    /// again before every poll so a socket closed meanwhile is reported instead of polled.
    private var sockets: [ZMQSocket?] = []

    public init() {}

    public var count: Int { items.count }

    /// Registers `socket`; returns its index in poll results.
    @discardableResult
    public mutating func add(_ socket: ZMQSocket, for events: ZMQPollEvents = .readable) -> Int {
        precondition(items.count < Self.capacity, "ZMQPoller holds at most \(Self.capacity) items")
        items.append(zmq_pollitem_t(socket: socket.handle, fd: 0, events: events.rawValue, revents: 0))
        sockets.append(socket)
        return items.count - 1
    }

    /// Registers a plain file descriptor (pipe, eventfd, TCP socket of another library).
    @discardableResult
    public mutating func add(fileDescriptor: Int32, for events: ZMQPollEvents = .readable) -> Int {
        precondition(items.count < Self.capacity, "ZMQPoller holds at most \(Self.capacity) items")
        items.append(zmq_pollitem_t(socket: nil, fd: fileDescriptor, events: events.rawValue, revents: 0))
        sockets.append(nil)
        return items.count - 1
    }

    /// Registers a mailbox's wake-up descriptor: readable when commands are waiting.
    @discardableResult
    public mutating func add<Message>(_ mailbox: ZMQMailbox<Message>) -> Int {
        add(fileDescriptor: mailbox.fileDescriptor, for: .readable)
    }

    /// Waits until at least one item is ready or `timeout` passes (nil waits forever). Interrupted
    /// waits (EINTR) resume with the time left. Throws `contextTerminated` after
    /// `ZMQContext.shutdown()`.
    public mutating func poll(timeout: Duration?) throws -> ZMQPollResult {
        for index in items.indices {
            items[index].revents = 0
            guard let socket = sockets[index] else { continue }
            guard let handle = socket.handle else {
                throw ZMQError(operation: "poll", endpoint: socket.label, code: ENOTSOCK,
                               detail: "socket \(index) was closed while registered in a poller")
            }
            items[index].socket = handle
        }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            var milliseconds = -1
            if let deadline {
                let remaining = deadline - ContinuousClock.now
                milliseconds = remaining <= .zero ? 0 : Int(ZMQSocket.milliseconds(remaining))
            }
            let ready = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), milliseconds) }
            if ready >= 0 { break }
            let code = zmq_errno()
            if code == EINTR { continue }
            throw ZMQError(operation: "poll", endpoint: sockets.compactMap { $0?.label }.joined(separator: "; "), code: code)
        }
        var readable: UInt64 = 0, writable: UInt64 = 0
        for index in items.indices {
            if items[index].revents & Int16(ZMQ_POLLIN) != 0 { readable |= 1 << UInt64(index) }
            if items[index].revents & Int16(ZMQ_POLLOUT) != 0 { writable |= 1 << UInt64(index) }
        }
        return ZMQPollResult(readable: readable, writable: writable)
    }
}
