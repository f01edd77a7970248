// Added tokens (special and not): id assignment as tokenizers does it when it loads
// `added_tokens`, and the extraction of added tokens from the input before pre-tokenization.
//
// Matching follows tokenizers' AddedVocabulary: tokens with `normalized: false` are found in the raw
// text first; the remaining text is normalized and searched for the `normalized: true` tokens. Each
// search is leftmost-longest and non-overlapping over the whole set; `single_word`, `lstrip` and
// `rstrip` are applied to the matches afterwards (a discarded match is not searched again).

struct AddedToken: Sendable, Equatable {
    var content: String
    var singleWord: Bool
    var lstrip: Bool
    var rstrip: Bool
    var normalized: Bool
    var special: Bool

    static func == (a: AddedToken, b: AddedToken) -> Bool {
        a.content.utf8.elementsEqual(b.content.utf8) && a.singleWord == b.singleWord && a.lstrip == b.lstrip
            && a.rstrip == b.rstrip && a.normalized == b.normalized && a.special == b.special
    }
}

/// Byte-exact string key (Swift `String` equality is canonical equivalence, which tokenizers' is not).
struct TokenKey: Hashable, Sendable {
    let bytes: [UInt8]
    init(_ s: String) { bytes = Array(s.utf8) }
    init(bytes: [UInt8]) { self.bytes = bytes }
}

/// One piece of the input after added-token extraction.
enum Segment {
    case token(Int)
    case text([Unicode.Scalar])
}

/// A trie over scalars for leftmost-longest search of a fixed set of patterns.
struct PatternTrie: Sendable {
    private var children: [[UInt32: Int32]] = [[:]]
    /// Pattern index ending at each node (the first pattern registered wins on duplicates).
    private var terminal: [Int32] = [-1]
    private(set) var isEmpty = true

    mutating func insert(_ pattern: [Unicode.Scalar], index: Int) {
        guard !pattern.isEmpty else { return }
        isEmpty = false
        var node = 0
        for s in pattern {
            if let next = children[node][s.value] {
                node = Int(next)
            } else {
                children.append([:])
                terminal.append(-1)
                children[node][s.value] = Int32(children.count - 1)
                node = children.count - 1
            }
        }
        if terminal[node] < 0 { terminal[node] = Int32(index) }
    }

    /// Non-overlapping leftmost-longest matches: (start, end, pattern index).
    func findAll(_ text: [Unicode.Scalar]) -> [(start: Int, end: Int, pattern: Int)] {
        var out: [(Int, Int, Int)] = []
        if isEmpty { return out }
        var i = 0
        while i < text.count {
            var node = 0
            var best: (end: Int, pattern: Int)? = nil
            var j = i
            while j < text.count, let next = children[node][text[j].value] {
                node = Int(next)
                j += 1
                if terminal[node] >= 0 { best = (j, Int(terminal[node])) }
            }
            if let b = best {
                out.append((i, b.end, b.pattern))
                i = b.end
            } else {
                i += 1
            }
        }
        return out
    }
}

struct AddedVocabulary: Sendable {
    /// content -> id, for every added token.
    private(set) var tokenToId: [TokenKey: Int] = [:]
    /// id -> token (the last definition wins, as in tokenizers).
    private(set) var idToToken: [Int: AddedToken] = [:]
    /// Contents of special tokens (decode's skip_special_tokens looks strings up here).
    private(set) var specialContents: Set<TokenKey> = []
    private var specialTokens: [AddedToken] = []
    private var addedTokens: [AddedToken] = []

    private var rawTrie = PatternTrie()
    private var rawIds: [Int] = []
    private var normalizedTrie = PatternTrie()
    private var normalizedIds: [Int] = []

    var isEmpty: Bool { tokenToId.isEmpty }

    /// Adds tokens in order, assigning ids exactly like tokenizers' `add_tokens`: a token already in
    /// the model (or already added) keeps that id; a new one gets the next id after the model's
    /// vocabulary size or after the largest added id. (The ids written in the file are not used.)
    mutating func add(_ tokens: [AddedToken], modelVocabSize: Int, modelId: (TokenKey) -> Int?, normalizer: Normalizer?) {
        for t in tokens where t.special && !t.content.isEmpty {
            let key = TokenKey(t.content)
            if !specialContents.contains(key) {
                specialTokens.append(t)
                specialContents.insert(key)
            }
        }
        for t in tokens {
            if t.content.isEmpty || idToToken.values.contains(t) { continue }
            let key = TokenKey(t.content)
            let newId: Int
            if let id = tokenToId[key] ?? modelId(key) {
                newId = id
            } else if let maxId = tokenToId.values.max() {
                newId = (maxId >= modelVocabSize || modelVocabSize == 0) ? maxId + 1 : modelVocabSize
            } else {
                newId = modelVocabSize
            }
            tokenToId[key] = newId
            idToToken[newId] = t
            if !specialContents.contains(key) { addedTokens.append(t) }
        }
        rebuildTries(modelId: modelId, normalizer: normalizer)
    }

    private mutating func rebuildTries(modelId: (TokenKey) -> Int?, normalizer: Normalizer?) {
        rawTrie = PatternTrie()
        normalizedTrie = PatternTrie()
        rawIds = []
        normalizedIds = []
        for t in specialTokens + addedTokens {
            let key = TokenKey(t.content)
            guard let id = tokenToId[key] ?? modelId(key) else { continue }
            let scalars = Array(t.content.unicodeScalars)
            if t.normalized {
                normalizedTrie.insert(normalizer?.apply(scalars) ?? scalars, index: normalizedIds.count)
                normalizedIds.append(id)
            } else {
                rawTrie.insert(scalars, index: rawIds.count)
                rawIds.append(id)
            }
        }
    }

    /// Splits `text` into added tokens and normalized text segments (empty segments dropped).
    func extract(_ text: [Unicode.Scalar], normalizer: Normalizer?) -> [Segment] {
        var out: [Segment] = []
        for piece in split(text, trie: rawTrie, ids: rawIds) {
            switch piece {
            case .token:
                out.append(piece)
            case let .text(raw):
                let normalized = normalizer?.apply(raw) ?? raw
                for p in split(normalized, trie: normalizedTrie, ids: normalizedIds) {
                    if case let .text(t) = p, t.isEmpty { continue }
                    out.append(p)
                }
            }
        }
        return out
    }

    /// tokenizers' `find_matches` followed by slicing.
    private func split(_ text: [Unicode.Scalar], trie: PatternTrie, ids: [Int]) -> [Segment] {
        if text.isEmpty { return [] }
        var out: [Segment] = []
        var startOffset = 0
        for m in trie.findAll(text) {
            var start = m.start
            var stop = m.end
            let id = ids[m.pattern]
            guard let token = idToToken[id] else { continue }
            if token.singleWord {
                let startSpace = start == 0 || !CharClass.isRustRegexWord(text[start - 1])
                let stopSpace = stop == text.count || !CharClass.isRustRegexWord(text[stop])
                if !startSpace || !stopSpace { continue }
            }
            if token.lstrip {
                var s = start
                while s > 0, CharClass.isWhitespace(text[s - 1]) { s -= 1 }
                start = max(s, startOffset)
            }
            if token.rstrip {
                while stop < text.count, CharClass.isWhitespace(text[stop]) { stop += 1 }
            }
            if startOffset < start { out.append(.text(Array(text[startOffset..<start]))) }
            out.append(.token(id))
            startOffset = stop
        }
        if startOffset < text.count { out.append(.text(Array(text[startOffset...]))) }
        return out
    }
}
