// Every message survives encode -> decode unchanged, with every field set, through both the
// typed values and the frame layouts.

import MQProtocol
import XCTest

final class RoundTripTests: XCTestCase {
    private func roundTrip<M: WireMessage & Equatable>(_ value: M, file: StaticString = #filePath, line: UInt = #line) {
        // XCTAssertEqual reports a thrown decoding error as a failure of this line.
        let bytes = value.encode()
        XCTAssertEqual(try M.decode(bytes), value, file: file, line: line)
        XCTAssertEqual(try M.decode(frames: value.frames()), value, file: file, line: line)
        // A slice goes through the Collection entry point without being an Array.
        XCTAssertEqual(try M.decode(([0xAA] + bytes)[1...]), value, file: file, line: line)
    }

    func testClientPlaneMessages() {
        roundTrip(Samples.generateText)
        roundTrip(Samples.generateIDs)
        roundTrip(Samples.generateResponse)
        roundTrip(Samples.lastChunk)
        roundTrip(Samples.middleChunk)
        roundTrip(CancelRequest(callID: UInt64.max))
        roundTrip(CancelResponse())
        roundTrip(TokenizeRequest(text: "x = 1\r\n\t# ✓"))
        roundTrip(TokenizeResponse(tokenIDs: [87, 284], tokens: ["x", "Ġ="]))
        roundTrip(TokenizeResponse(tokenIDs: [], tokens: []))
        roundTrip(HealthRequest())
        roundTrip(Samples.health)
        roundTrip(InfoRequest())
        roundTrip(Samples.info)
    }

    func testCallRequestAndReplies() {
        let request = CallRequest(
            callID: 42, call: .generateStream(Samples.generateText), timeoutMilliseconds: 30_000,
            metadata: ["request-id": "abc-123", "user": "ünïcode"])
        roundTrip(request)
        roundTrip(CallRequest(version: ProtocolVersion(major: 1, minor: 9), callID: 1, method: "mq.v1.Decoder/Nope"))
        roundTrip(CallReply.response(callID: 42, Samples.generateResponse))
        roundTrip(CallReply.chunk(callID: 42, Samples.middleChunk))
        roundTrip(CallReply.failure(callID: 42, .deadlineExceeded, "deadline of 30000 ms passed after 12 tokens"))
        roundTrip(CallReply.end(callID: 7, status: .ok))
        for code in [StatusCode.ok, .cancelled, .invalidArgument, .deadlineExceeded, .notFound, .resourceExhausted, .unimplemented, .internalError, .unavailable] {
            roundTrip(CallReply.failure(callID: 1, code, "x"))
            XCTAssertEqual(StatusCode(rawValue: code.rawValue), code)
        }
    }

    func testTypedCallsDecodeFromRequests() throws {
        let calls: [DecoderCall] = [
            .generate(Samples.generateIDs), .generateStream(Samples.generateText), .cancel(CancelRequest(callID: 3)),
            .tokenize(TokenizeRequest(text: "hi")), .health(HealthRequest()), .info(InfoRequest()),
        ]
        for (index, call) in calls.enumerated() {
            let request = try CallRequest.decode(CallRequest(callID: UInt64(index + 1), call: call).encode())
            XCTAssertEqual(request.method, call.method.rawValue)
            XCTAssertEqual(try request.decodeCall(), call)
        }
        XCTAssertEqual(Set(calls.map(\.method)), Set(DecoderMethod.allCases))
    }

    func testTypedRepliesDecode() throws {
        let reply = try CallReply.decode(CallReply.response(callID: 9, Samples.info).encode())
        XCTAssertEqual(reply.callID, 9)
        XCTAssertEqual(reply.status, .ok)
        XCTAssertEqual(try reply.response(as: InfoResponse.self), Samples.info)
        XCTAssertEqual(try CallReply.chunk(callID: 9, Samples.lastChunk).chunk(), Samples.lastChunk)
        XCTAssertTrue(Samples.lastChunk.isLast)
        XCTAssertFalse(Samples.middleChunk.isLast)
        // A failed trailer is not a response.
        assertThrows({ () throws(ProtocolError) in try CallReply.failure(callID: 9, .unavailable, "down").response(as: InfoResponse.self) }) {
            if case .unexpectedMessage = $0 { return true } else { return false }
        }
    }

    func testWorkerPlaneMessages() {
        for message in Samples.workerMessages { roundTrip(message) }
    }

    func testEmptyMessagesEncodeToNoBytes() throws {
        XCTAssertEqual(HealthRequest().encode(), [])
        XCTAssertEqual(try HealthRequest.decode([UInt8]()), HealthRequest())
        XCTAssertEqual(try InfoRequest.decode([UInt8]()), InfoRequest())
        XCTAssertEqual(try CancelResponse.decode([UInt8]()), CancelResponse())
    }

    func testEncodingIsDeterministic() {
        let metadata = Dictionary(uniqueKeysWithValues: (0 ..< 50).map { ("key\($0)", "value\($0)") })
        let a = CallRequest(callID: 1, method: DecoderMethod.health.rawValue, metadata: metadata)
        var b = CallRequest(callID: 1, method: DecoderMethod.health.rawValue)
        for key in metadata.keys.shuffled() { b.metadata[key] = metadata[key] }
        XCTAssertEqual(a.encode(), b.encode())
    }

