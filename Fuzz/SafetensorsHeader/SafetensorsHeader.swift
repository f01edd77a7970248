// libFuzzer target: safetensors files ([u64 little-endian N][N bytes of JSON header][data]). The
// bytes are parsed as a whole file by SafetensorsFile.parseHeader, the code SafetensorsFile(path:)
// runs on a mapped file. Every tensor it accepts must lie inside the input and span exactly its
// shape's bytes (checked here with overflow-checked arithmetic: MQCheckpoint is built -Ounchecked,
// so an overflow there wraps silently instead of trapping). A thrown CheckpointError is the
// expected outcome for bad input; a trap, sanitizer report or broken invariant is a bug. Built and
// run by tools/fuzz.sh.

import MQCheckpoint

private let elementBytes: [String: Int] = [
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensorsHeader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let file = UnsafeRawBufferPointer(start: data, count: size)
    guard let tensors = try? SafetensorsFile.parseHeader(file: file, path: "fuzz.safetensors") else { return 0 }
    for (_, info) in tensors {
        guard info.fileRange.lowerBound >= 8, info.fileRange.upperBound <= size else {
            fatalError("SafetensorsHeader: tensor \(info.name) at \(info.fileRange) outside the \(size)-byte file")
        }
        guard let element = elementBytes[info.dtypeName] else {
            fatalError("SafetensorsHeader: tensor \(info.name) accepted with unknown dtype \(info.dtypeName)")
        }
        var bytes = element
        for dimension in info.shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
            guard !overflow, dimension >= 0 else {
                fatalError("SafetensorsHeader: tensor \(info.name) accepted with shape \(info.shape), which overflows")
            }
            bytes = product
        }
        guard bytes == info.fileRange.count else {
            fatalError("SafetensorsHeader: tensor \(info.name) of shape \(info.shape) spans \(info.fileRange.count) bytes, needs \(bytes)")
        }
    }
    return 0
}
