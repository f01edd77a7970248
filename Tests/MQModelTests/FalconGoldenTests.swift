// Falcon against transformers (fixtures from tools/make_falcon_fixtures.py): logits of every prompt
// position, greedy continuations with log probabilities, prefill-then-decode against full
// recomputation, layer-range stages, the RefinedWeb-era config keys, and the configs mq refuses.
//
// Tolerance: 1e-4 absolute on logits and log probabilities, as in GoldenTests (float32 on both sides,
// only the summation order differs; a wrong layout, norm, rotation or scale moves logits by 1e-2 or
// more). Each fixture's smallest top-1/top-2 gap over its greedy steps is at least 5e-3.
import Foundation
import MQCheckpoint
import MQKernels
import MQModel
import XCTest

final class FalconGoldenTests: XCTestCase {
    static let fixtures = ["falcon-mqa", "falcon-grouped", "falcon-sequential", "falcon-grouped-shared-ln"]

    func testEveryFixtureMatchesTransformers() throws {
        for name in Self.fixtures {
            let model = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model(name)), compute: .allCores)
            try GoldenRun.check(model, reference: name)
        }
    }

    func testShapesAndAttentionKinds() throws {
        func shape(_ name: String) throws -> ModelShape { try ModelRegistry.shape(of: try Checkpoint(directory: Fixtures.model(name))) }
        let mqa = try shape("falcon-mqa"), grouped = try shape("falcon-grouped")
        let sequential = try shape("falcon-sequential"), shared = try shape("falcon-grouped-shared-ln")
        XCTAssertEqual(mqa.architecture, "falcon")
        // falcon-mqa's config says num_kv_heads 4, but multi_query true means one KV head.
        XCTAssertEqual(mqa.kvHeads, 1)
        XCTAssertEqual(mqa.attentionKind, .multiQuery)
        XCTAssertEqual(grouped.attentionKind, .grouped(groups: 2))
        XCTAssertEqual(grouped.heads, 8)
        XCTAssertEqual(sequential.attentionKind, .multiHead)
        XCTAssertEqual(shared.attentionKind, .grouped(groups: 2))
        // KV bytes per token = 2 · KVH · D · layers · 4.
        XCTAssertEqual(mqa.kvBytesPerToken(layerCount: 3), 2 * 1 * 16 * 3 * 4)
        XCTAssertEqual(grouped.kvBytesPerToken(layerCount: 2), 2 * 2 * 8 * 2 * 4)
        XCTAssertEqual(mqa.eosTokenIds, [11])
        let model = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model("falcon-grouped")), compute: .allCores)
        XCTAssertEqual(model.shape, grouped, "shape(of:) must agree with the loaded model")
    }

    func testPrefillThenDecodeEqualsFullRecomputation() throws {
        let prompt = [5, 17, 300, 42, 42, 7, 99, 128, 3, 64, 200, 11, 250, 1, 77, 19, 400, 23]  // crosses a 16-token block
        for name in Self.fixtures {
            let model = try ModelRegistry.load(try Checkpoint(directory: Fixtures.model(name)), compute: .allCores)
            let full = try GoldenRun.lastLogits([model], chunks: [prompt])
            let incremental = try GoldenRun.lastLogits([model], chunks: [Array(prompt.prefix(10))] + prompt.dropFirst(10).map { [$0] })
            let oneByOne = try GoldenRun.lastLogits([model], chunks: prompt.map { [$0] })
            XCTAssertLessThan(GoldenRun.maxDiff(full, incremental), 1e-4, name)
            XCTAssertLessThan(GoldenRun.maxDiff(full, oneByOne), 1e-4, name)
        }
    }

    func testLayerRangeStagesEqualWholeModel() throws {
        for name in ["falcon-mqa", "falcon-grouped"] {
            let ck = try Checkpoint(directory: Fixtures.model(name))
            let whole = try ModelRegistry.load(ck, compute: .allCores)
            let n = whole.shape.layers
            let s0 = try ModelRegistry.load(ck, layers: 0..<1, embedding: true, head: false, compute: .allCores)
            let s1 = try ModelRegistry.load(ck, layers: 1..<n, embedding: false, head: true, compute: .allCores)
            XCTAssertFalse(s0.hasHead); XCTAssertFalse(s1.hasEmbedding)
            let chunks = [[12, 5, 900, 1500], [9], [10]]
            XCTAssertEqual(try GoldenRun.lastLogits([whole], chunks: chunks), try GoldenRun.lastLogits([s0, s1], chunks: chunks),
                           "\(name): a pipeline of stages must compute exactly what the whole model computes")
        }
    }

    /// The configs Falcon-7B and Falcon-40B were first published with (RWForCausalLM, remote code):
    /// `n_head`, `n_layer`, `n_head_kv`, no `new_decoder_architecture` for 40B (implied by its model type).
    func testRefinedWebConfigsLoadTheSameWeights() throws {
        let rw7b: [String: Any] = [
            "alibi": false, "apply_residual_connection_post_layernorm": false, "architectures": ["RWForCausalLM"],
            "bias": false, "bos_token_id": 11, "eos_token_id": 11, "hidden_size": 64, "layer_norm_epsilon": 1e-5,
            "model_type": "RefinedWebModel", "multi_query": true, "n_head": 4, "n_layer": 3, "parallel_attn": true,
            "max_position_embeddings": 128, "vocab_size": 2000,
        ]
        let rw40b: [String: Any] = [
            "alibi": false, "apply_residual_connection_post_layernorm": false, "architectures": ["RWForCausalLM"],
            "bias": false, "bos_token_id": 11, "eos_token_id": 11, "hidden_size": 64, "layer_norm_epsilon": 1e-5,
            "model_type": "RefinedWeb", "n_head": 8, "n_head_kv": 2, "n_layer": 2, "parallel_attn": true,
            "max_position_embeddings": 128, "vocab_size": 2000,
        ]
        for (config, name) in [(rw7b, "falcon-mqa"), (rw40b, "falcon-grouped")] {
            let dir = try GoldenRun.folder(config: config, weightsFrom: Fixtures.model(name))
            defer { try? FileManager.default.removeItem(at: dir) }
            let model = try ModelRegistry.load(try Checkpoint(directory: dir), compute: .allCores)
            XCTAssertEqual(model.shape, try ModelRegistry.shape(of: try Checkpoint(directory: Fixtures.model(name))))
            try GoldenRun.check(model, reference: name, label: "\(name) with a \(config["model_type"]!) config")
        }
    }

    /// Configs that would compute something else than Falcon are refused with an error naming the file.
    func testUnsupportedConfigsAreRefused() throws {
        let base = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Fixtures.model("falcon-mqa").appendingPathComponent("config.json"))) as! [String: Any]
        let cases: [(String, [String: Any])] = [
            ("alibi", ["alibi": true]),
            ("linear", ["rope_parameters": ["rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0]]),
            ("dynamic", ["rope_parameters": NSNull(), "rope_scaling": ["type": "dynamic", "factor": 2.0]]),
            ("parallel_attn false", ["new_decoder_architecture": true, "parallel_attn": false, "num_kv_heads": 2]),
            ("num_ln_in_parallel_attn", ["num_ln_in_parallel_attn": 2]),
            ("apply_residual_connection_post_layernorm", ["apply_residual_connection_post_layernorm": true]),
            ("cannot be split", ["new_decoder_architecture": true, "num_kv_heads": 3]),
            ("odd", ["hidden_size": 60, "num_attention_heads": 4]),
        ]
        for (needle, change) in cases {
            let dir = try GoldenRun.folder(config: base.merging(change) { $1 }, weightsFrom: Fixtures.model("falcon-mqa"))
            defer { try? FileManager.default.removeItem(at: dir) }
            XCTAssertThrowsError(try ModelRegistry.load(try Checkpoint(directory: dir), compute: .allCores), needle) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(needle) && text.contains("config.json"), "\(needle): \(text)")
            }
        }
    }

    /// With no theta anywhere the default 10000 applies; `rope_theta` at top level (older configs) is read.
    func testRopeThetaSources() throws {
        let base = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Fixtures.model("falcon-sequential").appendingPathComponent("config.json"))) as! [String: Any]
        var old = base
        old["rope_parameters"] = nil
        old["rope_theta"] = 500000.0
        let dir = try GoldenRun.folder(config: old, weightsFrom: Fixtures.model("falcon-sequential"))
        defer { try? FileManager.default.removeItem(at: dir) }
        let ck = try Checkpoint(directory: dir)
        XCTAssertEqual(try FalconConfig(ck.config).ropeTheta, 500000)
        try GoldenRun.check(try ModelRegistry.load(ck, compute: .allCores), reference: "falcon-sequential", label: "falcon-sequential with top-level rope_theta")
        var none = base
        none["rope_parameters"] = nil
        let dir2 = try GoldenRun.folder(config: none, weightsFrom: Fixtures.model("falcon-sequential"))
        defer { try? FileManager.default.removeItem(at: dir2) }
        XCTAssertEqual(try FalconConfig(try Checkpoint(directory: dir2).config).ropeTheta, 10000)
    }
}
