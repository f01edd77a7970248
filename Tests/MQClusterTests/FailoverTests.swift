// No call lost when a worker dies: 2 stages and standbys, 8 concurrent streams (greedy and
// seeded sampling); the stage-0 worker is SIGKILLed mid-generation, later the stage-1 worker;
// every call ends OK with exactly the tokens `mq run` produces, and no stream repeats or skips a
// token. Same with a worker stopped (SIGSTOP) for 10 s: it is declared lost by heartbeat, a
// standby takes over, and when it resumes it is fenced off and registers again as a standby.
import Foundation
import MQClient
import MQLocalCluster
import MQEngine
import MQProtocol
import MQSampling
import XCTest

final class FailoverTests: XCTestCase {
    struct Request {
        let prompt: [UInt32]
        let sampling: SamplingParams
        let engineSampling: SamplingParameters
    }

    /// Eight requests: four greedy, four with seeded temperature/top-k sampling.
    static func requests() -> [Request] {
        (0..<8).map { i in
            let prompt: [UInt32] = [UInt32(5 + i), 17, UInt32(40 + 3 * i)]
            if i % 2 == 0 { return Request(prompt: prompt, sampling: SamplingParams(seed: 0), engineSampling: SamplingParameters()) }
            let seed = UInt64(1000 + i)
            return Request(prompt: prompt, sampling: SamplingParams(temperature: 0.9, topK: 40, seed: seed),
                           engineSampling: SamplingParameters(temperature: 0.9, topK: 40, seed: seed))
        }
    }

    /// Runs the 8 streams; `disrupt` is called (once each) when the first stream has received
    /// each of `at` tokens. Returns each stream's token ids.
    func run(_ cluster: LocalCluster, maxTokens: Int, at marks: [Int], disrupt: @escaping @Sendable (Int) async throws -> Void) async throws -> [[UInt32]] {
        let c = try cluster.client(timeout: .seconds(120))
        defer { c.close() }
        let requests = Self.requests()
        return try await withThrowingTaskGroup(of: (Int, [UInt32]).self) { group in
            for (i, r) in requests.enumerated() {
                group.addTask {
                    var ids: [UInt32] = []
                    let stream = c.generateStream(GenerateRequest(prompt: .tokenIDs(r.prompt), maxNewTokens: UInt32(maxTokens), sampling: r.sampling))
                    var nextMark = 0
                    for try await chunk in stream {
                        ids += chunk.tokenIDs
                        if i == 0, nextMark < marks.count, ids.count >= marks[nextMark] {
                            try await disrupt(nextMark)
                            nextMark += 1
                        }
                    }
                    return (i, ids)
                }
            }
            var out = Array(repeating: [UInt32](), count: requests.count)
            for try await (i, ids) in group { out[i] = ids }
            return out
        }
    }

    func expected(_ model: URL, maxTokens: Int) throws -> [[UInt32]] {
        try Self.requests().map { r in
            try singleProcess(model, r.prompt.map { Int($0) }, maxTokens: maxTokens, sampling: r.engineSampling).tokenIds.map { UInt32($0) }
        }
    }

