// The pieces under the sampler, each against a plain reference: Philox against Random123's
// known answers, our exp and chunked sums against Foundation's exp, the chunk walk against a
// linear scan, ranked keys against Float order, and the allocation-free sort and selections
// against sorting with Array.sorted.
import Foundation
import XCTest
@testable import MQSampling

final class PhiloxTests: XCTestCase {
    // Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter, key -> output.
    func testKnownAnswerVectors() {
        let vectors: [(SIMD4<UInt32>, SIMD2<UInt32>, SIMD4<UInt32>)] = [
            (SIMD4(0, 0, 0, 0), SIMD2(0, 0), SIMD4(0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
            (SIMD4(repeating: 0xffff_ffff), SIMD2(repeating: 0xffff_ffff),
             SIMD4(0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)),
            (SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), SIMD2(0xa409_3822, 0x299f_31d0),
             SIMD4(0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)),
        ]
        for (counter, key, expected) in vectors {
            XCTAssertEqual(Philox4x32.block(counter: counter, key: key), expected)
        }
    }

    func testUniformIsInRangeAndDependsOnSeedAndStep() {
        var seen = Set<Double>()
        for seed: UInt64 in [0, 1, 0xFFFF_FFFF, 1 << 32, .max] {
            for step: UInt64 in [0, 1, 2, 1 << 32, .max] {
                let u = samplingUniform(seed: seed, step: step)
                XCTAssert(u >= 0 && u < 1, "u = \(u)")
                seen.insert(u)
                XCTAssertEqual(u, samplingUniform(seed: seed, step: step))
            }
        }
        XCTAssertEqual(seen.count, 25, "every (seed, step) pair should give its own number")
    }

    func testUniformMeanAndSpread() {
        // 20k draws of one seed: the mean is 0.5 within 5 sigma (sigma = 0.289 / sqrt(20000) = 0.002),
        // and each tenth of [0, 1) gets 2000 draws within 5 sigma (sigma = 42).
        var sum = 0.0
        var deciles = [Int](repeating: 0, count: 10)
        for step in 0..<20_000 as Range<UInt64> {
            let u = samplingUniform(seed: 42, step: step)
            sum += u
            deciles[Int(u * 10)] += 1
        }
        XCTAssertEqual(sum / 20_000, 0.5, accuracy: 0.0102)
        for (i, n) in deciles.enumerated() { XCTAssert(abs(n - 2000) < 212, "decile \(i): \(n)") }
    }
}

final class ExpKernelTests: XCTestCase {
    func testExpMatchesFoundationWithinTwoUlps() {
        var worst = 0.0
        var x = -708.0
        while x <= 0 {
            for offset in [0.0, 0.123456789, 0.5, 0.3465735902799727, -0.3465735902799727] where x + offset <= 0 && x + offset >= -708 {
                let v = x + offset
                let got = ExpKernel.expNonPositive(v)
                let want = Foundation.exp(v)
                worst = max(worst, abs(got - want) / want.ulp)
            }
            x += 0.37
        }
        XCTAssertLessThanOrEqual(worst, 2, "worst error \(worst) ulps")
        XCTAssertEqual(ExpKernel.expNonPositive(0), 1)
    }

    func testExpIsZeroBelowCutoffAndForNonFinite() {
        for x in [-708.5, -.infinity, .nan, -1e300] { XCTAssertEqual(ExpKernel.expNonPositive(x), 0, "exp(\(x))") }
    }

    func testChunkSumsMatchNaiveWeights() {
        var rng = TestRNG(1)
        for count in [1, 7, 8, 9, 63, 1000, 4099] {
            var values = rng.logits(count)
            values[count / 2] = -.infinity
            let m = Double(values.max()!)
            for scale in [1.0, 1 / 0.7, 1 / 3.0] {
                var sums = [Double](repeating: .nan, count: ExpKernel.chunkCount(count))
                let total = values.withUnsafeBufferPointer { v in
                    sums.withUnsafeMutableBufferPointer {
                        ExpKernel.sum(v.baseAddress!, count: count, shift: m, scale: scale, chunkSums: $0.baseAddress!)
                    }
                }
                let naive = values.withUnsafeBufferPointer { ExpKernel.weightsNaive($0, shift: m, scale: scale) }
                XCTAssertEqual(total, naive.reduce(0, +), accuracy: 1e-13 * total, "count \(count)")
                for c in sums.indices {
                    let want = naive[(c * 8)..<min(count, c * 8 + 8)].reduce(0, +)
                    XCTAssertEqual(sums[c], want, accuracy: 1e-14 * max(want, 1e-300), "count \(count) chunk \(c)")
                }
                XCTAssertEqual(total, sums.reduce(0, +), "the total is the in-order sum of the chunk sums")
            }
        }
    }

