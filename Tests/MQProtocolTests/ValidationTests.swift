// Frames that parse as protobuf but break the contract become precise ProtocolErrors: invalid
// UTF-8, unknown enum numbers, missing fields, version mismatches, unknown methods, broken
// invariants, wrong frame counts, oversized frames. Frames are hand-written with ProtoWriter
// where the typed encoder cannot produce them.

import MQProtocol
import XCTest

final class ValidationTests: XCTestCase {
    // MARK: UTF-8

    func testInvalidUTF8IsRejectedInStringAndTextFields() {
        var request = ProtoWriter()
        request.version(1, major: 1, minor: 0)
        request.field(2, varint: 5)
        request.field(3, bytes: invalidUTF8)
        assertThrows(.invalidUTF8(field: "CallRequest.method")) { () throws(ProtocolError) in try CallRequest.decode(request.bytes) }

        var metadata = ProtoWriter()
        metadata.version(1, major: 1, minor: 0)
        metadata.field(2, varint: 5)
        metadata.field(3, string: DecoderMethod.health.rawValue)
        metadata.field(5) { entry in
            entry.field(1, string: "k")
            entry.field(2, bytes: invalidUTF8)
        }
        assertThrows(.invalidUTF8(field: "CallRequest.metadata[0].value")) { () throws(ProtocolError) in try CallRequest.decode(metadata.bytes) }

        var generate = ProtoWriter()
        generate.field(1, bytes: invalidUTF8)
        assertThrows(.invalidUTF8(field: "GenerateRequest.text")) { () throws(ProtocolError) in try GenerateRequest.decode(generate.bytes) }

        var stop = ProtoWriter()
        stop.field(2) { ids in ids.field(1, bytes: [1, 2]) }
        stop.field(4) { sampling in
            sampling.field(7, string: "ok")
            sampling.field(7, bytes: invalidUTF8)
        }
        assertThrows(.invalidUTF8(field: "GenerateRequest.sampling.stop_strings[1]")) { () throws(ProtocolError) in try GenerateRequest.decode(stop.bytes) }

        var tokenize = ProtoWriter()
        tokenize.field(1, bytes: [0xF0, 0x9F, 0x98])  // a truncated 4-byte sequence
        assertThrows(.invalidUTF8(field: "TokenizeRequest.text")) { () throws(ProtocolError) in try TokenizeRequest.decode(tokenize.bytes) }

        var chunk = ProtoWriter()
        chunk.field(4, bytes: [0xED, 0xA0, 0x80])  // an encoded UTF-16 surrogate
        assertThrows(.invalidUTF8(field: "GenerateStreamChunk.text_delta")) { () throws(ProtocolError) in try GenerateStreamChunk.decode(chunk.bytes) }

        var register = ProtoWriter()
        register.field(1) { body in
            body.version(1, major: 1, minor: 0)
            body.field(2, bytes: invalidUTF8)
            body.field(4, string: "tcp://127.0.0.1:1")
        }
        assertThrows(.invalidUTF8(field: "WorkerMessage.register.worker_id")) { () throws(ProtocolError) in try WorkerMessage.decode(register.bytes) }
    }

    func testPeekCallIDFindsTheCallerOfAnInvalidRequest() {
        var request = ProtoWriter()
        request.field(2, varint: 1234)
        request.field(3, bytes: invalidUTF8)
        XCTAssertThrowsError(try CallRequest.decode(request.bytes))
        XCTAssertEqual(CallRequest.peekCallID(request.bytes), 1234)
        XCTAssertNil(CallRequest.peekCallID([0xFF, 0xFF, 0xFF]))
        XCTAssertNil(CallRequest.peekCallID([UInt8]()))
    }

