// `mq bench serve --gateway` reads the gateway's chunked server-sent events as bytes arrive: split
// anywhere (inside a chunk size, an event or the CRLF after a chunk) they must give the same events,
// the final usage count and the end of the stream.
import Foundation
import MQClient
import XCTest
@testable import mq

final class GatewayBenchParserTests: XCTestCase {
    private func response(_ events: [String]) -> [UInt8] {
        var out = Array("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for event in events {
            let bytes = Array(event.utf8)
            out += Array(String(bytes.count, radix: 16).utf8) + Array("\r\n".utf8) + bytes + Array("\r\n".utf8)
        }
        return out + Array("0\r\n\r\n".utf8)
    }

    func testEventsAndUsageWhateverTheSplits() {
        let events = [
            #"data: {"choices":[{"index":0,"text":"def","finish_reason":null}]}"# + "\n\n",
            #"data: {"choices":[{"index":0,"text":"","finish_reason":null}]}"# + "\n\n",
            #"data: {"choices":[{"index":0,"text":" f","finish_reason":"length"}]}"# + "\n\n",
            #"data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"# + "\n\n",
            "data: [DONE]\n\n",
        ]
        let bytes = response(events)
        for step in [1, 2, 3, 7, 64, bytes.count] {
            var parser = SSEResponseParser()
            var texts = 0
            var i = 0
            while i < bytes.count {
                texts += parser.feed(bytes[i..<min(bytes.count, i + step)]).count
                i += step
            }
            XCTAssertEqual(parser.status, 200, "step \(step)")
            XCTAssertEqual(texts, 3, "three events carry a choice, one with held-back text (step \(step))")
            XCTAssertEqual(parser.completionTokens, 4, "step \(step)")
            XCTAssertTrue(parser.done, "step \(step)")
            XCTAssertFalse(parser.sawError)
        }
    }

    func testAnErrorStatusAndAnErrorEvent() {
        var refused = SSEResponseParser()
        _ = refused.feed(ArraySlice(Array("HTTP/1.1 429 Too Many Requests\r\nContent-Length: 2\r\n\r\n{}".utf8)))
        XCTAssertEqual(refused.status, 429)
        var failed = SSEResponseParser()
        _ = failed.feed(ArraySlice(response([#"data: {"error":{"message":"x"}}"# + "\n\n", "data: [DONE]\n\n"])))
        XCTAssertTrue(failed.sawError)
        XCTAssertNil(failed.completionTokens)
    }

    func testRequestBodyIsAGreedyStreamedCompletionOfTheIds() throws {
        let body = GatewayStreamDriver.body(model: "m", request: GenerateRequest(prompt: .tokenIDs([5, 6]), maxNewTokens: 9))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        XCTAssertEqual(object["prompt"] as? [Int], [5, 6])
        XCTAssertEqual(object["max_tokens"] as? Int, 9)
        XCTAssertEqual(object["temperature"] as? Int, 0)
        XCTAssertEqual(object["stream"] as? Bool, true)
    }
}
