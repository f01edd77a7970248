// Locating and reading the golden fixtures made by tools/make_fixtures.py.
import Foundation
import MQCheckpoint

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
