// Byte-level BPE pieces: GPT-2's byte <-> unicode table and a hand-written scanner for GPT-2's
// pre-tokenization regex
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// with Oniguruma's semantics (leftmost-first alternation, backtracking into `\s+(?!\S)`), over
// Unicode scalars. A general regex engine is several times slower on this hot path.

enum ByteLevel {
    /// byte -> the scalar that stands for it in vocabularies (printable Latin-1 maps to itself,
    /// the other 68 bytes to U+0100...U+0143).
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(256 + n)!
                n += 1
            }
        }
        return table
    }()

    /// Inverse of `byteToScalar`, indexed by scalar value (< 0x144); -1 where no byte maps there.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, s) in byteToScalar.enumerated() { table[Int(s.value)] = Int16(b) }
        return table
    }()

    /// The byte a vocabulary scalar stands for, or nil if it is not one of the 256.
    @inline(__always)
    static func byte(for s: Unicode.Scalar) -> UInt8? {
        let v = Int(s.value)
        guard v < scalarToByte.count else { return nil }
        let b = scalarToByte[v]
        return b < 0 ? nil : UInt8(b)
    }

    /// UTF-8 encodes `piece` and replaces each byte by its stand-in scalar.
    static func mapBytes(_ piece: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(piece.count + 4)
        for s in piece {
            let v = s.value
            if v < 0x80 {
                out.append(byteToScalar[Int(v)])
            } else if v < 0x800 {
                out.append(byteToScalar[Int(0xC0 | (v >> 6))])
                out.append(byteToScalar[Int(0x80 | (v & 0x3F))])
            } else if v < 0x10000 {
                out.append(byteToScalar[Int(0xE0 | (v >> 12))])
                out.append(byteToScalar[Int(0x80 | ((v >> 6) & 0x3F))])
                out.append(byteToScalar[Int(0x80 | (v & 0x3F))])
            } else {
                out.append(byteToScalar[Int(0xF0 | (v >> 18))])
                out.append(byteToScalar[Int(0x80 | ((v >> 12) & 0x3F))])
                out.append(byteToScalar[Int(0x80 | ((v >> 6) & 0x3F))])
                out.append(byteToScalar[Int(0x80 | (v & 0x3F))])
            }
        }
        return out
    }

    /// Splits `text` the way GPT-2's regex does; returns the end offset of each match (matches
    /// cover the text, so the starts are the previous ends).
    static func gpt2Split(_ text: ArraySlice<Unicode.Scalar>) -> [Int] {
        var ends: [Int] = []
        var i = text.startIndex
        let end = text.endIndex
        while i < end {
            let j = gpt2Match(text, at: i)
            ends.append(j)
            i = j
        }
        return ends
    }

    private enum Kind { case letter, number, space, other }

    @inline(__always)
    private static func kind(_ s: Unicode.Scalar) -> Kind {
        if CharClass.isLetter(s) { return .letter }
        if CharClass.isNumber(s) { return .number }
        if CharClass.isWhitespace(s) { return .space }
        return .other
    }

    /// End of the regex match that starts at `i` (always > i: every scalar is covered by one branch).
    private static func gpt2Match(_ t: ArraySlice<Unicode.Scalar>, at i: Int) -> Int {
        let end = t.endIndex
        let c = t[i]
        // 's|'t|'re|'ve|'m|'ll|'d
        if c == "'", i + 1 < end {
            let n = t[i + 1]
            if n == "s" || n == "t" || n == "m" || n == "d" { return i + 2 }
            if i + 2 < end {
                let n2 = t[i + 2]
                if (n == "r" && n2 == "e") || (n == "v" && n2 == "e") || (n == "l" && n2 == "l") { return i + 3 }
            }
        }
        // ` ?X+` for X in letter, number, other: the optional space only counts if a run follows.
        var start = i
        var k = kind(c)
        if c == " ", i + 1 < end {
            let nk = kind(t[i + 1])
            if nk != .space {
                start = i + 1
                k = nk
            }
        }
        if k != .space {
            var j = start + 1
            while j < end, kind(t[j]) == k { j += 1 }
            return j
        }
        // \s+(?!\S) then \s+: a whitespace run; if a non-space follows, give its last scalar back
        // to the next match (unless the run is a single scalar, which then matches alone via \s+).
        var j = i + 1
        while j < end, CharClass.isWhitespace(t[j]) { j += 1 }
        if j < end, j - i > 1 { return j - 1 }
        return j
    }
}
