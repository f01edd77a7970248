// Load errors (they must name the file and JSON path), decoding edge cases, and the streaming decoder.

import Foundation
import XCTest
@testable import MQTokenizer

final class LoadingAndStreamingTests: XCTestCase {
    /// A tiny valid tokenizer.json; tests edit it to make it invalid in one place.
    private func tinyJSON(preTokenizer: String = #"{"type": "ByteLevel", "add_prefix_space": false}"#,
                          model: String? = nil, extra: String = "") -> String {
        let m = model ?? #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3}, "merges": ["a b"]}"#
        return """
        {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
         "pre_tokenizer": \(preTokenizer), "post_processor": null,
         "decoder": {"type": "ByteLevel"}, \(extra) "model": \(m)}
        """
    }

    private func loadError(_ json: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try Tokenizer(data: Data(json.utf8), source: "tokenizer.json")
            XCTFail("expected an error", file: file, line: line)
            return ""
        } catch {
            return "\(error)"
        }
    }

    func testTinyTokenizerLoads() throws {
        let t = try Tokenizer(data: Data(tinyJSON().utf8), source: "tokenizer.json")
        XCTAssertEqual(t.encode("ab a b"), [2, 3, 0, 3, 1])
        XCTAssertEqual(t.decode([2, 3, 0]), "ab a")
        XCTAssertEqual(t.vocabSize, 4)
        XCTAssertEqual(t.id(forToken: "ab"), 2)
        XCTAssertEqual(t.token(forId: 3), "Ġ")
        XCTAssertNil(t.token(forId: 99))
        XCTAssertEqual(t.encode("abc"), [2], "characters missing from the vocabulary (no unk_token) are dropped")
    }

    /// Found by probing fuzz-tokenizer-json (Fuzz/Corpus/tokenizer-json/regression-merged-id-above-int32):
    /// a merge producing an id of 2^31 or more trapped while encoding; ids go up to UInt32.max.
    func testMergedIdsAboveInt32Max() throws {
        for id in [2_147_483_648, 3_000_000_000, 4_294_967_295] {
            let model = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": \#(id), "Ġ": 3}, "merges": ["a b"]}"#
            let t = try Tokenizer(data: Data(tinyJSON(model: model).utf8), source: "tokenizer.json")
            XCTAssertEqual(t.encode("ab a"), [id, 3, 0])
            XCTAssertEqual(t.decode([id]), "ab")
        }
    }

    func testMalformedJSONNamesFileAndPosition() {
        let e = loadError("{\"model\": {\"type\": \"BPE\",\n \"vocab\": {\"a\" 0}}}")
        XCTAssertTrue(e.hasPrefix("tokenizer.json: malformed JSON at line 2, column 16"), e)
        XCTAssertTrue(loadError("").contains("malformed JSON"))
        XCTAssertTrue(loadError("[1, 2]").contains("expected an object"))
        XCTAssertTrue(loadError("{\"model\": \"\\ud800\"}").contains("lone surrogate"))
    }

    func testBadMergeNamesItsIndex() {
        let model = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", "a b c"]}"#
        XCTAssertEqual(loadError(tinyJSON(model: model)), #"tokenizer.json: model.merges[1]: expected "a b" or [a, b]"#)
        let pairs = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"], ["a"]]}"#
        XCTAssertEqual(loadError(tinyJSON(model: pairs)), #"tokenizer.json: model.merges[1]: expected "a b" or [a, b]"#)
        let unknown = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a z"]}"#
        XCTAssertTrue(loadError(tinyJSON(model: unknown)).hasPrefix("tokenizer.json: model.merges[0]: merge token \"z\""))
        let badId = #"{"type": "BPE", "vocab": {"a": -1}, "merges": []}"#
        XCTAssertTrue(loadError(tinyJSON(model: badId)).hasPrefix("tokenizer.json: model.vocab.a: expected a token id"))
    }

    func testUnsupportedComponentsNameTypeAndPath() {
        let pre = #"{"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "Metaspace", "replacement": "▁"}]}"#
        XCTAssertEqual(loadError(tinyJSON(preTokenizer: pre)),
                       #"tokenizer.json: pre_tokenizer.pretokenizers[1]: unsupported pre-tokenizer type "Metaspace""#)
        XCTAssertEqual(loadError(tinyJSON(model: #"{"type": "WordPiece", "vocab": {}}"#)),
                       #"tokenizer.json: model: unsupported model type "WordPiece" (only BPE is implemented)"#)
        XCTAssertTrue(loadError(tinyJSON(extra: #""normalizer": {"type": "Precompiled"},"#)).contains("normalizer: unsupported normalizer type \"Precompiled\""))
        XCTAssertTrue(loadError(tinyJSON(extra: #""decoder": {"type": "WordPiece"},"#)).contains("decoder: unsupported decoder type \"WordPiece\""))
        XCTAssertTrue(loadError(tinyJSON(extra: #""truncation": {"max_length": 5},"#)).hasPrefix("tokenizer.json: truncation: unsupported truncation"))
        XCTAssertTrue(loadError(tinyJSON(preTokenizer: #"{"type": "Split", "pattern": {"Regex": "("}, "behavior": "Isolated"}"#))
            .hasPrefix("tokenizer.json: pre_tokenizer.pattern.Regex: cannot compile regex"))
        XCTAssertTrue(loadError(#"{"added_tokens": []}"#).hasPrefix("tokenizer.json: model: missing"))
    }

    func testUnreadableFileNamesPath() {
        let url = URL(fileURLWithPath: "/nonexistent/dir/tokenizer.json")
        XCTAssertThrowsError(try Tokenizer(contentsOf: url)) { error in
            XCTAssertTrue("\(error)".hasPrefix("/nonexistent/dir/tokenizer.json: cannot read"), "\(error)")
        }
    }

    func testDecodeSkipsIdsOutOfRange() throws {
        let t = try Tokenizer(contentsOf: Fixtures.url("starcoder.json"))
        let ids = t.encode("hello")
        XCTAssertEqual(t.decode([-5] + ids + [1 << 40, t.vocabSize + 10]), "hello")
        XCTAssertEqual(t.decodeBytes(ids), Array("hello".utf8))
    }

    /// Byte tokens of one emoji fed one by one: nothing comes out until the character is complete,
    /// and a character cut short comes out as U+FFFD only at finish.
    func testStreamingNeverSplitsACharacter() throws {
        let t = try Tokenizer(contentsOf: Fixtures.url("starcoder.json"))
        let byteIds = Array("😀".utf8).map { t.id(forToken: String(Character(ByteLevel.byteToScalar[Int($0)])))! }
        var d = StreamingDecoder(tokenizer: t)
        XCTAssertEqual(d.push(byteIds[0]), "")
        XCTAssertEqual(d.push(byteIds[1]), "")
        XCTAssertEqual(d.push(byteIds[2]), "")
        XCTAssertEqual(d.push(byteIds[3]), "😀")
        XCTAssertEqual(d.push(byteIds[0]), "")
        XCTAssertEqual(d.push(byteIds[1]), "")
        XCTAssertEqual(d.finish(), "\u{FFFD}")
        var e = StreamingDecoder(tokenizer: t)
        XCTAssertEqual(e.push(byteIds[0]), "")
        XCTAssertEqual(e.push(t.id(forToken: "a")!), "\u{FFFD}a", "an invalid sequence is emitted as soon as it is known")
        XCTAssertEqual(e.finish(), "")
    }

    /// Streaming the ~100 KB sample token by token reproduces decode exactly.
    func testStreamingLongTextEqualsDecode() throws {
        let text = try String(contentsOf: Fixtures.url("sample_code.py"), encoding: .utf8)
        for name in ["starcoder", "falcon"] {
            let t = try Tokenizer(contentsOf: Fixtures.url("\(name).json"))
            let ids = t.encode(text)
            var d = StreamingDecoder(tokenizer: t)
            var out = ""
            for id in ids { out += d.push(id) }
            out += d.finish()
            XCTAssertTrue(scalars(out) == scalars(t.decode(ids)), name)
        }
    }

    /// Encoding from several threads at once gives the same ids (the word cache is shared).
    func testConcurrentEncoding() throws {
        let t = try Tokenizer(contentsOf: Fixtures.url("falcon.json"))
        let text = "def f(x):\n    return x * 12345 + 'naïve 東京'\n"
        let expected = t.encode(text)
        let results = UnsafeSendableBox([[Int]](repeating: [], count: 8))
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let ids = t.encode(String(repeating: text, count: 20 + i))
            results.lock.lock()
            results.value[i] = ids
            results.lock.unlock()
        }
        for (i, ids) in results.value.enumerated() {
            XCTAssertEqual(ids.count, expected.count * (20 + i))
            XCTAssertEqual(Array(ids.prefix(expected.count)), expected)
        }
    }
}

/// A value guarded by its lock, for collecting results from concurrentPerform.
final class UnsafeSendableBox<T>: @unchecked Sendable {
    // Safety: `value` is only mutated while holding `lock`, and read after the threads joined.
    let lock = NSLock()
    var value: T
    init(_ value: T) { self.value = value }
}
