// Element-wise activations named as Hugging Face configs name them.
import MQKernels

/// Element-wise activations used by the supported architectures.
public enum Activation: Sendable, Equatable {
    case geluTanh, geluErf, relu

    public init?(huggingFaceName n: String) {
        switch n {
        case "gelu_pytorch_tanh", "gelu_new", "gelu_fast", "gelu_python_tanh": self = .geluTanh
        case "gelu", "gelu_python": self = .geluErf
        case "relu": self = .relu
        default: return nil
        }
    }

    func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .geluTanh: MQKernels.geluTanh(x, count: count)
        case .geluErf: MQKernels.geluErf(x, count: count)
        case .relu: for i in 0..<count where x[i] < 0 { x[i] = 0 }
        }
    }
}
