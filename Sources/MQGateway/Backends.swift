// The coordinators behind a gateway, each reached through one shared MQClient. Calls go round-robin;
// a call that fails with UNAVAILABLE before producing anything (no connection, or a coordinator
// without a pipeline) is tried on the next coordinator, so one coordinator going away costs no
// request while another serves. Every coordinator must serve the same model; its name (or
// --served-model-name) is what requests must ask for.
import Foundation
import MQClient

public final class Backends: @unchecked Sendable {
    // @unchecked: `turn` and `model` are only touched under `lock`; the clients are Sendable.
    public let clients: [MQClient]
    private let servedModelName: String?
    private let lock = NSLock()
    private var turn = 0
    private var model: ModelInfo?

    /// `clients` must not be empty.
    public init(clients: [MQClient], servedModelName: String? = nil) {
        precondition(!clients.isEmpty, "a gateway needs at least one coordinator")
        self.clients = clients
        self.servedModelName = servedModelName
    }

    public func close() {
        for client in clients { client.close() }
    }

    /// The clients in the order one call should try them: the next in turn first.
    func order() -> [MQClient] {
        lock.lock()
        let first = turn % clients.count
        turn &+= 1
        lock.unlock()
        return Array(clients[first...] + clients[..<first])
    }

    /// Runs `call` on the next coordinator, then on the others while it fails with UNAVAILABLE.
    func withFailover<T: Sendable>(_ call: (MQClient) async throws -> T) async throws -> T {
        let candidates = order()
        for (i, client) in candidates.enumerated() {
            do {
                return try await call(client)
            } catch let error as MQClientError where error.code == .unavailable && i + 1 < candidates.count {
                continue
            }
        }
        // Not reached: the last candidate's error is rethrown above.
        throw MQClientError(code: .unavailable, message: "no coordinator")
    }

    /// The served model (asked of the coordinators once, then remembered).
    public func modelInfo() async throws -> ModelInfo {
        if let known = lock.withLock({ model }) { return known }
        let info = try await withFailover { try await $0.info() }.model
        lock.withLock { model = info }
        return info
    }

    /// The model name requests must name.
    public func modelName() async throws -> String {
        if let servedModelName { return servedModelName }
        return try await modelInfo().name
    }

    /// Every coordinator's health (nil: it did not answer, with the reason).
    func health(timeout: Duration) async -> [(endpoint: String, health: HealthResponse?, error: String?)] {
        await withTaskGroup(of: (Int, HealthResponse?, String?).self) { group in
            for (i, client) in clients.enumerated() {
                group.addTask {
                    do { return (i, try await client.health(timeout: timeout), nil) } catch { return (i, nil, "\(error)") }
                }
            }
            var results = [(endpoint: String, health: HealthResponse?, error: String?)](
                repeating: ("", nil, nil), count: clients.count)
            for await (i, health, error) in group { results[i] = (clients[i].endpoint, health, error) }
            return results
        }
    }
}
