// The bridge between Swift values and protobuf-c structs, the only code in mq that allocates,
// fills, packs, unpacks or frees them. Encoding builds the C struct tree in a CArena (one
// allocation list freed at once) and packs it; decoding unpacks with protobuf-c, converts and
// validates into Swift values, and frees the C tree before returning.

import CMQProto
import CProtobufC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if _endian(big)
#error("mq's tensor frames are little-endian; a big-endian host would need byte swapping")
#endif

// MARK: Public message protocol

/// A message that travels alone as one serialized protobuf (a frame, or a CallRequest/CallReply
/// payload).
public protocol WireMessage: Sendable {
    /// The protobuf encoding.
    func encode() -> [UInt8]
    /// Parses and validates a protobuf encoding; never traps on any input.
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> Self
}

extension WireMessage {
    /// Parses and validates bytes from any collection (an Array, a Data slice, ...).
    public static func decode(_ bytes: some Collection<UInt8>) throws(ProtocolError) -> Self {
        let result: Result<Self, ProtocolError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(ProtocolError) -> Self in try decode(UnsafeRawBufferPointer(buffer)) }
        }
        if let result { return try result.get() }
        return try withRawBytes(Array(bytes)) { buffer throws(ProtocolError) -> Self in try decode(buffer) }
    }

    /// The message as a one-frame multipart message.
    public func frames() -> [[UInt8]] { [encode()] }

    /// Decodes a multipart message that must consist of exactly one frame.
    public static func decode(frames: [[UInt8]]) throws(ProtocolError) -> Self {
        guard frames.count == 1 else {
            throw .wrongFrameCount(what: "\(Self.self) message", expected: "1", actual: frames.count)
        }
        return try decode(frames[0])
    }
}

// MARK: Internal bridging protocol

/// A Swift value with a protobuf-c struct counterpart.
protocol CBridged {
    associatedtype CMessage
    /// The proto message name, for error messages.
    static var protoName: String { get }
    /// The generated `xxx__init`, which also sets the descriptor.
    static func cInit(_ message: UnsafeMutablePointer<CMessage>)
    /// Writes this value into an initialized struct; every pointer it stores comes from `arena`.
    func fill(_ message: UnsafeMutablePointer<CMessage>, arena: CArena)
    /// Converts and validates an unpacked struct. `path` names it in errors; it is a closure so
    /// that the field path strings are only built when something fails (decoding a Step then
    /// costs no string formatting).
    init(c message: UnsafePointer<CMessage>, path: () -> String) throws(ProtocolError)
}

/// Owns every C allocation made while encoding one message; all are freed when it goes away.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in blocks { free(block) }
    }

    /// Zeroed memory for `count` values of T (at least one, so the pointer is never NULL).
    func allocate<T>(_: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let n = max(count, 1)
        // calloc fails only when memory is exhausted; a process cannot go on without memory.
        guard let raw = calloc(n, MemoryLayout<T>.stride) else {
            fatalError("MQProtocol: out of memory allocating \(n) x \(T.self)")
        }
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: n)
    }

    /// A NUL-terminated copy. protobuf-c packs strings with strlen, so a string containing U+0000
    /// is cut there: the protocol keeps free text in `bytes` fields (see common.proto).
    func string(_ value: String) -> UnsafeMutablePointer<CChar> {
        var utf8 = Array(value.utf8)
        utf8.append(0)
        let out = allocate(CChar.self, count: utf8.count)
        utf8.withUnsafeBytes { UnsafeMutableRawPointer(out).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return out
    }

    /// A `bytes` field holding these bytes.
    func bytes(_ value: some Collection<UInt8>) -> ProtobufCBinaryData {
        let array = Array(value)
        guard !array.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let out = allocate(UInt8.self, count: array.count)
        out.initialize(from: array, count: array.count)
        return ProtobufCBinaryData(len: array.count, data: out)
    }

    /// A `bytes` field holding the UTF-8 of `text`.
    func text(_ value: String) -> ProtobufCBinaryData { bytes(value.utf8) }

    /// A repeated scalar field: (count, pointer), NULL when empty.
    func array<T>(_ values: [T]) -> (Int, UnsafeMutablePointer<T>?) {
        guard !values.isEmpty else { return (0, nil) }
        let out = allocate(T.self, count: values.count)
        out.initialize(from: values, count: values.count)
        return (values.count, out)
    }

    /// A message field.
    func message<M: CBridged>(_ value: M) -> UnsafeMutablePointer<M.CMessage> {
        let out = allocate(M.CMessage.self)
        M.cInit(out)
        value.fill(out, arena: self)
        return out
    }

    /// A repeated message field: (count, array of pointers), NULL when empty.
    func messages<M: CBridged>(_ values: [M]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?>?) {
        guard !values.isEmpty else { return (0, nil) }
        let out = allocate(UnsafeMutablePointer<M.CMessage>?.self, count: values.count)
        for (index, value) in values.enumerated() { out[index] = message(value) }
        return (values.count, out)
    }

    /// A repeated `bytes` field of UTF-8 texts.
    func texts(_ values: [String]) -> (Int, UnsafeMutablePointer<ProtobufCBinaryData>?) {
        array(values.map { text($0) })
    }
}

// MARK: Pack and unpack

