// Normalizers: the Unicode normalization forms, Lowercase, and Sequence of those.
// StarCoder, SantaCoder and Falcon ship `"normalizer": null`; these cover common other files.

import Foundation

indirect enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd
    /// Per-scalar full lowercase mapping (Rust's `char::to_lowercase`, no context rules).
    case lowercase
    case sequence([Normalizer])

    static func parse(_ json: JSONCursor) throws -> Normalizer? {
        if json.isNull { return nil }
        guard let type = try json.typeTag() else { throw json.invalid("normalizer has no \"type\"") }
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "Sequence":
            let items = try json.requiredField("normalizers").array()
            return .sequence(try items.map { item in
                guard let n = try parse(item) else { throw item.invalid("expected a normalizer, found null") }
                return n
            })
        default:
            throw json.unsupported("normalizer type \"\(type)\"")
        }
    }

    func apply(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        switch self {
        case .nfc: return Normalizer.foundation(text) { $0.precomposedStringWithCanonicalMapping }
        case .nfd: return Normalizer.foundation(text) { $0.decomposedStringWithCanonicalMapping }
        case .nfkc: return Normalizer.foundation(text) { $0.precomposedStringWithCompatibilityMapping }
        case .nfkd: return Normalizer.foundation(text) { $0.decomposedStringWithCompatibilityMapping }
        case .lowercase:
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(text.count)
            for s in text {
                if s.value < 0x80 {
                    out.append((0x41...0x5A).contains(s.value) ? Unicode.Scalar(s.value + 32)! : s)
                } else {
                    out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
                }
            }
            return out
        case let .sequence(list):
            return list.reduce(text) { $1.apply($0) }
        }
    }

    private static func foundation(_ text: [Unicode.Scalar], _ f: (String) -> String) -> [Unicode.Scalar] {
        if text.allSatisfy({ $0.value < 0x80 }) { return text }  // ASCII is invariant under all four forms
        var s = String.UnicodeScalarView()
        s.append(contentsOf: text)
        return Array(f(String(s)).unicodeScalars)
    }
}
