// The OpenAI request body as checked values: every prompt form, defaults, the mq extensions, and a
// 400 naming the field for everything refused.
import MQClient
@testable import MQGateway
import XCTest

final class CompletionRequestTests: XCTestCase {
    private func parse(_ json: String) throws -> CompletionRequest {
        try CompletionRequest.parse(Array(json.utf8))
    }

    private func refusal(_ json: String, file: StaticString = #filePath, line: UInt = #line) -> GatewayError? {
        do {
            _ = try parse(json)
            XCTFail("accepted \(json)", file: file, line: line)
            return nil
        } catch let error as GatewayError {
            XCTAssertEqual(error.status, 400, "\(json)", file: file, line: line)
            return error
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    func testPromptForms() throws {
        XCTAssertEqual(try parse(#"{"model":"m","prompt":"def f():"}"#).prompt, .texts(["def f():"]))
        XCTAssertEqual(try parse(#"{"model":"m","prompt":["a","b"]}"#).prompt, .texts(["a", "b"]))
        XCTAssertEqual(try parse(#"{"model":"m","prompt":[1,2,3]}"#).prompt, .tokenLists([[1, 2, 3]]))
        XCTAssertEqual(try parse(#"{"model":"m","prompt":[[1],[4294967295]]}"#).prompt, .tokenLists([[1], [4_294_967_295]]))
        for bad in [#""""#, "[]", "[[]]", "[1.5]", "[-1]", "[4294967296]", #"[1,"a"]"#, "{}", "null", "3"] {
            XCTAssertEqual(refusal(#"{"model":"m","prompt":\#(bad)}"#)?.param, "prompt", bad)
        }
    }

    func testDefaultsAndEveryCarriedParameter() throws {
        let plain = try parse(#"{"model":"m","prompt":"x"}"#)
        XCTAssertEqual(plain.maxTokens, 16)
        XCTAssertEqual(plain.temperature, 1)
        XCTAssertEqual(plain.n, 1)
        XCTAssertNil(plain.logprobs)
        XCTAssertFalse(plain.stream)
        let full = try parse("""
            {"model":"m","prompt":"x","max_tokens":7,"temperature":0.5,"top_p":0.9,"top_k":40,"n":2,"stop":"\\n",
             "seed":42,"logprobs":3,"stream":true,"stream_options":{"include_usage":true},"repetition_penalty":1.2,
             "presence_penalty":0,"frequency_penalty":0,"best_of":2,"logit_bias":{},"user":"u","suffix":null}
            """)
        XCTAssertEqual(full.stop, ["\n"])
        XCTAssertTrue(full.includeUsage)
        let second = full.generateRequest(prompt: .text("x"), choice: 1)
        XCTAssertEqual(second.maxNewTokens, 7)
        XCTAssertEqual(second.sampling.seed, 43, "choice j samples with seed + j")
        XCTAssertEqual(second.sampling.topK, 40)
        XCTAssertEqual(second.sampling.topP, 0.9)
        XCTAssertEqual(second.sampling.topLogprobs, 3)
        XCTAssertEqual(second.sampling.repetitionPenalty, 1.2)
        XCTAssertEqual(second.sampling.stopStrings, ["\n"])
        XCTAssertNil(try parse(#"{"model":"m","prompt":"x","n":3}"#).generateRequest(prompt: .text("x"), choice: 2).sampling.seed)
    }

    func testRefusalsNameTheirParameter() {
        let cases: [(String, String)] = [
            (#""max_tokens":0"#, "max_tokens"), (#""max_tokens":1.5"#, "max_tokens"), (#""temperature":2.5"#, "temperature"),
            (#""temperature":"hot""#, "temperature"), (#""top_p":0"#, "top_p"), (#""n":0"#, "n"), (#""n":65"#, "n"),
            (#""stop":["a","b","c","d","e"]"#, "stop"), (#""stop":[""]"#, "stop"), (#""stop":3"#, "stop"),
            (#""logprobs":21"#, "logprobs"), (#""presence_penalty":0.1"#, "presence_penalty"),
            (#""frequency_penalty":-1"#, "frequency_penalty"), (#""logit_bias":{"1":5}"#, "logit_bias"),
            (#""best_of":3"#, "best_of"), (#""suffix":3"#, "suffix"), (#""echo":"yes""#, "echo"),
            (#""stream_options":{"include_usage":true}"#, "stream_options"), (#""stream":"yes""#, "stream"),
            (#""seed":1e300"#, "seed"),
        ]
        for (field, param) in cases {
            XCTAssertEqual(refusal(#"{"model":"m","prompt":"x",\#(field)}"#)?.param, param, field)
        }
        XCTAssertEqual(refusal(#"{"model":"m","prompt":["a","b"],"n":40}"#)?.param, "n", "80 choices are over the limit")
        XCTAssertEqual(refusal(#"{"prompt":"x"}"#)?.param, "model")
        XCTAssertEqual(refusal(#"{"model":3,"prompt":"x"}"#)?.param, "model")
        XCTAssertNotNil(refusal("not json"))
        XCTAssertNotNil(refusal("[1,2]"))
    }

    func testSuffixEchoWithLogprobsAndPromptScoring() throws {
        let fim = try parse(#"{"model":"m","prompt":"","suffix":"\n    return c","max_tokens":8}"#)
        XCTAssertEqual(fim.generateRequest(prompt: .text(""), choice: 0).suffix, "\n    return c", "the text before the gap may be empty")
        XCTAssertNil(try parse(#"{"model":"m","prompt":"x"}"#).generateRequest(prompt: .text("x"), choice: 0).suffix)
        XCTAssertEqual(refusal(#"{"model":"m","prompt":""}"#)?.param, "prompt", "without a suffix the prompt may not be empty")

        let scored = try parse(#"{"model":"m","prompt":"x","echo":true,"logprobs":2}"#)
        XCTAssertTrue(scored.generateRequest(prompt: .text("x"), choice: 0).promptLogprobs)
        XCTAssertFalse(try parse(#"{"model":"m","prompt":"x","echo":true}"#).generateRequest(prompt: .text("x"), choice: 0).promptLogprobs)
        XCTAssertFalse(try parse(#"{"model":"m","prompt":"x","logprobs":2}"#).generateRequest(prompt: .text("x"), choice: 0).promptLogprobs)

        let only = try parse(#"{"model":"m","prompt":"x","echo":true,"logprobs":0,"max_tokens":0}"#)
        XCTAssertTrue(only.scoreOnly)
        XCTAssertEqual(only.generateRequest(prompt: .text("x"), choice: 0).maxNewTokens, 1, "mq generates one token, dropped")
        XCTAssertEqual(refusal(#"{"model":"m","prompt":"x","max_tokens":0}"#)?.param, "max_tokens")
    }

    func testCoordinatorStatusesMapToOpenAIStatuses() {
        let cases: [(StatusCode, Int, String?)] = [
            (.invalidArgument, 400, nil), (.resourceExhausted, 429, "queue_full"), (.unavailable, 503, "cluster_unavailable"),
            (.deadlineExceeded, 504, "deadline_exceeded"), (.unauthenticated, 502, "upstream_unauthenticated"),
            (.internalError, 500, nil),
        ]
        for (code, status, name) in cases {
            let error = GatewayError.from(MQClientError(code: code, message: "detail"))
            XCTAssertEqual(error.status, status, "\(code)")
            XCTAssertEqual(error.code, name, "\(code)")
            XCTAssertTrue(error.message.contains("detail"), error.message)
        }
        XCTAssertEqual(GatewayError.from(MQClientError(code: .resourceExhausted, message: "")).retryAfter, 1)
        let body = String(decoding: GatewayError.modelNotFound("x").body, as: UTF8.self)
        XCTAssertTrue(body.contains(#""code":"model_not_found""#) && body.contains(#""param":"model""#), body)
    }
}
