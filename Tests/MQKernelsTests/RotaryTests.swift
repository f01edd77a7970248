// Rotary embeddings: the SIMD kernel against its naive reference, the cos/sin table against the one
// transformers' FalconRotaryEmbedding computes (Tests/Fixtures/kernels/rotary.json, written by
// tools/make_falcon_fixtures.py), and the property that makes RoPE a *relative* position encoding.
//
// Tolerances: kernel vs Double reference 1e-6 absolute (two products and a sum of values below 1).
// Table vs torch: inverse frequencies equal or 1 float32 ulp apart (torch's float32 `pow` is not
// always correctly rounded); cos/sin within 2e-7, i.e. about one ulp on each side, when the
// frequencies agree. A frequency 1 ulp off moves the angle at position p by up to p · 1.2e-7 · inv_freq,
// and the bound grows by that much.
import Foundation
import XCTest
import MQKernels

final class RotaryTests: XCTestCase {
    struct RNG { var s: UInt64; mutating func next() -> Float {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: s >> 11) % 2_000_001) / 1_000_000 - 1 } }

    func random(_ n: Int, seed: UInt64) -> [Float] { var r = RNG(s: seed); return (0..<n).map { _ in r.next() } }

    func testKernelMatchesNaive() {
        // Head dims with D/2 below 8 (scalar path only), a multiple of 8, and a SIMD body plus a tail.
        for (heads, d) in [(3, 8), (5, 16), (2, 64), (71, 64), (4, 22), (1, 2)] {
            let table = RotaryTable(headDim: d, theta: 10_000, positions: 64)
            for position in [0, 1, 13, 63] {
                var fast = random(heads * d, seed: UInt64(d * 100 + position)), slow = fast
                table.withRow(position) { c, s in
                    applyRotaryNeoX(&fast, heads: heads, headDim: d, cos: c, sin: s)
                    applyRotaryNeoXNaive(&slow, heads: heads, headDim: d, cos: c, sin: s)
                }
                let worst = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(worst, 1e-6, "heads \(heads) D \(d) position \(position)")
            }
        }
    }

    func testPositionZeroIsIdentityAndRotationKeepsNorms() {
        let d = 16, table = RotaryTable(headDim: d, theta: 10_000, positions: 100)
        let x = random(2 * d, seed: 7)
        var y = x
        table.withRow(0) { c, s in applyRotaryNeoX(&y, heads: 2, headDim: d, cos: c, sin: s) }
        XCTAssertEqual(y, x)
        table.withRow(77) { c, s in applyRotaryNeoX(&y, heads: 2, headDim: d, cos: c, sin: s) }
        XCTAssertNotEqual(y, x)
        // Each pair (i, i + D/2) is rotated by a plane rotation, so its length is unchanged.
        for h in 0..<2 {
            for i in 0..<(d / 2) {
                let a = x[h * d + i], b = x[h * d + i + d / 2], p = y[h * d + i], q = y[h * d + i + d / 2]
                XCTAssertEqual(a * a + b * b, p * p + q * q, accuracy: 1e-5)
            }
        }
    }

    /// q at position m and k at position n score the same as q at m + s and k at n + s.
    func testScoresDependOnlyOnRelativePosition() {
        let d = 32, table = RotaryTable(headDim: d, theta: 10_000, positions: 200)
        let q = random(d, seed: 11), k = random(d, seed: 12)
        func score(_ m: Int, _ n: Int) -> Float {
            var qq = q, kk = k
            table.withRow(m) { c, s in applyRotaryNeoX(&qq, heads: 1, headDim: d, cos: c, sin: s) }
            table.withRow(n) { c, s in applyRotaryNeoX(&kk, heads: 1, headDim: d, cos: c, sin: s) }
            return zip(qq, kk).reduce(0) { $0 + $1.0 * $1.1 }
        }
        for (m, n) in [(5, 2), (9, 9), (30, 1)] {
            XCTAssertEqual(score(m, n), score(m + 100, n + 100), accuracy: 1e-4, "(\(m), \(n))")
        }
        XCTAssertNotEqual(score(5, 2), score(5, 3), "a different offset must change the score")
    }

    struct Golden: Decodable {
        struct Case: Decodable {
            var head_dim: Int; var theta: Double; var inv_freq: [Float]; var positions: [Int]
            var cos: [[Float]]; var sin: [[Float]]
        }
        var cases: [Case]
    }

    func testTableMatchesTransformers() throws {
        var url = URL(fileURLWithPath: #filePath)
        while url.lastPathComponent != "Tests" { url.deleteLastPathComponent() }
        let data = try Data(contentsOf: url.appendingPathComponent("Fixtures/kernels/rotary.json"))
        let golden = try JSONDecoder().decode(Golden.self, from: data)
        XCTAssertGreaterThanOrEqual(golden.cases.count, 4)
        for g in golden.cases {
            let table = RotaryTable(headDim: g.head_dim, theta: g.theta, positions: g.positions.max()! + 1)
            var ulps = 0
            for (mine, theirs) in zip(table.inverseFrequencies, g.inv_freq) where mine != theirs {
                XCTAssertTrue(mine.nextUp == theirs || mine.nextDown == theirs,
                              "D \(g.head_dim) θ \(g.theta): inv_freq \(mine) vs transformers \(theirs)")
                ulps += 1
            }
            var worst: Float = 0
            for (pi, p) in g.positions.enumerated() {
                table.withRow(p) { c, s in
                    for i in 0..<(g.head_dim / 2) {
                        worst = max(worst, abs(c[i] - g.cos[pi][i]), abs(s[i] - g.sin[pi][i]))
                    }
                }
            }
            // A 1-ulp frequency difference shifts the angle at position p by up to p · ulp(inv_freq).
            let bound: Float = ulps == 0 ? 2e-7 : 2e-7 + Float(g.positions.max()!) * 1.2e-7
            XCTAssertLessThan(worst, bound, "D \(g.head_dim) θ \(g.theta): worst cos/sin difference \(worst)")
            print("rotary D \(g.head_dim) θ \(g.theta): \(ulps) inv_freq off by 1 ulp, worst cos/sin |Δ| = \(worst)")
        }
    }
}
