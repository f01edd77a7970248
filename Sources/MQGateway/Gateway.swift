// mq-gateway's HTTP server: OpenAI-compatible routes on Hummingbird 2 in front of the coordinators.
//   POST /v1/completions        text completion, unary or streamed (server-sent events)
//   POST /v1/chat/completions   refused with a 400: mq serves code models without chat templates
//   GET  /v1/models             the served model
//   GET  /health                200 when a coordinator serves every layer, else 503
//   GET  /metrics               the gateway's own Prometheus metrics
// Every /v1 route needs "Authorization: Bearer <key>" when the gateway has API keys. Every error is
// OpenAI's JSON error shape (GatewayError.swift).
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MQClient
import MQTransport
import NIOCore

/// Named limits and defaults (STYLE habit 10).
public enum GatewayDefaults {
    public static let port = 8000
    /// Largest request body read; bigger ones get 413 without being buffered.
    public static let maxBodyBytes = 4 << 20
    /// Completions served at once; more get 429 (each holds coordinator calls and a response).
    public static let maxConcurrentCompletions = 256
    /// Deadline of one completion's coordinator calls.
    public static let callTimeout: Duration = .seconds(600)
    /// Deadline of a /health or /v1/models question to a coordinator.
    public static let statusTimeout: Duration = .seconds(5)
    /// Retry-After on 429 and 503 answers.
    public static let retryAfterSeconds = 1
}

public struct GatewayConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = GatewayDefaults.port
    public var apiKeys: APIKeys?
    public var maxBodyBytes = GatewayDefaults.maxBodyBytes
    public var maxConcurrentCompletions = GatewayDefaults.maxConcurrentCompletions
    public var callTimeout = GatewayDefaults.callTimeout
    public var statusTimeout = GatewayDefaults.statusTimeout

    public init() {}
}

public struct Gateway: Sendable {
    public let configuration: GatewayConfiguration
    public let backends: Backends
    public let metrics = GatewayMetrics()
    let service: CompletionService

    public init(configuration: GatewayConfiguration, backends: Backends, text: TokenText) {
        self.configuration = configuration
        self.backends = backends
        service = CompletionService(backends: backends, text: text, metrics: metrics, callTimeout: configuration.callTimeout)
    }

