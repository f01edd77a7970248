// `mq bench serve --chaos`: the pure parts. Stalls and recovery times from made-up token and kill
// times, victim choice from a Health answer and a seed, and when a local cluster counts as settled.
import MQSampling
import MQClient
import MQLocalCluster
import XCTest
@testable import mq

final class BenchChaosTests: XCTestCase {
    // MARK: stalls and recovery

    func testLongestGapIsTheWidestStepBetweenConsecutiveTokens() {
        XCTAssertNil(StreamStalls.longestGap([]))
        XCTAssertNil(StreamStalls.longestGap([1.5]), "one token has no gap; its wait is TTFT")
        XCTAssertEqual(StreamStalls.longestGap([0, 0.1, 0.5, 0.6])!, 0.4, accuracy: 1e-12)
        XCTAssertEqual(StreamStalls.longestGap([2, 2])!, 0)
    }

    func testRecoveryIsTheTimeToTheNextTokenOfAnyStreamStrictlyAfterTheKill() {
        // Tokens of several streams, out of order; a token at the kill's own instant left before it.
        let tokens = [3.0, 0.5, 1.0, 1.2]
        let recoveries = StreamStalls.recoveryTimes(kills: [1.0, 2.5, 9], tokens: tokens)
        XCTAssertEqual(recoveries.count, 3)
        XCTAssertEqual(recoveries[0]!, 0.2, accuracy: 1e-12)
        XCTAssertEqual(recoveries[1]!, 0.5, accuracy: 1e-12)
        XCTAssertNil(recoveries[2], "no token after the last kill before the level ended")
        XCTAssertEqual(StreamStalls.recoveryTimes(kills: [0], tokens: []), [nil])
        XCTAssertEqual(StreamStalls.recoveryTimes(kills: [], tokens: tokens), [])
    }

    func testTailPercentilesAreNearestRankWithTheMaximum() throws {
        XCTAssertNil(TailPercentiles([]))
        let t = try XCTUnwrap(TailPercentiles((1 ... 200).map(Double.init).shuffled()))
        XCTAssertEqual([t.p50, t.p99, t.max], [100, 198, 200])
        XCTAssertEqual(t.count, 200)
        let one = try XCTUnwrap(TailPercentiles([7]))
        XCTAssertEqual([one.p50, one.p99, one.max], [7, 7, 7])
    }

    func testChaosLevelFillsRecoveryPerKillAndCountsTheUnrecovered() throws {
        let kills = [ChaosKill(seconds: 1, worker: "worker1", pid: 10, replacement: "worker3"),
                     ChaosKill(seconds: 4, worker: "worker0", pid: 11, replacement: nil)]
        let level = ChaosLevel(kills: kills, skippedTicks: 2, tokenTimes: [0.9, 1.25, 2, 3.5])
        XCTAssertEqual(level.kills.map(\.worker), ["worker1", "worker0"])
        XCTAssertEqual(try XCTUnwrap(level.kills[0].recoveryMs), 250, accuracy: 1e-9)
        XCTAssertNil(level.kills[1].recoveryMs)
        XCTAssertEqual(level.unrecovered, 1)
        XCTAssertEqual(level.skippedTicks, 2)
        XCTAssertEqual(try XCTUnwrap(level.recoveryMs).max, 250, accuracy: 1e-9)
    }

    // MARK: victims

    func health(_ workers: [WorkerStatus], serving: Bool = true) -> HealthResponse {
        HealthResponse(serving: serving, missingLayers: [], workers: workers, totalLayers: 4)
    }

    func worker(_ id: String, _ state: WorkerState, _ layers: Range<UInt32>? = nil) -> WorkerStatus {
        WorkerStatus(workerID: id, dataEndpoint: "ipc:///tmp/\(id).sock", state: state, layers: layers.map { LayerRange($0) })
    }

    func testCandidatesHoldAStageAndStillRun() {
        let h = health([
            worker("worker4", .ready, 0 ..< 2),      // killed, not yet noticed: not live
            worker("worker1", .loading, 2 ..< 4),
            worker("worker0", .ready, 0 ..< 2),
            worker("worker2", .registered),          // a standby
            worker("worker3", .lost, 2 ..< 4),
            worker("outsider", .ready, 0 ..< 2),      // not one of our processes
        ])
        let live: Set = ["worker0", "worker1", "worker2", "worker3"]
        XCTAssertEqual(ChaosVictims.candidates(h, liveWorkers: live), ["worker0", "worker1"])
    }

    func testChoiceIsReproducibleFromTheSeedAndCoversEveryCandidate() {
        let candidates = ["worker0", "worker1", "worker2"]
        func sequence(seed: UInt64) -> [String] {
            var rng = SplitMix64(seed: seed)
            return (0 ..< 64).map { _ in ChaosVictims.choose(candidates, rng: &rng)! }
        }
        XCTAssertEqual(sequence(seed: 7), sequence(seed: 7))
        XCTAssertNotEqual(sequence(seed: 7), sequence(seed: 8))
        XCTAssertEqual(Set(sequence(seed: 7)), Set(candidates))
    }

    func testNoCandidateChoosesNobodyWithoutAdvancingTheGenerator() {
        var rng = SplitMix64(seed: 3), untouched = SplitMix64(seed: 3)
        XCTAssertNil(ChaosVictims.choose([], rng: &rng))
        XCTAssertEqual(rng.next(), untouched.next())
    }

    // MARK: settled

    func testSettledWhenServingAndTheAliveWorkersAreExactlyTheLiveProcesses() {
        let live: Set = ["worker0", "worker2", "worker3"]
        let recovered = [worker("worker0", .ready, 0 ..< 2), worker("worker2", .ready, 2 ..< 4),
                         worker("worker3", .registered), worker("worker1", .lost, 2 ..< 4)]
        XCTAssertTrue(LocalCluster.settled(health(recovered), liveWorkers: live))
        XCTAssertFalse(LocalCluster.settled(health(recovered, serving: false), liveWorkers: live))
        // The replacement has not registered yet.
        XCTAssertFalse(LocalCluster.settled(health(Array(recovered.prefix(2))), liveWorkers: live))
        // The killed worker is still taken for alive (its heartbeat has not expired).
        let stale = [worker("worker0", .ready, 0 ..< 2), worker("worker1", .ready, 2 ..< 4),
                     worker("worker2", .registered), worker("worker3", .registered)]
        XCTAssertFalse(LocalCluster.settled(health(stale), liveWorkers: live))
    }
}
