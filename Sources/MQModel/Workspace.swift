// Scratch buffers for a step, grown when a larger step first needs them and reused afterwards, so
// steady-state decoding allocates nothing per token.
import MQKernels

final class Workspace {
    enum Slot: Int, CaseIterable { case normed, qkv, attn, proj, mlp, scores, scores2, logitsRows }

    private var buffers: [UnsafeMutablePointer<Float>?] = Array(repeating: nil, count: Slot.allCases.count)
    private var sizes: [Int] = Array(repeating: 0, count: Slot.allCases.count)
    private var runBuffers: [UnsafeMutablePointer<KVRun>?] = [nil, nil]
    private var runCapacities = [0, 0]

    /// A buffer of at least `count` floats for `slot` (contents undefined).
    func floats(_ slot: Slot, _ count: Int) -> UnsafeMutablePointer<Float> {
        let i = slot.rawValue
        if sizes[i] < count {
            buffers[i]?.deallocate()
            // Grow geometrically so a sequence of slightly larger steps does not reallocate each time.
            let n = max(count, sizes[i] * 3 / 2)
            buffers[i] = .allocate(capacity: n)
            sizes[i] = n
        }
        return buffers[i]!
    }

    /// KV runs for one of the (at most two) halves of a step that attend in parallel.
    func runs(_ count: Int, part: Int = 0) -> UnsafeMutablePointer<KVRun> {
        if runCapacities[part] < count {
            runBuffers[part]?.deallocate()
            let n = max(count, runCapacities[part] * 2, 64)
            runBuffers[part] = .allocate(capacity: n)
            runCapacities[part] = n
        }
        return runBuffers[part]!
    }

    deinit {
        for b in buffers { b?.deallocate() }
        for b in runBuffers { b?.deallocate() }
    }
}
