// Multipart frame layouts. Client plane and worker control sockets carry one protobuf per
// message (`WireMessage.frames()` / `decode(frames:)`). The data plane carries a Step header and,
// after stage 0, the activations as a second raw frame, so the bulk bytes never pass through
// protobuf-c. This file checks that the two frames agree.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One data-plane message: `[WorkerMessage{step}]` (coordinator -> stage 0, no tensor) or
/// `[WorkerMessage{step}, tensor bytes]` (stage k -> stage k+1). The tensor frame holds
/// `step.tensor` row-major, little-endian, exactly `product(shape) x element size` bytes.
public struct StepFrames: Hashable, Sendable {
    public let step: Step
    /// The raw activation bytes; nil exactly when `step.tensor` is nil.
    public let tensor: [UInt8]?

    /// Pairs a step with its tensor bytes, checking that they agree (see `validate`).
    public init(step: Step, tensor: [UInt8]?) throws(ProtocolError) {
        try StepFrames.validate(step, tensorByteCount: tensor?.count)
        self.init(validated: step, tensor: tensor)
    }

    private init(validated step: Step, tensor: [UInt8]?) {
        self.step = step
        self.tensor = tensor
    }

    /// The frames to send.
    public func encode() -> [[UInt8]] {
        let header = WorkerMessage.step(step).encode()
        if let tensor { return [header, tensor] }
        return [header]
    }

    /// Decodes and checks received frames.
    public static func decode(_ frames: [[UInt8]]) throws(ProtocolError) -> StepFrames {
        guard frames.count == 1 || frames.count == 2 else {
            throw .wrongFrameCount(what: "data-plane Step message", expected: "1 or 2", actual: frames.count)
        }
        let tensor = frames.count == 2 ? frames[1] : nil
        let step = try withRawBytes(frames[0]) { header throws(ProtocolError) -> Step in
            try decodeHeader(header, tensorByteCount: tensor?.count)
        }
        return StepFrames(validated: step, tensor: tensor)
    }

    /// Decodes a data-plane message whose frames are still in the transport's buffers (nothing is
    /// copied): the checked Step, and the tensor frame (nil when there is none).
    public static func decodeInPlace(_ frames: [UnsafeRawBufferPointer]) throws(ProtocolError) -> (step: Step, tensor: UnsafeRawBufferPointer?) {
        guard frames.count == 1 || frames.count == 2 else {
            throw .wrongFrameCount(what: "data-plane Step message", expected: "1 or 2", actual: frames.count)
        }
        let tensor = frames.count == 2 ? frames[1] : nil
        return (try decodeHeader(frames[0], tensorByteCount: tensor?.count), tensor)
    }

    /// Decodes a header frame without copying the tensor frame, which stays in the transport's
    /// buffer: pass its size (nil when the message had only the header frame).
    public static func decodeHeader(_ header: UnsafeRawBufferPointer, tensorByteCount: Int?) throws(ProtocolError) -> Step {
        guard case let .step(step) = try WorkerMessage.decode(header) else {
            let actual = (try? WorkerMessage.decode(header).kindName) ?? "message"
            throw .unexpectedMessage(expected: "a Step on a data socket", actual: actual)
        }
        try validate(step, tensorByteCount: tensorByteCount)
        return step
    }

    /// Checks a step against its tensor frame: a tensor frame exactly when the header describes
    /// one, of exactly the described size, with one row per token of the step's sequences.
    public static func validate(_ step: Step, tensorByteCount: Int?) throws(ProtocolError) {
        switch (step.tensor, tensorByteCount) {
        case (nil, nil):
            return
        case (nil, let count?):
            throw .wrongFrameCount(
                what: "Step \(step.stepID) without a tensor description but with a \(count)-byte frame",
                expected: "1", actual: 2)
        case (let desc?, nil):
            throw .wrongFrameCount(
                what: "Step \(step.stepID) describing a \(desc.shape) tensor", expected: "2", actual: 1)
        case let (desc?, count?):
            guard count <= ProtocolLimits.maxTensorBytes else {
                throw .oversized(what: "tensor frame", byteCount: count, limit: ProtocolLimits.maxTensorBytes)
            }
            let expected = try desc.byteCount(field: "Step.tensor")
            guard count == expected else {
                throw .invalidValue(
                    field: "tensor frame",
                    reason: "\(count) bytes, but Step.tensor \(desc.shape) of \(desc.dtype) needs \(expected)")
            }
            guard desc.shape.count == 2, desc.shape[0] == UInt64(step.tokenCount) else {
                throw .invalidValue(
                    field: "Step.tensor.shape",
                    reason: "\(desc.shape) is not [\(step.tokenCount) tokens, hidden]")
            }
        }
    }

    /// F32 activations as tensor frame bytes.
    public static func tensorBytes(_ values: UnsafeBufferPointer<Float>) -> [UInt8] {
        Array(UnsafeRawBufferPointer(values))
    }

    /// Copies an F32 tensor frame into `destination`, which must hold exactly its elements.
    public func copyTensor(into destination: UnsafeMutableBufferPointer<Float>) throws(ProtocolError) {
        guard let tensor, let desc = step.tensor else {
            throw .unexpectedMessage(expected: "a Step with a tensor", actual: "a Step without one")
        }
        guard desc.dtype == .f32 else {
            throw .invalidValue(field: "Step.tensor.dtype", reason: "\(desc.dtype), expected f32")
        }
        guard tensor.count == destination.count * MemoryLayout<Float>.size else {
            throw .invalidValue(
                field: "tensor frame", reason: "\(tensor.count) bytes for a buffer of \(destination.count) floats")
        }
        guard let target = destination.baseAddress, !tensor.isEmpty else { return }
        tensor.withUnsafeBytes { source in
            _ = memcpy(UnsafeMutableRawPointer(target), source.baseAddress!, source.count)
        }
    }
}
