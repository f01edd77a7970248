// Named intermediate tensors ("taps"), recorded while a model runs with a recorder set, so a run can
// be dumped and compared layer by layer with a reference implementation (llama.cpp names every
// intermediate with its layer, `cb(cur, "attn_norm", il)`, for the same reason). With no recorder
// (the default) each tap point costs one nil check.
//
// Names, with global layer numbers N (a stage holding layers 12..<24 records layer.12 … layer.23):
//   embed             [T, E]  token (+ position) embedding: the input of the first layer
//   layer.N.attn_out  [T, E]  attention after its output projection (c_proj / dense), before the residual add
//   layer.N.block_out [T, E]  the residual stream after layer N
//   final_norm        [R, E]  the final norm of the R rows whose logits were asked for
//   logits            [R, V]
// transformers' output_hidden_states gives hidden_states[0] = embed, hidden_states[N + 1] =
// layer.N.block_out for N < L − 1, and hidden_states[L] = final_norm (GPTBigCode, GPT-2 and Falcon
// apply ln_f before appending the last entry); tools/compare_activations.py maps the rest with hooks.
//
// File format (ActivationFile): one safetensors file of F32 tensors named as above, shape
// [rows, width], in recording order, with `__metadata__` {"format": "mq-activations", "order":
// "embed,layer.0.attn_out,…", plus whatever the writer adds (prompt_ids, model)}.
import Foundation
import MQCheckpoint

public final class ActivationTaps {
    /// One recorded tensor, row-major [rows, width].
    public struct Tap: Sendable, Equatable {
        public var name: String
        public var rows: Int
        public var width: Int
        public var values: [Float]
        public init(name: String, rows: Int, width: Int, values: [Float]) {
            precondition(values.count == rows * width, "tap \(name): \(values.count) values for [\(rows), \(width)]")
            self.name = name; self.rows = rows; self.width = width; self.values = values
        }
    }

    public static let embed = "embed"
    public static let finalNorm = "final_norm"
    public static let logits = "logits"
    public static func attnOut(_ layer: Int) -> String { "layer.\(layer).attn_out" }
    public static func blockOut(_ layer: Int) -> String { "layer.\(layer).block_out" }

    /// Taps in the order they were recorded (a name recorded twice, by two steps, appears twice).
    public private(set) var taps: [Tap] = []

    public init() {}

    /// Copies x[rows, width] as tap `name`.
    public func record(_ name: String, _ x: UnsafePointer<Float>, rows: Int, width: Int) {
        taps.append(Tap(name: name, rows: rows, width: width, values: Array(UnsafeBufferPointer(start: x, count: rows * width))))
    }

    public var names: [String] { taps.map(\.name) }

    /// The last tap recorded under `name`.
    public subscript(name: String) -> Tap? { taps.last { $0.name == name } }

    public func removeAll() { taps.removeAll() }

    /// Runs `ids` through `model` as one prefill step (sequence 0, positions 0…T−1) with taps on,
    /// logits for every position, and returns what was recorded. The model needs its embedding and
    /// head (a whole model, not a pipeline stage); its `taps` are restored afterwards.
    public static func prefill(_ model: any DecoderModel, ids: [Int]) throws -> ActivationTaps {
        guard !ids.isEmpty else { throw ModelError.emptyStep }
        let E = model.shape.hiddenSize, V = model.shape.vocabSize, T = ids.count
        let kvDim = model.shape.kvHeads * model.shape.headDim
        let cache = try KVCache(layers: model.layerRange, kvDim: kvDim,
                                blocks: (T + KVCache.defaultBlockSize - 1) / KVCache.defaultBlockSize)
        try cache.reserve(sequence: 0, positions: T)
        let toks = ids.enumerated().map { StepToken(sequence: 0, position: $0.offset, token: $0.element) }
        let recorder = ActivationTaps()
        let saved = model.taps
        model.taps = recorder
        defer { model.taps = saved }
        var hidden = [Float](repeating: 0, count: T * E)    // [T, E]
        var logits = [Float](repeating: 0, count: T * V)    // [T, V]
        try hidden.withUnsafeMutableBufferPointer { h in
            try model.embed(toks, into: h.baseAddress!)
            try model.forward(toks, hidden: h.baseAddress!, cache: cache)
            try logits.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: Array(0..<T), into: $0.baseAddress!) }
        }
        return recorder
    }
}

