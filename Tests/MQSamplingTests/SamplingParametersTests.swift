// Validation at the edge: every out-of-range field is rejected with an error that names it, and
// the wire (JSON) form uses snake_case with defaults for missing fields.
import Foundation
import XCTest
import MQSampling

final class SamplingParametersTests: XCTestCase {
    private func assertInvalid(_ p: SamplingParameters, stopStrings: [String] = [], field: String, line: UInt = #line) {
        XCTAssertThrowsError(try p.validated(stopStrings: stopStrings), line: line) { error in
            guard case SamplingError.invalid(let got, let reason) = error else {
                return XCTFail("unexpected error \(error)", line: line)
            }
            XCTAssertEqual(got, field, line: line)
            XCTAssertFalse(reason.isEmpty, line: line)
            XCTAssert("\(error)".contains(field), "description should name the field: \(error)", line: line)
        }
    }

    func testDefaultsAndBoundaryValuesAreValid() throws {
        XCTAssertEqual(try SamplingParameters().validated(), SamplingParameters())
        XCTAssertTrue(SamplingParameters().isGreedy)
        for p in [
            SamplingParameters(temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0, topLogprobs: 0),
            SamplingParameters(temperature: 100, topK: 1_000_000, topP: .leastNonzeroMagnitude,
                               repetitionPenalty: 0.001, seed: .max, topLogprobs: 20),
        ] {
            XCTAssertEqual(try p.validated(), p)
        }
    }

    func testEachBadFieldIsNamed() {
        assertInvalid(SamplingParameters(temperature: .nan), field: "temperature")
        assertInvalid(SamplingParameters(temperature: -0.1), field: "temperature")
        assertInvalid(SamplingParameters(temperature: .infinity), field: "temperature")
        assertInvalid(SamplingParameters(topK: -1), field: "top_k")
        assertInvalid(SamplingParameters(topK: SamplingLimits.maxTopK + 1), field: "top_k")
        assertInvalid(SamplingParameters(topP: 2), field: "top_p")
        assertInvalid(SamplingParameters(topP: .infinity), field: "top_p")
        assertInvalid(SamplingParameters(topP: 0), field: "top_p")
        assertInvalid(SamplingParameters(topP: -0.5), field: "top_p")
        assertInvalid(SamplingParameters(topP: 1.0001), field: "top_p")
        assertInvalid(SamplingParameters(topP: .nan), field: "top_p")
        assertInvalid(SamplingParameters(repetitionPenalty: 0), field: "repetition_penalty")
        assertInvalid(SamplingParameters(repetitionPenalty: -1), field: "repetition_penalty")
        assertInvalid(SamplingParameters(repetitionPenalty: .nan), field: "repetition_penalty")
        assertInvalid(SamplingParameters(repetitionPenalty: .infinity), field: "repetition_penalty")
        assertInvalid(SamplingParameters(topLogprobs: -1), field: "top_logprobs")
        assertInvalid(SamplingParameters(topLogprobs: SamplingLimits.maxTopLogprobs + 1), field: "top_logprobs")
    }

    func testStopStringsAreCheckedByTheSameValidation() throws {
        let p = SamplingParameters()
        let longest = String(repeating: "é", count: SamplingLimits.maxStopStringBytes / 2)
        XCTAssertEqual(try p.validated(stopStrings: ["\n\n", longest]), p)
        XCTAssertEqual(try p.validated(stopStrings: Array(repeating: "x", count: SamplingLimits.maxStopStrings)), p)
        assertInvalid(p, stopStrings: ["ok", ""], field: "stop_strings[1]")
        assertInvalid(p, stopStrings: [longest + "x"], field: "stop_strings[0]")
        assertInvalid(p, stopStrings: Array(repeating: "x", count: SamplingLimits.maxStopStrings + 1), field: "stop_strings")
        // The first bad field is named, sampling fields before stop strings.
        assertInvalid(SamplingParameters(topP: 2), stopStrings: [""], field: "top_p")
        XCTAssertThrowsError(try p.validated(stopStrings: [""])) {
            XCTAssertEqual("\($0)", "invalid sampling parameter stop_strings[0]: must not be empty")
        }
    }

