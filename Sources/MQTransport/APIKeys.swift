// Bearer API keys: the keys file (one per line) and the constant-time check of a presented key.
// The coordinator checks them in call metadata, the HTTP gateway in the Authorization header.
import Foundation

/// Bearer keys a client must present ("authorization: Bearer <key>" in CallRequest.metadata).
/// Compared in constant time: how long a check takes does not depend on how much of a key matched.
public struct APIKeys: Sendable {
    /// The metadata key clients put their credential under.
    public static let metadataKey = "authorization"
    public static let scheme = "Bearer "
    /// Shortest key accepted in a key file (a guessable key protects nothing).
    public static let minimumLength = 16

    private let keys: [[UInt8]]

    public init(_ keys: [String]) { self.keys = keys.map { Array($0.utf8) } }

    public var count: Int { keys.count }

    /// One key per line; blank lines and lines starting with '#' are ignored.
    public static func load(file path: String) throws -> APIKeys {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CurveKeyError("\(path): cannot read the API keys file: \(error.localizedDescription)")
        }
        var keys: [String] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard line.utf8.count >= minimumLength, !line.contains(where: { $0 == " " || $0 == "\t" }) else {
                throw CurveKeyError("\(path) line \(i + 1): an API key is one word of at least \(minimumLength) characters")
            }
            keys.append(line)
        }
        guard !keys.isEmpty else { throw CurveKeyError("\(path): lists no API keys, so no call could succeed") }
        return APIKeys(keys)
    }

    /// Whether the call's metadata carries one of the keys.
    public func admits(metadata: [String: String]) -> Bool {
        guard let value = metadata[Self.metadataKey] else { return false }
        return admits(authorization: value)
    }

    /// Whether an authorization value ("Bearer <key>", as in an HTTP Authorization header) carries
    /// one of the keys.
    public func admits(authorization value: String) -> Bool {
        guard value.hasPrefix(Self.scheme) else { return false }
        let presented = Array(value.utf8.dropFirst(Self.scheme.utf8.count))
        var matched = false
        for key in keys { matched = Self.constantTimeEqual(presented, key) || matched }
        return matched
    }

    /// Compares every byte position of the longer input whatever the contents (only the lengths,
    /// not the keys, can show in the timing).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let n = max(a.count, b.count)
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | (a.count == b.count ? 0 : 1)
        guard n > 0 else { return difference == 0 }
        for i in 0..<n {
            let x = a.isEmpty ? 0 : a[i % a.count], y = b.isEmpty ? 0 : b[i % b.count]
            difference |= x ^ y
        }
        return difference == 0
    }
}
