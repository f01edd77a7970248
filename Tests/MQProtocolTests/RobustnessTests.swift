// Hostile input never traps: random bytes, every truncation of valid frames and random
// mutations of valid frames either decode or throw a ProtocolError, for every entry point a
// process exposes to the network. The generator is seeded, so a failure reproduces.

import MQProtocol
import XCTest

final class RobustnessTests: XCTestCase {
    /// Decoders a server or worker runs on bytes from the network. Each returns whether the
    /// bytes were accepted; any error other than ProtocolError cannot happen (typed throws).
    private static let entryPoints: [(String, @Sendable ([UInt8]) -> Bool)] = [
        ("CallRequest", { bytes in
            guard let request = try? CallRequest.decode(bytes) else { _ = CallRequest.peekCallID(bytes); return false }
            return (try? request.decodeCall()) != nil
        }),
        ("CallReply", { bytes in
            guard let reply = try? CallReply.decode(bytes) else { return false }
            _ = try? reply.response(as: GenerateResponse.self)
            _ = try? reply.chunk()
            return true
        }),
        ("GenerateRequest", { (try? GenerateRequest.decode($0)) != nil }),
        ("GenerateResponse", { (try? GenerateResponse.decode($0)) != nil }),
        ("GenerateStreamChunk", { (try? GenerateStreamChunk.decode($0)) != nil }),
        ("HealthResponse", { (try? HealthResponse.decode($0)) != nil }),
        ("InfoResponse", { (try? InfoResponse.decode($0)) != nil }),
        ("TokenizeResponse", { (try? TokenizeResponse.decode($0)) != nil }),
        ("WorkerMessage", { (try? WorkerMessage.decode($0)) != nil }),
        ("StepFrames", { bytes in
            let split = bytes.count / 2
            let one = (try? StepFrames.decode([bytes])) != nil
            let two = (try? StepFrames.decode([Array(bytes[..<split]), Array(bytes[split...])])) != nil
            return one || two
        }),
    ]

    /// Valid frames whose truncations and mutations are worth trying.
    private static var validFrames: [[UInt8]] {
        var frames: [[UInt8]] = [
            CallRequest(callID: 42, call: .generateStream(Samples.generateText), timeoutMilliseconds: 500, metadata: ["a": "b"]).encode(),
            CallReply.response(callID: 42, Samples.generateResponse).encode(),
            CallReply.chunk(callID: 42, Samples.lastChunk).encode(),
            Samples.generateText.encode(),
            Samples.generateResponse.encode(),
            Samples.health.encode(),
            Samples.info.encode(),
        ]
        frames += Samples.workerMessages.map { $0.encode() }
        return frames
    }

    func testRandomBytesNeverTrap() {
        var random = SeededGenerator(seed: 0x6D71_7631)
        var accepted = 0
        for round in 0 ..< 3_000 {
            // Mostly short inputs (where the parser's branches are), sometimes long ones.
            let length = round % 10 == 0 ? Int.random(in: 0 ... 4_096, using: &random) : Int.random(in: 0 ... 64, using: &random)
            let bytes = random.bytes(length)
            for (_, decode) in Self.entryPoints where decode(bytes) { accepted += 1 }
        }
        // Random bytes occasionally form a valid message (an empty one is valid); most must not.
        XCTAssertLessThan(accepted, 3_000 * Self.entryPoints.count / 4)
    }

    func testEveryTruncationNeverTraps() {
        for frame in Self.validFrames {
            for length in 0 ..< frame.count {
                let prefix = Array(frame[..<length])
                for (_, decode) in Self.entryPoints { _ = decode(prefix) }
            }
        }
    }

    func testTruncatedFramesAreRejected() {
        // Cutting a frame inside its last field leaves a length or varint that runs past the end.
        let request = CallRequest(callID: 42, call: .generate(Samples.generateText)).encode()
        XCTAssertThrowsError(try CallRequest.decode(Array(request.dropLast()))) { error in
            guard case ProtocolError.malformed(message: "CallRequest", _) = error else { return XCTFail("\(error)") }
        }
        let step = WorkerMessage.step(Samples.step).encode()
        XCTAssertThrowsError(try WorkerMessage.decode(Array(step.dropLast(3))))
    }

    func testMutatedFramesNeverTrap() {
        var random = SeededGenerator(seed: 99)
        let frames = Self.validFrames
        for _ in 0 ..< 3_000 {
            var bytes = frames[Int.random(in: 0 ..< frames.count, using: &random)]
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &random) where !bytes.isEmpty {
                let index = Int.random(in: 0 ..< bytes.count, using: &random)
                switch Int.random(in: 0 ..< 4, using: &random) {
                case 0: bytes[index] ^= UInt8(1) << UInt8.random(in: 0 ..< 8, using: &random)
                case 1: bytes[index] = UInt8.random(in: 0 ... 255, using: &random)
                case 2: bytes.remove(at: index)
                default: bytes.insert(UInt8.random(in: 0 ... 255, using: &random), at: index)
                }
            }
            for (_, decode) in Self.entryPoints { _ = decode(bytes) }
        }
    }

    func testRandomMultipartMessagesNeverTrap() {
        var random = SeededGenerator(seed: 7)
        let header = WorkerMessage.step(Samples.step).encode()
        for _ in 0 ..< 1_000 {
            var frames: [[UInt8]] = []
            for _ in 0 ..< Int.random(in: 0 ... 3, using: &random) {
                frames.append(Bool.random(using: &random) ? header : random.bytes(Int.random(in: 0 ... 200, using: &random)))
            }
            _ = try? StepFrames.decode(frames)
            _ = try? WorkerMessage.decode(frames: frames)
            _ = try? CallRequest.decode(frames: frames)
        }
    }
}
