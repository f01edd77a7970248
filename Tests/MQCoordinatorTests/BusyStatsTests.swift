// Stage busy counters (Info's busy_ns / steps / busy_fraction) belong to the worker holding the
// stage: a replacement starts from zero, a re-pointed worker keeps its counts.
import MQProtocol
import XCTest
@testable import MQCoordinator

final class BusyStatsTests: XCTestCase {
    func testAReplacementWorkerStartsFromZeroAndARepointedOneKeepsItsCounts() {
        var b = BusyStats()
        let t0 = ContinuousClock.now
        b.assign(stage: 0, worker: [1]); b.assign(stage: 1, worker: [2])
        b.start(t0)
        b.add([StageTiming(stageIndex: 0, queueNanoseconds: 0, forwardNanoseconds: 500),
               StageTiming(stageIndex: 1, queueNanoseconds: 0, forwardNanoseconds: 700)])
        XCTAssertEqual(b.forwardNanos[1], 700)
        XCTAssertEqual(b.fraction(stage: 1, now: t0 + .nanoseconds(1400)), 0.5, accuracy: 1e-9)
        // Stage 0 re-pointed at a new next stage: the same worker, same counters.
        b.assign(stage: 0, worker: [1])
        XCTAssertEqual(b.forwardNanos[0], 500)
        XCTAssertEqual(b.steps[0], 1)
        // Stage 1's worker died and worker 3 took it over: zero until its first step.
        b.assign(stage: 1, worker: [3])
        XCTAssertNil(b.forwardNanos[1])
        XCTAssertNil(b.steps[1])
        XCTAssertEqual(b.fraction(stage: 1, now: t0 + .seconds(1)), 0)
        let t1 = t0 + .seconds(2)
        b.start(t1)
        b.add([StageTiming(stageIndex: 1, queueNanoseconds: 0, forwardNanoseconds: 100)])
        XCTAssertEqual(b.steps[1], 1)
        XCTAssertEqual(b.fraction(stage: 1, now: t1 + .nanoseconds(400)), 0.25, accuracy: 1e-9)
        // Stage 0's clock kept running from t0.
        XCTAssertEqual(b.since[0], t0)
    }
}
