// Byte sizes as operators type them on a command line ("512M", "2G", "1.5GiB", "1048576") and as
// logs print them. Suffixes are binary (K = 1024), as memory sizes usually are. Every executable
// parses its byte-size flags with this one parser (MQCommandLine.ByteSize wraps it for flags).

public enum ByteCount {
    /// Parses a non-negative size: digits (a decimal fraction allowed with a suffix), then an
    /// optional K, M, G or T (binary multiples), optionally followed by "i", "B" or "iB"; case and
    /// surrounding spaces are ignored. nil for anything else or a value beyond UInt64.
    public static func parse(_ text: String) -> UInt64? {
        var body = text.trimmed(of: " \t").uppercased()
        if body.hasSuffix("IB") { body.removeLast(2); guard body.last.map(isUnit) == true else { return nil } }
        else if body.hasSuffix("B") { body.removeLast() }
        var shift: UInt64 = 0
        if let last = body.last, isUnit(last) {
            shift = ["K": 10, "M": 20, "G": 30, "T": 40][last]!
            body.removeLast()
        }
        guard !body.isEmpty, body.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              body.filter({ $0 == "." }).count <= 1, body != "." else { return nil }
        if !body.contains(".") {
            guard let value = UInt64(body) else { return nil }
            let (scaled, overflow) = value.multipliedReportingOverflow(by: 1 << shift)
            return overflow ? nil : scaled
        }
        // A fraction only makes sense with a unit ("1.5G"); bytes are whole.
        guard shift > 0, let value = Double(body) else { return nil }
        let scaled = value * Double(UInt64(1) << shift)
        guard scaled.isFinite, scaled < 18_446_744_073_709_551_615.0 else { return nil }
        return UInt64(scaled.rounded(.down))
    }

    /// "512 MiB", "1.5 GiB", "100 B": for logs.
    public static func format(_ bytes: UInt64) -> String {
        let units: [(String, UInt64)] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        for (name, size) in units where bytes >= size {
            let value = Double(bytes) / Double(size)
            let rounded = (value * 10).rounded() / 10
            return rounded == rounded.rounded() ? "\(Int(rounded)) \(name)" : "\(rounded) \(name)"
        }
        return "\(bytes) B"
    }

    private static func isUnit(_ character: Character) -> Bool { "KMGT".contains(character) }
}

extension String {
    fileprivate func trimmed(of set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
