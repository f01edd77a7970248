// The Split regex engine against Oniguruma (pieces recorded from tokenizers' Split pre-tokenizer),
// and the hand-written GPT-2 scanner against the same pattern run through the regex engine.

import Foundation
import XCTest
@testable import MQTokenizer

final class RegexAndScannerTests: XCTestCase {
    /// Patterns the scalar engine leaves to Swift Regex (checked for compiling, not for exactness).
    private let fallbackPatterns: Set<String> = [#"[\p{L}&&[^a]]"#, #"\p{Han}+"#]

    func testSplitRegexMatchesOniguruma() throws {
        let fixture = try Fixtures.json("regex.json")
        let patterns = fixture["patterns"] as? [[String: Any]] ?? []
        XCTAssertGreaterThan(patterns.count, 40)
        var passed = 0, failed = 0
        for entry in patterns {
            guard let pattern = entry["pattern"] as? String else { continue }
            let json = JSONCursor(value: .null, path: "pattern", source: "regex.json")
            let regex = try SplitRegex(pattern, json: json)
            let usesEngine = (try? ScalarRegex(pattern)) != nil
            if fallbackPatterns.contains(pattern) {
                XCTAssertFalse(usesEngine, "\(pattern) was expected to be left to Swift Regex")
                continue
            }
            XCTAssertTrue(usesEngine, "scalar regex engine rejected \(pattern)")
            let split = PreTokenizer.split(.regex(regex), .isolated, invert: false)
            for c in entry["cases"] as? [[String: Any]] ?? [] {
                guard let text = c["text"] as? String, let pieces = c["pieces"] as? [String] else { continue }
                let got = split.apply([Array(text.unicodeScalars)]).map { $0.map(\.value) }
                let expected = pieces.map(scalars)
                if got == expected {
                    passed += 1
                } else {
                    failed += 1
                    if failed <= 10 {
                        let gotText = got.map { String(String.UnicodeScalarView($0.compactMap(Unicode.Scalar.init))) }
                        XCTFail("pattern \(pattern.debugDescription) text \(text.debugDescription):\n got      \(gotText)\n expected \(pieces)")
                    }
                }
            }
        }
        print("split regex: \(passed) passed, \(failed) failed")
        XCTAssertGreaterThan(passed, 1000)
    }

    func testRegexSyntaxErrorsAreReported() {
        let json = JSONCursor(value: .null, path: "pre_tokenizer.pattern.Regex", source: "t.json")
        XCTAssertThrowsError(try SplitRegex("(unclosed", json: json)) { error in
            XCTAssertTrue("\(error)".hasPrefix("t.json: pre_tokenizer.pattern.Regex: cannot compile regex"), "\(error)")
        }
    }

    /// Patterns that overflowed the stack or an Int while parsing or matching (found by probing
    /// fuzz-tokenizer-json; the inputs are in Fuzz/Corpus/tokenizer-json/regression-regex-*) are
    /// refused with an error naming the JSON path, and Swift Regex is not tried on them.
    func testTooDeepOrTooLargePatternsAreRefused() {
        let json = JSONCursor(value: .null, path: "pre_tokenizer.pattern.Regex", source: "t.json")
        let refused: [(pattern: String, reason: String)] = [
            (String(repeating: "(", count: 8_000) + "a" + String(repeating: ")", count: 8_000), "nesting deeper than 100"),
            ("a" + String(repeating: "*", count: 15_000), "nesting deeper than 100"),
            (String(repeating: "[", count: 8_000) + "a" + String(repeating: "]", count: 8_000), "nesting deeper than 100"),
            (String(repeating: "(a*********)", count: 200), "more than 1000 groups, classes and quantifiers"),
            ("a{99999999999999999999}", "repeat bound above 100000"),
            ("a{1,100001}", "repeat bound above 100000"),
        ]
        for (pattern, reason) in refused {
            XCTAssertThrowsError(try SplitRegex(pattern, json: json)) { error in
                XCTAssertTrue("\(error)".hasPrefix("t.json: pre_tokenizer.pattern.Regex: cannot compile regex"), "\(error)")
                XCTAssertTrue("\(error)".contains(reason), "\(error)")
            }
        }
        // The limits leave room: 90 nested groups, and the largest repeat Oniguruma accepts.
        XCTAssertNoThrow(try ScalarRegex(String(repeating: "(a", count: 90) + String(repeating: ")", count: 90)))
        XCTAssertNoThrow(try ScalarRegex("a{0,100000}"))
    }

    /// Real patterns stay far inside the matching step budget on the fixtures' sample code (whole
    /// text and line by line, as pre-tokenized pieces arrive), and a pathological pattern found by
    /// fuzz-tokenizer-json (Fuzz/Corpus/tokenizer-json/regression-regex-backtracking) stops at the
    /// budget instead of running for minutes.
    func testMatchingStepBudget() throws {
        let sample = try String(contentsOf: Fixtures.url("sample_code.py"), encoding: .utf8)
        let patterns = [
            #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#,
            #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
            "[0-9][0-9][0-9]",
        ]
        for pattern in patterns {
            let regex = try ScalarRegex(pattern)
            let whole = Array(sample.unicodeScalars)
            let (_, steps) = regex.matchesCountingSteps(in: whole)
            let perScalar = Double(steps) / Double(whole.count)
            print("regex steps per scalar: \(perScalar) for \(pattern)")
            XCTAssertLessThan(perScalar, Double(ScalarRegex.stepsPerScalar) / 20, pattern)
            for line in sample.split(separator: "\n").prefix(2_000) {
                let scalars = Array(line.unicodeScalars)
                XCTAssertLessThan(regex.matchesCountingSteps(in: scalars).steps, ScalarRegex.minStepBudget / 20, "\(pattern) on \(line)")
            }
        }

        let text = Array("Hello, world! 123  x\r\n\tdéf aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaz".unicodeScalars)
        let pathological = try ScalarRegex("a" + String(repeating: "*", count: 25) + "\u{0}" + String(repeating: "*", count: 79) + "z")
        let start = Date()
        let (matches, steps) = pathological.matchesCountingSteps(in: text)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, "the budget bounds the search")
        XCTAssertEqual(steps, max(ScalarRegex.minStepBudget, ScalarRegex.stepsPerScalar * text.count))
        XCTAssertTrue(matches.isEmpty, "\(matches)")
    }