    func testScanCallIDAgreesWithTheParserWithoutUnpacking() {
        let big = CallRequest(callID: 77, call: .generate(GenerateRequest(prompt: .text(String(repeating: "a", count: 1 << 20)), maxNewTokens: 4)))
        let bytes = big.encode()
        XCTAssertEqual(bytes.withUnsafeBytes(CallRequest.scanCallID), 77)
        XCTAssertEqual(CallRequest.peekCallID(bytes), 77)
        var request = ProtoWriter()
        request.field(2, varint: 5)
        request.field(3, bytes: invalidUTF8)
        request.field(2, varint: 1234)       // the last occurrence wins, as in protobuf
        XCTAssertEqual(request.bytes.withUnsafeBytes(CallRequest.scanCallID), CallRequest.peekCallID(request.bytes))
        for junk: [UInt8] in [[], [0xFF, 0xFF, 0xFF], [0x10], [0x1A, 0x05, 0x01], [0x10, 0x00], Array(bytes.prefix(100))] {
            XCTAssertNil(junk.withUnsafeBytes(CallRequest.scanCallID), "\(junk.prefix(8))")
        }
    }

    // MARK: Enums

    func testUnknownEnumValuesAreCarriedWhereHarmless() throws {
        var trailer = ProtoWriter()
        trailer.field(1, varint: 3)
        trailer.field(2, enum: 2)  // REPLY_KIND_TRAILER
        trailer.field(3) { status in
            status.field(1, enum: 99)
            status.field(2, string: "from the future")
        }
        let reply = try CallReply.decode(trailer.bytes)
        XCTAssertEqual(reply.status?.code, .unrecognized(99))
        XCTAssertEqual(reply.status?.code.rawValue, 99)
        XCTAssertEqual(reply.status?.isOK, false)
        XCTAssertEqual(try CallReply.decode(reply.encode()), reply)

        var chunk = ProtoWriter()
        chunk.field(5, enum: 7)
        XCTAssertEqual(try GenerateStreamChunk.decode(chunk.bytes).finishReason, .unrecognized(7))

        var negative = ProtoWriter()
        negative.field(5, enum: -3)
        XCTAssertEqual(try GenerateStreamChunk.decode(negative.bytes).finishReason, .unrecognized(-3))

        var error = ProtoWriter()
        error.field(9) { body in body.field(1, enum: 42) }
        guard case let .error(workerError) = try WorkerMessage.decode(error.bytes) else { return XCTFail("not an error") }
        XCTAssertEqual(workerError.code, .unrecognized(42))
    }

    func testUnknownEnumValuesAreRefusedWhereMeaningMatters() {
        var reply = ProtoWriter()
        reply.field(1, varint: 3)
        reply.field(2, enum: 5)
        assertThrows(.unknownEnumValue(field: "CallReply.kind", value: 5)) { () throws(ProtocolError) in try CallReply.decode(reply.bytes) }

        var noKind = ProtoWriter()
        noKind.field(1, varint: 3)
        assertThrows(.missingField("CallReply.kind")) { () throws(ProtocolError) in try CallReply.decode(noKind.bytes) }

        var step = ProtoWriter()
        step.field(4) { body in
            body.field(1, varint: 1)
            body.field(3) { sequence in
                sequence.field(1, varint: 1)
                sequence.field(2, varint: 4)
                sequence.field(3, bytes: [1])
            }
            body.field(4) { tensor in
                tensor.field(1, enum: 9)
                tensor.field(2, bytes: [1, 8])
            }
        }
        assertThrows(.unknownEnumValue(field: "WorkerMessage.step.tensor.dtype", value: 9)) { () throws(ProtocolError) in try WorkerMessage.decode(step.bytes) }
    }

    // MARK: Versions

