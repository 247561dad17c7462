/// Removes named fields, at any depth, from a JSON document.
///
/// Field names are compared after JSON escapes are decoded and without regard to ASCII case, so
/// `"citi\u007aenship"` and `"Citizenship"` are removed along with `"citizenship"`. The input must be a
/// complete, valid JSON document; anything else is refused rather than forwarded half-redacted.
/// Insignificant whitespace is not preserved.
public struct JSONRedactor: Sendable {
    public let fields: Set<String>
    /// The names as lower-case bytes, to compare keys without allocating.
    private let fieldBytes: [[UInt8]]

    /// - Parameter fields: names to remove; compared case-insensitively.
    public init(fields: some Sequence<String>) {
        self.fields = Set(fields.map { $0.lowercased() })
        self.fieldBytes = self.fields.map { Array($0.utf8) }
    }

    /// Whether the key at `raw` (with quotes) names a redacted field.
    private func isRedacted(_ scanner: inout JSONScanner, key raw: Range<Int>, hasEscape: Bool) throws(JSONError) -> Bool {
        if hasEscape {
            let end = scanner.index
            scanner.index = raw.lowerBound
            let decoded = try scanner.scanString().decoded
            scanner.index = end
            return fields.contains(decoded.lowercased())
        }
        let length = raw.count - 2
        let start = raw.lowerBound + 1
        candidates: for field in fieldBytes where field.count == length {
            for offset in 0..<length {
                var byte = scanner.bytes[start + offset]
                if byte >= 0x41 && byte <= 0x5a { byte |= 0x20 }
                if byte != field[offset] { continue candidates }
            }
            return true
        }
        return false
    }

    public var isEmpty: Bool { fields.isEmpty }

    /// Returns the redacted document and how many members were removed.
    public func redact(_ input: [UInt8]) throws(JSONError) -> (output: [UInt8], removed: Int) {
        var scanner = try JSONScanner(input)
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var removed = 0
        try copyValue(&scanner, into: &output, removed: &removed, depth: 0)
        try scanner.finish()
        return (output, removed)
    }

    private func copyValue(_ scanner: inout JSONScanner, into output: inout [UInt8], removed: inout Int, depth: Int) throws(JSONError) {
        scanner.skipWhitespace()
        guard depth < JSONScanner.maximumDepth else { throw scanner.fail("nesting deeper than \(JSONScanner.maximumDepth)") }
        switch scanner.current {
        case UInt8(ascii: "{"):
            scanner.index += 1
            output.append(UInt8(ascii: "{"))
            var first = true
            scanner.skipWhitespace()
            if scanner.current == UInt8(ascii: "}") {
                scanner.index += 1
            } else {
                while true {
                    scanner.skipWhitespace()
                    let key = try scanner.skipString()
                    try scanner.expect(UInt8(ascii: ":"))
                    if try isRedacted(&scanner, key: key.raw, hasEscape: key.hasEscape) {
                        try scanner.skipValue(depth: depth + 1)
                        removed += 1
                    } else {
                        if !first { output.append(UInt8(ascii: ",")) }
                        first = false
                        output.append(contentsOf: scanner.bytes[key.raw])
                        output.append(UInt8(ascii: ":"))
                        try copyValue(&scanner, into: &output, removed: &removed, depth: depth + 1)
                    }
                    scanner.skipWhitespace()
                    if scanner.current == UInt8(ascii: ",") {
                        scanner.index += 1
                    } else if scanner.current == UInt8(ascii: "}") {
                        scanner.index += 1
                        break
                    } else {
                        throw scanner.fail("expected ',' or '}'")
                    }
                }
            }
            output.append(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            scanner.index += 1
            output.append(UInt8(ascii: "["))
            var first = true
            try scanner.forEachElement { scanner throws(JSONError) in
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                try copyValue(&scanner, into: &output, removed: &removed, depth: depth + 1)
            }
            output.append(UInt8(ascii: "]"))
        case UInt8(ascii: "\""):
            let string = try scanner.skipString()
            output.append(contentsOf: scanner.bytes[string.raw])
        default:
            let scalar = try scanner.scanScalar()
            output.append(contentsOf: scanner.bytes[scalar])
        }
    }
}

/// Reads fields from small JSON request bodies.
public enum JSONFields {
    /// The value of a top-level string member. Refuses a body that is not a JSON object, a missing or non-string
    /// member, and a member given twice, in any letter case (parsers disagree on which copy wins).
    public static func uniqueTopLevelString(named name: String, in body: [UInt8]) throws(JSONError) -> String {
        var scanner = try JSONScanner(body)
        scanner.skipWhitespace()
        guard scanner.current == UInt8(ascii: "{") else { throw scanner.fail("body is not a JSON object") }
        scanner.index += 1
        let wanted = name.lowercased()
        var found: String?
        var duplicate = false
        try scanner.forEachMember { scanner, key throws(JSONError) in
            scanner.skipWhitespace()
            if key.decoded.lowercased() == wanted {
                if found != nil { duplicate = true }
                guard scanner.current == UInt8(ascii: "\"") else { throw scanner.fail("'\(name)' is not a string") }
                found = try scanner.scanString().decoded
            } else {
                try scanner.skipValue(depth: 1)
            }
        }
        try scanner.finish()
        guard !duplicate else { throw JSONError(detail: "'\(name)' is given more than once", offset: 0) }
        guard let found else { throw JSONError(detail: "'\(name)' is missing", offset: 0) }
        return found
    }
}
