// Lost workers as Health lists them, checked on Cluster directly with an injected clock: each
// worker id once (a newer loss replaces the older), none older than lostWorkerRetention, never
// more than lostWorkersRemembered.
import MQProtocol
import XCTest
@testable import MQCoordinator

final class LostWorkersTests: XCTestCase {
    private func register(_ cluster: inout Cluster, _ workerID: String, routing: String, now: ContinuousClock.Instant) -> [UInt8] {
        let id = Array(routing.utf8)
        cluster.register(Register(workerID: workerID, memoryBytes: 1 << 30, dataEndpoint: "tcp://127.0.0.1:1", pid: 1, host: "h"),
                         routingID: id, now: now)
        return id
    }

    func testAWorkerLostAgainAndAgainIsListedOnceWithItsLatestLoss() throws {
        var cluster = try Cluster(totalLayers: 4, stageCount: 2, policy: .even, modelPath: "/m", kvCapacityBytes: 0)
        let t0 = ContinuousClock.now
        // Two workers that crash and come back (new connection, same worker id) five times.
        for round in 0..<5 {
            let now = t0 + .seconds(round)
            let a = register(&cluster, "a", routing: "a\(round)", now: now)
            let b = register(&cluster, "b", routing: "b\(round)", now: now)
            cluster.markLost(a, now: now)
            cluster.markLost(b, now: now)
        }
        XCTAssertEqual(cluster.lost.map(\.workerID), ["b", "a"])
        XCTAssertEqual(cluster.lost.map(\.routingID), [Array("b4".utf8), Array("a4".utf8)], "the latest loss is kept")
        XCTAssertEqual(cluster.allRecords.count, 2)
        // Re-registering the same connection replaces the old record; a worker that is back is
        // listed live only, not also as lost.
        let c = register(&cluster, "c", routing: "c", now: t0)
        _ = register(&cluster, "c", routing: "c", now: t0 + .seconds(1))
        XCTAssertEqual(cluster.lost.map(\.workerID), ["b", "a"])
        _ = register(&cluster, "a", routing: "a-back", now: t0 + .seconds(1))
        XCTAssertEqual(cluster.lost.map(\.workerID), ["b"])
        cluster.markLost(c, now: t0 + .seconds(2))
        XCTAssertEqual(cluster.lost.map(\.workerID), ["c", "b"])
    }

    func testLostWorkersAreForgottenAfterTheRetentionAndBoundedInNumber() throws {
        var cluster = try Cluster(totalLayers: 4, stageCount: 1, policy: .even, modelPath: "/m", kvCapacityBytes: 0)
        let t0 = ContinuousClock.now
        let retention = CoordinatorDefaults.lostWorkerRetention
        cluster.markLost(register(&cluster, "old", routing: "old", now: t0), now: t0)
        cluster.markLost(register(&cluster, "new", routing: "new", now: t0), now: t0 + .seconds(60))
        cluster.forgetLost(now: t0 + retention - .seconds(1))
        XCTAssertEqual(cluster.lost.map(\.workerID), ["new", "old"])
        cluster.forgetLost(now: t0 + retention)
        XCTAssertEqual(cluster.lost.map(\.workerID), ["new"])
        cluster.forgetLost(now: t0 + .seconds(60) + retention)
        XCTAssertTrue(cluster.lost.isEmpty)

        let many = CoordinatorDefaults.lostWorkersRemembered + 5
        for i in 0..<many { cluster.markLost(register(&cluster, "w\(i)", routing: "w\(i)", now: t0), now: t0) }
        XCTAssertEqual(cluster.lost.count, CoordinatorDefaults.lostWorkersRemembered)
        XCTAssertEqual(cluster.lost.first?.workerID, "w\(many - 1)", "most recent first")
    }
}
