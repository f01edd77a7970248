// The scheduler's worker events: registration (with fencing by key), Ready, results (fenced by
// stage and epoch), errors, and loss. A lost stage does not cost its calls: while
// `failoverTimeout` runs, every call in flight is kept and, once a standby has taken the range
// (a new epoch, every stage re-assigned and emptied), replayed from position 0 with its prompt
// and the tokens it already generated, its sampler continuing at the same step (PROTOCOL.md 6.5).
import MQProtocol

extension Scheduler {
    /// One decoded message from the worker ROUTER. `key` is the Z85 key its connection
    /// authenticated with ("" without CURVE); `secured` says whether one is required.
    mutating func workerMessage(_ msg: WorkerMessage, from id: [UInt8], key: String, secured: Bool, now: ContinuousClock.Instant) {
        // Fencing: only a registered connection, speaking with the key it registered with, is
        // heard; anything else is dropped before it can touch the cluster's state.
        if case .register = msg {} else {
            guard let record = cluster.record(id), record.publicKey == key else {
                log(.warning, "dropped \(msg.kindName) from an unregistered worker connection", ["key": "\(key.isEmpty ? "none" : key)"],
                    kind: "worker-unregistered")
                return
            }
        }
        cluster.heard(id, now: now)
        let name = cluster.record(id)?.workerID ?? "unregistered"
        switch msg {
        case .register(let r):
            register(r, from: id, key: key, secured: secured, now: now)
        case .ready(let r):
            if cluster.record(id)?.stage == nil {
                log(.info, "standby loaded its stage ahead", ["worker": "\(name)", "layers": "\(r.layers)", "load_ms": "\(r.loadNanoseconds / 1_000_000)"])
            } else if cluster.ready(r, from: id) {
                log(.info, "stage ready", ["worker": "\(name)", "layers": "\(r.layers)", "resident_bytes": "\(r.residentBytes)",
                                          "kv_bytes_per_token": "\(r.kvBytesPerToken)", "load_ms": "\(r.loadNanoseconds / 1_000_000)"])
                if cluster.serving { log(.info, "serving", ["stages": "\(settings.stages)"]) }
            }
        case .stepResult(let r):
            guard let last = cluster.stageRoutingIDs.last, cluster.stageRoutingIDs.count == settings.stages, last == id,
                  r.epoch == cluster.epoch else {
                log(.warning, "dropped a StepResult that is not from the current last stage and epoch", [
                    "worker": "\(name)", "epoch": "\(r.epoch)", "current_epoch": "\(cluster.epoch)"], kind: "stale-result")
                return
            }
            stepResult(r, now: now)
        case .heartbeat(let h):
            if let load = h.load { cluster.updateLoad(id, load) }
        case .shutdown(let s):
            workerLost(id, reason: "worker \(name) left: \(s.reason)", now: now)
        case .error(let e):
            workerError(e, from: id, name: name, now: now)
        case .assign, .step, .release:
            log(.warning, "unexpected \(msg.kindName) from worker \(name)", kind: "worker-unexpected")
        }
    }

    private mutating func register(_ r: Register, from id: [UInt8], key: String, secured: Bool, now: ContinuousClock.Instant) {
        do { try r.requireCompatibleVersion() } catch {
            log(.error, "refused a worker of another protocol version", ["worker": "\(r.workerID)", "error": "\(error)"])
            emit(.toWorker(id, .error(.versionMismatch(worker: r.version))))
            return
        }
        if secured && key.isEmpty {
            log(.warning, "dropped a Register without a CURVE key", ["worker": "\(r.workerID)"], kind: "worker-keyless")
            return
        }
        if let holder = cluster.conflictingRegistration(workerID: r.workerID, publicKey: key, routingID: id) {
            log(.warning, "refused a Register: the worker id is held by a live worker with another key", [
                "worker": "\(r.workerID)", "key": "\(key)", "holder_key": "\(holder.publicKey)"], kind: "worker-id-taken")
            return
        }
        cluster.register(r, routingID: id, publicKey: key, now: now)
        log(.info, "worker registered", ["worker": "\(r.workerID)", "data": "\(r.dataEndpoint)", "memory": "\(r.memoryBytes)"])
        reconcile(now: now)
    }

