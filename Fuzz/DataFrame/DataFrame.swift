// libFuzzer target: data-plane messages (a Step header frame and an optional tensor frame), decoded
// with StepFrames.decode as a worker decodes them, then copied out as F32 activations when the
// header allows. A thrown ProtocolError is the expected outcome for bad input; a trap or sanitizer
// report is a bug. Built and run by tools/fuzz.sh.
//
// Input layout (how one byte string becomes a multipart message):
//   byte 0          frame count (value % 4: 0 to 3 frames; only 1 or 2 are valid)
//   bytes 1-2       header frame length L, little-endian (clamped to what is left)
//   next L bytes    header frame; the rest is the tensor frame, then further frames are empty
// With fewer than 3 bytes the input is one header frame.

import MQProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDataFrame(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var frames: [[UInt8]]
    if input.count < 3 {
        frames = [input]
    } else {
        let count = Int(input[0] % 4)
        let length = min(Int(input[1]) | Int(input[2]) << 8, input.count - 3)
        let header = Array(input[3 ..< 3 + length])
        let tensor = Array(input[(3 + length)...])
        frames = Array([header, tensor, []].prefix(count))
    }

    guard let decoded = try? StepFrames.decode(frames) else { return 0 }
    // The worker's next steps: copy the activations into a buffer of the described size.
    if let tensor = decoded.tensor, tensor.count % MemoryLayout<Float>.size == 0 {
        let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: tensor.count / MemoryLayout<Float>.size)
        defer { floats.deallocate() }
        _ = try? decoded.copyTensor(into: floats)
    }
    // A decoded message re-encodes to frames that decode to the same value.
    guard let again = try? StepFrames.decode(decoded.encode()), again == decoded else {
        fatalError("DataFrame: a decoded StepFrames did not survive encode/decode")
    }
    return 0
}
