// `mq keygen --out DIR/NAME`: a CURVE key pair for a coordinator, worker or client:
// DIR/NAME.key (the secret, mode 0600) and DIR/NAME.pub (the public key peers are given).
import ArgumentParser
import Foundation
import MQCommandLine
import MQTransport

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a CURVE key pair: NAME.key (secret, mode 0600) and NAME.pub (public).",
        discussion: """
        One pair per process: the coordinator's (--curve-key coordinator.key; give coordinator.pub to \
        workers and clients), each worker's (its .pub goes into the coordinator's --authorized-workers \
        file), and optionally each client's (--authorized-clients). Existing files are never overwritten.

        Example: mq keygen --out keys/coordinator && mq keygen --out keys/worker1
        """)

    @Option(help: "DIR/NAME: writes DIR/NAME.key and DIR/NAME.pub (DIR is created, mode 0700).")
    var out: String

    func validate() throws {
        let name = (out as NSString).lastPathComponent
        if name.isEmpty || name.hasPrefix(".") { throw ValidationError("--out: expected DIR/NAME, got \"\(out)\"") }
    }

    func run() throws {
        try reportingErrors {
            let folder = (out as NSString).deletingLastPathComponent
            if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            }
            let pair = try CurveKeyPair.generate()
            try pair.write(base: out)
            writeStdout("\(out).key (secret, mode 0600)\n\(out).pub \(pair.publicKey.z85)\n")
        }
    }
}
