// `mq run --suffix` and `--prompt-logprobs` end to end, against the transformers fixture of
// Tests/Fixtures/models/mqa-long (tools/make_prompt_logprob_fixtures.py).
import Foundation
import XCTest

final class FIMAndPromptLogprobsCLITests: XCTestCase {
    func reference() throws -> [String: Any] {
        let url = CLITests.fixtures.appendingPathComponent("mqa-long/reference.json")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func testRunSuffixJSONGivesTheReferenceFIMPromptAndMiddle() throws {
        let fim = try XCTUnwrap((try reference()["fim"] as? [[String: Any]])?.first)
        let greedy = try XCTUnwrap(fim["greedy_ids"] as? [Int])
        let o = try CLITests.run(["run", "--model", CLITests.fixtures.appendingPathComponent("mqa-long").path,
                                  "--prompt", try XCTUnwrap(fim["prefix"] as? String), "--suffix", try XCTUnwrap(fim["suffix"] as? String),
                                  "--max-tokens", "\(greedy.count)", "--prompt-logprobs", "--json"])
        XCTAssertEqual(o.status, 0, o.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["prompt_token_ids"] as? [Int], fim["prompt_ids"] as? [Int])
        XCTAssertEqual(json["token_ids"] as? [Int], greedy)
        XCTAssertEqual((json["prompt_logprobs"] as? [Any])?.count, (fim["prompt_ids"] as? [Int]).map { $0.count - 1 })
    }

    func testRunPromptLogprobsTextReportAndNoFIMError() throws {
        let code = try XCTUnwrap((try reference()["prompt_logprobs"] as? [[String: Any]])?.first { $0["name"] as? String == "code" })
        let o = try CLITests.run(["run", "--model", CLITests.fixtures.appendingPathComponent("mqa-long").path,
                                  "--prompt", try XCTUnwrap(code["prompt_text"] as? String), "--max-tokens", "2", "--prompt-logprobs"])
        XCTAssertEqual(o.status, 0, o.stderr)
        let ids = try XCTUnwrap(code["prompt_ids"] as? [Int]), expected = try XCTUnwrap(code["logprobs"] as? [Double])
        let lines = o.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("  total") }
        XCTAssertEqual(lines.count, ids.count, o.stdout)
        for (i, line) in lines.enumerated() {
            let fields = line.split(separator: "\t")
            XCTAssertEqual(Int(fields[0].trimmingCharacters(in: .whitespaces)), ids[i])
            if i > 0 { XCTAssertEqual(Double(fields[1])!, expected[i - 1], accuracy: 1e-4, "prompt token \(i)") }
        }
        let bad = try CLITests.run(["run", "--model", CLITests.fixtures.appendingPathComponent("falcon-mqa").path,
                                    "--prompt", "a", "--suffix", "b", "--max-tokens", "1"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("falcon-mqa") && bad.stderr.contains("fill-in-the-middle"), bad.stderr)
    }

    /// The bundled model (models/default, FIM-trained in phases 4-9 of its card) on the README's
    /// fill-in-the-middle example: it writes a middle and closes it with <|endoftext|> by itself, and
    /// neither that middle nor the quick start's left-to-right completion contains a FIM sentinel
    /// (phase 9 took them out of the training targets after phase 8's model wrote them in plain text).
    func testBundledModelFillsTheREADMEMiddleAndNeverWritesSentinels() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let model = root.appendingPathComponent("models/default").path
        let sentinels: Set<Int> = [1, 2, 3, 4]  // <fim_prefix>, <fim_middle>, <fim_suffix>, <fim_pad> (its card)
        let fim = try CLITests.run(["run", "--model", model, "--prompt", "def add(a, b):\n    ", "--suffix", "\n    return c",
                                    "--max-tokens", "32", "--json"])
        XCTAssertEqual(fim.status, 0, fim.stderr)
        let f = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(fim.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(f["finish_reason"] as? String, "eos", fim.stdout)
        let ids = try XCTUnwrap(f["token_ids"] as? [Int])
        XCTAssertTrue(Set(ids).isDisjoint(with: sentinels), fim.stdout)
        let middle = try XCTUnwrap(f["text"] as? String)
        XCTAssertFalse(middle.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, fim.stdout)
        let ltr = try CLITests.run(["run", "--model", model, "--prompt", "def fibonacci(n):", "--max-tokens", "64",
                                    "--repetition-penalty", "1.2", "--json"])
        XCTAssertEqual(ltr.status, 0, ltr.stderr)
        let l = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(ltr.stdout.utf8)) as? [String: Any])
        XCTAssertTrue(Set(try XCTUnwrap(l["token_ids"] as? [Int])).isDisjoint(with: sentinels), ltr.stdout)
    }
}
