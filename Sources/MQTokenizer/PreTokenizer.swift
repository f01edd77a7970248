// Pre-tokenizers: cut normalized text into pieces that the model encodes independently.
//
// Every component follows tokenizers' `NormalizedString::split`: a pattern marks the piece as
// alternating (range, isMatch) segments, a `SplitDelimiterBehavior` decides what to keep and what to
// glue together, and empty results are dropped. Components in a Sequence see the output of the
// previous one; after ByteLevel that is the byte-mapped text (so Falcon's Digits and Split run on
// "Ġ123"-style strings, as in tokenizers).

import Foundation

enum SplitBehavior: Sendable {
    case removed, isolated, mergedWithPrevious, mergedWithNext, contiguous

    static func parse(_ json: JSONCursor) throws -> SplitBehavior {
        switch try json.string() {
        case "Removed": return .removed
        case "Isolated": return .isolated
        case "MergedWithPrevious": return .mergedWithPrevious
        case "MergedWithNext": return .mergedWithNext
        case "Contiguous": return .contiguous
        case let other: throw json.unsupported("split behavior \"\(other)\"")
        }
    }
}

/// A compiled Split regex: the Oniguruma-compatible engine when it understands the pattern, else
/// Swift Regex with Unicode-scalar semantics (whose classes differ slightly at the edges).
struct SplitRegex: @unchecked Sendable {
    // Safety: both engines' compiled forms are immutable after init.
    private let scalarRegex: ScalarRegex?
    private let swiftRegex: Regex<AnyRegexOutput>?

    init(_ pattern: String, json: JSONCursor) throws {
        do {
            scalarRegex = try ScalarRegex(pattern)
            swiftRegex = nil
        } catch let refused as RegexRefused {
            // Too deep or too large for any engine: Swift Regex is not tried.
            throw json.invalid("cannot compile regex \(pattern.debugDescription): \(refused)")
        } catch {
            scalarRegex = nil
            do {
                swiftRegex = try Regex(pattern).matchingSemantics(.unicodeScalar)
            } catch {
                throw json.invalid("cannot compile regex \(pattern.debugDescription): \(error)")
            }
        }
    }

    /// Match ranges in scalar offsets.
    func matches(in piece: [Unicode.Scalar]) -> [Range<Int>] {
        if let scalarRegex { return scalarRegex.matches(in: piece) }
        guard let regex = swiftRegex else { return [] }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: piece)
        let text = String(view)
        var out: [Range<Int>] = []
        var lastIndex = text.startIndex
        var lastOffset = 0
        for m in text.matches(of: regex) {
            let lo = lastOffset + text.unicodeScalars.distance(from: lastIndex, to: m.range.lowerBound)
            let hi = lo + text.unicodeScalars.distance(from: m.range.lowerBound, to: m.range.upperBound)
            out.append(lo..<hi)
            lastIndex = m.range.upperBound
            lastOffset = hi
        }
        return out
    }
}

enum SplitPattern: Sendable {
    case literal([Unicode.Scalar])
    case regex(SplitRegex)

    func matches(in piece: [Unicode.Scalar]) -> [Range<Int>] {
        switch self {
        case let .regex(r):
            return r.matches(in: piece)
        case let .literal(p):
            guard !p.isEmpty, p.count <= piece.count else { return [] }
            var out: [Range<Int>] = []
            var i = 0
            while i + p.count <= piece.count {
                if piece[i] == p[0], piece[i..<i + p.count].elementsEqual(p) {
                    out.append(i..<i + p.count)
                    i += p.count
                } else {
                    i += 1
                }
            }
            return out
        }
    }
}

