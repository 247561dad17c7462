/// Reads the keys of a JSON document serialized into a string of another document (`{"d":"{\"citizenship\":…}"}`, or
/// `<GetBookingResult>{"citizenship":…}</GetBookingResult>`): a name between two quotes, then `:` after white space.
/// Every pair of adjacent quotes is a candidate, so a closing quote never throws off the pairing; a name longer than
/// ``maxName`` bytes is prose, and no key. Fed what the outer document's string or text holds, as characters, across
/// the pieces the document arrives in: each quote with ``quote()``, everything else with ``feed(_:)``, which returns
/// a name that turned out to be a key.
struct EmbeddedKeyReader {
    static let maxName = 256

    /// The characters since the last quote, while one has been seen.
    private var name: [UInt8]?
    /// A name that a quote closed, until a character other than white space shows whether `:` follows.
    private var closed: [UInt8]?

    /// Whether a quote has been seen: until then, nothing needs feeding.
    var isActive: Bool { name != nil || closed != nil }

    mutating func reset() {
        name = nil
        closed = nil
    }

    /// A quote: the characters since the previous one, if any, are a name that `:` may follow. Backslashes around it
    /// (a document serialized twice, `\\\"citizenship\\\"`) are not part of it.
    mutating func quote() {
        if var name {
            while name.last == UInt8(ascii: "\\") { name.removeLast() }
            while name.first == UInt8(ascii: "\\") { name.removeFirst() }
            closed = name
        } else {
            closed = nil
        }
        name = []
    }

    /// Characters other than a quote (a byte from 0x80 up stands for part of a non-ASCII one). Returns the name a `:`
    /// among them showed to be a key.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [UInt8]? {
        var key: [UInt8]?
        for byte in bytes {
            if let pending = closed, !Self.isWhitespace(byte) {
                if byte == UInt8(ascii: ":"), key == nil { key = pending }
                closed = nil
            }
            if name != nil {
                name!.append(byte)
                if name!.count > Self.maxName { name = nil }
            }
        }
        return key
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d
    }
}
