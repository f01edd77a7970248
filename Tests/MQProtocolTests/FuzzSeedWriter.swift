// The seed corpora of the protocol fuzz targets (Fuzz/Corpus/{client-frame,worker-frame,data-frame}):
// normally checks that every committed seed still decodes (a wire-format change leaves stale seeds);
// with MQ_WRITE_FUZZ_SEEDS set to the corpus root, writes them from the sample messages of
// TestSupport.swift with the real encoders (tools/fuzz.sh --write-seeds runs
// `MQ_WRITE_FUZZ_SEEDS=$PWD/Fuzz/Corpus swift test --filter FuzzSeedWriter`).

import Foundation
import MQProtocol
import XCTest

final class FuzzSeedWriter: XCTestCase {
    /// Fuzz/Corpus, from this file's path.
    private let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus")

    func testSeedsDecodeOrWriteThem() throws {
        if let root = ProcessInfo.processInfo.environment["MQ_WRITE_FUZZ_SEEDS"] {
            try writeSeeds(to: root)
        }
        // Inputs named regression-* are kept because they once crashed a target; they need not decode.
        func seeds(_ target: String) throws -> [(String, [UInt8])] {
            let directory = corpus.appendingPathComponent(target)
            return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
                .filter { !$0.hasPrefix("regression-") }
                .map { ($0, Array(try Data(contentsOf: directory.appendingPathComponent($0)))) }
        }
        let client = try seeds("client-frame")
        XCTAssertFalse(client.isEmpty)
        for (name, bytes) in client {
            let decodes = (try? CallRequest.decode(bytes)) != nil || (try? CallReply.decode(bytes)) != nil
                || (try? GenerateRequest.decode(bytes)) != nil || (try? GenerateResponse.decode(bytes)) != nil
                || (try? GenerateStreamChunk.decode(bytes)) != nil || (try? HealthResponse.decode(bytes)) != nil
                || (try? InfoResponse.decode(bytes)) != nil
            XCTAssertTrue(decodes, "client-frame/\(name) no longer decodes as any client-plane message")
        }
        let worker = try seeds("worker-frame")
        XCTAssertFalse(worker.isEmpty)
        for (name, bytes) in worker {
            XCTAssertNoThrow(try WorkerMessage.decode(bytes), "worker-frame/\(name)")
        }
        let data = try seeds("data-frame")
        XCTAssertFalse(data.isEmpty)
        for (name, bytes) in data {
            // The DataFrame target's layout: [frame count][header length, u16 LE][header][tensor].
            let length = Int(bytes[1]) | Int(bytes[2]) << 8
            let frames = [Array(bytes[3 ..< 3 + length]), Array(bytes[(3 + length)...])].prefix(Int(bytes[0]))
            XCTAssertNoThrow(try StepFrames.decode(Array(frames)), "data-frame/\(name)")
        }
    }

    private func writeSeeds(to root: String) throws {
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
