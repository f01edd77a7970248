// Named intermediate tensors (ActivationTaps) against transformers, layer by layer, and the
// comparison's use: a weight perturbed on purpose in one layer is named as the first divergence.
//
// References: Tests/Fixtures/activations/<model>.safetensors, written by
//   tools/compare_activations.py --model Tests/Fixtures/models/<model> --prompt-ids <Self.prompt> \
//       --save-reference Tests/Fixtures/activations/<model>.safetensors
// (transformers' hidden states and hooks, float32). Tolerance 1e-4 as in GoldenTests: both sides
// compute in float32 from the same weights and differ by summation order only.
import Foundation
import MQCheckpoint
import MQKernels
import MQModel
import XCTest

final class ActivationTapsTests: XCTestCase {
    static let prompt = [17, 4, 300, 42, 1, 99, 256, 7]
    static let models = ["mqa", "falcon-mqa"]

    static func referenceURL(_ model: String) -> URL {
        Fixtures.root.appendingPathComponent("activations/\(model).safetensors")
    }

    func taps(_ dir: URL) throws -> ActivationTaps {
        let model = try ModelRegistry.load(try Checkpoint(directory: dir), compute: .allCores)
        let taps = try ActivationTaps.prefill(model, ids: Self.prompt)
        XCTAssertNil(model.taps, "prefill restores the model's recorder")
        return taps
    }

    func reference(_ model: String) throws -> [String: ActivationTaps.Tap] {
        Dictionary(try ActivationFile.read(Self.referenceURL(model)).map { ($0.name, $0) }, uniquingKeysWith: { _, b in b })
    }

    func testNamesAndShapes() throws {
        let t = try taps(Fixtures.model("mqa"))
        XCTAssertEqual(t.names, ["embed"] + (0..<3).flatMap { ["layer.\($0).attn_out", "layer.\($0).block_out"] } + ["final_norm", "logits"])
        for tap in t.taps { XCTAssertEqual(tap.rows, Self.prompt.count, tap.name) }
        XCTAssertEqual(t["embed"]?.width, 64)
        XCTAssertEqual(t["logits"]?.width, 512)
    }

    /// A pipeline stage records its own layers under their global numbers.
    func testStageUsesGlobalLayerNumbers() throws {
        let ck = try Checkpoint(directory: Fixtures.model("mqa"))
        let stage = try ModelRegistry.load(ck, layers: 1..<3, embedding: false, head: false, compute: .allCores)
        let rec = ActivationTaps()
        stage.taps = rec
        let T = 2, E = stage.shape.hiddenSize
        let cache = try KVCache(layers: stage.layerRange, kvDim: stage.shape.kvHeads * stage.shape.headDim, blocks: 1)
        try cache.reserve(sequence: 0, positions: T)
        var hidden = [Float](repeating: 0.1, count: T * E)
        try hidden.withUnsafeMutableBufferPointer {
            try stage.forward((0..<T).map { StepToken(sequence: 0, position: $0, token: 0) }, hidden: $0.baseAddress!, cache: cache)
        }
        XCTAssertEqual(rec.names, ["layer.1.attn_out", "layer.1.block_out", "layer.2.attn_out", "layer.2.block_out"])
    }

    func testEveryTapMatchesTransformers() throws {
        for name in Self.models {
            let diffs = ActivationComparison.compare(try taps(Fixtures.model(name)).taps, reference: try reference(name))
            XCTAssertEqual(diffs.count, 9, name)   // embed, 3 × (attn_out, block_out), final_norm, logits
            for d in diffs {
                XCTAssertNil(d.problem, "\(name) \(d)")
                XCTAssertLessThan(d.maxAbs, ActivationComparison.defaultTolerance, "\(name) \(d)")
            }
            XCTAssertNil(ActivationComparison.firstDivergence(diffs))
            print("taps \(name): worst |Δ| per tap: " + diffs.map { "\($0.name) \($0.maxAbs)" }.joined(separator: ", "))
        }
    }

    /// The file mq writes reads back bit for bit, in order.
    func testFileRoundTrip() throws {
        let t = try taps(Fixtures.model("mqa"))
        let dir = try temporaryDirectory()
        let url = dir.appendingPathComponent(ActivationFile.fileName)
        try ActivationFile.write(t.taps, to: url, metadata: ["prompt_ids": "1,2"])
        XCTAssertEqual(try ActivationFile.read(url), t.taps)
    }

    /// One weight of one layer changed on purpose: the comparison names that layer's first tap it
    /// reaches, and every earlier tap still agrees.
    func testPerturbedWeightIsNamedAsFirstDivergence() throws {
        let cases: [(model: String, tensor: String, first: String)] = [
            ("mqa", "transformer.h.2.mlp.c_proj.weight", "layer.2.block_out"),           // after layer 2's attention
            ("mqa", "transformer.h.1.attn.c_attn.weight", "layer.1.attn_out"),
            ("falcon-mqa", "transformer.h.1.mlp.dense_4h_to_h.weight", "layer.1.block_out"),
        ]
        for c in cases {
            let ref = try reference(c.model)
            let dir = try temporaryDirectory().appendingPathComponent(c.model)
            try FileManager.default.copyItem(at: Fixtures.model(c.model), to: dir)
            try perturb(dir.appendingPathComponent("model.safetensors"), tensor: c.tensor, by: 1.0)
            let diffs = ActivationComparison.compare(try taps(dir).taps, reference: ref)
            let first = try XCTUnwrap(ActivationComparison.firstDivergence(diffs), "\(c)")
            XCTAssertEqual(first.name, c.first, "\(c.model) \(c.tensor): \(diffs)")
            print("perturbed \(c.model) \(c.tensor)[0, 0] += 1: first divergence \(first)")
        }
    }

    /// Adds `delta` to element [0, 0] of an F32 tensor in a safetensors file, in place.
    func perturb(_ file: URL, tensor: String, by delta: Float) throws {
        let info = try XCTUnwrap(try SafetensorsFile(path: file.path).tensors[tensor], "\(tensor) in \(file.path)")
        XCTAssertEqual(info.dtypeName, "F32")
        var data = try Data(contentsOf: file)
        let at = info.fileRange.lowerBound
        let old = data.subdata(in: at..<at + 4).withUnsafeBytes { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        withUnsafeBytes(of: (old + delta).bitPattern.littleEndian) { data.replaceSubrange(at..<at + 4, with: $0) }
        try data.write(to: file)
    }

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mq-taps-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }
}