    /// Serves until the task is cancelled or the process gets SIGTERM/SIGINT. `onListening` gets the
    /// bound port (useful with port 0).
    public func run(logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = Application(
            router: router(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "mq-gateway"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService()
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ConnectionClose())
        router.add(middleware: OpenAIErrors(metrics: metrics))
        let gateway = self
        router.post("/v1/completions") { request, _ in try await gateway.completions(request) }
        router.post("/v1/chat/completions") { request, _ in try await gateway.chatCompletions(request) }
        router.get("/v1/models") { request, _ in try await gateway.models(request) }
        router.get("/health") { _, _ in await gateway.health() }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: gateway.metrics.render())))
        }
        return router
    }

    // MARK: Routes

    func authorize(_ request: Request) throws(GatewayError) {
        guard let keys = configuration.apiKeys else { return }
        guard let value = request.headers[.authorization] else {
            throw .unauthorized("You didn't provide an API key: send it as \"Authorization: Bearer <key>\"")
        }
        guard keys.admits(authorization: value) else { throw .unauthorized("Incorrect API key provided") }
    }

    /// The whole body (the request keeps it, so that a stream can still watch the connection).
    func readBody(_ request: inout Request) async throws -> [UInt8] {
        do {
            let buffer = try await request.collectBody(upTo: configuration.maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw GatewayError.tooLarge(configuration.maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw GatewayError.tooLarge(configuration.maxBodyBytes)
        }
    }

    func completions(_ request: Request) async throws -> Response {
        let started = ContinuousClock.now
        try authorize(request)
        var request = request
        let completion = try CompletionRequest.parse(try await readBody(&request))
        guard metrics.begin(limit: configuration.maxConcurrentCompletions) else {
            throw GatewayError.overloaded("the gateway is serving \(configuration.maxConcurrentCompletions) completions; retry later")
        }
        guard completion.stream else {
            defer { metrics.end() }
            // A client that closes the connection while its completion runs cancels the calls.
            let service = self.service
            return try await request.body.consumeWithCancellationOnInboundClose { _ in
                try await service.complete(completion)
            }
        }
        let response: Response
        do {
            response = try await service.stream(completion, started: started, connection: request.body)
        } catch {
            metrics.end()
            throw error
        }
        // The stream is still being written: the completion ends with its body.
        let metrics = self.metrics
        var ending = response
        ending.body = response.body.afterWriting { metrics.end() }
        return ending
    }

    func chatCompletions(_ request: Request) async throws -> Response {
        try authorize(request)
        var request = request
        _ = try await readBody(&request)
        throw GatewayError.invalid(
            "chat completions are not supported: mq serves code models that have no chat template; use /v1/completions")
    }

    func models(_ request: Request) async throws -> Response {
        try authorize(request)
        let info = try await backends.modelInfo()
        let name = try await backends.modelName()
        let model: [String: Any] = ["id": name, "object": "model", "created": 0, "owned_by": "mq",
                                    "max_model_len": Int(info.maxPositions), "architecture": info.architecture]
        return jsonResponse(["object": "list", "data": [model]])
    }

    func health() async -> Response {
        let answers = await backends.health(timeout: configuration.statusTimeout)
        var serving = false
        var coordinators: [Any] = []
        for answer in answers {
            var entry: [String: Any] = ["endpoint": answer.endpoint]
            if let health = answer.health {
                serving = serving || health.serving
                entry["serving"] = health.serving
                entry["total_layers"] = Int(health.totalLayers)
                entry["missing_layers"] = health.missingLayers.map(\.description)
                entry["in_flight_calls"] = Int(health.inFlightCalls)
            } else {
                entry["serving"] = false
                entry["error"] = answer.error ?? "no answer"
            }
            coordinators.append(entry)
        }
        return jsonResponse(["status": serving ? "ok" : "unavailable", "coordinators": coordinators],
                            status: serving ? .ok : .serviceUnavailable)
    }
}

/// Says `Connection: close` on every response. The server closes a connection after its response
/// (the inbound-close handlers that cancel a departed client's calls consume the request side), so
/// a client must not reuse it: without the header an HTTP client pools the connection and its next
/// request can race the close ("Server disconnected without sending a response", seen in CI from
/// the openai package after a 503).
struct ConnectionClose<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.connection] = "close"
        return response
    }
}

/// Turns every error into OpenAI's JSON error shape and counts every request by route and status.
struct OpenAIErrors<Context: RequestContext>: RouterMiddleware {
    let metrics: GatewayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let route = GatewayMetrics.routeLabel(request.uri.path)
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = Self.response(for: Self.gatewayError(error, path: request.uri.path))
        }
        let metrics = self.metrics
        let status = response.status.code
        var counted = response
        counted.body = response.body.afterWriting {
            metrics.finished(route: route, status: status, seconds: (ContinuousClock.now - started).seconds)
        }
        return counted
    }

    static func gatewayError(_ error: any Error, path: String) -> GatewayError {
        if let error = error as? HTTPError {
            switch error.status {
            case .notFound: return .notFound(path)
            case .methodNotAllowed:
                return GatewayError(status: 405, type: "invalid_request_error", message: "Method not allowed for \(path)")
            default:
                return GatewayError(status: Int(error.status.code),
                                    type: error.status.code < 500 ? "invalid_request_error" : "server_error",
                                    message: error.body ?? error.status.reasonPhrase)
            }
        }
        return .from(any: error)
    }

    static func response(for error: GatewayError) -> Response {
        var headers = HTTPFields()
        if let retryAfter = error.retryAfter { headers[.retryAfter] = String(retryAfter) }
        headers[.contentType] = "application/json"
        return Response(status: HTTPResponse.Status(code: error.status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: error.body)))
    }
}

extension ResponseBody {
    /// This body, then `done` once it is written (or its writing failed): where a request really ends.
    func afterWriting(_ done: @escaping @Sendable () -> Void) -> ResponseBody {
        let original = self
        return ResponseBody(contentLength: original.contentLength) { writer in
            defer { done() }
            try await original.write(writer)
        }
    }
}