    func testWireZerosMeanUnsetAndNothingElseIsMapped() throws {
        let unset = SamplingParameters(wireTemperature: 0, topK: 0, topP: 0, repetitionPenalty: 0, seed: 7, topLogprobs: 0)
        XCTAssertEqual(try unset.validated(), SamplingParameters(seed: 7))
        let set = SamplingParameters(wireTemperature: 0.7, topK: 40, topP: 0.9, repetitionPenalty: 1.2, seed: 1, topLogprobs: 3)
        XCTAssertEqual(set, SamplingParameters(temperature: 0.7, topK: 40, topP: 0.9, repetitionPenalty: 1.2, seed: 1, topLogprobs: 3))
        // Out-of-range values stay what they were and are refused, naming the field and its limit.
        XCTAssertThrowsError(try SamplingParameters(wireTemperature: 1, topK: 0, topP: 2, repetitionPenalty: 0, seed: 0, topLogprobs: 0)
            .validated()) { XCTAssertEqual("\($0)", "invalid sampling parameter top_p: must be in (0, 1] (1 = disabled), got 2.0") }
        assertInvalid(SamplingParameters(wireTemperature: 1, topK: .max, topP: 0, repetitionPenalty: 0, seed: 0, topLogprobs: 0), field: "top_k")
        assertInvalid(SamplingParameters(wireTemperature: 1, topK: 0, topP: .nan, repetitionPenalty: 0, seed: 0, topLogprobs: 0), field: "top_p")
        assertInvalid(SamplingParameters(wireTemperature: 1, topK: 0, topP: 0, repetitionPenalty: .nan, seed: 0, topLogprobs: 0),
                      field: "repetition_penalty")
        assertInvalid(SamplingParameters(wireTemperature: 1, topK: 0, topP: 0, repetitionPenalty: 0, seed: 0, topLogprobs: 21), field: "top_logprobs")
    }

    func testSamplerInitValidates() {
        XCTAssertThrowsError(try Sampler(parameters: SamplingParameters(topP: 2), vocabSize: 10)) {
            XCTAssertEqual($0 as? SamplingError, .invalid(field: "top_p", reason: "must be in (0, 1] (1 = disabled), got 2.0"))
        }
        for bad in [0, -5] {
            XCTAssertThrowsError(try Sampler(parameters: SamplingParameters(), vocabSize: bad)) {
                guard case SamplingError.invalid(let field, _)? = $0 as? SamplingError else { return XCTFail("\($0)") }
                XCTAssertEqual(field, "vocab_size")
            }
        }
        XCTAssertThrowsError(try Sampler(parameters: SamplingParameters(), vocabSize: 10, startStep: -1)) {
            guard case SamplingError.invalid(let field, _)? = $0 as? SamplingError else { return XCTFail("\($0)") }
            XCTAssertEqual(field, "step")
        }
    }

    func testJSONUsesSnakeCaseAndDefaults() throws {
        let p = SamplingParameters(temperature: 0.5, topK: 40, topP: 0.9, repetitionPenalty: 1.1,
                                   seed: 18_446_744_073_709_551_615, topLogprobs: 3)
        let data = try JSONEncoder().encode(p)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["temperature", "top_k", "top_p", "repetition_penalty", "seed", "top_logprobs"])
        XCTAssertEqual(try JSONDecoder().decode(SamplingParameters.self, from: data), p)

        XCTAssertEqual(try JSONDecoder().decode(SamplingParameters.self, from: Data("{}".utf8)), SamplingParameters())
        let partial = try JSONDecoder().decode(SamplingParameters.self, from: Data(#"{"temperature": 0.8, "seed": 7}"#.utf8))
        XCTAssertEqual(partial, SamplingParameters(temperature: 0.8, seed: 7))
        XCTAssertThrowsError(try JSONDecoder().decode(SamplingParameters.self, from: Data(#"{"top_k": "many"}"#.utf8)))
    }
}
