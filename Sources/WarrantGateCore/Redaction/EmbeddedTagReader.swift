/// Reads the markup in a JSON string that a client would parse as XML (`{"d":"<nc:PersonCitizenshipText>MX</…>"}`):
/// each start tag's element name, its attributes' names, and declarations that define elements or attributes, which
/// the redactor cannot see into. Fed a kept string value's characters as a JSON parser reads them (`\u003c` as `<`,
/// `\"` as `"`), one at a time, across the pieces the document arrives in; the characters of a string serialized once
/// more (`\\u003c` read as `\u003c`) are read as a second parse reads them.
///
/// It reads as XML does, so that prose is not taken for markup: a tag begins at `<` followed by a name's first
/// character (a letter, `_` or `:`), its element name ends at white space, `/` or `>` (`<immigration@county.example>`
/// is no tag), an attribute's quoted value is skipped whole (`alt="nationality=…"` names no attribute), and `<!`, `<?`
/// and `</` begin no start tag. A name is read by its local part (after its last `:`).
struct EmbeddedTagReader {
    /// What the markup showed: a start tag's element or attribute name (by its local part), a name too long to read,
    /// or a declaration that defines elements, attributes or entities (`<!DOCTYPE`, `<!ENTITY`, `<!ATTLIST`,
    /// `<!ELEMENT`), through which a parser would expand any name.
    enum Found: Equatable {
        case name([UInt8])
        case overlongName
        case definition
    }

    /// The longest local name read; a longer one is ``Found/overlongName``.
    static let maxName = 256

    private enum State {
        case text
        /// After `<`, and after `<!`.
        case opened
        case declarationOpened
        case elementName
        case declaration
        /// Within a start tag: between attributes, reading one's name, after it (white space), after its `=`, in its
        /// value.
        case attributes
        case attributeName
        case afterAttributeName
        case beforeValue
        case quotedValue(UInt8)
        case unquotedValue
    }

    private var state = State.text
    private var name: [UInt8] = []
    private var overlong = false
    /// A `\uXXXX` of the string's own text being read (its backslash, `u` and digits so far).
    private var escape: [UInt8] = []

    /// Whether a tag is being read: the characters after it cannot be skipped.
    var inTag: Bool {
        if case .text = state { return !escape.isEmpty }
        return true
    }

    mutating func reset() {
        state = .text
        clearName()
        escape.removeAll(keepingCapacity: true)
    }

    /// One character's byte; `found` receives what it showed.
    mutating func feed(_ byte: UInt8, _ found: (Found) throws(RedactionError) -> Void) throws(RedactionError) {
        // A `\uXXXX` in the text itself is a character to a client that parses the string once more.
        if !escape.isEmpty || byte == UInt8(ascii: "\\") {
            if escape.isEmpty {
                escape.append(byte)
                return
            }
            escape.append(byte)
            let isDigit = escape.count > 2 && Self.hexValue(byte) != nil
            if escape.count == 2 ? byte == UInt8(ascii: "u") : isDigit {
                guard escape.count == 6 else { return }
                let value = escape[2...].reduce(UInt32(0)) { $0 << 4 | UInt32(Self.hexValue($1)!) }
                escape.removeAll(keepingCapacity: true)
                for decoded in Unicode.Scalar(value).map({ Array(String($0).utf8) }) ?? [0x80] { try read(decoded, found) }
                return
            }
            let pending = escape
            escape.removeAll(keepingCapacity: true)
            for character in pending { try read(character, found) }
            return
        }
        try read(byte, found)
    }

    /// The string ended: a name it ended in the middle of counts as read. The reader is reset.
    mutating func finish(_ found: (Found) throws(RedactionError) -> Void) throws(RedactionError) {
        let pending = escape
        escape.removeAll(keepingCapacity: true)
        for character in pending { try read(character, found) }
        switch state {
        case .elementName, .attributeName: try found(completedName())
        case .declaration: if isDefinition { try found(.definition) }
        default: break
        }
        reset()
    }