    func testClientVersionMismatchIsUnimplemented() throws {
        let request = CallRequest(
            version: ProtocolVersion(major: 2, minor: 0), callID: 1, call: .health(HealthRequest()))
        let decoded = try CallRequest.decode(request.encode())
        assertThrows(.versionMismatch(local: .current, remote: ProtocolVersion(major: 2, minor: 0))) { () throws(ProtocolError) in try decoded.decodeCall() }
        do throws(ProtocolError) {
            _ = try decoded.decodeCall()
        } catch {
            XCTAssertEqual(error.statusCode, .unimplemented)
            XCTAssertTrue(error.description.contains("2.0"), error.description)
            XCTAssertTrue(error.description.contains(ProtocolVersion.current.description), error.description)
        }
        // Another minor version of the same major is fine.
        var newer = request
        newer.version = ProtocolVersion(major: 1, minor: 7)
        XCTAssertEqual(try CallRequest.decode(newer.encode()).decodeCall(), .health(HealthRequest()))
    }

    func testWorkerVersionMismatchIsRefused() throws {
        let register = Register(
            version: ProtocolVersion(major: 0, minor: 9), workerID: "old", memoryBytes: 1, dataEndpoint: "tcp://h:1",
            pid: 1, host: "h")
        guard case let .register(decoded) = try WorkerMessage.decode(WorkerMessage.register(register).encode()) else {
            return XCTFail("not a Register")
        }
        assertThrows(.versionMismatch(local: .current, remote: ProtocolVersion(major: 0, minor: 9))) { () throws(ProtocolError) in try decoded.requireCompatibleVersion() }
        let refusal = WorkerError.versionMismatch(worker: decoded.version)
        XCTAssertEqual(refusal.code, .versionMismatch)
        XCTAssertTrue(refusal.message.contains("0.9") && refusal.message.contains(ProtocolVersion.current.description), refusal.message)
        XCTAssertNoThrow(try Register(workerID: "new", memoryBytes: 1, dataEndpoint: "tcp://h:1", pid: 1, host: "h").requireCompatibleVersion())
    }

    func testMissingVersionIsMissingField() {
        var request = ProtoWriter()
        request.field(2, varint: 5)
        request.field(3, string: DecoderMethod.info.rawValue)
        assertThrows(.missingField("CallRequest.version")) { () throws(ProtocolError) in try CallRequest.decode(request.bytes) }

        var register = ProtoWriter()
        register.field(1) { body in
            body.field(2, string: "w")
            body.field(4, string: "tcp://h:1")
        }
        assertThrows(.missingField("WorkerMessage.register.version")) { () throws(ProtocolError) in try WorkerMessage.decode(register.bytes) }
    }

    // MARK: Calls

    func testUnknownMethodIsUnimplemented() throws {
        let request = try CallRequest.decode(CallRequest(callID: 8, method: "mq.v1.Decoder/Train").encode())
        assertThrows(.unknownMethod("mq.v1.Decoder/Train")) { () throws(ProtocolError) in try request.decodeCall() }
        XCTAssertEqual(ProtocolError.unknownMethod("x").status.code, .unimplemented)
    }

    func testBadRequestsAreInvalidArgument() throws {
        // Call id 0 is reserved.
        assertThrows(.invalidValue(field: "CallRequest.call_id", reason: "must be nonzero")) { () throws(ProtocolError) in
            try CallRequest.decode(CallRequest(callID: 0, call: .info(InfoRequest())).encode())
        }
        // An empty prompt, either form.
        for prompt in [Prompt.text(""), .tokenIDs([])] {
            let request = try CallRequest.decode(CallRequest(callID: 1, call: .generate(GenerateRequest(prompt: prompt))).encode())
            assertThrows(.invalidValue(field: "GenerateRequest.prompt", reason: "the prompt is empty")) { () throws(ProtocolError) in try request.decodeCall() }
        }
        // No prompt at all.
        var noPrompt = ProtoWriter()
        noPrompt.field(3, varint: 10)
        assertThrows(.missingField("GenerateRequest.prompt")) { () throws(ProtocolError) in try GenerateRequest.decode(noPrompt.bytes) }
        // A payload that is not the method's message.
        let garbage = CallRequest(callID: 1, method: DecoderMethod.generate.rawValue, payload: [0x0A, 0xFF])
        assertThrows({ () throws(ProtocolError) in try CallRequest.decode(garbage.encode()).decodeCall() }) {
            $0 == .malformed(message: "GenerateRequest", byteCount: 2) && $0.statusCode == .invalidArgument
        }
        // Non-finite or negative sampling numbers.
        for bad in [Float.nan, -1, .infinity] {
            let request = GenerateRequest(prompt: .text("x"), sampling: SamplingParams(temperature: bad))
            assertThrows({ () throws(ProtocolError) in try GenerateRequest.decode(request.encode()) }) {
                if case .invalidValue(field: "GenerateRequest.sampling.temperature", _) = $0 { return true } else { return false }
            }
        }
        // Cancel of call 0.
        assertThrows(.invalidValue(field: "CancelRequest.call_id", reason: "must be nonzero")) { () throws(ProtocolError) in
            try CancelRequest.decode(CancelRequest(callID: 0).encode())
        }
        // Absent sampling means greedy.
        var greedy = ProtoWriter()
        greedy.field(1, string: "hi")
        XCTAssertEqual(try GenerateRequest.decode(greedy.bytes).sampling, .greedy)
    }

