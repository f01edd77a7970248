// Loading the tokenizers-generated fixtures (tools/make_tokenizer_fixtures.py) and checking a
// tokenizer against their reference ids and texts.

import Foundation
import XCTest
@testable import MQTokenizer

enum Fixtures {
    /// Tests/Fixtures/tokenizers, found by walking up from this file.
    static let directory: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("Fixtures/tokenizers")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/tokenizers").standardizedFileURL
    }()

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// Parsed with MQTokenizer's own JSON reader: Foundation's drops a leading U+FEFF from strings
    /// and merges canonically equivalent keys, and these files must be read byte-exact.
    static func value(_ name: String) throws -> JSONValue {
        try JSONParser.parse([UInt8](try Data(contentsOf: url(name))), source: name)
    }

    static func json(_ name: String) throws -> [String: Any] {
        toAny(try value(name)) as? [String: Any] ?? [:]
    }
}

/// JSONValue -> Foundation-style values for convenient reading in tests.
func toAny(_ v: JSONValue) -> Any {
    switch v {
    case .null: return NSNull()
    case let .bool(b): return b
    case let .integer(i): return i
    case let .double(d): return d
    case let .string(s): return s
    case let .array(a): return a.map(toAny)
    case let .object(entries):
        var d: [String: Any] = [:]
        for (k, x) in entries { d[k] = toAny(x) }
        return d
    }
}

/// The entry `key` of a JSON object value.
func member(_ v: JSONValue, _ key: String) -> JSONValue? {
    guard case let .object(entries) = v else { return nil }
    return entries.last(where: { $0.key.utf8.elementsEqual(key.utf8) })?.value
}

/// Serializes a JSONValue (strings written as escaped ASCII-safe JSON, byte-exact).
func serialize(_ v: JSONValue, into out: inout String) {
    switch v {
    case .null: out += "null"
    case let .bool(b): out += b ? "true" : "false"
    case let .integer(i): out += String(i)
    case let .double(d): out += String(d)
    case let .string(s):
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    case let .array(a):
        out += "["
        for (i, x) in a.enumerated() { if i > 0 { out += "," }; serialize(x, into: &out) }
        out += "]"
    case let .object(entries):
        out += "{"
        for (i, e) in entries.enumerated() {
            if i > 0 { out += "," }
            serialize(.string(e.key), into: &out)
            out += ":"
            serialize(e.value, into: &out)
        }
        out += "}"
    }
}

/// Scalar-exact string comparison (Swift `==` treats canonically equivalent strings as equal).
func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }

func ints(_ any: Any?) -> [Int] { (any as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.intValue ?? ($0 as? Int) } }

/// Streams `ids` through a StreamingDecoder and checks each delta ends on a character boundary.
func streamed(_ tokenizer: Tokenizer, _ ids: [Int], skip: Bool) -> String {
    var decoder = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: skip)
    var text = ""
    for id in ids { text += decoder.push(id) }
    return text + decoder.finish()
}

struct CaseCounts {
    var passed = 0
    var failed = 0
}

/// Checks encode, decode (both skip settings) and streaming for each case; reports the first few
/// failures in full. Returns the number of cases checked.
@discardableResult
func checkCases(_ tokenizer: Tokenizer, _ cases: [[String: Any]], label: String,
                file: StaticString = #filePath, line: UInt = #line) -> CaseCounts {
    var counts = CaseCounts()
    for (i, c) in cases.enumerated() {
        let expectedIds = ints(c["ids"])
        var ok = true
        if let text = c["text"] as? String {
            let ids = tokenizer.encode(text)
            if ids != expectedIds {
                ok = false
                if counts.failed < 5 {
                    XCTFail("\(label) case \(i) encode \(text.debugDescription):\n got      \(ids)\n expected \(expectedIds)", file: file, line: line)
                }
            }
        }
        for (key, skip) in [("decoded", false), ("decoded_skip", true)] {
            guard let expected = c[key] as? String else { continue }
            let got = tokenizer.decode(expectedIds, skipSpecialTokens: skip)
            if scalars(got) != scalars(expected) {
                ok = false
                if counts.failed < 5 {
                    XCTFail("\(label) case \(i) decode(skip: \(skip)) \(expectedIds):\n got      \(got.debugDescription)\n expected \(expected.debugDescription)", file: file, line: line)
                }
            }
            let s = streamed(tokenizer, expectedIds, skip: skip)
            if scalars(s) != scalars(expected) {
                ok = false
                if counts.failed < 5 {
                    XCTFail("\(label) case \(i) streaming(skip: \(skip)) \(expectedIds):\n got      \(s.debugDescription)\n expected \(expected.debugDescription)", file: file, line: line)
                }
            }
        }
        if ok { counts.passed += 1 } else { counts.failed += 1 }
    }
    print("\(label): \(counts.passed) passed, \(counts.failed) failed")
    return counts
}
