// Writes the fuzz targets' seed corpora for the protocol decoders (Fuzz/Corpus/{client-frame,
// worker-frame,data-frame}) from the sample messages of TestSupport.swift, encoded by the real
// encoders. Skipped unless MQ_WRITE_FUZZ_SEEDS names the corpus root; tools/fuzz.sh --write-seeds
// runs it: `MQ_WRITE_FUZZ_SEEDS=$PWD/Fuzz/Corpus swift test --filter FuzzSeedWriter`.

import Foundation
import MQProtocol
import XCTest

final class FuzzSeedWriter: XCTestCase {
    func testWriteSeeds() throws {
        guard let root = ProcessInfo.processInfo.environment["MQ_WRITE_FUZZ_SEEDS"] else {
            throw XCTSkip("set MQ_WRITE_FUZZ_SEEDS to the corpus directory to write the fuzz seeds")
        }
        let calls: [DecoderCall] = [
            .generate(Samples.generateText), .generateStream(Samples.generateIDs), .cancel(CancelRequest(callID: 9)),
            .tokenize(TokenizeRequest(text: "def héllo():")), .health(HealthRequest()), .info(InfoRequest()),
        ]
        var client: [[UInt8]] = calls.enumerated().map { index, call in
            CallRequest(callID: UInt64(index + 1), call: call, timeoutMilliseconds: 5_000, metadata: ["trace": "t\(index)"]).encode()
        }
        client.append(CallRequest(callID: 7, method: "mq.v1.Decoder/Unknown").encode())
        let replies: [CallReply] = [
            .response(callID: 1, Samples.generateResponse), .response(callID: 2, Samples.health),
            .response(callID: 3, Samples.info), .response(callID: 4, TokenizeResponse(tokenIDs: [1, 2], tokens: ["a", "é"])),
            .response(callID: 5, CancelResponse()), .chunk(callID: 6, Samples.lastChunk), .chunk(callID: 6, Samples.middleChunk),
            .failure(callID: 8, .invalidArgument, "the prompt is empty"), .probe,
        ]
        client += replies.map { $0.encode() }
        client += [Samples.generateText.encode(), Samples.generateIDs.encode(), Samples.generateResponse.encode(),
                   Samples.lastChunk.encode(), Samples.health.encode(), Samples.info.encode()]
        try write(client, to: root + "/client-frame")

        try write(Samples.workerMessages.map { $0.encode() }, to: root + "/worker-frame")

        // Data frames in the DataFrame target's layout: [frame count][header length, u16 LE][header][tensor].
        let stage0 = Step(stepID: 78, stageIndex: 0, sequences: [StepSequence(seqID: 3, position: 3, tokenIDs: [13])])
        let withTensor = try StepFrames(step: Samples.step, tensor: (0 ..< 128).map { UInt8($0) })
        let data = [try StepFrames(step: stage0, tensor: nil), withTensor].map { frames -> [UInt8] in
            let encoded = frames.encode()
            let header = encoded[0]
            return [UInt8(encoded.count), UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header + (encoded.count > 1 ? encoded[1] : [])
        }
        try write(data, to: root + "/data-frame")
    }

    /// Writes each input as `seed-NN` in `directory`, replacing earlier seeds of that name.
    private func write(_ inputs: [[UInt8]], to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (index, input) in inputs.enumerated() {
            let name = String(format: "%@/seed-%02d", directory, index)
            try Data(input).write(to: URL(fileURLWithPath: name))
        }
    }
}
