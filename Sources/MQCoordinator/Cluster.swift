// Worker membership and the layer plan: which worker serves which contiguous layer range, what
// each stage must be told (Assign), and whether every layer is served. Pure bookkeeping, no sockets,
// so it is tested directly.
import MQProtocol

struct WorkerRecord {
    let routingID: [UInt8]
    var workerID: String
    var dataEndpoint: String
    var memoryBytes: UInt64
    var state: WorkerState
    var stage: Int?
    var lastHeard: ContinuousClock.Instant
    /// The Assign this worker was last sent (nil: none yet).
    var assignmentID: UInt64 = 0
    var assignedNext: String? = nil
    var residentBytes: UInt64 = 0
    /// How the stage holds its matrices, and their bytes (Ready, since 1.4).
    var weightFormat: String = ""
    var weightBytes: UInt64 = 0
    var kvCapacityBytes: UInt64 = 0
    var kvUsedBytes: UInt64 = 0
    var kvBytesPerToken: UInt64 = 0
    /// Positions per KV block on its stage (Ready; 0: not reported).
    var kvBlockTokens: UInt32 = 0
    var activeSequences: UInt32 = 0
    /// The CURVE public key (Z85) the worker's control connection authenticated with; "" without CURVE.
    var publicKey: String = ""
    /// It offered to load a stage ahead while it waits (Register.standby_preload).
    var standbyPreload = false
    /// The stage a standby was told to load ahead (a standby Assign), if any.
    var preloadedStage: Int? = nil
    /// When it was marked lost (nil while it is a member).
    var lostAt: ContinuousClock.Instant? = nil
}

enum PlanError: Error, CustomStringConvertible, Equatable {
    case badSplit(String)
    var description: String { if case .badSplit(let s) = self { return s }; return "" }
}

struct Cluster {
    let totalLayers: Int
    let stageCount: Int
    let policy: SplitPolicy
    let modelPath: String
    let kvCapacityBytes: UInt64
    /// The LM head's weight bytes in units of one decoder layer's (for the balanced split).
    let headCostInLayers: Double
    private(set) var plan: [Range<Int>]? = nil
    private(set) var workers: [[UInt8]: WorkerRecord] = [:]
    private(set) var stageWorker: [[UInt8]?]
    /// Lost workers for Health, most recent first: one entry per worker id, for
    /// `CoordinatorDefaults.lostWorkerRetention` at most.
    private(set) var lost: [WorkerRecord] = []
    private var nextAssignmentID: UInt64 = 1
    private var order: [[UInt8]] = []    // registration order
    /// The pipeline's epoch: increases whenever the pipeline is rewired (every stage then gets an
    /// Assign carrying it); steps and results of another epoch are dropped.
    private(set) var epoch: UInt64 = 0
    /// The coordinator's public key (Z85), which stage 0's data socket must accept; "" without CURVE.
    let coordinatorKey: String

    init(totalLayers: Int, stageCount: Int, policy: SplitPolicy, modelPath: String, kvCapacityBytes: UInt64,
         headCostInLayers: Double = 0, coordinatorKey: String = "") throws {
        self.coordinatorKey = coordinatorKey
        guard stageCount >= 1 else { throw PlanError.badSplit("at least one stage is needed") }
        guard stageCount <= totalLayers else {
            throw PlanError.badSplit("\(stageCount) stages for \(totalLayers) layers: each stage needs at least one layer")
        }
        if case .layers(let l) = policy {
            guard l.count == stageCount else { throw PlanError.badSplit("--split lists \(l.count) stages but --workers is \(stageCount)") }
            guard l.allSatisfy({ $0 >= 1 }), l.reduce(0, +) == totalLayers else {
                throw PlanError.badSplit("--split \(policy) must list positive layer counts summing to the model's \(totalLayers) layers")
            }
        }
        self.totalLayers = totalLayers
        self.stageCount = stageCount
        self.policy = policy
        self.modelPath = modelPath
        self.kvCapacityBytes = kvCapacityBytes
        self.headCostInLayers = max(0, headCostInLayers)
        stageWorker = Array(repeating: nil, count: stageCount)
    }

