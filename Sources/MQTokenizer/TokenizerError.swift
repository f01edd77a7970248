// Errors raised while loading a tokenizer.json. Each names the file and the JSON path that failed,
// e.g. `tokenizer.json: model.merges[12]: expected "a b" or [a, b]`.

public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read.
    case unreadable(source: String, reason: String)
    /// The bytes are not JSON (or not UTF-8); `line`/`column` are 1-based.
    case malformedJSON(source: String, line: Int, column: Int, reason: String)
    /// A value has the wrong shape or an impossible value.
    case invalidValue(source: String, path: String, reason: String)
    /// A component type (or option) this implementation does not provide.
    case unsupported(source: String, path: String, what: String)

    public var description: String {
        switch self {
        case let .unreadable(source, reason):
            return "\(source): cannot read: \(reason)"
        case let .malformedJSON(source, line, column, reason):
            return "\(source): malformed JSON at line \(line), column \(column): \(reason)"
        case let .invalidValue(source, path, reason):
            return "\(source): \(path.isEmpty ? "<root>" : path): \(reason)"
        case let .unsupported(source, path, what):
            return "\(source): \(path.isEmpty ? "<root>" : path): unsupported \(what)"
        }
    }
}
