// Memory-mapped safetensors files and Hugging Face model folders (one model.safetensors, or shards
// listed in model.safetensors.index.json).
//
// Format: [u64 little-endian N][N bytes JSON header][data]. The header maps each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} with offsets relative to the start of data.
// Files are mapped read-only: an F32 tensor is used in place (its pages become resident only when
// read, so a pipeline stage that touches only its own layers only pays for those); F16 and BF16
// tensors are converted to F32 copies when loaded.
import Foundation

/// Element types mq can read, plus the names of the others so errors can say what was found.
public enum DType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"
    public var size: Int { self == .f32 ? 4 : 2 }

    /// Byte size of any safetensors dtype (for validating offsets of tensors mq never loads).
    static func byteSize(of name: String) -> Int? {
        switch name {
        case "F64", "I64", "U64": return 8
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": return 1
        default: return nil
        }
    }
}

/// A tensor's entry in a safetensors header.
public struct TensorInfo: Sendable {
    public var name: String
    public var dtypeName: String
    public var shape: [Int]
    /// Byte range within the file (absolute, header included).
    public var fileRange: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A tensor's bytes exactly as the file stores them (little-endian F32, F16 or BF16, possibly
/// unaligned), read in place from the mapping it keeps alive. For consumers that keep the stored
/// precision (packed 2-byte weight panels) instead of converting to F32 first.
public struct RawTensor: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    public let dtype: DType
    let mapping: MappedFile
    let offset: Int
    public var bytes: UnsafeRawPointer { mapping.base + offset }
    public var count: Int { shape.reduce(1, *) }

    /// Drops the whole pages inside this tensor's bytes from the process once a loader has copied
    /// them (see MappedFile.releasePages); reading them again refaults them from the page cache.
    public func releasePages() {
        let page = Int(getpagesize())
        let start = (offset + page - 1) / page * page, end = (offset + count * dtype.size) / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: mapping.base + start), end - start, MADV_DONTNEED)
    }
}

/// A read-only memory mapping of a whole file, unmapped on deinit.
public final class MappedFile: @unchecked Sendable {
    // Safe to share: the mapping is read-only and lives until deinit.
    public let path: String
    public let base: UnsafeRawPointer
    public let size: Int

    public init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            if errno == ENOENT { throw CheckpointError.missingFile(path: path) }
            throw CheckpointError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw CheckpointError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        let size = Int(st.st_size)
        guard size > 0 else { throw CheckpointError.badHeader(file: path, reason: "empty file") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CheckpointError.unreadable(path: path, reason: "mmap: \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.base = UnsafeRawPointer(p)
        self.size = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }

    /// Drops this mapping's pages from the process (madvise DONTNEED) after a loader has copied what it
    /// needs, so resident memory counts the copies only; a later read of the mapping is served again
    /// from the page cache, so this never changes what the mapping reads as.
    public func releasePages() {
        _ = madvise(UnsafeMutableRawPointer(mutating: base), size, MADV_DONTNEED)
    }
}

/// One safetensors file: its mapping and its parsed, validated header.
public final class SafetensorsFile: Sendable {
    /// Headers larger than this are refused as corrupt (real ones are well under 10 MB).
    public static let maxHeaderBytes = 100 << 20

    public let mapping: MappedFile
    public let tensors: [String: TensorInfo]
    public var path: String { mapping.path }

    public init(path: String) throws {
        let m = try MappedFile(path: path)
        self.tensors = try Self.parseHeader(file: UnsafeRawBufferPointer(start: m.base, count: m.size), path: path)
        self.mapping = m
    }