    /// Layer ranges for `stageCount` stages; `memory` weights the memory policy, `head` (the LM head
    /// in layers' worth of weights) the balanced one.
    static func split(layers: Int, stages: Int, policy: SplitPolicy, memory: [UInt64], head: Double = 0) -> [Range<Int>] {
        var counts: [Int]
        switch policy {
        case .layers(let l): counts = l
        case .balanced:
            // The last stage takes k layers plus the head, the others share the rest evenly; pick the
            // k whose busiest stage is lightest (ties: the smaller k).
            guard stages > 1 else { counts = [layers]; break }
            var best = (cost: Double.infinity, k: 1)
            for k in 1...(layers - (stages - 1)) {
                let rest = layers - k
                let busiestOther = Double((rest + stages - 2) / (stages - 1))
                let cost = max(Double(k) + head, busiestOther)
                if cost < best.cost { best = (cost, k) }
            }
            let rest = layers - best.k
            counts = (0..<(stages - 1)).map { rest / (stages - 1) + ($0 < rest % (stages - 1) ? 1 : 0) } + [best.k]
        case .even:
            counts = (0..<stages).map { layers / stages + ($0 < layers % stages ? 1 : 0) }
        case .memory:
            let total = Double(memory.reduce(0, +))
            if total <= 0 { return split(layers: layers, stages: stages, policy: .even, memory: []) }
            // One layer each, the rest by largest remainder of the proportional share.
            let spare = layers - stages
            let shares = memory.map { Double(spare) * Double($0) / total }
            counts = shares.map { 1 + Int($0) }
            var left = layers - counts.reduce(0, +)
            for i in shares.indices.sorted(by: { shares[$0] - shares[$0].rounded(.down) > shares[$1] - shares[$1].rounded(.down) }) where left > 0 {
                counts[i] += 1; left -= 1
            }
        }
        var ranges: [Range<Int>] = []
        var at = 0
        for c in counts { ranges.append(at..<(at + c)); at += c }
        return ranges
    }

    // MARK: membership

    mutating func register(_ r: Register, routingID: [UInt8], publicKey: String = "", now: ContinuousClock.Instant) {
        if let old = workers[routingID] { markLost(old.routingID, now: now) }
        // A worker that comes back is listed live, not also as lost.
        lost.removeAll { $0.workerID == r.workerID }
        workers[routingID] = WorkerRecord(routingID: routingID, workerID: r.workerID, dataEndpoint: r.dataEndpoint,
                                          memoryBytes: r.memoryBytes, state: .registered, stage: nil, lastHeard: now,
                                          publicKey: publicKey, standbyPreload: r.standbyPreload)
        order.append(routingID)
    }

    /// A live worker already registered under `workerID` with another key (fencing: a worker id
    /// belongs to the key that first registered it while that worker lives).
    func conflictingRegistration(workerID: String, publicKey: String, routingID: [UInt8]) -> WorkerRecord? {
        workers.values.first { $0.workerID == workerID && $0.publicKey != publicKey && $0.routingID != routingID }
    }

    mutating func heard(_ id: [UInt8], now: ContinuousClock.Instant) { workers[id]?.lastHeard = now }

    mutating func updateLoad(_ id: [UInt8], _ load: WorkerLoad) {
        workers[id]?.kvUsedBytes = load.kvUsedBytes
        workers[id]?.kvCapacityBytes = load.kvCapacityBytes
        workers[id]?.activeSequences = load.activeSequences
    }

    /// Marks a worker lost and frees its stage. Returns its record if it was known. The loss
    /// replaces an earlier one of the same worker id in `lost`.
    @discardableResult
    mutating func markLost(_ id: [UInt8], now: ContinuousClock.Instant) -> WorkerRecord? {
        guard var w = workers.removeValue(forKey: id) else { return nil }
        order.removeAll { $0 == id }
        if let s = w.stage, stageWorker[s] == id { stageWorker[s] = nil }
        w.state = .lost
        w.lostAt = now
        lost.removeAll { $0.workerID == w.workerID }
        lost.insert(w, at: 0)
        if lost.count > CoordinatorDefaults.lostWorkersRemembered { lost.removeLast() }
        forgetLost(now: now)
        return w
    }

    /// Drops lost workers that were lost `lostWorkerRetention` or more before `now`.
    mutating func forgetLost(now: ContinuousClock.Instant) {
        lost.removeAll { $0.lostAt.map { now - $0 >= CoordinatorDefaults.lostWorkerRetention } ?? true }
    }

    /// Workers whose last sign of life is older than `expiry`.
    func expired(now: ContinuousClock.Instant, expiry: Duration) -> [[UInt8]] {
        workers.values.filter { now - $0.lastHeard > expiry }.map(\.routingID)
    }

    /// Records a Ready; returns true if it answered the worker's current assignment.
    mutating func ready(_ r: Ready, from id: [UInt8]) -> Bool {
        guard var w = workers[id], w.assignmentID == r.assignmentID, w.state == .loading else { return false }
        w.state = .ready
        w.residentBytes = r.residentBytes
        w.weightFormat = r.weightFormat
        w.weightBytes = r.weightBytes
        w.kvCapacityBytes = r.kvCapacityBytes
        w.kvBytesPerToken = r.kvBytesPerToken
        w.kvBlockTokens = r.kvBlockTokens
        workers[id] = w
        return true
    }

    // MARK: planning

