// libFuzzer target: config.json. The bytes are read as ModelConfigFile does (MQCheckpoint) and then
// as each architecture's configuration (MQModel: GPTBigCode, Falcon, GPT-2) and its shape, what
// ModelRegistry.shape(of:) does before any weight is read. A thrown CheckpointError is the expected
// outcome for bad input; a trap or sanitizer report is a bug. Built and run by tools/fuzz.sh.

import Foundation
import MQCheckpoint
import MQModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    guard let config = try? ModelConfigFile(path: "config.json", data: bytes) else { return 0 }
    if let c = try? GPTBigCodeConfig(config) { use(c.shape) }
    if let c = try? FalconConfig(config) { use(c.shape) }
    if let c = try? GPT2Config(config) { use(c.shape) }
    return 0
}

private func use(_ shape: ModelShape) {
    _ = shape.attentionKind
    _ = shape.kvFloatsPerTokenPerLayer
}
