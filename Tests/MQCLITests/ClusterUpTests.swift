// `mq cluster up` end to end: it starts a secured 2-stage cluster from the built executables, streams
// a prompt through it, and the text is the one `mq run` generates in one process; then it stops
// every process it started (mq-gateway, the OpenAI HTTP API, included).
import Foundation
import XCTest

final class ClusterUpTests: XCTestCase {
    func mq(_ args: [String]) throws -> CLITests.Output { try CLITests.run(args) }

    func testClusterUpStreamsWhatRunGenerates() throws {
        let model = CLITests.fixtures.appendingPathComponent("mqa").path
        let prompt = "def fibonacci(n):"
        let local = try mq(["run", "--model", model, "--prompt", prompt, "--max-tokens", "12", "--repetition-penalty", "1.2"])
        XCTAssertEqual(local.status, 0, local.stderr)
        let up = try mq(["cluster", "up", "--model", model, "--workers", "2", "--port", "0", "--metrics-port", "0", "--threads", "1",
                             "--prompt", prompt, "--max-tokens", "12", "--repetition-penalty", "1.2"])
        XCTAssertEqual(up.status, 0, up.stderr)
        XCTAssertEqual(up.stdout, prompt + local.stdout, up.stderr)
        XCTAssert(up.stderr.contains("--server-key ") && up.stderr.contains("/keys/coordinator.pub"), "secured by default: \(up.stderr)")
        XCTAssert(up.stderr.contains("mq cluster up: stopped"), up.stderr)
        // Every process it started is gone: their PIDs are in the run folder's `pids` file.
        let folder = try XCTUnwrap(up.stderr.firstMatch(of: /logs in ([^)\s]+)\)/)?.1)
        let pids = try String(contentsOfFile: "\(folder)/pids", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(pids.count, 4, "a coordinator, two workers and the gateway")
        XCTAssert(up.stderr.contains("OpenAI-compatible gateway on http://127.0.0.1:"), up.stderr)
        for line in pids {
            let pid = try XCTUnwrap(Int32(line.split(separator: " ")[1]))
            XCTAssertEqual(kill(pid, 0), -1, "\(line) still runs")
        }
        try? FileManager.default.removeItem(atPath: String(folder))
    }
}