    /// Parses and validates the header of a safetensors file whose whole content is `file`: every
    /// tensor's dtype, shape and byte range, which must lie inside `file`. `path` names the file in
    /// errors. (The fuzz target feeds bytes here; `init(path:)` feeds a mapping.)
    public static func parseHeader(file: UnsafeRawBufferPointer, path: String) throws -> [String: TensorInfo] {
        let size = file.count
        guard size >= 8, let base = file.baseAddress else {
            throw CheckpointError.badHeader(file: path, reason: "file is \(size) bytes, shorter than the 8-byte header length")
        }
        // Compared as UInt64: this module is built -Ounchecked, so Int(_:) of a length above Int.max
        // would wrap to a negative length instead of trapping (found by fuzz-safetensors-header).
        let length = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard length <= UInt64(Self.maxHeaderBytes) else {
            throw CheckpointError.badHeader(file: path, reason: "header length \(length) is implausible")
        }
        let n = Int(length)
        guard 8 + n <= size else {
            throw CheckpointError.badHeader(file: path, reason: "header length \(n) runs past the end of the \(size)-byte file")
        }
        let headerData = Data(bytes: base + 8, count: n)
        let header: JSONValue
        do { header = try JSONValue.parse(headerData) } catch {
            throw CheckpointError.badHeader(file: path, reason: "header is not valid JSON")
        }
        guard let entries = header.objectValue else {
            throw CheckpointError.badHeader(file: path, reason: "header is not a JSON object")
        }
        let dataStart = 8 + n
        var tensors: [String: TensorInfo] = [:]
        for (name, v) in entries where name != "__metadata__" {
            guard let dt = v["dtype"]?.stringValue else {
                throw CheckpointError.badTensorEntry(file: path, tensor: name, reason: "missing dtype")
            }
            guard let shapeV = v["shape"]?.arrayValue else {
                throw CheckpointError.badTensorEntry(file: path, tensor: name, reason: "missing shape")
            }
            var shape: [Int] = []
            for d in shapeV {
                guard let i = d.intValue, i >= 0 else {
                    throw CheckpointError.badTensorEntry(file: path, tensor: name, reason: "bad shape \(shapeV)")
                }
                shape.append(i)
            }
            guard let offs = v["data_offsets"]?.arrayValue, offs.count == 2,
                  let b = offs[0].intValue, let e = offs[1].intValue, b >= 0, b <= e else {
                throw CheckpointError.badTensorEntry(file: path, tensor: name, reason: "bad data_offsets")
            }
            guard let es = DType.byteSize(of: dt) else {
                throw CheckpointError.badTensorEntry(file: path, tensor: name, reason: "unknown dtype \(dt)")
            }
            // The byte count too is checked for overflow: unchecked, shape [5, 5581, 8681, 49477, 384773]
            // of F32 (2^62 + 1 elements) would wrap to 4 bytes and pass with a 4-byte range.
            let (byteCount, overflow) = shape.reduce((es, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d); return (p, acc.1 || o)
            }
            guard !overflow, byteCount == e - b else {
                throw CheckpointError.badTensorEntry(
                    file: path, tensor: name,
                    reason: "data_offsets span \(e - b) bytes but shape \(shape) of \(dt) needs \(overflow ? "more than Int.max" : "\(byteCount)")")
            }
            guard dataStart + e <= size else {
                throw CheckpointError.truncated(file: path, tensor: name, needBytes: dataStart + e, fileBytes: size)
            }
            tensors[name] = TensorInfo(name: name, dtypeName: dt, shape: shape, fileRange: (dataStart + b)..<(dataStart + e))
        }
        return tensors
    }
}

/// A tensor as F32, either pointing into a mapped file or owning a converted copy.
public final class FloatTensor: @unchecked Sendable {
    // Safe to share: the values are never written after loading.
    public let name: String
    public let shape: [Int]
    public let pointer: UnsafePointer<Float>
    public let sourceDType: DType
    private let mapping: MappedFile?
    private let owned: UnsafeMutablePointer<Float>?

    public var count: Int { shape.reduce(1, *) }
    /// Bytes of F32 values that a full read of this tensor moves.
    public var byteCount: Int { count * 4 }

    init(name: String, shape: [Int], mapped: MappedFile, at offset: Int) {
        self.name = name; self.shape = shape; self.sourceDType = .f32
        self.mapping = mapped; self.owned = nil
        self.pointer = (mapped.base + offset).assumingMemoryBound(to: Float.self)
    }

    /// Takes ownership of `owned` (allocated with `UnsafeMutablePointer.allocate`).
    public init(name: String, shape: [Int], owned: UnsafeMutablePointer<Float>, sourceDType: DType = .f32) {
        self.name = name; self.shape = shape; self.sourceDType = sourceDType
        self.mapping = nil; self.owned = owned
        self.pointer = UnsafePointer(owned)
    }

    /// A tensor owning a copy of `values` (tests, small derived tensors).
    public convenience init(name: String, shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "values do not match shape")
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
        p.initialize(from: values, count: values.count)
        self.init(name: name, shape: shape, owned: p)
    }

    deinit { owned?.deallocate() }

    /// The values as a view; valid only while this tensor is alive (keep a reference).
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }
    /// A copy of the values.
    public var values: [Float] { withExtendedLifetime(self) { Array(buffer) } }
}

/// A Hugging Face model folder: config.json plus weights in one file or index-listed shards.
public final class Checkpoint: Sendable {
    public let directory: URL
    public let config: ModelConfigFile
    private let files: [String: SafetensorsFile]     // by file name
    private let location: [String: String]           // tensor name -> file name

