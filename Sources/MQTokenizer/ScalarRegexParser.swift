// The parser of ScalarRegex (ScalarRegex.swift): Oniguruma (Ruby syntax) pattern text to a RegexNode
// tree, refusing what the matcher does not support (RegexUnsupported) and what no engine should
// try (RegexRefused).

struct RegexParser {
    /// Parsing, matching and releasing the tree recurse once per level, and probing
    /// fuzz-tokenizer-json overflowed the stack with 8,000 nested groups and with 15,000 stacked `*`.
    /// So groups, bracket classes and stacked quantifiers may nest `maxNesting` deep, and a pattern
    /// may have `maxConstructs` of them in all (which bounds the tree's depth, e.g. 50 groups each
    /// with 50 stacked quantifiers). Real pre-tokenizer patterns nest a few levels and have a few
    /// dozen quantifiers.
    static let maxNesting = 100
    static let maxConstructs = 1_000
    /// Oniguruma's ONIG_MAX_REPEAT_NUM: a larger `{n,m}` bound is an error there too (and a
    /// 20-digit one overflowed Int here, found by probing fuzz-tokenizer-json).
    static let maxRepeat = 100_000

    private let p: [Unicode.Scalar]
    private var pos = 0
    private var caseInsensitive = false
    private var dotAll = false
    private var nesting = 0
    private var constructs = 0

    init(_ pattern: [Unicode.Scalar]) { p = pattern }

    private func unsupported(_ what: String) -> RegexUnsupported {
        RegexUnsupported(description: "\(what) at offset \(pos)")
    }

    /// Enters one level of nesting (`levels` for a node that wraps more than once); the caller leaves
    /// it with `nesting -= levels`.
    private mutating func enter(_ levels: Int = 1) throws {
        nesting += levels
        constructs += levels
        guard nesting <= RegexParser.maxNesting else {
            throw RegexRefused(description: "nesting deeper than \(RegexParser.maxNesting) at offset \(pos)")
        }
        guard constructs <= RegexParser.maxConstructs else {
            throw RegexRefused(
                description: "more than \(RegexParser.maxConstructs) groups, classes and quantifiers at offset \(pos)")
        }
    }

    private var atEnd: Bool { pos >= p.count }
    private func peek(_ o: Int = 0) -> Unicode.Scalar? { pos + o < p.count ? p[pos + o] : nil }

    mutating func parseAll() throws -> RegexNode {
        let node = try parseAlternation()
        if !atEnd { throw unsupported("unbalanced ')'") }
        return node
    }

