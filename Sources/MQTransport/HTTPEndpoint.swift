// A minimal HTTP/1.x responder on a ZMQ_STREAM socket, so a service loop that polls ZeroMQ sockets
// can also answer plain HTTP scrapes (Prometheus's GET /metrics) without another server library
// or thread. One request per connection: the reply carries `Connection: close` and the connection
// is closed after it. Bad input (no request line, an oversize or binary request) gets an HTTP error
// or a closed connection; the loop keeps serving. Connections that send nothing cannot starve a
// scraper: one idle for `idleTimeout` is closed (`closeIdle`), and when `maxPendingConnections`
// are open the oldest is closed to make room for the newest.
import CZMQ

public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The request target without its query string ("/metrics?x=1" → "/metrics").
    public var path: String
}

public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var reason: String
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, reason: String, contentType: String = "text/plain; charset=utf-8", body: String) {
        self.status = status; self.reason = reason; self.contentType = contentType; self.body = Array(body.utf8)
    }

    /// The bytes on the wire: status line, headers, body.
    public var encoded: [UInt8] {
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}

public final class HTTPEndpoint {
    /// Largest request head accepted (request line and headers); larger gets 431 and a close.
    public static let maxRequestBytes = 8192
    /// Connections waiting for their request; a new one beyond this closes the oldest.
    public static let maxPendingConnections = 64
    /// A connection that has not sent its whole request after this long is closed: a scraper
    /// sends it at once, an idle connection only holds a slot.
    public static let idleTimeout: Duration = .seconds(5)

    public let socket: ZMQSocket
    /// Per connection id: when it opened, its arrival number (the oldest has the smallest; many
    /// open within one `now`) and the bytes received so far (a request may arrive in pieces).
    private var pending: [[UInt8]: (opened: ContinuousClock.Instant, arrival: UInt64, buffer: [UInt8])] = [:]
    private var arrivals: UInt64 = 0
    /// Connections waiting for their request (for tests and metrics).
    public var pendingConnections: Int { pending.count }

    /// Binds a STREAM socket to `endpoint` (tcp://HOST:PORT; port * picks one). `boundEndpoint` has it.
    public init(_ context: ZMQContext, bind endpoint: String) throws {
        socket = try ZMQSocket(context, type: .stream, name: "http")
        try socket.setLinger(.zero)
        boundEndpoint = try socket.bind(endpoint)
    }

    public let boundEndpoint: String

    public func close() { socket.close() }

    /// Reads whatever arrived and answers every complete request with `handler`.
    public func serveReadable(now: ContinuousClock.Instant = .now, _ handler: (HTTPRequest) -> HTTPResponse) throws {
        while let frames = try socket.tryReceive() {
            guard frames.count == 2 else { continue }
            let id = frames[0], data = frames[1]
            if data.isEmpty {
                // ZMQ_STREAM's notice of a new connection or of one that closed.
                if pending.removeValue(forKey: id) == nil {
                    if pending.count >= Self.maxPendingConnections, let oldest = pending.min(by: { $0.value.arrival < $1.value.arrival }) {
                        pending[oldest.key] = nil
                        closeConnection(oldest.key)
                    }
                    arrivals += 1
                    pending[id] = (opened: now, arrival: arrivals, buffer: [])
                }
                continue
            }
            guard var connection = pending[id] else {
                // Data from a connection closed for room or idleness a moment ago: it goes unanswered.
                continue
            }
            connection.buffer += data
            let buffer = connection.buffer
            if let end = Self.headEnd(buffer) {
                pending[id] = nil
                respond(id, Self.parse(Array(buffer[..<end])).map(handler)
                            ?? HTTPResponse(status: 400, reason: "Bad Request", body: "expected a request line like GET /metrics HTTP/1.1\n"))
            } else if buffer.count > Self.maxRequestBytes {
                pending[id] = nil
                respond(id, HTTPResponse(status: 431, reason: "Request Header Fields Too Large",
                                         body: "request head over \(Self.maxRequestBytes) bytes\n"))
            } else {
                pending[id] = connection
            }
        }
    }

    /// Closes the connections that opened `idleTimeout` or more before `now` without sending a
    /// whole request. The loop calls it every iteration; it returns how many it closed.
    @discardableResult
    public func closeIdle(now: ContinuousClock.Instant) -> Int {
        let idle = pending.filter { now - $0.value.opened >= Self.idleTimeout }.map(\.key)
        for id in idle {
            pending[id] = nil
            closeConnection(id)
        }
        return idle.count
    }

    private func respond(_ id: [UInt8], _ r: HTTPResponse) {
        // A peer that already left makes these fail; there is nobody to tell.
        _ = try? socket.trySend(frames: [id, r.encoded])
        closeConnection(id)
    }

    private func closeConnection(_ id: [UInt8]) { _ = try? socket.trySend(frames: [id, []]) }

    /// Index just past the blank line ending the request head, if it has arrived.
    static func headEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 3..<b.count where b[i - 3] == 13 && b[i - 2] == 10 && b[i - 1] == 13 && b[i] == 10 { return i + 1 }
        return nil
    }

    /// "METHOD TARGET HTTP/1.x" from the head's first line; nil when it is not one.
    static func parse(_ head: [UInt8]) -> HTTPRequest? {
        guard let text = String(validating: head, as: UTF8.self),
              let line = text.split(separator: "\r\n", maxSplits: 1, omittingEmptySubsequences: false).first else { return nil }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1."), !parts[0].isEmpty,
              parts[0].allSatisfy({ $0.isUppercase }), parts[1].hasPrefix("/") else { return nil }
        let target = parts[1]
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? target
        return HTTPRequest(method: String(parts[0]), path: String(path))
    }
}
