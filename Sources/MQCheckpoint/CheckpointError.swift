// Errors from reading a model folder. Each names the file and, where there is one, the tensor or key.

public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case unreadable(path: String, reason: String)
    case badConfig(file: String, key: String?, reason: String)
    case badIndex(file: String, reason: String)
    case badHeader(file: String, reason: String)
    case badTensorEntry(file: String, tensor: String, reason: String)
    case truncated(file: String, tensor: String, needBytes: Int, fileBytes: Int)
    case missingTensor(name: String, directory: String)
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case unsupportedModel(file: String, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let p): return "\(p): file not found"
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .badConfig(let f, let k, let r): return "\(f): \(k.map { "key \"\($0)\": " } ?? "")\(r)"
        case .badIndex(let f, let r): return "\(f): bad shard index: \(r)"
        case .badHeader(let f, let r): return "\(f): corrupt safetensors header: \(r)"
        case .badTensorEntry(let f, let t, let r): return "\(f): tensor \(t): \(r)"
        case .truncated(let f, let t, let need, let have):
            return "\(f): truncated: tensor \(t) needs bytes up to \(need) but the file has \(have)"
        case .missingTensor(let n, let d): return "\(d): tensor \(n) not found in any weight file"
        case .shapeMismatch(let f, let t, let e, let g): return "\(f): tensor \(t): expected shape \(e), found \(g)"
        case .unsupportedDType(let f, let t, let d):
            return "\(f): tensor \(t): unsupported dtype \(d) (mq reads F32, F16 and BF16)"
        case .unsupportedModel(let f, let r): return "\(f): \(r)"
        }
    }
}
