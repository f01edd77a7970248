// The gateway's own Prometheus metrics at GET /metrics: requests by route and HTTP status, request
// latency and time to first token (histograms), tokens generated, requests in progress. The
// coordinator's metrics (KV use, stage busy time) stay on the coordinator's --metrics-listen.
import Foundation

public final class GatewayMetrics: @unchecked Sendable {
    // @unchecked: every field is only touched under `lock`.
    /// Histogram bucket bounds in seconds.
    static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

    struct Histogram {
        var counts = [UInt64](repeating: 0, count: GatewayMetrics.buckets.count)
        var sum = 0.0
        var count: UInt64 = 0

        mutating func observe(_ seconds: Double) {
            for (i, bound) in GatewayMetrics.buckets.enumerated() where seconds <= bound { counts[i] += 1 }
            sum += seconds
            count += 1
        }
    }

    private let lock = NSLock()
    private var requests: [String: [Int: UInt64]] = [:]
    private var latency: [String: Histogram] = [:]
    private var firstToken = Histogram()
    private var completionTokens: UInt64 = 0
    private var promptTokens: UInt64 = 0
    private var inProgress = 0

    public init() {}

    /// The routes metrics are kept for; anything else counts as "other" (no unbounded label values).
    static func routeLabel(_ path: String) -> String {
        ["/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics"].contains(path) ? path : "other"
    }

    func finished(route: String, status: Int, seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        requests[route, default: [:]][status, default: 0] += 1
        latency[route, default: Histogram()].observe(seconds)
    }

    func observeFirstToken(seconds: Double) {
        lock.lock()
        firstToken.observe(seconds)
        lock.unlock()
    }

    func addTokens(prompt: Int, completion: Int) {
        lock.lock()
        promptTokens += UInt64(prompt)
        completionTokens += UInt64(completion)
        lock.unlock()
    }

    /// Admits one more completion unless `limit` are in progress.
    func begin(limit: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard inProgress < limit else { return false }
        inProgress += 1
        return true
    }

    func end() {
        lock.lock()
        inProgress -= 1
        lock.unlock()
    }

    var completionsInProgress: Int {
        lock.lock()
        defer { lock.unlock() }
        return inProgress
    }

    /// The Prometheus text exposition format.
    public func render() -> String {
        lock.lock()
        defer { lock.unlock() }
        var out = "# HELP mq_gateway_requests_total HTTP requests answered, by route and status code.\n"
        out += "# TYPE mq_gateway_requests_total counter\n"
        for route in requests.keys.sorted() {
            for (status, count) in requests[route]!.sorted(by: { $0.key < $1.key }) {
                out += "mq_gateway_requests_total{route=\"\(route)\",code=\"\(status)\"} \(count)\n"
            }
        }
        out += "# HELP mq_gateway_request_duration_seconds Time from request to the end of the response, by route.\n"
        out += "# TYPE mq_gateway_request_duration_seconds histogram\n"
        for route in latency.keys.sorted() {
            out += histogram("mq_gateway_request_duration_seconds", latency[route]!, labels: "route=\"\(route)\",")
        }
        out += "# HELP mq_gateway_time_to_first_token_seconds Time from a streamed completion's request to its first token.\n"
        out += "# TYPE mq_gateway_time_to_first_token_seconds histogram\n"
        out += histogram("mq_gateway_time_to_first_token_seconds", firstToken, labels: "")
        out += "# HELP mq_gateway_prompt_tokens_total Prompt tokens of completed requests.\n# TYPE mq_gateway_prompt_tokens_total counter\n"
        out += "mq_gateway_prompt_tokens_total \(promptTokens)\n"
        out += "# HELP mq_gateway_completion_tokens_total Tokens generated for completed requests.\n# TYPE mq_gateway_completion_tokens_total counter\n"
        out += "mq_gateway_completion_tokens_total \(completionTokens)\n"
        out += "# HELP mq_gateway_completions_in_progress Completion requests being served now.\n# TYPE mq_gateway_completions_in_progress gauge\n"
        out += "mq_gateway_completions_in_progress \(inProgress)\n"
        return out
    }

    private func histogram(_ name: String, _ h: Histogram, labels: String) -> String {
        var out = ""
        for (i, bound) in Self.buckets.enumerated() { out += "\(name)_bucket{\(labels)le=\"\(bound)\"} \(h.counts[i])\n" }
        out += "\(name)_bucket{\(labels)le=\"+Inf\"} \(h.count)\n"
        let plain = labels.isEmpty ? "" : "{\(labels.dropLast())}"
        out += "\(name)_sum\(plain) \(h.sum)\n\(name)_count\(plain) \(h.count)\n"
        return out
    }
}
