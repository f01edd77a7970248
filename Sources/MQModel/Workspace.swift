// Scratch buffers for a step, grown when a larger step first needs them and reused afterwards, so
// steady-state decoding allocates nothing per token.
import MQKernels

final class Workspace {
    enum Slot: Int, CaseIterable { case normed, qkv, attn, proj, mlp, scores, logitsRows }

    private var buffers: [UnsafeMutablePointer<Float>?] = Array(repeating: nil, count: Slot.allCases.count)
    private var sizes: [Int] = Array(repeating: 0, count: Slot.allCases.count)
    private var runBuffer: UnsafeMutablePointer<KVRun>?
    private var runCapacity = 0

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

    func runs(_ count: Int) -> UnsafeMutablePointer<KVRun> {
        if runCapacity < count {
            runBuffer?.deallocate()
            let n = max(count, runCapacity * 2, 64)
            runBuffer = .allocate(capacity: n)
            runCapacity = n
        }
        return runBuffer!
    }

    deinit {
        for b in buffers { b?.deallocate() }
        runBuffer?.deallocate()
    }
}
