// Who can reach an endpoint: the basis of "secure by default" (PROTOCOL.md 7.3). A process that
// binds or connects a TCP address other machines can reach must run with CURVE keys (or be told
// --insecure); loopback and inproc stay on this machine; an ipc socket is private when its folder
// admits only its owner.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum EndpointExposure: Equatable, Sendable {
    /// tcp on 127.0.0.0/8, ::1 or localhost; inproc.
    case local
    /// ipc:// with this filesystem path (nil for Linux's abstract namespace, which any local
    /// process can reach).
    case ipc(path: String?)
    /// Any other tcp host, including wildcards (`*`, 0.0.0.0, ::), which listen on every interface.
    case network(host: String)

    public init(endpoint: String) {
        if endpoint.hasPrefix("inproc://") { self = .local; return }
        if endpoint.hasPrefix("ipc://") {
            let path = String(endpoint.dropFirst("ipc://".count))
            self = .ipc(path: path.hasPrefix("@") || path.isEmpty ? nil : path)
            return
        }
        var rest = Substring(endpoint)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        // libzmq's "source;destination" form: the destination decides.
        if let semicolon = rest.lastIndex(of: ";") { rest = rest[rest.index(after: semicolon)...] }
        var host = rest
        if let colon = rest.lastIndex(of: ":") { host = rest[..<colon] }
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        let name = host.lowercased()
        let loopback = name == "localhost" || name == "::1" || name.hasPrefix("127.")
        self = loopback ? .local : .network(host: String(host))
    }

    /// nil when an unsecured process may use this endpoint; else why it may not. For ipc, only a
    /// bound socket's folder is checked (`binding`): it must not admit group or others.
    public func insecureUseRefusal(binding: Bool) -> String? {
        switch self {
        case .local: return nil
        case .network(let host):
            return "\(host.isEmpty || host == "*" || host == "0.0.0.0" || host == "::" ? "every interface" : host) is reachable from other machines"
        case .ipc(nil):
            return binding ? "an abstract-namespace ipc socket can be reached by any local user" : nil
        case .ipc(let path?):
            guard binding else { return nil }
            let folder = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            var info = stat()
            guard stat(folder.isEmpty ? "." : folder, &info) == 0 else { return nil }  // bind will report it
            if info.st_mode & 0o077 != 0 {
                return "its folder \(folder.isEmpty ? "." : folder) can be entered by other users (mode \(String(info.st_mode & 0o777, radix: 8)); use a folder with mode 0700)"
            }
            return nil
        }
    }
}