    private mutating func parseAlternation() throws -> RegexNode {
        try enter()
        let savedCI = caseInsensitive, savedDot = dotAll
        defer { caseInsensitive = savedCI; dotAll = savedDot; nesting -= 1 }
        var branches: [RegexNode] = [try parseSequence()]
        while peek() == "|" {
            pos += 1
            branches.append(try parseSequence())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseSequence() throws -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek(), c != "|", c != ")" {
            // Inline flags without a group body, e.g. (?i): apply to the rest of this group.
            if c == "(", peek(1) == "?", let flagsEnd = inlineFlagsEnd(), p[flagsEnd] == ")" {
                try applyFlags(from: pos + 2, to: flagsEnd)
                pos = flagsEnd + 1
                continue
            }
            var atom = try parseAtom()
            atom = try parseQuantifiers(atom)
            items.append(atom)
        }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    /// If `(?` at pos starts inline flags (letters i, m, x and '-'), the index of the ':' or ')'.
    private func inlineFlagsEnd() -> Int? {
        var j = pos + 2
        while j < p.count, p[j] == "i" || p[j] == "m" || p[j] == "x" || p[j] == "-" { j += 1 }
        guard j < p.count, j > pos + 2, p[j] == ":" || p[j] == ")" else { return nil }
        return j
    }

    private mutating func applyFlags(from: Int, to: Int) throws {
        var on = true
        for j in from..<to {
            switch p[j] {
            case "-": on = false
            case "i": caseInsensitive = on
            case "m": dotAll = on
            default: throw unsupported("regex flag \(p[j])")
            }
        }
    }

    private mutating func parseQuantifiers(_ atom: RegexNode) throws -> RegexNode {
        var node = atom
        var stacked = 0
        defer { nesting -= stacked }
        while let c = peek() {
            var lo = 0, hi = Int.max
            var braces = false
            switch c {
            case "*": pos += 1
            case "+": lo = 1; pos += 1
            case "?": hi = 1; pos += 1
            case "{":
                guard let (a, b, end) = try parseBraces() else { return node }
                lo = a; hi = b; pos = end; braces = true
            default:
                return node
            }
            var greedy = true
            var possessive = false
            if peek() == "?" {
                greedy = false
                pos += 1
            } else if !braces, peek() == "+" {
                possessive = true
                pos += 1
            }
            let levels = possessive ? 2 : 1
            try enter(levels)
            stacked += levels
            node = .repetition(node, min: lo, max: hi, greedy: greedy)
            if possessive { node = .atomic(node) }
        }
        return node
    }

    /// `{n}`, `{n,}`, `{n,m}`, `{,m}` at pos: (min, max, index after '}'); nil if not a quantifier
    /// (Oniguruma then reads '{' as a literal). Throws for a bound above `maxRepeat`.
    private func parseBraces() throws -> (Int, Int, Int)? {
        var j = pos + 1
        func number() throws -> Int? {
            var v: Int? = nil
            while j < p.count, let d = Int(String(p[j])), p[j].isASCII {
                let value = (v ?? 0) * 10 + d
                guard value <= RegexParser.maxRepeat else {
                    throw RegexRefused(description: "repeat bound above \(RegexParser.maxRepeat) at offset \(pos)")
                }
                v = value
                j += 1
            }
            return v
        }
        let a = try number()
        if j < p.count, p[j] == "}" {
            guard let a else { return nil }
            return (a, a, j + 1)
        }
        guard j < p.count, p[j] == "," else { return nil }
        j += 1
        let b = try number()
        guard j < p.count, p[j] == "}", a != nil || b != nil else { return nil }
        if let a, let b, a > b { return nil }
        return (a ?? 0, b ?? Int.max, j + 1)
    }

    private mutating func parseAtom() throws -> RegexNode {
        let c = p[pos]
        switch c {
        case "(":
            return try parseGroup()
        case "[":
            pos += 1
            return .one(.set(try parseClass(), caseInsensitive: caseInsensitive))
        case ".":
            pos += 1
            return .one(.any(dotAll: dotAll))
        case "^":
            pos += 1
            return .lineStart
        case "$":
            pos += 1
            return .lineEnd
        case "\\":
            return try parseEscape()
        case "*", "+", "?":
            throw unsupported("quantifier without a target")
        default:
            pos += 1
            return .one(.scalar(c, caseInsensitive: caseInsensitive))
        }
    }

    private mutating func parseGroup() throws -> RegexNode {
        let flagsEnd = peek(1) == "?" ? inlineFlagsEnd() : nil  // needs pos at '('
        pos += 1  // (
        var kind = "group"
        if peek() == "?" {
            if let flagsEnd, p[flagsEnd] == ":" {
                let savedCI = caseInsensitive, savedDot = dotAll
                try applyFlags(from: pos + 1, to: flagsEnd)
                pos = flagsEnd + 1
                let body = try parseAlternation()
                caseInsensitive = savedCI
                dotAll = savedDot
                try expect(")")
                return body
            }
            switch (peek(1), peek(2)) {
            case (":", _): kind = "group"; pos += 2
            case ("=", _): kind = "ahead"; pos += 2
            case ("!", _): kind = "notAhead"; pos += 2
            case (">", _): kind = "atomic"; pos += 2
            case ("<", "="): kind = "behind"; pos += 3
            case ("<", "!"): kind = "notBehind"; pos += 3
            case ("<", _), ("P", "<"):
                // Named group: skip the name.
                while let x = peek(), x != ">" { pos += 1 }
                guard peek() == ">" else { throw unsupported("unterminated group name") }
                pos += 1
            default:
                throw unsupported("group syntax (?\(peek(1).map { String($0) } ?? "")")
            }
        }
        let body = try parseAlternation()
        try expect(")")
        switch kind {
        case "ahead": return .look(body, ahead: true, negated: false)
        case "notAhead": return .look(body, ahead: true, negated: true)
        case "behind": return .look(body, ahead: false, negated: false)
        case "notBehind": return .look(body, ahead: false, negated: true)
        case "atomic": return .atomic(body)
        default: return body
        }
    }

    private mutating func expect(_ c: Unicode.Scalar) throws {
        guard peek() == c else { throw unsupported("expected '\(c)'") }
        pos += 1
    }

    /// An escape outside a class.
    private mutating func parseEscape() throws -> RegexNode {
        guard let e = peek(1) else { throw unsupported("trailing backslash") }
        switch e {
        case "A": pos += 2; return .textStart
        case "z": pos += 2; return .textEnd
        case "Z": pos += 2; return .textEndBeforeNewline
        case "b": pos += 2; return .wordBoundary
        case "B": pos += 2; return .notWordBoundary
        default:
            let item = try parseEscapeItem()
            switch item {
            case let .scalar(s): return .one(.scalar(s, caseInsensitive: caseInsensitive))
            case let .set(set): return .one(.set(set, caseInsensitive: caseInsensitive))
            }
        }
    }

    private enum EscapeItem {
        case scalar(Unicode.Scalar)
        case set(ScalarSet)
    }

    /// Escapes valid both inside and outside classes; pos is at the backslash.
    private mutating func parseEscapeItem() throws -> EscapeItem {
        let e = p[pos + 1]
        pos += 2
        func set(_ item: ScalarSet.Item) -> EscapeItem { .set(ScalarSet(items: [item])) }
        switch e {
        case "d": return set(.categories([.decimalNumber], negated: false))
        case "D": return set(.categories([.decimalNumber], negated: true))
        case "w": return set(.word(negated: false))
        case "W": return set(.word(negated: true))
        case "s": return set(.whitespace(negated: false))
        case "S": return set(.whitespace(negated: true))
        case "h": return set(.hexDigit(negated: false))
        case "H": return set(.hexDigit(negated: true))
        case "p", "P":
            return .set(try parseProperty(negated: e == "P"))
        case "t": return .scalar("\t")
        case "n": return .scalar("\n")
        case "r": return .scalar("\r")
        case "f": return .scalar("\u{0C}")
        case "v": return .scalar("\u{0B}")
        case "a": return .scalar("\u{07}")
        case "e": return .scalar("\u{1B}")
        case "x":
            if peek() == "{" {
                pos += 1
                let v = try hexNumber(maxDigits: 8)
                try expect("}")
                return .scalar(try scalar(v))
            }
            return .scalar(try scalar(try hexNumber(maxDigits: 2)))
        case "u":
            return .scalar(try scalar(try hexNumber(maxDigits: 4, exact: true)))
        default:
            if e.properties.isAlphabetic || ("0"..."9").contains(e) {
                throw unsupported("escape \\\(e)")
            }
            return .scalar(e)  // escaped punctuation or symbol is literal
        }
    }

    private func scalar(_ v: UInt32) throws -> Unicode.Scalar {
        guard let s = Unicode.Scalar(v) else { throw unsupported("invalid code point") }
        return s
    }

    private mutating func hexNumber(maxDigits: Int, exact: Bool = false) throws -> UInt32 {
        var v: UInt32 = 0
        var n = 0
        while n < maxDigits, let c = peek(), c.properties.isASCIIHexDigit {
            v = v * 16 + UInt32(String(c), radix: 16)!
            pos += 1
            n += 1
        }
        if n == 0 || (exact && n != maxDigits) { throw unsupported("invalid hex escape") }
        return v
    }

    private mutating func parseProperty(negated: Bool) throws -> ScalarSet {
        var name = ""
        if peek() == "{" {
            pos += 1
            while let c = peek(), c != "}" { name.unicodeScalars.append(c); pos += 1 }
            try expect("}")
        } else if let c = peek() {
            name = String(c)
            pos += 1
        }
        var neg = negated
        if name.hasPrefix("^") { neg.toggle(); name.removeFirst() }
        let key = name.lowercased().replacingOccurrences(of: "_", with: "").replacingOccurrences(of: " ", with: "")
        let cats: [Unicode.GeneralCategory]
        switch key {
        case "l", "letter": cats = [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter]
        case "lu", "uppercaseletter": cats = [.uppercaseLetter]
        case "ll", "lowercaseletter": cats = [.lowercaseLetter]
        case "lt", "titlecaseletter": cats = [.titlecaseLetter]
        case "lm", "modifierletter": cats = [.modifierLetter]
        case "lo", "otherletter": cats = [.otherLetter]
        case "m", "mark", "combiningmark": cats = [.nonspacingMark, .spacingMark, .enclosingMark]
        case "mn", "nonspacingmark": cats = [.nonspacingMark]
        case "mc", "spacingmark": cats = [.spacingMark]
        case "me", "enclosingmark": cats = [.enclosingMark]
        case "n", "number": cats = [.decimalNumber, .letterNumber, .otherNumber]
        case "nd", "decimalnumber", "digit": cats = [.decimalNumber]
        case "nl", "letternumber": cats = [.letterNumber]
        case "no", "othernumber": cats = [.otherNumber]
        case "p", "punctuation", "punct":
            cats = [.connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                    .initialPunctuation, .finalPunctuation, .otherPunctuation]
        case "pc", "connectorpunctuation": cats = [.connectorPunctuation]
        case "pd", "dashpunctuation": cats = [.dashPunctuation]
        case "ps", "openpunctuation": cats = [.openPunctuation]
        case "pe", "closepunctuation": cats = [.closePunctuation]
        case "pi", "initialpunctuation": cats = [.initialPunctuation]
        case "pf", "finalpunctuation": cats = [.finalPunctuation]
        case "po", "otherpunctuation": cats = [.otherPunctuation]
        case "s", "symbol": cats = [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol]
        case "sm", "mathsymbol": cats = [.mathSymbol]
        case "sc", "currencysymbol": cats = [.currencySymbol]
        case "sk", "modifiersymbol": cats = [.modifierSymbol]
        case "so", "othersymbol": cats = [.otherSymbol]
        case "z", "separator": cats = [.spaceSeparator, .lineSeparator, .paragraphSeparator]
        case "zs", "spaceseparator": cats = [.spaceSeparator]
        case "zl", "lineseparator": cats = [.lineSeparator]
        case "zp", "paragraphseparator": cats = [.paragraphSeparator]
        case "c", "other": cats = [.control, .format, .surrogate, .privateUse, .unassigned]
        case "cc", "control", "cntrl": cats = [.control]
        case "cf", "format": cats = [.format]
        case "co", "privateuse": cats = [.privateUse]
        case "cs", "surrogate": cats = [.surrogate]
        case "cn", "unassigned": cats = [.unassigned]
        case "space", "whitespace": return ScalarSet(items: [.whitespace(negated: neg)])
        case "word": return ScalarSet(items: [.word(negated: neg)])
        default: throw unsupported("property \\p{\(name)}")
        }
        return ScalarSet(items: [.categories(cats, negated: neg)])
    }

    /// A bracket class; pos is just after '['.
    private mutating func parseClass() throws -> ScalarSet {
        try enter()
        defer { nesting -= 1 }
        var set = ScalarSet()
        if peek() == "^" { set.negated = true; pos += 1 }
        var first = true
        while true {
            guard let c = peek() else { throw unsupported("unterminated character class") }
            if c == "]" && !first { pos += 1; break }
            first = false
            if c == "[" {
                if peek(1) == ":" { throw unsupported("POSIX bracket") }
                pos += 1
                set.items.append(.nested(try parseClass()))
                continue
            }
            if c == "&", peek(1) == "&" { throw unsupported("class intersection") }
            var lo: Unicode.Scalar
            if c == "\\" {
                guard peek(1) != nil else { throw unsupported("trailing backslash") }
                if p[pos + 1] == "b" { pos += 2; lo = "\u{08}" } else {
                    switch try parseEscapeItem() {
                    case let .set(s): set.items.append(.nested(s)); continue
                    case let .scalar(s): lo = s
                    }
                }
            } else {
                lo = c
                pos += 1
            }
            // A range "lo-hi" (a '-' before ']' is literal).
            if peek() == "-", let h = peek(1), h != "]" {
                pos += 1
                var hi: Unicode.Scalar
                if h == "\\" {
                    guard case let .scalar(s) = try parseEscapeItem() else { throw unsupported("class in a range") }
                    hi = s
                } else {
                    hi = h
                    pos += 1
                }
                guard lo.value <= hi.value else { throw unsupported("empty range") }
                set.items.append(.range(lo.value, hi.value))
            } else {
                set.items.append(.range(lo.value, lo.value))
            }
        }
        return set
    }
}
