// Fill-in-the-middle prompts: code models trained for FIM (StarCoder, SantaCoder) see the text
// before and after a gap framed by three special tokens, in prefix-suffix-middle (PSM) order, and
// generate the middle:  <fim_prefix> prefix <fim_suffix> suffix <fim_middle>  → middle ...
// StarCoder's tokenizer spells them with underscores, SantaCoder's with hyphens; both are found
// among tokenizer.json's added tokens, so a FIM prompt encodes exactly like the reference's
// `tokenizer("<fim_prefix>" + prefix + "<fim_suffix>" + suffix + "<fim_middle>")`.

/// The three FIM token ids of a tokenizer and how it spells them.
public struct FIMTokens: Sendable, Equatable {
    /// The token spellings of one model family, in prefix, suffix, middle order.
    public enum Spelling: String, Sendable, CaseIterable {
        case starCoder = "StarCoder"
        case santaCoder = "SantaCoder"

        public var tokens: (prefix: String, suffix: String, middle: String) {
            switch self {
            case .starCoder: return ("<fim_prefix>", "<fim_suffix>", "<fim_middle>")
            case .santaCoder: return ("<fim-prefix>", "<fim-suffix>", "<fim-middle>")
            }
        }
    }

    public var spelling: Spelling
    public var prefix: Int
    public var suffix: Int
    public var middle: Int

    public init(spelling: Spelling, prefix: Int, suffix: Int, middle: Int) {
        self.spelling = spelling; self.prefix = prefix; self.suffix = suffix; self.middle = middle
    }

    /// The PSM prompt for an already tokenized prefix and suffix.
    public func prompt(prefixIDs: [Int], suffixIDs: [Int]) -> [Int] {
        [prefix] + prefixIDs + [suffix] + suffixIDs + [middle]
    }

    /// The PSM text whose encoding is the FIM prompt.
    public func text(prefix: String, suffix: String) -> String {
        let t = spelling.tokens
        return t.prefix + prefix + t.suffix + suffix + t.middle
    }
}

extension Tokenizer {
    /// The tokenizer's FIM tokens: all three of one spelling must be added tokens (so that encoding
    /// a FIM text finds them whole); StarCoder's spelling is tried first. nil: no FIM support.
    public var fimTokens: FIMTokens? {
        for spelling in FIMTokens.Spelling.allCases {
            let t = spelling.tokens
            if let p = added.tokenToId[TokenKey(t.prefix)], let s = added.tokenToId[TokenKey(t.suffix)],
               let m = added.tokenToId[TokenKey(t.middle)] {
                return FIMTokens(spelling: spelling, prefix: p, suffix: s, middle: m)
            }
        }
        return nil
    }
}