    func testReplyInvariants() {
        var trailerWithoutStatus = ProtoWriter()
        trailerWithoutStatus.field(1, varint: 1)
        trailerWithoutStatus.field(2, enum: 2)
        assertThrows(.missingField("CallReply.status")) { () throws(ProtocolError) in try CallReply.decode(trailerWithoutStatus.bytes) }

        var messageWithStatus = ProtoWriter()
        messageWithStatus.field(1, varint: 1)
        messageWithStatus.field(2, enum: 1)
        messageWithStatus.field(3) { status in status.field(1, enum: 0) }
        assertThrows({ () throws(ProtocolError) in try CallReply.decode(messageWithStatus.bytes) }) {
            if case .invalidValue(field: "CallReply.status", _) = $0 { return true } else { return false }
        }

        // One log probability per token.
        let misaligned = GenerateResponse(tokenIDs: [1, 2], logprobs: [0], text: "", finishReason: .eos, promptTokens: 1, completionTokens: 2)
        assertThrows(.invalidValue(field: "GenerateResponse.logprobs", reason: "1 log probabilities for 2 tokens")) { () throws(ProtocolError) in
            try GenerateResponse.decode(misaligned.encode())
        }
        // A response says why it finished.
        var unfinished = ProtoWriter()
        unfinished.field(1, bytes: [1])
        unfinished.field(2, bytes: [0, 0, 0, 0])
        assertThrows(.missingField("GenerateResponse.finish_reason")) { () throws(ProtocolError) in try GenerateResponse.decode(unfinished.bytes) }
    }

    func testUnknownFieldsAreIgnored() throws {
        // A newer minor version may add fields; older peers skip them.
        var bytes = CallRequest(callID: 5, call: .info(InfoRequest())).encode()
        var extra = ProtoWriter()
        extra.field(99, varint: 12_345)
        extra.field(100, string: "future")
        bytes += extra.bytes
        XCTAssertEqual(try CallRequest.decode(bytes).decodeCall(), .info(InfoRequest()))

        // A new WorkerMessage body kind looks like no body at all.
        var future = ProtoWriter()
        future.field(20) { _ in }
        assertThrows(.missingField("WorkerMessage.body")) { () throws(ProtocolError) in try WorkerMessage.decode(future.bytes) }
    }

    // MARK: Worker plane invariants

