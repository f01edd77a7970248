// Secure by default: a process that would bind or connect a network-reachable endpoint without
// CURVE keys refuses to start with an error naming the fix, unless --insecure is given. Shared by
// mq-coordinator, mq-worker and mq's client commands so they all say the same thing.
import ArgumentParser
import MQTransport

public enum SecureDefaults {
    /// Throws a ValidationError naming the first endpoint an unsecured process must not use.
    /// `binds`/`connects`: (flag, endpoint). Does nothing when `secured` or `insecure`.
    public static func check(binds: [(flag: String, endpoint: String)], connects: [(flag: String, endpoint: String)],
                             secured: Bool, insecure: Bool, keyFlags: String) throws {
        guard !secured, !insecure else { return }
        for (list, binding) in [(binds, true), (connects, false)] {
            for (flag, endpoint) in list {
                if let why = EndpointExposure(endpoint: endpoint).insecureUseRefusal(binding: binding) {
                    throw ValidationError(
                        "\(flag) \(endpoint): \(why), and this process has no CURVE keys. Give it keys "
                        + "(\(keyFlags); make them with `mq keygen --out DIR/NAME`), or pass --insecure to run "
                        + "unauthenticated and unencrypted.")
                }
            }
        }
    }
}

/// Loads key files for a flag, turning a key error into a usage error that names the flag.
public func loadKey<T>(_ flag: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw ValidationError("\(flag): \(error)") }
}