/// How one tap compares with the reference tap of the same name.
public struct TapDifference: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    /// max |mq − reference| over the tap (∞ when the shapes differ or a value is not finite).
    public var maxAbs: Float
    /// Row and column of the worst element.
    public var row: Int, column: Int
    /// Why the values could not be compared ("missing in reference", "shape …"), else nil.
    public var problem: String?

    public var description: String {
        if let problem { return "\(name): \(problem)" }
        return "\(name): max |Δ| \(maxAbs) at [\(row), \(column)]"
    }
}

public enum ActivationComparison {
    /// Suggested tolerance: both sides compute in float32 from the same weights, so taps differ by
    /// summation order only (~1e-6 on the fixtures); a wrong weight, layout or epsilon moves them by 1e-2 or more.
    public static let defaultTolerance: Float = 1e-4

    /// Differences of each of `taps` (in their order) from the reference tap of the same name.
    /// Taps absent from the reference are reported with a problem and never count as diverging.
    public static func compare(_ taps: [ActivationTaps.Tap], reference: [String: ActivationTaps.Tap]) -> [TapDifference] {
        taps.map { t in
            guard let r = reference[t.name] else {
                return TapDifference(name: t.name, maxAbs: 0, row: 0, column: 0, problem: "missing in reference")
            }
            guard r.rows == t.rows, r.width == t.width else {
                return TapDifference(name: t.name, maxAbs: .infinity, row: 0, column: 0,
                                     problem: "shape [\(t.rows), \(t.width)] vs reference [\(r.rows), \(r.width)]")
            }
            var worst: Float = 0, at = 0
            for i in t.values.indices {
                let d = abs(t.values[i] - r.values[i])
                if !(d <= worst) { worst = d.isNaN ? .infinity : d; at = i }   // NaN counts as infinitely wrong
                if worst == .infinity { break }
            }
            return TapDifference(name: t.name, maxAbs: worst, row: at / max(t.width, 1), column: at % max(t.width, 1), problem: nil)
        }
    }

    /// The first difference over `tolerance` (shape mismatches included), in tap order, or nil.
    public static func firstDivergence(_ diffs: [TapDifference], tolerance: Float = defaultTolerance) -> TapDifference? {
        diffs.first { $0.problem != "missing in reference" && !($0.maxAbs <= tolerance) }
    }
}

/// Reads and writes taps as one safetensors file (see the header of this file).
public enum ActivationFile {
    public static let fileName = "activations.safetensors"
    public static let format = "mq-activations"

    /// Writes `taps` to `url` (F32, recording order); a name recorded twice keeps its last value.
    public static func write(_ taps: [ActivationTaps.Tap], to url: URL, metadata: [String: String] = [:]) throws {
        var seen = Set<String>(), unique: [ActivationTaps.Tap] = []
        for t in taps.reversed() where seen.insert(t.name).inserted { unique.append(t) }
        unique.reverse()
        var meta = metadata
        meta["format"] = format
        meta["order"] = unique.map(\.name).joined(separator: ",")
        var header: [String: Any] = ["__metadata__": meta]
        var offset = 0
        for t in unique {
            let bytes = t.values.count * 4
            header[t.name] = ["dtype": "F32", "shape": [t.rows, t.width], "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }   // keep the data 8-byte aligned
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for t in unique {
            t.values.withUnsafeBufferPointer { b in
                for v in b { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            }
        }
        try out.write(to: url)
    }

    /// The taps in `url`, in the file's recorded order (by name if it has none). Every tensor must be
    /// 2-D F32.
    public static func read(_ url: URL) throws -> [ActivationTaps.Tap] {
        let file = try SafetensorsFile(path: url.path)
        var order: [String] = []
        let m = file.mapping
        let n = Int(UInt64(littleEndian: m.base.loadUnaligned(as: UInt64.self)))
        if let meta = try? JSONValue.parse(Data(bytes: m.base + 8, count: n))["__metadata__"]?["order"]?.stringValue {
            order = meta.split(separator: ",").map(String.init).filter { file.tensors[$0] != nil }
        }
        let rest = file.tensors.keys.filter { !order.contains($0) }.sorted()
        return try (order + rest).map { name in
            let info = file.tensors[name]!
            guard info.dtypeName == "F32", info.shape.count == 2 else {
                throw CheckpointError.badTensorEntry(file: url.path, tensor: name,
                                                     reason: "activation taps are 2-D F32, found \(info.dtypeName) \(info.shape)")
            }
            let base = m.base + info.fileRange.lowerBound
            let values = (0..<info.elementCount).map { base.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
            return ActivationTaps.Tap(name: name, rows: info.shape[0], width: info.shape[1], values: values)
        }
    }
}
