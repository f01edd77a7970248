// Locating and reading the golden fixtures made by tools/make_fixtures.py, and running models over
// them (GoldenRun: the harness GoldenTests, FalconGoldenTests and SantaCoderTests share).
import Foundation
import MQCheckpoint
import MQKernels
import MQModel
import XCTest

enum Fixtures {
    /// Tests/Fixtures, found from this source file's path.
    static let root: URL = {
        var u = URL(fileURLWithPath: #filePath)
        while u.path != "/" {
            u.deleteLastPathComponent()
            let f = u.appendingPathComponent("Fixtures")
            if u.lastPathComponent == "Tests", FileManager.default.fileExists(atPath: f.path) { return f }
        }
        fatalError("Tests/Fixtures not found above \(#filePath)")
    }()

    static func model(_ name: String) -> URL { root.appendingPathComponent("models").appendingPathComponent(name) }

    struct Case: Decodable {
        var prompt_ids: [Int]
        var logits: [[Float]]
        var greedy_ids: [Int]
        var greedy_logprobs: [Double]
    }
    struct Reference: Decodable { var model: String; var cases: [Case] }

    static func reference(_ name: String) throws -> Reference {
        let data = try Data(contentsOf: model(name).appendingPathComponent("reference.json"))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    static let allModels = ["mqa", "mha", "mqa-sharded-f16", "mha-bf16"]
}

/// Natural-log softmax of one entry, in Double.
func logSoftmax(_ logits: UnsafeBufferPointer<Float>, _ i: Int) -> Double {
    let m = Double(logits.max()!)
    let s = logits.reduce(0.0) { $0 + exp(Double($1) - m) }
    return Double(logits[i]) - m - log(s)
}

/// Runs a model over a fixture's cases: prompt logits, greedy continuations, staged pipelines.
enum GoldenRun {
    static let tolerance: Float = 1e-4   // why 1e-4: see GoldenTests.swift

    /// Logits [T · V] of every position of `ids`, in one prefill step.
    static func promptLogits(_ model: any DecoderModel, _ ids: [Int]) throws -> [Float] {
        let V = model.shape.vocabSize, E = model.shape.hiddenSize, T = ids.count
        let cache = try KVCache(layers: model.layerRange, kvDim: model.shape.kvHeads * model.shape.headDim, blocks: 16)
        try cache.reserve(sequence: 1, positions: T)
        let toks = ids.enumerated().map { StepToken(sequence: 1, position: $0.offset, token: $0.element) }
        var hidden = [Float](repeating: 0, count: T * E)
        var logits = [Float](repeating: 0, count: T * V)
        try hidden.withUnsafeMutableBufferPointer { h in
            try model.embed(toks, into: h.baseAddress!)
            try model.forward(toks, hidden: h.baseAddress!, cache: cache)
            try logits.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: Array(0..<T), into: $0.baseAddress!) }
        }
        return logits
    }

    /// Prefill, then one token per step against the cache; greedy ids and their log probabilities.
    static func greedy(_ model: any DecoderModel, prompt: [Int], count: Int) throws -> ([Int], [Double]) {
        let V = model.shape.vocabSize, E = model.shape.hiddenSize
        let cache = try KVCache(layers: model.layerRange, kvDim: model.shape.kvHeads * model.shape.headDim, blocks: 16)
        try cache.reserve(sequence: 7, positions: prompt.count + count)
        var hidden = [Float](repeating: 0, count: prompt.count * E)
        var logits = [Float](repeating: 0, count: V)
        var toks = prompt.enumerated().map { StepToken(sequence: 7, position: $0.offset, token: $0.element) }
        var ids: [Int] = [], lps: [Double] = []
        for _ in 0..<count {
            try hidden.withUnsafeMutableBufferPointer { h in
                try model.embed(toks, into: h.baseAddress!)
                try model.forward(toks, hidden: h.baseAddress!, cache: cache)
                try logits.withUnsafeMutableBufferPointer { try model.logits(hidden: h.baseAddress!, rows: [toks.count - 1], into: $0.baseAddress!) }
            }
            let best = logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!
            ids.append(best)
            lps.append(logits.withUnsafeBufferPointer { logSoftmax($0, best) })
            toks = [StepToken(sequence: 7, position: toks.last!.position + 1, token: best)]
        }
        return (ids, lps)
    }

