// `mq bench serve --chaos SECONDS`: while a level runs, every SECONDS SIGKILL one worker of the local
// cluster that holds a stage and start a replacement standby, recording when each kill happened
// (the statistics are in BenchStalls.swift). Victims are drawn from a seeded generator over the
// sorted list of candidates, so the same seed and the same cluster states give the same victims.
import Foundation
import MQClient
import MQLocalCluster
import MQSampling

/// Defaults of --chaos and --standbys (STYLE habit 10).
enum ChaosDefaults {
    /// Standbys started with --chaos when --standbys is not given: one to take the first lost stage
    /// while its replacement starts.
    static let standbys = 1
    /// Worker key pairs made beyond the first workers and standbys of a secured cluster, one per
    /// replacement: the coordinator's authorized-workers file must list every key at its start.
    /// When they are used up, chaos stops killing.
    static let spareKeys = 16
    /// Pause between Health polls while waiting for the cluster to settle after a level.
    static let settlePollInterval: Duration = .milliseconds(250)
    /// Salt mixed into --seed for the victim generator, so it is not the prompts' sequence.
    static let seedSalt: UInt64 = 0xC4A0_5C4A_05C4_A05C
}

/// Who --chaos kills: pure, for tests.
enum ChaosVictims {
    /// Worker ids that hold a stage (loading or ready) and whose process runs, sorted.
    static func candidates(_ health: HealthResponse, liveWorkers: Set<String>) -> [String] {
        health.workers.filter { worker in
            guard worker.layers != nil, liveWorkers.contains(worker.workerID) else { return false }
            switch worker.state {
            case .ready, .loading: return true
            case .registered, .lost, .unrecognized: return false
            }
        }.map(\.workerID).sorted()
    }

    /// One of `candidates`, uniformly, advancing `rng` only when there is a choice to make.
    static func choose(_ candidates: [String], rng: inout SplitMix64) -> String? {
        guard !candidates.isEmpty else { return nil }
        return candidates[Int(rng.next() % UInt64(candidates.count))]
    }
}

/// What the chaos task did during one level, before the statistics.
struct ChaosLog: Sendable {
    var kills: [ChaosKill] = []
    var skippedTicks = 0
}

/// Kills and replaces workers of one local cluster during the levels measured against it.
final class ChaosAgent: @unchecked Sendable {
    // @unchecked: `rng` and `exhausted` are only touched while holding `lock`.
    let cluster: LocalCluster
    let interval: Duration
    private var rng: SplitMix64
    /// Set when a replacement could not be started (no key pair left): chaos stops killing.
    private var exhausted = false
    private let lock = NSLock()

    init(cluster: LocalCluster, intervalSeconds: Double, seed: UInt64) {
        self.cluster = cluster
        interval = .milliseconds(Int64((intervalSeconds * 1000).rounded()))
        rng = SplitMix64(seed: seed ^ ChaosDefaults.seedSalt)
    }

    /// Every `interval` after `levelStart`, until cancelled: kill a stage's worker, start a
    /// replacement. Kill times are seconds since `levelStart`, like the level's token times.
    func run(levelStart: ContinuousClock.Instant, progress: @Sendable (String) -> Void) async -> ChaosLog {
        var log = ChaosLog()
        guard let client = try? cluster.client(timeout: ServeBenchDefaults.infoTimeout) else {
            progress("chaos: cannot connect to \(cluster.clientEndpoint); no worker killed in this level")
            return log
        }
        defer { client.close() }
        var tick = levelStart + interval
        while !Task.isCancelled {
            do { try await Task.sleep(until: tick, clock: .continuous) } catch { break }
            tick += interval
            if isExhausted { log.skippedTicks += 1; continue }
            let health: HealthResponse
            do {
                health = try await client.health()
            } catch {
                if Task.isCancelled { break }
                log.skippedTicks += 1
                progress("chaos: Health failed (\(error)); nobody killed")
                continue
            }
            let candidates = ChaosVictims.candidates(health, liveWorkers: cluster.liveWorkers)
            guard let victim = choose(candidates), let killed = cluster.killWorker(victim) else {
                log.skippedTicks += 1
                progress("chaos: no live worker holds a stage; nobody killed")
                continue
            }
            let seconds = (killed.at - levelStart).inSeconds
            var replacement: String?
            do {
                replacement = try cluster.launchWorker()
            } catch {
                markExhausted()
                progress("chaos: no replacement for \(victim): \(error); no more kills")
            }
            log.kills.append(ChaosKill(seconds: seconds, worker: victim, pid: killed.pid, replacement: replacement))
            progress(String(format: "chaos: SIGKILL %@ (pid %d) at %.2f s, started %@", victim, killed.pid, seconds, replacement ?? "no replacement"))
        }
        return log
    }

    /// Waits until the cluster is settled again (every layer served, every live worker registered,
    /// no killed one taken for alive), so that the next level does not start in a recovery.
    func settle(timeoutSeconds: Double) async throws {
        let client = try cluster.client(timeout: ServeBenchDefaults.infoTimeout)
        defer { client.close() }
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeoutSeconds * 1000))
        while true {
            if let health = try? await client.health(), LocalCluster.settled(health, liveWorkers: cluster.liveWorkers) { return }
            guard ContinuousClock.now < deadline else {
                throw ServeBenchError("--chaos: the cluster did not recover within \(Int(timeoutSeconds)) s (logs in \(cluster.directory.path))")
            }
            try await Task.sleep(for: ChaosDefaults.settlePollInterval)
        }
    }

    private func choose(_ candidates: [String]) -> String? {
        lock.lock()
        defer { lock.unlock() }
        return ChaosVictims.choose(candidates, rng: &rng)
    }

    private var isExhausted: Bool {
        lock.lock()
        defer { lock.unlock() }
        return exhausted
    }

    private func markExhausted() {
        lock.lock()
        exhausted = true
        lock.unlock()
    }
}
