// Golden tests: every case that `tokenizers` encoded and decoded for the fixture tokenizer.json files
// (StarCoder-style, pairs + ignore_merges, Falcon-style, added-token flags, pipeline variants).

import Foundation
import XCTest
@testable import MQTokenizer

final class ReferenceFixtureTests: XCTestCase {
    private func checkFixture(_ name: String) throws {
        let tokenizer = try Tokenizer(contentsOf: Fixtures.url("\(name).json"))
        let expect = try Fixtures.json("\(name).cases.json")
        XCTAssertEqual(tokenizer.vocabSize, expect["vocab_size"] as? Int, "\(name) vocabSize")
        if let probes = expect["probes"] as? [String: Any] {
            for (token, id) in probes["token_to_id"] as? [String: Any] ?? [:] {
                XCTAssertEqual(tokenizer.id(forToken: token), id as? Int, "\(name) id(forToken: \(token.debugDescription))")
            }
            for pair in probes["id_to_token"] as? [[Any]] ?? [] {
                guard let id = pair[0] as? Int else { continue }
                let got = tokenizer.token(forId: id)
                XCTAssertEqual(got.map(scalars), (pair[1] as? String).map(scalars), "\(name) token(forId: \(id))")
            }
        }
        let cases = expect["cases"] as? [[String: Any]] ?? []
        XCTAssertGreaterThan(cases.count, 40)
        let counts = checkCases(tokenizer, cases, label: name)
        XCTAssertEqual(counts.failed, 0)
        let decodeCounts = checkCases(tokenizer, expect["decode_cases"] as? [[String: Any]] ?? [], label: "\(name) decode")
        XCTAssertEqual(decodeCounts.failed, 0)
    }

    func testStarCoder() throws { try checkFixture("starcoder") }
    func testStarCoderPairsWithIgnoreMerges() throws { try checkFixture("starcoder_pairs") }
    func testFalcon() throws { try checkFixture("falcon") }
    func testAddedTokenFlags() throws { try checkFixture("added") }

    /// Pre-tokenizers, normalizers, decoders, post-processors and BPE options, each as a patch over
    /// starcoder.json or a whole tokenizer.json.
    func testPipelineVariants() throws {
        let variants = try Fixtures.value("variants.json")
        guard case let .string(baseName)? = member(variants, "base"), case let .array(list)? = member(variants, "variants"),
              case let .object(baseEntries) = try Fixtures.value(baseName) else {
            return XCTFail("variants.json: unexpected layout")
        }
        var failed = 0, total = 0
        for variant in list {
            let name = (member(variant, "name").map(toAny) as? String) ?? "?"
            var json: JSONValue
            if let whole = member(variant, "tokenizer") {
                json = whole
            } else {
                var entries = baseEntries
                if case let .object(patch)? = member(variant, "patch") {
                    for (k, v) in patch {
                        if let i = entries.firstIndex(where: { $0.key == k }) { entries[i].value = v } else { entries.append((k, v)) }
                    }
                }
                json = .object(entries)
            }
            var text = ""
            serialize(json, into: &text)
            let tokenizer: Tokenizer
            do {
                tokenizer = try Tokenizer(data: Data(text.utf8), source: "variant \(name)")
            } catch {
                XCTFail("variant \(name): \(error)")
                failed += 1
                continue
            }
            let cases = member(variant, "cases").map(toAny) as? [[String: Any]] ?? []
            let counts = checkCases(tokenizer, cases, label: "variant \(name)")
            failed += counts.failed
            total += counts.passed + counts.failed
        }
        XCTAssertGreaterThan(total, 1000)
        XCTAssertEqual(failed, 0)
    }

    /// ~100 KB of code through StarCoder- and Falcon-style tokenizers; prints throughput (no timing assert).
    func testLongSampleAndThroughput() throws {
        let text = try String(contentsOf: Fixtures.url("sample_code.py"), encoding: .utf8)
        for name in ["starcoder", "falcon"] {
            let tokenizer = try Tokenizer(contentsOf: Fixtures.url("\(name).json"))
            let expected = ints((try Fixtures.json("\(name).cases.json")["sample"] as? [String: Any])?["ids"])
            let t0 = Date()
            let ids = tokenizer.encode(text)
            let cold = Date().timeIntervalSince(t0)
            let t1 = Date()
            let again = tokenizer.encode(text)
            let warm = Date().timeIntervalSince(t1)
            XCTAssertEqual(ids.count, expected.count, "\(name) sample token count")
            XCTAssertTrue(ids == expected, "\(name) sample ids differ from tokenizers")
            XCTAssertTrue(again == ids)
            let t2 = Date()
            let decoded = tokenizer.decode(ids)
            let decodeTime = Date().timeIntervalSince(t2)
            XCTAssertTrue(scalars(decoded) == scalars(text), "\(name) sample round trip")
            print(String(format: "%@: %d bytes -> %d tokens; encode cold %.0f tok/s, warm cache %.0f tok/s; decode %.0f tok/s",
                         name, text.utf8.count, ids.count, Double(ids.count) / cold, Double(ids.count) / warm,
                         Double(ids.count) / decodeTime))
        }
    }
}
