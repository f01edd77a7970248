// Reading model folders: config aliases, safetensors parsing and every error path named in the issue
// (missing file, corrupt or truncated header, wrong shape, unsupported dtype, bad index).
import XCTest
@testable import MQCheckpoint

final class CheckpointTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mq-ck-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Writes a safetensors file from (name, dtype, shape, raw bytes).
    func writeSafetensors(_ name: String, _ tensors: [(String, String, [Int], [UInt8])], headerOverride: String? = nil, truncateBy: Int = 0) throws {
        var entries: [String] = []
        var data: [UInt8] = []
        for (n, dt, shape, bytes) in tensors {
            entries.append("\"\(n)\":{\"dtype\":\"\(dt)\",\"shape\":\(shape),\"data_offsets\":[\(data.count),\(data.count + bytes.count)]}")
            data += bytes
        }
        var header = Array((headerOverride ?? "{" + entries.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + data
        file.removeLast(min(truncateBy, file.count))
        try Data(file).write(to: dir.appendingPathComponent(name))
    }

    func f32(_ v: [Float]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } } }

    func writeConfig(_ json: String) throws {
        try json.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
    }

    func testConfigAliasesAndDefaults() throws {
        let a = try ModelConfigFile(path: "a.json", data: Data(#"{"n_embd": 64, "n_inner": null, "eos_token_id": [0, 5]}"#.utf8))
        let b = try ModelConfigFile(path: "b.json", data: Data(#"{"hidden_size": 64}"#.utf8))
        XCTAssertEqual(try a.int("n_embd", "hidden_size"), 64)
        XCTAssertEqual(try b.int("n_embd", "hidden_size"), 64)
        XCTAssertNil(try a.optionalInt("n_inner"))
        XCTAssertEqual(try a.intList("eos_token_id"), [0, 5])
        XCTAssertThrowsError(try b.int("n_layer", "num_hidden_layers")) { e in
            XCTAssertTrue("\(e)".contains("b.json") && "\(e)".contains("n_layer"), "\(e)")
        }
        let bad = try ModelConfigFile(path: "c.json", data: Data(#"{"n_embd": "wide"}"#.utf8))
        XCTAssertThrowsError(try bad.int("n_embd")) { XCTAssertTrue("\($0)".contains("expected an integer")) }
        XCTAssertThrowsError(try ModelConfigFile(path: "d.json", data: Data("[1,2".utf8)))
    }

    func testLoadsF32F16BF16() throws {
        try writeConfig("{}")
        let f16: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00]   // 1.0, -2.0, smallest subnormal
        let bf16: [UInt8] = [0x80, 0x3F, 0x40, 0xC0]                // 1.0, -3.0
        try writeSafetensors("model.safetensors", [("a", "F32", [2], f32([1.5, -2.5])), ("b", "F16", [3], f16), ("c", "BF16", [2], bf16)])
        let ck = try Checkpoint(directory: dir)
        XCTAssertEqual((try ck.load("a", shape: [2]).values), [1.5, -2.5])
        XCTAssertEqual((try ck.load("b", shape: [3]).values), [1, -2, Float(sign: .plus, exponent: -24, significand: 1)])
        XCTAssertEqual((try ck.load("c", shape: [2]).values), [1, -3])
    }

    func testShardedIndex() throws {
        try writeConfig("{}")
        try writeSafetensors("s1.safetensors", [("x", "F32", [1], f32([3]))])
        try writeSafetensors("s2.safetensors", [("y", "F32", [1], f32([4]))])
        try #"{"metadata": {}, "weight_map": {"x": "s1.safetensors", "y": "s2.safetensors"}}"#
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        let ck = try Checkpoint(directory: dir)
        XCTAssertEqual(try ck.load("y", shape: [1]).values[0], 4)
        XCTAssertEqual(ck.weightFiles, ["s1.safetensors", "s2.safetensors"])
    }

    func testErrorsNameFileAndTensor() throws {
        try writeConfig("{}")
        // missing weights
        XCTAssertThrowsError(try Checkpoint(directory: dir)) { XCTAssertTrue("\($0)".contains("model.safetensors"), "\($0)") }
        // wrong shape, missing tensor, unsupported dtype
        try writeSafetensors("model.safetensors", [("w", "F32", [2, 2], f32([1, 2, 3, 4])), ("i", "I64", [1], [UInt8](repeating: 0, count: 8))])
        let ck = try Checkpoint(directory: dir)
        XCTAssertThrowsError(try ck.load("w", shape: [4])) { e in
            XCTAssertEqual(e as? CheckpointError, .shapeMismatch(file: self.dir.appendingPathComponent("model.safetensors").path, tensor: "w", expected: [4], found: [2, 2]))
        }
        XCTAssertThrowsError(try ck.load("nope", shape: [1])) { XCTAssertTrue("\($0)".contains("nope")) }
        XCTAssertThrowsError(try ck.load("i", shape: [1])) { XCTAssertTrue("\($0)".contains("unsupported dtype I64"), "\($0)") }
    }

    func testCorruptAndTruncatedFiles() throws {
        try writeConfig("{}")
        try writeSafetensors("model.safetensors", [("w", "F32", [4], f32([1, 2, 3, 4]))], truncateBy: 4)
        XCTAssertThrowsError(try Checkpoint(directory: dir)) { XCTAssertTrue("\($0)".contains("truncated") && "\($0)".contains("tensor w"), "\($0)") }
        try writeSafetensors("model.safetensors", [], headerOverride: "{not json")
        XCTAssertThrowsError(try Checkpoint(directory: dir)) { XCTAssertTrue("\($0)".contains("corrupt safetensors header"), "\($0)") }
        try writeSafetensors("model.safetensors", [], headerOverride: #"{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}"#)
        XCTAssertThrowsError(try Checkpoint(directory: dir)) { XCTAssertTrue("\($0)".contains("tensor w"), "\($0)") }
        // header length pointing past the end
        try Data([0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0x7B]).write(to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try Checkpoint(directory: dir)) { XCTAssertTrue("\($0)".contains("runs past the end"), "\($0)") }
        try Data([1, 2, 3]).write(to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try Checkpoint(directory: dir)) { XCTAssertTrue("\($0)".contains("shorter than"), "\($0)") }
    }

    /// Found by fuzz-safetensors-header (Fuzz/Corpus/safetensors-header/regression-header-length-above-int-max):
    /// a header length above Int.max wrapped to a negative length in the -Ounchecked build and
    /// reached Data(bytes:count:) with it.
    func testHeaderLengthAboveIntMaxIsRefused() throws {
        let file = withUnsafeBytes(of: (UInt64.max - 999).littleEndian) { Array($0) } + Array("{}".utf8)
        let error = file.withUnsafeBytes { bytes in
            Result { try SafetensorsFile.parseHeader(file: bytes, path: "x.safetensors") }
        }
        XCTAssertThrowsError(try error.get()) { e in
            XCTAssertEqual(e as? CheckpointError, .badHeader(file: "x.safetensors", reason: "header length 18446744073709550616 is implausible"))
        }
    }

    /// Fuzz/Corpus/safetensors-header/regression-shape-bytes-overflow: 2^62 + 1 F32 elements need more
    /// than Int.max bytes; unchecked, the byte count wrapped to 4 and a 4-byte range was accepted.
    func testShapeWhoseByteCountOverflowsIsRefused() throws {
        try writeConfig("{}")
        // The listed tensor only supplies the 4 data bytes after the overriding header.
        try writeSafetensors("model.safetensors", [("w", "F32", [1], [0, 0, 0, 0])],
                             headerOverride: #"{"w": {"dtype": "F32", "shape": [5, 5581, 8681, 49477, 384773], "data_offsets": [0, 4]}}"#)
        XCTAssertThrowsError(try Checkpoint(directory: dir)) { e in
            XCTAssertTrue("\(e)".contains("tensor w") && "\(e)".contains("needs more than Int.max"), "\(e)")
        }
    }

    /// JSONValue.parse keeps booleans, numbers, null, strings, arrays and objects apart as JSONDecoder did.
    func testJSONValueParsesEveryKind() throws {
        let v = try JSONValue.parse(Data(#"{"t": true, "f": false, "one": 1, "zero": 0, "x": -2.5e3, "big": 12345678901234567890, "n": null, "s": "é", "a": [1, [true]], "o": {}}"#.utf8))
        XCTAssertEqual(v, .object([
            "t": .bool(true), "f": .bool(false), "one": .number(1), "zero": .number(0), "x": .number(-2500),
            "big": .number(12345678901234567890), "n": .null, "s": .string("é"),
            "a": .array([.number(1), .array([.bool(true)])]), "o": .object([:]),
        ]))
        XCTAssertEqual(try JSONValue.parse(Data("7".utf8)), .number(7))
        XCTAssertEqual(v["one"]?.intValue, 1)
        XCTAssertNil(v["t"]?.intValue)
        XCTAssertThrowsError(try JSONValue.parse(Data("{\"a\": }".utf8)))
    }

    /// Found by probing fuzz-config-json (Fuzz/Corpus/config-json/regression-nested-arrays): 8 KB of
    /// arrays nested 500 deep took 5.5 s through JSONDecoder, time growing with depth x size; parsed
    /// in linear time now, and nesting beyond 512 is refused.
    func testDeeplyNestedJSONParsesQuickly() throws {
        let nested = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        let text = "{\"a\": [" + Array(repeating: nested, count: 8).joined(separator: ",") + "]}"
        let start = Date()
        _ = try ModelConfigFile(path: "config.json", data: Data(text.utf8))
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5, "8 KB of nested arrays should parse in milliseconds")
        let tooDeep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        XCTAssertThrowsError(try ModelConfigFile(path: "config.json", data: Data(tooDeep.utf8))) { e in
            XCTAssertTrue("\(e)".contains("config.json") && "\(e)".contains("not valid JSON"), "\(e)")
        }
    }

    func testFloat16Conversion() {
        XCTAssertEqual(Float(float16Bits: 0x7C00), .infinity)
        XCTAssertEqual(Float(float16Bits: 0xFC00), -.infinity)
        XCTAssertTrue(Float(float16Bits: 0x7E00).isNaN)
        XCTAssertEqual(Float(float16Bits: 0x3555), 0.33325195)
        XCTAssertEqual(Float(float16Bits: 0x8000).sign, .minus)
        XCTAssertEqual(Float(float16Bits: 0x7BFF), 65504)
    }
}