    /// Binds workers to stages (making the plan the first time enough workers are registered) and
    /// returns the Assign messages to send: to every stage whose range or next endpoint changed.
    mutating func reconcile() -> [([UInt8], Assign)] {
        let spares = order.filter { workers[$0]?.stage == nil }
        if plan == nil {
            guard spares.count >= stageCount else { return [] }
            let chosen = Array(spares.prefix(stageCount))
            plan = Self.split(layers: totalLayers, stages: stageCount, policy: policy,
                              memory: chosen.map { workers[$0]!.memoryBytes }, head: headCostInLayers)
            for (s, id) in chosen.enumerated() { bind(id, to: s) }
        } else {
            var free = spares
            for s in 0..<stageCount where stageWorker[s] == nil {
                // A standby that loaded this stage ahead takes it without loading.
                guard let pick = free.firstIndex(where: { workers[$0]?.preloadedStage == s }) ?? free.indices.first else { break }
                bind(free.remove(at: pick), to: s)
            }
        }
        guard let plan, stageWorker.allSatisfy({ $0 != nil }) else { return [] }
        // Rewired when a stage has a new worker or a new next stage; then every stage is told the
        // new epoch (a stage whose range is unchanged keeps its weights).
        let rewired = (0..<stageCount).contains { s in
            let w = workers[stageWorker[s]!]!
            let next = s + 1 < stageCount ? workers[stageWorker[s + 1]!]!.dataEndpoint : ""
            return w.assignmentID == 0 || w.assignedNext != next
        }
        guard rewired else { return [] }
        epoch += 1
        var out: [([UInt8], Assign)] = []
        for s in 0..<stageCount {
            let id = stageWorker[s]!
            let nextWorker = s + 1 < stageCount ? workers[stageWorker[s + 1]!]! : nil
            let previousKey = s == 0 ? coordinatorKey : workers[stageWorker[s - 1]!]!.publicKey
            guard var w = workers[id] else { continue }
            w.assignmentID = nextAssignmentID
            nextAssignmentID += 1
            w.assignedNext = nextWorker?.dataEndpoint ?? ""
            w.state = .loading
            workers[id] = w
            let r = plan[s]
            out.append((id, Assign(assignmentID: w.assignmentID, modelPath: modelPath, stageIndex: UInt32(s),
                                   numStages: UInt32(stageCount), layers: LayerRange(UInt32(r.lowerBound)..<UInt32(r.upperBound)),
                                   nextEndpoint: nextWorker?.dataEndpoint ?? "", kvCapacityBytes: kvCapacityBytes,
                                   epoch: epoch, previousKey: previousKey, nextKey: nextWorker?.publicKey ?? "")))
        }
        return out
    }

    /// Standby Assigns for standbys that offered to preload and have no stage loaded yet: each
    /// gets the stage fewest standbys have prepared, the one with the most layers first (the
    /// longest to load).
    mutating func standbyAssigns() -> [([UInt8], Assign)] {
        guard let plan, stageWorker.allSatisfy({ $0 != nil }) else { return [] }
        var out: [([UInt8], Assign)] = []
        for id in order {
            guard let w = workers[id], w.stage == nil, w.standbyPreload, w.preloadedStage == nil else { continue }
            var prepared = Array(repeating: 0, count: stageCount)
            for other in workers.values { if let p = other.preloadedStage, other.stage == nil { prepared[p] += 1 } }
            let s = (0..<stageCount).min { (prepared[$0], -plan[$0].count) < (prepared[$1], -plan[$1].count) }!
            workers[id]?.preloadedStage = s
            let next = s + 1 < stageCount ? workers[stageWorker[s + 1]!]!.dataEndpoint : ""
            var a = Assign(assignmentID: nextAssignmentID, modelPath: modelPath, stageIndex: UInt32(s), numStages: UInt32(stageCount),
                           layers: LayerRange(UInt32(plan[s].lowerBound)..<UInt32(plan[s].upperBound)), nextEndpoint: next,
                           kvCapacityBytes: kvCapacityBytes)
            a.standby = true
            nextAssignmentID += 1
            out.append((id, a))
        }
        return out
    }

    private mutating func bind(_ id: [UInt8], to stage: Int) {
        stageWorker[stage] = id
        workers[id]?.stage = stage
        workers[id]?.assignmentID = 0
        workers[id]?.assignedNext = nil
    }

    // MARK: state

    var serving: Bool {
        plan != nil && stageWorker.allSatisfy { id in id.flatMap { workers[$0] }?.state == .ready }
    }

    /// Layer ranges not held by a READY worker, merged and in order.
    var missingLayers: [Range<Int>] {
        guard let plan else { return totalLayers > 0 ? [0..<totalLayers] : [] }
        var out: [Range<Int>] = []
        for (s, r) in plan.enumerated() where stageWorker[s].flatMap({ workers[$0] })?.state != .ready {
            if let last = out.last, last.upperBound == r.lowerBound { out[out.count - 1] = last.lowerBound..<r.upperBound }
            else { out.append(r) }
        }
        return out
    }

    func worker(atStage s: Int) -> WorkerRecord? { stageWorker[s].flatMap { workers[$0] } }
    func record(_ id: [UInt8]) -> WorkerRecord? { workers[id] }
    var allRecords: [WorkerRecord] { order.compactMap { workers[$0] } + lost }
    var stageRoutingIDs: [[UInt8]] { stageWorker.compactMap { $0 } }
    var liveRoutingIDs: [[UInt8]] { order }
}