    private mutating func read(_ byte: UInt8, _ found: (Found) throws(RedactionError) -> Void) throws(RedactionError) {
        switch state {
        case .text:
            if byte == UInt8(ascii: "<") { state = .opened }
        case .opened:
            clearName()
            if byte == UInt8(ascii: "!") {
                state = .declarationOpened
            } else if Self.isNameStart(byte) {
                state = .elementName
                append(byte)
            } else {
                state = byte == UInt8(ascii: "<") ? .opened : .text
            }
        case .declarationOpened:
            state = Self.isNameStart(byte) ? .declaration : .text
            if case .declaration = state { append(byte) }
        case .declaration:
            if Self.isNameByte(byte) { return append(byte) }
            if isDefinition { try found(.definition) }
            state = byte == UInt8(ascii: "<") ? .opened : .text
        case .elementName:
            if Self.isNameByte(byte) { return append(byte) }
            // A tag's name ends at white space, `/` or `>`; any other character makes it no tag.
            if Self.isSpace(byte) || byte == UInt8(ascii: "/") || byte == UInt8(ascii: ">") {
                try found(completedName())
                state = byte == UInt8(ascii: ">") ? .text : .attributes
            } else {
                state = byte == UInt8(ascii: "<") ? .opened : .text
            }
        case .attributes, .afterAttributeName:
            if Self.isNameByte(byte) {
                clearName()
                state = .attributeName
                append(byte)
            } else if byte == UInt8(ascii: "="), case .afterAttributeName = state {
                try found(completedName())
                state = .beforeValue
            } else if !Self.isSpace(byte) {
                endTag(at: byte)
            }
        case .attributeName:
            if Self.isNameByte(byte) { return append(byte) }
            if byte == UInt8(ascii: "=") {
                try found(completedName())
                state = .beforeValue
            } else if Self.isSpace(byte) {
                state = .afterAttributeName
            } else {
                endTag(at: byte)
            }
        case .beforeValue:
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                state = .quotedValue(byte)
            } else if byte == UInt8(ascii: ">") || byte == UInt8(ascii: "<") {
                endTag(at: byte)
            } else if !Self.isSpace(byte) {
                state = .unquotedValue
            }
        case .quotedValue(let quote):
            if byte == quote { state = .attributes }
        case .unquotedValue:
            if Self.isSpace(byte) { state = .attributes } else if byte == UInt8(ascii: ">") || byte == UInt8(ascii: "<") { endTag(at: byte) }
        }
    }

    /// A `>` ends the tag; a `<` begins another; anything else leaves the attributes being read.
    private mutating func endTag(at byte: UInt8) {
        if byte == UInt8(ascii: ">") {
            state = .text
        } else if byte == UInt8(ascii: "<") {
            state = .opened
        } else {
            state = .attributes
        }
    }

    /// A name's character: only its local part is kept, and only its first ``maxName`` bytes.
    private mutating func append(_ byte: UInt8) {
        if byte == UInt8(ascii: ":") {
            clearName()
        } else if name.count < Self.maxName {
            name.append(byte)
        } else {
            overlong = true
        }
    }

    private mutating func clearName() {
        name.removeAll(keepingCapacity: true)
        overlong = false
    }

    private func completedName() -> Found {
        overlong ? .overlongName : .name(name)
    }

    private var isDefinition: Bool {
        ["DOCTYPE", "ENTITY", "ATTLIST", "ELEMENT"].contains { name.elementsEqual($0.utf8) }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A name's first character as bytes: an ASCII letter, `_`, `:`, or any byte of a non-ASCII character.
    private static func isNameStart(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"), UInt8(ascii: ":"), 0x80...: true
        default: false
        }
    }

    /// XML's name characters as bytes: a name's first ones, digits, `-` and `.`.
    private static func isNameByte(_ byte: UInt8) -> Bool {
        isNameStart(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d
    }
}