    func testAssignInvariants() {
        func assign(stage: UInt64, of stages: UInt64, first: UInt64 = 0, end: UInt64 = 4, isFirst: Bool, isLast: Bool, next: String) -> [UInt8] {
            var w = ProtoWriter()
            w.field(2) { a in
                a.field(1, varint: 1)
                a.field(2, string: "/m")
                a.field(3, varint: stage)
                a.field(4, varint: stages)
                a.field(5, varint: first)
                a.field(6, varint: end)
                a.field(7, varint: isFirst ? 1 : 0)
                a.field(8, varint: isLast ? 1 : 0)
                a.field(9, string: next)
            }
            return w.bytes
        }
        XCTAssertNoThrow(try WorkerMessage.decode(assign(stage: 0, of: 2, isFirst: true, isLast: false, next: "tcp://b:1")))
        XCTAssertNoThrow(try WorkerMessage.decode(assign(stage: 0, of: 1, isFirst: true, isLast: true, next: "")))
        let cases: [([UInt8], String)] = [
            (assign(stage: 0, of: 2, first: 4, end: 4, isFirst: true, isLast: false, next: "tcp://b:1"), "WorkerMessage.assign.end_layer"),
            (assign(stage: 2, of: 2, isFirst: false, isLast: false, next: "tcp://b:1"), "WorkerMessage.assign.stage_index"),
            (assign(stage: 1, of: 2, isFirst: true, isLast: true, next: ""), "WorkerMessage.assign.is_first"),
            (assign(stage: 0, of: 2, isFirst: true, isLast: true, next: ""), "WorkerMessage.assign.is_last"),
            (assign(stage: 1, of: 2, isFirst: false, isLast: true, next: "tcp://c:1"), "WorkerMessage.assign.next_endpoint"),
            (assign(stage: 0, of: 2, isFirst: true, isLast: false, next: ""), "WorkerMessage.assign.next_endpoint"),
        ]
        for (bytes, field) in cases {
            assertThrows({ () throws(ProtocolError) in try WorkerMessage.decode(bytes) }) {
                if case .invalidValue(field: field, _) = $0 { return true } else { return false }
            }
        }
    }

    func testStepInvariants() {
        func step(_ edit: (inout Step) -> Void) -> [UInt8] {
            var value = Samples.step
            edit(&value)
            return WorkerMessage.step(value).encode()
        }
        let expectations: [([UInt8], String)] = [
            (step { $0.stepID = 0 }, "WorkerMessage.step.step_id"),
            (step { $0.sequences = [] }, "WorkerMessage.step.sequences"),
            (step { $0.sequences[1].seqID = 3 }, "WorkerMessage.step.sequences[1].seq_id"),
            (step { $0.sequences[0].seqID = 0 }, "WorkerMessage.step.sequences[0].seq_id"),
            (step { $0.sequences[1].tokenIDs = [] }, "WorkerMessage.step.sequences[1].token_ids"),
            (step { $0.sequences[1].position = UInt32.max }, "WorkerMessage.step.sequences[1].position"),
            (step { $0.tensor = TensorDesc.activations(tokens: 5, hidden: 8) }, "WorkerMessage.step.tensor.shape[0]"),
            (step { $0.tensor = TensorDesc(dtype: .f32, shape: [4]) }, "WorkerMessage.step.tensor.shape"),
            (step { $0.tensor = TensorDesc(dtype: .f32, shape: [4, 0]) }, "WorkerMessage.step.tensor.shape[1]"),
        ]
        for (bytes, field) in expectations {
            assertThrows({ () throws(ProtocolError) in try WorkerMessage.decode(bytes) }) {
                if case .invalidValue(field: field, _) = $0 { return true } else { return false }
            }
        }
        // A new sequence must bring its sampling parameters.
        assertThrows(.missingField("WorkerMessage.step.sequences[0].sampling")) { () throws(ProtocolError) in
            try WorkerMessage.decode(step { $0.sequences[0].sampling = nil })
        }
        // A shape whose size overflows or exceeds the tensor limit.
        assertThrows({ () throws(ProtocolError) in try WorkerMessage.decode(step { $0.tensor = TensorDesc(dtype: .f32, shape: [4, UInt64.max / 2]) }) }) {
            if case .oversized = $0 { return true } else { return false }
        }
    }

