// The `mq` executable end to end: run --json against transformers' greedy reference, tokenize
// against the reference ids, streaming text equal to the JSON text, and clear errors on bad input.
import Foundation
import XCTest

final class CLITests: XCTestCase {
    static let mq: URL = {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var d = exe.deletingLastPathComponent()
        for _ in 0..<3 {
            if FileManager.default.isExecutableFile(atPath: d.appendingPathComponent("mq").path) { return d.appendingPathComponent("mq") }
            d.deleteLastPathComponent()
        }
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        return root.appendingPathComponent(".build/debug/mq")
    }()

    static let fixtures: URL = {
        var u = URL(fileURLWithPath: #filePath)
        u.deleteLastPathComponent(); u.deleteLastPathComponent()
        return u.appendingPathComponent("Fixtures/models")
    }()

    struct Output { var status: Int32; var stdout: String; var stderr: String }

    func mq(_ args: [String]) throws -> Output { try Self.run(args) }

    /// Runs the built `mq` with `args` and collects its exit status and output.
    static func run(_ args: [String]) throws -> Output {
        let p = Process()
        p.executableURL = mq
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    struct RunJSON: Decodable { var token_ids: [Int]; var logprobs: [Double]; var text: String; var finish_reason: String }
    struct Ref: Decodable { struct Case: Decodable { var prompt_text: String?; var prompt_ids: [Int]; var greedy_ids: [Int]; var greedy_logprobs: [Double] }; var cases: [Case] }

    func reference(_ model: String) throws -> Ref {
        try JSONDecoder().decode(Ref.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("\(model)/reference.json")))
    }

    func testRunJSONMatchesTransformersGreedy() throws {
        for model in ["mqa", "mha-bf16"] {
            for c in try reference(model).cases {
                let o = try mq(["run", "--model", Self.fixtures.appendingPathComponent(model).path,
                                "--prompt-ids", c.prompt_ids.map(String.init).joined(separator: ","),
                                "--max-tokens", "\(c.greedy_ids.count)", "--temperature", "0", "--json"])
                XCTAssertEqual(o.status, 0, o.stderr)
                let r = try JSONDecoder().decode(RunJSON.self, from: Data(o.stdout.utf8))
                // transformers' reference ignores EOS (id 0); mq stops at it and reports it.
                let expected = c.greedy_ids.firstIndex(of: 0).map { Array(c.greedy_ids[...$0]) } ?? c.greedy_ids
                XCTAssertEqual(r.token_ids, expected, model)
                XCTAssertEqual(r.finish_reason, expected.count < c.greedy_ids.count ? "eos" : "length")
                for (a, b) in zip(r.logprobs, c.greedy_logprobs) { XCTAssertEqual(a, b, accuracy: 1e-4, model) }
            }
        }
    }

    func testTokenizeMatchesReferenceIds() throws {
        let ref = try reference("mqa")
        let c = try XCTUnwrap(ref.cases.first { $0.prompt_text != nil })
        let o = try mq(["tokenize", "--model", Self.fixtures.appendingPathComponent("mqa").path, "--text", c.prompt_text!, "--json"])
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertEqual(o.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                       "{\"ids\": [\(c.prompt_ids.map(String.init).joined(separator: ", "))]}")
    }

    func testStreamedTextEqualsJSONText() throws {
        let model = Self.fixtures.appendingPathComponent("mqa").path
        let j = try mq(["run", "--model", model, "--prompt", "def fibonacci(n):", "--max-tokens", "20", "--json"])
        let s = try mq(["run", "--model", model, "--prompt", "def fibonacci(n):", "--max-tokens", "20"])
        XCTAssertEqual(j.status, 0); XCTAssertEqual(s.status, 0)
        let r = try JSONDecoder().decode(RunJSON.self, from: Data(j.stdout.utf8))
        XCTAssertEqual(s.stdout, r.text + "\n")
        // Seeded sampling is reproducible.
        let a = try mq(["run", "--model", model, "--prompt-ids", "5,6", "--max-tokens", "10", "--temperature", "0.9", "--top-p", "0.9", "--seed", "7", "--json"])
        let b = try mq(["run", "--model", model, "--prompt-ids", "5,6", "--max-tokens", "10", "--temperature", "0.9", "--top-p", "0.9", "--seed", "7", "--json"])
        XCTAssertEqual(a.stdout, b.stdout)
    }

    func testBadInputGivesClearErrors() throws {
        let model = Self.fixtures.appendingPathComponent("mqa").path
        let cases: [([String], String)] = [
            (["run", "--model", "/nonexistent/model", "--prompt-ids", "1", "--max-tokens", "2"], "config.json"),
            (["run", "--model", model, "--prompt-ids", "1,x", "--max-tokens", "2"], "not an integer"),
            (["run", "--model", model, "--prompt-ids", "1,9999", "--max-tokens", "2"], "outside the vocabulary"),
            (["run", "--model", model, "--prompt-ids", "1", "--max-tokens", "4000"], "positions"),
            (["run", "--model", model, "--prompt-ids", "1", "--max-tokens", "2", "--top-p", "1.5"], "top_p"),
            (["run", "--model", model, "--prompt-ids", "1", "--max-tokens", "2", "--stop", "x", "--stop", ""], "stop_strings[1]: must not be empty"),
            (["generate", "--server", "tcp://127.0.0.1:1", "--prompt-ids", "1", "--stop", ""], "stop_strings[0]: must not be empty"),
            (["run", "--model", model, "--prompt", "x", "--prompt-ids", "1"], "exactly one"),
            (["run", "--model", model, "--prompt-ids", "1", "--compare", "/tmp/x"], "--compare needs --dump-activations"),
            (["tokenize", "--model", model, "--file", "/nonexistent/file"], "cannot read"),
            (["bench", "serve", "--server", "ipc:///tmp/none.sock", "--insecure", "--chaos", "3"], "--chaos only applies with --start"),
            (["bench", "serve", "--start", model, "--chaos", "0"], "--chaos must be a positive"),
            (["bench", "serve", "--start", model, "--standbys=-1"], "--standbys must not be negative"),
        ]
        for (args, needle) in cases {
            let o = try mq(args)
            XCTAssertNotEqual(o.status, 0, "\(args) should fail")
            XCTAssertTrue(o.stderr.contains(needle), "\(args): stderr \(o.stderr) should mention \(needle)")
        }
    }

    /// `mq run --dump-activations DIR --compare REF` against transformers' per-layer taps: passes on
    /// the fixture, and on a copy with one weight of layer 2 changed exits 1 naming layer 2.
    func testDumpActivationsComparesWithTransformers() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("mq-cli-taps-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let ref = Self.fixtures.deletingLastPathComponent().appendingPathComponent("activations/mqa.safetensors").path
        let prompt = "17,4,300,42,1,99,256,7"   // the prompt the reference was written for
        let ok = try mq(["run", "--model", Self.fixtures.appendingPathComponent("mqa").path, "--prompt-ids", prompt,
                         "--dump-activations", tmp.appendingPathComponent("ok").path, "--compare", ref])
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        XCTAssertTrue(ok.stdout.contains("all taps within"), ok.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("ok/activations.safetensors").path))

        // transformer.h.2.mlp.c_proj.weight[0, 0] += 1 (F32, found from the safetensors header).
        let model = tmp.appendingPathComponent("mqa")
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("mqa"), to: model)
        let file = model.appendingPathComponent("model.safetensors")
        var data = try Data(contentsOf: file)
        let headerLength = Int(data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + headerLength)) as! [String: Any]
        let entry = try XCTUnwrap(header["transformer.h.2.mlp.c_proj.weight"] as? [String: Any])
        XCTAssertEqual(entry["dtype"] as? String, "F32")
        let at = 8 + headerLength + (entry["data_offsets"] as! [Int])[0]
        let old = data.subdata(in: at..<at + 4).withUnsafeBytes { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        withUnsafeBytes(of: (old + 1).bitPattern.littleEndian) { data.replaceSubrange(at..<at + 4, with: $0) }
        try data.write(to: file)
        let bad = try mq(["run", "--model", model.path, "--prompt-ids", prompt,
                          "--dump-activations", tmp.appendingPathComponent("bad").path, "--compare", ref])
        XCTAssertEqual(bad.status, 1, bad.stdout + bad.stderr)
        XCTAssertTrue(bad.stdout.contains("first divergence: layer.2.block_out"), bad.stdout)
    }
}
