// The GPT-2 layout loader (Sources/MQModel/GPT2.swift): SantaCoder's original multi-query checkpoints,
// converted from the `mqa` GPTBigCode fixture by tools/convert_santacoder_layout.py (one fused c_attn,
// one split into q_attn + kv_attn), must reproduce the original's transformers reference; plain GPT-2
// (tools/make_gpt2_fixture.py) is checked against transformers' GPT2LMHeadModel directly.
// Tolerance 1e-4 as in GoldenTests.
import Foundation
import MQCheckpoint
import MQKernels
import MQModel
import XCTest

final class SantaCoderTests: XCTestCase {
    func testConvertedLayoutsReproduceTheOriginal() throws {
        for name in ["santacoder-fused", "santacoder-split"] {
            let ck = try Checkpoint(directory: Fixtures.model(name))
            let model = try ModelRegistry.load(ck, compute: .allCores)
            XCTAssertEqual((model as? GPT2)?.attentionLayout, name.hasSuffix("split") ? .split : .fused)
            try GoldenRun.check(model, reference: name)
        }
    }

    func testConvertedLayoutsComputeExactlyWhatGPTBigCodeComputes() throws {
        // Same weights, same kernels, same order of operations: the logits must be identical, not just close.
        let original = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model("mqa")), compute: .allCores)
        let chunks = [[5, 17, 300, 42], [42], [7]]
        let expected = try GoldenRun.lastLogits([original], chunks: chunks)
        for name in ["santacoder-fused", "santacoder-split"] {
            let model = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model(name)), compute: .allCores)
            XCTAssertEqual(try GoldenRun.lastLogits([model], chunks: chunks), expected, name)
        }
    }

    func testShape() throws {
        let fused = try ModelRegistry.shape(of: try Checkpoint(directory: Fixtures.model("santacoder-fused")))
        let mqa = try ModelRegistry.shape(of: try Checkpoint(directory: Fixtures.model("mqa")))
        XCTAssertEqual(fused.architecture, "gpt2-santacoder")
        XCTAssertEqual(fused.attentionKind, .multiQuery)
        var renamed = mqa
        renamed.architecture = "gpt2-santacoder"
        XCTAssertEqual(fused, renamed, "the converted model has the original's shape")
        let plain = try ModelRegistry.shape(of: try Checkpoint(directory: Fixtures.model("gpt2-mha")))
        XCTAssertEqual(plain.architecture, "gpt2")
        XCTAssertEqual(plain.attentionKind, .multiHead)
    }

    func testPlainGPT2MatchesTransformers() throws {
        let model = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model("gpt2-mha")), compute: .allCores)
        XCTAssertEqual((model as? GPT2)?.attentionLayout, .fused)
        try GoldenRun.check(model, reference: "gpt2-mha")
    }

    func testPrefillThenDecodeAndStages() throws {
        let prompt = [5, 17, 300, 42, 42, 7, 99, 128, 3, 64, 200, 11, 250, 1, 77, 19, 400, 23]
        for name in ["santacoder-split", "gpt2-mha"] {
            let ck = try Checkpoint(directory: Fixtures.model(name))
            let model = try ModelRegistry.load(ck, compute: .allCores)
            let full = try GoldenRun.lastLogits([model], chunks: [prompt])
            let incremental = try GoldenRun.lastLogits([model], chunks: [Array(prompt.prefix(10))] + prompt.dropFirst(10).map { [$0] })
            XCTAssertLessThan(GoldenRun.maxDiff(full, incremental), 1e-4, name)
            // gpt2-mha scales layer l's scores by 1/(l + 1): a stage must use global layer numbers.
            let s0 = try ModelRegistry.load(ck, layers: 0..<1, embedding: true, head: false, compute: .allCores)
            let s1 = try ModelRegistry.load(ck, layers: 1..<model.shape.layers, embedding: false, head: true, compute: .allCores)
            XCTAssertEqual(try GoldenRun.lastLogits([s0, s1], chunks: [Array(prompt.prefix(6)), [9]]),
                           try GoldenRun.lastLogits([model], chunks: [Array(prompt.prefix(6)), [9]]), name)
        }
    }

    func testMissingOrMixedAttentionTensorsAreErrors() throws {
        // A multi-query config whose weights are multi-head (c_attn [E, 3E]): a shape error naming the tensor.
        let base = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Fixtures.model("gpt2-mha").appendingPathComponent("config.json"))) as! [String: Any]
        let dir = try GoldenRun.folder(config: base.merging(["attention_head_type": "multiquery"]) { $1 },
                                       weightsFrom: Fixtures.model("gpt2-mha"))
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try ModelRegistry.load(try Checkpoint(directory: dir), compute: .allCores)) {
            XCTAssertTrue("\($0)".contains("h.0.attn.c_attn.weight"), "\($0)")
        }
        let bad = try GoldenRun.folder(config: base.merging(["attention_head_type": "grouped"]) { $1 },
                                       weightsFrom: Fixtures.model("gpt2-mha"))
        defer { try? FileManager.default.removeItem(at: bad) }
        XCTAssertThrowsError(try ModelRegistry.shape(of: try Checkpoint(directory: bad))) {
            XCTAssertTrue("\($0)".contains("attention_head_type"), "\($0)")
        }
    }
}
