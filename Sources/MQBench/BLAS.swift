// OpenBLAS, opened at run time, as the yardstick of `mq bench linear` and nothing else: the model's
// products run on mq's own kernel over packed weights (PackedLinear.swift: one
// summation order whatever the batch, memory-bound at one row, ≥ sgemm at 2–32 rows); OpenBLAS
// stays as the yardstick `mq bench linear` measures that kernel against, side by side.
import COpenBLAS
import MQKernels

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
    /// Opens OpenBLAS (once): only `mq bench linear` and the BLAS tests use it; models never do.
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

    /// Sets OpenBLAS's own thread count (the library keeps it; takes effect for the next call). mq's
    /// packed kernel takes its threads from the `ComputeContext` each call is given.
    public static func setThreads(_ n: Int) {
        mq_blas_set_num_threads(Int32(max(1, n)))
    }
}