    func testTextKeepsEmbeddedNUL() throws {
        // Free text travels in bytes fields, so a NUL does not cut it (protobuf-c strings would).
        let decoded = try GenerateRequest.decode(Samples.generateText.encode())
        guard case let .text(text) = decoded.prompt else { return XCTFail("prompt is not text") }
        XCTAssertTrue(text.contains("\0\"\"\""))
        XCTAssertEqual(try GenerateResponse.decode(Samples.generateResponse.encode()).text, " return\0 fib")
    }

    func testStepFramesRoundTrip() throws {
        var random = SeededGenerator(seed: 1)
        let floats = (0 ..< 32).map { _ in Float.random(in: -4 ... 4, using: &random) }
        let tensor = floats.withUnsafeBufferPointer { StepFrames.tensorBytes($0) }
        let frames = try StepFrames(step: Samples.step, tensor: tensor).encode()
        XCTAssertEqual(frames.count, 2)
        XCTAssertEqual(frames[1].count, 4 * 8 * 4)

        let decoded = try StepFrames.decode(frames)
        XCTAssertEqual(decoded.step, Samples.step)
        var copy = [Float](repeating: 0, count: 32)
        try copy.withUnsafeMutableBufferPointer { buffer throws(ProtocolError) in try decoded.copyTensor(into: buffer) }
        XCTAssertEqual(copy, floats)

        // The zero-copy path sees the same header.
        let header = try frames[0].withUnsafeBytes { try StepFrames.decodeHeader($0, tensorByteCount: frames[1].count) }
        XCTAssertEqual(header, Samples.step)

        // Stage 0's input: header only.
        let first = Step(stepID: 1, stageIndex: 0, sequences: [StepSequence(seqID: 1, position: 0, tokenIDs: [5], sampling: .greedy)])
        let firstFrames = try StepFrames(step: first, tensor: nil).encode()
        XCTAssertEqual(firstFrames.count, 1)
        XCTAssertEqual(try StepFrames.decode(firstFrames).step, first)
        XCTAssertNil(try StepFrames.decode(firstFrames).tensor)
    }

    func testLayerRangeAndTensorHelpers() throws {
        let range = LayerRange(12 ..< 24)
        XCTAssertEqual(range.count, 12)
        XCTAssertTrue(range.contains(17))
        XCTAssertFalse(range.contains(24))
        XCTAssertEqual(range.description, "12..<24")
        XCTAssertEqual(try TensorDesc.activations(tokens: 3, hidden: 768).byteCount(), 3 * 768 * 4)
        XCTAssertEqual(try TensorDesc(dtype: .bf16, shape: [2, 5]).byteCount(), 20)
        XCTAssertEqual(AttentionKind(heads: 12, kvHeads: 1), .multiQuery)
        XCTAssertEqual(AttentionKind(heads: 12, kvHeads: 12), .multiHead)
        XCTAssertEqual(AttentionKind(heads: 12, kvHeads: 4), .groupedQuery)
        XCTAssertEqual(FinishReason.stop.jsonName, "stop")
    }

    func testStageBusyFractionIsClampedOnTheWayOutAndCheckedOnTheWayIn() throws {
        func sent(_ fraction: Double) throws -> Double {
            var info = Samples.info
            info.stages[0].busyFraction = fraction
            return try InfoResponse.decode(info.encode()).stages[0].busyFraction
        }
        // A busy time summed from the workers' clocks can exceed the coordinator's wall time.
        XCTAssertEqual(try sent(1.25), 1)
        XCTAssertEqual(try sent(-0.5), 0)
        XCTAssertEqual(try sent(.nan), 0)
        XCTAssertEqual(try sent(.infinity), 1)
        XCTAssertEqual(try sent(0.25), 0.25)

        // A peer that does not clamp: field 8 (fixed64, tag 0x41) holding 0.625 is rewritten.
        let encoded = Samples.info.encode()
        let marker: [UInt8] = [0x41] + withUnsafeBytes(of: (0.625 as Double).bitPattern.littleEndian, Array.init)
        let start = try XCTUnwrap((0 ... encoded.count - marker.count).first { Array(encoded[$0 ..< $0 + marker.count]) == marker })
        for bad in [1.5, -0.25, Double.nan, -Double.infinity] {
            var bytes = encoded
            bytes.replaceSubrange(start + 1 ..< start + 9, with: withUnsafeBytes(of: bad.bitPattern.littleEndian, Array.init))
            assertThrows({ () throws(ProtocolError) in try InfoResponse.decode(bytes) }) {
                if case .invalidValue(field: "InfoResponse.stages[0].busy_fraction", _) = $0 { return true } else { return false }
            }
        }
    }

    func testStageInfoFromA10ServerHasNoMeasurements() throws {
        // A 1.0 coordinator sends StageInfo without fields 8-10: they decode as zero.
        var stage = ProtoWriter()
        stage.field(1, varint: 2)
        stage.field(2, string: "w3")
        stage.field(4) { range in
            range.field(1, varint: 20)
            range.field(2, varint: 24)
        }
        stage.field(7, varint: 4_096)
        var extra = ProtoWriter()
        extra.field(3, bytes: stage.bytes)
        let stages = try InfoResponse.decode(Samples.info.encode() + extra.bytes).stages
        XCTAssertEqual(stages.count, 3)
        XCTAssertEqual(stages[2].kvUsedBytes, 4_096)
        XCTAssertEqual(stages[2].busyFraction, 0)
        XCTAssertEqual(stages[2].steps, 0)
        XCTAssertEqual(stages[2].busyNanoseconds, 0)
    }
}
