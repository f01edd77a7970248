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
}
