// ZMQFrame: what one frame of an outgoing multipart message can be made of. Every kind is copied
// into a libzmq message during the send call (an activation frame of a few KiB per token costs
// less to copy than to hand over with a free callback on libzmq's I/O thread).

import Foundation

/// One frame of an outgoing message.
public enum ZMQFrame {
    /// Copied into a libzmq message during the send call.
    case bytes([UInt8])
    /// Copied into a libzmq message during the send call.
    case data(Data)
    /// Copied during the send call; the memory only has to be valid for the duration of the call.
    case raw(UnsafeRawBufferPointer)

    var count: Int {
        switch self {
        case .bytes(let bytes): return bytes.count
        case .data(let data): return data.count
        case .raw(let buffer): return buffer.count
        }
    }
}
