// Loading-time repacking of nn.Linear weights for MQKernels' `linear` (see PackedLinear.swift):
// every model file hands its [OUT, IN] matrices through here once, so the per-step products stream
// packed weights and give the same numbers for a sequence whatever else shares its step.
import MQCheckpoint
import MQKernels

extension PackedWeight {
    /// Packs a 2-D tensor W[OUT, IN] in the precision the checkpoint stored it (F16 and BF16 panels
    /// hold exactly the checkpoint's values in half the bytes); the tensor (and its mapping or
    /// converted copy) can then go.
    convenience init(_ t: FloatTensor) {
        precondition(t.shape.count == 2, "\(t.name): a linear weight must be 2-D")   // shapes are checked at load
        let storage: PackedWeight.Storage = switch t.sourceDType {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        }
        self.init(name: t.name, t.pointer, outFeatures: t.shape[0], inFeatures: t.shape[1], storage: storage)
        withExtendedLifetime(t) {}
    }
}

extension PackedWeight {
    /// Packs a 2-D tensor W[OUT, IN] straight from the checkpoint's bytes in their stored precision
    /// (no float32 copy of the matrix is made on the way).
    convenience init(_ r: RawTensor) {
        precondition(r.shape.count == 2, "\(r.name): a linear weight must be 2-D")
        let encoding: PackedWeight.Storage = switch r.dtype {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        }
        self.init(name: r.name, bytes: r.bytes, encoding: encoding, outFeatures: r.shape[0], inFeatures: r.shape[1])
    }
}

/// Where a first stage reads token embedding rows: its own [V, E] table (packed like a matrix, in the
/// checkpoint's precision), or the packed LM head when the head is tied and loaded too (one packed
/// copy serves both instead of two copies).
enum TokenRows {
    case table(PackedWeight)
    case tiedHead(PackedWeight)

    /// The rows a stage that embeds needs: the tied head it already holds, or the table `name`.
    static func load(_ checkpoint: Checkpoint, _ name: String, vocab v: Int, hidden e: Int, head: PackedWeight?, tied: Bool) throws -> TokenRows {
        if tied, let head { return .tiedHead(head) }
        return .table(PackedWeight(try checkpoint.raw(name, shape: [v, e])))
    }

    /// Row `token` (length E) into `dst`; `token` is already checked against the vocabulary.
    func copy(_ token: Int, into dst: UnsafeMutablePointer<Float>, width e: Int) {
        switch self {
        case .table(let t), .tiedHead(let t): t.copyRow(token, into: dst)
        }
    }

    /// Bytes held for the rows beyond the head's own (none when they are the head).
    var byteCount: Int {
        if case .table(let t) = self { return t.byteCount }
        return 0
    }
}

/// A LayerNorm's scale and shift, each [E], loaded as float32.
struct LayerNormWeights {
    var weight: FloatTensor   // [E]
    var bias: FloatTensor     // [E]

    /// `<name>.weight` and `<name>.bias`, each [width].
    init(_ checkpoint: Checkpoint, _ name: String, width: Int) throws {
        weight = try checkpoint.load(name + ".weight", shape: [width])
        bias = try checkpoint.load(name + ".bias", shape: [width])
    }

    var byteCount: Int { weight.byteCount + bias.byteCount }
}
