// What the coordinator shows about itself: Health, Info, and the Prometheus text on
// --metrics-listen. Read-only views of the scheduler's state.
import MQProtocol
import MQTransport

extension CoordinatorService {
    func health() -> HealthResponse {
        let now = clock.now
        return HealthResponse(
            serving: scheduler.cluster.serving && !scheduler.draining,
            missingLayers: scheduler.cluster.missingLayers.map { LayerRange(UInt32($0.lowerBound)..<UInt32($0.upperBound)) },
            workers: scheduler.cluster.allRecords.map { w in
                WorkerStatus(workerID: w.workerID, dataEndpoint: w.dataEndpoint, state: w.state,
                             layers: w.stage.flatMap { s in scheduler.cluster.plan.map { LayerRange(UInt32($0[s].lowerBound)..<UInt32($0[s].upperBound)) } },
                             stageIndex: UInt32(w.stage ?? 0), lastHeardMilliseconds: UInt64(max(0, (now - w.lastHeard).wholeMilliseconds)),
                             activeSequences: w.activeSequences)
            },
            totalLayers: UInt32(shape.layers), inFlightCalls: UInt32(scheduler.calls.count + tokenizing.count))
    }
    func serveHTTP(_ r: HTTPRequest) -> HTTPResponse {
        guard r.method == "GET" || r.method == "HEAD" else {
            return HTTPResponse(status: 405, reason: "Method Not Allowed", body: "only GET /metrics is served here\n")
        }
        guard r.path == "/metrics" else { return HTTPResponse(status: 404, reason: "Not Found", body: "only GET /metrics is served here\n") }
        let text = MetricsText.render(MetricsSnapshot(
            info: info(), health: health(), counters: scheduler.counters, waitingCalls: scheduler.waitingCalls + tokenizing.count,
            admittedCalls: scheduler.admittedCalls,
            maxQueuedCalls: config.maxQueuedCalls, workersRegistered: scheduler.cluster.allRecords.filter { $0.state != .lost }.count))
        return HTTPResponse(status: 200, reason: "OK", contentType: "text/plain; version=0.0.4; charset=utf-8", body: text)
    }
    func info() -> InfoResponse {
        let kind: MQProtocol.AttentionKind = MQProtocol.AttentionKind(heads: shape.heads, kvHeads: shape.kvHeads)
        let model = ModelInfo(name: modelName, architecture: shape.architecture, attentionKind: kind,
                              numLayers: UInt32(shape.layers), hiddenSize: UInt32(shape.hiddenSize), numHeads: UInt32(shape.heads),
                              kvHeads: UInt32(shape.kvHeads), headDim: UInt32(shape.headDim), vocabSize: UInt32(shape.vocabSize),
                              maxPositions: UInt32(shape.maxPositions), kvBytesPerToken: UInt64(shape.kvBytesPerToken(layerCount: shape.layers)),
                              eosTokenID: UInt32(shape.eosTokenIds.first ?? 0), fimAvailable: tokenizer?.fimTokens != nil)
        var stages: [StageInfo] = []
        if let plan = scheduler.cluster.plan {
            for (s, r) in plan.enumerated() {
                let w = scheduler.cluster.worker(atStage: s)
                let stage = UInt32(s)
                stages.append(StageInfo(stageIndex: stage, workerID: w?.workerID ?? "", dataEndpoint: w?.dataEndpoint ?? "",
                                        layers: LayerRange(UInt32(r.lowerBound)..<UInt32(r.upperBound)),
                                        residentBytes: w?.residentBytes ?? 0, kvCapacityBytes: w?.kvCapacityBytes ?? 0,
                                        kvUsedBytes: w?.kvUsedBytes ?? 0,
                                        busyFraction: scheduler.busy.fraction(stage: stage, now: clock.now),
                                        steps: scheduler.busy.steps[stage] ?? 0, busyNanoseconds: scheduler.busy.forwardNanos[stage] ?? 0,
                                        weightFormat: w?.weightFormat ?? "", weightBytes: w?.weightBytes ?? 0))
            }
        }
        let limits = ServerLimits(maxPromptTokens: UInt32(maxPromptTokens), defaultMaxNewTokens: UInt32(config.defaultMaxNewTokens),
                                  maxNewTokens: UInt32(config.maxNewTokens),
                                  defaultTimeoutMilliseconds: UInt32(config.defaultTimeout.wholeMilliseconds),
                                  maxTimeoutMilliseconds: UInt32(config.maxTimeout.wholeMilliseconds))
        return InfoResponse(model: model, stages: stages, limits: limits)
    }
}
