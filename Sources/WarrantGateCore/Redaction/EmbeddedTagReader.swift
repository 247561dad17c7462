/// Reads the names of XML markup written into a JSON string (`{"d":"<nc:PersonCitizenshipText>MX</…>"}`): an
/// element's name after `<`, and within a tag each name that `=` follows, an attribute's. A client that parses the
/// string as XML reads those elements and attributes, so the redaction compares each name with the redacted ones.
/// Fed a kept string value's characters as a JSON parser reads them (`\u003c` as `<`, `\"` as `"`), one at a time,
/// across the pieces the document arrives in; a name longer than ``maxName`` bytes is read by its first ``maxName``.
struct EmbeddedTagReader {
    static let maxName = 256

    /// Whether a `<` has been read and its tag's `>` has not.
    private(set) var inTag = false
    /// Whether the name being read follows `<` directly: an element's, complete at the first character not of a name.
    private var atElementName = false
    /// The name being read, and whether white space has ended it (an attribute's `=` may still follow).
    private var name: [UInt8] = []
    private var nameEnded = false

    mutating func reset() {
        inTag = false
        atElementName = false
        name.removeAll(keepingCapacity: true)
        nameEnded = false
    }

    /// One character's byte. Returns a name it showed to be an element's or an attribute's.
    mutating func feed(_ byte: UInt8) -> [UInt8]? {
        if byte == UInt8(ascii: "<") {
            let element = finish()
            inTag = true
            atElementName = true
            return element
        }
        guard inTag else { return nil }
        if Self.isNameByte(byte) {
            if nameEnded {
                name.removeAll(keepingCapacity: true)
                nameEnded = false
            }
            if name.count < Self.maxName { name.append(byte) }
            return nil
        }
        var found: [UInt8]?
        if atElementName {
            atElementName = false
            if !name.isEmpty { found = name }
        } else if byte == UInt8(ascii: "="), !name.isEmpty {
            found = name
        }
        if Self.isSpace(byte), found == nil, !name.isEmpty {
            nameEnded = true
            return nil
        }
        name.removeAll(keepingCapacity: true)
        nameEnded = false
        if byte == UInt8(ascii: ">") { inTag = false }
        return found
    }

    /// The string ended: an element's name it ended with, if any. The reader is reset.
    mutating func finish() -> [UInt8]? {
        let element = atElementName && !name.isEmpty ? name : nil
        reset()
        return element
    }

    /// XML's name characters as bytes: ASCII letters, digits, `_`, `-`, `.`, `:`, and any byte of a non-ASCII one.
    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"), 0x80...:
            true
        default:
            false
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d
    }
}
