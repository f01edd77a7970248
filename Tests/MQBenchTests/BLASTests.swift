// The OpenBLAS yardstick of `mq bench linear`: it loads at run time and runs its fast kernels.
// OpenBLAS is optional (the product never uses it): without libopenblas these tests are skipped,
// saying why.
import MQBench
import MQKernels
import XCTest

final class BLASTests: XCTestCase {
    func testBLASUsesFastKernels() throws {
        do { try BLAS.load() } catch {
            throw XCTSkip("OpenBLAS is not installed (only mq bench linear needs it): \(error)")
        }
        let info = BLAS.info
        XCTAssertFalse(info.coreName.isEmpty)
        XCTAssertNotEqual(info.coreName.lowercased(), "prescott", "OpenBLAS fell back to its SSE3 kernels: \(info)")
        print(info)
    }

    func testLinearBenchmarkMeasuresBothKernels() throws {
        do { try BLAS.load() } catch { throw XCTSkip("OpenBLAS is not installed: \(error)") }
        let rows = try LinearBenchmark.run(shapes: [(inFeatures: 64, outFeatures: 48)], rows: [1, 4], seconds: 0.02,
                                                compute: ComputeContext(threads: 2))
        XCTAssertEqual(rows.map(\.rows), [1, 4])
        for r in rows { XCTAssertGreaterThan(r.msLinear, 0); XCTAssertGreaterThan(r.msBLAS, 0) }
    }
}
