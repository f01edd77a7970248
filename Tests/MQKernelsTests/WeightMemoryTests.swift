import XCTest
@testable import MQKernels

final class WeightMemoryTests: XCTestCase {
    /// Small buffers come from the allocator, large ones from a 2 MiB-aligned mapping; both are
    /// 64-byte aligned, hold what is written to every byte, and go back without a crash.
    func testAlignmentAndContents() {
        for bytes in [1, 100, 4096, WeightMemory.hugePage - 1, WeightMemory.hugePage, 3 * WeightMemory.hugePage + 12345] {
            let p = WeightMemory.allocate(bytes: bytes)
            XCTAssertEqual(Int(bitPattern: p) % 64, 0, "\(bytes) bytes")
            if bytes >= WeightMemory.hugePage {
                XCTAssertEqual(Int(bitPattern: p) % WeightMemory.hugePage, 0, "\(bytes) bytes: not huge-page aligned")
            }
            let b = p.bindMemory(to: UInt8.self, capacity: bytes)
            for i in 0..<bytes { b[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
            var ok = true
            for i in 0..<bytes where b[i] != UInt8(truncatingIfNeeded: i &* 31 &+ 7) { ok = false; break }
            XCTAssertTrue(ok, "\(bytes) bytes: contents changed")
            WeightMemory.free(p, bytes: bytes)
        }
    }

    /// A packed matrix large enough for the mapped path reads back exactly what was packed.
    func testLargePackedWeightRoundTrips() {
        let m = 1000, n = 700   // 2.8 MB of float32 panels
        var w = [Float](repeating: 0, count: m * n)
        for i in w.indices { w[i] = Float(i % 977) * 0.25 - 100 }
        let packed = PackedWeight(name: "big", w, outFeatures: m, inFeatures: n, storage: .f32)
        XCTAssertEqual(packed.unpacked, w)
    }
}
