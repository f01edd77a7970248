// Errors in OpenAI's JSON shape, {"error": {"message", "type", "param", "code"}}, with the HTTP
// status a client library maps to its typed exception (the `openai` package: 400
// BadRequestError, 401 AuthenticationError, 404 NotFoundError, 429 RateLimitError, 5xx
// InternalServerError). The coordinator's gRPC-style codes map here, in one place.
import Foundation
import MQClient

/// A request the gateway answers with an error.
public struct GatewayError: Error, Equatable, Sendable, CustomStringConvertible {
    /// HTTP status code.
    public var status: Int
    /// OpenAI's error type, e.g. "invalid_request_error".
    public var type: String
    public var message: String
    /// The request field at fault, when one is.
    public var param: String?
    /// A short machine-readable code, e.g. "model_not_found".
    public var code: String?
    /// Seconds for a Retry-After header (429, 503).
    public var retryAfter: Int?

    public init(status: Int, type: String, message: String, param: String? = nil, code: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.type = type
        self.message = message
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status) \(type): \(message)" }

    public static func invalid(_ message: String, param: String? = nil) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", message: message, param: param)
    }

    public static func unauthorized(_ message: String) -> GatewayError {
        GatewayError(status: 401, type: "invalid_request_error", message: message, code: "invalid_api_key")
    }

    public static func modelNotFound(_ model: String) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error", message: "The model `\(model)` does not exist",
                     param: "model", code: "model_not_found")
    }

    public static func notFound(_ path: String) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error", message: "Unknown request URL: \(path)", code: "unknown_url")
    }

    public static func tooLarge(_ limit: Int) -> GatewayError {
        GatewayError(status: 413, type: "invalid_request_error", message: "The request body is larger than \(limit) bytes")
    }

    public static func overloaded(_ message: String) -> GatewayError {
        GatewayError(status: 429, type: "rate_limit_error", message: message, code: "queue_full",
                     retryAfter: GatewayDefaults.retryAfterSeconds)
    }

    /// The error for a failed coordinator call.
    public static func from(_ error: MQClientError) -> GatewayError {
        let message = error.message.isEmpty ? error.code.description : "\(error.code): \(error.message)"
        switch error.code {
        case .invalidArgument:
            return .invalid(error.message.isEmpty ? "invalid request" : error.message)
        case .resourceExhausted:
            return .overloaded("the cluster's queue is full; retry later (\(message))")
        case .unavailable:
            return GatewayError(status: 503, type: "server_error", message: "the cluster is unavailable (\(message))",
                                code: "cluster_unavailable", retryAfter: GatewayDefaults.retryAfterSeconds)
        case .deadlineExceeded:
            return GatewayError(status: 504, type: "server_error", message: "the request's deadline passed (\(message))",
                                code: "deadline_exceeded")
        case .unauthenticated:
            // The gateway's own credentials were refused: a deployment fault, not the caller's.
            return GatewayError(status: 502, type: "server_error",
                                message: "the coordinator refused the gateway's API key (\(message))", code: "upstream_unauthenticated")
        case .cancelled:
            return GatewayError(status: 499, type: "server_error", message: "the request was cancelled (\(message))", code: "cancelled")
        case .notFound:
            return GatewayError(status: 404, type: "invalid_request_error", message: message)
        default:
            return GatewayError(status: 500, type: "server_error", message: "the cluster failed the request (\(message))")
        }
    }

    /// The error for anything thrown while serving a request.
    public static func from(any error: any Error) -> GatewayError {
        if let error = error as? GatewayError { return error }
        if let error = error as? MQClientError { return .from(error) }
        return GatewayError(status: 500, type: "server_error", message: "internal error: \(error)")
    }

    /// {"error": {...}} as JSON bytes.
    public var body: [UInt8] {
        var object: [String: Any] = ["message": message, "type": type]
        object["param"] = param ?? NSNull()
        object["code"] = code ?? NSNull()
        return JSONOut.encode(["error": object])
    }
}

/// JSON encoding of the gateway's responses (JSONSerialization over plain dictionaries: the shapes
/// are OpenAI's, with nulls where OpenAI puts nulls).
enum JSONOut {
    static func encode(_ object: Any) -> [UInt8] {
        // Only dictionaries, arrays, strings, numbers and NSNull go in, so this cannot fail.
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]) else {
            return Array(#"{"error":{"message":"response encoding failed","type":"server_error","param":null,"code":null}}"#.utf8)
        }
        return Array(data)
    }

    /// A Float as a JSON number (Double keeps its exact value; NaN/inf, which JSON lacks, become null).
    static func number(_ x: Float) -> Any { x.isFinite ? Double(x) : NSNull() }
}
