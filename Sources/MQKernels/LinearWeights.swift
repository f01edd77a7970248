// What a model's linear layers need from their weights, whatever the format: float panels in the
// checkpoint's precision (PackedWeight, PackedLinear.swift) or 8-bit blocks (Q8Weight, Q8Linear.swift).
// A loader picks the format once (see WeightFormat); the step code calls `linear` the same way.
//
// Shapes: T = rows, IN = input features, OUT = output features; W is [OUT, IN] as nn.Linear stores it.

/// How a linear layer's weights are held in memory.
public enum WeightFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case f32, f16, bf16
    /// 8-bit blocks of 32 inputs with one float16 scale each (llama.cpp's Q8_0): 34 bytes per 32 weights.
    case q8_0

    public var description: String { rawValue }
}

/// A weight matrix W[OUT, IN] packed for products with any number of rows.
public protocol LinearWeights: AnyObject, Sendable {
    var name: String { get }
    var outFeatures: Int { get }
    var inFeatures: Int { get }
    var format: WeightFormat { get }
    /// Bytes one full product reads (scales included, padding not).
    var byteCount: Int { get }
    /// Row `o` of W as float32 (length IN), as the product sees it (e.g. a token's embedding from a tied head).
    func copyRow(_ o: Int, into dst: UnsafeMutablePointer<Float>)
    /// y[T, OUT] = x[T, IN] · Wᵀ + bias (bias optional; y is overwritten), the same numbers for every
    /// thread count and whatever other rows share the call.
    func apply(_ x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>,
               tokens t: Int, compute: ComputeContext)
}

/// y[T, OUT] = x[T, IN] · Wᵀ + bias for weights in any format.
public func linear(_ x: UnsafePointer<Float>, _ w: any LinearWeights, _ bias: UnsafePointer<Float>?,
                   _ y: UnsafeMutablePointer<Float>, tokens t: Int, compute: ComputeContext) {
    w.apply(x, bias: bias, y, tokens: t, compute: compute)
}

extension PackedWeight: LinearWeights {
    public var format: WeightFormat {
        switch storage {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }

    public func apply(_ x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>,
                      tokens t: Int, compute: ComputeContext) {
        linear(x, self, bias, y, tokens: t, compute: compute, kernel: .best)
    }
}
