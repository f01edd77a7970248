// ZMQFrame: what one frame of an outgoing multipart message can be made of, and ZMQSharedBuffer,
// the owner of bytes handed to libzmq without a copy (large activation tensors).

import Foundation

/// One frame of an outgoing message.
public enum ZMQFrame {
    /// Copied into a libzmq message during the send call.
    case bytes([UInt8])
    /// Copied into a libzmq message during the send call.
    case data(Data)
    /// Copied during the send call; the memory only has to be valid for the duration of the call.
    case raw(UnsafeRawBufferPointer)
    /// Handed to libzmq without copying. libzmq keeps the buffer alive until its I/O thread has
    /// written it out (or the receiving thread closed it, for inproc).
    case shared(ZMQSharedBuffer)

    var count: Int {
        switch self {
        case .bytes(let bytes): return bytes.count
        case .data(let data): return data.count
        case .raw(let buffer): return buffer.count
        case .shared(let buffer): return buffer.count
        }
    }
}

/// An immutable, 64-byte-aligned byte buffer that can be sent without copying.
///
/// Filled once by the initializer's closure and read-only afterwards, which is what makes it
/// `Sendable` and what makes the zero-copy send safe: libzmq may read the bytes on its I/O thread
/// while the sender goes on, and releases its reference there (a Swift release is thread-safe).
public final class ZMQSharedBuffer: @unchecked Sendable {
    // @unchecked: `base` is written only inside init and never again; deinit runs once, after the
    // last reference (Swift's or libzmq's) is gone.
    public let count: Int
    let base: UnsafeMutableRawPointer

    static let alignment = 64

    /// Allocates `count` bytes and lets `initialize` fill them (they start out zeroed).
    public init(count: Int, initializingWith initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        precondition(count >= 0, "ZMQSharedBuffer: negative byte count \(count)")
        self.count = count
        // Allocate at least one byte so `base` is a real allocation even for an empty frame.
        base = .allocate(byteCount: max(count, 1), alignment: Self.alignment)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
        do {
            try initialize(UnsafeMutableRawBufferPointer(start: base, count: count))
        } catch {
            base.deallocate()
            throw error
        }
    }

    /// Copies `bytes` into a new buffer.
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count) { destination in
            if let source = bytes.baseAddress, bytes.count > 0 {
                destination.baseAddress!.copyMemory(from: source, byteCount: bytes.count)
            }
        }
    }

    /// Copies `bytes` into a new buffer.
    public convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count) { destination in
            bytes.withUnsafeBytes { source in
                if source.count > 0 { destination.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: source.count) }
            }
        }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    deinit {
        base.deallocate()
    }
}
