// PromptScorer: chunked scoring equals one pass bit for bit (the last row of a chunk waits for the
// next chunk's first token), values equal the log-softmax reference, and only blocks of rows are
// asked for at a time.
import MQSampling
import XCTest

final class PromptScorerTests: XCTestCase {
    let V = 37

    /// Raw logits of absolute row r, a fixed pseudo-random function of (r, v).
    func logit(_ r: Int, _ v: Int) -> Float { Float(((r * 131 + v * 71) % 97)) / 9 - 5 }

    func scored(_ tokens: [Int], chunks: [Int], top: Int) -> (PromptScorer, maxRows: Int) {
        var scorer = PromptScorer(vocabSize: V, topCount: top)
        var scratch = [Float](repeating: .nan, count: PromptScorer.scratchFloats(tokens: tokens.count, vocabSize: V))
        var start = 0, maxRows = 0
        for (i, n) in chunks.enumerated() {
            let chunk = Array(tokens[start..<start + n])
            let base = start
            scratch.withUnsafeMutableBufferPointer { s in
                scorer.score(chunk: chunk, final: i == chunks.count - 1, scratch: s.baseAddress!) { rows, into in
                    maxRows = max(maxRows, rows.count)
                    for (k, r) in rows.enumerated() { for v in 0..<V { into[k * V + v] = logit(base + r, v) } }
                }
            }
            start += n
        }
        return (scorer, maxRows)
    }

    func testChunkedEqualsOnePassAndTheReference() {
        let tokens = (0..<41).map { ($0 * 13 + 5) % V }
        let (one, maxRows) = scored(tokens, chunks: [41], top: 3)
        XCTAssertLessThanOrEqual(maxRows, PromptScorer.rowsPerBlock)
        XCTAssertEqual(one.logprobs.count, 40)
        XCTAssertEqual(one.topLogprobs.count, 40)
        for chunks in [[1, 40], [7, 7, 7, 20], [40, 1], [16, 16, 9]] {
            let (chunked, _) = scored(tokens, chunks: chunks, top: 3)
            XCTAssertEqual(chunked.logprobs, one.logprobs, "chunks \(chunks)")
            XCTAssertEqual(chunked.topLogprobs, one.topLogprobs, "chunks \(chunks)")
        }
        for i in 0..<40 {
            let row = (0..<V).map { Double(logit(i, $0)) }
            let m = row.max()!
            let logSum = log(row.map { exp($0 - m) }.reduce(0, +))
            XCTAssertEqual(Double(one.logprobs[i]), row[tokens[i + 1]] - m - logSum, accuracy: 1e-5)
            let best = row.indices.max { (row[$0], -$0) < (row[$1], -$1) }!
            XCTAssertEqual(one.topLogprobs[i].first?.id, best)
        }
    }

    func testOneTokenPromptHasNoScores() {
        let (s, maxRows) = scored([3], chunks: [1], top: 2)
        XCTAssertEqual(s.logprobs, [])
        XCTAssertEqual(maxRows, 0)
    }
}
