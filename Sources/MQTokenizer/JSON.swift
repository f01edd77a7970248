// A small JSON reader for tokenizer.json, plus a cursor that remembers the JSON path for errors.
//
// Why not JSONSerialization: Swift `String` equality (and so `[String: Any]` keys) uses canonical
// equivalence, which would merge vocabulary entries such as "é" and "e\u{301}". This parser keeps
// every string byte-exact, keeps object entries in file order (duplicates included), and reports
// line and column on syntax errors.

enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Entries in file order.
    case object([(key: String, value: JSONValue)])

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// Parses UTF-8 JSON bytes. Throws `TokenizerError.malformedJSON` naming `source`.
struct JSONParser {
    /// Nesting deeper than this is rejected rather than risking the stack.
    static let maxDepth = 512

    private let bytes: [UInt8]
    private let source: String
    private var pos = 0

    static func parse(_ bytes: [UInt8], source: String) throws -> JSONValue {
        var parser = JSONParser(bytes: bytes, source: source)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.pos != bytes.count { throw parser.error("unexpected data after the top-level value") }
        return value
    }

    private init(bytes: [UInt8], source: String) {
        self.bytes = bytes
        self.source = source
    }

    private func error(_ reason: String) -> TokenizerError {
        var line = 1, column = 1
        for b in bytes[0..<min(pos, bytes.count)] {
            if b == UInt8(ascii: "\n") { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return .malformedJSON(source: source, line: line, column: column, reason: reason)
    }

    private mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth < JSONParser.maxDepth else { throw error("nesting deeper than \(JSONParser.maxDepth)") }
        guard pos < bytes.count else { throw error("unexpected end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral(Array("true".utf8)); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral(Array("false".utf8)); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral(Array("null".utf8)); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character")
        }
    }

    private mutating func expectLiteral(_ word: [UInt8]) throws {
        guard pos + word.count <= bytes.count, bytes[pos..<pos + word.count].elementsEqual(word) else {
            throw error("invalid literal")
        }
        pos += word.count
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        pos += 1
        var entries: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(entries) }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':'") }
            pos += 1
            skipWhitespace()
            let value = try parseValue(depth: depth + 1)
            entries.append((key, value))
            skipWhitespace()
            guard pos < bytes.count else { throw error("unexpected end of input in an object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(entries) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        pos += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard pos < bytes.count else { throw error("unexpected end of input in an array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func skipDigits() -> Int {
        let s = pos
        while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 { pos += 1 }
        return pos - s
    }

    private mutating func parseNumber() throws -> JSONValue {
        let start = pos
        var isInteger = true
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard skipDigits() > 0 else { throw error("invalid number") }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            isInteger = false
            guard skipDigits() > 0 else { throw error("invalid number") }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            pos += 1
            isInteger = false
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard skipDigits() > 0 else { throw error("invalid number") }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if isInteger, let v = Int(text) { return .integer(v) }
        guard let d = Double(text) else { throw error("invalid number") }
        return .double(d)
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    private mutating func parseString() throws -> String {
        pos += 1  // opening quote
        var out: [UInt8] = []
        var runStart = pos
        while true {
            guard pos < bytes.count else { throw error("unterminated string") }
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") {
                out.append(contentsOf: bytes[runStart..<pos])
                pos += 1
                break
            }
            if c < 0x20 { throw error("control character in a string") }
            if c != UInt8(ascii: "\\") { pos += 1; continue }
            out.append(contentsOf: bytes[runStart..<pos])
            pos += 1
            guard pos < bytes.count else { throw error("unterminated escape") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xD800..<0xDC00).contains(code) {
                    guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw error("lone surrogate in \\u escape")
                    }
                    pos += 2
                    let low = try parseHex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("lone surrogate in \\u escape") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(code) {
                    throw error("lone surrogate in \\u escape")
                }
                guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                out.append(contentsOf: UTF8.encode(scalar)!)
            default:
                throw error("invalid escape")
            }
            runStart = pos
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
        return s
    }
}

/// A JSON value with its path, so every accessor can throw an error naming where it failed.
struct JSONCursor {
    let value: JSONValue
    let path: String
    let source: String

    func invalid(_ reason: String) -> TokenizerError {
        .invalidValue(source: source, path: path, reason: reason)
    }

    func unsupported(_ what: String) -> TokenizerError {
        .unsupported(source: source, path: path, what: what)
    }

    var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    private func childPath(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    func objectEntries() throws -> [(key: String, value: JSONCursor)] {
        guard case let .object(entries) = value else { throw invalid("expected an object, found \(value.typeName)") }
        return entries.map { ($0.key, JSONCursor(value: $0.value, path: childPath($0.key), source: source)) }
    }

    /// The field's cursor, or nil when the key is absent (the last duplicate wins, as in serde_json).
    /// Keys are compared byte for byte, not by canonical equivalence.
    func field(_ key: String) throws -> JSONCursor? {
        guard case let .object(entries) = value else { throw invalid("expected an object, found \(value.typeName)") }
        guard let entry = entries.last(where: { $0.key.utf8.elementsEqual(key.utf8) }) else { return nil }
        return JSONCursor(value: entry.value, path: childPath(key), source: source)
    }

    /// The field, or nil when absent or null.
    func optionalField(_ key: String) throws -> JSONCursor? {
        guard let f = try field(key), !f.isNull else { return nil }
        return f
    }

    func requiredField(_ key: String) throws -> JSONCursor {
        guard let f = try field(key) else {
            throw TokenizerError.invalidValue(source: source, path: childPath(key), reason: "missing")
        }
        return f
    }

    func array() throws -> [JSONCursor] {
        guard case let .array(items) = value else { throw invalid("expected an array, found \(value.typeName)") }
        return items.enumerated().map { JSONCursor(value: $0.element, path: "\(path)[\($0.offset)]", source: source) }
    }

    func string() throws -> String {
        guard case let .string(s) = value else { throw invalid("expected a string, found \(value.typeName)") }
        return s
    }

    func bool() throws -> Bool {
        guard case let .bool(b) = value else { throw invalid("expected a boolean, found \(value.typeName)") }
        return b
    }

    /// A non-negative integer that fits a token id (u32 in tokenizers).
    func tokenId() throws -> Int {
        guard case let .integer(i) = value, i >= 0, i <= Int(UInt32.max) else {
            throw invalid("expected a token id (an integer from 0 to \(UInt32.max)), found \(value.typeName)")
        }
        return i
    }

    func integer() throws -> Int {
        guard case let .integer(i) = value else { throw invalid("expected an integer, found \(value.typeName)") }
        return i
    }

    func number() throws -> Double {
        switch value {
        case let .integer(i): return Double(i)
        case let .double(d): return d
        default: throw invalid("expected a number, found \(value.typeName)")
        }
    }

    /// Boolean field with a default when absent or null (serde's `#[serde(default)]`).
    func bool(_ key: String, default def: Bool) throws -> Bool {
        guard let f = try optionalField(key) else { return def }
        return try f.bool()
    }

    /// The component's "type" tag, if present.
    func typeTag() throws -> String? {
        guard let t = try optionalField("type") else { return nil }
        return try t.string()
    }
}
