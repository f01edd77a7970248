// The Q8_0 product on every int8 kernel this CPU runs (scalar, AVX2, AVX-512 VNNI) against the
// Swift reference, bit for bit; its independence from threads and batch; and its distance from
// the float32 product (the quantization error, bounded per output by the blocks' scales).
import XCTest
import MQKernels

final class Q8Tests: XCTestCase {
    struct RNG { var s: UInt64; mutating func next() -> Float {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: s >> 11) % 2_000_001) / 1_000_000 - 1 } }

    func random(_ n: Int, seed: UInt64) -> [Float] { var r = RNG(s: seed); return (0..<n).map { _ in r.next() } }

    func q8(_ w: [Float], _ m: Int, _ n: Int, threads: Int = 1) -> Q8Weight {
        w.withUnsafeBufferPointer { Q8Weight(name: "w", $0.baseAddress!, outFeatures: m, inFeatures: n, threads: threads) }
    }

    func run(_ x: [Float], _ w: Q8Weight, _ b: [Float]?, t: Int, threads: Int, kernel: Q8Kernel) -> [Float] {
        var y = [Float](repeating: .nan, count: t * w.outFeatures)
        b.withOptionalPointer { bp in
            linearQ8(x, w, bp, &y, tokens: t, compute: ComputeContext(threads: threads), kernel: kernel)
        }
        return y
    }

    func testThisMachineRunsTheExpectedKernels() {
        // Not an assertion about other machines: it prints which paths the tests below covered.
        print("Q8 kernels on this CPU: \(Q8Kernel.supported.map(\.description).joined(separator: ", ")); best \(Q8Kernel.best)")
        XCTAssertTrue(Q8Kernel.supported.contains(.scalar))
        XCTAssertEqual(Q8Kernel.best, Q8Kernel.supported.last)
    }

    func testEveryKernelMatchesTheReferenceBitForBit() {
        // Row counts hitting every tile (1; 2–3; 4 and leftovers), inputs not multiples of 32 (a padded
        // last block), outputs not multiples of 16, and enough groups to split across threads.
        for (t, n, m) in [(1, 32, 16), (1, 37, 53), (2, 70, 33), (3, 64, 300), (5, 96, 130), (9, 33, 1),
                          (16, 130, 129), (1, 768, 200), (17, 100, 70)] {
            let x = random(t * n, seed: 1), wf = random(m * n, seed: 2), b = random(m, seed: 3)
            let w = q8(wf, m, n)
            for bias in [true, false] {
                var ref = [Float](repeating: 0, count: t * m)
                (bias ? b : nil).withOptionalPointer { bp in linearQ8Naive(x, wf, bp, &ref, tokens: t, inFeatures: n, outFeatures: m) }
                for kernel in Q8Kernel.supported {
                    for threads in [1, 3] {
                        let y = run(x, w, bias ? b : nil, t: t, threads: threads, kernel: kernel)
                        XCTAssertEqual(y.map(\.bitPattern), ref.map(\.bitPattern),
                                       "\(kernel), T=\(t) IN=\(n) OUT=\(m) bias=\(bias) threads=\(threads)")
                    }
                }
            }
        }
    }

    func testRowsDoNotDependOnTheOtherRowsOrThreads() {
        let n = 200, m = 150, t = 11
        let x = random(t * n, seed: 4), w = q8(random(m * n, seed: 5), m, n, threads: 2), b = random(m, seed: 6)
        let all = run(x, w, b, t: t, threads: 2, kernel: .best)
        for r in [0, 3, 10] {
            let alone = run(Array(x[(r * n)..<((r + 1) * n)]), w, b, t: 1, threads: 1, kernel: .best)
            XCTAssertEqual(alone, Array(all[(r * m)..<((r + 1) * m)]), "row \(r)")
        }
    }

    func testQuantizationErrorIsWithinTheBlockScales() {
        // |W·x − Q(W)·Q(x)| per output is at most Σ_blocks (|w|·dx/2 + |x|·dw/2 + dw·dx/4) plus float
        // rounding; with values in [−1, 1] and 32-wide blocks that is well under 1% of Σ|w·x|'s scale.
        let t = 3, n = 512, m = 64
        let x = random(t * n, seed: 7), wf = random(m * n, seed: 8)
        let w = q8(wf, m, n)
        var exact = [Float](repeating: 0, count: t * m)
        linearNaive(x, wf, nil, &exact, tokens: t, inFeatures: n, outFeatures: m)
        let y = run(x, w, nil, t: t, threads: 1, kernel: .best)
        for i in 0..<(t * m) {
            let r = i / m, o = i % m
            var bound: Float = 0
            for k in 0..<n { bound += abs(wf[o * n + k]) * (1 / 254) + abs(x[r * n + k]) * (1 / 254) + 1 / (254 * 254) }
            XCTAssertLessThanOrEqual(abs(y[i] - exact[i]), bound * 1.01 + 1e-4, "output \(i)")
        }
        let rms = sqrt(zip(y, exact).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Float(y.count))
        let scale = sqrt(exact.map { $0 * $0 }.reduce(0, +) / Float(exact.count))
        XCTAssertLessThan(rms / scale, 0.01, "relative RMS error \(rms / scale)")
    }

    func testPackingStoredBytesEqualsPackingTheirFloats() {
        let m = 40, n = 70
        let wf = random(m * n, seed: 9)
        let half = wf.map { Float16($0) }, halfValues = half.map { Float($0) }
        let bf = wf.map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) }, bfValues = bf.map { Float(bitPattern: UInt32($0) << 16) }
        let fromHalf = half.withUnsafeBytes { Q8Weight(name: "h", bytes: $0.baseAddress!, encoding: .f16, outFeatures: m, inFeatures: n, threads: 2) }
        let fromBF = bf.withUnsafeBytes { Q8Weight(name: "b", bytes: $0.baseAddress!, encoding: .bf16, outFeatures: m, inFeatures: n, threads: 3) }
        let fromF32 = wf.withUnsafeBytes { Q8Weight(name: "f", bytes: $0.baseAddress!, encoding: .f32, outFeatures: m, inFeatures: n) }
        func rows(_ w: Q8Weight) -> [Float] {
            var out = [Float](repeating: 0, count: m * n)
            out.withUnsafeMutableBufferPointer { p in for o in 0..<m { w.copyRow(o, into: p.baseAddress! + o * n) } }
            return out
        }
        XCTAssertEqual(rows(fromHalf), rows(q8(halfValues, m, n)))
        XCTAssertEqual(rows(fromBF), rows(q8(bfValues, m, n)))
        XCTAssertEqual(rows(fromF32), rows(q8(wf, m, n)))
        // Dequantized weights are within half a step (amax/254) of the originals, plus the float16
        // scale's rounding (≤ 2⁻¹¹ relative, times |q| ≤ 127: amax/2048).
        let dq = rows(fromF32)
        for o in 0..<m {
            for b in 0..<((n + 31) / 32) {
                let idx = (b * 32)..<min(n, b * 32 + 32)
                let amax = idx.map { abs(wf[o * n + $0]) }.max()!
                for i in idx { XCTAssertLessThanOrEqual(abs(dq[o * n + i] - wf[o * n + i]), amax * (1 / 254 + 1 / 2048) + 1e-6) }
            }
        }
        XCTAssertEqual(fromF32.byteCount, m * 3 * 34)
        XCTAssertEqual(fromF32.format, .q8_0)
    }
}

extension Optional where Wrapped == [Float] {
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}