    public init(directory: URL) throws {
        self.directory = directory
        let configURL = directory.appendingPathComponent("config.json")
        self.config = try ModelConfigFile(contentsOf: configURL)
        let indexURL = directory.appendingPathComponent("model.safetensors.index.json")
        let fm = FileManager.default
        var files: [String: SafetensorsFile] = [:]
        var location: [String: String] = [:]
        if fm.fileExists(atPath: indexURL.path) {
            guard let data = fm.contents(atPath: indexURL.path) else {
                throw CheckpointError.unreadable(path: indexURL.path, reason: "cannot read")
            }
            let idx: JSONValue
            do { idx = try JSONValue.parse(data) } catch {
                throw CheckpointError.badIndex(file: indexURL.path, reason: "not valid JSON")
            }
            guard let map = idx["weight_map"]?.objectValue else {
                throw CheckpointError.badIndex(file: indexURL.path, reason: "no weight_map object")
            }
            for (tensor, fileV) in map {
                guard let file = fileV.stringValue, !file.contains("/"), !file.isEmpty else {
                    throw CheckpointError.badIndex(file: indexURL.path, reason: "weight_map[\(tensor)] is not a file name in this folder")
                }
                if files[file] == nil {
                    files[file] = try SafetensorsFile(path: directory.appendingPathComponent(file).path)
                }
                guard files[file]!.tensors[tensor] != nil else {
                    throw CheckpointError.badIndex(file: indexURL.path, reason: "weight_map says \(tensor) is in \(file), but it is not")
                }
                location[tensor] = file
            }
        } else {
            let single = "model.safetensors"
            let path = directory.appendingPathComponent(single).path
            guard fm.fileExists(atPath: path) else {
                throw CheckpointError.missingFile(path: path + " (nor model.safetensors.index.json)")
            }
            let f = try SafetensorsFile(path: path)
            files[single] = f
            for name in f.tensors.keys { location[name] = single }
        }
        self.files = files
        self.location = location
    }

    public var tensorNames: [String] { location.keys.sorted() }
    public var weightFiles: [String] { files.keys.sorted() }

    public func info(_ name: String) -> TensorInfo? {
        guard let f = location[name] else { return nil }
        return files[f]?.tensors[name]
    }

    public func has(_ name: String) -> Bool { location[name] != nil }

    /// Releases the resident pages of every mapped file (see MappedFile.releasePages); model loaders
    /// call this once their weights are packed or converted.
    public func releaseMappedPages() {
        for f in files.values { f.mapping.releasePages() }
    }

    /// `name` as stored, checking its shape and dtype: the mapped bytes, no copy.
    public func raw(_ name: String, shape expected: [Int]) throws -> RawTensor {
        guard let fname = location[name], let file = files[fname], let t = file.tensors[name] else {
            throw CheckpointError.missingTensor(name: name, directory: directory.path)
        }
        guard t.shape == expected else {
            throw CheckpointError.shapeMismatch(file: file.path, tensor: name, expected: expected, found: t.shape)
        }
        guard let dt = DType(rawValue: t.dtypeName) else {
            throw CheckpointError.unsupportedDType(file: file.path, tensor: name, dtype: t.dtypeName)
        }
        return RawTensor(name: name, shape: t.shape, dtype: dt, mapping: file.mapping, offset: t.fileRange.lowerBound)
    }

    /// Loads `name` as F32, checking its shape. F32 data is used in place when 4-byte aligned.
    public func load(_ name: String, shape expected: [Int]) throws -> FloatTensor {
        let r = try raw(name, shape: expected)
        if r.dtype == .f32 && Int(bitPattern: r.bytes) % 4 == 0 {
            return FloatTensor(name: name, shape: r.shape, mapped: r.mapping, at: r.offset)
        }
        let dst = UnsafeMutablePointer<Float>.allocate(capacity: max(r.count, 1))
        convertToFloat32(r.bytes, dtype: r.dtype, count: r.count, into: dst)
        r.releasePages()   // the copy is all that is read from now on
        return FloatTensor(name: name, shape: r.shape, owned: dst, sourceDType: r.dtype)
    }
}

/// dst[n] = src[n] as F32 (src may be unaligned).
public func convertToFloat32(_ src: UnsafeRawPointer, dtype: DType, count n: Int, into dst: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .f32:
        for i in 0..<n { dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
    case .f16:
        for i in 0..<n { dst[i] = Float(float16Bits: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
    case .bf16:
        for i in 0..<n {
            let b = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            dst[i] = Float(bitPattern: UInt32(b) << 16)
        }
    }
}

extension Float {
    /// IEEE half precision to single, exactly (subnormals, infinities and NaN included).
    @inlinable
    public init(float16Bits h: UInt16) {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F)
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            // zero or subnormal: mant · 2^-24
            let v = Float(mant) * Float(sign: .plus, exponent: -24, significand: 1)
            self = sign != 0 ? -v : v
        } else if exp == 31 {
            self = Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
        } else {
            self = Float(bitPattern: sign | (UInt32(exp - 15 + 127) << 23) | (mant << 13))
        }
    }
}
