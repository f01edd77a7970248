// A minimal HTTP/1.1 client over a POSIX socket for the gateway tests: one request per connection
// ("Connection: close"), the whole response read and de-chunked; or a connection left open to read
// a stream's first bytes and then drop it (a client that goes away mid-stream).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct HTTPReply {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:] }
}

struct RawHTTPError: Error, CustomStringConvertible { var description: String }

final class RawHTTPConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { close(fd); throw RawHTTPError(description: "connect to port \(port): errno \(errno)") }
    }

    deinit { close(fd) }

    func send(_ method: String, _ path: String, body: [UInt8] = [], headers: [String: String] = [:]) throws {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let bytes = Array((head + "\r\n").utf8) + body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // The server may answer (413) and close before a huge body is sent: read what it said.
            if n <= 0 { return }
            sent += n
        }
    }

    /// Reads up to `count` bytes (fewer at the end of the stream).
    func read(upTo count: Int = 65536) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    func readAll() -> [UInt8] {
        var all: [UInt8] = []
        while true {
            let part = read()
            if part.isEmpty { return all }
            all += part
        }
    }

    func reply() throws -> HTTPReply {
        let raw = readAll()
        guard let split = raw.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw RawHTTPError(description: "no HTTP head in \(raw.count) bytes")
        }
        let head = String(decoding: raw[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first, statusLine.split(separator: " ").count >= 2,
              let status = Int(statusLine.split(separator: " ")[1]) else { throw RawHTTPError(description: "bad status line") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(raw[split.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = try Self.dechunk(body) }
        return HTTPReply(status: status, headers: headers, body: body)
    }

    static func dechunk(_ data: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = [], i = 0
        while i < data.count {
            guard let end = data[i...].firstRange(of: Array("\r\n".utf8)),
                  let size = Int(String(decoding: data[i..<end.lowerBound], as: UTF8.self), radix: 16) else {
                throw RawHTTPError(description: "bad chunk header")
            }
            if size == 0 { break }
            out += data[end.upperBound..<min(data.count, end.upperBound + size)]
            i = end.upperBound + size + 2
        }
        return out
    }
}

enum RawHTTP {
    static func request(port: Int, _ method: String, _ path: String, json: Any? = nil, rawBody: [UInt8]? = nil,
                        headers: [String: String] = [:]) throws -> HTTPReply {
        let connection = try RawHTTPConnection(port: port)
        var body = rawBody ?? []
        var headers = headers
        if let json {
            body = Array(try JSONSerialization.data(withJSONObject: json))
            headers["Content-Type"] = "application/json"
        }
        try connection.send(method, path, body: body, headers: headers)
        return try connection.reply()
    }

    /// The JSON objects of a server-sent event stream's `data:` lines, and whether it ended with [DONE].
    static func events(_ body: String) -> (objects: [[String: Any]], done: Bool) {
        var objects: [[String: Any]] = []
        var done = false
        for event in body.components(separatedBy: "\n\n") where event.hasPrefix("data: ") {
            let payload = String(event.dropFirst("data: ".count))
            if payload == "[DONE]" { done = true; continue }
            if let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any] { objects.append(object) }
        }
        return (objects, done)
    }
}
