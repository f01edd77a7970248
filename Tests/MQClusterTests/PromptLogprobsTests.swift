// Prompt logprobs and fill-in-the-middle against transformers (Tests/Fixtures/models/mqa-long,
// written by tools/make_prompt_logprob_fixtures.py): in one process (the engine `mq run` uses) and
// through a 2-stage cluster with chunked prefill, including a 1,000-token prompt.
import Foundation
import MQClient
import MQEngine
import MQLocalCluster
import MQProtocol
import MQSampling
import XCTest

/// reference.json of mqa-long.
struct PromptReference {
    struct Scored {
        var name: String
        var text: String?
        var ids: [Int]
        var logprobs: [Float]
        var topIDs: [[Int]]
        var topLogprobs: [[Float]]
    }
    struct FIM {
        var prefix: String
        var suffix: String
        var ids: [Int]
        var greedy: [Int]
    }
    var scored: [Scored]
    var fim: [FIM]

    static let model = Paths.model("mqa-long")
    static let tolerance: Float = 1e-4

    static func load() throws -> PromptReference {
        let data = try Data(contentsOf: model.appendingPathComponent("reference.json"))
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        func ints(_ v: Any?) -> [Int] { (v as? [NSNumber] ?? []).map(\.intValue) }
        func floats(_ v: Any?) -> [Float] { (v as? [NSNumber] ?? []).map(\.floatValue) }
        let scored = (root["prompt_logprobs"] as? [[String: Any]] ?? []).map {
            Scored(name: $0["name"] as? String ?? "", text: $0["prompt_text"] as? String, ids: ints($0["prompt_ids"]),
                   logprobs: floats($0["logprobs"]), topIDs: ($0["top_ids"] as? [Any] ?? []).map(ints),
                   topLogprobs: ($0["top_logprobs"] as? [Any] ?? []).map(floats))
        }
        let fim = (root["fim"] as? [[String: Any]] ?? []).map {
            FIM(prefix: $0["prefix"] as? String ?? "", suffix: $0["suffix"] as? String ?? "", ids: ints($0["prompt_ids"]),
                greedy: ints($0["greedy_ids"]))
        }
        return PromptReference(scored: scored, fim: fim)
    }

    func scored(_ name: String) throws -> Scored { try XCTUnwrap(scored.first { $0.name == name }, "fixture case \(name)") }
}

/// Compares prompt logprobs (and their top-5 alternatives) with the reference, naming the worst difference.
func assertPromptScores(ids: [Int], logprobs: [Float], top: [[(id: Int, logprob: Float)]], _ expected: PromptReference.Scored,
                        _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(ids, expected.ids, "\(what): prompt ids", file: file, line: line)
    XCTAssertEqual(logprobs.count, expected.ids.count - 1, "\(what): one logprob per prompt token after the first", file: file, line: line)
    let worst = zip(logprobs, expected.logprobs).map { abs($0 - $1) }.max() ?? .infinity
    XCTAssertLessThanOrEqual(worst, PromptReference.tolerance, "\(what): prompt logprobs differ by up to \(worst)", file: file, line: line)
    XCTAssertEqual(top.map { $0.map(\.id) }, expected.topIDs, "\(what): alternatives' ids", file: file, line: line)
    let worstTop = zip(top.joined().map(\.logprob), expected.topLogprobs.joined()).map { abs($0 - $1) }.max() ?? .infinity
    XCTAssertLessThanOrEqual(worstTop, PromptReference.tolerance, "\(what): alternatives' logprobs differ by up to \(worstTop)", file: file, line: line)
}

final class PromptLogprobsTests: XCTestCase {
    func testEngineMatchesTransformers() throws {
        let reference = try PromptReference.load()
        let engine = try Engine(directory: PromptReference.model, compute: .allCores)
        for name in ["code", "fim-tokens", "long"] {
            let expected = try reference.scored(name)
            let ids = try expected.text.map { try engine.encode($0) } ?? expected.ids
            let result = try engine.generate(GenerationRequest(promptIds: ids, maxNewTokens: 3,
                                                               sampling: SamplingParameters(topLogprobs: 5), promptLogprobs: true))
            assertPromptScores(ids: try XCTUnwrap(result.promptTokenIds), logprobs: try XCTUnwrap(result.promptLogprobs),
                               top: try XCTUnwrap(result.promptTopLogprobs).map { $0.map { ($0.id, $0.logprob) } }, expected, "engine, \(name)")
            // Scoring the prompt changes nothing about the generated tokens.
            let plain = try engine.generate(GenerationRequest(promptIds: ids, maxNewTokens: 3, sampling: SamplingParameters(topLogprobs: 5)))
            XCTAssertEqual(plain.tokenIds, result.tokenIds)
            XCTAssertEqual(plain.logprobs, result.logprobs)
            XCTAssertNil(plain.promptLogprobs)
        }
    }

    func testEngineFillInTheMiddleEqualsTransformers() throws {
        let reference = try PromptReference.load()
        let engine = try Engine(directory: PromptReference.model, compute: .allCores)
        XCTAssertFalse(reference.fim.isEmpty)
        for c in reference.fim {
            let ids = try engine.encodeFIM(prefix: c.prefix, suffix: c.suffix)
            XCTAssertEqual(ids, c.ids, "FIM prompt for \(c.prefix.debugDescription) / \(c.suffix.debugDescription)")
            let result = try engine.generate(GenerationRequest(promptIds: ids, maxNewTokens: c.greedy.count))
            XCTAssertEqual(result.tokenIds, c.greedy, "greedy middle for \(c.prefix.debugDescription)")
            // A token-id prefix keeps its ids and takes the same layout.
            XCTAssertEqual(try engine.encodeFIM(prefixIds: try engine.encode(c.prefix), suffix: c.suffix), c.ids)
        }
        let noFIM = try Engine(directory: Paths.model("falcon-mqa"), compute: .allCores)
        XCTAssertThrowsError(try noFIM.encodeFIM(prefix: "a", suffix: "b")) { error in
            XCTAssertEqual(error as? EngineError, .noFIMTokens(model: "falcon-mqa"))
            XCTAssertTrue("\(error)".contains("falcon-mqa"))
        }
    }

