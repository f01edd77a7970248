// How a client proves itself and checks the coordinator (PROTOCOL.md 7): CURVE with the
// coordinator's public key (the connection is encrypted and the server authenticated; a client
// without the right key never connects), an optional client key pair for coordinators that list
// their clients (`--authorized-clients`), and an optional API key sent with every call.
import Foundation
import MQProtocol
import MQTransport

public struct MQClientSecurity: Sendable, Equatable {
    /// The coordinator's CURVE public key (Z85).
    public let serverKey: String
    let server: CurvePublicKey
    /// This client's key pair; nil makes a fresh one per client (enough for a coordinator that
    /// accepts any client knowing its key).
    let clientKeys: CurveKeyPair?

    /// `serverKey` in Z85 (40 characters); `clientSecretKey` likewise, or nil.
    public init(serverKey: String, clientSecretKey: String? = nil) throws {
        do {
            server = try CurvePublicKey(z85: serverKey)
            clientKeys = try clientSecretKey.map { try CurveKeyPair(secretZ85: $0) }
        } catch {
            throw MQClientError(code: .invalidArgument, message: "\(error)")
        }
        self.serverKey = serverKey
    }

    /// From key files: the coordinator's `.pub` and, optionally, this client's `.key` (mode 0600).
    public static func load(serverKeyFile: String, clientKeyFile: String? = nil) throws -> MQClientSecurity {
        do {
            let server = try CurvePublicKey.load(file: serverKeyFile)
            let client = try clientKeyFile.map { try CurveKeyPair.load(secretKeyFile: $0) }
            return try MQClientSecurity(serverKey: server.z85, clientSecretKey: client?.secretZ85)
        } catch let error as MQClientError {
            throw error
        } catch {
            throw MQClientError(code: .invalidArgument, message: "\(error)")
        }
    }

    /// The socket setting: CURVE client of the coordinator's key.
    func socketSecurity() throws -> SocketSecurity {
        .curveClient(try clientKeys ?? CurveKeyPair.generate(), server: server)
    }
}
