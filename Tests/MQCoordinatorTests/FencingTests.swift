// Fencing and keys in the coordinator's bookkeeping: every rewiring raises the epoch and sends
// every stage an Assign naming its neighbours' keys; a worker id belongs to the key that holds
// it; API keys are compared in constant time and never match a prefix or extension.
import MQProtocol
import XCTest
@testable import MQCoordinator
import MQTransport

final class FencingTests: XCTestCase {
    private func register(_ cluster: inout Cluster, _ workerID: String, key: String, now: ContinuousClock.Instant = .now) -> [UInt8] {
        let id = Array(workerID.utf8)
        cluster.register(Register(workerID: workerID, memoryBytes: 1 << 30, dataEndpoint: "tcp://127.0.0.1:\(workerID.count)", pid: 1, host: "h"),
                         routingID: id, publicKey: key, now: now)
        return id
    }

    func testEveryRewiringRaisesTheEpochAndTellsEveryStageItsNeighboursKeys() throws {
        var cluster = try Cluster(totalLayers: 6, stageCount: 3, policy: .even, modelPath: "/m", kvCapacityBytes: 0,
                                  coordinatorKey: "C")
        let a = register(&cluster, "a", key: "A"), b = register(&cluster, "b", key: "B"), c = register(&cluster, "c", key: "C3")
        let first = cluster.reconcile()
        XCTAssertEqual(cluster.epoch, 1)
        XCTAssertEqual(first.map(\.0), [a, b, c])
        XCTAssertEqual(first.map(\.1.epoch), [1, 1, 1])
        XCTAssertEqual(first.map(\.1.previousKey), ["C", "A", "B"], "stage 0 accepts the coordinator, stage k stage k-1")
        XCTAssertEqual(first.map(\.1.nextKey), ["B", "C3", ""])
        XCTAssertTrue(cluster.reconcile().isEmpty, "nothing changed: no new epoch")
        XCTAssertEqual(cluster.epoch, 1)

        // The middle stage is lost and a spare takes it: every stage hears of epoch 2, and the
        // neighbours of the new worker name its key.
        let d = register(&cluster, "dd", key: "D")
        XCTAssertTrue(cluster.reconcile().isEmpty, "a spare alone rewires nothing")
        cluster.markLost(b, now: .now)
        let second = cluster.reconcile()
        XCTAssertEqual(cluster.epoch, 2)
        XCTAssertEqual(Set(second.map(\.0)), [a, d, c])
        let byWorker = Dictionary(uniqueKeysWithValues: second.map { ($0.0, $0.1) })
        XCTAssertEqual(byWorker[a]?.nextKey, "D")
        XCTAssertEqual(byWorker[d]?.previousKey, "A")
        XCTAssertEqual(byWorker[d]?.nextKey, "C3")
        XCTAssertEqual(byWorker[c]?.previousKey, "D")
        XCTAssert(second.allSatisfy { $0.1.epoch == 2 })
        XCTAssertEqual(Set(second.map(\.1.assignmentID)).count, 3, "fresh assignment ids, so stale Readys are ignored")
    }

    func testAWorkerIDBelongsToTheKeyThatHoldsIt() throws {
        var cluster = try Cluster(totalLayers: 2, stageCount: 1, policy: .even, modelPath: "/m", kvCapacityBytes: 0)
        let w = register(&cluster, "w0", key: "K1")
        XCTAssertNotNil(cluster.conflictingRegistration(workerID: "w0", publicKey: "K2", routingID: Array("other".utf8)))
        XCTAssertNil(cluster.conflictingRegistration(workerID: "w0", publicKey: "K1", routingID: Array("other".utf8)),
                     "the same key may come back on a new connection (a restarted worker)")
        XCTAssertNil(cluster.conflictingRegistration(workerID: "w1", publicKey: "K2", routingID: Array("other".utf8)))
        cluster.markLost(w, now: .now)
        XCTAssertNil(cluster.conflictingRegistration(workerID: "w0", publicKey: "K2", routingID: Array("other".utf8)),
                     "once it is lost, the id is free")
    }

    func testAPIKeysMatchExactlyInConstantTime() {
        let keys = APIKeys(["0123456789abcdef", "fedcba9876543210-longer"])
        func admits(_ value: String?) -> Bool { keys.admits(metadata: value.map { ["authorization": $0] } ?? [:]) }
        XCTAssertTrue(admits("Bearer 0123456789abcdef"))
        XCTAssertTrue(admits("Bearer fedcba9876543210-longer"))
        for bad in [nil, "", "Bearer ", "0123456789abcdef", "Bearer 0123456789abcde", "Bearer 0123456789abcdeff",
                    "Bearer 0123456789abcdef0123456789abcdef", "bearer 0123456789abcdef", "Basic 0123456789abcdef"] {
            XCTAssertFalse(admits(bad), bad ?? "nil")
        }
        XCTAssertTrue(APIKeys.constantTimeEqual([], []))
        XCTAssertFalse(APIKeys.constantTimeEqual([1], []))
        XCTAssertFalse(APIKeys.constantTimeEqual([1, 2], [1, 2, 1, 2]), "a repeated prefix is not equal")
    }
}