indirect enum PreTokenizer: Sendable {
    case sequence([PreTokenizer])
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case digits(individual: Bool)
    case split(SplitPattern, SplitBehavior, invert: Bool)
    case punctuation(SplitBehavior)
    case whitespace
    case whitespaceSplit

    static func parse(_ json: JSONCursor) throws -> PreTokenizer? {
        if json.isNull { return nil }
        guard let type = try json.typeTag() else { throw json.invalid("pre-tokenizer has no \"type\"") }
        switch type {
        case "Sequence":
            let items = try json.requiredField("pretokenizers").array()
            return .sequence(try items.map { item in
                guard let p = try parse(item) else { throw item.invalid("expected a pre-tokenizer, found null") }
                return p
            })
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try json.bool("add_prefix_space", default: true),
                              useRegex: try json.bool("use_regex", default: true))
        case "Digits":
            return .digits(individual: try json.bool("individual_digits", default: false))
        case "Split":
            let patternJSON = try json.requiredField("pattern")
            let pattern: SplitPattern
            if let s = try patternJSON.field("String") {
                pattern = .literal(Array(try s.string().unicodeScalars))
            } else if let r = try patternJSON.field("Regex") {
                pattern = .regex(try SplitRegex(try r.string(), json: r))
            } else {
                throw patternJSON.invalid("expected {\"String\": ...} or {\"Regex\": ...}")
            }
            return .split(pattern, try SplitBehavior.parse(try json.requiredField("behavior")),
                          invert: try json.bool("invert", default: false))
        case "Punctuation":
            let behavior = try json.optionalField("behavior").map(SplitBehavior.parse) ?? .isolated
            return .punctuation(behavior)
        case "Whitespace":
            return .whitespace
        case "WhitespaceSplit":
            return .whitespaceSplit
        default:
            throw json.unsupported("pre-tokenizer type \"\(type)\"")
        }
    }

    /// Applies this pre-tokenizer to each piece in order.
    func apply(_ pieces: [[Unicode.Scalar]]) -> [[Unicode.Scalar]] {
        var out: [[Unicode.Scalar]] = []
        out.reserveCapacity(pieces.count)
        switch self {
        case let .sequence(list):
            return list.reduce(pieces) { $1.apply($0) }
        case let .byteLevel(addPrefixSpace, useRegex):
            for var piece in pieces {
                if addPrefixSpace, piece.first != " " { piece.insert(" ", at: 0) }
                if useRegex {
                    var start = 0
                    for end in ByteLevel.gpt2Split(piece[...]) {
                        out.append(ByteLevel.mapBytes(piece[start..<end]))
                        start = end
                    }
                } else {
                    out.append(ByteLevel.mapBytes(piece[...]))
                }
            }
        case let .digits(individual):
            for piece in pieces {
                PreTokenizer.splitByScalar(piece, behavior: individual ? .isolated : .contiguous, into: &out, CharClass.isNumber)
            }
        case let .punctuation(behavior):
            for piece in pieces {
                PreTokenizer.splitByScalar(piece, behavior: behavior, into: &out, CharClass.isPunctuation)
            }
        case .whitespaceSplit:
            for piece in pieces {
                PreTokenizer.splitByScalar(piece, behavior: .removed, into: &out, CharClass.isWhitespace)
            }
        case .whitespace:
            for piece in pieces { PreTokenizer.whitespaceSplit(piece, into: &out) }
        case let .split(pattern, behavior, invert):
            for piece in pieces {
                var segments: [(Range<Int>, Bool)] = []
                var prev = 0
                for r in pattern.matches(in: piece) {
                    if prev != r.lowerBound { segments.append((prev..<r.lowerBound, invert)) }
                    segments.append((r, !invert))
                    prev = r.upperBound
                }
                if prev != piece.count { segments.append((prev..<piece.count, invert)) }
                PreTokenizer.applyBehavior(piece, segments, behavior, into: &out)
            }
        }
        return out
    }

    /// A character predicate as a pattern: every matching scalar is its own match.
    private static func splitByScalar(_ piece: [Unicode.Scalar], behavior: SplitBehavior,
                                      into out: inout [[Unicode.Scalar]], _ isMatch: (Unicode.Scalar) -> Bool) {
        var segments: [(Range<Int>, Bool)] = []
        var last = 0
        for (i, s) in piece.enumerated() where isMatch(s) {
            if last < i { segments.append((last..<i, false)) }
            segments.append((i..<i + 1, true))
            last = i + 1
        }
        if last < piece.count { segments.append((last..<piece.count, false)) }
        applyBehavior(piece, segments, behavior, into: &out)
    }

    /// tokenizers' Whitespace: the regex `\w+|[^\w\s]+` (regex crate classes), keeping the matches.
    private static func whitespaceSplit(_ piece: [Unicode.Scalar], into out: inout [[Unicode.Scalar]]) {
        var i = 0
        while i < piece.count {
            let s = piece[i]
            if CharClass.isWhitespace(s) && !CharClass.isRustRegexWord(s) { i += 1; continue }
            let word = CharClass.isRustRegexWord(s)
            var j = i + 1
            while j < piece.count {
                let t = piece[j]
                let tWord = CharClass.isRustRegexWord(t)
                if word ? !tWord : (tWord || CharClass.isWhitespace(t)) { break }
                j += 1
            }
            out.append(Array(piece[i..<j]))
            i = j
        }
    }

    /// `NormalizedString::split`: turn (range, isMatch) segments into pieces per behavior.
    static func applyBehavior(_ piece: [Unicode.Scalar], _ segments: [(Range<Int>, Bool)],
                              _ behavior: SplitBehavior, into out: inout [[Unicode.Scalar]]) {
        var kept: [Range<Int>] = []
        kept.reserveCapacity(segments.count)
        switch behavior {
        case .isolated:
            kept = segments.map { $0.0 }
        case .removed:
            kept = segments.filter { !$0.1 }.map { $0.0 }
        case .contiguous:
            var previousMatch = false
            for (r, isMatch) in segments {
                if isMatch == previousMatch, let last = kept.last {
                    kept[kept.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    kept.append(r)
                }
                previousMatch = isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for (r, isMatch) in segments {
                if isMatch && !previousMatch, let last = kept.last {
                    kept[kept.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    kept.append(r)
                }
                previousMatch = isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for (r, isMatch) in segments.reversed() {
                if isMatch && !previousMatch, let last = kept.last {
                    kept[kept.count - 1] = r.lowerBound..<last.upperBound
                } else {
                    kept.append(r)
                }
                previousMatch = isMatch
            }
            kept.reverse()
        }
        for r in kept where !r.isEmpty { out.append(Array(piece[r])) }
    }
}
