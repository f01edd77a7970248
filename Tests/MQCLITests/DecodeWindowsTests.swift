// `mq bench serve`'s decode rate: only the time when every stream is decoding counts.
import XCTest
@testable import mq

final class DecodeWindowsTests: XCTestCase {
    /// A request of `stream` whose tokens arrive one per chunk at `times`.
    func request(_ stream: Int, _ times: [Double]) -> RequestOutcome {
        var r = RequestOutcome()
        r.stream = stream
        r.chunks = times.map { ($0, 1) }
        return r
    }

    func testWindowsAreWhereEveryStreamIsPastItsFirstToken() throws {
        // Stream 0 decodes 1...5 then (new prompt) 6...9; stream 1 decodes 2...8.
        let outcomes = [
            request(0, [1, 2, 3, 4, 5]), request(0, [6, 7, 8, 9]),
            request(1, [2, 3, 4, 5, 6, 7, 8]),
        ]
        let d = try XCTUnwrap(DecodeWindows(outcomes: outcomes, streams: 2))
        XCTAssertEqual(d.windows.map { [$0.start, $0.end] }, [[2, 5], [6, 8]])
        XCTAssertEqual(d.seconds, 5)
        // In (2, 5]: stream 0 at 3, 4, 5 and stream 1 at 3, 4, 5; in (6, 8]: 7, 8 from each.
        XCTAssertEqual(d.tokens, 10)
    }

    func testNoWindowWhenStreamsNeverOverlapOrOneIsMissing() {
        XCTAssertNil(DecodeWindows(outcomes: [request(0, [1, 2]), request(1, [3, 4])], streams: 2))
        XCTAssertNil(DecodeWindows(outcomes: [request(0, [1, 2, 3])], streams: 2))
        // A request that produced a single token never decodes.
        XCTAssertNil(DecodeWindows(outcomes: [request(0, [1])], streams: 1))
    }

    func testIntersectSortedIntervals() {
        let a: [(start: Double, end: Double)] = [(0, 4), (5, 10)]
        let b: [(start: Double, end: Double)] = [(1, 2), (3, 6), (9, 12)]
        XCTAssertEqual(DecodeWindows.intersect(a, b).map { [$0.start, $0.end] }, [[1, 2], [3, 4], [5, 6], [9, 10]])
    }
}
