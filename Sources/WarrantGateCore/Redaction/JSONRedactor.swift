/// Removes named fields, at any depth, from a JSON document.
///
/// Field names are compared after JSON escapes are decoded and without regard to ASCII case, so
/// `"citi\u007aenship"` and `"Citizenship"` are removed along with `"citizenship"`. The input must be a
/// complete, valid JSON document; anything else is refused rather than forwarded half-redacted.
/// Insignificant whitespace is not preserved.
public struct JSONRedactor: Sendable {
    public let fields: Set<String>

    /// - Parameter fields: names to remove; compared case-insensitively.
    public init(fields: some Sequence<String>) {
        self.fields = Set(fields.map { $0.lowercased() })
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
            try scanner.forEachMember { scanner, key throws(JSONError) in
                if fields.contains(key.decoded.lowercased()) {
                    try scanner.skipValue(depth: depth + 1)
                    removed += 1
                    return
                }
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                output.append(contentsOf: scanner.bytes[key.raw])
                output.append(UInt8(ascii: ":"))
                try copyValue(&scanner, into: &output, removed: &removed, depth: depth + 1)
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
            let string = try scanner.scanString()
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
