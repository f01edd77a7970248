// Helpers for the MQProtocol tests: a seeded random generator (the robustness tests must be
// reproducible), a minimal protobuf writer to hand-craft frames the typed encoder refuses to
// produce (invalid UTF-8, unknown enum numbers, unknown fields), and sample values of every
// message with every field set to something other than its default.

import MQProtocol
import struct MQSampling.SplitMix64
import XCTest

/// Seeded test data from the shared SplitMix64 (MQSampling).
typealias SeededGenerator = SplitMix64

extension SplitMix64 {
    mutating func bytes(_ count: Int) -> [UInt8] { (0 ..< count).map { _ in UInt8.random(in: 0 ... 255, using: &self) } }
}

/// Writes protobuf wire format by hand (field numbers from Protos/mq/v1/*.proto).
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// A varint field (uint32/uint64/bool/enum). Negative enum numbers are sign-extended to 64 bits.
    mutating func field(_ number: UInt64, varint value: UInt64) {
        varint(number << 3)
        varint(value)
    }

    mutating func field(_ number: UInt64, enum value: Int32) {
        field(number, varint: UInt64(bitPattern: Int64(value)))
    }

    /// A length-delimited field (string, bytes, message).
    mutating func field(_ number: UInt64, bytes value: [UInt8]) {
        varint(number << 3 | 2)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func field(_ number: UInt64, string value: String) { field(number, bytes: Array(value.utf8)) }

    mutating func field(_ number: UInt64, message: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        message(&inner)
        field(number, bytes: inner.bytes)
    }

    /// A ProtocolVersion message field.
    mutating func version(_ number: UInt64, major: UInt64, minor: UInt64) {
        field(number) { v in
            v.field(1, varint: major)
            v.field(2, varint: minor)
        }
    }
}

/// Bytes that are not UTF-8: a lone continuation byte and an overlong encoding of "/".
let invalidUTF8: [UInt8] = [0x61, 0x80, 0x62, 0xC0, 0xAF]

/// Asserts that `body` throws exactly `expected`.
func assertThrows<T>(
    _ expected: ProtocolError, _ body: () throws(ProtocolError) -> T, file: StaticString = #filePath, line: UInt = #line
) {
    do {
        let value = try body()
        XCTFail("expected \(expected), decoded \(value)", file: file, line: line)
    } catch {
        XCTAssertEqual(error, expected, file: file, line: line)
    }
}

/// Asserts that `body` throws a ProtocolError matching `predicate` (for errors with long texts).
func assertThrows<T>(
    _ body: () throws(ProtocolError) -> T, file: StaticString = #filePath, line: UInt = #line,
    where predicate: (ProtocolError) -> Bool
) {
    do {
        let value = try body()
        XCTFail("expected an error, decoded \(value)", file: file, line: line)
    } catch {
        XCTAssertTrue(predicate(error), "unexpected error: \(error)", file: file, line: line)
    }
}

// MARK: Sample values with every field set

enum Samples {
    static let sampling = SamplingParams(
        temperature: 0.7, topK: 40, topP: 0.95, seed: 0, repetitionPenalty: 1.1, stopTokenIDs: [0, 49_152],
        stopStrings: ["\n\n", "def ", "é€😀"], topLogprobs: 3)

    static let topLogprobs: [[TokenLogprob]] = [
        [TokenLogprob(tokenID: 5, logprob: -0.25), TokenLogprob(tokenID: 9, logprob: -1.5)],
        [TokenLogprob(tokenID: 7, logprob: -0.125)],
    ]

    static let timing = GenerationTiming(queueNanoseconds: 1_000, prefillNanoseconds: 2_000_000, decodeNanoseconds: 30_000_000)

    static let generateText = GenerateRequest(prompt: .text("def fib(n):\n\t\"\"\"héllo 🌍\0\"\"\""), maxNewTokens: 64, sampling: sampling)
    static let generateIDs = GenerateRequest(prompt: .tokenIDs([1, 2, 3, 4_294_967_295]), maxNewTokens: 1)

    static let generateResponse = GenerateResponse(
        tokenIDs: [5, 7], logprobs: [-0.25, -0.125], topLogprobs: topLogprobs, text: " return\0 fib", finishReason: .eos,
        promptTokens: 11, completionTokens: 2, timing: timing)

    static let lastChunk = GenerateStreamChunk(
        tokenIDs: [7], logprobs: [-0.125], topLogprobs: [[TokenLogprob(tokenID: 7, logprob: -0.125)]], textDelta: "ñ",
        finishReason: .length, promptTokens: 11, completionTokens: 2, timing: timing)
    static let middleChunk = GenerateStreamChunk(tokenIDs: [5], logprobs: [-0.25], textDelta: "")

