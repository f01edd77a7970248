// The public tokenizer: loads a Hugging Face tokenizer.json and encodes/decodes exactly like the
// `tokenizers` library for byte-level BPE files (StarCoder, SantaCoder, Falcon, GPT-2 family).
//
// Pipeline of `encode`: added tokens are cut out of the text (AddedVocabulary), the remaining text is
// normalized, pre-tokenized into pieces, each piece is BPE-encoded, and the post-processor adds its
// special ids. All text handling is per Unicode scalar (tokenizers works on `char`s), never on Swift
// grapheme clusters: "\r\n" is two scalars, a combining mark is its own scalar.

import Foundation

public final class Tokenizer: Sendable {
    /// Names the file in errors.
    public let source: String
    let model: BPEModel
    let added: AddedVocabulary
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let postProcessor: PostProcessor?
    let decoding: DecodePipeline
    /// id -> token string of added tokens as tokenizers' `id_to_token` reports them: the content, put
    /// through the normalizer when the token is `normalized` (decoding uses this string too).
    private let addedIdToToken: [Int: String]
    /// Like tokenizers' `get_vocab_size(with_added_tokens=True)`: distinct token strings in the model
    /// vocabulary and the added tokens.
    public let vocabSize: Int

    /// Loads a tokenizer.json file; errors name the file's path.
    public convenience init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadable(source: url.path, reason: error.localizedDescription)
        }
        try self.init(data: data, source: url.path)
    }

    /// Loads tokenizer.json content; `source` names the file in errors.
    public init(data: Data, source: String) throws {
        self.source = source
        let root = JSONCursor(value: try JSONParser.parse([UInt8](data), source: source), path: "", source: source)
        _ = try root.objectEntries()

        for key in ["truncation", "padding"] {
            if let f = try root.optionalField(key) {
                throw f.unsupported("\(key) (encode returns the whole sequence; set it to null)")
            }
        }

        let modelJSON = try root.requiredField("model")
        let modelType = try modelJSON.typeTag()
        if let modelType, modelType != "BPE" {
            throw modelJSON.unsupported("model type \"\(modelType)\" (only BPE is implemented)")
        }
        if modelType == nil, try modelJSON.field("merges") == nil {
            throw modelJSON.unsupported("model without \"type\" that is not BPE (no \"merges\")")
        }
        let model = try BPEModel(json: modelJSON)
        self.model = model

        normalizer = try root.optionalField("normalizer").flatMap(Normalizer.parse)
        preTokenizer = try root.optionalField("pre_tokenizer").flatMap(PreTokenizer.parse)
        postProcessor = try root.optionalField("post_processor").flatMap(PostProcessor.parse)
        decoding = DecodePipeline(steps: try root.optionalField("decoder").flatMap(Decoder.parse)?.steps)

        var tokens: [AddedToken] = []
        for item in try root.optionalField("added_tokens")?.array() ?? [] {
            _ = try item.requiredField("id").tokenId()  // checked, but ids are reassigned as tokenizers does
            tokens.append(AddedToken(
                content: try item.requiredField("content").string(),
                singleWord: try item.bool("single_word", default: false),
                lstrip: try item.bool("lstrip", default: false),
                rstrip: try item.bool("rstrip", default: false),
                normalized: try item.bool("normalized", default: true),
                special: try item.bool("special", default: false)))
        }
        var added = AddedVocabulary()
        added.add(tokens, modelVocabSize: model.vocabSize, modelId: { model.vocab[$0] }, normalizer: normalizer)
        self.added = added
        addedIdToToken = added.idToToken.mapValues { [normalizer] t in
            guard t.normalized, let normalizer else { return t.content }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: normalizer.apply(Array(t.content.unicodeScalars)))
            return String(view)
        }

        var keys = Set(model.vocab.keys)
        keys.formUnion(added.tokenToId.keys)
        vocabSize = keys.count
    }

    /// Token ids of `text`, like tokenizers' `encode(text, add_special_tokens=True).ids`.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        for segment in added.extract(Array(text.unicodeScalars), normalizer: normalizer) {
            switch segment {
            case let .token(id):
                ids.append(id)
            case let .text(scalars):
                if let preTokenizer {
                    for piece in preTokenizer.apply([scalars]) { model.tokenize(piece, into: &ids) }
                } else {
                    model.tokenize(scalars, into: &ids)
                }
            }
        }
        return postProcessor?.apply(ids) ?? ids
    }

    /// Text of `ids`, like tokenizers' `decode(ids, skip_special_tokens:)`. Ids that name no token
    /// (negative or out of range) are skipped, as tokenizers skips unknown ids. Invalid UTF-8 from
    /// byte tokens becomes U+FFFD.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        UTF8Lossy.decode(decodeBytes(ids, skipSpecialTokens: skipSpecialTokens))
    }

    /// The bytes `decode` turns into text, before the lossy UTF-8 step (they can be invalid UTF-8
    /// when ids cut a character).
    public func decodeBytes(_ ids: [Int], skipSpecialTokens: Bool = false) -> [UInt8] {
        decoding.decodeBytes(decodedTokens(ids, skipSpecialTokens: skipSpecialTokens))
    }

    func decodedTokens(_ ids: [Int], skipSpecialTokens: Bool) -> [String] {
        ids.compactMap { decodedToken($0, skipSpecialTokens: skipSpecialTokens) }
    }

    /// The token string decoding uses for `id`, or nil when it is skipped.
    func decodedToken(_ id: Int, skipSpecialTokens: Bool) -> String? {
        guard let token = token(forId: id) else { return nil }
        if skipSpecialTokens, added.specialContents.contains(TokenKey(token)) { return nil }
        return token
    }

    /// The id of a token string (added tokens first, then the model vocabulary), compared byte for byte.
    public func id(forToken token: String) -> Int? {
        let key = TokenKey(token)
        return added.tokenToId[key] ?? model.vocab[key]
    }

    /// The token string of an id (added tokens first, then the model vocabulary), like tokenizers'
    /// `id_to_token`: a `normalized` added token is reported in normalized form.
    public func token(forId id: Int) -> String? {
        addedIdToToken[id] ?? model.vocabR[id]
    }

    /// Whether `id` is a special added token (what `skipSpecialTokens` drops).
    public func isSpecial(id: Int) -> Bool {
        guard let t = token(forId: id) else { return false }
        return added.specialContents.contains(TokenKey(t))
    }

    /// An upper bound on the UTF-8 length of a text that encodes to at most `tokens` tokens, so a
    /// server can refuse an oversized prompt by its byte length before spending time encoding it.
    /// Each token stands for at most the longest token's bytes (its vocabulary string or its
    /// decoded bytes, whichever is longer; at least 4, one scalar); a normalizer may shrink text
    /// (composition, compatibility forms), so with one the bound is 4 times larger. Pieces that
    /// produce no token at all (whitespace a pre-tokenizer drops) are not covered: a prompt made
    /// mostly of those is refused, which is what a server wants anyway.
    public func textByteBound(tokens: Int) -> Int {
        var longest = 4
        for id in 0..<(vocabSize + added.tokenToId.count) {
            guard let token = token(forId: id) else { continue }
            longest = max(longest, token.utf8.count, decodeBytes([id]).count)
        }
        let (bound, overflow) = tokens.multipliedReportingOverflow(by: longest * (normalizer == nil ? 1 : 4))
        return overflow ? Int.max : bound
    }
}
