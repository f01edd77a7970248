// Options and helpers shared by mq's subcommands.
import ArgumentParser
import Foundation
import MQEngine
import MQModel

/// Where the bundled default model lives, relative to the working directory or the executable.
enum DefaultModel {
    static let relativePath = "models/default"

    static func locate() -> String? {
        if let env = ProcessInfo.processInfo.environment["MQ_MODEL"], !env.isEmpty { return env }
        var candidates = [FileManager.default.currentDirectoryPath]
        // .build/<config>/mq → the checkout three levels up
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 { candidates.append(dir.path); dir.deleteLastPathComponent() }
        for c in candidates {
            let p = URL(fileURLWithPath: c).appendingPathComponent(relativePath).appendingPathComponent("config.json").path
            if FileManager.default.fileExists(atPath: p) { return URL(fileURLWithPath: c).appendingPathComponent(relativePath).path }
        }
        return nil
    }
}

struct ModelOption: ParsableArguments {
    @Option(name: .long, help: "Hugging Face model folder (config.json, *.safetensors, tokenizer.json). Default: $MQ_MODEL or ./models/default.")
    var model: String?

    func directory() throws -> URL {
        guard let path = model ?? DefaultModel.locate() else {
            throw ValidationError("no --model given and no bundled model found at ./\(DefaultModel.relativePath)")
        }
        return URL(fileURLWithPath: path)
    }
}

/// Parses "1,2,3" (spaces allowed) into token ids.
func parseIds(_ s: String, flag: String) throws -> [Int] {
    let parts = s.split(whereSeparator: { $0 == "," || $0 == " " }).filter { !$0.isEmpty }
    var ids: [Int] = []
    for p in parts {
        guard let v = Int(p) else { throw ValidationError("\(flag): \"\(p)\" is not an integer token id") }
        ids.append(v)
    }
    if ids.isEmpty { throw ValidationError("\(flag): no token ids given") }
    return ids
}

/// Runs `body`, printing a typed error as one line and exiting 1 instead of a stack trace.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ValidationError { throw e } catch let e as ExitCode { throw e } catch {
        FileHandle.standardError.write(Data("mq: error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

func writeStdout(_ s: String) {
    FileHandle.standardOutput.write(Data(s.utf8))
}

extension WeightPrecision: ExpressibleByArgument {}