    func testStepFramesMustAgreeWithTheirHeader() throws {
        let header = WorkerMessage.step(Samples.step).encode()
        let tensor = [UInt8](repeating: 0, count: 4 * 8 * 4)
        XCTAssertNoThrow(try StepFrames.decode([header, tensor]))

        assertThrows({ () throws(ProtocolError) in try StepFrames.decode([header]) }) {
            if case .wrongFrameCount(_, expected: "2", actual: 1) = $0 { return true } else { return false }
        }
        assertThrows({ () throws(ProtocolError) in try StepFrames.decode([header, Array(tensor.dropLast())]) }) {
            if case .invalidValue(field: "tensor frame", _) = $0 { return true } else { return false }
        }
        assertThrows({ () throws(ProtocolError) in try StepFrames.decode([header, tensor, tensor]) }) {
            if case .wrongFrameCount(_, expected: "1 or 2", actual: 3) = $0 { return true } else { return false }
        }
        assertThrows({ () throws(ProtocolError) in try StepFrames.decode([]) }) {
            if case .wrongFrameCount = $0 { return true } else { return false }
        }
        // A header without a tensor description followed by a tensor frame.
        var bare = Samples.step
        bare.tensor = nil
        assertThrows({ () throws(ProtocolError) in try StepFrames.decode([WorkerMessage.step(bare).encode(), tensor]) }) {
            if case .wrongFrameCount(_, expected: "1", actual: 2) = $0 { return true } else { return false }
        }
        // Not a Step at all.
        let heartbeat = WorkerMessage.heartbeat(Heartbeat(sentUnixMilliseconds: 1)).encode()
        assertThrows(.unexpectedMessage(expected: "a Step on a data socket", actual: "Heartbeat")) { () throws(ProtocolError) in
            try StepFrames.decode([heartbeat])
        }
        // The typed constructor refuses what the decoder would.
        assertThrows({ () throws(ProtocolError) in try StepFrames(step: Samples.step, tensor: [1, 2, 3]) }) {
            if case .invalidValue = $0 { return true } else { return false }
        }
        // Copying requires a matching destination.
        let frames = try StepFrames.decode([header, tensor])
        var small = [Float](repeating: 0, count: 3)
        small.withUnsafeMutableBufferPointer { buffer in
            assertThrows({ () throws(ProtocolError) in try frames.copyTensor(into: buffer) }) {
                if case .invalidValue = $0 { return true } else { return false }
            }
        }
    }

    func testFrameCountsAndSizes() {
        let single = CallRequest(callID: 1, call: .info(InfoRequest())).encode()
        assertThrows(.wrongFrameCount(what: "CallRequest message", expected: "1", actual: 2)) { () throws(ProtocolError) in
            try CallRequest.decode(frames: [single, single])
        }
        assertThrows(.wrongFrameCount(what: "WorkerMessage message", expected: "1", actual: 0)) { () throws(ProtocolError) in
            try WorkerMessage.decode(frames: [])
        }
        let huge = [UInt8](repeating: 0, count: ProtocolLimits.maxMessageBytes + 1)
        assertThrows(.oversized(what: "CallRequest frame", byteCount: huge.count, limit: ProtocolLimits.maxMessageBytes)) { () throws(ProtocolError) in
            try CallRequest.decode(huge)
        }
    }

    func testErrorsNameWhatFailed() {
        XCTAssertEqual(ProtocolError.invalidUTF8(field: "CallRequest.method").description, "invalid UTF-8 in CallRequest.method")
        XCTAssertTrue(ProtocolError.unknownMethod("x").description.contains(DecoderMethod.generateStream.rawValue))
        XCTAssertEqual(Status(code: .invalidArgument, message: "empty prompt").description, "INVALID_ARGUMENT: empty prompt")
        XCTAssertEqual(
            WorkerError(code: .unknownSequence, message: "no cache", stepID: 4, seqID: 2).description,
            "unknownSequence: no cache (step 4, sequence 2)")
    }
}
