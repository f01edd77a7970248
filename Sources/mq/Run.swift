// `mq run`: generate in this process, no network.
import ArgumentParser
import Foundation
import MQEngine
import MQKernels
import MQModel
import MQSampling

struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 means greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Keep only the k most likely tokens (0 = off).") var topK: Int = 0
    @Option(name: .customLong("top-p"), help: "Keep the smallest set of tokens whose probability reaches p (1 = off).") var topP: Float = 1
    @Option(name: .customLong("repetition-penalty"), help: "Penalty for tokens already in prompt or output (1 = off).") var repetitionPenalty: Float = 1
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Option(name: .customLong("top-logprobs"), help: "Report this many most likely alternatives per token (0-20; JSON only).") var topLogprobs: Int = 0

    /// The flags checked by the same validation the engine, coordinator and workers apply, with
    /// the command's --stop strings.
    func parameters(stopStrings: [String] = []) throws -> SamplingParameters {
        do {
            return try SamplingParameters(temperature: temperature, topK: topK, topP: topP,
                                          repetitionPenalty: repetitionPenalty, seed: seed, topLogprobs: topLogprobs)
                .validated(stopStrings: stopStrings)
        } catch { throw ValidationError("\(error)") }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text in one process (no cluster).")

    @OptionGroup var model: ModelOption
    @Option(help: "Prompt text (encoded with the model's tokenizer.json).") var prompt: String?
    @Option(name: .customLong("prompt-ids"), help: "Prompt as token ids, e.g. 1,2,3.") var promptIds: String?
    @Option(name: .customLong("max-tokens"), help: "Maximum new tokens.") var maxTokens: Int = 64
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .customLong("stop"), help: "Stop when this text appears (repeatable); it is not included.") var stops: [String] = []
    @OptionGroup var scoring: PromptOptions
    @Option(help: "Compute threads (default: all cores).") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "How the model holds its matrices: stored (the checkpoint's precision, default) or q8_0 (8-bit blocks quantized at load).")
    var weights: WeightPrecision = .stored
    @Flag(help: "Print one JSON object: token_ids, logprobs, text, finish_reason.") var json = false
    @Flag(name: .shortAndLong, help: "Report model and BLAS details on stderr.") var verbose = false
    @Option(name: .customLong("dump-activations"),
            help: "Run only the prompt (one prefill step, no generation) and write its named intermediate tensors to DIR/activations.safetensors.")
    var dumpActivations: String?
    @Option(help: "With --dump-activations: compare with this activations.safetensors (or a folder holding one) and name the first tap over --tolerance; exit 1 if one is.")
    var compare: String?
    @Option(help: "With --compare: largest allowed max |difference| per tap.") var tolerance: Float = ActivationComparison.defaultTolerance

    func validate() throws {
        if (prompt == nil) == (promptIds == nil) { throw ValidationError("give exactly one of --prompt and --prompt-ids") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        _ = try sampling.parameters(stopStrings: stops)
        if compare != nil && dumpActivations == nil { throw ValidationError("--compare needs --dump-activations") }
        if !(tolerance >= 0) { throw ValidationError("--tolerance must be a non-negative number") }
    }

    func run() throws {
        try reportingErrors {
            let engine = try Engine(directory: try model.directory(), compute: ComputeContext(threads: threads), weights: weights)
            if verbose {
                FileHandle.standardError.write(Data("mq: \(engine.shape.architecture) \(engine.shape.attentionKind), \(engine.shape.layers) layers; mq packed linear kernel, \(engine.compute)\n".utf8))
            }
            var ids = try promptIds.map { try parseIds($0, flag: "--prompt-ids") } ?? engine.encode(prompt!)
            if let suffix = scoring.suffix {
                // Fill in the middle: a text prompt is encoded with the FIM tokens as one text (as the
                // reference tokenizes it); token ids are the already tokenized prefix.
                ids = try promptIds == nil ? engine.encodeFIM(prefix: prompt!, suffix: suffix) : engine.encodeFIM(prefixIds: ids, suffix: suffix)
            }
            if let dumpActivations {
                try dump(engine: engine, ids: ids, to: URL(fileURLWithPath: dumpActivations))
                return
            }
            let request = GenerationRequest(promptIds: ids, maxNewTokens: maxTokens, sampling: try sampling.parameters(), stopStrings: stops,
                                            promptLogprobs: scoring.promptLogprobs)
            if json {
                let result = try engine.generate(request)
                writeStdout(result.jsonLine() + "\n")
            } else {
                let result = try engine.generate(request) { event in
                    writeStdout(event.textDelta)
                    return true
                }
                writeStdout("\n")
                if scoring.promptLogprobs { writeStdout(promptLogprobsReport(result)) }
            }
        }
    }

    /// --dump-activations: one prefill with taps on, written as safetensors; then --compare.
    func dump(engine: Engine, ids: [Int], to dir: URL) throws {
        let taps = try ActivationTaps.prefill(engine.model, ids: ids)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent(ActivationFile.fileName)
        try ActivationFile.write(taps.taps, to: file, metadata: [
            "prompt_ids": ids.map(String.init).joined(separator: ","),
            "model": engine.directory.path, "architecture": engine.shape.architecture,
        ])
        writeStdout("wrote \(taps.taps.count) taps for \(ids.count) tokens to \(file.path)\n")
        guard let compare else {
            for t in taps.taps { writeStdout("  \(t.name) [\(t.rows), \(t.width)]\n") }
            return
        }
        var ref = URL(fileURLWithPath: compare)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: ref.path, isDirectory: &isDir), isDir.boolValue {
            ref.appendPathComponent(ActivationFile.fileName)
        }
        let reference = Dictionary(try ActivationFile.read(ref).map { ($0.name, $0) }, uniquingKeysWith: { _, b in b })
        let diffs = ActivationComparison.compare(taps.taps, reference: reference)
        for d in diffs {
            let mark = d.problem == nil && d.maxAbs > tolerance ? "  <-- over \(tolerance)" : ""
            writeStdout("  \(d)\(mark)\n")
        }
        if let first = ActivationComparison.firstDivergence(diffs, tolerance: tolerance) {
            writeStdout("first divergence: \(first.name) (\(first))\n")
            throw ExitCode.failure
        }
        writeStdout("all taps within \(tolerance) of \(ref.path)\n")
    }
}