    func testLocateAgreesWithLinearScan() {
        var rng = TestRNG(2)
        let count = 777
        var values = rng.logits(count)
        for i in stride(from: 0, to: count, by: 5) { values[i] = -.infinity }   // zero weights must never be found
        let m = Double(values.max()!)
        var sums = [Double](repeating: 0, count: ExpKernel.chunkCount(count))
        let weights = values.withUnsafeBufferPointer { ExpKernel.weightsNaive($0, shift: m, scale: 1) }
        values.withUnsafeBufferPointer { v in
            sums.withUnsafeMutableBufferPointer { s in
                let total = ExpKernel.sum(v.baseAddress!, count: count, shift: m, scale: 1, chunkSums: s.baseAddress!)
                var cumulative = [Double]()
                var running = 0.0
                for w in weights { running += w; cumulative.append(running) }
                for k in 0..<2000 {
                    let target = Double(k) / 2000 * total
                    guard let got = ExpKernel.locate(target, inclusive: false, values: v.baseAddress!, count: count,
                                                     shift: m, scale: 1, chunkSums: s.baseAddress!) else {
                        return XCTFail("no index for target \(target) < total \(total)")
                    }
                    XCTAssertGreaterThan(weights[got], 0, "picked a zero-weight index")
                    let want = cumulative.firstIndex { $0 > target }!
                    // The two running sums are added in different orders: allow the neighbour when
                    // the target sits within rounding of a boundary.
                    if got != want {
                        XCTAssertEqual(cumulative[min(got, want)], target, accuracy: 1e-12 * total)
                    }
                }
                XCTAssertEqual(ExpKernel.lastPositive(values: v.baseAddress!, count: count, shift: m, scale: 1,
                                                      chunkSums: s.baseAddress!),
                               weights.lastIndex { $0 > 0 })
            }
        }
    }
}

final class RankedKeyTests: XCTestCase {
    func testKeyOrderIsValueDescendingThenIDAscending() {
        let values: [Float] = [-.infinity, -.greatestFiniteMagnitude, -2, -1, -.leastNonzeroMagnitude, -0.0, 0,
                               .leastNonzeroMagnitude, 1, 2, .greatestFiniteMagnitude, .infinity]
        var keys: [(value: Float, id: Int, key: UInt64)] = []
        for v in values {
            for id in [0, 1, 65_535, 4_000_000_000] { keys.append((v, id, RankedKey.make(v, id))) }
        }
        for a in keys {
            XCTAssertEqual(RankedKey.id(a.key), a.id)
            XCTAssertEqual(RankedKey.value(a.key), a.value)
            XCTAssertEqual(RankedKey.value(a.key).sign, a.value == 0 ? .plus : a.value.sign)
            for b in keys where a.value != b.value || a.id != b.id {
                let aFirst = a.value != b.value ? a.value > b.value : a.id < b.id
                XCTAssertEqual(a.key > b.key, aFirst, "\(a.value)#\(a.id) vs \(b.value)#\(b.id)")
            }
        }
        XCTAssertEqual(RankedKey.make(-0.0, 3), RankedKey.make(0.0, 3), "-0 ranks as +0")
    }

    func testSortMatchesArraySorted() {
        var rng = TestRNG(3)
        var inputs: [[UInt64]] = [[], [5], [1, 2], [2, 1]]
        for n in [17, 100, 1000, 20_000] {
            let random = (0..<n).map { _ in rng.next() }
            inputs.append(random)
            inputs.append(random.sorted())                       // ascending: worst shape for naive pivots
            inputs.append(random.sorted(by: >))
            let half = random.sorted()
            inputs.append(Array(half[..<(n / 2)]) + half[(n / 2)...].reversed())   // organ pipe
            // Many equal logits: only the id half of the key differs.
            inputs.append((0..<n).map { RankedKey.make(Float(rng.next() % 3), $0) }.shuffled(using: &rng))
        }
        for input in inputs {
            var a = input
            a.withUnsafeMutableBufferPointer { RankedKey.sortDescending($0) }
            XCTAssertEqual(a, input.sorted(by: >), "n = \(input.count)")
        }
    }