    /// Checks `model` against the reference of fixture `reference`; returns the worst logit difference.
    @discardableResult
    static func check(_ model: any DecoderModel, reference name: String, label: String? = nil,
                      file: StaticString = #filePath, line: UInt = #line) throws -> Float {
        let ref = try Fixtures.reference(name)
        let label = label ?? name
        let V = model.shape.vocabSize
        var worstOverall: Float = 0
        XCTAssertFalse(ref.cases.isEmpty, "\(label): no cases", file: file, line: line)
        for (ci, c) in ref.cases.enumerated() {
            let logits = try promptLogits(model, c.prompt_ids)
            var worst: Float = 0
            for t in 0..<c.prompt_ids.count {
                XCTAssertEqual(c.logits[t].count, V, "\(label) case \(ci): reference vocabulary", file: file, line: line)
                for v in 0..<min(V, c.logits[t].count) { worst = max(worst, abs(logits[t * V + v] - c.logits[t][v])) }
            }
            XCTAssertLessThan(worst, tolerance, "\(label) case \(ci): worst logit difference \(worst)", file: file, line: line)
            let (ids, lps) = try greedy(model, prompt: c.prompt_ids, count: c.greedy_ids.count)
            XCTAssertEqual(ids, c.greedy_ids, "\(label) case \(ci): greedy ids", file: file, line: line)
            let worstLp = zip(lps, c.greedy_logprobs).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worstLp, Double(tolerance), "\(label) case \(ci): worst logprob difference \(worstLp)", file: file, line: line)
            print("golden \(label) case \(ci): \(c.prompt_ids.count) positions, worst |Δlogit| = \(worst), worst |Δlogprob| = \(worstLp)")
            worstOverall = max(worstOverall, worst)
        }
        return worstOverall
    }

    /// Logits of the last position after feeding `chunks` of one sequence through one cache, step by step.
    static func lastLogits(_ models: [any DecoderModel], chunks: [[Int]]) throws -> [Float] {
        let shape = models[0].shape
        let E = shape.hiddenSize, V = shape.vocabSize
        let total = chunks.reduce(0) { $0 + $1.count }
        let caches = try models.map { try KVCache(layers: $0.layerRange, kvDim: shape.kvHeads * shape.headDim, blocks: 8) }
        for c in caches { try c.reserve(sequence: 3, positions: total) }
        var logits = [Float](repeating: 0, count: V)
        var pos = 0
        for chunk in chunks {
            let toks = chunk.enumerated().map { StepToken(sequence: 3, position: pos + $0.offset, token: $0.element) }
            var hidden = [Float](repeating: 0, count: toks.count * E)
            try hidden.withUnsafeMutableBufferPointer { h in
                try models.first!.embed(toks, into: h.baseAddress!)
                for (i, m) in models.enumerated() { try m.forward(toks, hidden: h.baseAddress!, cache: caches[i]) }
                try logits.withUnsafeMutableBufferPointer { try models.last!.logits(hidden: h.baseAddress!, rows: [toks.count - 1], into: $0.baseAddress!) }
            }
            pos += chunk.count
        }
        return logits
    }

    static func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }

    /// A temporary model folder holding `config` and symbolic links to another folder's other files.
    static func folder(config: [String: Any], weightsFrom source: URL) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mq-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in try FileManager.default.contentsOfDirectory(atPath: source.path) where f != "config.json" {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(f), withDestinationURL: source.appendingPathComponent(f))
        }
        let data = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])
        try data.write(to: dir.appendingPathComponent("config.json"))
        return dir
    }
}