    func testKilledStagesAreTakenOverByStandbysAndEveryCallMatchesMqRun() async throws {
        let model = try TestModels.longContextModel()
        defer { try? FileManager.default.removeItem(at: model) }
        let maxTokens = 300
        let expected = try expected(model, maxTokens: maxTokens)
        let cluster = try LocalCluster(model: model, workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        for _ in 0..<2 { try cluster.startWorker() }    // standbys
        let c = try cluster.client()
        defer { c.close() }
        let info = try await c.info()
        let stageWorkers = info.stages.map { cluster.workers[Int($0.workerID.dropFirst("worker".count))!] }
        let kills = KillLog()
        let got = try await run(cluster, maxTokens: maxTokens, at: [40, 160]) { mark in
            // First stage 0, then (after the first failover) stage 1.
            kill(stageWorkers[mark].processIdentifier, SIGKILL)
            await kills.note(mark)
        }
        let killed = await kills.marks
        XCTAssertEqual(killed, [0, 1])
        for (i, ids) in got.enumerated() {
            XCTAssertEqual(ids, expected[i], "stream \(i) (\(i % 2 == 0 ? "greedy" : "sampled")) after two failovers:\n\(cluster.logs())")
        }
        let h = try await c.health()
        XCTAssertTrue(h.serving)
        let log = try String(contentsOf: cluster.directory.appendingPathComponent("coordinator.log"), encoding: .utf8)
        let waits = log.components(separatedBy: "calls wait for a standby").count - 1
        let done = log.components(separatedBy: "failover done").count - 1
        XCTAssertEqual(waits, 2, "two stages lost while calls were in flight:\n\(cluster.logs())")
        XCTAssertEqual(done, 2, "both failovers completed:\n\(cluster.logs())")
        XCTAssert(log.contains("its connection closed"), "a killed process is noticed by its closed connection, not by heartbeat expiry")
    }

    func testAStoppedWorkerIsReplacedAndComesBackAsAStandby() async throws {
        let model = try TestModels.longContextModel()
        defer { try? FileManager.default.removeItem(at: model) }
        let maxTokens = 200
        let expected = try expected(model, maxTokens: maxTokens)
        let cluster = try LocalCluster(model: model, workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        try cluster.startWorker()    // standby
        let c = try cluster.client()
        defer { c.close() }
        let info = try await c.info()
        let victimID = info.stages[0].workerID
        let victim = cluster.workers[Int(victimID.dropFirst("worker".count))!]
        let got = try await run(cluster, maxTokens: maxTokens, at: [30]) { _ in
            kill(victim.processIdentifier, SIGSTOP)
            // Resume it 10 s later, long after it was declared lost and replaced.
            Task.detached {
                try? await Task.sleep(for: .seconds(10))
                kill(victim.processIdentifier, SIGCONT)
            }
        }
        for (i, ids) in got.enumerated() {
            XCTAssertEqual(ids, expected[i], "stream \(i) after a stopped stage-0 worker:\n\(cluster.logs())")
        }
        // The resumed worker notices the silence, registers again, and waits as a standby.
        let end = ContinuousClock.now + .seconds(30)
        var back = false
        while ContinuousClock.now < end && !back {
            let h = try await c.health()
            back = h.workers.contains { $0.workerID == victimID && $0.state == .registered }
            if !back { try await Task.sleep(for: .milliseconds(250)) }
        }
        XCTAssertTrue(back, "the stopped worker registered again as a standby:\n\(cluster.logs())")
        let h = try await c.health()
        XCTAssertTrue(h.serving)
        XCTAssertEqual(h.workers.filter { $0.workerID == victimID && $0.state != .lost }.count, 1, "once: \(h.workers)")
    }
}

extension FailoverTests {
    func testAPreloadedStandbyTakesItsStageWithoutLoading() async throws {
        let model = try TestModels.longContextModel()
        defer { try? FileManager.default.removeItem(at: model) }
        let maxTokens = 120
        let expected = try expected(model, maxTokens: maxTokens)
        let cluster = try LocalCluster(model: model, workers: 2)
        defer { cluster.stop() }
        try await cluster.waitUntilServing()
        try cluster.startWorker(extraArgs: ["--standby-preload"])    // w2
        let logURL = cluster.directory.appendingPathComponent("coordinator.log")
        func log() -> String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
        // Both stages have 2 layers; the standby prepares stage 0 (the first of the largest).
        let end = ContinuousClock.now + .seconds(30)
        while !log().contains("standby loaded its stage ahead") && ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssert(log().contains("standby loaded its stage ahead"), cluster.logs())
        let c = try cluster.client()
        defer { c.close() }
        let info = try await c.info()
        let victim = cluster.workers[Int(info.stages[0].workerID.dropFirst("worker".count))!]
        let got = try await run(cluster, maxTokens: maxTokens, at: [20]) { _ in kill(victim.processIdentifier, SIGKILL) }
        XCTAssertEqual(got, expected, cluster.logs())
        let standbyLog = try String(contentsOf: cluster.directory.appendingPathComponent("worker2.log"), encoding: .utf8)
        XCTAssert(standbyLog.contains("weights kept"), "the standby took stage 0 without loading:\n\(standbyLog)")
        let after = try await c.info()
        XCTAssertEqual(after.stages[0].workerID, "worker2")
    }
}

actor KillLog {
    private(set) var marks: [Int] = []
    func note(_ mark: Int) { marks.append(mark) }
}
