/// A value in one of the log's canonical records: a string, an integer, null, a boolean, or a list of strings.
public enum FlatValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case null
    case bool(Bool)
    case strings([String])
}

/// Reads the log's canonical records (flat objects) several times faster than a general JSON decoder: exports read
/// a million of them.
public enum FlatJSON {
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> [String: FlatValue] {
        var object: [String: FlatValue] = [:]
        try forEachMember(bytes) { key, value in object[key] = value }
        return object
    }

    /// Calls `body` with each member of a flat object, in order, without building a dictionary. Nested objects are
    /// skipped, their names given to `nested`.
    public static func forEachMember(_ bytes: [UInt8], nested: (String) -> Void = { _ in }, _ body: (String, FlatValue) -> Void) throws(JSONError) {
        var scanner = try JSONScanner(bytes)
        scanner.skipWhitespace()
        guard scanner.current == UInt8(ascii: "{") else { throw scanner.fail("not an object") }
        scanner.index += 1
        try scanner.forEachMember { scanner, key throws(JSONError) in
            scanner.skipWhitespace()
            switch scanner.current {
            case UInt8(ascii: "\""):
                body(key.decoded, .string(try scanner.scanString().decoded))
            case UInt8(ascii: "["):
                scanner.index += 1
                var list: [String] = []
                try scanner.forEachElement { scanner throws(JSONError) in
                    scanner.skipWhitespace()
                    list.append(try scanner.scanString().decoded)
                }
                body(key.decoded, .strings(list))
            case UInt8(ascii: "{"):
                try scanner.skipValue(depth: 1)
                nested(key.decoded)
            default:
                body(key.decoded, try scalar(scanner.bytes[try scanner.scanScalar()], scanner: scanner))
            }
        }
        try scanner.finish()
    }

    private static func scalar(_ text: ArraySlice<UInt8>, scanner: JSONScanner) throws(JSONError) -> FlatValue {
        if text.elementsEqual("null".utf8) { return .null }
        if text.elementsEqual("true".utf8) { return .bool(true) }
        if text.elementsEqual("false".utf8) { return .bool(false) }
        guard let value = Int(String(decoding: text, as: UTF8.self)) else { throw scanner.fail("expected an integer") }
        return .int(value)
    }
}
