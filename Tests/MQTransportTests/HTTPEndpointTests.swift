// The HTTP responder's parsing (pure) and one exchange over a real ZMQ_STREAM socket with a STREAM
// client standing in for a browser: a request split over two sends, then a binary one.
import Foundation
import XCTest
@testable import MQTransport

final class HTTPEndpointTests: XCTestCase {
    func testRequestLineParsing() {
        XCTAssertEqual(HTTPEndpoint.parse(Array("GET /metrics HTTP/1.1\r\nHost: x".utf8)), HTTPRequest(method: "GET", path: "/metrics"))
        XCTAssertEqual(HTTPEndpoint.parse(Array("GET /metrics?name=x HTTP/1.0".utf8)), HTTPRequest(method: "GET", path: "/metrics"))
        for bad in ["", "GET", "GET /metrics", "get /metrics HTTP/1.1", "GET metrics HTTP/1.1", "GET /metrics SPDY/3",
                    "GET  /metrics HTTP/1.1", "\u{0}\u{1} / HTTP/1.1"] {
            XCTAssertNil(HTTPEndpoint.parse(Array(bad.utf8)), bad)
        }
        XCTAssertNil(HTTPEndpoint.parse([0xff, 0xfe, 0x20, 0x2f]), "not UTF-8")
        XCTAssertEqual(HTTPEndpoint.headEnd(Array("GET / HTTP/1.1\r\n\r\nrest".utf8)), 18)
        XCTAssertNil(HTTPEndpoint.headEnd(Array("GET / HTTP/1.1\r\n".utf8)))
        let r = HTTPResponse(status: 200, reason: "OK", body: "hi\n")
        XCTAssertEqual(String(decoding: r.encoded, as: UTF8.self),
                       "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nConnection: close\r\n\r\nhi\n")
    }

    func testServesARequestArrivingInPieces() throws {
        let context = try ZMQContext()
        let server = try HTTPEndpoint(context, bind: "tcp://127.0.0.1:*")
        defer { server.close() }
        let client = try ZMQSocket(context, type: .stream, name: "client")
        defer { client.close() }
        try client.setLinger(.zero)
        try client.connect(server.boundEndpoint)
        // A STREAM client learns its connection id from the first (empty) frame pair.
        guard let hello = try client.receive(timeout: .seconds(5)), hello.count == 2 else { return XCTFail("no connect notice") }
        let id = hello[0]
        var seen: [HTTPRequest] = []
        func pump() throws {
            let end = ContinuousClock.now + .milliseconds(300)
            while ContinuousClock.now < end {
                try server.serveReadable { r in seen.append(r); return HTTPResponse(status: 200, reason: "OK", body: "x 1\n") }
                usleep(10_000)
            }
        }
        try client.send(frames: [id, Array("GET /met".utf8)])
        try pump()
        XCTAssertTrue(seen.isEmpty, "half a request must wait for the rest")
        try client.send(frames: [id, Array("rics HTTP/1.1\r\nHost: a\r\n\r\n".utf8)])
        try pump()
        XCTAssertEqual(seen, [HTTPRequest(method: "GET", path: "/metrics")])
        var reply: [UInt8] = []
        while let f = try client.receive(timeout: .seconds(2)), f.count == 2, !f[1].isEmpty { reply += f[1] }
        XCTAssertTrue(String(decoding: reply, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
        XCTAssertTrue(String(decoding: reply, as: UTF8.self).hasSuffix("\r\n\r\nx 1\n"))
    }
}