    /// Two stages, prefill in chunks of 64: the 1,000-token prompt is scored over 16 chunks, each
    /// chunk's last row waiting on the last stage for the next chunk's first token.
    func testTwoStageClusterMatchesTransformers() async throws {
        let reference = try PromptReference.load()
        let cluster = try LocalCluster(model: PromptReference.model, workers: 2, extraCoordinatorArgs: ["--prefill-chunk", "64"])
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let c = try cluster.client(timeout: .seconds(120))
        defer { c.close() }
        let info = try await c.info()
        XCTAssertTrue(info.model.fimAvailable)
        XCTAssertEqual(info.stages.count, 2)

        let long = try reference.scored("long")
        let r = try await c.generate(GenerateRequest(prompt: .tokenIDs(long.ids.map { UInt32($0) }), maxNewTokens: 4,
                                                     sampling: SamplingParams(seed: 0, topLogprobs: 5), promptLogprobs: true))
        assertPromptScores(ids: r.promptTokenIDs.map { Int($0) }, logprobs: r.promptLogprobs,
                           top: r.promptTopLogprobs.map { $0.map { (Int($0.tokenID), $0.logprob) } }, long, "2 stages, 1,000 tokens")
        let e = try singleProcess(PromptReference.model, long.ids, maxTokens: 4, sampling: SamplingParameters(topLogprobs: 5))
        assertSame(r, e, tolerance: 1e-4, "1,000-token prompt with prompt logprobs")

        // A stream carries them on its first chunk only; a text prompt is scored as tokenized.
        let code = try reference.scored("code")
        var accumulator = GenerateStreamAccumulator()
        var chunks = 0
        for try await chunk in c.generateStream(GenerateRequest(prompt: .text(try XCTUnwrap(code.text)), maxNewTokens: 3,
                                                                sampling: SamplingParams(seed: 0, topLogprobs: 5), promptLogprobs: true)) {
            XCTAssertEqual(chunk.promptTokenIDs.isEmpty, chunks > 0, "prompt logprobs on the first chunk only")
            chunks += 1
            try accumulator.add(chunk)
        }
        let streamed = try accumulator.response()
        assertPromptScores(ids: streamed.promptTokenIDs.map { Int($0) }, logprobs: streamed.promptLogprobs,
                           top: streamed.promptTopLogprobs.map { $0.map { (Int($0.tokenID), $0.logprob) } }, code, "2 stages, stream")

        // Without the flag nothing is returned.
        let plain = try await c.generate(GenerateRequest(prompt: .tokenIDs([7, 8, 9]), maxNewTokens: 2, sampling: SamplingParams(seed: 0)))
        XCTAssertTrue(plain.promptTokenIDs.isEmpty && plain.promptLogprobs.isEmpty)

        // Fill in the middle: the coordinator builds transformers' FIM prompt, greedy tokens equal.
        for f in reference.fim {
            let m = try await c.generate(GenerateRequest(prompt: .text(f.prefix), maxNewTokens: UInt32(f.greedy.count),
                                                         sampling: SamplingParams(seed: 0), suffix: f.suffix, promptLogprobs: true))
            XCTAssertEqual(m.promptTokenIDs.map { Int($0) }, f.ids, "cluster FIM prompt for \(f.prefix.debugDescription)")
            XCTAssertEqual(m.tokenIDs.map { Int($0) }, f.greedy, "cluster FIM middle for \(f.prefix.debugDescription)")
        }
        let f = reference.fim[0]
        let prefixIDs = try await c.tokenize(TokenizeRequest(text: f.prefix)).tokenIDs
        let byIDs = try await c.generate(GenerateRequest(prompt: .tokenIDs(prefixIDs), maxNewTokens: UInt32(f.greedy.count),
                                                         sampling: SamplingParams(seed: 0), suffix: f.suffix, promptLogprobs: true))
        XCTAssertEqual(byIDs.promptTokenIDs.map { Int($0) }, f.ids, "token-id prefix with a text suffix")
        XCTAssertEqual(byIDs.tokenIDs.map { Int($0) }, f.greedy)
    }

    func testModelWithoutFIMTokensRefusesSuffixNamingTheModel() async throws {
        let cluster = try LocalCluster(model: Paths.model("falcon-mqa"), workers: 1)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        let c = try cluster.client()
        defer { c.close() }
        let info = try await c.info()
        XCTAssertFalse(info.model.fimAvailable)
        do {
            _ = try await c.generate(GenerateRequest(prompt: .text("def f("), maxNewTokens: 2, suffix: "):"))
            XCTFail("a suffix on a model without FIM tokens must fail")
        } catch let error as MQClientError {
            XCTAssertEqual(error.code, .invalidArgument)
            XCTAssertTrue(error.message.contains("falcon-mqa"), error.message)
        }
        // The server keeps serving.
        let ok = try await c.generate(GenerateRequest(prompt: .text("def f("), maxNewTokens: 2, sampling: SamplingParams(seed: 0)))
        XCTAssertEqual(ok.tokenIDs.count, 2)
    }
}
