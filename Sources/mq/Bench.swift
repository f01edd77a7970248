// `mq bench ...`: benchmark commands that print numbers (never run by the test suite).
import ArgumentParser
import Foundation
import MQEngine
import MQKernels

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks.", subcommands: [Decode.self, Memory.self, Serve.self])

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prefill and decode speed of one process, bytes per token and achieved bandwidth.",
            discussion: "Make a real-shape random checkpoint first: tools/make_bench_checkpoint.py --shape tiny_starcoder --out models/bench/tiny_starcoder")
        @OptionGroup var model: ModelOption
        @Option(help: "Sequences decoded together in each step.") var batch: Int = 1
        @Option(help: "Prompt tokens per sequence (prefilled before decoding).") var context: Int = 128
        @Option(help: "Decode steps to time.") var tokens: Int = 32
        @Option(help: "BLAS and bandwidth-probe threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
        @Flag(name: .customLong("no-bandwidth"), help: "Skip the streaming-bandwidth measurement.") var noBandwidth = false
        @Flag(help: "Print the report as JSON.") var json = false

        func validate() throws {
            for (n, v) in [("--batch", batch), ("--context", context), ("--tokens", tokens), ("--threads", threads)] where v < 1 {
                throw ValidationError("\(n) must be at least 1")
            }
        }

        func run() throws {
            try reportingErrors {
                var o = DecodeBenchmarkOptions()
                o.batch = batch; o.context = context; o.tokens = tokens; o.threads = threads
                o.measureBandwidth = !noBandwidth
                let r = try DecodeBenchmark.run(directory: try model.directory(), options: o)
                if json {
                    let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
                    writeStdout(String(decoding: try enc.encode(r), as: UTF8.self) + "\n")
                } else {
                    writeStdout(r.text + "\n")
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
