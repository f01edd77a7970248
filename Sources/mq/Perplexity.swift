// `mq perplexity`: held-out perplexity of a model in this process, at the stored precision or Q8_0,
// windowed exactly as tools/train/evaluate.py does with transformers (see MQEngine/Perplexity.swift).
import ArgumentParser
import Foundation
import MQEngine
import MQKernels
import MQModel

struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Held-out perplexity per token of the model (windows as tools/train/evaluate.py).",
        discussion: "e.g. mq perplexity --weights q8_0 --tokens models/train-work/data/heldout.bin (tools/train/prepare.py writes it)")

    @OptionGroup var model: ModelOption
    @Option(help: "Token ids as little-endian uint16 (tools/train/prepare.py's heldout.bin).") var tokens: String?
    @Option(help: "A UTF-8 text file, encoded with the model's tokenizer.") var text: String?
    @Option(help: "Window length in tokens (evaluate.py's --context; the training context).") var context: Int = 256
    @Option(name: .customLong("limit-windows"), help: "Evaluate only the first N windows (0: all).") var limitWindows: Int = 0
    @Option(help: "How the model holds its matrices: stored or q8_0.") var weights: WeightPrecision = .stored
    @Option(help: "Compute threads (default: all cores).") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        if (tokens == nil) == (text == nil) { throw ValidationError("give exactly one of --tokens and --text") }
        if context < 1 { throw ValidationError("--context must be at least 1") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if limitWindows < 0 { throw ValidationError("--limit-windows must not be negative") }
    }

    func run() throws {
        try reportingErrors {
            let engine = try Engine(directory: try model.directory(), compute: ComputeContext(threads: threads), weights: weights)
            let ids: [Int]
            if let tokens { ids = try Perplexity.readUInt16Tokens(path: tokens) } else {
                guard let data = FileManager.default.contents(atPath: text!) else { throw ValidationError("--text: cannot read \(text!)") }
                ids = try engine.encode(String(decoding: data, as: UTF8.self))
            }
            let start = Date()
            let r = try Perplexity.evaluate(engine.model, ids: ids, context: context, limitWindows: limitWindows)
            let format = engine.model.weightFormat?.rawValue ?? "?"
            if json {
                writeStdout(String(format: "{\"weights\": \"%@\", \"windows\": %d, \"predicted_tokens\": %d, \"nll\": %.6f, \"perplexity\": %.6f}\n",
                                   format, r.windows, r.predictedTokens, r.totalNLL, r.perplexity))
            } else {
                writeStdout(String(format: "weights %@: perplexity %.4f per token over %d tokens in %d windows of %d (%.1f s)\n",
                                   format, r.perplexity, r.predictedTokens, r.windows, context, Date().timeIntervalSince(start)))
            }
        }
    }
}
