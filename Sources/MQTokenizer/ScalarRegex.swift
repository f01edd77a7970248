// A small backtracking regex engine over Unicode scalars with Oniguruma's (Ruby syntax) semantics,
// for Split pre-tokenizer patterns.
//
// Why not Swift Regex: its classes differ from Oniguruma's (`\d` matches ① and Ⅻ there; Oniguruma's
// `\d` is Nd only) and it is several times slower on the many short pieces a tokenizer splits. This
// engine covers what tokenizer patterns use: literals and escapes, `.`, `\d\w\s\h` (and negations),
// `\p{..}`/`\P{..}` general categories, bracket classes with ranges, groups `(...)` `(?:...)`,
// inline flags `i`/`m` (Ruby's m = dot matches newline), lookahead and lookbehind, atomic groups,
// greedy/lazy/possessive quantifiers including `{n,m}`, anchors `^ $ \A \z \Z \b \B`.
// Anything else (scripts like \p{Han}, POSIX brackets, backreferences, ...) is reported as
// unsupported and the caller falls back to Swift Regex.
// Repetition of a single-scalar test (`\p{L}+`, `\s*`, `[0-9]{3}`) runs as a loop; repetition of a
// larger group recurses once per iteration, so such patterns on very long pieces use deep stacks.

struct RegexUnsupported: Error, CustomStringConvertible {
    let description: String
}

/// A pattern no engine should try: nested deeper than `RegexParser.maxNesting` or repeating more
/// than Oniguruma allows. Unlike `RegexUnsupported`, the caller must not fall back to Swift Regex.
struct RegexRefused: Error, CustomStringConvertible {
    let description: String
}

/// Tests one scalar.
enum ScalarTest: Sendable {
    case scalar(Unicode.Scalar, caseInsensitive: Bool)
    case any(dotAll: Bool)
    case set(ScalarSet, caseInsensitive: Bool)

    @inline(__always)
    func matches(_ s: Unicode.Scalar) -> Bool {
        switch self {
        case let .scalar(c, ci):
            return s == c || (ci && ScalarTest.fold(s) == ScalarTest.fold(c))
        case let .any(dotAll):
            return dotAll || s != "\n"
        case let .set(set, ci):
            if set.contains(s) { return true }
            guard ci else { return false }
            let lower = ScalarTest.fold(s)
            if lower != s, set.contains(lower) { return true }
            let upper = s.properties.uppercaseMapping.unicodeScalars
            return upper.count == 1 && upper.first! != s && set.contains(upper.first!)
        }
    }

    static func fold(_ s: Unicode.Scalar) -> Unicode.Scalar {
        if s.value < 0x80 { return (0x41...0x5A).contains(s.value) ? Unicode.Scalar(s.value + 32)! : s }
        let l = s.properties.lowercaseMapping.unicodeScalars
        return l.count == 1 ? l.first! : s
    }
}

struct ScalarSet: Sendable {
    enum Item: Sendable {
        case range(UInt32, UInt32)
        case categories([Unicode.GeneralCategory], negated: Bool)
        case whitespace(negated: Bool)
        case word(negated: Bool)
        case hexDigit(negated: Bool)
        case nested(ScalarSet)
    }
    var items: [Item] = []
    var negated = false

    func contains(_ s: Unicode.Scalar) -> Bool {
        var hit = false
        for item in items {
            switch item {
            case let .range(lo, hi): hit = s.value >= lo && s.value <= hi
            case let .categories(cats, neg): hit = cats.contains(s.properties.generalCategory) != neg
            case let .whitespace(neg): hit = CharClass.isWhitespace(s) != neg
            case let .word(neg): hit = CharClass.isOnigWord(s) != neg
            case let .hexDigit(neg): hit = s.properties.isASCIIHexDigit != neg
            case let .nested(set): hit = set.contains(s)
            }
            if hit { break }
        }
        return hit != negated
    }
}

