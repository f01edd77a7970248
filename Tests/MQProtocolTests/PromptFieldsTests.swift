// The 1.4 fields of fill-in-the-middle and prompt logprobs: they survive a round trip, their
// absence reads as "none", and misaligned arrays are refused with the field named.
import MQProtocol
import XCTest

final class PromptFieldsTests: XCTestCase {
    static let top: [[TokenLogprob]] = [[TokenLogprob(tokenID: 4, logprob: -0.5)], [TokenLogprob(tokenID: 9, logprob: -1.5)]]

    func testRoundTrips() throws {
        for request in [
            GenerateRequest(prompt: .text("def f(\0"), maxNewTokens: 3, suffix: "    return x\n", promptLogprobs: true),
            GenerateRequest(prompt: .text(""), suffix: ""),                 // FIM with an empty prefix and suffix
            GenerateRequest(prompt: .tokenIDs([]), suffix: "x"),
            GenerateRequest(prompt: .tokenIDs([1, 2]), promptLogprobs: true),
        ] {
            XCTAssertEqual(try GenerateRequest.decode(request.encode()), request)
        }
        let response = GenerateResponse(tokenIDs: [5], logprobs: [-0.25], text: "x", finishReason: .eos, promptTokens: 3,
                                        completionTokens: 1, promptTokenIDs: [1, 2, 3], promptLogprobs: [-1, -2],
                                        promptTopLogprobs: Self.top)
        XCTAssertEqual(try GenerateResponse.decode(response.encode()), response)
        let chunk = GenerateStreamChunk(tokenIDs: [5], logprobs: [-0.25], textDelta: "x", promptTokenIDs: [8],
                                        promptLogprobs: [], promptTopLogprobs: [])
        XCTAssertEqual(try GenerateStreamChunk.decode(chunk.encode()), chunk)
        let sequence = StepSequence(seqID: 3, position: 0, tokenIDs: [1, 2], sample: false, sampling: .greedy, promptLogprobs: true)
        let step = Step(stepID: 1, stageIndex: 0, sequences: [sequence])
        XCTAssertEqual(try WorkerMessage.decode(WorkerMessage.step(step).encode()), .step(step))
        let result = StepResult(stepID: 1, results: [SequenceResult(seqID: 3, tokenID: 4, logprob: -0.1, promptLogprobs: [-1, -2],
                                                                    promptTopLogprobs: Self.top)])
        XCTAssertEqual(try WorkerMessage.decode(WorkerMessage.stepResult(result).encode()), .stepResult(result))
    }

    func testAbsentFieldsMeanNone() throws {
        let old = try GenerateRequest.decode(GenerateRequest(prompt: .text("a")).encode())
        XCTAssertNil(old.suffix)
        XCTAssertFalse(old.promptLogprobs)
        XCTAssertThrowsError(try GenerateRequest.decode(GenerateRequest(prompt: .text("")).encode())) { error in
            XCTAssertTrue("\(error)".contains("prompt"), "\(error)")
        }
    }

    func testMisalignedPromptLogprobsAreRefused() {
        let bad = GenerateResponse(tokenIDs: [], logprobs: [], text: "", finishReason: .length, promptTokens: 3, completionTokens: 0,
                                   promptTokenIDs: [1, 2, 3], promptLogprobs: [-1])
        XCTAssertThrowsError(try GenerateResponse.decode(bad.encode())) { XCTAssertTrue("\($0)".contains("prompt_logprobs"), "\($0)") }
        let noIDs = GenerateStreamChunk(tokenIDs: [], logprobs: [], textDelta: "", promptLogprobs: [-1])
        XCTAssertThrowsError(try GenerateStreamChunk.decode(noIDs.encode())) { XCTAssertTrue("\($0)".contains("prompt_logprobs"), "\($0)") }
        let badTop = StepResult(stepID: 1, results: [SequenceResult(seqID: 3, tokenID: 4, logprob: -0.1, promptLogprobs: [-1],
                                                                    promptTopLogprobs: Self.top)])
        XCTAssertThrowsError(try WorkerMessage.decode(WorkerMessage.stepResult(badTop).encode())) {
            XCTAssertTrue("\($0)".contains("prompt_top_logprobs"), "\($0)")
        }
    }
}
