// A parsed JSON document (config.json, safetensors headers, index files) as a Sendable value, with
// typed accessors whose errors name the file and key.
import Foundation

public enum JSONValue: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// For a JSONValue nested in another Decodable type; `parse` is the way to read a document.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        if let o = try? c.decode([String: JSONValue].self) { self = .object(o); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a JSON value")
    }

    /// Parses JSON text (any top-level value). Errors are Foundation's, with the offset of the fault.
    ///
    /// Uses JSONSerialization, not `init(from:)`: decoding through JSONDecoder tries each type in turn
    /// and every failed try costs time proportional to the depth, so a crafted 8 KB file of nested
    /// arrays took 5.5 s (27 s under ASan; found by probing the config-json fuzz target) and a safetensors
    /// header may be 100 MB. JSONSerialization parses in linear time and refuses nesting deeper than
    /// 512, as JSONDecoder does.
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONValue(foundation: JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
    }

    /// Converts JSONSerialization's output. Booleans arrive as NSNumbers of Objective-C type "c"
    /// (char), which JSONSerialization uses for nothing else; every other number becomes a Double, as
    /// `init(from:)` decodes it. Containers are matched first: casting an array to NSNumber or NSNull
    /// bridges the whole subtree, which made nested input quadratic again.
    private init(foundation value: Any) throws {
        if let array = value as? [Any] {
            self = .array(try array.map { try JSONValue(foundation: $0) })
        } else if let object = value as? [String: Any] {
            self = .object(try object.mapValues { try JSONValue(foundation: $0) })
        } else if let string = value as? String {
            self = .string(string)
        } else if let number = value as? NSNumber {
            self = String(cString: number.objCType) == "c" ? .bool(number.boolValue) : .number(number.doubleValue)
        } else if value is NSNull {
            self = .null
        } else {
            // Not reached: JSONSerialization returns only the types above.
            throw CheckpointError.unreadable(path: "<json>", reason: "JSONSerialization returned a \(type(of: value))")
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var doubleValue: Double? { if case .number(let d) = self { return d }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var isNull: Bool { self == .null }
    /// An integral number (no fraction, within Int range).
    public var intValue: Int? {
        guard case .number(let d) = self, d.rounded() == d, abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }
}

/// `config.json` with alias-aware typed lookups. Errors name the file and the key.
public struct ModelConfigFile: Sendable {
    public let path: String
    public let root: [String: JSONValue]

    public init(path: String, data: Data) throws {
        let v: JSONValue
        do { v = try JSONValue.parse(data) } catch {
            throw CheckpointError.badConfig(file: path, key: nil, reason: "not valid JSON: \(error)")
        }
        guard let o = v.objectValue else {
            throw CheckpointError.badConfig(file: path, key: nil, reason: "top level is not a JSON object")
        }
        self.path = path
        self.root = o
    }

    public init(contentsOf url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CheckpointError.missingFile(path: url.path)
        }
        try self.init(path: url.path, data: data)
    }

    /// The first of `keys` present and not null.
    func lookup(_ keys: [String]) -> (String, JSONValue)? {
        for k in keys { if let v = root[k], !v.isNull { return (k, v) } }
        return nil
    }

    public func has(_ keys: String...) -> Bool { lookup(keys) != nil }

    public func int(_ keys: String..., default def: Int? = nil) throws -> Int {
        guard let (k, v) = lookup(keys) else {
            if let def { return def }
            throw CheckpointError.badConfig(file: path, key: keys.joined(separator: "/"), reason: "missing")
        }
        guard let i = v.intValue else {
            throw CheckpointError.badConfig(file: path, key: k, reason: "expected an integer, found \(v)")
        }
        return i
    }

    public func optionalInt(_ keys: String...) throws -> Int? {
        guard let (k, v) = lookup(keys) else { return nil }
        guard let i = v.intValue else {
            throw CheckpointError.badConfig(file: path, key: k, reason: "expected an integer, found \(v)")
        }
        return i
    }

    public func double(_ keys: String..., default def: Double? = nil) throws -> Double {
        guard let (k, v) = lookup(keys) else {
            if let def { return def }
            throw CheckpointError.badConfig(file: path, key: keys.joined(separator: "/"), reason: "missing")
        }
        guard let d = v.doubleValue else {
            throw CheckpointError.badConfig(file: path, key: k, reason: "expected a number, found \(v)")
        }
        return d
    }

    public func bool(_ keys: String..., default def: Bool? = nil) throws -> Bool {
        guard let (k, v) = lookup(keys) else {
            if let def { return def }
            throw CheckpointError.badConfig(file: path, key: keys.joined(separator: "/"), reason: "missing")
        }
        guard let b = v.boolValue else {
            throw CheckpointError.badConfig(file: path, key: k, reason: "expected true or false, found \(v)")
        }
        return b
    }

    public func string(_ keys: String..., default def: String? = nil) throws -> String {
        guard let (k, v) = lookup(keys) else {
            if let def { return def }
            throw CheckpointError.badConfig(file: path, key: keys.joined(separator: "/"), reason: "missing")
        }
        guard let s = v.stringValue else {
            throw CheckpointError.badConfig(file: path, key: k, reason: "expected a string, found \(v)")
        }
        return s
    }

    /// Integer or list of integers (e.g. `eos_token_id`).
    public func intList(_ keys: String...) throws -> [Int] {
        guard let (k, v) = lookup(keys) else { return [] }
        if let i = v.intValue { return [i] }
        if let a = v.arrayValue {
            return try a.map {
                guard let i = $0.intValue else {
                    throw CheckpointError.badConfig(file: path, key: k, reason: "expected integers, found \($0)")
                }
                return i
            }
        }
        throw CheckpointError.badConfig(file: path, key: k, reason: "expected an integer or a list of integers")
    }
}