indirect enum RegexNode: Sendable {
    case one(ScalarTest)
    case sequence([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, min: Int, max: Int, greedy: Bool)
    case atomic(RegexNode)
    case look(RegexNode, ahead: Bool, negated: Bool)
    case lineStart, lineEnd, textStart, textEnd, textEndBeforeNewline, wordBoundary, notWordBoundary
}

struct ScalarRegex: Sendable {
    let root: RegexNode
    /// A test every match's first scalar must pass, when the pattern has one: start positions that
    /// fail it are skipped without running the matcher (Falcon's `[0-9][0-9][0-9]` on words).
    private let firstTest: ScalarTest?

    init(_ pattern: String) throws {
        var parser = RegexParser(Array(pattern.unicodeScalars))
        root = try parser.parseAll()
        firstTest = ScalarRegex.requiredFirst(root)
    }

    private static func requiredFirst(_ node: RegexNode) -> ScalarTest? {
        switch node {
        case let .one(test): return test
        case let .sequence(nodes): return nodes.first.flatMap(requiredFirst)
        case let .repetition(body, lo, _, _): return lo >= 1 ? requiredFirst(body) : nil
        case let .atomic(body): return requiredFirst(body)
        default: return nil
        }
    }

    /// Matching steps allowed per scalar of the text searched (with `minStepBudget` for short
    /// texts). A backtracking engine is exponential on patterns like `(a*)*b`: fuzz-tokenizer-json
    /// found `a` with runs of stacked `*` that ran for minutes on a 50-character text. Oniguruma
    /// stops such a search at its retry limit and fails (tokenizers then panics); this engine stops
    /// the search and reports the matches found so far, so the rest of the text is one unmatched
    /// piece. Real patterns take about 7 steps per scalar (GPT-2's and Llama 3's on the fixtures'
    /// sample code; testMatchingStepBudget), far below the budget.
    static let stepsPerScalar = 1_000
    static let minStepBudget = 100_000

    /// Successive leftmost matches, like the onig crate's `find_iter` (an empty match right after
    /// the previous match is skipped), within the step budget.
    func matches(in text: [Unicode.Scalar]) -> [Range<Int>] {
        matchesCountingSteps(in: text).matches
    }

    /// `matches(in:)` and the matching steps it took (tests check the budget's margin).
    func matchesCountingSteps(in text: [Unicode.Scalar]) -> (matches: [Range<Int>], steps: Int) {
        var out: [Range<Int>] = []
        var searchFrom = 0
        var lastMatchEnd: Int? = nil
        let budget = max(ScalarRegex.minStepBudget, ScalarRegex.stepsPerScalar * text.count)
        let matcher = RegexMatcher(text: text, budget: StepBudget(budget))
        while searchFrom <= text.count, !matcher.budget.exhausted {
            var found: Range<Int>? = nil
            for start in searchFrom...text.count {
                if let firstTest, start == text.count || !firstTest.matches(text[start]) { continue }
                if let end = matcher.matchAt(root, start) { found = start..<end; break }
            }
            guard let m = found else { break }
            if m.isEmpty, m.upperBound == lastMatchEnd {
                searchFrom = m.upperBound + 1
                continue
            }
            out.append(m)
            lastMatchEnd = m.upperBound
            searchFrom = m.upperBound
        }
        return (out, budget - max(matcher.budget.remaining, 0))
    }
}

/// The steps a search may still take; shared by the matcher's closures.
private final class StepBudget {
    var remaining: Int
    var exhausted: Bool { remaining < 0 }
    init(_ steps: Int) { remaining = steps }
}

private struct RegexMatcher {
    let text: [Unicode.Scalar]
    let budget: StepBudget

    func matchAt(_ node: RegexNode, _ i: Int) -> Int? {
        var end: Int? = nil
        _ = m(node, i) { end = $0; return true }
        return end
    }

    private func isWord(_ i: Int) -> Bool { i >= 0 && i < text.count && CharClass.isOnigWord(text[i]) }

    /// Matches `node` at `i`, calling `k` with each possible end (in preference order) until it accepts.
    private func m(_ node: RegexNode, _ i: Int, _ k: (Int) -> Bool) -> Bool {
        budget.remaining -= 1
        if budget.remaining < 0 { return false }  // out of steps: fail this path and every other
        switch node {
        case let .one(test):
            return i < text.count && test.matches(text[i]) && k(i + 1)
        case let .sequence(nodes):
            return seq(nodes, 0, i, k)
        case let .alternation(nodes):
            for n in nodes where m(n, i, k) { return true }
            return false
        case let .repetition(body, lo, hi, greedy):
            if case let .one(test) = body {
                // Single-scalar body: count the run once, then try ends without recursion.
                var n = 0
                while n < hi, i + n < text.count, test.matches(text[i + n]) { n += 1 }
                if n < lo { return false }
                if greedy {
                    var c = n
                    while c >= lo { if k(i + c) { return true }; c -= 1 }
                } else {
                    for c in lo...n where k(i + c) { return true }
                }
                return false
            }
            return rep(body, lo, hi, greedy, 0, i, k)
        case let .atomic(body):
            guard let end = matchAt(body, i) else { return false }
            return k(end)
        case let .look(body, ahead, negated):
            let found: Bool
            if ahead {
                found = matchAt(body, i) != nil
            } else {
                found = (0...i).reversed().contains { j in m(body, j) { $0 == i } }
            }
            return found != negated && k(i)
        case .lineStart:
            return (i == 0 || text[i - 1] == "\n") && k(i)
        case .lineEnd:
            return (i == text.count || text[i] == "\n") && k(i)
        case .textStart:
            return i == 0 && k(i)
        case .textEnd:
            return i == text.count && k(i)
        case .textEndBeforeNewline:
            return (i == text.count || (i == text.count - 1 && text[i] == "\n")) && k(i)
        case .wordBoundary:
            return isWord(i - 1) != isWord(i) && k(i)
        case .notWordBoundary:
            return isWord(i - 1) == isWord(i) && k(i)
        }
    }

    private func seq(_ nodes: [RegexNode], _ index: Int, _ i: Int, _ k: (Int) -> Bool) -> Bool {
        if index == nodes.count { return k(i) }
        return m(nodes[index], i) { j in seq(nodes, index + 1, j, k) }
    }

    private func rep(_ body: RegexNode, _ lo: Int, _ hi: Int, _ greedy: Bool, _ count: Int, _ i: Int,
                     _ k: (Int) -> Bool) -> Bool {
        let canStop = count >= lo
        if !greedy, canStop, k(i) { return true }
        if count < hi {
            // An iteration that consumed nothing ends the loop (no infinite empty repetition).
            let more = m(body, i) { j in
                if j == i { return count + 1 >= lo && k(j) }
                return rep(body, lo, hi, greedy, count + 1, j, k)
            }
            if more { return true }
        }
        return greedy && canStop && k(i)
    }
}
