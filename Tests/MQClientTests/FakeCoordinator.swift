// A fake coordinator for MQClient's tests: a real ROUTER socket on loopback, served by its own
// thread, that records every CallRequest it receives and hands it to a test-supplied handler. The
// handler runs on the server thread and answers through a FakePeer, now or later (it may keep
// peers to answer out of order), with well-formed replies or deliberate garbage.
import Foundation
import MQProtocol
import MQTransport

/// The client connection a request came from; usable only on the server thread (inside handlers).
struct FakePeer {
    let socket: ZMQSocket
    let identity: [UInt8]

    func send(_ reply: CallReply) {
        sendRaw([reply.encode()])
    }

    /// Sends arbitrary frames to the client (garbage, multipart, ...).
    func sendRaw(_ frames: [[UInt8]]) {
        // A failed send only means the client is gone; the test then fails on its own terms.
        _ = try? socket.send(to: identity, frames: frames)
    }
}

/// Every request the fake coordinator decoded, readable from the test.
final class RequestLog: @unchecked Sendable {
    // @unchecked: `requests` and `undecodable` are only touched under `lock`.
    private let lock = NSLock()
    private var requests: [CallRequest] = []
    private var undecodable = 0

    func append(_ request: CallRequest) {
        lock.lock(); defer { lock.unlock() }
        requests.append(request)
    }

    func recordUndecodable() {
        lock.lock(); defer { lock.unlock() }
        undecodable += 1
    }

    var all: [CallRequest] {
        lock.lock(); defer { lock.unlock() }
        return requests
    }

    var undecodableCount: Int {
        lock.lock(); defer { lock.unlock() }
        return undecodable
    }

    /// The requests calling `method`, decoded.
    func calls(_ method: DecoderMethod) -> [(id: UInt64, call: DecoderCall)] {
        all.filter { $0.method == method.rawValue }.compactMap { request in
            (try? request.decodeCall()).map { (request.callID, $0) }
        }
    }

    /// Waits (without blocking a thread) until `condition` holds for the log; false if it did not
    /// within `patience`.
    func wait(patience: Duration = .seconds(5), until condition: ([CallRequest]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline {
            if condition(all) { return true }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return condition(all)
    }
}

/// A ROUTER bound to a free loopback port, answering with `handler`.
final class FakeCoordinator: Sendable {
    /// Where it listens, e.g. "tcp://127.0.0.1:41234".
    let endpoint: String
    let log: RequestLog
    private let stopper: ZMQMailbox<Bool>
    private let thread: ZMQServiceThread

    init(handler: sending @escaping (CallRequest, FakePeer) -> Void) throws {
        let router = try ZMQSocket(try ZMQContext(), type: .router, name: "fake-coordinator")
        try router.setLinger(.zero)
        endpoint = try router.bind("tcp://127.0.0.1:*")
        let log = RequestLog()
        self.log = log
        let stopper = try ZMQMailbox<Bool>()
        self.stopper = stopper
        thread = ZMQServiceThread.start(name: "fake-coordinator") {
            defer { router.close() }
            var poller = ZMQPoller()
            let socketIndex = poller.add(router)
            let stopIndex = poller.add(stopper)
            while true {
                let ready = try poller.poll(timeout: nil)
                if ready.isReadable(socketIndex) {
                    while let message = try router.tryReceiveRouted() {
                        guard message.frames.count == 1, let request = try? CallRequest.decode(message.frames[0]) else {
                            log.recordUndecodable()
                            continue
                        }
                        log.append(request)
                        handler(request, FakePeer(socket: router, identity: message.identity))
                    }
                }
                if ready.isReadable(stopIndex) {
                    _ = stopper.close()
                    return
                }
            }
        }
    }

    deinit {
        stop()
    }

    /// Stops the server thread and closes its socket (clients connected to it then see no peer).
    func stop() {
        stopper.post(true)
        _ = try? thread.join(timeout: .seconds(5))
    }

    /// A loopback endpoint where nothing listens: bound once to learn a free port, then closed.
    static func unusedEndpoint() throws -> String {
        let socket = try ZMQSocket(try ZMQContext(), type: .router)
        let endpoint = try socket.bind("tcp://127.0.0.1:*")
        socket.close()
        return endpoint
    }
}

/// A response whose fields are easy to tell apart.
func sampleResponse(text: String, tokens: [UInt32] = [11, 12, 13]) -> GenerateResponse {
    GenerateResponse(
        tokenIDs: tokens, logprobs: tokens.map { -Float($0) / 10 }, text: text, finishReason: .length,
        promptTokens: 4, completionTokens: UInt32(tokens.count),
        timing: GenerationTiming(queueNanoseconds: 1, prefillNanoseconds: 2, decodeNanoseconds: 3))
}
