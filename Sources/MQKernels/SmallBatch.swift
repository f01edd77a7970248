// y = x · Wᵀ + b for a few rows at once (batched decoding: one row per sequence in the step).
//
// Shapes: T = rows (2…maxRows), IN = input features, OUT = output features; W[OUT, IN] row-major.
// OpenBLAS's sgemm packs W for every call and, with so few rows, costs nearly as much per row as
// separate matrix-vector products: batching would then not amortize the weight reads, which is
// the whole point of batching a memory-bound decode. This kernel streams each row of W from memory
// once and applies it to up to four activation rows at a time while the row is in L1; the rows of
// W are split across threads. Reference: `linearNaive` (BLAS.swift), tested against it.
import Foundation

public enum SmallBatch {
    /// Largest T this kernel is used for; beyond it sgemm's blocking wins.
    public static let maxRows = 32
    /// Threads the kernel splits rows over (set with BLAS.setThreads).
    nonisolated(unsafe) static var threads = ProcessInfo.processInfo.activeProcessorCount
}

/// Pointers shared with the worker threads of one call; each thread writes only its own rows of y.
private struct SmallBatchArgs: @unchecked Sendable {
    let x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>
    let t: Int, n: Int, m: Int
}

/// y[T, OUT] = x[T, IN] · W[OUT, IN]ᵀ + bias[OUT]  (bias optional; y is overwritten)
public func linearSmallBatch(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                             _ y: UnsafeMutablePointer<Float>, tokens t: Int, inFeatures n: Int, outFeatures m: Int) {
    let args = SmallBatchArgs(x: x, w: w, bias: bias, y: y, t: t, n: n, m: m)
    let parts = max(1, min(SmallBatch.threads, m / 64))
    if parts == 1 {
        smallBatchRows(args, 0..<m)
    } else {
        let chunk = (m + parts - 1) / parts
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let lo = p * chunk, hi = min(m, lo + chunk)
            if lo < hi { smallBatchRows(args, lo..<hi) }
        }
    }
}

@inline(__always)
private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

/// Output rows `rows` of y for all T input rows: two rows of W against four activation rows at a
/// time (eight independent accumulators hide the FMA latency; each load feeds two or four FMAs).
private func smallBatchRows(_ a: SmallBatchArgs, _ rows: Range<Int>) {
    var o = rows.lowerBound
    while o + 1 < rows.upperBound {
        twoRows(a, o)
        o += 2
    }
    if o < rows.upperBound { oneRow(a, o) }
}

@inline(__always)
private func group(_ a: SmallBatchArgs, _ t0: Int) -> (Int, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) {
    let n = a.n
    let k = min(4, a.t - t0)   // activation rows in this group (missing ones alias row 0 and are not stored)
    let x0 = a.x + t0 * n
    return (k, x0, x0 + (k > 1 ? n : 0), x0 + (k > 2 ? 2 * n : 0), x0 + (k > 3 ? 3 * n : 0))
}

@inline(__always)
private func store(_ a: SmallBatchArgs, _ o: Int, _ t0: Int, _ k: Int, _ r: (Float, Float, Float, Float)) {
    let b = a.bias?[o] ?? 0
    a.y[t0 * a.m + o] = r.0 + b
    if k > 1 { a.y[(t0 + 1) * a.m + o] = r.1 + b }
    if k > 2 { a.y[(t0 + 2) * a.m + o] = r.2 + b }
    if k > 3 { a.y[(t0 + 3) * a.m + o] = r.3 + b }
}

private func twoRows(_ a: SmallBatchArgs, _ o: Int) {
    let n = a.n, n8 = n & ~7
    let wa = a.w + o * n, wb = wa + n
    var t0 = 0
    while t0 < a.t {
        let (k, x0, x1, x2, x3) = group(a, t0)
        var a0 = SIMD8<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        var b0 = a0, b1 = a0, b2 = a0, b3 = a0
        var i = 0
        while i < n8 {
            let va = load8(wa + i), vb = load8(wb + i)
            let v0 = load8(x0 + i), v1 = load8(x1 + i), v2 = load8(x2 + i), v3 = load8(x3 + i)
            a0.addProduct(va, v0); a1.addProduct(va, v1); a2.addProduct(va, v2); a3.addProduct(va, v3)
            b0.addProduct(vb, v0); b1.addProduct(vb, v1); b2.addProduct(vb, v2); b3.addProduct(vb, v3)
            i += 8
        }
        var ra = (a0.sum(), a1.sum(), a2.sum(), a3.sum()), rb = (b0.sum(), b1.sum(), b2.sum(), b3.sum())
        while i < n {
            let p = wa[i], q = wb[i]
            ra.0 += p * x0[i]; ra.1 += p * x1[i]; ra.2 += p * x2[i]; ra.3 += p * x3[i]
            rb.0 += q * x0[i]; rb.1 += q * x1[i]; rb.2 += q * x2[i]; rb.3 += q * x3[i]
            i += 1
        }
        store(a, o, t0, k, ra)
        store(a, o + 1, t0, k, rb)
        t0 += k
    }
}

private func oneRow(_ a: SmallBatchArgs, _ o: Int) {
    let n = a.n, n8 = n & ~7
    let wr = a.w + o * n
    var t0 = 0
    while t0 < a.t {
        let (k, x0, x1, x2, x3) = group(a, t0)
        var s0 = SIMD8<Float>(repeating: 0), s1 = s0, s2 = s0, s3 = s0
        var i = 0
        while i < n8 {
            let wv = load8(wr + i)
            s0.addProduct(wv, load8(x0 + i)); s1.addProduct(wv, load8(x1 + i))
            s2.addProduct(wv, load8(x2 + i)); s3.addProduct(wv, load8(x3 + i))
            i += 8
        }
        var r = (s0.sum(), s1.sum(), s2.sum(), s3.sum())
        while i < n {
            let wv = wr[i]
            r.0 += wv * x0[i]; r.1 += wv * x1[i]; r.2 += wv * x2[i]; r.3 += wv * x3[i]
            i += 1
        }
        store(a, o, t0, k, r)
        t0 += k
    }
}
