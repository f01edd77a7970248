// libFuzzer target: client-plane frames. The bytes are decoded as the coordinator decodes a client's
// frame (CallRequest, then its method's payload) and as a client decodes the coordinator's reply
// (CallReply, then the unary response or the stream chunk). Each payload message is also decoded
// from the bytes directly, so the fuzzer need not build a valid outer message to reach them.
// A thrown ProtocolError is the expected outcome for bad input; a trap or sanitizer report is a bug.
// Built and run by tools/fuzz.sh.

import MQProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClientFrame(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)

    // Coordinator side.
    _ = CallRequest.peekCallID(bytes)
    if let request = try? CallRequest.decode(bytes) {
        _ = try? request.decodeCall()
    }

    // Client side.
    if let reply = try? CallReply.decode(bytes) {
        _ = try? reply.response(as: GenerateResponse.self)
        _ = try? reply.response(as: TokenizeResponse.self)
        _ = try? reply.response(as: HealthResponse.self)
        _ = try? reply.response(as: InfoResponse.self)
        _ = try? reply.response(as: CancelResponse.self)
        _ = try? reply.chunk()
    }

    // Payloads on their own.
    _ = try? GenerateRequest.decode(bytes)
    _ = try? GenerateResponse.decode(bytes)
    _ = try? GenerateStreamChunk.decode(bytes)
    _ = try? CancelRequest.decode(bytes)
    _ = try? TokenizeRequest.decode(bytes)
    _ = try? TokenizeResponse.decode(bytes)
    _ = try? HealthRequest.decode(bytes)
    _ = try? HealthResponse.decode(bytes)
    _ = try? InfoRequest.decode(bytes)
    _ = try? InfoResponse.decode(bytes)
    return 0
}
