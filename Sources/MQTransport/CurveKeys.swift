// CurveZMQ keys (libzmq's built-in CURVE mechanism: Curve25519 key agreement, every frame
// encrypted and authenticated): generating key pairs, the Z85 text form, and the files an
// operator handles.
//
//   NAME.key   the secret key, Z85 (40 characters), file mode 0600; the public key is derived
//   NAME.pub   the public key, Z85: what peers are given
//   authorized keys file: one Z85 public key per line, optionally followed by a name; blank lines
//              and lines starting with '#' are ignored
//
// A secret key file readable by group or others is refused (as ssh refuses such keys).

import CZMQ
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Problems with a key or key file, naming the file and the line.
public struct CurveKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A CURVE public key, kept in its Z85 text form (40 characters for 32 bytes).
public struct CurvePublicKey: Hashable, Sendable, CustomStringConvertible {
    public let z85: String

    /// Validates a Z85 public key (40 characters of the Z85 alphabet).
    public init(z85 text: String) throws(CurveKeyError) {
        guard CurveKeyPair.decodeZ85(text) != nil else {
            throw CurveKeyError("\"\(text.prefix(60))\" is not a CURVE key (expected 40 Z85 characters)")
        }
        z85 = text
    }

    /// The 32 raw bytes.
    public var bytes: [UInt8] { CurveKeyPair.decodeZ85(z85)! }

    /// From 32 raw bytes (the ZAP handler receives the client's key this way).
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32, let text = CurveKeyPair.encodeZ85(bytes) else { return nil }
        z85 = text
    }

    public var description: String { z85 }

    /// Reads a `.pub` file: the first line that is not blank or a comment.
    public static func load(file path: String) throws(CurveKeyError) -> CurvePublicKey {
        let lines = try CurveKeyPair.keyLines(path, what: "public key")
        guard let first = lines.first else { throw CurveKeyError("\(path): no key in the file") }
        do { return try CurvePublicKey(z85: first.key) } catch {
            throw CurveKeyError("\(path) line \(first.line): \(error)")
        }
    }
}

/// A CURVE key pair. The secret key never appears in `description`.
public struct CurveKeyPair: Sendable, Equatable, CustomStringConvertible {
    public let publicKey: CurvePublicKey
    /// Z85 of the secret key.
    public let secretZ85: String

    public var description: String { "CurveKeyPair(public: \(publicKey.z85))" }

    /// A fresh key pair from libzmq (libsodium's random source).
    public static func generate() throws(CurveKeyError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw CurveKeyError("zmq_curve_keypair failed: this libzmq was built without CURVE (zmq_has(\"curve\") is 0)")
        }
        let pair = try CurveKeyPair(secretZ85: String(cString: secretText))
        return pair
    }

    /// The pair of a Z85 secret key (the public key is derived from it).
    public init(secretZ85 text: String) throws(CurveKeyError) {
        guard Self.decodeZ85(text) != nil else {
            throw CurveKeyError("not a CURVE secret key (expected 40 Z85 characters)")
        }
        var publicText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicText, text) == 0 else {
            throw CurveKeyError("zmq_curve_public failed: this libzmq was built without CURVE")
        }
        publicKey = try CurvePublicKey(z85: String(cString: publicText))
        secretZ85 = text
    }

    /// Reads a `.key` file (the secret key). Refuses a file that group or others may read.
    public static func load(secretKeyFile path: String) throws(CurveKeyError) -> CurveKeyPair {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw CurveKeyError("\(path): cannot read the secret key file: \(String(cString: strerror(errno)))")
        }
        if info.st_mode & 0o077 != 0 {
            throw CurveKeyError("\(path): the secret key file is readable by others (mode \(String(info.st_mode & 0o777, radix: 8))); run chmod 600 \(path)")
        }
        let lines = try keyLines(path, what: "secret key")
        guard let first = lines.first else { throw CurveKeyError("\(path): no key in the file") }
        do { return try CurveKeyPair(secretZ85: first.key) } catch {
            throw CurveKeyError("\(path) line \(first.line): \(error)")
        }
    }

    /// Writes `<base>.key` (mode 0600) and `<base>.pub`. Refuses to overwrite an existing key.
    public func write(base: String) throws(CurveKeyError) {
        let secretPath = base + ".key", publicPath = base + ".pub"
        for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw CurveKeyError("\(path) exists; remove it first to replace the key (mq never overwrites a key)")
        }
        let name = (base as NSString).lastPathComponent
        try Self.writeFile(secretPath, mode: 0o600,
                           "# mq CURVE secret key \"\(name)\": keep it on its own machine, mode 0600\n\(secretZ85)\n")
        try Self.writeFile(publicPath, mode: 0o644,
                           "# mq CURVE public key \"\(name)\": give it to the peers that must accept this one\n\(publicKey.z85)\n")
    }

    private static func writeFile(_ path: String, mode: mode_t, _ text: String) throws(CurveKeyError) {
        // O_EXCL: never follow a planted file or symlink; the mode is set at creation, so the
        // secret is never readable by others, not even for a moment.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw CurveKeyError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw CurveKeyError("\(path): short write") }
        _ = fchmod(fd, mode)
    }

    /// Non-comment lines of a key file: (line number, first word).
    static func keyLines(_ path: String, what: String) throws(CurveKeyError) -> [(line: Int, key: String, name: String)] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CurveKeyError("\(path): cannot read the \(what) file: \(error.localizedDescription)")
        }
        var out: [(Int, String, String)] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            // '#' is a Z85 character, but never the first of a 32-byte key (the first character
            // encodes a value below 2^32 / 85^4 < 83, and '#' is number 84).
            if line.hasPrefix("#") { continue }
            out.append((i + 1, String(words[0]), words.dropFirst().joined(separator: " ")))
        }
        return out
    }

    static func decodeZ85(_ text: String) -> [UInt8]? {
        guard text.utf8.count == 40 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&bytes, text) != nil else { return nil }
        return bytes
    }

    static func encodeZ85(_ bytes: [UInt8]) -> String? {
        var text = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&text, bytes, bytes.count) != nil else { return nil }
        return String(cString: text)
    }
}

