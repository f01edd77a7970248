// Decoders (token strings -> text) and the lossy UTF-8 conversion at the end of decoding.
//
// ByteLevel turns each token's scalars back into bytes (a token with any scalar outside the 256
// stand-ins contributes its own UTF-8 instead, as in tokenizers); the byte string is then read as
// UTF-8 with every maximal ill-formed subsequence replaced by U+FFFD, which is what Rust's
// `String::from_utf8_lossy` and Python's `errors="replace"` do. Without a decoder, tokens are
// joined with single spaces (tokenizers' behaviour).

indirect enum Decoder: Sendable {
    case byteLevel
    case fuse
    case sequence([Decoder])

    static func parse(_ json: JSONCursor) throws -> Decoder? {
        if json.isNull { return nil }
        guard let type = try json.typeTag() else { throw json.invalid("decoder has no \"type\"") }
        switch type {
        case "ByteLevel": return .byteLevel
        case "Fuse": return .fuse
        case "Sequence":
            let items = try json.requiredField("decoders").array()
            return .sequence(try items.map { item in
                guard let d = try parse(item) else { throw item.invalid("expected a decoder, found null") }
                return d
            })
        default:
            throw json.unsupported("decoder type \"\(type)\"")
        }
    }

    /// The decoders in application order.
    var steps: [Decoder] {
        if case let .sequence(list) = self { return list.flatMap { $0.steps } }
        return [self]
    }
}

/// How decoding maps tokens to bytes, resolved once per tokenizer.
struct DecodePipeline: Sendable {
    /// nil means "no decoder": join tokens with " ".
    let steps: [Decoder]?

    /// True when the bytes of a token list are the concatenation of per-token bytes (which lets
    /// streaming emit text token by token). Everything except ByteLevel behind another step is.
    var isPerToken: Bool {
        guard let steps else { return true }
        var sawOther = false
        for s in steps {
            switch s {
            case .byteLevel: if sawOther { return false }; sawOther = true
            case .fuse: sawOther = true
            case .sequence: return false
            }
        }
        return true
    }

    private var startsWithByteLevel: Bool {
        if let first = steps?.first, case .byteLevel = first { return true }
        return false
    }

    /// Bytes for one token when `isPerToken`; `index` is its position among the decoded tokens.
    func tokenBytes(_ token: String, index: Int) -> [UInt8] {
        guard steps != nil else { return index == 0 ? Array(token.utf8) : [0x20] + Array(token.utf8) }
        return startsWithByteLevel ? DecodePipeline.byteLevelBytes(token.unicodeScalars) : Array(token.utf8)
    }

    func decodeBytes(_ tokens: [String]) -> [UInt8] {
        guard let steps else { return Array(tokens.joined(separator: " ").utf8) }
        var items: [[UInt8]] = tokens.map { Array($0.utf8) }
        for step in steps {
            switch step {
            case .byteLevel:
                var out: [UInt8] = []
                for item in items {
                    // A previous step may have produced invalid UTF-8; tokenizers would hold it as a
                    // lossy String here.
                    let text = UTF8Lossy.decode(item)
                    out += DecodePipeline.byteLevelBytes(text.unicodeScalars)
                }
                items = [out]
            case .fuse:
                items = [Array(items.joined())]
            case .sequence:
                break  // flattened by `steps`
            }
        }
        return Array(items.joined())
    }

    static func byteLevelBytes(_ scalars: String.UnicodeScalarView) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(scalars.count)
        for s in scalars {
            guard let b = ByteLevel.byte(for: s) else { return Array(String(scalars).utf8) }
            out.append(b)
        }
        return out
    }
}

enum UTF8Lossy {
    /// Converts bytes to text, replacing each maximal ill-formed subsequence by U+FFFD.
    static func decode(_ bytes: [UInt8]) -> String {
        decodePrefix(bytes, final: true).text
    }

    /// Decodes as much as can be decided now. With `final == false` a trailing sequence that is
    /// still a valid prefix of a character is left unconsumed (more bytes may complete it).
    static func decodePrefix(_ bytes: [UInt8], final: Bool) -> (text: String, consumed: Int) {
        var scalars = String.UnicodeScalarView()
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 {
                scalars.append(Unicode.Scalar(b0))
                i += 1
                continue
            }
            let need: Int
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF  // allowed range of the second byte
            switch b0 {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; lo = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: need = 2
            case 0xED: need = 2; hi = 0x9F
            case 0xF0: need = 3; lo = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; hi = 0x8F
            default:
                scalars.append("\u{FFFD}")
                i += 1
                continue
            }
            var k = 1
            var value = UInt32(b0) & (need == 1 ? 0x1F : need == 2 ? 0x0F : 0x07)
            var ok = true
            while k <= need {
                if i + k >= n {
                    // Truncated but valid so far.
                    if !final { return (String(scalars), i) }
                    ok = false
                    break
                }
                let b = bytes[i + k]
                let inRange = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF)
                if !inRange { ok = false; break }
                value = value << 6 | UInt32(b & 0x3F)
                k += 1
            }
            if ok {
                scalars.append(Unicode.Scalar(value)!)
                i += need + 1
            } else {
                scalars.append("\u{FFFD}")
                i += k  // the maximal subpart: the lead byte and the continuation bytes that fit
            }
        }
        return (String(scalars), n)
    }
}
