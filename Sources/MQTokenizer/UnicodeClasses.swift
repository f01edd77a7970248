// Character classes, per Unicode scalar, as the libraries behind `tokenizers` define them.
//
// tokenizers mixes three definitions and they differ at the edges, so each is named for its origin:
//   - Oniguruma (SysRegex: the GPT-2 pattern, Split regexes): \p{L}, \p{N}, \s = White_Space, \w (below)
//   - Rust std (Digits, WhitespaceSplit): char::is_numeric = N*, char::is_whitespace = White_Space
//   - Rust `regex` crate (added-token lstrip/rstrip/single_word, Whitespace): \w = Alphabetic|M|Nd|Pc|Join_Control
// Classification of ASCII goes through a table; everything else asks the stdlib's Unicode data.

enum CharClass {
    private static let letterBit: UInt8 = 1
    private static let numberBit: UInt8 = 2
    private static let spaceBit: UInt8 = 4
    private static let punctBit: UInt8 = 8
    private static let rustWordBit: UInt8 = 16

    /// Flags for U+0000...U+007F.
    private static let ascii: [UInt8] = (0..<128).map { v -> UInt8 in
        let c = UInt8(v)
        var f: UInt8 = 0
        if (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) { f |= letterBit | rustWordBit }
        if (0x30...0x39).contains(c) { f |= numberBit | rustWordBit }
        if c == 0x5F { f |= rustWordBit }
        if (0x09...0x0D).contains(c) || c == 0x20 { f |= spaceBit }
        if (0x21...0x2F).contains(c) || (0x3A...0x40).contains(c) || (0x5B...0x60).contains(c) || (0x7B...0x7E).contains(c) {
            f |= punctBit
        }
        return f
    }

    /// \p{L}: general category Lu, Ll, Lt, Lm, Lo.
    @inline(__always)
    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        if s.value < 128 { return ascii[Int(s.value)] & letterBit != 0 }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// \p{N} and Rust's `char::is_numeric`: Nd, Nl, No.
    @inline(__always)
    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        if s.value < 128 { return ascii[Int(s.value)] & numberBit != 0 }
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// \s in Oniguruma and the regex crate, and Rust's `char::is_whitespace`: the White_Space property.
    @inline(__always)
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        if s.value < 128 { return ascii[Int(s.value)] & spaceBit != 0 }
        return s.properties.isWhitespace
    }

    /// The Punctuation pre-tokenizer: ASCII punctuation (which includes symbols such as `$+<=>^`|~`)
    /// or Unicode general category P*.
    @inline(__always)
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        if s.value < 128 { return ascii[Int(s.value)] & punctBit != 0 }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// \w of the Rust regex crate (Unicode mode): Alphabetic, M*, Nd, Pc, Join_Control.
    static func isRustRegexWord(_ s: Unicode.Scalar) -> Bool {
        if s.value < 128 { return ascii[Int(s.value)] & rustWordBit != 0 }
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// \w of Oniguruma. Below U+0100 it reads its Latin-1 ctype table, which also counts ª ² ³ µ ¹ º
    /// ¼ ½ ¾ and the Latin-1 letters; above, Alphabetic, M*, Nd, Pc (not Join_Control).
    /// (So ½ is a word character but ① and U+200D are not; tokenizers' fixtures confirm these.)
    static func isOnigWord(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 128 { return ascii[Int(v)] & rustWordBit != 0 }
        if v < 0x100 {
            switch v {
            case 0xAA, 0xB2, 0xB3, 0xB5, 0xB9, 0xBA, 0xBC...0xBE, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0xFF: return true
            default: return false
            }
        }
        let p = s.properties
        if p.isAlphabetic { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
