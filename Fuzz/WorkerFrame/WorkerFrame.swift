// libFuzzer target: worker control-plane frames (Register, Assign, Ready, StepResult, Heartbeat,
// Release, Shutdown, WorkerError; a Step too, though it travels on the data plane). The bytes are
// decoded with WorkerMessage.decode as the coordinator and workers do, then the checks a receiver
// makes next are run on the value. A thrown ProtocolError is the expected outcome for bad input; a
// trap or sanitizer report is a bug. Built and run by tools/fuzz.sh.

import MQProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWorkerFrame(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let message = try? WorkerMessage.decode(bytes) else { return 0 }
    _ = message.kindName
    switch message {
    case let .register(register):
        _ = try? register.requireCompatibleVersion()
    case let .step(step):
        _ = step.tokenCount
        _ = try? step.tensor?.byteCount()
    default:
        break
    }
    // What a receiver may log: describing the value must not trap either.
    _ = String(describing: message)
    return 0
}
