// `mq bench linear`: speed of y = x · Wᵀ for the row counts a decode step has (1 = one sequence,
// 2…32 = a batch, more = a prefill), with mq's packed kernel and OpenBLAS side by side in one run.
//
// A step of a batched decode reads every weight once and multiplies it by T activation rows, so
// the question per shape is whether the product is still paced by memory (weight GB/s near the
// stream bandwidth) or has become compute-bound (GFLOP/s near the cores' FMA peak).
import Foundation
import COpenBLAS
import MQKernels

public struct LinearBenchmarkRow: Sendable, Codable {
    public var inFeatures: Int, outFeatures: Int, rows: Int
    /// How mq's panels stored W ("f32", "f16", "bf16"); OpenBLAS always reads float32.
    public var storage: String
    /// Median time of one call (ms) with `linear` (mq's kernel over packed weights).
    public var msLinear: Double
    /// The same product through OpenBLAS sgemm (sgemv at one row).
    public var msBLAS: Double
    public var gflopsLinear: Double { 2.0 * Double(rows * inFeatures * outFeatures) / msLinear / 1e6 }
    public var gflopsBLAS: Double { 2.0 * Double(rows * inFeatures * outFeatures) / msBLAS / 1e6 }
    /// Weight bytes read per call over the call's time: the memory-bound figure of merit.
    public var weightGBpsLinear: Double {
        Double((PackedWeight.Storage(rawValue: storage)?.size ?? 4) * inFeatures * outFeatures) / msLinear / 1e6
    }
}

public enum LinearBenchmark {
    /// Times each (shape, rows) pair: repeats calls for at least `seconds` and keeps the median.
    /// Weights are allocated per shape and are larger than the caches for real model shapes, so the
    /// figures include streaming W from memory as a decode step does.
    /// `storage` sets mq's panels (W is rounded to that format first, so both sides multiply the
    /// same values). mq's kernel runs with `compute`; OpenBLAS with what `BLAS.setThreads` set.
    public static func run(shapes: [(inFeatures: Int, outFeatures: Int)], rows: [Int], seconds: Double = 0.3, cacheResident: Bool = false,
                           storage: PackedWeight.Storage = .f32, compute: ComputeContext) throws -> [LinearBenchmarkRow] {
        try BLAS.load()
        var out: [LinearBenchmarkRow] = []
        for (n, m) in shapes {
            // Several copies of W so consecutive calls do not find it in the last-level cache.
            let copies = cacheResident ? 1 : max(1, (64 << 20) / max(1, 4 * n * m))
            var w = [Float](repeating: 0, count: copies * n * m)
            var seed: UInt32 = 12345
            for i in w.indices { seed = seed &* 1664525 &+ 1013904223; w[i] = Float(Int32(bitPattern: seed >> 8) - (1 << 23)) / Float(1 << 25) }
            for i in w.indices { w[i] = storage.stored(w[i]) }
            let packs = (0..<copies).map { c in w.withUnsafeBufferPointer { PackedWeight(name: "w", $0.baseAddress! + c * n * m, outFeatures: m, inFeatures: n, storage: storage) } }
            let maxT = rows.max() ?? 1
            let x = (0..<(maxT * n)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 }
            var y = [Float](repeating: 0, count: maxT * m)
            for t in rows {
                let ms1 = try time(seconds: seconds, copies: copies) { c in
                    y.withUnsafeMutableBufferPointer { yp in linear(x, packs[c], nil, yp.baseAddress!, tokens: t, compute: compute) }
                }
                let ms2 = try time(seconds: seconds, copies: copies) { c in
                    w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
                        if t == 1 {
                            mq_sgemv(0, Int32(m), Int32(n), 1, wp.baseAddress! + c * n * m, Int32(n), x, 0, yp.baseAddress!)
                        } else {
                            mq_sgemm(0, 1, Int32(t), Int32(m), Int32(n), 1, x, Int32(n), wp.baseAddress! + c * n * m, Int32(n), 0, yp.baseAddress!, Int32(m))
                        }
                    } }
                }
                out.append(LinearBenchmarkRow(inFeatures: n, outFeatures: m, rows: t, storage: storage.rawValue, msLinear: ms1, msBLAS: ms2))
            }
        }
        return out
    }

    private static func time(seconds: Double, copies: Int, _ body: (Int) -> Void) throws -> Double {
        for c in 0..<min(copies, 3) { body(c) }
        var samples: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        var c = 0
        while samples.count < 5 || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body(c)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            c = (c + 1) % copies
            if samples.count >= 10_000 { break }
        }
        samples.sort()
        return samples[samples.count / 2]
    }
}
