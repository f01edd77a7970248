// FIM token detection in both spellings, and FIM prompts equal to what `tokenizers` encodes for the
// reference's FIM text (Tests/Fixtures/tokenizers/fim-santacoder.*, tools/make_prompt_logprob_fixtures.py).
import Foundation
import MQTokenizer
import XCTest

final class FillInTheMiddleTests: XCTestCase {
    func testStarCoderSpellingIsDetected() throws {
        let t = try Tokenizer(contentsOf: Fixtures.url("starcoder.json"))
        XCTAssertEqual(t.fimTokens, FIMTokens(spelling: .starCoder, prefix: 1, suffix: 3, middle: 2))
    }

    func testSantaCoderSpellingMatchesTokenizers() throws {
        let t = try Tokenizer(contentsOf: Fixtures.url("fim-santacoder.json"))
        let fim = try XCTUnwrap(t.fimTokens)
        XCTAssertEqual(fim.spelling, .santaCoder)
        XCTAssertEqual([fim.prefix, fim.suffix, fim.middle], [1, 3, 2])
        let cases = try XCTUnwrap(Fixtures.json("fim-santacoder.cases.json")["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 3)
        for c in cases {
            let prefix = try XCTUnwrap(c["prefix"] as? String), suffix = try XCTUnwrap(c["suffix"] as? String)
            XCTAssertEqual(t.encode(fim.text(prefix: prefix, suffix: suffix)), ints(c["ids"]), "text layout, \(prefix.debugDescription)")
            XCTAssertEqual(fim.prompt(prefixIDs: t.encode(prefix), suffixIDs: t.encode(suffix)), ints(c["ids"]), "id layout")
        }
    }

    func testTokenizerWithoutFIMTokens() throws {
        XCTAssertNil(try Tokenizer(contentsOf: Fixtures.url("falcon.json")).fimTokens)
    }
}
