// Loading-time repacking of nn.Linear weights for MQKernels' `linear` (see PackedLinear.swift and
// Q8Linear.swift): every model file hands its [OUT, IN] matrices through here once (MatrixLoader),
// in the checkpoint's precision or quantized to Q8_0, so the per-step products stream packed weights
// and give the same numbers for a sequence whatever else shares its step.
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

/// How a load holds its models' matrices (linear layers, LM head, embedding table): as the checkpoint
/// stores them (F32, F16 or BF16 panels, bit-exact), or quantized to Q8_0 blocks while loading.
public enum WeightPrecision: String, Sendable, CaseIterable, CustomStringConvertible {
    case stored
    case q8_0
    public var description: String { rawValue }
}

/// Packs one load's matrices in its precision, straight from the checkpoint's mapping, and hands
/// each tensor's file pages back once packed: resident memory grows by the packed copy only, never by
/// the whole mapping (peak ≈ what the model keeps plus one tensor).
struct MatrixLoader {
    let precision: WeightPrecision
    /// Threads that quantize a matrix's row groups in parallel.
    let threads: Int

    /// W[OUT, IN] from the checkpoint's bytes.
    func callAsFunction(_ r: RawTensor) -> any LinearWeights {
        precondition(r.shape.count == 2, "\(r.name): a linear weight must be 2-D")
        defer { r.releasePages() }
        switch precision {
        case .stored:
            return PackedWeight(name: r.name, bytes: r.bytes, encoding: PackedWeight.Storage(r.dtype),
                                outFeatures: r.shape[0], inFeatures: r.shape[1], threads: threads)
        case .q8_0:
            return Q8Weight(name: r.name, bytes: r.bytes, encoding: PackedWeight.Storage(r.dtype),
                            outFeatures: r.shape[0], inFeatures: r.shape[1], threads: threads)
        }
    }

    /// W[OUT, IN] already converted to float32 (rearranged or transposed at load).
    func callAsFunction(_ t: FloatTensor) -> any LinearWeights {
        switch precision {
        case .stored: return PackedWeight(t)
        case .q8_0:
            precondition(t.shape.count == 2, "\(t.name): a linear weight must be 2-D")
            defer { withExtendedLifetime(t) {} }
            return Q8Weight(name: t.name, t.pointer, outFeatures: t.shape[0], inFeatures: t.shape[1], threads: threads)
        }
    }
}

extension PackedWeight.Storage {
    init(_ dtype: DType) {
        switch dtype {
        case .f32: self = .f32
        case .f16: self = .f16
        case .bf16: self = .bf16
        }
    }
}

/// Where a first stage reads token embedding rows: its own [V, E] table (packed like a matrix, in the
/// checkpoint's precision), or the packed LM head when the head is tied and loaded too (one packed
/// copy serves both instead of two copies).
enum TokenRows {
    case table(any LinearWeights)
    case tiedHead(any LinearWeights)

    /// The rows a stage that embeds needs: the tied head it already holds, or the table `name`.
    /// The table is held like the matrices (`matrices`), so a stage without the head reads the same
    /// rows as one that shares them with its tied head.
    static func load(_ checkpoint: Checkpoint, _ name: String, vocab v: Int, hidden e: Int, head: (any LinearWeights)?, tied: Bool,
                     matrices: MatrixLoader) throws -> TokenRows {
        if tied, let head { return .tiedHead(head) }
        return .table(matrices(try checkpoint.raw(name, shape: [v, e])))
    }

    /// Row `token` (length E) into `dst`; `token` is already checked against the vocabulary.
    func copy(_ token: Int, into dst: UnsafeMutablePointer<Float>, width e: Int) {
        switch self {
        case .table(let t), .tiedHead(let t): t.copyRow(token, into: dst)
        }
    }

    /// The format the rows are held in.
    var format: WeightFormat {
        switch self {
        case .table(let t), .tiedHead(let t): return t.format
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
