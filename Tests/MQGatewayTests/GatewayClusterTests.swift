// mq-gateway as a real process in front of a real secured cluster (CURVE keys, an API key on the
// coordinator and another on the gateway), called over plain HTTP: answers equal the single-process
// engine (`mq run`), streams end with [DONE], errors have OpenAI's shape and status, and a client
// that drops a stream gets its call cancelled on the cluster.
import Foundation
import MQClient
import MQEngine
import MQLocalCluster
import MQSampling
import XCTest

enum Fixtures {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()
    static let defaultModel = root.appendingPathComponent("models/default")
    static let binaries: URL = {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var d = exe.deletingLastPathComponent()
        for _ in 0..<3 {
            if FileManager.default.isExecutableFile(atPath: d.appendingPathComponent("mq-gateway").path) { return d }
            d.deleteLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug")
    }()
}

final class GatewayClusterTests: XCTestCase {
    static let gatewayKey = "gateway-test-key-\(UInt64.random(in: 0...UInt64.max))"

    private func startCluster(metricsPort: Int) async throws -> (LocalCluster, LocalGateway) {
        var options = LocalClusterOptions(model: Fixtures.defaultModel, workers: 2)
        options.binaries = Fixtures.binaries
        options.endpoints = .ipc
        options.secured = true
        options.apiKey = "coordinator-test-key-\(UInt64.random(in: 0...UInt64.max))"
        options.coordinatorArguments = ["--split", "even", "--metrics-listen", "tcp://127.0.0.1:\(metricsPort)"]
        options.folderPrefix = "mq-gateway-test"
        options.removeFolderOnStop = true
        let cluster = try LocalCluster(options)
        do {
            try await cluster.waitUntilServing()
            let gateway = try cluster.startGateway(LocalGatewayOptions(apiKeys: [Self.gatewayKey]))
            try await cluster.waitUntilGatewayServing(gateway)
            return (cluster, gateway)
        } catch {
            cluster.stop()
            throw error
        }
    }

    private var auth: [String: String] { ["Authorization": "Bearer \(Self.gatewayKey)"] }

    private func engine(_ prompt: String, maxTokens: Int, sampling: SamplingParameters = SamplingParameters()) throws -> GenerationResult {
        let engine = try Engine(directory: Fixtures.defaultModel, compute: .allCores)
        return try engine.generate(GenerationRequest(promptIds: engine.encode(prompt), maxNewTokens: maxTokens, sampling: sampling))
    }

