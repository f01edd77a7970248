// MQClient against a fake coordinator on real loopback sockets: unary and streaming calls, error
// statuses, local deadlines, a coordinator that is not there, concurrent calls answered out of
// order, cancellation (task, dropped stream, explicit Cancel, close) and garbage replies.
import Foundation
import MQClient
import MQProtocol
import XCTest

final class MQClientTests: XCTestCase {
    private let prompt = GenerateRequest(prompt: .text("def fib(n):"), maxNewTokens: 3)

    /// Runs `body` expecting an MQClientError; returns it (nil, with a test failure, otherwise).
    private func expectClientError<T>(_ body: () async throws -> T, file: StaticString = #filePath,
                                      line: UInt = #line) async -> MQClientError? {
        do {
            let value = try await body()
            XCTFail("expected an MQClientError, got \(value)", file: file, line: line)
        } catch let error as MQClientError {
            return error
        } catch {
            XCTFail("expected an MQClientError, got \(type(of: error)): \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: Unary and streaming

    func testGenerateSendsTheRequestAndReturnsTheResponse() async throws {
        let server = try FakeCoordinator { request, peer in
            guard case let .generate(generate)? = try? request.decodeCall() else {
                peer.send(.failure(callID: request.callID, .unimplemented, "test server: unexpected \(request.method)"))
                return
            }
            guard case let .text(text) = generate.prompt else { return }
            peer.send(.response(callID: request.callID, sampleResponse(text: "echo \(text)")))
        }
        let client = try MQClient(endpoint: server.endpoint)
        defer { client.close() }

        let response = try await client.generate(prompt, timeout: .milliseconds(1500), metadata: ["request-id": "t-1"])
        XCTAssertEqual(response, sampleResponse(text: "echo def fib(n):"))

        let request = try XCTUnwrap(server.log.all.first)
        XCTAssertEqual(request.method, DecoderMethod.generate.rawValue)
        XCTAssertEqual(request.version, ProtocolVersion.current)
        XCTAssertNotEqual(request.callID, 0)
        XCTAssertEqual(request.timeoutMilliseconds, 1500, "the deadline travels as timeout_ms")
        XCTAssertEqual(request.metadata, ["request-id": "t-1"])
        XCTAssertEqual(try request.decodeCall(), .generate(prompt))
    }

    func testEveryUnaryMethodAndTheDefaultTimeout() async throws {
        let health = HealthResponse(serving: false, missingLayers: [LayerRange(4..<8)], workers: [], totalLayers: 8)
        let info = InfoResponse(
            model: ModelInfo(name: "tiny", architecture: "gpt_bigcode", attentionKind: .multiQuery, numLayers: 8,
                             hiddenSize: 64, numHeads: 4, kvHeads: 1, headDim: 16, vocabSize: 100, maxPositions: 128,
                             kvBytesPerToken: 1024, eosTokenID: 0),
            stages: [StageInfo(stageIndex: 0, workerID: "w0", dataEndpoint: "tcp://127.0.0.1:7000", layers: LayerRange(0..<4))],
            limits: ServerLimits(maxPromptTokens: 100, defaultMaxNewTokens: 16, maxNewTokens: 64,
                                 defaultTimeoutMilliseconds: 60_000, maxTimeoutMilliseconds: 600_000))
        let tokens = TokenizeResponse(tokenIDs: [5, 6], tokens: ["a", "Ġb"])
        let server = try FakeCoordinator { request, peer in
            switch try? request.decodeCall() {
            case .health?: peer.send(.response(callID: request.callID, health))
            case .info?: peer.send(.response(callID: request.callID, info))
            case let .tokenize(t)? where t.text == "a b": peer.send(.response(callID: request.callID, tokens))
            default: peer.send(.failure(callID: request.callID, .unimplemented, "unexpected \(request.method)"))
            }
        }
        let client = try MQClient(endpoint: server.endpoint, defaultTimeout: .seconds(7))
        defer { client.close() }

        let gotHealth = try await client.health()
        XCTAssertEqual(gotHealth, health)
        let gotInfo = try await client.info()
        XCTAssertEqual(gotInfo, info)
        let gotTokens = try await client.tokenize(TokenizeRequest(text: "a b"))
        XCTAssertEqual(gotTokens, tokens)
        XCTAssertEqual(server.log.all.map(\.timeoutMilliseconds), [7000, 7000, 7000])
        XCTAssertEqual(Set(server.log.all.map(\.callID)).count, 3, "every call has its own id")
    }

    func testStreamYieldsEveryChunkThenEndsAtTheTrailer() async throws {
        let chunks = [
            GenerateStreamChunk(tokenIDs: [1], logprobs: [-0.5], textDelta: "he"),
            GenerateStreamChunk(tokenIDs: [2], logprobs: [-0.25], textDelta: ""),
            GenerateStreamChunk(tokenIDs: [3], logprobs: [-0.125], textDelta: "llo", finishReason: .eos,
                                promptTokens: 4, completionTokens: 3, timing: GenerationTiming(prefillNanoseconds: 9)),
        ]
        let server = try FakeCoordinator { request, peer in
            guard request.method == DecoderMethod.generateStream.rawValue else { return }
            for chunk in chunks { peer.send(.chunk(callID: request.callID, chunk)) }
            peer.send(.end(callID: request.callID, status: .ok))
        }
        let client = try MQClient(endpoint: server.endpoint)
        defer { client.close() }

        let call = client.generateStream(prompt)
        var received: [GenerateStreamChunk] = []
        for try await chunk in call { received.append(chunk) }
        XCTAssertEqual(received, chunks)
        XCTAssertEqual(server.log.all.first?.callID, call.callID, "the handle knows the call id")

        let joined = try await client.generateStream(prompt).collect()
        XCTAssertEqual(joined, GenerateResponse(
            tokenIDs: [1, 2, 3], logprobs: [-0.5, -0.25, -0.125], text: "hello", finishReason: .eos,
            promptTokens: 4, completionTokens: 3, timing: GenerationTiming(prefillNanoseconds: 9)))
    }

    // MARK: Failures

    func testNonOKStatusSurfacesAsClientError() async throws {
        let server = try FakeCoordinator { request, peer in
            if request.method == DecoderMethod.generateStream.rawValue {
                peer.send(.chunk(callID: request.callID, GenerateStreamChunk(tokenIDs: [7], logprobs: [-1], textDelta: "x")))
                peer.send(.failure(callID: request.callID, .unavailable, "layers 4..<8 have no worker"))
            } else {
                peer.send(.failure(callID: request.callID, .resourceExhausted, "KV cache full"))
            }
        }
        let client = try MQClient(endpoint: server.endpoint)
        defer { client.close() }

        let unary = await expectClientError { try await client.generate(self.prompt) }
        XCTAssertEqual(unary?.code, .resourceExhausted)
        XCTAssertEqual(unary?.message, "KV cache full")
        XCTAssertEqual(unary?.description, "RESOURCE_EXHAUSTED: KV cache full")
        XCTAssertEqual(unary?.callID, server.log.all.first?.callID)

        // A stream that fails midway delivers its chunks, then throws the trailer's status.
        let call = client.generateStream(prompt)
        var received: [GenerateStreamChunk] = []
        let streamed = await expectClientError {
            for try await chunk in call { received.append(chunk) }
        }
        XCTAssertEqual(received.map(\.textDelta), ["x"])
        XCTAssertEqual(streamed?.code, .unavailable)
        XCTAssertEqual(streamed?.message, "layers 4..<8 have no worker")
        XCTAssertEqual(streamed?.callID, call.callID)
    }

    func testSilentServerEndsTheCallWithDeadlineExceeded() async throws {
        // Answers Health only: a Generate gets no reply at all (a stuck coordinator).
        let server = try FakeCoordinator { request, peer in
            if request.method == DecoderMethod.health.rawValue {
                peer.send(.response(callID: request.callID, HealthResponse(serving: true, missingLayers: [], workers: [], totalLayers: 2)))
            }
        }
        let client = try MQClient(endpoint: server.endpoint)
        defer { client.close() }

        let timeout = Duration.milliseconds(300)
        let started = ContinuousClock.now
        let error = await expectClientError { try await client.generate(self.prompt, timeout: timeout) }
        let elapsed = ContinuousClock.now - started
        XCTAssertEqual(error?.code, .deadlineExceeded, "\(String(describing: error))")
        XCTAssertGreaterThanOrEqual(elapsed, timeout, "the client waits for the whole deadline")
        XCTAssertLessThan(elapsed, timeout + MQClientDefaults.deadlineGrace + .seconds(1), "and not much longer")

        // The connection stays usable after a call timed out.
        let health = try await client.health(timeout: .seconds(2))
        XCTAssertTrue(health.serving)
    }

    func testNoServerListeningFailsFastWithUnavailable() async throws {
        let client = try MQClient(endpoint: try FakeCoordinator.unusedEndpoint())
        defer { client.close() }

        let started = ContinuousClock.now
        let error = await expectClientError { try await client.health(timeout: .seconds(30)) }
        XCTAssertEqual(error?.code, .unavailable, "\(String(describing: error))")
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(1), "a coordinator that is down fails fast, not at the deadline")

        let streamed = await expectClientError {
            for try await _ in client.generateStream(self.prompt, timeout: .seconds(30)) {}
        }
        XCTAssertEqual(streamed?.code, .unavailable)
    }

    func testMalformedEndpointAndTimeoutAreRefused() async throws {
        XCTAssertThrowsError(try MQClient(endpoint: "nonsense")) { error in
            XCTAssertEqual((error as? MQClientError)?.code, .invalidArgument)
        }
        XCTAssertThrowsError(try MQClient(endpoint: "tcp://127.0.0.1:1", defaultTimeout: .zero)) { error in
            XCTAssertEqual((error as? MQClientError)?.code, .invalidArgument)
        }
        let client = try MQClient(endpoint: try FakeCoordinator.unusedEndpoint())
        defer { client.close() }
        let error = await expectClientError { try await client.info(timeout: .milliseconds(-5)) }
        XCTAssertEqual(error?.code, .invalidArgument)
    }

    // MARK: Concurrency

    func testConcurrentCallsEachGetTheirOwnReplyWhenAnsweredOutOfOrder() async throws {
        let calls = 8
        var held: [(CallRequest, FakePeer)] = []
        let server = try FakeCoordinator { request, peer in
            held.append((request, peer))
            guard held.count == calls else { return }
            // All eight are in flight: answer them last first.
            for (request, peer) in held.reversed() {
                guard case let .generate(generate)? = try? request.decodeCall(), case let .text(text) = generate.prompt else { continue }
                peer.send(.response(callID: request.callID, sampleResponse(text: "echo \(text)", tokens: [UInt32(request.callID)])))
            }
        }
        let client = try MQClient(endpoint: server.endpoint)
        defer { client.close() }

        let results = try await withThrowingTaskGroup(of: (Int, GenerateResponse).self) { group in
            for index in 0..<calls {
                group.addTask {
                    (index, try await client.generate(GenerateRequest(prompt: .text("call \(index)")), timeout: .seconds(5)))
                }
            }
            var results: [Int: GenerateResponse] = [:]
            for try await (index, response) in group { results[index] = response }
            return results
        }
        XCTAssertEqual(results.count, calls)
        for index in 0..<calls {
            XCTAssertEqual(results[index]?.text, "echo call \(index)", "call \(index) got another call's reply")
        }
        XCTAssertEqual(Set(results.values.map { $0.tokenIDs }).count, calls)
    }

    // MARK: Cancellation

    func testCancellingTheStreamingTaskSendsCancel() async throws {
        let server = try FakeCoordinator { request, peer in
            if request.method == DecoderMethod.generateStream.rawValue {
                peer.send(.chunk(callID: request.callID, GenerateStreamChunk(tokenIDs: [1], logprobs: [-1], textDelta: "a")))
            } else if case let .cancel(cancel)? = try? request.decodeCall() {
                peer.send(.failure(callID: cancel.callID, .cancelled, "cancelled by call \(request.callID)"))
                peer.send(.response(callID: request.callID, CancelResponse()))
            }
        }
        let client = try MQClient(endpoint: server.endpoint)
        defer { client.close() }

        let call = client.generateStream(prompt, timeout: .seconds(10))
        let firstChunk = AsyncStream<Void>.makeStream()
        let consumer = Task {
            var count = 0
            for try await _ in call {
                count += 1
                firstChunk.continuation.yield()
            }
            return count
        }
        var signals = firstChunk.stream.makeAsyncIterator()
        _ = await signals.next()
        consumer.cancel()
        let count = try await consumer.value   // a cancelled iteration simply ends
        XCTAssertEqual(count, 1)

        let sawCancel = await server.log.wait { _ in
            server.log.calls(.cancel).contains { $0.call == .cancel(CancelRequest(callID: call.callID)) }
        }
        XCTAssertTrue(sawCancel, "cancelling the task sends Cancel for call \(call.callID)")
    }

    func testDroppingAStreamSendsCancel() async throws {
        let server = try FakeCoordinator { _, _ in }   // never answers
        let client = try MQClient(endpoint: server.endpoint)
        defer { client.close() }

        let callID = await startAndDropStream(client, server)
        let sawCancel = await server.log.wait { _ in
            server.log.calls(.cancel).contains { $0.call == .cancel(CancelRequest(callID: callID)) }
        }
        XCTAssertTrue(sawCancel, "dropping the stream unread sends Cancel for call \(callID)")
    }

    /// Starts a stream, waits until the server has it, and lets the handle go.
    private func startAndDropStream(_ client: MQClient, _ server: FakeCoordinator) async -> UInt64 {
        let call = client.generateStream(prompt, timeout: .seconds(10))
        let started = await server.log.wait { $0.contains { $0.callID == call.callID } }
        XCTAssertTrue(started)
        return call.callID
    }

    func testCancellingAUnaryTaskSendsCancelAndThrowsCancelled() async throws {
        let server = try FakeCoordinator { _, _ in }   // never answers
        let client = try MQClient(endpoint: server.endpoint)
        defer { client.close() }

        let prompt = self.prompt
        let task = Task { try await client.generate(prompt, timeout: .seconds(10)) }
        let sent = await server.log.wait { !$0.isEmpty }
        XCTAssertTrue(sent)
        task.cancel()
        let error = await expectClientError { try await task.value }
        XCTAssertEqual(error?.code, .cancelled)
        let generateID = try XCTUnwrap(server.log.all.first?.callID)
        let sawCancel = await server.log.wait { _ in
            server.log.calls(.cancel).contains { $0.call == .cancel(CancelRequest(callID: generateID)) }
        }
        XCTAssertTrue(sawCancel, "cancelling the task sends Cancel for call \(generateID)")
    }

    func testExplicitCancelEndsTheStreamWithCancelled() async throws {
        let server = try FakeCoordinator { request, peer in
            if case let .cancel(cancel)? = try? request.decodeCall() {
                peer.send(.failure(callID: cancel.callID, .cancelled, "cancelled by call \(request.callID)"))
                peer.send(.response(callID: request.callID, CancelResponse()))
            }
        }
        let client = try MQClient(endpoint: server.endpoint)
        defer { client.close() }

        let call = client.generateStream(prompt, timeout: .seconds(10))
        let streamStarted = await server.log.wait { $0.contains { $0.callID == call.callID } }
        XCTAssertTrue(streamStarted)
        _ = try await call.cancel()
        let error = await expectClientError { for try await _ in call {} }
        XCTAssertEqual(error?.code, .cancelled)
        XCTAssertEqual(error?.callID, call.callID)
    }

    func testCloseFailsCallsInFlightAndLaterCalls() async throws {
        let server = try FakeCoordinator { _, _ in }
        let client = try MQClient(endpoint: server.endpoint)

        let prompt = self.prompt
        let pending = Task { try await client.generate(prompt, timeout: .seconds(10)) }
        let sent = await server.log.wait { !$0.isEmpty }
        XCTAssertTrue(sent)
        client.close()
        let error = await expectClientError { try await pending.value }
        XCTAssertEqual(error?.code, .cancelled)
        let later = await expectClientError { try await client.health() }
        XCTAssertEqual(later?.code, .cancelled)
        client.close()   // idempotent
    }

    // MARK: Hostile replies

    func testGarbageRepliesAreDroppedAndTheRealReplyStillArrives() async throws {
        let server = try FakeCoordinator { request, peer in
            peer.sendRaw([[0xFF, 0xFF, 0xFF, 0xFF]])                              // not protobuf
            peer.sendRaw([CallReply.response(callID: request.callID, sampleResponse(text: "wrong")).encode(), [1]])  // two frames
            peer.sendRaw([[]])                                                      // empty: no kind, no status
            peer.send(.response(callID: request.callID &+ 1000, sampleResponse(text: "nobody's")))  // unknown id
            peer.sendRaw([Array(CallReply.end(callID: request.callID, status: .ok).encode().dropLast())])  // truncated
            peer.send(.response(callID: request.callID, sampleResponse(text: "right")))
        }
        let lines = RequestLogLines()
        let client = try MQClient(endpoint: server.endpoint, log: { lines.append($0) })
        defer { client.close() }

        let response = try await client.generate(prompt, timeout: .seconds(5))
        XCTAssertEqual(response.text, "right")
        let logged = lines.all
        XCTAssertTrue(logged.contains { $0.contains("malformed") }, "\(logged)")
        XCTAssertTrue(logged.contains { $0.contains("2 frames") }, "\(logged)")
    }

    func testMalformedResponsePayloadAndStreamItemOnUnaryCallFailWithInternal() async throws {
        let server = try FakeCoordinator { request, peer in
            if request.method == DecoderMethod.info.rawValue {
                peer.send(.trailer(callID: request.callID, status: .ok, payload: [0xFF, 0xFF, 0xFF]))
            } else {
                peer.send(.chunk(callID: request.callID, GenerateStreamChunk(tokenIDs: [1], logprobs: [-1], textDelta: "a")))
            }
        }
        let client = try MQClient(endpoint: server.endpoint)
        defer { client.close() }

        let info = await expectClientError { try await client.info(timeout: .seconds(5)) }
        XCTAssertEqual(info?.code, .internalError)
        let health = await expectClientError { try await client.health(timeout: .seconds(5)) }
        XCTAssertEqual(health?.code, .internalError)
    }
}

/// Lines the client logged (its log handler runs on the connection thread).
final class RequestLogLines: @unchecked Sendable {
    // @unchecked: `lines` is only touched under `lock`.
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        lines.append(line)
    }

    var all: [String] {
        lock.lock(); defer { lock.unlock() }
        return lines
    }
}
