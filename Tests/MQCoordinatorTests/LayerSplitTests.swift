// The coordinator's layer plans, checked directly (no processes): every policy covers each layer
// exactly once in order, and the balanced policy weighs the LM head the last stage carries.
import XCTest
@testable import MQCoordinator

final class LayerSplitTests: XCTestCase {
    func counts(_ r: [Range<Int>]) -> [Int] { r.map(\.count) }

    func assertCovers(_ r: [Range<Int>], _ layers: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.first?.lowerBound, 0, file: file, line: line)
        XCTAssertEqual(r.last?.upperBound, layers, file: file, line: line)
        for (a, b) in zip(r, r.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound, file: file, line: line) }
        XCTAssertTrue(r.allSatisfy { !$0.isEmpty }, file: file, line: line)
    }

    func testEvenAndExplicitSplits() {
        XCTAssertEqual(counts(Cluster.split(layers: 20, stages: 2, policy: .even, memory: [])), [10, 10])
        XCTAssertEqual(counts(Cluster.split(layers: 10, stages: 3, policy: .even, memory: [])), [4, 3, 3])
        XCTAssertEqual(counts(Cluster.split(layers: 10, stages: 2, policy: .layers([7, 3]), memory: [])), [7, 3])
    }

    func testMemorySplitFollowsOfferedMemory() {
        let r = Cluster.split(layers: 12, stages: 2, policy: .memory, memory: [3 << 30, 1 << 30])
        assertCovers(r, 12)
        XCTAssertEqual(counts(r), [9, 3])
    }

    func testBalancedSplitGivesTheHeadStageFewerLayers() {
        // tiny_starcoder: 20 layers of 6.0M weights, a 37.7M-weight tied head = 6.3 layers' worth.
        // Even (10/10) would leave the last stage 16.3 layers of work against 10; balanced puts
        // 13 layers before it and 7 + head on it (13 vs 13.3).
        let r = Cluster.split(layers: 20, stages: 2, policy: .balanced, memory: [], head: 6.3)
        assertCovers(r, 20)
        XCTAssertEqual(counts(r), [13, 7])
        // Three stages: the last takes 2 + 6.3 = 8.3 against 9 and 9 (3 + 6.3 = 9.3 would be the busiest).
        XCTAssertEqual(counts(Cluster.split(layers: 20, stages: 3, policy: .balanced, memory: [], head: 6.3)), [9, 9, 2])
        // A head heavier than all but one layer: the last stage keeps a single layer.
        XCTAssertEqual(counts(Cluster.split(layers: 4, stages: 2, policy: .balanced, memory: [], head: 50)), [3, 1])
        // No head weight: the same as even, and one stage takes everything.
        XCTAssertEqual(counts(Cluster.split(layers: 20, stages: 2, policy: .balanced, memory: [], head: 0)), [10, 10])
        XCTAssertEqual(counts(Cluster.split(layers: 5, stages: 1, policy: .balanced, memory: [], head: 3)), [5])
        for stages in 1...6 {
            assertCovers(Cluster.split(layers: 6, stages: stages, policy: .balanced, memory: [], head: 2.5), 6)
        }
    }
}