enum Wire {
    /// Serializes a value through its protobuf-c struct.
    static func pack<M: CBridged>(_ value: M) -> [UInt8] {
        let arena = CArena()
        let message = arena.message(value)
        // Every generated struct starts with its ProtobufCMessage base (C layout guarantee).
        let base = UnsafeMutableRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
        let size = protobuf_c_message_get_packed_size(base)
        guard size > 0 else { return [] }
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = protobuf_c_message_pack(base, buffer.baseAddress!)
        }
        withExtendedLifetime(arena) {}
        return bytes
    }

    /// Parses bytes with protobuf-c and converts them; the C tree is freed before returning.
    static func unpack<M: CBridged>(_: M.Type, _ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> M {
        try withUnpacked(M.self, bytes) { message throws(ProtocolError) -> M in try M(c: message, path: { M.protoName }) }
    }

    /// Parses bytes with protobuf-c, hands the struct to `body` and frees it afterwards.
    static func withUnpacked<M: CBridged, R>(
        _: M.Type, _ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<M.CMessage>) throws(ProtocolError) -> R
    ) throws(ProtocolError) -> R {
        guard bytes.count <= ProtocolLimits.maxMessageBytes else {
            throw .oversized(what: "\(M.protoName) frame", byteCount: bytes.count, limit: ProtocolLimits.maxMessageBytes)
        }
        let descriptor = descriptor(of: M.self)
        var empty: UInt8 = 0
        let unpacked: UnsafeMutablePointer<ProtobufCMessage>? = withUnsafePointer(to: &empty) { emptyPointer in
            // protobuf-c wants a non-NULL pointer even for zero bytes (an empty message is valid).
            let data = bytes.count > 0 ? bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) : emptyPointer
            return protobuf_c_message_unpack(descriptor, nil, bytes.count, data)
        }
        guard let unpacked else { throw .malformed(message: M.protoName, byteCount: bytes.count) }
        defer { protobuf_c_message_free_unpacked(unpacked, nil) }
        return try body(UnsafeRawPointer(unpacked).assumingMemoryBound(to: M.CMessage.self))
    }

    /// The address of the generated descriptor, read from a freshly initialized struct (Swift
    /// would copy the C global if it were named directly, and protobuf-c keeps its address).
    static func descriptor<M: CBridged>(of _: M.Type) -> UnsafePointer<ProtobufCMessageDescriptor> {
        withUnsafeTemporaryAllocation(of: M.CMessage.self, capacity: 1) { scratch in
            M.cInit(scratch.baseAddress!)
            return UnsafeRawPointer(scratch.baseAddress!).load(as: ProtobufCMessage.self).descriptor
        }
    }
}

// MARK: Decoding helpers

/// `Array.withUnsafeBytes` with a typed error (the standard library's version is `rethrows`,
/// which erases the error type).
func withRawBytes<R>(
    _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ProtocolError) -> R
) throws(ProtocolError) -> R {
    let result = bytes.withUnsafeBytes { buffer in Result { () throws(ProtocolError) -> R in try body(buffer) } }
    return try result.get()
}

/// A `string` field, checked for UTF-8.
func decodeString(_ pointer: UnsafePointer<CChar>?, _ path: @autoclosure () -> String) throws(ProtocolError) -> String {
    guard let pointer else { return "" }
    guard let value = String(validatingCString: pointer) else { throw .invalidUTF8(field: path()) }
    return value
}

/// A `bytes` field that holds UTF-8 text.
func decodeText(_ data: ProtobufCBinaryData, _ path: @autoclosure () -> String) throws(ProtocolError) -> String {
    guard data.len > 0, let pointer = data.data else { return "" }
    guard let value = String(validating: UnsafeBufferPointer(start: pointer, count: data.len), as: UTF8.self) else {
        throw .invalidUTF8(field: path())
    }
    return value
}

/// A `bytes` field.
func decodeBytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard data.len > 0, let pointer = data.data else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: data.len))
}

/// A repeated scalar field.
func decodeArray<T>(_ count: Int, _ pointer: UnsafePointer<T>?) -> [T] {
    guard count > 0, let pointer else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}

/// A repeated `bytes` field of UTF-8 texts.
func decodeTexts(_ count: Int, _ pointer: UnsafePointer<ProtobufCBinaryData>?, _ path: @autoclosure () -> String) throws(ProtocolError) -> [String] {
    guard count > 0, let pointer else { return [] }
    var out: [String] = []
    out.reserveCapacity(count)
    for index in 0 ..< count { out.append(try decodeText(pointer[index], "\(path())[\(index)]")) }
    return out
}

/// An optional message field.
func decodeMessage<M: CBridged>(_: M.Type, _ pointer: UnsafePointer<M.CMessage>?, _ path: @autoclosure () -> String) throws(ProtocolError) -> M? {
    guard let pointer else { return nil }
    return try M(c: pointer, path: path)
}

/// A required message field.
func decodeRequired<M: CBridged>(_: M.Type, _ pointer: UnsafePointer<M.CMessage>?, _ path: @autoclosure () -> String) throws(ProtocolError) -> M {
    guard let pointer else { throw .missingField(path()) }
    return try M(c: pointer, path: path)
}

/// A repeated message field.
func decodeMessages<M: CBridged>(
    _: M.Type, _ count: Int, _ pointer: UnsafePointer<UnsafeMutablePointer<M.CMessage>?>?, _ path: @autoclosure () -> String
) throws(ProtocolError) -> [M] {
    guard count > 0, let pointer else { return [] }
    var out: [M] = []
    out.reserveCapacity(count)
    for index in 0 ..< count {
        guard let element = pointer[index] else { throw .missingField("\(path())[\(index)]") }
        out.append(try M(c: element, path: { "\(path())[\(index)]" }))
    }
    return out
}

/// A protobuf-c boolean.
@inline(__always) func cBool(_ value: Bool) -> protobuf_c_boolean { value ? 1 : 0 }

/// Rejects NaN, infinities and negative values in a float parameter.
func requireFiniteNonNegative(_ value: Float, _ path: @autoclosure () -> String) throws(ProtocolError) {
    guard value.isFinite, value >= 0 else {
        throw .invalidValue(field: path(), reason: "\(value) is not a finite non-negative number")
    }
}