    /// The GPT-2 scanner and the regex engine running GPT-2's pattern agree on random text built from
    /// the characters that matter (contractions, spaces of several kinds, letters, digits, marks).
    func testGPT2ScannerAgreesWithRegex() throws {
        let regex = try ScalarRegex(#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#)
        let alphabet: [Unicode.Scalar] = ["'", "s", "t", "r", "e", "v", "m", "l", "d", "A", " ", " ", "\t", "\n", "\r",
                                          "\u{A0}", "\u{3000}", "1", "٣", "½", "!", ".", "é", "\u{301}", "日", "😀", "\u{200D}", "_"]
        var rng = SystemRandomNumberGenerator()
        var texts: [[Unicode.Scalar]] = []
        for _ in 0..<3000 {
            let n = Int.random(in: 0...24, using: &rng)
            texts.append((0..<n).map { _ in alphabet.randomElement(using: &rng)! })
        }
        if let sample = try? String(contentsOf: Fixtures.url("sample_code.py"), encoding: .utf8) {
            texts.append(Array(sample.unicodeScalars.prefix(20_000)))
        }
        for text in texts {
            let scanner = ByteLevel.gpt2Split(text[...])
            let viaRegex = regex.matches(in: text).map(\.upperBound)
            if scanner != viaRegex {
                let shown = String(String.UnicodeScalarView(text))
                XCTFail("GPT-2 scanner disagrees on \(shown.debugDescription): \(scanner) vs regex \(viaRegex)")
                return
            }
        }
    }
}
