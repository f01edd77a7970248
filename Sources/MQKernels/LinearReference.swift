// The naive reference every matrix product is tested against (STYLE habit 5).
//
// Shapes: T = tokens in the step, IN = input features, OUT = output features.
// Weights are stored as PyTorch `nn.Linear` stores them: W[OUT, IN], row-major, so y = x · Wᵀ + b.

/// Reference for `linear`: the definition, accumulated in Double.
public func linearNaive(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                        _ y: UnsafeMutablePointer<Float>, tokens t: Int, inFeatures n: Int, outFeatures m: Int) {
    for r in 0..<t {
        for o in 0..<m {
            var acc = Double(bias?[o] ?? 0)
            for i in 0..<n { acc += Double(x[r * n + i]) * Double(w[o * n + i]) }
            y[r * m + o] = Float(acc)
        }
    }
}
