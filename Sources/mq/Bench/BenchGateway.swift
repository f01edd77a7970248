// `mq bench serve --gateway`: the same requests sent through mq-gateway's OpenAI HTTP API
// (POST /v1/completions with "stream": true, the prompt as token ids, greedy) instead of MQClient,
// timed the same way, so that the HTTP layer's cost shows next to the direct ZeroMQ numbers of the
// same run. Each request is one HTTP/1.1 connection read on its own thread with blocking reads
// (a stream's wait never occupies Swift's cooperative pool), de-chunked and split into server-sent
// events as the bytes arrive: every event with a choice is a token-carrying chunk (the gateway
// sends one per chunk of the coordinator's stream, also when its text is held back); the final
// usage event gives the exact token count (a chunk may carry more than one token; the difference
// goes to the last chunk).
import Foundation
import MQClient
import MQLocalCluster

#if canImport(Glibc)
import Glibc
#endif

/// How the benchmark reaches the cluster.
enum ServeBenchTransport: Sendable {
    case zeromq
    /// An mq-gateway on 127.0.0.1:port serving `model`.
    case http(port: Int, model: String)
}

enum GatewayStreamDriver {
    /// One streamed completion through the gateway; never throws (a failure is an outcome).
    static func drive(port: Int, model: String, request: GenerateRequest, timeout: Duration,
                      levelStart: ContinuousClock.Instant) async -> RequestOutcome {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: blockingDrive(port: port, model: model, request: request, timeout: timeout,
                                                             levelStart: levelStart))
            }
            thread.start()
        }
    }

    static func body(model: String, request: GenerateRequest) -> [UInt8] {
        let prompt: Any
        switch request.prompt {
        case let .tokenIDs(ids): prompt = ids.map { Int($0) }
        case let .text(text): prompt = text
        }
        let object: [String: Any] = ["model": model, "prompt": prompt, "max_tokens": Int(request.maxNewTokens), "temperature": 0,
                                     "stream": true, "stream_options": ["include_usage": true]]
        return Array((try? JSONSerialization.data(withJSONObject: object)) ?? Data())
    }

    private static func blockingDrive(port: Int, model: String, request: GenerateRequest, timeout: Duration,
                                      levelStart: ContinuousClock.Instant) -> RequestOutcome {
        let clock = ContinuousClock()
        let sent = clock.now
        var outcome = RequestOutcome()
        guard let fd = LoopbackSocket.connect(port: port, receiveTimeoutSeconds: Int(timeout.components.seconds)) else {
            outcome.failure = "CONNECT"; return outcome
        }
        defer { close(fd) }
        let payload = body(model: model, request: request)
        let head = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
        let bytes = Array(head.utf8) + payload
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            outcome.failure = "SEND"
            return outcome
        }
        var parser = SSEResponseParser()
        var previous: ContinuousClock.Instant?
        var buffer = [UInt8](repeating: 0, count: 16384)
        while !parser.done {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            let now = clock.now
            for _ in parser.feed(buffer[0..<n]) {
                if let previous {
                    outcome.interTokenMilliseconds.append((now - previous).inMilliseconds)
                } else {
                    outcome.firstTokenMilliseconds = (now - sent).inMilliseconds
                }
                previous = now
                outcome.chunks.append((seconds: (now - levelStart).inSeconds, tokens: 1))
            }
        }
        if let status = parser.status, status != 200 {
            outcome.failure = "HTTP_\(status)"
        } else if !parser.done || parser.completionTokens == nil {
            outcome.failure = parser.sawError ? "STREAM_ERROR" : "NO_LAST_CHUNK"
        } else if let total = parser.completionTokens, !outcome.chunks.isEmpty {
            outcome.chunks[outcome.chunks.count - 1].tokens = max(0, 1 + total - outcome.chunks.count)
        }
        return outcome
    }
}

/// Incremental reader of an HTTP/1.1 response carrying server-sent events in chunked encoding.
struct SSEResponseParser {
    /// An event carrying a choice (a token-carrying chunk).
    struct Event {}

    private(set) var status: Int?
    private(set) var done = false
    private(set) var completionTokens: Int?
    private(set) var sawError = false
    private var raw: [UInt8] = []
    private var body: [UInt8] = []
    private var headDone = false
    private var chunked = false
    /// Bytes left in the current chunk (nil: a size line is next).
    private var chunkLeft: Int?

    mutating func feed(_ bytes: ArraySlice<UInt8>) -> [Event] {
        raw += bytes
        if !headDone {
            guard let end = raw.firstRange(of: Array("\r\n\r\n".utf8)) else { return [] }
            let head = String(decoding: raw[..<end.lowerBound], as: UTF8.self)
            status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            chunked = head.lowercased().contains("transfer-encoding: chunked")
            raw.removeSubrange(..<end.upperBound)
            headDone = true
        }
        if chunked { dechunk() } else { body += raw; raw.removeAll() }
        return events()
    }

    private mutating func dechunk() {
        while true {
            if let left = chunkLeft {
                let take = min(left, raw.count)
                body += raw[..<take]
                raw.removeSubrange(..<take)
                chunkLeft = left - take
                guard chunkLeft == 0, raw.count >= 2 else { return }
                raw.removeSubrange(..<2)   // the chunk's CRLF
                chunkLeft = nil
            } else {
                guard let end = raw.firstRange(of: Array("\r\n".utf8)),
                      let size = Int(String(decoding: raw[..<end.lowerBound], as: UTF8.self), radix: 16) else { return }
                raw.removeSubrange(..<end.upperBound)
                if size == 0 { done = true; return }
                chunkLeft = size
            }
        }
    }

    private mutating func events() -> [Event] {
        var out: [Event] = []
        while let end = body.firstRange(of: Array("\n\n".utf8)) {
            let event = String(decoding: body[..<end.lowerBound], as: UTF8.self)
            body.removeSubrange(..<end.upperBound)
            guard event.hasPrefix("data: ") else { continue }
            let payload = event.dropFirst("data: ".count)
            if payload == "[DONE]" { done = true; continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any] else { continue }
            if object["error"] != nil { sawError = true }
            if let usage = object["usage"] as? [String: Any], let tokens = usage["completion_tokens"] as? Int {
                completionTokens = tokens
            }
            if let choices = object["choices"] as? [[String: Any]], !choices.isEmpty { out.append(Event()) }
        }
        return out
    }
}
