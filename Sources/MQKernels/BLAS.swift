// Matrix products through OpenBLAS, and the naive references they are tested against.
//
// Shapes: T = tokens in the step, IN = input features, OUT = output features.
// Weights are stored as PyTorch `nn.Linear` stores them: W[OUT, IN], row-major, so y = x · Wᵀ + b.
// Batch-1 decoding is a matrix-vector product that streams W once from memory: it is memory-bound,
// and sgemv over rows of W is the access pattern that lets the memory bus set the speed.
import COpenBLAS

/// What the BLAS library reports about itself once loaded.
public struct BLASInfo: Sendable, CustomStringConvertible {
    /// Kernel family OpenBLAS runs ("Haswell", "SkylakeX", "Prescott" means the slow fallback).
    public var coreName: String
    /// The OPENBLAS_CORETYPE mq chose from cpuid, or nil when the user set one (or none was needed).
    public var chosenCoreType: String?
    public var threads: Int
    public var description: String {
        let how = chosenCoreType.map { "chosen by mq from cpuid: \($0)" } ?? "from the environment or OpenBLAS's own detection"
        return "OpenBLAS kernels \(coreName) (\(how)), \(threads) thread\(threads == 1 ? "" : "s")"
    }
}

public enum BLASError: Error, CustomStringConvertible {
    case unavailable(String)
    public var description: String {
        switch self { case .unavailable(let why): return why }
    }
}

public enum BLAS {
    /// Opens OpenBLAS (once). Every entry point of MQKernels that multiplies matrices needs this first;
    /// model loading calls it, so errors surface at load time rather than mid-generation.
    public static func load() throws {
        var buf = [CChar](repeating: 0, count: 512)
        if mq_blas_load(&buf, buf.count) != 0 {
            throw BLASError.unavailable(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    public static var info: BLASInfo {
        let chosen = String(cString: mq_blas_chosen_coretype())
        return BLASInfo(coreName: String(cString: mq_blas_corename()),
                        chosenCoreType: chosen.isEmpty ? nil : chosen,
                        threads: Int(mq_blas_get_num_threads()))
    }

    /// Sets OpenBLAS's thread count (takes effect for the next call).
    public static func setThreads(_ n: Int) {
        mq_blas_set_num_threads(Int32(max(1, n)))
        SmallBatch.threads = max(1, n)
    }
}

/// y[T, OUT] = x[T, IN] · W[OUT, IN]ᵀ + bias[OUT]   (bias optional; y is overwritten)
@inlinable
public func linear(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                   _ y: UnsafeMutablePointer<Float>, tokens t: Int, inFeatures n: Int, outFeatures m: Int) {
    if let bias {
        for r in 0..<t { (y + r * m).update(from: bias, count: m) }
    }
    let beta: Float = bias == nil ? 0 : 1
    if t == 1 {
        // y[OUT] = W[OUT, IN] · x[IN]
        mq_sgemv(0, Int32(m), Int32(n), 1, w, Int32(n), x, beta, y)
    } else if t <= SmallBatch.maxRows {
        // A few rows (batched decode): stream W once for all of them.
        linearSmallBatch(x, w, bias, y, tokens: t, inFeatures: n, outFeatures: m)
    } else {
        // y[T, OUT] = x[T, IN] · Wᵀ[IN, OUT]
        mq_sgemm(0, 1, Int32(t), Int32(m), Int32(n), 1, x, Int32(n), w, Int32(n), beta, y, Int32(m))
    }
}

/// Reference for `linear`: the definition, accumulated in Double.
public func linearNaive(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                        _ y: UnsafeMutablePointer<Float>, tokens t: Int, inFeatures n: Int, outFeatures m: Int) {
    for r in 0..<t {
        for o in 0..<m {
            var acc = Double(bias?[o] ?? 0)
            for i in 0..<n { acc += Double(x[r * n + i]) * Double(w[o * n + i]) }
            y[r * m + o] = Float(acc)
        }
    }
}
