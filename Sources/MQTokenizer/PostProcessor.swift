// Post-processors: what `encode(text, add_special_tokens=True)` adds around a single sequence.
// ByteLevel only adjusts offsets, so it leaves ids alone; the template kinds add special ids.

indirect enum PostProcessor: Sendable {
    case byteLevel
    /// ids before and after the sequence (TemplateProcessing's `single`, Bert/Roberta's cls/sep).
    case wrap(before: [Int], after: [Int])
    case sequence([PostProcessor])

    static func parse(_ json: JSONCursor) throws -> PostProcessor? {
        if json.isNull { return nil }
        guard let type = try json.typeTag() else { throw json.invalid("post-processor has no \"type\"") }
        switch type {
        case "ByteLevel":
            return .byteLevel
        case "BertProcessing", "RobertaProcessing":
            func pairId(_ key: String) throws -> Int {
                let f = try json.requiredField(key)
                let items = try f.array()
                guard items.count == 2 else { throw f.invalid("expected [token, id]") }
                _ = try items[0].string()
                return try items[1].tokenId()
            }
            return .wrap(before: [try pairId("cls")], after: [try pairId("sep")])
        case "TemplateProcessing":
            return try parseTemplate(json)
        case "Sequence":
            let items = try json.requiredField("processors").array()
            return .sequence(try items.map { item in
                guard let p = try parse(item) else { throw item.invalid("expected a post-processor, found null") }
                return p
            })
        default:
            throw json.unsupported("post-processor type \"\(type)\"")
        }
    }

    private static func parseTemplate(_ json: JSONCursor) throws -> PostProcessor {
        var specials: [String: [Int]] = [:]
        if let st = try json.optionalField("special_tokens") {
            for (name, entry) in try st.objectEntries() {
                specials[name] = try entry.requiredField("ids").array().map { try $0.tokenId() }
            }
        }
        var before: [Int] = [], after: [Int] = []
        var seenSequence = false
        for piece in try json.requiredField("single").array() {
            if let seq = try piece.field("Sequence") {
                let id = try seq.requiredField("id").string()
                guard id == "A", !seenSequence else { throw seq.invalid("a single-sequence template takes $A once") }
                seenSequence = true
            } else if let sp = try piece.field("SpecialToken") {
                let idField = try sp.requiredField("id")
                let name = try idField.string()
                guard let ids = specials[name] else { throw idField.invalid("\(name.debugDescription) is not in special_tokens") }
                if seenSequence { after += ids } else { before += ids }
            } else {
                throw piece.invalid("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}")
            }
        }
        guard seenSequence else { throw json.invalid("template \"single\" has no $A") }
        return .wrap(before: before, after: after)
    }

    func apply(_ ids: [Int]) -> [Int] {
        switch self {
        case .byteLevel: return ids
        case let .wrap(before, after): return before + ids + after
        case let .sequence(list): return list.reduce(ids) { $1.apply($0) }
        }
    }
}
