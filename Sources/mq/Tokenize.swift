// `mq tokenize`: the model's tokenizer.json applied to text, like the `tokenizers` library.
import ArgumentParser
import Foundation
import MQTokenizer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Encode text with the model's tokenizer (or the coordinator's, with --server).")

    @OptionGroup var model: ModelOption
    @OptionGroup var remote: RemoteServerOption
    @Option(help: "Text to encode.") var text: String?
    @Option(help: "File whose contents (UTF-8) to encode.") var file: String?
    @Flag(help: "Print {\"ids\": [...]}.") var json = false

    func validate() throws {
        if (text == nil) == (file == nil) { throw ValidationError("give exactly one of --text and --file") }
    }

    func run() throws {
        try reportingErrors {
            let input: String
            if let text { input = text } else {
                guard let data = FileManager.default.contents(atPath: file!) else {
                    throw ValidationError("--file: cannot read \(file!)")
                }
                input = String(decoding: data, as: UTF8.self)
            }
            if let server = remote.remote { return try remoteTokenize(server, text: input, json: json) }
            let dir = try model.directory()
            let tok = try Tokenizer(contentsOf: dir.appendingPathComponent("tokenizer.json"))
            let ids = tok.encode(input)
            if json {
                writeStdout("{\"ids\": [\(ids.map(String.init).joined(separator: ", "))]}\n")
            } else {
                for id in ids { writeStdout("\(id)\t\(tok.token(forId: id) ?? "?")\n") }
            }
        }
    }
}
