// libFuzzer target: tokenizer.json. The bytes are loaded by Tokenizer(data:source:); a tokenizer
// that loads then encodes and decodes a short fixed text, so the parsed pieces (vocabulary, merges,
// pre-tokenizer regexes, added tokens, decoders) are used, not only read. A thrown TokenizerError is
// the expected outcome for bad input; a trap, sanitizer report, hang or an id outside 0...UInt32.max
// is a bug. Built and run by
// tools/fuzz.sh.

import Foundation
import MQTokenizer

/// Short enough to keep each input fast; covers ASCII words, digits, spaces, newlines, a
/// multi-byte scalar and a combining mark.
private let sample = "Hello, world! 123  x\r\n\tdéf e\u{301} 😀 <|endoftext|>"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    guard let tokenizer = try? Tokenizer(data: bytes, source: "tokenizer.json") else { return 0 }
    let ids = tokenizer.encode(sample)
    // Ids are 0 ... UInt32.max (the loader refuses others); a negative one is a bug.
    if let bad = ids.first(where: { $0 < 0 || $0 > Int(UInt32.max) }) {
        fatalError("TokenizerJSON: encode returned id \(bad)")
    }
    _ = tokenizer.decode(ids)
    _ = tokenizer.decode(ids, skipSpecialTokens: true)
    _ = tokenizer.decode([0, 1, 2, -1, Int.max, Int.min, tokenizer.vocabSize])
    for id in ids.prefix(8) { _ = tokenizer.token(forId: id); _ = tokenizer.isSpecial(id: id) }
    var stream = StreamingDecoder(tokenizer: tokenizer)
    for id in ids { _ = stream.push(id) }
    _ = stream.finish()
    return 0
}
