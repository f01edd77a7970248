// The ids of sequences a worker released, remembered so that a Step arriving on the data socket
// after its sequence's Release arrived on the control socket is dropped (the two sockets are not
// ordered; ids are never reused). Bounded: the oldest ids are forgotten first
// (Protos/PROTOCOL.md 6.3, `ProtocolLimits.releasedSequencesRemembered`).

import MQProtocol

struct ReleasedSequences {
    let capacity: Int
    private var members: Set<UInt64> = []
    /// Insertion order as a ring: `ring[next]` is the oldest once the ring is full.
    private var ring: [UInt64] = []
    private var next = 0

    init(capacity: Int = ProtocolLimits.releasedSequencesRemembered) {
        precondition(capacity > 0, "ReleasedSequences needs room for at least one id")
        self.capacity = capacity
    }

    var count: Int { members.count }

    func contains(_ id: UInt64) -> Bool { members.contains(id) }

    mutating func insert(_ id: UInt64) {
        guard members.insert(id).inserted else { return }
        if ring.count < capacity {
            ring.append(id)
        } else {
            members.remove(ring[next])
            ring[next] = id
            next = (next + 1) % capacity
        }
    }

    /// Forgets everything: used when the worker registers anew, because a restarted coordinator
    /// numbers its sequences from the start again.
    mutating func removeAll() {
        members.removeAll()
        ring.removeAll()
        next = 0
    }
}
