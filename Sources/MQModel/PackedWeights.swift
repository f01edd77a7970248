// Loading-time repacking of nn.Linear weights for MQKernels' `linear` (see PackedLinear.swift):
// every model file hands its [OUT, IN] matrices through here once, so the per-step products stream
// packed weights and give the same numbers for a sequence whatever else shares its step.
import MQCheckpoint
import MQKernels

extension PackedWeight {
    /// Packs a 2-D tensor W[OUT, IN]; the tensor (and its mapping or converted copy) can then go.
    convenience init(_ t: FloatTensor) {
        precondition(t.shape.count == 2, "\(t.name): a linear weight must be 2-D")   // shapes are checked at load
        self.init(name: t.name, t.pointer, outFeatures: t.shape[0], inFeatures: t.shape[1])
        withExtendedLifetime(t) {}
    }
}
