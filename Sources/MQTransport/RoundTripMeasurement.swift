// measureRoundTrip: a small latency probe the CLI's benchmark command can call. A DEALER sends a
// frame to an echo ROUTER running on its own thread with its own context (so each side has its own
// libzmq I/O thread, as two processes would) and waits for the echo. Reports percentiles; asserts
// nothing about speed, only that every echo came back intact.

import Foundation

/// Round-trip latency for one frame size.
public struct RoundTripMeasurement: Sendable, CustomStringConvertible {
    public let frameSize: Int
    public let iterations: Int
    public let minimum: Duration
    public let median: Duration
    public let p90: Duration
    public let p99: Duration
    public let mean: Duration

    /// Payload bytes moved per second at the median (the frame travels twice per round trip).
    public var megabytesPerSecond: Double {
        2 * Double(frameSize) / Self.seconds(median) / 1e6
    }

    public var description: String {
        String(format: "%9d B  median %8.1f us  p90 %8.1f us  p99 %8.1f us  min %8.1f us  mean %8.1f us  (%.0f MB/s, n=%d)",
               frameSize, Self.microseconds(median), Self.microseconds(p90), Self.microseconds(p99),
               Self.microseconds(minimum), Self.microseconds(mean), megabytesPerSecond, iterations)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    static func microseconds(_ duration: Duration) -> Double { seconds(duration) * 1e6 }
}

/// Measures DEALER -> ROUTER -> DEALER echo latency for each of `frameSizes` over `endpoint`
/// (tcp loopback by default; an ipc:// path works too). Throws if an echo is lost, late beyond
/// `TransportDefaults.measurementReplyTimeout`, or corrupted.
public func measureRoundTrip(endpoint: String = "tcp://127.0.0.1:*",
                             frameSizes: [Int] = TransportDefaults.measurementFrameSizes,
                             iterations: Int = TransportDefaults.measurementIterations,
                             warmup: Int = TransportDefaults.measurementWarmup) throws -> [RoundTripMeasurement] {
    guard iterations > 0, warmup >= 0, frameSizes.allSatisfy({ $0 >= 0 }) else {
        throw ZMQError(operation: "measure round trip", endpoint: endpoint, code: EINVAL,
                       detail: "needs iterations > 0, warmup >= 0 and frame sizes >= 0 (got \(iterations), \(warmup), \(frameSizes))")
    }
    let serverContext = try ZMQContext()
    let clientContext = try ZMQContext()

    // The echo server: bound here so its port is known, then moved whole onto its own thread.
    let server = try ZMQSocket(serverContext, type: .router, name: "echo")
    try server.setMaxMessageSize(nil)
    let boundEndpoint = try server.bind(endpoint)
    let stop = try ZMQMailbox<Bool>()
    let echo = ZMQServiceThread.start(name: "mq-echo") {
        var poller = ZMQPoller()
        let socketIndex = poller.add(server)
        let stopIndex = poller.add(stop)
        while true {
            let ready = try poller.poll(timeout: nil)
            if ready.isReadable(stopIndex), !stop.drain().isEmpty { break }
            if ready.isReadable(socketIndex) {
                while let message = try server.tryReceiveRouted() {
                    try server.send(to: message.identity, frames: message.frames)
                }
            }
        }
        server.close()
    }
    defer {
        stop.post(true)
        try? echo.join()
    }

    let client = try ZMQSocket(clientContext, type: .dealer, name: "echo-client")
    try client.setMaxMessageSize(nil)
    try client.connect(boundEndpoint)
    defer { client.close() }

    var results: [RoundTripMeasurement] = []
    for size in frameSizes {
        // Random bytes, so a reply that is stale (an earlier size) or shifted cannot match.
        var generator = SystemRandomNumberGenerator()
        let payload = ZMQSharedBuffer(count: size) { bytes in
            let words = UnsafeMutableRawBufferPointer(rebasing: bytes[0..<(size / 8 * 8)]).bindMemory(to: UInt64.self)
            for index in words.indices { words[index] = generator.next() }
        }
        var samples: [Duration] = []
        samples.reserveCapacity(iterations)
        for round in 0..<(warmup + iterations) {
            let start = ContinuousClock.now
            try client.send(frames: [.shared(payload)])
            guard let reply = try client.receive(timeout: TransportDefaults.measurementReplyTimeout) else {
                // A dead echo loop explains the silence better than the timeout does.
                if echo.isFinished { try echo.join() }
                throw ZMQError(operation: "measure round trip", endpoint: boundEndpoint, code: EAGAIN,
                               detail: "no echo of a \(size)-byte frame within \(TransportDefaults.measurementReplyTimeout)")
            }
            let elapsed = ContinuousClock.now - start
            // Checked after the clock stops so a 3 MB comparison does not count as latency.
            let intact = reply.count == 1 && reply[0].count == size && payload.withUnsafeBytes { sent in
                reply[0].withUnsafeBytes { received in size == 0 || memcmp(sent.baseAddress!, received.baseAddress!, size) == 0 }
            }
            guard intact else {
                throw ZMQError(operation: "measure round trip", endpoint: boundEndpoint, code: EPROTO,
                               detail: "the echo of a \(size)-byte frame came back different")
            }
            if round >= warmup { samples.append(elapsed) }
        }
        samples.sort()
        let total = samples.reduce(Duration.zero, +)
        func percentile(_ fraction: Double) -> Duration {
            samples[min(samples.count - 1, Int(Double(samples.count - 1) * fraction + 0.5))]
        }
        results.append(RoundTripMeasurement(frameSize: size, iterations: samples.count, minimum: samples[0],
                                            median: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99),
                                            mean: total / samples.count))
    }
    return results
}