/// An authorized-keys file: the public keys a server accepts (workers, clients).
public struct AuthorizedKeys: Sendable, Equatable {
    /// Key -> the name written after it (may be empty).
    public let names: [CurvePublicKey: String]
    public var keys: Set<CurvePublicKey> { Set(names.keys) }

    public init(_ names: [CurvePublicKey: String]) { self.names = names }

    /// Reads the file; every non-comment line must start with a valid key.
    public static func load(file path: String) throws(CurveKeyError) -> AuthorizedKeys {
        var names: [CurvePublicKey: String] = [:]
        for entry in try CurveKeyPair.keyLines(path, what: "authorized keys") {
            do { names[try CurvePublicKey(z85: entry.key)] = entry.name } catch {
                throw CurveKeyError("\(path) line \(entry.line): \(error)")
            }
        }
        guard !names.isEmpty else { throw CurveKeyError("\(path): lists no keys, so nobody could connect") }
        return AuthorizedKeys(names)
    }
}

/// How one socket secures its connections.
public enum SocketSecurity: Sendable, Equatable {
    /// No encryption or authentication (ZMTP NULL): loopback, ipc in a private folder, or `--insecure`.
    case none
    /// CURVE server: peers must prove a key the ZAP handler accepts for `domain`.
    case curveServer(CurveKeyPair, domain: String)
    /// CURVE client of a server whose public key is `server`.
    case curveClient(CurveKeyPair, server: CurvePublicKey)
}

extension ZMQSocket {
    /// Applies `security`; call before bind/connect (libzmq applies it to later connections).
    public func secure(_ security: SocketSecurity) throws {
        switch security {
        case .none:
            return
        case let .curveServer(keys, domain):
            guard context.hasZAPHandler else {
                throw ZMQError(operation: "secure", endpoint: label, code: EINVAL,
                               detail: "a CURVE server needs a ZAPHandler on its context first (without one libzmq accepts every key)")
            }
            try setInt32(ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", 1)
            try setBytes(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", CurveKeyPair.decodeZ85(keys.secretZ85)!)
            try setBytes(ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", Array(domain.utf8))
            // Also refuse, where libzmq was built with its draft options, when the handler is gone
            // (ZMQ_ZAP_ENFORCE_DOMAIN = 93); a stable build lacks the option and the check above
            // is what holds.
            try? setInt32(93, "ZMQ_ZAP_ENFORCE_DOMAIN", 1)
        case let .curveClient(keys, server):
            try setBytes(ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY", server.bytes)
            try setBytes(ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY", keys.publicKey.bytes)
            try setBytes(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", CurveKeyPair.decodeZ85(keys.secretZ85)!)
        }
    }

    /// Whether this libzmq supports CURVE (it needs libsodium).
    public static var curveAvailable: Bool { zmq_has("curve") == 1 }
}
