// What the coordinator trusts: its CURVE key pair and the public keys of the workers (and,
// optionally, clients) it accepts. The API keys clients present in call metadata are MQTransport's
// APIKeys (shared with the HTTP gateway).
import Foundation
import MQTransport

/// The ZAP domains of the coordinator's sockets.
enum ZAPDomain {
    static let clients = "mq.clients"
    static let workers = "mq.workers"
}

/// CURVE on the client and worker planes (PROTOCOL.md 7).
public struct CoordinatorSecurity: Sendable {
    /// The coordinator's key pair: the CURVE server key of both ROUTERs, and the client key its
    /// step socket presents to stage 0.
    public var keys: CurveKeyPair
    /// Workers whose public keys are listed here may register; nobody else gets in.
    public var authorizedWorkers: AuthorizedKeys
    /// nil: any client that knows the coordinator's public key; else only these client keys.
    public var authorizedClients: AuthorizedKeys?

    public init(keys: CurveKeyPair, authorizedWorkers: AuthorizedKeys, authorizedClients: AuthorizedKeys? = nil) {
        self.keys = keys
        self.authorizedWorkers = authorizedWorkers
        self.authorizedClients = authorizedClients
    }
}
