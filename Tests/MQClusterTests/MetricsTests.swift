// The coordinator's Prometheus endpoint, scraped over real TCP from a real cluster: KV capacity,
// use and free bytes per stage follow a running sequence, calls and tokens are counted, and bad
// HTTP (garbage, wrong method or path, an oversize head) gets an HTTP error while scrapes and
// generation keep working.
import Foundation
import MQClient
import MQLocalCluster
import MQProtocol
import XCTest

final class MetricsTests: XCTestCase {
    /// The port the coordinator bound for `--metrics-listen tcp://127.0.0.1:*`, from its log.
    func metricsPort(_ cluster: LocalCluster) async throws -> UInt16 {
        for _ in 0..<100 {
            let log = (try? String(contentsOf: cluster.directory.appendingPathComponent("coordinator.log"), encoding: .utf8)) ?? ""
            if let line = log.split(separator: "\n").first(where: { $0.contains("metrics") && $0.contains("endpoint=tcp://") }),
               let colon = line.range(of: "endpoint=tcp://127.0.0.1:"),
               let port = UInt16(line[colon.upperBound...].prefix { $0.isNumber }) {
                return port
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("no metrics endpoint in the coordinator log:\n\(cluster.logs())")
        throw MQClientError(code: .unavailable, message: "no metrics endpoint")
    }

    /// A TCP connection to 127.0.0.1:`port` whose reads give up after 10 s.
    func connectTCP(_ port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        return fd
    }

    /// Sends `request` on a fresh TCP connection and returns everything read until the server closes.
    func exchange(_ port: UInt16, _ request: [UInt8]) throws -> String {
        let fd = try connectTCP(port)
        defer { close(fd) }
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }     // the server may close early (oversize head); read its answer
            sent += n
        }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    func get(_ port: UInt16, _ path: String = "/metrics") throws -> String {
        try exchange(port, Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
    }

    /// The value of the sample whose line starts with `prefix` (name plus labels up to a point).
    func value(_ text: String, _ prefix: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) && !line.hasPrefix("#") {
            if let v = line.split(separator: " ").last.flatMap({ Double($0) }) { return v }
        }
        return nil
    }

    func testPrefixCacheMetricsPerStage() async throws {
        let cluster = try LocalCluster(model: Paths.model("mqa"), workers: 2, extraCoordinatorArgs: ["--metrics-listen", "tcp://127.0.0.1:*"])
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let port = try await metricsPort(cluster)
        let c = try cluster.client()
        defer { c.close() }
        let prompt: [UInt32] = (0..<40).map { UInt32($0 * 7 % 500 + 1) }
        for _ in 0..<2 { _ = try await c.generate(GenerateRequest(prompt: .tokenIDs(prompt), maxNewTokens: 3)) }
        // The second call reused the first one's two blocks on both stages (heartbeats carry it).
        var text = ""
        for _ in 0..<40 {
            text = try get(port)
            if (0..<2).allSatisfy({ value(text, "mq_stage_prefix_hits_total{stage=\"\($0)\"") == 1 }) { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        for stage in 0..<2 {
            XCTAssertEqual(value(text, "mq_stage_prefix_hits_total{stage=\"\(stage)\""), 1, text)
            XCTAssertEqual(value(text, "mq_stage_prefix_hit_tokens_total{stage=\"\(stage)\""), 32, text)
            XCTAssertEqual(value(text, "mq_stage_prefix_cached_blocks{stage=\"\(stage)\""), 2, text)
            XCTAssertEqual(value(text, "mq_stage_prefix_evictions_total{stage=\"\(stage)\""), 0, text)
        }
    }

    func testMetricsFollowKVAndCallsAndSurviveBadHTTP() async throws {
        let model = try TestModels.longContextModel()
        defer { try? FileManager.default.removeItem(at: model) }
        let cluster = try LocalCluster(model: model, workers: 2, extraCoordinatorArgs: ["--metrics-listen", "tcp://127.0.0.1:*"])
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let port = try await metricsPort(cluster)
        let c = try cluster.client(timeout: .seconds(60))
        defer { c.close() }

        var text = try get(port)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\n"), text)
        XCTAssertTrue(text.contains("Content-Type: text/plain; version=0.0.4"), text)
        XCTAssertEqual(value(text, "mq_serving "), 1)
        for stage in 0..<2 {
            let cap = value(text, "mq_stage_kv_capacity_bytes{stage=\"\(stage)\"")
            XCTAssertNotNil(cap, text)
            XCTAssertGreaterThan(cap ?? 0, 0)
            XCTAssertEqual(value(text, "mq_stage_kv_used_bytes{stage=\"\(stage)\""), 0)
            XCTAssertEqual(value(text, "mq_stage_kv_free_bytes{stage=\"\(stage)\""), cap)
        }

        // One completed call: counted, with its tokens.
        let r = try await c.generate(GenerateRequest(prompt: .tokenIDs([5, 6, 7]), maxNewTokens: 12))
        text = try get(port)
        XCTAssertEqual(value(text, "mq_generated_tokens_total "), Double(r.tokenIDs.count))
        XCTAssertEqual(value(text, "mq_prompt_tokens_total "), 3)
        XCTAssertGreaterThanOrEqual(value(text, "mq_calls_total{status=\"OK\"}") ?? 0, 1)
        XCTAssertGreaterThan(value(text, "mq_stage_steps_total{stage=\"1\"") ?? 0, 0)

        // A running stream shows KV in use on both stages, and used + free = capacity.
        let stream = c.generateStream(GenerateRequest(prompt: .tokenIDs([9, 10]), maxNewTokens: 3000))
        var n = 0
        do {
            for try await _ in stream {
                n += 1
                guard n == 5 else { continue }
                var seen = false
                for _ in 0..<30 {
                    text = try get(port)
                    let used = (0..<2).map { value(text, "mq_stage_kv_used_bytes{stage=\"\($0)\"") ?? 0 }
                    if used.allSatisfy({ $0 > 0 }) {
                        seen = true
                        for s in 0..<2 {
                            XCTAssertEqual((value(text, "mq_stage_kv_used_bytes{stage=\"\(s)\"") ?? 0) + (value(text, "mq_stage_kv_free_bytes{stage=\"\(s)\"") ?? 0),
                                           value(text, "mq_stage_kv_capacity_bytes{stage=\"\(s)\""))
                        }
                        break
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                XCTAssertTrue(seen, "a running sequence should show KV in use on every stage:\n\(text)")
                XCTAssertEqual(value(text, "mq_calls_in_flight "), 1)
                _ = try await stream.cancel()
            }
        } catch let e as MQClientError { XCTAssertEqual(e.code, .cancelled) }

        // Bad HTTP gets HTTP errors; the endpoint and the cluster keep serving.
        XCTAssertTrue(try exchange(port, Array("\u{1}\u{2}garbage\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 400 "))
        XCTAssertTrue(try exchange(port, Array("POST /metrics HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 405 "))
        XCTAssertTrue(try get(port, "/nope").hasPrefix("HTTP/1.1 404 "))
        XCTAssertTrue(try exchange(port, [UInt8](repeating: 65, count: 20_000)).hasPrefix("HTTP/1.1 431 "))
        text = try get(port)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK"))
        XCTAssertGreaterThanOrEqual(value(text, "mq_calls_total{status=\"CANCELLED\"}") ?? 0, 1, text)
        _ = try await c.generate(GenerateRequest(prompt: .tokenIDs([1, 2]), maxNewTokens: 4))

        // 500 idle connections do not keep a scrape out: the oldest are closed to make room.
        let idle = try (0..<500).map { _ in try connectTCP(port) }
        defer { idle.forEach { close($0) } }
        let start = ContinuousClock.now
        text = try get(port)
        let latency = ContinuousClock.now - start
        print("GET /metrics with 500 idle connections open: answered in \(latency)")
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK"), text)
        XCTAssertLessThan(latency, .seconds(5))
    }
}