    /// Binds free workers to stages that need one and sends the Assigns (a new epoch).
    mutating func reconcile(now: ContinuousClock.Instant) {
        for (id, a) in cluster.reconcile() {
            log(.info, "assigning", ["worker": "\(cluster.record(id)?.workerID ?? "?")", "stage": "\(a.stageIndex)",
                                     "layers": "\(a.layers)", "next": "\(a.nextEndpoint)", "epoch": "\(a.epoch)"])
            busy.assign(stage: a.stageIndex, worker: id)
            emit(.toWorker(id, .assign(a)))
        }
        for (id, a) in cluster.standbyAssigns() {
            log(.info, "standby preloads a stage", ["worker": "\(cluster.record(id)?.workerID ?? "?")", "stage": "\(a.stageIndex)",
                                                     "layers": "\(a.layers)"])
            emit(.toWorker(id, .assign(a)))
        }
    }

    private mutating func workerError(_ e: WorkerError, from id: [UInt8], name: String, now: ContinuousClock.Instant) {
        log(.warning, "worker error", ["worker": "\(name)", "error": "\(e)"])
        switch e.code {
        case .loadFailed, .invalidAssignment:
            workerLost(id, reason: "worker \(name) could not take its assignment: \(e.message)", now: now)
            return
        default: break
        }
        guard let stepID = e.stepID else { return }
        stepFailed(stepID, code: { seq in
            (e.code == .kvCacheFull && (e.seqID == nil || e.seqID == seq)) ? .resourceExhausted
                : (e.code == .stepFailed || e.code == .internalError ? .internalError : .unavailable)
        }, message: "stage \(name): \(e.message)", now: now)
    }

    /// A worker is gone (silent, disconnected, left, failed to load). If it held a stage, the
    /// pipeline's steps are void; the calls wait for a standby and are replayed (or, without a
    /// failover timeout, end UNAVAILABLE).
    mutating func workerLost(_ id: [UInt8], reason: String, now: ContinuousClock.Instant) {
        guard let rec = cluster.markLost(id, now: now) else { return }
        log(.error, "worker lost", ["worker": "\(rec.workerID)", "reason": "\(reason)", "missing": "\(cluster.missingLayers)"])
        if let stage = rec.stage {
            let layers = cluster.plan.map { "\($0[stage].lowerBound)..<\($0[stage].upperBound)" } ?? "?"
            // Every stage drops all sequences at the next epoch: steps and releases in the
            // pipeline are void, and so are the KV caches the calls had built.
            inFlight.removeAll()
            pendingReleases.removeAll()
            resetPrefix()
            if settings.failoverTimeout > .zero && !draining {
                var kept = 0
                for call in arrival {
                    if call.ended {
                        // Ended (deadline, cancel, client gone) while a step held it: that step is
                        // void and the new epoch drops its cache, so it is released now. Without
                        // this it kept `inStep` for ever: never freed, its KV reservation leaked
                        // (simulation seeds 2, 16, 84).
                        call.inStep = false
                        call.started = false
                    } else {
                        call.prepareReplay()
                        kept += 1
                    }
                }
                releaseEnded()
                if failoverSince == nil { failoverSince = now }
                counters.failovers += 1
                log(.notice, "calls wait for a standby to take the lost stage", [
                    "layers": "\(layers)", "calls": "\(kept)", "failover_timeout": "\(settings.failoverTimeout)"])
            } else {
                for call in arrival where !call.ended {
                    call.inStep = false
                    call.started = false
                    finish(call, status: Status(code: .unavailable, message: "worker \(rec.workerID) (layers \(layers)) lost: \(reason)"), now: now)
                }
                // Like the calls above, those that ended while a step held them have no cache
                // left at the next epoch: nothing to release (seeds 6002, 7360 left their releases
                // pending for ever when no standby came).
                for call in arrival {
                    call.inStep = false
                    call.started = false
                }
                releaseEnded()
            }
        }
        reconcile(now: now)
    }

    /// Ends a failover: recovered when every stage serves again, or, after `failoverTimeout`,
    /// every waiting call ends UNAVAILABLE.
    mutating func checkFailover(now: ContinuousClock.Instant) {
        guard let since = failoverSince else { return }
        if cluster.serving {
            failoverSince = nil
            let replayed = arrival.filter { !$0.ended && $0.replays > 0 }.count
            log(.notice, "failover done: every stage serves again; replaying calls", ["calls": "\(replayed)", "after": "\(now - since)"])
        } else if now - since >= settings.failoverTimeout {
            failoverSince = nil
            let missing = cluster.missingLayers.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ")
            for call in arrival where !call.ended {
                finish(call, status: Status(code: .unavailable, message:
                    "layers \(missing) had no worker for \(settings.failoverTimeout) (--failover-timeout); start a standby mq-worker"), now: now)
            }
            releaseEnded()
        }
    }
}
