// The coordinator's Prometheus metrics (text exposition format 0.0.4), served on
// `--metrics-listen` at GET /metrics: KV cache used/free/capacity per stage, stage busy time and
// steps, calls by final status, tokens, queue and in-flight counts, serving state. Built from the
// same Info and Health the client API returns, plus counters kept by the service loop.
import MQProtocol

/// Counters the service loop updates as calls end and tokens are produced.
struct ServiceCounters {
    /// Calls ended, by gRPC status name (OK, RESOURCE_EXHAUSTED, ...), any method.
    var callsByStatus: [String: UInt64] = [:]
    var generatedTokens: UInt64 = 0
    var promptTokens: UInt64 = 0
    /// Stages lost while calls were kept for replay.
    var failovers: UInt64 = 0
    /// Calls admitted with a cached prefix, and the prompt positions they did not compute.
    var prefixHits: UInt64 = 0
    var prefixHitTokens: UInt64 = 0
    /// Cached blocks evicted (from every stage at once) to admit calls.
    var prefixEvictions: UInt64 = 0
}

/// What one scrape shows besides Info and Health.
struct MetricsSnapshot {
    var info: InfoResponse
    var health: HealthResponse
    var counters: ServiceCounters
    var waitingCalls: Int
    var admittedCalls: Int
    var maxQueuedCalls: Int
    var workersRegistered: Int
}

enum MetricsText {
    static func render(_ s: MetricsSnapshot) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples {
                let labels = sample.labels.isEmpty ? "" : "{" + sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
                out += "\(name)\(labels) \(number(sample.value))\n"
            }
        }
        func perStage(_ value: (StageInfo) -> Double) -> [(labels: [(String, String)], value: Double)] {
            s.info.stages.map { st in
                ([("stage", "\(st.stageIndex)"), ("worker", st.workerID),
                  ("layers", st.layers.description)], value(st))
            }
        }
        let m = s.info.model
        let modelLabels: [(String, String)] = [("model", m.name), ("architecture", m.architecture), ("layers", "\(m.numLayers)"),
                                               ("query_heads", "\(m.numHeads)"), ("kv_heads", "\(m.kvHeads)"), ("head_dim", "\(m.headDim)")]
        family("mq_model_info", "gauge", "The served model (value 1); labels describe it.", [(modelLabels, 1)])
        family("mq_kv_bytes_per_token", "gauge", "KV-cache bytes one token takes over all layers (2 * kv_heads * head_dim * layers * 4).",
               [([], Double(m.kvBytesPerToken))])
        family("mq_serving", "gauge", "1 when every layer has a ready worker and the coordinator is not draining.",
               [([], s.health.serving ? 1 : 0)])
        let missing = s.health.missingLayers.reduce(0) { (n: Int, r: LayerRange) -> Int in n + Int(r.end) - Int(r.first) }
        family("mq_missing_layers", "gauge", "Layers with no ready worker.", [([], Double(missing))])
        family("mq_workers_registered", "gauge", "Workers currently registered (stages and spares).", [([], Double(s.workersRegistered))])
        family("mq_stage_kv_capacity_bytes", "gauge", "KV-cache bytes the stage's worker holds for sequences.",
               perStage { Double($0.kvCapacityBytes) })
        family("mq_stage_kv_used_bytes", "gauge", "KV-cache bytes in use on the stage (whole 16-token blocks).",
               perStage { Double($0.kvUsedBytes) })
        family("mq_stage_kv_free_bytes", "gauge", "KV-cache bytes free on the stage.",
               perStage { Double($0.kvCapacityBytes &- min($0.kvCapacityBytes, $0.kvUsedBytes)) })
        family("mq_stage_resident_bytes", "gauge", "Resident memory of the stage's worker process when it became ready.",
               perStage { Double($0.residentBytes) })
        family("mq_stage_busy_seconds_total", "counter", "Time the stage spent computing steps.",
               perStage { Double($0.busyNanoseconds) / 1e9 })
        family("mq_stage_steps_total", "counter", "Steps the stage computed.", perStage { Double($0.steps) })
        family("mq_stage_prefix_cached_blocks", "gauge", "KV blocks the stage keeps in its prefix cache (in use or resident for reuse).",
               perStage { Double($0.prefix.cachedBlocks) })
        family("mq_stage_prefix_hits_total", "counter", "Sequences that started with cached prefix blocks on the stage.",
               perStage { Double($0.prefix.hits) })
        family("mq_stage_prefix_hit_tokens_total", "counter", "Prompt positions reused from the stage's prefix cache instead of computed.",
               perStage { Double($0.prefix.hitTokens) })
        family("mq_stage_prefix_evictions_total", "counter", "Cached prefix blocks the stage evicted to make room.",
               perStage { Double($0.prefix.evictions) })
        family("mq_stage_busy_ratio", "gauge", "Busy time over wall time since the stage's first step (1 - the pipeline bubble).",
               perStage { $0.busyFraction })
        family("mq_calls_in_flight", "gauge", "Generation calls admitted (holding KV reservations) and not ended.",
               [([], Double(s.admittedCalls))])
        family("mq_calls_waiting", "gauge", "Generation calls waiting for KV cache.", [([], Double(s.waitingCalls))])
        family("mq_calls_waiting_limit", "gauge", "--max-queued: waiting calls beyond which new ones get RESOURCE_EXHAUSTED.",
               [([], Double(s.maxQueuedCalls))])
        family("mq_calls_total", "counter", "Calls ended, by final status (every method).",
               s.counters.callsByStatus.sorted { $0.key < $1.key }.map { ([("status", $0.key)], Double($0.value)) })
        family("mq_generated_tokens_total", "counter", "Tokens generated for clients.", [([], Double(s.counters.generatedTokens))])
        family("mq_prompt_tokens_total", "counter", "Prompt tokens of admitted generation calls.", [([], Double(s.counters.promptTokens))])
        return out
    }

    static func escape(_ v: String) -> String {
        var r = ""
        for c in v {
            switch c {
            case "\\": r += "\\\\"
            case "\"": r += "\\\""
            case "\n": r += "\\n"
            default: r.append(c)
            }
        }
        return r
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