    static let health = HealthResponse(
        serving: false, missingLayers: [LayerRange(10 ..< 20)],
        workers: [
            WorkerStatus(
                workerID: "w1", dataEndpoint: "tcp://127.0.0.1:5601", state: .ready, layers: LayerRange(0 ..< 10),
                stageIndex: 0, lastHeardMilliseconds: 420, activeSequences: 3),
            WorkerStatus(workerID: "w2", dataEndpoint: "ipc:///tmp/mq-w2.sock", state: .lost, layers: LayerRange(10 ..< 20), stageIndex: 1, lastHeardMilliseconds: 9_000),
            WorkerStatus(workerID: "spare", dataEndpoint: "tcp://127.0.0.1:5603", state: .registered),
        ],
        totalLayers: 20, inFlightCalls: 8)

    static let info = InfoResponse(
        version: ProtocolVersion(major: 1, minor: 3),
        model: ModelInfo(
            name: "tiny_starcoder_py", architecture: "gpt_bigcode", attentionKind: .multiQuery, numLayers: 20,
            hiddenSize: 768, numHeads: 12, kvHeads: 1, headDim: 64, vocabSize: 49_152, maxPositions: 8_192,
            kvBytesPerToken: 10_240, eosTokenID: 0, activationDType: .f32),
        stages: [
            StageInfo(stageIndex: 0, workerID: "w1", dataEndpoint: "tcp://127.0.0.1:5601", layers: LayerRange(0 ..< 10), residentBytes: 300_000_000, kvCapacityBytes: 1 << 30, kvUsedBytes: 4_096,
                      busyFraction: 0.625, steps: 1_234, busyNanoseconds: 9_876_543_210, weightFormat: "f16", weightBytes: 250_000_000),
            StageInfo(stageIndex: 1, workerID: "w2", dataEndpoint: "tcp://127.0.0.1:5602", layers: LayerRange(10 ..< 20)),
        ],
        limits: ServerLimits(maxPromptTokens: 8_000, defaultMaxNewTokens: 128, maxNewTokens: 4_096, defaultTimeoutMilliseconds: 60_000, maxTimeoutMilliseconds: 600_000))

    static let step = Step(
        stepID: 77, stageIndex: 1,
        sequences: [
            StepSequence(seqID: 3, position: 0, tokenIDs: [10, 11, 12], sample: true, sampling: sampling),
            StepSequence(seqID: 9, position: 41, tokenIDs: [99], sample: false),
        ],
        tensor: TensorDesc.activations(tokens: 4, hidden: 8),
        timings: [StageTiming(stageIndex: 0, queueNanoseconds: 5_000, forwardNanoseconds: 1_200_000)])

    /// Every worker-plane message kind.
    static let workerMessages: [WorkerMessage] = [
        .register(Register(workerID: "host-a-4242", memoryBytes: 8 << 30, dataEndpoint: "tcp://10.0.0.7:5601", pid: 4242, host: "host-a")),
        .assign(Assign(assignmentID: 5, modelPath: "/models/tiny", stageIndex: 0, numStages: 3, layers: LayerRange(0 ..< 7), nextEndpoint: "tcp://10.0.0.8:5601", kvCapacityBytes: 1 << 28)),
        .assign(Assign(assignmentID: 6, modelPath: "/models/tiny", stageIndex: 2, numStages: 3, layers: LayerRange(14 ..< 20), nextEndpoint: "")),
        .ready(Ready(assignmentID: 5, workerID: "host-a-4242", layers: LayerRange(0 ..< 7), residentBytes: 123_456_789, kvBytesPerToken: 3_584, kvCapacityBytes: 1 << 28, loadNanoseconds: 9_000_000, weightFormat: "q8_0", weightBytes: 98_765_432)),
        .step(step),
        .step(Step(stepID: 78, stageIndex: 0, sequences: [StepSequence(seqID: 3, position: 3, tokenIDs: [13])])),
        .stepResult(StepResult(
            stepID: 77,
            results: [SequenceResult(seqID: 3, tokenID: 13, logprob: -0.5, topLogprobs: [TokenLogprob(tokenID: 13, logprob: -0.5), TokenLogprob(tokenID: 1, logprob: -2)]),
                      SequenceResult(seqID: 4, tokenID: 0, logprob: 0)],
            timings: [StageTiming(stageIndex: 0, queueNanoseconds: 1, forwardNanoseconds: 2), StageTiming(stageIndex: 1, queueNanoseconds: 3, forwardNanoseconds: 4)])),
        .release(Release(seqIDs: [3, 9, UInt64.max])),
        .release(Release(seqIDs: [])),
        .heartbeat(Heartbeat(workerID: "host-a-4242", sentUnixMilliseconds: 1_800_000_000_000, load: WorkerLoad(activeSequences: 2, kvUsedBytes: 4_096, kvCapacityBytes: 1 << 28, stepsDone: 1_000))),
        .heartbeat(Heartbeat(sentUnixMilliseconds: 1)),
        .shutdown(Shutdown(reason: "coordinator stopping (SIGTERM)")),
        .error(WorkerError(code: .kvCacheFull, message: "sequence 3 needs 4096 more bytes", stepID: 77, seqID: 3)),
        .error(WorkerError.versionMismatch(worker: ProtocolVersion(major: 2, minor: 0))),
    ]
}
