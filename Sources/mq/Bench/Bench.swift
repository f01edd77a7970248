// `mq bench ...`: benchmark commands that print numbers (never run by the test suite).
import ArgumentParser
import Foundation
import MQEngine
import MQBench
import MQKernels
import MQModel

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks.", subcommands: [Decode.self, Linear.self, Memory.self, Serve.self])

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prefill and decode speed of one process, bytes per token and achieved bandwidth.",
            discussion: "Make a real-shape random checkpoint first: tools/make_bench_checkpoint.py --shape tiny_starcoder --out models/bench/tiny_starcoder")
        @OptionGroup var model: ModelOption
        @Option(help: "Sequences decoded together in each step.") var batch: Int = 1
        @Option(help: "Prompt tokens per sequence (prefilled before decoding).") var context: Int = 128
        @Option(help: "Decode steps to time.") var tokens: Int = 32
        @Option(help: "Compute and bandwidth-probe threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
        @Option(help: "How the model holds its matrices: stored (the checkpoint's precision) or q8_0 (quantized at load); a comma-separated list runs each in turn in this process, e.g. stored,q8_0.")
        var weights: String = "stored"
        @Flag(name: .customLong("no-bandwidth"), help: "Skip the streaming-bandwidth measurement.") var noBandwidth = false
        @Flag(help: "Print the report as JSON.") var json = false

        func validate() throws {
            for (n, v) in [("--batch", batch), ("--context", context), ("--tokens", tokens), ("--threads", threads)] where v < 1 {
                throw ValidationError("\(n) must be at least 1")
            }
            _ = try weightList()
        }

        func weightList() throws -> [WeightPrecision] {
            try weights.split(separator: ",").map { w in
                guard let p = WeightPrecision(rawValue: w.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--weights: '\(w)' is not stored or q8_0")
                }
                return p
            }
        }

        func run() throws {
            try reportingErrors {
                for (i, w) in try weightList().enumerated() {
                    var o = DecodeBenchmarkOptions()
                    o.batch = batch; o.context = context; o.tokens = tokens; o.threads = threads
                    o.measureBandwidth = !noBandwidth
                    o.weights = w
                    let r = try DecodeBenchmark.run(directory: try model.directory(), options: o)
                    if json {
                        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
                        writeStdout(String(decoding: try enc.encode(r), as: UTF8.self) + "\n")
                    } else {
                        writeStdout((i > 0 ? "\n" : "") + r.text + "\n")
                    }
                }
            }
        }
    }

    struct Linear: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Speed of one linear layer y = x·Wᵀ at the row counts of batched decoding: mq's kernel and OpenBLAS side by side.",
            discussion: "Shapes default to tiny_starcoder's (hidden 768, MQA c_attn 896, MLP 3072, vocab 49152).")
        @Option(help: "Comma-separated IN×OUT shapes, e.g. 768x3072,3072x768.") var shapes = "768x896,768x768,768x3072,3072x768,768x49152"
        @Option(help: "Comma-separated row counts (sequences in the step).") var rows = "1,2,4,8,16,32"
        @Option(help: "Threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
        @Flag(help: "Reuse one copy of W so it stays in cache (measures arithmetic, not memory).") var cacheResident = false
        @Option(help: "How mq's panels store W: f32, or f16/bf16 as for weights from such checkpoints (OpenBLAS reads float32).")
        var weights: String = "f32"
        @Flag(help: "Print the report as JSON.") var json = false

        func run() throws {
            try reportingErrors {
                func ints(_ s: String, _ sep: Character, _ name: String) throws -> [Int] {
                    try s.split(separator: sep).map { p in
                        guard let v = Int(p.trimmingCharacters(in: .whitespaces)), v >= 1 else { throw ValidationError("\(name): '\(p)' is not a positive integer") }
                        return v
                    }
                }
                let shapeList = try shapes.split(separator: ",").map { s -> (inFeatures: Int, outFeatures: Int) in
                    let d = try ints(String(s), "x", "--shapes")
                    guard d.count == 2 else { throw ValidationError("--shapes: '\(s)' is not IN×OUT (e.g. 768x3072)") }
                    return (d[0], d[1])
                }
                let rowList = try ints(rows, ",", "--rows")
                guard let storage = PackedWeight.Storage(rawValue: weights) else { throw ValidationError("--weights: '\(weights)' is not f32, f16 or bf16") }
                try BLAS.load()
                BLAS.setThreads(threads)
                let r = try LinearBenchmark.run(shapes: shapeList, rows: rowList, cacheResident: cacheResident, storage: storage,
                                                compute: ComputeContext(threads: threads))
                if json {
                    let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
                    writeStdout(String(decoding: try enc.encode(r), as: UTF8.self) + "\n")
                    return
                }
                writeStdout("\(BLAS.info.description)\n")
                writeStdout("mq panels \(storage.rawValue) (\(storage.size) bytes per weight)\n")
                writeStdout("   IN    OUT rows |  mq ms  GFLOP/s  W GB/s | sgemm ms  GFLOP/s | sgemm/mq\n")
                for x in r {
                    writeStdout(String(format: "%5d %6d %4d | %6.3f %8.1f %7.2f | %8.3f %8.1f | %6.2fx\n", x.inFeatures, x.outFeatures, x.rows,
                                       x.msLinear, x.gflopsLinear, x.weightGBpsLinear, x.msBLAS, x.gflopsBLAS, x.msBLAS / x.msLinear))
                }
            }
        }
    }

    struct Memory: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Streaming-read bandwidth of this machine (1 GiB buffer).")
        @Option(help: "Threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        func run() throws {
            for t in Set([1, threads]).sorted() {
                writeStdout(String(format: "stream read, %d thread%@: %.2f GB/s\n", t, t == 1 ? "" : "s", MemoryBandwidth.measure(threads: t) / 1e9))
            }
        }
    }
}