    func testCompletionsEqualSingleProcessStreamsEndWithDoneAndErrorsAreOpenAIShaped() async throws {
        let metricsPort = LocalCluster.freeTCPPort()
        let (cluster, gateway) = try await startCluster(metricsPort: metricsPort)
        defer { cluster.stop() }
        let port = gateway.port
        let models = try RawHTTP.request(port: port, "GET", "/v1/models", headers: auth)
        XCTAssertEqual(models.status, 200, models.text)
        let model = try XCTUnwrap(((models.json["data"] as? [[String: Any]])?.first?["id"]) as? String)

        // Greedy, with logprobs: the engine's text, token count and log probabilities.
        let prompt = "def fibonacci(n):"
        let expected = try engine(prompt, maxTokens: 20)
        let greedy = try RawHTTP.request(port: port, "POST", "/v1/completions", json: [
            "model": model, "prompt": prompt, "max_tokens": 20, "temperature": 0, "logprobs": 2,
        ], headers: auth)
        XCTAssertEqual(greedy.status, 200, greedy.text)
        let choice = try XCTUnwrap((greedy.json["choices"] as? [[String: Any]])?.first)
        XCTAssertEqual(choice["text"] as? String, expected.text)
        let logprobs = try XCTUnwrap((choice["logprobs"] as? [String: Any])?["token_logprobs"] as? [Double])
        XCTAssertEqual(logprobs.count, expected.tokenIds.count)
        for (a, b) in zip(logprobs, expected.logprobs) { XCTAssertEqual(a, Double(b), accuracy: 1e-4) }
        XCTAssertEqual((greedy.json["usage"] as? [String: Any])?["completion_tokens"] as? Int, expected.tokenIds.count)

        // Sampled with a seed: the engine's tokens for the same seed.
        let sampled = try RawHTTP.request(port: port, "POST", "/v1/completions", json: [
            "model": model, "prompt": prompt, "max_tokens": 24, "temperature": 0.8, "top_p": 0.95, "seed": 9,
        ], headers: auth)
        let sampledExpected = try engine(prompt, maxTokens: 24, sampling: SamplingParameters(temperature: 0.8, topP: 0.95, seed: 9))
        XCTAssertEqual((sampled.json["choices"] as? [[String: Any]])?.first?["text"] as? String, sampledExpected.text, sampled.text)

        // Streamed: the same text in events, a usage chunk, then [DONE].
        let streamed = try RawHTTP.request(port: port, "POST", "/v1/completions", json: [
            "model": model, "prompt": prompt, "max_tokens": 20, "temperature": 0, "stream": true,
            "stream_options": ["include_usage": true],
        ], headers: auth)
        XCTAssertEqual(streamed.status, 200)
        XCTAssertEqual(streamed.headers["content-type"], "text/event-stream")
        let (events, done) = RawHTTP.events(streamed.text)
        XCTAssertTrue(done, "the stream must end with data: [DONE]")
        let text = events.compactMap { ($0["choices"] as? [[String: Any]])?.first?["text"] as? String }.joined()
        XCTAssertEqual(text, expected.text)
        XCTAssertEqual((events.last?["usage"] as? [String: Any])?["completion_tokens"] as? Int, expected.tokenIds.count)

        // Errors: OpenAI's shape and status codes.
        let noKey = try RawHTTP.request(port: port, "POST", "/v1/completions", json: ["model": model, "prompt": "x"])
        XCTAssertEqual(noKey.status, 401)
        XCTAssertEqual((noKey.json["error"] as? [String: Any])?["code"] as? String, "invalid_api_key")
        let unknown = try RawHTTP.request(port: port, "POST", "/v1/completions", json: ["model": "nope", "prompt": "x"], headers: auth)
        XCTAssertEqual(unknown.status, 404)
        let bad = try RawHTTP.request(port: port, "POST", "/v1/completions", json: ["model": model, "prompt": "x", "top_p": 7], headers: auth)
        XCTAssertEqual(bad.status, 400)
        XCTAssertEqual((bad.json["error"] as? [String: Any])?["param"] as? String, "top_p")
        let huge = try RawHTTP.request(port: port, "POST", "/v1/completions", rawBody: [UInt8](repeating: 32, count: 5 << 20),
                                       headers: auth.merging(["Content-Type": "application/json"]) { $1 })
        XCTAssertEqual(huge.status, 413, huge.text)
        let path = try RawHTTP.request(port: port, "GET", "/v2/anything", headers: auth)
        XCTAssertEqual(path.status, 404)
        XCTAssertNotNil(path.json["error"])
        let chat = try RawHTTP.request(port: port, "POST", "/v1/chat/completions", json: ["model": model, "messages": []], headers: auth)
        XCTAssertEqual(chat.status, 400)
        XCTAssertTrue(chat.text.contains("chat template"), chat.text)

        // Health and metrics.
        let health = try RawHTTP.request(port: port, "GET", "/health")
        XCTAssertEqual(health.status, 200, health.text)
        let metrics = try RawHTTP.request(port: port, "GET", "/metrics")
        XCTAssertTrue(metrics.text.contains(#"mq_gateway_requests_total{route="/v1/completions",code="200"} 3"#), metrics.text)
        XCTAssertTrue(metrics.text.contains(#"mq_gateway_requests_total{route="/v1/completions",code="401"} 1"#), metrics.text)

        // A client that goes away mid-stream: its calls (8 choices of 480 tokens, seconds of work)
        // are cancelled on the cluster at once.
        let client = try cluster.client(timeout: .seconds(30), connectTimeout: .seconds(10))
        defer { client.close() }
        let connection = try RawHTTPConnection(port: port)
        try connection.send("POST", "/v1/completions", body: Array(try JSONSerialization.data(withJSONObject: [
            "model": model, "prompt": prompt, "max_tokens": 480, "temperature": 0, "stream": true, "n": 8,
        ])), headers: auth.merging(["Content-Type": "application/json"]) { $1 })
        XCTAssertFalse(connection.read(upTo: 256).isEmpty, "the stream should start")
        let inFlight = try await client.health().inFlightCalls
        XCTAssertEqual(inFlight, 8, "the stream's calls should be running")
        shutdown(connection.fd, Int32(SHUT_RDWR))
        let dropped = ContinuousClock.now
        var cancelled = false
        while ContinuousClock.now - dropped < .seconds(5) {
            if try await client.health().inFlightCalls == 0 { cancelled = true; break }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertTrue(cancelled, "the calls of a client that went away are still running")
        let coordinatorMetrics = try RawHTTP.request(port: metricsPort, "GET", "/metrics").text
        XCTAssertTrue(coordinatorMetrics.contains(#"mq_calls_total{status="CANCELLED"} 8"#),
                      "the 8 calls should end CANCELLED, not complete:\n\(coordinatorMetrics)")
        // The gateway keeps serving.
        let after = try RawHTTP.request(port: port, "POST", "/v1/completions", json: ["model": model, "prompt": prompt, "max_tokens": 4], headers: auth)
        XCTAssertEqual(after.status, 200)
    }

    func testACoordinatorThatIsNotThereIs503() async throws {
        let port = LocalCluster.freeTCPPort()
        let process = Process()
        process.executableURL = Fixtures.binaries.appendingPathComponent("mq-gateway")
        process.arguments = ["--coordinator", "tcp://127.0.0.1:\(LocalCluster.freeTCPPort())", "--port", "\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        var health: HTTPReply? = nil
        for _ in 0..<200 {
            if let reply = try? RawHTTP.request(port: port, "GET", "/health") { health = reply; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(health?.status, 503)
        let completion = try RawHTTP.request(port: port, "POST", "/v1/completions", json: ["model": "m", "prompt": "x"])
        XCTAssertEqual(completion.status, 503, completion.text)
        XCTAssertEqual(completion.headers["retry-after"], "1")
        XCTAssertEqual((completion.json["error"] as? [String: Any])?["code"] as? String, "cluster_unavailable")
        // The server closes every connection after its response, so it must say so: a client that
        // pooled the connection raced the close on its next request.
        XCTAssertEqual(completion.headers["connection"], "close")
        XCTAssertEqual(health?.headers["connection"], "close")
    }
}
