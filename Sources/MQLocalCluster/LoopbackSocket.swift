// A TCP connection to a port on 127.0.0.1 with a receive timeout, for the plain HTTP probes of a
// local gateway (its health check here, the benchmark's load generator in `mq bench serve`).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum LoopbackSocket {
    /// A connected socket (the caller closes it), or nil when no socket could be made or nothing
    /// listens on `port`. Reads on it give up after `receiveTimeoutSeconds`.
    public static func connect(port: Int, receiveTimeoutSeconds: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); return nil }
        return fd
    }
}
