// Each fast kernel against its naive reference, on random inputs of awkward sizes (not multiples of 8).
// Tolerances: float32 kernels vs Double references; 1e-4 absolute for the linear products (sums of
// a few hundred terms of magnitude ≤ 1), 1e-6 absolute for element-wise functions.
import XCTest
import MQKernels

final class KernelTests: XCTestCase {
    struct RNG { var s: UInt64; mutating func next() -> Float {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: s >> 11) % 2_000_001) / 1_000_000 - 1 } }

    func random(_ n: Int, seed: UInt64) -> [Float] { var r = RNG(s: seed); return (0..<n).map { _ in r.next() } }

    func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    func packed(_ w: [Float], _ m: Int, _ n: Int) -> PackedWeight {
        w.withUnsafeBufferPointer { PackedWeight(name: "w", $0.baseAddress!, outFeatures: m, inFeatures: n) }
    }

    func testPackedWeightKeepsTheMatrix() {
        for (m, n) in [(1, 1), (7, 3), (8, 5), (53, 37)] {
            let w = random(m * n, seed: 21)
            let p = packed(w, m, n)
            XCTAssertEqual(p.unpacked, w, "pack/unpack \(m)x\(n)")
            var row = [Float](repeating: 0, count: n)
            p.copyRow(m - 1, into: &row)
            XCTAssertEqual(row, Array(w[(m - 1) * n ..< m * n]))
        }
    }

    func testLinearMatchesNaive() {
        // Every tile shape (1, 2, 3, ≥4 rows), rows beyond a group of 4, output counts that are not
        // multiples of 8 (and below one vector), enough outputs to split across threads, and
        // prefill-sized row counts.
        for (t, n, m) in [(1, 37, 53), (2, 37, 53), (3, 64, 300), (4, 96, 130), (5, 771, 257), (9, 8, 70), (16, 130, 129),
                          (17, 33, 1), (32, 33, 65), (3, 130, 7), (1, 300, 1000), (70, 64, 96)] {
            let x = random(t * n, seed: 1), w = random(m * n, seed: 2), b = random(m, seed: 3)
            let p = packed(w, m, n)
            for bias in [true, false] {
                var slow = [Float](repeating: 9, count: t * m)
                var serial: [Float]?
                // The thread count changes how outputs are split, never a number.
                for threads in [1, 2, 3] {
                    var fast = [Float](repeating: 9, count: t * m)
                    b.withUnsafeBufferPointer { bp in
                        let bb = bias ? bp.baseAddress : nil
                        linear(x, p, bb, &fast, tokens: t, compute: ComputeContext(threads: threads))
                        linearNaive(x, w, bb, &slow, tokens: t, inFeatures: n, outFeatures: m)
                    }
                    XCTAssertLessThan(maxDiff(fast, slow), 1e-4, "linear \(t)x\(n)->\(m) bias \(bias), \(threads) threads")
                    if let serial { XCTAssertEqual(fast, serial, "linear \(t)x\(n)->\(m) bias \(bias): \(threads) threads vs 1") } else { serial = fast }
                }
            }
        }
    }

    func testHalfPanelsGiveTheFloat32PanelsNumbersExactly() {
        // Weights that came from F16 / BF16 checkpoints keep 2-byte panels; widening is exact, so
        // every tile (1, 2, 3, ≥4 rows, sliced and not, the one-vector tail) must give the very
        // same floats as float32 panels holding the same values.
        for storage in [PackedWeight.Storage.f16, .bf16] {
            for (t, n, m) in [(1, 300, 1000), (2, 37, 53), (3, 64, 300), (5, 771, 257), (16, 600, 301), (40, 130, 129)] {
                let exact = random(m * n, seed: 41).map { v -> Float in
                    storage == .f16 ? Float(Float16(v)) : Float(bitPattern: v.bitPattern & 0xFFFF_0000)
                }
                let half = exact.withUnsafeBufferPointer { PackedWeight(name: "w", $0.baseAddress!, outFeatures: m, inFeatures: n, storage: storage) }
                XCTAssertEqual(half.storage, storage)
                XCTAssertEqual(half.byteCount, m * n * 2)
                XCTAssertEqual(half.unpacked, exact, "\(storage) pack/unpack")
                let full = packed(exact, m, n)
                let x = random(t * n, seed: 42), b = random(m, seed: 43)
                var y1 = [Float](repeating: 0, count: t * m), y2 = y1
                b.withUnsafeBufferPointer { bp in
                    linear(x, half, bp.baseAddress, &y1, tokens: t, compute: .allCores)
                    linear(x, full, bp.baseAddress, &y2, tokens: t, compute: .allCores)
                }
                XCTAssertEqual(y1, y2, "\(storage) panels \(t)x\(n)->\(m)")
            }
        }
    }

    func testPackingStoredBytesEqualsPackingTheirFloatValues() {
        // A checkpoint's matrix packed straight from its bytes (little-endian, here deliberately
        // unaligned) gives the panels of the same values packed from float32.
        let m = 21, n = 37
        let values = random(m * n, seed: 45)
        for encoding in PackedWeight.Storage.allCases {
            let exact: [Float] = values.map { v in
                switch encoding {
                case .f32: return v
                case .f16: return Float(Float16(v))
                case .bf16: return Float(bitPattern: v.bitPattern & 0xFFFF_0000)
                }
            }
            var bytes: [UInt8] = [0xAB]   // one byte of padding: the data starts unaligned
            for v in exact {
                switch encoding {
                case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
                case .f16: withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { bytes += $0 }
                case .bf16: withUnsafeBytes(of: UInt16(v.bitPattern >> 16).littleEndian) { bytes += $0 }
                }
            }
            let fromBytes = bytes.withUnsafeBytes { PackedWeight(name: "w", bytes: $0.baseAddress! + 1, encoding: encoding, outFeatures: m, inFeatures: n) }
            let fromFloats = exact.withUnsafeBufferPointer { PackedWeight(name: "w", $0.baseAddress!, outFeatures: m, inFeatures: n, storage: encoding) }
            XCTAssertEqual(fromBytes.storage, encoding)
            XCTAssertEqual(fromBytes.unpacked, exact, "\(encoding)")
            let x = random(6 * n, seed: 46)
            var y1 = [Float](repeating: 0, count: 6 * m), y2 = y1
            linear(x, fromBytes, nil, &y1, tokens: 6, compute: .allCores)
            linear(x, fromFloats, nil, &y2, tokens: 6, compute: .allCores)
            XCTAssertEqual(y1, y2, "\(encoding)")
        }
    }

    func testHalfPanelsFallBackToFloat32RatherThanRoundAWeight() {
        var w = random(8 * 16, seed: 44).map { Float(Float16($0)) }
        w[77] = 0.1   // not a half, nor a bfloat16
        for storage in [PackedWeight.Storage.f16, .bf16] {
            let p = w.withUnsafeBufferPointer { PackedWeight(name: "w", $0.baseAddress!, outFeatures: 8, inFeatures: 16, storage: storage) }
            XCTAssertEqual(p.storage, .f32, "\(storage) request with an unrepresentable value")
            XCTAssertEqual(p.unpacked, w)
        }
        let nan = [Float](repeating: .nan, count: 8)
        XCTAssertEqual(nan.withUnsafeBufferPointer { PackedWeight(name: "w", $0.baseAddress!, outFeatures: 1, inFeatures: 8, storage: .f16) }.storage, .f32)
    }

    func testBatchOneTileGivesTheSameBitsOnEveryKernel() {
        // The batch-1 tile runs in Swift on AVX2 registers or in CPanel on AVX-512 ones: the same
        // chains, so the same floats, for every storage, output counts with and without whole
        // blocks and tails, and thread splits. (On a CPU without AVX-512 only one kernel runs.)
        let kernels = PanelKernel.supported
        XCTAssertTrue(kernels.contains(.avx2))
        for storage in PackedWeight.Storage.allCases {
            for (n, m) in [(37, 53), (300, 1000), (771, 257), (64, 96), (130, 8), (16, 200)] {
                let exact = random(m * n, seed: 51).map { storage.stored($0) }
                let w = exact.withUnsafeBufferPointer { PackedWeight(name: "w", $0.baseAddress!, outFeatures: m, inFeatures: n, storage: storage) }
                let x = random(n, seed: 52), b = random(m, seed: 53)
                var slow = [Float](repeating: 0, count: m)
                b.withUnsafeBufferPointer { linearNaive(x, exact, $0.baseAddress, &slow, tokens: 1, inFeatures: n, outFeatures: m) }
                var first: [Float]?
                for kernel in kernels {
                    for threads in [1, 2, 3] {
                        var y = [Float](repeating: 9, count: m)
                        b.withUnsafeBufferPointer { linear(x, w, $0.baseAddress, &y, tokens: 1, compute: ComputeContext(threads: threads), kernel: kernel) }
                        XCTAssertLessThan(maxDiff(y, slow), 1e-4, "\(storage) \(n)->\(m) on \(kernel), \(threads) threads")
                        if let first { XCTAssertEqual(y, first, "\(storage) \(n)->\(m): \(kernel), \(threads) threads vs AVX2 on 1") } else { first = y }
                    }
                }
            }
        }
    }

    func testBatchedTilesGiveTheSameBitsOnEveryKernel() {
        // Groups of 4 rows over a whole wide block run in CPanel's 4 × 12 AVX-512 tile, or in Swift's
        // 4 × 3 AVX2 tiles: the same chains, so the same floats, for every storage, row count (whole
        // and partial groups of 4, one to five groups, several slices with parked chains), output
        // counts with and without whole blocks and tails, and thread splits; each row equal to the
        // row computed alone on AVX2. (On a CPU without AVX-512 only one kernel runs.)
        let kernels = PanelKernel.supported
        for storage in PackedWeight.Storage.allCases {
            for (n, m) in [(300, 1000), (771, 257), (64, 96), (130, 200)] {
                let exact = random(m * n, seed: 61).map { storage.stored($0) }
                let w = exact.withUnsafeBufferPointer { PackedWeight(name: "w", $0.baseAddress!, outFeatures: m, inFeatures: n, storage: storage) }
                let b = random(m, seed: 62)
                for t in [4, 5, 8, 16, 19] {
                    let x = random(t * n, seed: UInt64(63 + t))
                    var alone = [Float]()
                    for r in 0..<t {
                        var y = [Float](repeating: 0, count: m)
                        b.withUnsafeBufferPointer { bp in
                            x.withUnsafeBufferPointer { linear($0.baseAddress! + r * n, w, bp.baseAddress, &y, tokens: 1, compute: .serial, kernel: .avx2) }
                        }
                        alone += y
                    }
                    for kernel in kernels {
                        for threads in [1, 2, 3] {
                            var y = [Float](repeating: 9, count: t * m)
                            b.withUnsafeBufferPointer { linear(x, w, $0.baseAddress, &y, tokens: t, compute: ComputeContext(threads: threads), kernel: kernel) }
                            XCTAssertEqual(y, alone, "\(storage) \(n)->\(m), \(t) rows on \(kernel), \(threads) threads vs each row alone")
                        }
                    }
                }
            }
        }
    }

    func testLinearRowResultsDoNotDependOnTheOtherRows() {
        // The property batching relies on: a row's outputs are bit-identical whether it is computed
        // alone, with 1…39 other rows, or at any position among them, on any number of threads. n spans three slices of the
        // several-row path (the last one partial), so parked chains are covered too.
        let n = 600, m = 301
        let w = random(m * n, seed: 31), b = random(m, seed: 32)
        let p = packed(w, m, n)
        let probe = random(n, seed: 33)
        var alone = [Float](repeating: 0, count: m)
        b.withUnsafeBufferPointer { linear(probe, p, $0.baseAddress, &alone, tokens: 1, compute: .serial) }
        for threads in [1, 2, 3] {
            for t in [2, 3, 4, 5, 7, 8, 16, 31, 32, 33, 40] {
                for at in Set([0, t / 2, t - 1]) {
                    var x = random(t * n, seed: UInt64(100 + t))
                    x.replaceSubrange(at * n ..< (at + 1) * n, with: probe)
                    var y = [Float](repeating: 0, count: t * m)
                    b.withUnsafeBufferPointer { linear(x, p, $0.baseAddress, &y, tokens: t, compute: ComputeContext(threads: threads)) }
                    XCTAssertEqual(Array(y[at * m ..< (at + 1) * m]), alone, "row \(at) of \(t) on \(threads) threads differs from the row alone on one")
                }
            }
        }
    }

    func testExp8MatchesExp() {
        var x: [Float] = stride(from: -87, through: 88, by: 0.37).map { Float($0) }
        x += [0, -0, 1e-8, -1e-8, 0.5, -0.5]
        var i = 0
        while i + 8 <= x.count {
            let v = exp8(SIMD8<Float>(x[i ..< i + 8]))
            for l in 0..<8 {
                let want = Foundation.exp(Double(x[i + l]))
                XCTAssertLessThan(abs(Double(v[l]) - want) / want, 3e-7, "exp(\(x[i + l]))")
            }
            i += 8
        }
    }

    func testLayerNormMatchesNaive() {
        for c in [1, 7, 64, 77] {
            let t = 3
            let x = random(t * c, seed: 4).map { $0 * 5 + 3 }, g = random(c, seed: 5), b = random(c, seed: 6)
            var fast = [Float](repeating: 0, count: t * c), slow = fast
            layerNorm(x, g, b, &fast, tokens: t, channels: c, eps: 1e-5)
            layerNormNaive(x, g, b, &slow, tokens: t, channels: c, eps: 1e-5)
            XCTAssertLessThan(maxDiff(fast, slow), 2e-5, "layerNorm C=\(c)")
            // without bias
            layerNorm(x, g, nil, &fast, tokens: t, channels: c, eps: 1e-5)
            layerNormNaive(x, g, nil, &slow, tokens: t, channels: c, eps: 1e-5)
            XCTAssertLessThan(maxDiff(fast, slow), 2e-5, "layerNorm no bias C=\(c)")
        }
    }

    func testActivationsAndSoftmaxMatchNaive() {
        let x = random(1001, seed: 7).map { $0 * 6 }
        var a = x, b = x
        geluTanh(&a, count: a.count); geluTanhNaive(&b, count: b.count)
        for (u, w) in zip(a, b) { XCTAssertLessThan(abs(u - w), 1e-6 + 1e-6 * abs(w), "geluTanh") }
        // Far tails: exactly v for large v, ~0 (not NaN) for very negative v.
        var tails: [Float] = [-200, -90, -20, 20, 90, 1e30, -1e30, 3]
        geluTanh(&tails, count: tails.count)
        XCTAssertEqual(Array(tails[3 ... 5]), [20, 90, 1e30])
        for v in tails[0 ..< 3] { XCTAssertLessThan(abs(v), 1e-30) }
        XCTAssertFalse(tails[6].isNaN)
        a = x; b = x
        geluErf(&a, count: a.count); geluErfNaive(&b, count: b.count)
        XCTAssertLessThan(maxDiff(a, b), 1e-6)
        a = x; b = x
        softmax(&a, count: a.count); softmaxNaive(&b, count: b.count)
        XCTAssertLessThan(maxDiff(a, b), 1e-7)
        XCTAssertEqual(a.reduce(0, +), 1, accuracy: 1e-5)
        var withInf: [Float] = [0, -.infinity, 1]
        softmax(&withInf, count: 3)
        XCTAssertEqual(withInf[1], 0)
    }

    /// Cached keys/values [N, rowWidth] cut into runs of `lengths` positions, as a paged cache hands them over.
    func withRuns(keys k: [Float], values v: [Float], lengths: [Int], rowWidth w: Int, _ body: (UnsafeBufferPointer<KVRun>) -> Void) {
        k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
            var runs: [KVRun] = []
            var at = 0
            for len in lengths {
                runs.append(KVRun(keys: kp.baseAddress! + at * w, values: vp.baseAddress! + at * w, count: len))
                at += len
            }
            runs.withUnsafeBufferPointer(body)
        } }
    }

    func testAttentionMatchesNaiveForAnyKVHeads() {
        // (H, KVH, D, run lengths): multi-query, grouped, multi-head; D not a multiple of 8 too.
        for (h, kvh, d, runLens) in [(4, 1, 16, [5]), (12, 1, 64, [16, 16, 3]), (8, 2, 24, [7, 1]), (3, 3, 13, [4, 4]), (6, 6, 8, [1])] {
            let n = runLens.reduce(0, +)
            let q = random(h * d, seed: 8)
            let k = random(n * kvh * d, seed: 9), v = random(n * kvh * d, seed: 10)
            var fast = [Float](repeating: 0, count: h * d), slow = fast
            var scores = [Float](repeating: 0, count: h * n)
            withRuns(keys: k, values: v, lengths: runLens, rowWidth: kvh * d) { rp in
                attention(query: q, heads: h, kvHeads: kvh, headDim: d, runs: rp, scale: 0.3, scores: &scores, out: &fast)
                attentionNaive(query: q, heads: h, kvHeads: kvh, headDim: d, runs: rp, scale: 0.3, scores: &scores, out: &slow)
            }
            XCTAssertLessThan(maxDiff(fast, slow), 1e-5, "attention H=\(h) KVH=\(kvh) D=\(d) runs=\(runLens)")
        }
    }

    func testRegisterBlockedAttentionEqualsThePlainLoopsExactly() {
        // D = 64 and 128 (whole 64-value blocks), 80 (a 64 block and two 8-value ones), 16; runs
        // whose lengths are not multiples of four (the one-position tail) and a single position.
        for (h, kvh, d, runLens) in [(12, 1, 64, [16, 16, 3]), (8, 2, 128, [5, 2]), (4, 1, 80, [9]), (6, 3, 16, [1]), (71, 1, 64, [6, 16])] {
            let n = runLens.reduce(0, +)
            let q = random(h * d, seed: 18)
            let k = random(n * kvh * d, seed: 19), v = random(n * kvh * d, seed: 20)
            var blocked = [Float](repeating: 0, count: h * d), plain = blocked
            var scores = [Float](repeating: 0, count: h * n)
            withRuns(keys: k, values: v, lengths: runLens, rowWidth: kvh * d) { rp in
                attention(query: q, heads: h, kvHeads: kvh, headDim: d, runs: rp, scale: 0.125, scores: &scores, out: &blocked)
                attentionPlain(query: q, heads: h, kvHeads: kvh, headDim: d, runs: rp, n: n, scale: 0.125, scores: &scores, out: &plain)
            }
            XCTAssertEqual(blocked, plain, "attention H=\(h) KVH=\(kvh) D=\(d) runs=\(runLens)")
        }
    }
}