    func testKthLargestValueMatchesSorting() {
        var rng = TestRNG(4)
        for n in [1, 2, 16, 17, 100, 5000] {
            for shape in 0..<4 {
                var values = rng.logits(n)
                if shape == 1 { values.sort() }                           // every value enters the heap
                if shape == 2 { values.sort(by: >) }
                if shape == 3 { values = values.map { ($0 * 2).rounded() } }   // many ties
                if n > 3 { values[n / 3] = -.infinity }
                let sorted = values.sorted(by: >)
                var heap = [UInt64](repeating: 0, count: n)
                var histogram = [Int32](repeating: 0, count: RankedKey.radixBuckets)
                for k in Set([1, 2, n / 3 + 1, n / 2 + 1, n - 1, n]) where k >= 1 && k <= n {
                    let (got, radix) = values.withUnsafeBufferPointer { v in
                        heap.withUnsafeMutableBufferPointer { h in
                            histogram.withUnsafeMutableBufferPointer { hist in
                                (RankedKey.kthLargestValue(v.baseAddress!, count: n, k: k, heap: h.baseAddress!,
                                                           histogram: hist.baseAddress!),
                                 RankedKey.radixSelect(v.baseAddress!, count: n, k: k, histogram: hist.baseAddress!))
                            }
                        }
                    }
                    XCTAssertEqual(got, sorted[k - 1], "n \(n) shape \(shape) k \(k)")
                    XCTAssertEqual(radix, sorted[k - 1], "radix select: n \(n) shape \(shape) k \(k)")
                }
            }
        }
    }

    func testRadixSelectOnSpecialValues() {
        let values: [Float] = [3, -.infinity, -0.0, 0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, -2, .infinity, 3, -.greatestFiniteMagnitude, 7.5]
        let sorted = values.sorted(by: >)
        var histogram = [Int32](repeating: 0, count: RankedKey.radixBuckets)
        for k in 1...values.count {
            let got = values.withUnsafeBufferPointer { v in
                histogram.withUnsafeMutableBufferPointer {
                    RankedKey.radixSelect(v.baseAddress!, count: v.count, k: k, histogram: $0.baseAddress!)
                }
            }
            XCTAssertEqual(got, sorted[k - 1], "k \(k)")
        }
    }

    /// The nucleus by definition: sort, then the shortest prefix whose weights reach the target.
    private func referenceNucleus(_ keys: [UInt64], target: Double, shift: Double, scale: Double) -> Set<UInt64> {
        var total = 0.0
        var kept: Set<UInt64> = []
        for key in keys.sorted(by: >) {
            kept.insert(key)
            total += Foundation.exp((Double(RankedKey.value(key)) - shift) * scale)
            if total >= target { break }
        }
        return kept
    }

    func testSelectNucleusMatchesSortedPrefix() {
        var rng = TestRNG(5)
        for n in [1, 5, 17, 300, 6000] {
            for scale: Float in [0.01, 1, 6] {   // nearly flat to very peaked
                let logits = rng.logits(n, scale: scale)
                let keys = logits.enumerated().map { RankedKey.make($0.element, $0.offset) }
                let shift = Double(logits.max()!)
                let total = logits.reduce(0.0) { $0 + Foundation.exp(Double($1) - shift) }
                for p in [1e-9, 0.3, 0.9, 0.999] {
                    var a = keys
                    let got = a.withUnsafeMutableBufferPointer {
                        RankedKey.selectNucleus($0, target: p * total, shift: shift, scale: 1)
                    }
                    let want = referenceNucleus(keys, target: p * total, shift: shift, scale: 1)
                    XCTAssertEqual(Set(a[..<got]), want, "n \(n) scale \(scale) p \(p)")
                    XCTAssertEqual(Set(a), Set(keys), "selection must permute, not lose, keys")
                }
                // A target above the total (rounding): everything is kept.
                var a = keys
                XCTAssertEqual(a.withUnsafeMutableBufferPointer {
                    RankedKey.selectNucleus($0, target: total * 2, shift: shift, scale: 1)
                }, n)
            }
        }
    }
}
