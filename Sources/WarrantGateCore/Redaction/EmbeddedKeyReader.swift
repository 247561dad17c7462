/// Reads the keys of a JSON document serialized into a string of another document (`{"d":"{\"citizenship\":…}"}`, or
/// `<GetBookingResult>{"citizenship":…}</GetBookingResult>`): a name between two quotes, the first after `{` or `,`,
/// then `:` after white space; the name's own escapes (`\u0063`, `\"`) read as a JSON parser reads them. Every pair
/// of adjacent quotes is a candidate, so a closing quote never throws off the pairing; a name longer than
/// ``maxName`` bytes is prose, and no key. Fed what the outer document's string or text holds, as characters (UTF-8),
/// across the pieces the document arrives in: each quote with ``quote()``, everything else with ``feed(_:)``, which
/// returns a name that turned out to be a key.
struct EmbeddedKeyReader {
    static let maxName = 256

    /// The characters since the last quote, while one has been seen, and whether that quote could open a key.
    private var name: [UInt8]?
    private var nameMayBeKey = false
    /// A name that a quote closed, until a character other than white space shows whether `:` follows.
    private var closed: [UInt8]?
    /// The last character fed other than white space and backslashes (which a document serialized twice adds).
    private var lastSignificant: UInt8?

    /// Whether a quote has been seen: until then, nothing needs feeding.
    var isActive: Bool { name != nil || closed != nil }

    /// The last character other than white space before anything is fed (the text up to a first quote is not).
    mutating func note(_ previous: UInt8?) {
        if let previous { lastSignificant = previous }
    }

    mutating func reset() {
        name = nil
        closed = nil
        lastSignificant = nil
    }

    /// A quote: the characters since the previous one, if that one could open a key, are a name that `:` may follow.
    /// `precededBy` is the last character before it other than white space, for the first quote (the reader is fed
    /// nothing before it).
    mutating func quote(precededBy previous: UInt8? = nil) {
        if !isActive, let previous { lastSignificant = previous }
        closed = nameMayBeKey ? name.map(Self.decoded) : nil
        nameMayBeKey = lastSignificant == UInt8(ascii: "{") || lastSignificant == UInt8(ascii: ",")
        lastSignificant = UInt8(ascii: "\"")
        name = []
    }

    /// Characters other than a quote. Returns the name a `:` among them showed to be a key.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [UInt8]? {
        var key: [UInt8]?
        for byte in bytes {
            if let pending = closed, !Self.isWhitespace(byte) {
                if byte == UInt8(ascii: ":"), key == nil { key = pending }
                closed = nil
            }
            if !Self.isWhitespace(byte) && byte != UInt8(ascii: "\\") { lastSignificant = byte }
            if name != nil {
                name!.append(byte)
                if name!.count > Self.maxName { name = nil }
            }
        }
        return key
    }

    /// A name as JSON parsers read it, however many times the document was serialized: decoded (``decodedOnce(_:)``)
    /// until nothing changes.
    static func decoded(_ name: [UInt8]) -> [UInt8] {
        var current = name
        for _ in 0..<8 {
            let next = decodedOnce(current)
            if next == current { break }
            current = next
        }
        return current
    }

    /// A name as a JSON parser reads it: `\uXXXX` (with surrogate pairs) and the one-character escapes decoded; a
    /// backslash with nothing to escape (those a document serialized twice leaves at a name's ends) dropped. Half of a
    /// surrogate pair without the other is dropped too, as the most lenient parsers do, so that it cannot split a name.
    static func decodedOnce(_ name: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [], index = 0, pendingHigh: UInt32?
        func hex(at start: Int) -> UInt32? {
            guard start + 4 <= name.count else { return nil }
            return UInt32(String(decoding: name[start..<(start + 4)], as: UTF8.self), radix: 16)
        }
        while index < name.count {
            let byte = name[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < name.count else {
                if byte != UInt8(ascii: "\\") { out.append(byte) }
                pendingHigh = nil
                index += 1
                continue
            }
            let escape = name[index + 1]
            if escape == UInt8(ascii: "u"), let value = hex(at: index + 2) {
                index += 6
                if (0xD800..<0xDC00).contains(value) {
                    pendingHigh = value
                    continue
                }
                // A low half joins the high half just before it; anything else stands alone, the high half dropped.
                var scalarValue = value
                if let high = pendingHigh, (0xDC00..<0xE000).contains(value) {
                    scalarValue = 0x10000 + ((high - 0xD800) << 10) + (value - 0xDC00)
                }
                pendingHigh = nil
                if let scalar = Unicode.Scalar(scalarValue) { out.append(contentsOf: String(scalar).utf8) }
                continue
            }
            pendingHigh = nil
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "/"): out.append(escape)
            case UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"): out.append(0x20)
            case UInt8(ascii: "\\"): out.append(escape)
            default: out.append(escape)
            }
            index += 2
        }
        return out
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d
    }
}
