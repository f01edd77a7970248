// Tests for MQTransport over real libzmq sockets: tcp on 127.0.0.1 with OS-chosen ports, ipc in a
// temporary directory, inproc. Every wait is bounded, so a broken transport fails a test instead of
// hanging the suite.

import Foundation
import XCTest
@testable import MQTransport

final class ZMQTransportTests: XCTestCase {
    /// Upper bound for anything that should happen "at once" on loopback; only guards against hangs.
    let patience: Duration = .seconds(5)

    // MARK: - Round trips

    func testDealerRouterMultipartRoundTripWithIdentities() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router, name: "test-router")
        try router.setRouterMandatory(true)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:"))
        XCTAssertFalse(endpoint.hasSuffix(":*"), "the wildcard must resolve to a real port: \(endpoint)")
        XCTAssertEqual(router.endpoints, [endpoint])

        var dealers: [ZMQSocket] = []
        for id in ["worker-a", "worker-b"] {
            let dealer = try ZMQSocket(context, type: .dealer, name: id)
            try dealer.setRoutingID(Array(id.utf8))
            XCTAssertEqual(try dealer.routingID, Array(id.utf8))
            try dealer.connect(endpoint)
            dealers.append(dealer)
        }
        // Three frames, one of them empty, one with every byte value.
        let body = (0...255).map { UInt8($0) }
        for dealer in dealers {
            try dealer.send(frames: [Array("hello from \(dealer.name)".utf8), [], body])
        }
        var seen: Set<String> = []
        for _ in dealers {
            let message = try XCTUnwrap(router.receiveRouted(timeout: patience))
            let id = String(decoding: message.identity, as: UTF8.self)
            seen.insert(id)
            XCTAssertEqual(message.frames, [Array("hello from \(id)".utf8), [], body])
            try router.send(to: message.identity, frames: [Array("reply to \(id)".utf8), [7, 8, 9]])
        }
        XCTAssertEqual(seen, ["worker-a", "worker-b"])
        for dealer in dealers {
            let reply = try XCTUnwrap(dealer.receive(timeout: patience))
            XCTAssertEqual(reply, [Array("reply to \(dealer.name)".utf8), [7, 8, 9]])
        }
    }

    func testPairOverInprocAndFrameKinds() throws {
        let context = try ZMQContext()
        let left = try ZMQSocket(context, type: .pair)
        let right = try ZMQSocket(context, type: .pair)
        XCTAssertEqual(try left.bind("inproc://mq-transport-pair"), "inproc://mq-transport-pair")
        try right.connect("inproc://mq-transport-pair")

        let raw: [UInt8] = [9, 9]
        try raw.withUnsafeBytes { rawBytes in
            try left.send(frames: [.bytes([0xAA]), .data(Data([0xBB, 0xCC])), .raw(rawBytes), .bytes([])])
        }
        XCTAssertEqual(try right.receive(timeout: patience), [[0xAA], [0xBB, 0xCC], [9, 9], []])
    }

    func testPushPullLargeFrameIntegrityOverIPC() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        let endpoint = try pull.bind("ipc://\(directory.path)/large.sock")
        let push = try ZMQSocket(context, type: .push)
        try push.connect(endpoint)

        let size = 8 << 20
        // A pattern in which every 4-byte word differs, so a dropped or repeated chunk shows.
        let copied = (0..<size / 4).flatMap { index -> [UInt8] in
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: index) &* 2_654_435_761) { Array($0) }
        }
        try copied.withUnsafeBytes { raw in
            try push.send(frames: [.bytes(Array("header".utf8)), .raw(raw)])   // raw-buffer path
        }
        try push.send(frames: [Array("header".utf8), copied])                  // byte-array path

        for _ in 0..<2 {
            let frames = try XCTUnwrap(pull.receive(timeout: patience))
            XCTAssertEqual(frames.count, 2)
            XCTAssertEqual(frames[0], Array("header".utf8))
            XCTAssertEqual(frames[1].count, size)
            XCTAssertTrue(frames[1] == copied, "8 MB frame came back different")
        }

        // Closing the bound socket removes its ipc file (libzmq itself leaves it behind).
        let socketFile = String(endpoint.dropFirst("ipc://".count))
        XCTAssertTrue(FileManager.default.fileExists(atPath: socketFile))
        pull.close()
        XCTAssertFalse(FileManager.default.fileExists(atPath: socketFile), "ipc socket file left behind")
    }

    // MARK: - Timeouts and failures

    func testWithNextMessageLendsTheFramesWithoutCopying() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        let endpoint = try pull.bind("tcp://127.0.0.1:*")
        let push = try ZMQSocket(context, type: .push)
        try push.connect(endpoint)
        XCTAssertNil(try pull.withNextMessage { $0.count }, "nothing queued: nil at once")
        let tensor = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try push.send(frames: [Array("header".utf8), tensor])
        var got: [[UInt8]]?
        let end = ContinuousClock.now + .seconds(5)
        while got == nil && ContinuousClock.now < end {
            got = try pull.withNextMessage { frames -> [[UInt8]] in frames.map { Array($0) } }
            if got == nil { usleep(1000) }
        }
        XCTAssertEqual(got, [Array("header".utf8), tensor])
        XCTAssertNil(try pull.withNextMessage { $0.count })
    }

    func testReceiveTimeoutReturnsNilPromptly() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        try pull.bind("tcp://127.0.0.1:*")

        XCTAssertNil(try pull.tryReceive())
        let start = ContinuousClock.now
        XCTAssertNil(try pull.receive(timeout: .milliseconds(50)))
        let waited = ContinuousClock.now - start
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(40), "returned before the timeout")
        XCTAssertLessThan(waited, patience)

        // The blocking form honours ZMQ_RCVTIMEO.
        try pull.setReceiveTimeout(.milliseconds(30))
        XCTAssertNil(try pull.receive())
    }

    func testRouterMandatoryUnknownIdentityThrowsInsteadOfTrapping() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router, name: "strict")
        try router.setRouterMandatory(true)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        do {
            try router.send(to: Array("nobody".utf8), frames: [[1]])
            XCTFail("send to an unknown identity must fail with router-mandatory on")
        } catch let error as ZMQError {
            XCTAssertEqual(error.kind, .hostUnreachable)
            XCTAssertTrue(error.description.contains("send to 0x6e6f626f6479"), error.description)
            XCTAssertTrue(error.description.contains(endpoint), error.description)
            XCTAssertTrue(error.description.contains("no connected peer"), error.description)
        }
        // The socket still works after the refusal.
        XCTAssertNil(try router.tryReceiveRouted())

        // Without router-mandatory libzmq drops the message silently.
        let lenient = try ZMQSocket(context, type: .router)
        try lenient.bind("inproc://mq-transport-lenient")
        XCTAssertNoThrow(try lenient.send(to: Array("nobody".utf8), frames: [[1]]))

        // Routed calls on a non-ROUTER socket are refused, not trapped.
        let dealer = try ZMQSocket(context, type: .dealer)
        XCTAssertThrowsError(try dealer.send(to: [1], frames: [[1]]))
        XCTAssertThrowsError(try dealer.tryReceiveRouted())
    }

    func testMaxMessageSizeDropsOversizedFrame() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        try pull.setMaxMessageSize(1024)
        let endpoint = try pull.bind("tcp://127.0.0.1:*")
        let push = try ZMQSocket(context, type: .push)
        try push.setReconnectInterval(.milliseconds(20))
        try push.connect(endpoint)

        try push.send(frames: [[UInt8](repeating: 0xEE, count: 4096)])
        XCTAssertNil(try pull.receive(timeout: .milliseconds(200)), "an oversized frame must not be delivered")

        // libzmq dropped that connection; the PUSH reconnects and small frames flow again. Small
        // messages sent while the old connection is being torn down may be lost, so keep sending
        // numbered ones until one arrives.
        let deadline = ContinuousClock.now + patience
        var received: [[UInt8]]?
        var sequence: UInt8 = 0
        while received == nil && ContinuousClock.now < deadline {
            sequence &+= 1
            _ = try push.trySend(frames: [[sequence]])
            received = try pull.receive(timeout: .milliseconds(50))
        }
        let frames = try XCTUnwrap(received, "no small frame arrived after the oversized one")
        XCTAssertEqual(frames.count, 1)
        XCTAssertEqual(frames[0].count, 1, "only the small frames may arrive")
    }

    func testDeadEndpointDoesNotHang() throws {
        let port = try unusedTCPEndpoint()
        let context = try ZMQContext()

        // With immediate on, nothing is queued for a peer that is not there.
        let strict = try ZMQSocket(context, type: .dealer)
        try strict.setImmediate(true)
        try strict.setSendTimeout(.milliseconds(50))
        try strict.connect(port)
        XCTAssertFalse(try strict.trySend(frames: [[1]]))
        XCTAssertThrowsError(try strict.send(frames: [[1]])) { error in
            XCTAssertEqual((error as? ZMQError)?.kind, .wouldBlock)
        }
        XCTAssertNil(try strict.receive(timeout: .milliseconds(100)))

        // Without it the message is queued; the receive still times out and closing the socket is
        // bounded by the default linger.
        let queued = try ZMQSocket(context, type: .dealer)
        try queued.connect(port)
        try queued.send(frames: [[1, 2, 3]])
        XCTAssertNil(try queued.receive(timeout: .milliseconds(100)))
        queued.close()
        strict.close()
        XCTAssertThrowsError(try queued.send(frames: [[1]])) { error in
            XCTAssertTrue(String(describing: error).contains("closed"), String(describing: error))
        }
    }

    func testErrorsNameOperationAndEndpoint() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .pull, name: "named")
        XCTAssertThrowsError(try socket.bind("tcp://no-such-interface-xyz:1")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("bind tcp://no-such-interface-xyz:1"), text)
            XCTAssertTrue(text.contains("named"), text)
        }
        XCTAssertThrowsError(try socket.connect("carrier-pigeon://x")) { error in
            XCTAssertEqual((error as? ZMQError)?.code, EPROTONOSUPPORT)
        }
        let endpoint = try socket.bind("tcp://127.0.0.1:*")
        let other = try ZMQSocket(context, type: .pull)
        XCTAssertThrowsError(try other.bind(endpoint)) { error in
            XCTAssertEqual((error as? ZMQError)?.code, EADDRINUSE)
        }
        try socket.unbind(endpoint)
        XCTAssertEqual(socket.endpoints, [])
        XCTAssertThrowsError(try socket.unbind(endpoint))
        XCTAssertThrowsError(try socket.send(frames: [[UInt8]]())) { error in
            XCTAssertEqual((error as? ZMQError)?.code, EINVAL)
        }
    }

    func testOptionSettersAndConversions() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .dealer)
        // Option numbers from zmq.h (the tests do not import libzmq): LINGER 17, SNDTIMEO 28, MAXMSGSIZE 22.
        XCTAssertEqual(try socket.int32Option(17, "ZMQ_LINGER"), 100)
        XCTAssertEqual(try socket.int64Option(22, "ZMQ_MAXMSGSIZE"), TransportDefaults.maxFrameSize)
        try socket.setLinger(nil)
        XCTAssertEqual(try socket.int32Option(17, "ZMQ_LINGER"), -1)
        try socket.setSendTimeout(.microseconds(300))
        XCTAssertEqual(try socket.int32Option(28, "ZMQ_SNDTIMEO"), 1, "sub-millisecond rounds up, never to 0")
        try socket.setHeartbeatInterval(.seconds(1))
        try socket.setHeartbeatTimeout(.seconds(3))
        try socket.setHeartbeatTTL(.seconds(10))
        XCTAssertThrowsError(try socket.setHeartbeatTTL(.seconds(7000)))
        try socket.setTCPKeepalive(true, idle: .seconds(30), interval: .seconds(5), count: 3)
        try socket.setReconnectInterval(.milliseconds(100))
        try socket.setReconnectIntervalMax(.seconds(2))
        try socket.setProbeRouter(true)
        try socket.setSendHighWaterMark(10)
        try socket.setReceiveHighWaterMark(10)
        XCTAssertThrowsError(try socket.setRoutingID([]))
        XCTAssertThrowsError(try socket.setRoutingID([0, 1]))
        XCTAssertThrowsError(try socket.setRoutingID([UInt8](repeating: 1, count: 256)))
        XCTAssertThrowsError(try ZMQSocket(context, type: .push).setRouterMandatory(true)) // ROUTER only

        XCTAssertEqual(ZMQSocket.milliseconds(.zero), 0)
        XCTAssertEqual(ZMQSocket.milliseconds(.milliseconds(-5)), 0)
        XCTAssertEqual(ZMQSocket.milliseconds(.milliseconds(1500)), 1500)
        XCTAssertEqual(ZMQSocket.milliseconds(.seconds(Int64.max / 2)), Int32.max)
    }

    // MARK: - Polling, threads, shutdown

    func testPollerReportsWhichSocketsAreReadable() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let context = try ZMQContext()
        let endpoints = ["tcp://127.0.0.1:*", "ipc://\(directory.path)/poll.sock", "inproc://mq-transport-poll"]
        var pulls: [ZMQSocket] = []
        var pushes: [ZMQSocket] = []
        var poller = ZMQPoller()
        for endpoint in endpoints {
            let pull = try ZMQSocket(context, type: .pull)
            let resolved = try pull.bind(endpoint)
            let push = try ZMQSocket(context, type: .push)
            try push.connect(resolved)
            XCTAssertEqual(poller.add(pull), pulls.count)
            pulls.append(pull)
            pushes.append(push)
        }
        let mailbox = try ZMQMailbox<Int>()
        let mailboxIndex = poller.add(mailbox)
        XCTAssertTrue(try poller.poll(timeout: .milliseconds(20)).isEmpty)

        try pushes[0].send(frames: [[0]])
        try pushes[2].send(frames: [[2]])
        // Both messages may not be there on the first wake-up; poll until both were seen.
        var seen: Set<Int> = []
        let deadline = ContinuousClock.now + patience
        while seen.count < 2 && ContinuousClock.now < deadline {
            let ready = try poller.poll(timeout: patience)
            XCTAssertFalse(ready.isReadable(1), "nothing was sent to the ipc socket")
            XCTAssertFalse(ready.isReadable(mailboxIndex))
            for index in ready.readyIndexes {
                XCTAssertEqual(try pulls[index].tryReceive(), [[UInt8(index)]])
                seen.insert(index)
            }
        }
        XCTAssertEqual(seen, [0, 2])

        XCTAssertTrue(mailbox.post(42))
        let ready = try poller.poll(timeout: patience)
        XCTAssertEqual(ready.readyIndexes, [mailboxIndex])
        XCTAssertEqual(mailbox.drain(), [42])
        XCTAssertTrue(try poller.poll(timeout: .zero).isEmpty, "draining clears the wake-up")

        pulls[1].close()
        XCTAssertThrowsError(try poller.poll(timeout: .zero), "a closed socket in a poller is reported")
    }

    /// A service loop owns a ROUTER and sleeps in poll with no timeout; other threads hand it work
    /// through a mailbox and the last command stops it.
    func testMailboxWakesServiceLoopFromOtherThreads() throws {
        enum Command: Sendable, Equatable { case forward(producer: Int, sequence: Int), stop }

        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router, name: "loop")
        try router.setRouterMandatory(true)
        let endpoint = try router.bind("inproc://mq-transport-loop")
        let client = try ZMQSocket(context, type: .dealer)
        try client.setRoutingID(Array("client".utf8))
        try client.connect(endpoint)
        try client.send(frames: [Array("hello".utf8)])   // so the ROUTER learns the identity

        let mailbox = try ZMQMailbox<Command>()
        let loop = ZMQServiceThread.start(name: "test-loop") {
            var poller = ZMQPoller()
            let socketIndex = poller.add(router)
            let mailboxIndex = poller.add(mailbox)
            var peer: [UInt8]?
            while true {
                let ready = try poller.poll(timeout: nil)   // sleeps until a message or a command
                if ready.isReadable(socketIndex) {
                    while let message = try router.tryReceiveRouted() { peer = message.identity }
                }
                if ready.isReadable(mailboxIndex) {
                    for command in mailbox.drain() {
                        switch command {
                        case .stop:
                            _ = mailbox.close()
                            return
                        case .forward(let producer, let sequence):
                            guard let peer else { continue }
                            try router.send(to: peer, frames: [[UInt8(producer), UInt8(sequence)]])
                        }
                    }
                }
            }
        }

        // Wait until the loop knows the client: the first forwarded message proves it.
        var first: [[UInt8]]?
        let deadline = ContinuousClock.now + patience
        while first == nil && ContinuousClock.now < deadline {
            mailbox.post(.forward(producer: 9, sequence: 0))
            first = try client.receive(timeout: .milliseconds(20))
        }
        XCTAssertNotNil(first, "the loop never forwarded a command")
        while try client.receive(timeout: .milliseconds(20)) != nil {}

        let producers = 4, perProducer = 25
        let threads = (0..<producers).map { producer in
            ZMQServiceThread.start(name: "producer-\(producer)") {
                for sequence in 0..<perProducer { mailbox.post(.forward(producer: producer, sequence: sequence)) }
            }
        }
        for thread in threads { XCTAssertTrue(try thread.join(timeout: patience)) }

        var next = [Int](repeating: 0, count: producers)
        for _ in 0..<(producers * perProducer) {
            let frames = try XCTUnwrap(client.receive(timeout: patience))
            let producer = Int(frames[0][0]), sequence = Int(frames[0][1])
            XCTAssertEqual(sequence, next[producer], "commands from one thread arrive in order")
            next[producer] += 1
        }
        XCTAssertEqual(next, [Int](repeating: perProducer, count: producers))

        XCTAssertTrue(mailbox.post(.stop))
        XCTAssertTrue(try loop.join(timeout: patience), "the loop did not wake up for .stop")
        XCTAssertFalse(mailbox.post(.forward(producer: 0, sequence: 0)), "a closed mailbox refuses posts")
    }

    func testContextShutdownWakesBlockedReceive() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        try pull.bind("inproc://mq-transport-shutdown")
        let started = try ZMQMailbox<Bool>()
        var startedPoller = ZMQPoller()
        let startedIndex = startedPoller.add(started)

        let blocked = ZMQServiceThread.start(name: "blocked") {
            started.post(true)
            defer { pull.close() }
            do {
                _ = try pull.receive()   // no timeout: only shutdown can end this
                throw ZMQError(operation: "test", code: 0, detail: "receive returned without a message")
            } catch let error as ZMQError where error.kind == .contextTerminated {
                return
            }
        }
        XCTAssertTrue(try startedPoller.poll(timeout: patience).isReadable(startedIndex))
        context.shutdown()
        XCTAssertTrue(try blocked.join(timeout: patience), "shutdown did not wake the blocked receive")
        XCTAssertThrowsError(try ZMQSocket(context, type: .push)) { error in
            XCTAssertEqual((error as? ZMQError)?.kind, .contextTerminated)
        }
    }

    func testServiceThreadJoinRethrowsLoopError() throws {
        struct LoopFailed: Error {}
        let thread = ZMQServiceThread.start(name: "failing") { throw LoopFailed() }
        XCTAssertThrowsError(try thread.join()) { error in XCTAssertTrue(error is LoopFailed) }
        XCTAssertTrue(thread.isFinished)
    }

    // MARK: - Helpers

    private func temporaryDirectory() throws -> URL {
        // ipc paths are limited to about 100 bytes, so stay short.
        let url = URL(fileURLWithPath: "/tmp/mqzmq-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A tcp endpoint on which nothing listens: bind a wildcard port, then release it.
    private func unusedTCPEndpoint() throws -> String {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .pull)
        let endpoint = try socket.bind("tcp://127.0.0.1:*")
        socket.close()
        return endpoint
    }

}
