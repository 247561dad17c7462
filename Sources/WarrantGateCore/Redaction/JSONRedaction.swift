/// Removes named members, at any depth, from a JSON document as it streams, expanding JSON-LD keys through their
/// `@context`.
///
/// It accepts and refuses what ``JSONRedactor`` does (strict RFC 8259, valid UTF-8, the depth limit, every scalar under
/// a member's name), and hands on the same bytes: the input without insignificant whitespace, and without each removed
/// member and its comma. Every member whose key matches is removed, duplicates included. A key matches
/// - a field name as ``JSONRedactor`` compares them: escapes decoded, as ``FieldNameKey`` says;
/// - a qualified name when, expanded through the JSON-LD context in force, it is the namespace followed by the local
///   name, directly or after a `#` (when the namespace does not end with `#`);
/// - a qualified name's local name, as a field name, whatever the context in force says (``RedactedNames``): a plain
///   JSON client reads `nc:PersonCitizenshipText` or `personCitizenshipText` as written.
///
/// Keywords (`@id`, `@type`, …) never match qualified names. Key expansion: a term gives its IRI (a term or compact
/// IRI there is expanded once more), `prefix:suffix` gives the prefix term's IRI and the suffix (unless the suffix
/// starts with `//`: an absolute IRI), and any other key is appended to `@vocab` when there is one.
///
/// An `"@context"` member sets the context of its object and of the object's descendants; it must be the object's first
/// member, since later keys are decided as they stream. Its value is held until it ends, read as null (which resets
/// the context), an object of term definitions, or an array of these, and then handed on without each term whose name
/// a field name matches: such a term goes whatever it defines, as a member of that name does anywhere, its definition
/// unread, and the context is read without it, as a client reads what it is handed. Nothing else in a context is
/// redacted. A term maps to an IRI, a compact IRI, a term or a keyword, or to an object whose `@id` does (`@type`, `@container`, `@language`,
/// `@direction`, `@protected`, `@prefix` and `@nest` are ignored); `@vocab` is followed, and `@base`,
/// `@version`, `@language`, `@direction`, `@protected`, `@propagate: true` and a `@type` definition are ignored.
/// Refused (``RedactionError/Kind/refused``): a remote context (a string), `@import`, a scoped context in a term
/// definition, a property-valued index (`@index` in a term definition), `@reverse`, a relative `@vocab`, `@propagate` other than true, a term defined through more than eight
/// others or in a cycle, any other keyword, and an `@context` after other members. Contexts inside removed values are
/// not read (an `@context` member that a field name removes is).
///
/// Memory is bounded whatever the body's size: a key is held until it is decided (at most `maxKeyBytes` bytes as
/// written), an `@context` value until it ends (at most 4 × `maxKeyBytes`, which also bounds the contexts in force
/// together), and the open containers up to `maxDepth`; values stream through, or are skipped, without being held. A
/// context is built from its own terms, layered on the one it is defined over, so building it costs its own length.
public final class JSONRedaction: BodyRedaction {
    private var machine: JSONRedactionMachine

    /// - Parameters:
    ///   - maxDepth: deepest nesting accepted, counted as ``JSONRedactor`` does (128 there).
    ///   - maxKeyBytes: longest key accepted, in bytes as written between its quotes.
    ///   - keepOnly: when given, a record's member whose key is not among these names is removed too; a record is the
    ///     root object, or each object directly inside a root array (an array there is refused). `@context`, `@id` and
    ///     `@type` stay.
    public init(names: RedactedNames, keepOnly: RedactedNames? = nil, maxDepth: Int = 128, maxKeyBytes: Int = 64 * 1024) {
        machine = JSONRedactionMachine(names: names, keepOnly: keepOnly, maxDepth: maxDepth, maxKeyBytes: maxKeyBytes)
    }

    public var removed: Int { machine.removed }

    public var awaitsVerdict: Bool { machine.awaitsVerdict }

    /// What the redaction holds between pieces, in bytes: buffers' capacities, the open containers and the contexts in
    /// force.
    var heldBytes: Int { machine.heldBytes }

    public func feed(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) throws(RedactionError) {
        try machine.feed(bytes, emit: emit)
    }

    public func finish(emit: (UnsafeRawBufferPointer) -> Void) throws(RedactionError) {
        try machine.finish()
    }
}

/// The redaction's state, kept in a struct so that the hot loop works on it without exclusivity checks.
private struct JSONRedactionMachine {
    typealias Emit = (UnsafeRawBufferPointer) -> Void

    private enum Mode: UInt8 {
        // Between tokens.
        case value, valueOrClose, keyOrClose, key, colon, afterValue, end
        // Inside a string.
        case string, escape, hex, lowBackslash, lowU, utf8
        // Inside a number or a literal.
        case minus, zero, integer, fractionStart, fraction, exponentStart, exponentSign, exponent, literal

        var inString: Bool { rawValue >= Mode.string.rawValue && rawValue <= Mode.utf8.rawValue }
    }

    /// What the string being read is.
    private enum Role {
        case value
        /// A key inside a removed value or a `@context` value: nothing to decide.
        case key
        /// A key to decide: held until its closing quote.
        case decidedKey
    }

    /// An open container.
    private struct Level: OptionSet {
        let rawValue: UInt8
        static let object = Level(rawValue: 1)
        static let keptMember = Level(rawValue: 2)
        static let anyMember = Level(rawValue: 4)
        static let context = Level(rawValue: 8)
    }

    private let keys: JSONKeyNames
    /// The allow-list's names, when the decision returns only chosen fields.
    private let keptKeys: JSONKeyNames?
    /// The names a kept string value must not spell (``RedactedNames/valueNames``).
    private let valueNames: ValueNames
    private let maxDepth: Int
    private let maxKeyBytes: Int
    private var contextLimit: Int { 4 * maxKeyBytes }

    private(set) var removed = 0
    /// Bytes fed before the current piece.
    private var consumed = 0
    private var mode = Mode.value
    /// How many containers are open; the innermost one's flags, and the others', outermost first.
    private var depth = 0
    private var top: Level = []
    private var outer: [Level] = []
    private var openObjects = 0

    // Inside a string, a number or a literal.
    private var role = Role.value
    private var escaped = false
    private var nonASCII = false
    private var utf8Need = 0
    private var utf8Low: UInt8 = 0
    private var utf8High: UInt8 = 0
    /// The keys of a JSON document serialized into the kept string value being read (`{"d": "{\"citizenship\":…}"}`),
    /// and where its unread bytes begin in this piece.
    private var embeddedKeys = EmbeddedKeyReader()
    private var embeddedFrom = 0
    /// The markup written into the kept string value being read (`"<nc:PersonCitizenshipText>…"`). While it is
    /// reading, the string's characters go to it one by one.
    private var markup = EmbeddedMarkup()
    /// The high half of the surrogate pair being read, for ``markup``.
    private var highSurrogate: UInt32 = 0
    /// Whether the kept string value being read has had an escape: from its first, its characters are fed to
    /// ``embeddedKeys`` decoded (a string without escapes holds no serialized document's quotes, and costs nothing).
    private var stringEscaped = false
    /// The kept string value's last byte in earlier pieces other than white space and backslashes, for the first quote.
    private var stringTail: UInt8?
    /// Where the kept string value being read begins in this piece (0 if earlier), and what earlier pieces held of it,
    /// as written, while it is short enough to be a field's name (``checkValue(_:quote:)``); nil once it is not.
    private var valueStart = 0
    private var valueHeld: [UInt8]? = []
    private var hexCount = 0
    private var hexValue: UInt32 = 0
    private var lowSurrogate = false
    /// A literal's bytes still to come, the next lowest.
    private var literal: UInt32 = 0
    private var literalCount = 0

    // Where the current piece's kept bytes run. Only meaningful during `feed`.
    /// The start of the bytes handed on at the next cut, or -1 while nothing is (in a removed value, or holding).
    private var run = 0
    /// While holding with `run` set: where the held bytes (a comma, a key) begin.
    private var cut = -1
    /// Where the key being decided, or the `@context` value being read, begins in this piece (0 if earlier).
    private var keyStart = 0
    private var contextStart = 0

    // A member being decided: from its comma (or its key's quote) to its key's closing quote.
    private var holding = false
    private var pendingComma = false
    /// The key so far, when it began in an earlier piece.
    private var keyHeld: [UInt8] = []

    // The member whose value is watched, in the object at depth `watchDepth` (-1 if none): removed, or a `@context`.
    private var watchDepth = -1
    /// Under an allow-list, the depth of the record whose `@id` or `@type` value is being read, kept though unlisted:
    /// it may hold strings (an array of them too), never an object that would carry unlisted fields; -1 otherwise.
    private var identifyingDepth = -1
    private var skipping = false
    private var readingContext = false
    private var contextStarted = false
    private var contextOffset = 0
    /// The `@context` member's key as written, quotes and all, and its value as it arrives: the member is handed on
    /// once its value is read (``endWatch(_:at:_:)``).
    private var contextKey: [UInt8] = []
    private var contextHeld: [UInt8] = []
    /// The JSON-LD contexts in force, innermost last, each on the object where it was set.
    private var contexts: [JSONLDContext] = []

    init(names: RedactedNames, keepOnly: RedactedNames?, maxDepth: Int, maxKeyBytes: Int) {
        keys = names.jsonKeys
        keptKeys = keepOnly?.jsonKeptKeys
        valueNames = names.valueNames
        self.maxDepth = maxDepth
        self.maxKeyBytes = maxKeyBytes
    }

    var heldBytes: Int { keyHeld.capacity + (valueHeld?.capacity ?? 0) + contextKey.capacity + contextHeld.capacity + outer.capacity + (contexts.last?.size ?? 0) }

    var awaitsVerdict: Bool { markup.awaitsVerdict }

    /// Whether the string being read is a value handed on: kept, or in a `@context`, which is handed on once read.
    private var handsOnValue: Bool { role == .value && (run >= 0 || contextStarted) }

    private func fail(_ detail: String, at index: Int) -> RedactionError {
        RedactionError(.malformed, detail, offset: consumed + index)
    }

    // MARK: Feeding

    mutating func feed(_ bytes: UnsafeRawBufferPointer, emit: Emit) throws(RedactionError) {
        let count = bytes.count
        var index = 0
        run = skipping || holding ? -1 : 0
        cut = -1
        keyStart = 0
        contextStart = 0
        valueStart = 0
        embeddedFrom = 0
        while index < count {
            switch mode {
            case .string:
                index = try string(bytes, from: index, emit)
            case .value, .valueOrClose:
                let byte = bytes[index]
                if Self.isWhitespace(byte) {
                    index = whitespace(bytes, from: index, emit)
                } else if byte == UInt8(ascii: "]"), mode == .valueOrClose {
                    index = try close(bytes, at: index, object: false, emit)
                } else {
                    index = try startValue(bytes, at: index)
                }
            case .afterValue:
                // Closes often follow one another, and a comma is followed by a key or a value: all go on here.
                afterValue: while index < count {
                    switch bytes[index] {
                    case UInt8(ascii: ","):
                        comma(at: index)
                        index += 1
                        guard index < count else { break afterValue }
                        let next = bytes[index]
                        if mode == .key, next == UInt8(ascii: "\"") {
                            startKey(at: index)
                            index += 1
                        } else if mode == .value, !Self.isWhitespace(next) {
                            index = try startValue(bytes, at: index)
                        }
                        break afterValue
                    case UInt8(ascii: "}"): index = try close(bytes, at: index, object: true, emit)
                    case UInt8(ascii: "]"): index = try close(bytes, at: index, object: false, emit)
                    case 0x20, 0x0a, 0x0d, 0x09: index = whitespace(bytes, from: index, emit)
                    default:
                        throw fail(top.contains(.object) ? "expected ',' or '}'" : "expected ',' or ']'", at: index)
                    }
                    if mode != .afterValue { break }
                }
            case .keyOrClose, .key:
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    startKey(at: index)
                    index += 1
                } else if Self.isWhitespace(byte) {
                    index = whitespace(bytes, from: index, emit)
                } else if byte == UInt8(ascii: "}"), mode == .keyOrClose {
                    index = try close(bytes, at: index, object: true, emit)
                } else {
                    throw fail("expected a string", at: index)
                }
            case .colon:
                let byte = bytes[index]
                if byte == UInt8(ascii: ":") {
                    mode = .value
                    index += 1
                } else if Self.isWhitespace(byte) {
                    index = whitespace(bytes, from: index, emit)
                } else {
                    throw fail("expected ':'", at: index)
                }
            case .end:
                guard Self.isWhitespace(bytes[index]) else { throw fail("trailing data after the document", at: index) }
                index = whitespace(bytes, from: index, emit)
            case .escape:
                let escape = bytes[index]
                if handsOnValue { try embeddedEscape(escape, at: index) }
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                     UInt8(ascii: "r"), UInt8(ascii: "t"):
                    mode = .string
                case UInt8(ascii: "u"):
                    hexCount = 0
                    hexValue = 0
                    mode = .hex
                default:
                    throw fail("invalid escape", at: index)
                }
                index += 1
            case .hex:
                guard let digit = Self.hexDigit(bytes[index]) else { throw fail("invalid \\u escape", at: index) }
                hexValue = hexValue << 4 | digit
                hexCount += 1
                index += 1
                if hexCount == 4 { try endUnicodeEscape(at: index) }
            case .lowBackslash:
                guard bytes[index] == UInt8(ascii: "\\") else { throw fail("unpaired surrogate", at: index) }
                mode = .lowU
                index += 1
            case .lowU:
                guard bytes[index] == UInt8(ascii: "u") else { throw fail("unpaired surrogate", at: index) }
                lowSurrogate = true
                hexCount = 0
                hexValue = 0
                mode = .hex
                index += 1
            case .utf8:
                let continued = index
                index = try utf8Continuation(bytes, from: index)
                if markup.isReading { try feedTags(UnsafeRawBufferPointer(rebasing: bytes[continued..<index]), at: continued) }
                if utf8Need == 0 { mode = .string }
            case .minus:
                let byte = bytes[index]
                guard Self.isDigit(byte) else { throw fail("expected a value", at: index) }
                mode = byte == UInt8(ascii: "0") ? .zero : .integer
                index += 1
            case .zero, .integer, .fraction, .exponent:
                if mode != .zero {
                    while index < count, Self.isDigit(bytes[index]) { index += 1 }
                    guard index < count else { continue }
                }
                let byte = bytes[index]
                if byte == UInt8(ascii: "."), mode == .zero || mode == .integer {
                    mode = .fractionStart
                    index += 1
                } else if byte | 0x20 == UInt8(ascii: "e"), mode != .exponent {
                    mode = .exponentStart
                    index += 1
                } else {
                    try completeValue(bytes, at: index, emit)
                }
            case .fractionStart, .exponentSign:
                guard Self.isDigit(bytes[index]) else { throw fail("invalid number", at: index) }
                mode = mode == .fractionStart ? .fraction : .exponent
                index += 1
            case .exponentStart:
                let byte = bytes[index]
                if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") {
                    mode = .exponentSign
                } else if Self.isDigit(byte) {
                    mode = .exponent
                } else {
                    throw fail("invalid number", at: index)
                }
                index += 1
            case .literal:
                guard bytes[index] == UInt8(truncatingIfNeeded: literal) else { throw fail("invalid literal", at: index) }
                literal >>= 8
                literalCount -= 1
                index += 1
                if literalCount == 0 { try completeValue(bytes, at: index, emit) }
            }
        }
        if run >= 0 { Self.flush(bytes, from: run, to: holding ? cut : count, emit) }
        // A serialized document's key may go on in the next piece: what this one holds of it is read now (not an
        // escape begun at its end, which is read where it ends).
        if mode.inString, handsOnValue {
            if mode == .string || mode == .utf8 { try feedEmbedded(bytes, upTo: count) }
            if !stringEscaped { stringTail = significant(before: count, in: bytes) }
            if valueHeld != nil { holdValue(UnsafeRawBufferPointer(rebasing: bytes[valueStart..<count])) }
        }
        if mode.inString, role == .decidedKey {
            keyHeld.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[keyStart..<count]))
            guard keyHeld.count <= maxKeyBytes + 1 else { throw fail("a key longer than \(maxKeyBytes) bytes", at: count) }
        }
        if contextStarted {
            contextHeld.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[contextStart..<count]))
            guard contextHeld.count <= contextLimit else { throw fail("a @context longer than \(contextLimit) bytes", at: count) }
        }
        consumed += count
    }

    /// Mutating only so that ``JSONRedaction`` calls it on its machine in place, not on a copy of it.
    mutating func finish() throws(RedactionError) {
        guard mode == .end else {
            throw fail(mode == .value && depth == 0 ? "no JSON document" : "the body ends before the document does", at: 0)
        }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0a || byte == 0x0d || byte == 0x09
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    private static func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private static func flush(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, _ emit: Emit) {
        if end > start { emit(UnsafeRawBufferPointer(rebasing: bytes[start..<end])) }
    }

    /// Skips whitespace, which is never handed on: the kept run is cut before it (or before the held bytes, which
    /// are then handed on apart, if at all).
    private mutating func whitespace(_ bytes: UnsafeRawBufferPointer, from start: Int, _ emit: Emit) -> Int {
        let running = run >= 0
        if running {
            if holding {
                Self.flush(bytes, from: run, to: cut, emit)
                run = -1
                cut = -1
            } else {
                Self.flush(bytes, from: run, to: start, emit)
            }
        }
        var index = start + 1
        while index < bytes.count, Self.isWhitespace(bytes[index]) { index += 1 }
        if running, !holding { run = index }
        return index
    }

    // MARK: Values

    @inline(__always)
    private mutating func startValue(_ bytes: UnsafeRawBufferPointer, at index: Int) throws(RedactionError) -> Int {
        guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth)", at: index) }
        if depth == watchDepth, readingContext {
            contextStarted = true
            contextStart = index
            contextOffset = consumed + index
        }
        let byte = bytes[index]
        if identifyingDepth >= 0, byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") && depth > identifyingDepth {
            throw RedactionError(.refused, "under a field limit, an @id or @type holding other than strings", offset: consumed + index)
        }
        switch byte {
        case UInt8(ascii: "{"):
            open(.object)
            openObjects += 1
            if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                startKey(at: index + 1)
                return index + 2
            }
            mode = .keyOrClose
            return index + 1
        case UInt8(ascii: "["):
            if keptKeys != nil, depth == 1, !top.contains(.object) {
                throw RedactionError(.refused, "an array inside the root array, whose fields an allow-list cannot name", offset: consumed + index)
            }
            open([])
            mode = .valueOrClose
            return index + 1
        default:
            break
        }
        guard openObjects > 0 else { throw fail("a value outside any object member", at: index) }
        switch byte {
        case UInt8(ascii: "\""):
            role = .value
            mode = .string
            beginValue(at: index + 1)
        case UInt8(ascii: "-"): mode = .minus
        case UInt8(ascii: "0"): mode = .zero
        case UInt8(ascii: "1")...UInt8(ascii: "9"): mode = .integer
        case UInt8(ascii: "t"): startLiteral("rue")
        case UInt8(ascii: "f"): startLiteral("alse")
        case UInt8(ascii: "n"): startLiteral("ull")
        default: throw fail("expected a value", at: index)
        }
        return index + 1
    }

    private mutating func startLiteral(_ rest: StaticString) {
        literal = 0
        for offset in (0..<rest.utf8CodeUnitCount).reversed() { literal = literal << 8 | UInt32(rest.utf8Start[offset]) }
        literalCount = rest.utf8CodeUnitCount
        mode = .literal
    }

    /// A value ended just before `end`.
    private mutating func completeValue(_ bytes: UnsafeRawBufferPointer, at end: Int, _ emit: Emit) throws(RedactionError) {
        mode = .afterValue
        if depth == identifyingDepth { identifyingDepth = -1 }
        if depth == watchDepth { try endWatch(bytes, at: end, emit) }
    }

    /// A comma after a value: in an object, held until the next key is decided.
    private mutating func comma(at index: Int) {
        guard top.contains(.object) else {
            mode = .value
            return
        }
        if watchDepth < 0 {
            holding = true
            pendingComma = true
            if run >= 0 { cut = index }
        }
        mode = .key
    }

    private mutating func open(_ level: Level) {
        if depth > 0 { outer.append(top) }
        top = level
        depth += 1
    }

    private mutating func close(_ bytes: UnsafeRawBufferPointer, at index: Int, object: Bool, _ emit: Emit) throws(RedactionError) -> Int {
        let level = top
        guard level.contains(.object) == object else {
            throw fail(object ? "expected ',' or ']'" : "expected ',' or '}'", at: index)
        }
        depth -= 1
        top = depth > 0 ? outer.removeLast() : []
        if object {
            openObjects -= 1
            if level.contains(.context) { contexts.removeLast() }
        }
        if depth == 0 {
            mode = .end
        } else {
            try completeValue(bytes, at: index + 1, emit)
        }
        return index + 1
    }

    // MARK: Strings

    /// Reads a string's body, eight bytes at a time while they hold no quote, backslash, control or non-ASCII byte.
    private mutating func string(_ bytes: UnsafeRawBufferPointer, from start: Int, _ emit: Emit) throws(RedactionError) -> Int {
        var index = start
        let count = bytes.count
        while index < count {
            // While the markup is reading, every character goes to it (``EmbeddedMarkup``).
            if !markup.isReading, index + 8 <= count {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                // The lowest flagged byte is a real stop (see `JSONScanner.stringStops`); high bits are exact.
                let stops = JSONScanner.stringStops(word) | Self.lessThanSigns(word) | word & 0x8080_8080_8080_8080
                if stops == 0 {
                    index += 8
                    continue
                }
                index += stops.trailingZeroBitCount >> 3
            }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                try closeString(bytes, quote: index, emit)
                index += 1
                // Go on here to the value after a key, or to the key after a value, when nothing stands between.
                guard index + 1 < count else { return index }
                let separator = bytes[index], next = bytes[index + 1]
                if mode == .colon, separator == UInt8(ascii: ":"), next == UInt8(ascii: "\""), depth < maxDepth, !readingContext {
                    // A string value: what `startValue` does, the checks settled.
                    role = .value
                    mode = .string
                    index += 2
                    beginValue(at: index)
                } else if mode == .colon, separator == UInt8(ascii: ":"), !Self.isWhitespace(next) {
                    index = try startValue(bytes, at: index + 1)
                    if mode != .string { return index }
                } else if mode == .afterValue, separator == UInt8(ascii: ","), next == UInt8(ascii: "\""), top.contains(.object) {
                    comma(at: index)
                    startKey(at: index + 1)
                    index += 2
                } else {
                    return index
                }
            case UInt8(ascii: "\\"):
                escaped = true
                mode = .escape
                if handsOnValue {
                    if stringEscaped {
                        try feedEmbedded(bytes, upTo: index)
                    } else {
                        // The string's first escape: what came before it is read as it is, having none.
                        stringEscaped = true
                        embeddedKeys.note(significant(before: index, in: bytes))
                    }
                }
                return index + 1
            case 0..<0x20:
                throw fail("control character in string", at: index)
            case 0x80...:
                nonASCII = true
                try utf8Lead(byte, at: index)
                let lead = index
                index = try utf8Continuation(bytes, from: index + 1)
                if markup.isReading { try feedTags(UnsafeRawBufferPointer(rebasing: bytes[lead..<index]), at: lead) }
                if utf8Need > 0 {
                    mode = .utf8
                    return index
                }
            default:
                // Markup begins at a kept value's `<`; once begun, the reader takes the run of plain characters at once.
                guard markup.isReading || (byte == UInt8(ascii: "<") && handsOnValue) else {
                    index += 1
                    continue
                }
                let end = Self.plainRunEnd(bytes, from: index + 1)
                try feedTags(UnsafeRawBufferPointer(rebasing: bytes[index..<end]), at: index)
                index = end
            }
        }
        return index
    }

    /// The escape character `escape` at `index` of a kept string value: a quote for the serialized document's keys
    /// (``EmbeddedKeyReader``), white space, or a character of a name; `\u` is read at its end
    /// (``endUnicodeEscape(at:)``).
    private mutating func embeddedEscape(_ escape: UInt8, at index: Int) throws(RedactionError) {
        embeddedFrom = index + 1
        // A backslash may begin an escape of the string's own text (a document serialized twice): the reader sees it.
        if markup.isReading || escape == UInt8(ascii: "\\"), escape != UInt8(ascii: "u") {
            try feedTags(CollectionOfOne("nrtbf".utf8.contains(escape) ? 0x20 : escape), at: index)
        }
        switch escape {
        case UInt8(ascii: "\""): embeddedKeys.quote()
        case UInt8(ascii: "u"): break
        case UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"), UInt8(ascii: "b"), UInt8(ascii: "f"): try feedEmbedded(CollectionOfOne(0x20), at: index)
        default: try feedEmbedded(CollectionOfOne(escape), at: index)
        }
    }

    /// The last byte before `end` other than white space and backslashes: in this piece, else the string's in earlier
    /// ones.
    private func significant(before end: Int, in bytes: UnsafeRawBufferPointer) -> UInt8? {
        var index = min(end, bytes.count) - 1
        while index >= 0, Self.isWhitespace(bytes[index]) || bytes[index] == UInt8(ascii: "\\") { index -= 1 }
        return index >= 0 ? bytes[index] : stringTail
    }

    /// Feeds the serialized document's reader, once the string has had an escape, and refuses the document at a key
    /// naming a redacted field: a client that parses the string reads the field.
    private mutating func feedEmbedded(_ characters: some Sequence<UInt8>, at index: Int) throws(RedactionError) {
        guard stringEscaped, let key = embeddedKeys.feed(characters) else { return }
        let name = String(decoding: key, as: UTF8.self)
        if keys.fields.contains(name) {
            throw RedactionError(.refused, "a string holds JSON with a redacted field, which a client would parse", offset: consumed + index)
        }
    }

    /// Feeds ``markup`` a kept string value's characters; a tag there that names a redacted field refuses the document.
    private mutating func feedTags(_ characters: some Sequence<UInt8>, at index: Int) throws(RedactionError) {
        try markup.read(characters, in: "a string", at: consumed + index, redacted: keys.fields)
    }

    /// Where the run of a string's plain ASCII characters from `start` ends: at a quote, a backslash, a control
    /// character, a non-ASCII byte, or the piece's end.
    private static func plainRunEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        while index + 8 <= bytes.count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let stops = JSONScanner.stringStops(word) | word & 0x8080_8080_8080_8080
            if stops != 0 { return index + stops.trailingZeroBitCount >> 3 }
            index += 8
        }
        while index < bytes.count, bytes[index] >= 0x20, bytes[index] < 0x80, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") {
            index += 1
        }
        return index
    }

    /// The high bit of each byte of `word` that may be `<`, as ``JSONScanner/stringStops(_:)`` flags its stops.
    private static func lessThanSigns(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let lessThan = word ^ (ones &* 0x3c)
        return (lessThan &- ones) & ~lessThan & 0x8080_8080_8080_8080
    }

    /// Feeds the reader the string's bytes from ``embeddedFrom`` up to `end` of this piece.
    private mutating func feedEmbedded(_ bytes: UnsafeRawBufferPointer, upTo end: Int) throws(RedactionError) {
        guard stringEscaped, end > embeddedFrom else { return }
        try feedEmbedded(UnsafeRawBufferPointer(rebasing: bytes[embeddedFrom..<end]), at: embeddedFrom)
        embeddedFrom = end
    }

    private mutating func closeString(_ bytes: UnsafeRawBufferPointer, quote: Int, _ emit: Emit) throws(RedactionError) {
        stringTail = nil
        markup.end()
        if stringEscaped {
            if handsOnValue { try feedEmbedded(bytes, upTo: quote) }
            embeddedKeys.reset()
            stringEscaped = false
        }
        switch role {
        case .value:
            if handsOnValue, !readingContext { try checkValue(bytes, quote: quote) }
            try completeValue(bytes, at: quote + 1, emit)
        case .key:
            mode = .colon
        case .decidedKey:
            mode = .colon
            try decide(bytes, quote: quote, emit)
        }
    }

    /// A string value begins at `index` of this piece (its first byte after the quote).
    private mutating func beginValue(at index: Int) {
        valueStart = index
        if valueHeld == nil { valueHeld = [] } else if !valueHeld!.isEmpty { valueHeld!.removeAll(keepingCapacity: true) }
    }

    /// Keeps what this piece holds of the kept string value being read, each run of white space as one space (white
    /// space separates words, and padding must neither hide a name nor grow the buffer), until it is longer than a
    /// spelling of a name can be.
    private mutating func holdValue(_ piece: UnsafeRawBufferPointer) {
        for byte in piece {
            if byte == 0x20, valueHeld!.last == 0x20 { continue }
            valueHeld!.append(byte)
        }
        if valueHeld!.count > valueNames.longestSpelling + 64 { valueHeld = nil }
    }

    /// Refuses the document when the kept string value that ends at `quote` is, read as a key is, the name of a
    /// redacted field: a record laid out as names and values (`{"name": "citizenship", "value": "MX"}`, a table's
    /// column names, a dictionary serialized as key and value pairs) would hand on the field under another key.
    private mutating func checkValue(_ bytes: UnsafeRawBufferPointer, quote: Int) throws(RedactionError) {
        let spelled: Bool
        if valueHeld?.isEmpty == true {
            spelled = valueNames.isSpelled(byString: UnsafeRawBufferPointer(rebasing: bytes[valueStart..<quote]))
        } else if let held = valueHeld {
            spelled = (held + UnsafeRawBufferPointer(rebasing: bytes[valueStart..<quote])).withUnsafeBytes { valueNames.isSpelled(byString: $0) }
        } else {
            return
        }
        if spelled { throw RedactionError(.refused, ValueNames.refusal, offset: consumed + quote) }
    }

    /// The bounds of a UTF-8 sequence's bytes after `lead`, as Unicode's well-formed sequences allow (no overlong
    /// forms, no surrogates, nothing past U+10FFFF).
    private mutating func utf8Lead(_ lead: UInt8, at index: Int) throws(RedactionError) {
        utf8Low = 0x80
        utf8High = 0xbf
        switch lead {
        case 0xc2...0xdf: utf8Need = 1
        case 0xe0: utf8Need = 2; utf8Low = 0xa0
        case 0xe1...0xec, 0xee...0xef: utf8Need = 2
        case 0xed: utf8Need = 2; utf8High = 0x9f
        case 0xf0: utf8Need = 3; utf8Low = 0x90
        case 0xf1...0xf3: utf8Need = 3
        case 0xf4: utf8Need = 3; utf8High = 0x8f
        default: throw fail("not valid UTF-8", at: index)
        }
    }

    private mutating func utf8Continuation(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(RedactionError) -> Int {
        var index = start
        while utf8Need > 0, index < bytes.count {
            let byte = bytes[index]
            guard byte >= utf8Low, byte <= utf8High else { throw fail("not valid UTF-8", at: index) }
            utf8Low = 0x80
            utf8High = 0xbf
            utf8Need -= 1
            index += 1
        }
        return index
    }

    /// Four hex digits have been read: a high surrogate must be followed by a low one, and a low one never stands alone.
    private mutating func endUnicodeEscape(at index: Int) throws(RedactionError) {
        if handsOnValue {
            // `\u0022` is a quote too, as System.Text.Json writes it; any other character is part of a name.
            embeddedFrom = index
            // `\u003c` is a `<`, as Go's encoder writes it, and `\u005c` a backslash; a surrogate pair one character.
            if lowSurrogate {
                let scalar = Unicode.Scalar(0x10000 + ((highSurrogate - 0xd800) << 10) + (hexValue &- 0xdc00) & 0xfffff)
                if markup.isReading { try feedTags(scalar.map { Array(String($0).utf8) } ?? [0x80], at: index) }
            } else if (0xd800..<0xdc00).contains(hexValue) {
                highSurrogate = hexValue
            } else if hexValue == 0x3c || hexValue == 0x5c || markup.isReading {
                try feedTags(Unicode.Scalar(hexValue).map { Array(String($0).utf8) } ?? [0x80], at: index)
            }
            if hexValue == 0x22 {
                embeddedKeys.quote()
            } else {
                // A character of the name as its UTF-8; half of a surrogate pair as a byte that stands for a letter.
                try feedEmbedded(Unicode.Scalar(hexValue).map { Array(String($0).utf8) } ?? [0x80], at: index)
            }
        }
        let isHigh = (0xd800..<0xdc00).contains(hexValue), isLow = (0xdc00..<0xe000).contains(hexValue)
        if lowSurrogate {
            guard isLow else { throw fail("unpaired surrogate", at: index) }
            lowSurrogate = false
            mode = .string
        } else if isHigh {
            mode = .lowBackslash
        } else {
            guard !isLow else { throw fail("unpaired surrogate", at: index) }
            mode = .string
        }
    }

    // MARK: Members

    private mutating func startKey(at index: Int) {
        mode = .string
        guard watchDepth < 0 else {
            role = .key
            return
        }
        role = .decidedKey
        holding = true
        if run >= 0, cut < 0 { cut = index }
        keyStart = index
        escaped = false
        nonASCII = false
    }

    /// The key ending at `quote` is read: removes its member, or hands on the held comma (if a kept member came
    /// before) and the key.
    private mutating func decide(_ bytes: UnsafeRawBufferPointer, quote: Int, _ emit: Emit) throws(RedactionError) {
        let spans = !keyHeld.isEmpty
        if spans { keyHeld.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0...quote])) }
        let length = spans ? keyHeld.count - 2 : quote - keyStart - 1
        guard length <= maxKeyBytes else { throw fail("a key longer than \(maxKeyBytes) bytes", at: quote) }
        let verdict = spans
            ? keyHeld.withUnsafeBytes { keys.classify($0, length: length, escaped: escaped, nonASCII: nonASCII, contexts: contexts) }
            : keys.classify(UnsafeRawBufferPointer(rebasing: bytes[keyStart...]), length: length, escaped: escaped, nonASCII: nonASCII, contexts: contexts)
        guard var verdict else { throw fail("a key that cannot be decoded", at: quote) }
        if let keptKeys, !verdict.isRedacted, !verdict.isContext, isRecordLevel {
            let key = spans ? UnsafeRawBufferPointer(start: nil, count: 0) : UnsafeRawBufferPointer(rebasing: bytes[(keyStart + 1)..<quote])
            let identifying = spans
                ? keyHeld.withUnsafeBytes { Self.isIdentifyingKeyword(UnsafeRawBufferPointer(rebasing: $0[1..<(1 + length)])) }
                : Self.isIdentifyingKeyword(key)
            // Kept by the key as written, never by what a context says it means: the upstream's context could map an
            // unlisted field onto a listed name, and a plain JSON client reads the key as written.
            let kept = spans
                ? keyHeld.withUnsafeBytes { keptKeys.classify($0, length: length, escaped: escaped, nonASCII: nonASCII, contexts: []) }
                : keptKeys.classify(UnsafeRawBufferPointer(rebasing: bytes[keyStart...]), length: length, escaped: escaped, nonASCII: nonASCII, contexts: [])
            if !identifying, kept?.isRedacted != true { verdict.isRedacted = true }
            if identifying, !verdict.isRedacted, kept?.isRedacted != true { identifyingDepth = depth }
            // A kept key whose context makes it mean an unlisted field (`"bookingNumber": "http://x/homeAddress"`): a
            // JSON-LD client would read the field no one listed, so the answer is refused rather than guessed at.
            if kept?.isRedacted == true, !contexts.isEmpty {
                let meant = spans
                    ? keyHeld.withUnsafeBytes { keptKeys.expandedIsField($0, length: length, escaped: escaped, contexts: contexts) }
                    : keptKeys.expandedIsField(UnsafeRawBufferPointer(rebasing: bytes[keyStart...]), length: length, escaped: escaped, contexts: contexts)
                if meant == false { throw RedactionError(.refused, "a JSON-LD context maps a returned field onto one the policy does not return", offset: consumed + quote) }
            }
        }
        var level = top
        if verdict.isContext {
            guard !level.contains(.anyMember) else {
                throw RedactionError(.refused, "a @context after other members cannot be honoured while streaming", offset: consumed + quote)
            }
            watchDepth = depth
            readingContext = true
        }
        level.insert(.anyMember)
        if verdict.isRedacted {
            if run >= 0 { Self.flush(bytes, from: run, to: cut, emit) }
            run = -1
            removed += 1
            watchDepth = depth
            skipping = true
        } else if verdict.isContext {
            // Held until its value is read: the terms it may not hand on are left out then. It is its object's first
            // member, so no comma comes before it.
            if run >= 0 { Self.flush(bytes, from: run, to: cut, emit) }
            run = -1
            skipping = true
            contextKey = spans ? keyHeld : Array(UnsafeRawBufferPointer(rebasing: bytes[keyStart...quote]))
            level.insert(.keptMember)
        } else {
            let comma = pendingComma && level.contains(.keptMember)
            if spans {
                if comma { Self.emitComma(emit) }
                keyHeld.withUnsafeBytes(emit)
                run = quote + 1
            } else {
                // The run goes on through the held bytes when they are what is handed on: the kept comma right before
                // the key, or the key alone. Otherwise hand on what came before them, then the comma if kept.
                let inRun = run >= 0 && (comma ? cut == keyStart - 1 : !pendingComma && cut == keyStart)
                if !inRun {
                    if run >= 0 { Self.flush(bytes, from: run, to: cut, emit) }
                    if comma { Self.emitComma(emit) }
                    run = keyStart
                }
            }
            level.insert(.keptMember)
        }
        top = level
        cut = -1
        holding = false
        pendingComma = false
        if spans { keyHeld.removeAll(keepingCapacity: true) }
    }

    /// Whether a key, as written between its quotes, is `@id` or `@type`: they say what a record is, and stay when an
    /// allow-list removes the record's other members. Other keywords (`@graph`, `@included`, `@nest`) carry data and
    /// go unless listed.
    private static func isIdentifyingKeyword(_ key: UnsafeRawBufferPointer) -> Bool {
        key.elementsEqual("@id".utf8) || key.elementsEqual("@type".utf8)
    }

    /// Whether the open object is a record whose members an allow-list governs: the root object, or an object
    /// directly inside a root array.
    private var isRecordLevel: Bool {
        depth == 1 || (depth == 2 && !outer[0].contains(.object))
    }

    private static func emitComma(_ emit: Emit) {
        withUnsafeBytes(of: UInt8(ascii: ",")) { emit($0) }
    }

    // MARK: Watched values

    /// The watched member's value ended just before `end`: emission resumes after a removed one, and a `@context`
    /// takes effect and is handed on, without the terms its reader removes.
    private mutating func endWatch(_ bytes: UnsafeRawBufferPointer, at end: Int, _ emit: Emit) throws(RedactionError) {
        if readingContext {
            contextHeld.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[contextStart..<end]))
            guard contextHeld.count <= contextLimit else { throw fail("a @context longer than \(contextLimit) bytes", at: end) }
            var reader = try JSONLDContextReader(contextHeld, offset: contextOffset, redacted: keys.fields, allowList: keptKeys != nil)
            let context = try reader.read(over: contexts.last ?? JSONLDContext())
            guard context.size <= contextLimit else {
                throw fail("JSON-LD contexts in force larger than \(contextLimit) bytes", at: end)
            }
            if !contextKey.isEmpty {
                removed += reader.removedTerms
                (contextKey + [UInt8(ascii: ":")] + reader.handedOn()).withUnsafeBytes(emit)
                contextKey.removeAll(keepingCapacity: true)
            }
            contexts.append(context)
            top.insert(.context)
            contextHeld.removeAll(keepingCapacity: true)
            readingContext = false
            contextStarted = false
        }
        if skipping {
            run = end
            skipping = false
        }
        watchDepth = -1
    }
}

/// The redacted names, compiled once (``RedactedNames/jsonKeys``) for deciding keys.
struct JSONKeyNames: Sendable {
    let fields: JSONFieldNames
    let qualified: QualifiedIRIs?



    struct Verdict {
        var isRedacted: Bool
        var isContext: Bool
    }

    /// Whether the key of `length` bytes after the quote that `buffer` begins with is redacted, and whether it is
    /// `@context`; nil if it cannot be decoded. `escaped` and `nonASCII` say whether it holds an escape or a byte
    /// above 0x7F; the context in force is the last of `contexts`.
    @inline(__always)
    func classify(
        _ buffer: UnsafeRawBufferPointer, length: Int, escaped: Bool, nonASCII: Bool, contexts: [JSONLDContext]
    ) -> Verdict? {
        guard !escaped else {
            guard var scanner = try? JSONScanner(Array(buffer[..<(length + 2)])), let decoded = try? scanner.scanString().decoded else { return nil }
            return Array(decoded.utf8).withUnsafeBytes { verdict($0, field: fields.contains(decoded), contexts: contexts) }
        }
        // An ASCII key's lookup says whether it holds a colon too; a non-ASCII one is scanned for it when asked.
        let (field, colon) = nonASCII
            ? (fields.contains(String(decoding: UnsafeRawBufferPointer(rebasing: buffer[1..<(1 + length)]), as: UTF8.self)), nil)
            : fields.lookupASCII(buffer, at: 1, length: length)
        // The common case: no keyword, and no JSON-LD, or none that can apply (without a context, only a key with a
        // colon expands, and only to a qualified name).
        if buffer[1] != UInt8(ascii: "@"),
           field || contexts.isEmpty && (qualified == nil || !(colon ?? JSONFieldNames.separatorsAndColons(buffer, at: 1, length: length).colon)) {
            return Verdict(isRedacted: field, isContext: false)
        }
        return verdict(UnsafeRawBufferPointer(rebasing: buffer[1..<(1 + length)]), field: field, contexts: contexts)
    }

    private func verdict(_ text: UnsafeRawBufferPointer, field: Bool, contexts: [JSONLDContext]) -> Verdict {
        let isContext = text.count == 8 && text[0] == UInt8(ascii: "@") && text.elementsEqual("@context".utf8)
        guard !field, !isContext else { return Verdict(isRedacted: field, isContext: isContext) }
        if let context = contexts.last, expandsToField(text, in: context) { return Verdict(isRedacted: true, isContext: false) }
        guard let qualified else { return Verdict(isRedacted: false, isContext: false) }
        return Verdict(isRedacted: qualified.matches(text, in: contexts.last), isContext: false)
    }

    /// Whether `text`, as `context` expands it (a term, a defined prefix's IRI and the suffix, or `@vocab` and the
    /// key), is an IRI whose last part (after its last `:`, `#` or `/`) is a field name: an IRI key written out is
    /// matched by that part (``JSONFieldNames``), and a JSON-LD processor reads the key as that IRI.
    private func expandsToField(_ text: UnsafeRawBufferPointer, in context: JSONLDContext) -> Bool {
        expansionIsField(text, in: context) == true
    }

    /// For a key that the context in force (the last of `contexts`) expands to an IRI, whether that IRI's last part is
    /// one of these names; nil for a key it leaves as written. `escaped` keys are decoded first, as ``classify``
    /// does; nil if one cannot be.
    func expandedIsField(_ buffer: UnsafeRawBufferPointer, length: Int, escaped: Bool, contexts: [JSONLDContext]) -> Bool? {
        guard let context = contexts.last else { return nil }
        guard escaped else { return expansionIsField(UnsafeRawBufferPointer(rebasing: buffer[1..<(1 + length)]), in: context) }
        guard var scanner = try? JSONScanner(Array(buffer[..<(length + 2)])), let decoded = try? scanner.scanString().decoded else { return nil }
        return Array(decoded.utf8).withUnsafeBytes { expansionIsField($0, in: context) }
    }

    private func expansionIsField(_ text: UnsafeRawBufferPointer, in context: JSONLDContext) -> Bool? {
        guard text.first != UInt8(ascii: "@") else { return nil }
        let colon = text.firstIndex(of: UInt8(ascii: ":"))
        let iri: [UInt8]
        if let term = context.term(text) {
            guard !term.isKeyword else { return nil }
            iri = term.bytes
        } else if let colon, let prefix = context.term(UnsafeRawBufferPointer(rebasing: text[..<colon])), !prefix.isKeyword {
            iri = prefix.bytes + text[(colon + 1)...]
        } else if colon == nil, let vocab = context.vocab {
            iri = vocab.bytes + text
        } else {
            return nil
        }
        // An IRI without a delimiter (a term aliased to a bare name, `"nat": "nationality"`) is read whole.
        let part = iri.lastIndex(where: { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "#") || $0 == UInt8(ascii: "/") })
            .map { iri[($0 + 1)...] } ?? iri[...]
        guard part.allSatisfy({ $0 < 0x80 }) else { return fields.contains(String(decoding: part, as: UTF8.self)) }
        return part.withUnsafeBytes { fields.containsASCII($0, at: 0, length: $0.count) }
    }
}

/// Field names compiled for comparing keys exactly as ``JSONRedactor`` does.
final class JSONFieldNames: Sendable, EmbeddedNames {
    let fields: Set<String>
    /// Whether these are names to remove: then a key holding a colon is matched by its last part too, a key that
    /// flattens a path by each of its parts (``FieldNameKey/pathParts(_:)``), and a key too long to read
    /// (``longestReadName``) counts as matching; names to keep match none of these ways.
    private let byLastPart: Bool
    /// The names as lower-case bytes in little-endian words, the last of each zero-padded, one name after another.
    private let words: [UInt64]
    private let names: [(length: Int, firstWord: Int)]
    /// Bit n is set when some name is n bytes long (n < 64).
    private let lengths: UInt64
    private let hasLong: Bool
    /// Open addressing over `names` by their hash (``seed(length:)``, ``mix(_:_:)``): each slot a name's index, or -1;
    /// at most half full.
    private let table: [Int32]

    /// A name read in markup: compared as a key is, an ASCII one without building a string.
    func redacts(_ name: [UInt8]) -> Bool {
        name.allSatisfy { $0 < 0x80 }
            ? name.withUnsafeBytes { containsASCII($0, at: 0, length: $0.count) }
            : contains(String(decoding: name, as: UTF8.self))
    }

    init(_ fields: Set<String>, byLastPart: Bool = true) {
        self.fields = fields
        self.byLastPart = byLastPart
        var words: [UInt64] = [], names: [(length: Int, firstWord: Int)] = []
        // In one order whatever the process's hash seed (a set's order), so that probes are the same from run to run.
        for field in fields.sorted() {
            let bytes = Array(field.utf8)
            names.append((bytes.count, words.count))
            for start in stride(from: 0, to: bytes.count, by: 8) {
                words.append(bytes[start..<min(start + 8, bytes.count)].reversed().reduce(0) { $0 << 8 | UInt64($1) })
            }
        }
        self.words = words
        self.names = names
        lengths = names.reduce(0) { $1.length < 64 ? $0 | 1 << UInt64($1.length) : $0 }
        hasLong = names.contains { $0.length >= 64 }
        var table = [Int32](repeating: -1, count: max(8, 1 << (Int.bitWidth - (2 * names.count).leadingZeroBitCount)))
        for (index, name) in names.enumerated() {
            let hash = words[name.firstWord..<name.firstWord + (name.length + 7) / 8].reduce(Self.seed(length: name.length), Self.mix)
            var slot = Self.slot(hash, in: table.count)
            while table[slot] >= 0 { slot = (slot + 1) & (table.count - 1) }
            table[slot] = Int32(index)
        }
        self.table = table
    }

    /// A name's hash: its length's ``seed(length:)``, each of its lower-cased, zero-padded words mixed in with
    /// ``mix(_:_:)``.
    @inline(__always)
    private static func seed(length: Int) -> UInt64 {
        UInt64(truncatingIfNeeded: length) &* 0x9e37_79b9_7f4a_7c15
    }

    @inline(__always)
    private static func mix(_ hash: UInt64, _ word: UInt64) -> UInt64 {
        (hash ^ word) &* 0xff51_afd7_ed55_8ccd
    }

    /// The first slot to probe for `hash` in a table of `count` slots (a power of two).
    @inline(__always)
    private static func slot(_ hash: UInt64, in count: Int) -> Int {
        Int(truncatingIfNeeded: ((hash ^ hash >> 32) &* 0x9e37_79b9_7f4a_7c15) >> 32) & (count - 1)
    }

    /// A decoded key, compared as ``FieldNameKey`` says (a non-ASCII letter may fold to an ASCII one): whole, or, in
    /// a key that holds a colon (an IRI or a compact IRI, `nc:citizenship`), by what follows its last `:`, `#` or
    /// `/`, as an XML element's local name is compared whatever its namespace, or, in a key that flattens a path
    /// (`inmate.citizenship`, `inmate[citizenship]`), by each of its parts, as the members it flattens would be.
    func contains(_ key: String) -> Bool {
        guard !fields.isEmpty else { return false }
        // Reading a name as it shows costs far more than comparing bytes: a name of other scripts longer than any
        // field's is not read. It counts as one of the names to remove, and not as one to keep.
        guard key.utf8.count <= Self.longestReadName || key.utf8.allSatisfy({ $0 < 0x80 }) else { return byLastPart }
        if FieldNameKey.readings(key).contains(where: fields.contains) { return true }
        guard byLastPart else { return false }
        if key.contains(":"), let last = key.unicodeScalars.lastIndex(where: { $0 == ":" || $0 == "#" || $0 == "/" }),
           FieldNameKey.readings(String(key.unicodeScalars[key.unicodeScalars.index(after: last)...])).contains(where: fields.contains) {
            return true
        }
        return FieldNameKey.pathParts(key).contains { FieldNameKey.readings($0).contains(where: fields.contains) }
    }

    /// Whether `text`, read as ``contains(_:)`` reads a key (never by a last part), begins with one of the names of at
    /// least ``shortestRunOnName`` bytes: a name run on into what follows it, such as `citizenshipmx`. A shorter name
    /// (`pob`, `visa`) begins too many words (`pobox`, `visalia`) to be read so.
    func beginsWithName(_ text: String) -> Bool {
        guard !fields.isEmpty else { return false }
        guard text.utf8.count <= Self.longestReadName || text.utf8.allSatisfy({ $0 < 0x80 }) else { return byLastPart }
        return FieldNameKey.readings(text).contains { reading in
            fields.contains { $0.utf8.count >= Self.shortestRunOnName && reading.utf8.starts(with: $0.utf8) }
        }
    }

    /// The shortest name ``beginsWithName(_:)`` finds run on into what follows it.
    static let shortestRunOnName = 6


    /// The longest name, in UTF-8 bytes, that is read as it shows when it is not all ASCII.
    static let longestReadName = 1024

    /// An ASCII key without escapes, of `length` bytes at `start` in `bytes`, compared as ``contains(_:)`` compares a
    /// decoded one: a name without separators eight bytes at a time, capitals lower-cased; one with them, once they
    /// are left out.
    @inline(__always)
    func containsASCII(_ bytes: UnsafeRawBufferPointer, at start: Int, length: Int) -> Bool {
        lookupASCII(bytes, at: start, length: length).contained
    }

    /// ``containsASCII(_:at:length:)``, and whether the key holds a colon.
    @inline(__always)
    func lookupASCII(_ bytes: UnsafeRawBufferPointer, at start: Int, length: Int) -> (contained: Bool, colon: Bool) {
        // One pass says whether the key holds a separator, or a colon (an IRI's, also read by its last part): most keys
        // hold neither, and are then looked up once.
        let (separated, colon, pathMarked) = Self.separatorsAndColons(bytes, at: start, length: length)
        if containsUnseparated(bytes, at: start, length: length) || separated && containsSeparated(bytes, at: start, length: length) {
            return (true, colon)
        }
        guard byLastPart else { return (false, colon) }
        if colon, let local = Self.localPartStart(bytes, at: start, length: length), containsName(bytes, at: local, length: start + length - local) {
            return (true, colon)
        }
        return (pathMarked && containsPathPart(bytes, at: start, length: length), colon)
    }

    /// Whether a part of an ASCII key that flattens a path (``FieldNameKey/pathParts(_:)``) is one of the names.
    private func containsPathPart(_ bytes: UnsafeRawBufferPointer, at start: Int, length: Int) -> Bool {
        var partStart = start, digitsOnly = true
        for index in start...(start + length) {
            let byte = index < start + length ? bytes[index] : UInt8(ascii: ".")
            guard FieldNameKey.isPathMark(byte) else {
                digitsOnly = digitsOnly && byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
                continue
            }
            if index > partStart, !digitsOnly, containsName(bytes, at: partStart, length: index - partStart) { return true }
            partStart = index + 1
            digitsOnly = true
        }
        return false
    }

    /// Whether the `length` bytes at `start` hold a separator (``FieldNameKey/isSeparator(_:)``), whether they hold a
    /// colon, and whether they hold a path mark (``FieldNameKey/isPathMark(_:)``): eight bytes at a time, each test
    /// exact for every byte (no borrow crosses from one to the next).
    @inline(__always)
    static func separatorsAndColons(
        _ bytes: UnsafeRawBufferPointer, at start: Int, length: Int
    ) -> (separated: Bool, colon: Bool, pathMarked: Bool) {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080, lows = ~highs
        /// The high bit of each zero byte of `x`.
        @inline(__always) func zeros(_ x: UInt64) -> UInt64 { ~(((x & lows) &+ lows) | x | lows) }
        var separators: UInt64 = 0, colons: UInt64 = 0, marks: UInt64 = 0, offset = 0
        while offset < length {
            let word = JSONRedactor.word(in: bytes, at: start + offset)
            // Bytes up to a space: below 0x80, and their low seven bits plus 0x5F stay below 0x80.
            let controls = ~((word & lows) &+ ones &* 0x5f) & ~word & highs
            let dot = zeros(word ^ ones &* 0x2e)
            var separator = controls | zeros(word ^ ones &* 0x5f) | zeros(word ^ ones &* 0x2d) | dot | zeros(word ^ ones &* 0x7f)
            var colon = zeros(word ^ ones &* 0x3a)
            var mark = dot | colon | zeros(word ^ ones &* 0x2f) | zeros(word ^ ones &* 0x5b) | zeros(word ^ ones &* 0x5d)
                | zeros(word ^ ones &* 0x23)
            if length - offset < 8 {
                let within: UInt64 = (1 << UInt64(8 * (length - offset))) - 1
                separator &= within
                colon &= within
                mark &= within
            }
            separators |= separator
            colons |= colon
            marks |= mark
            offset += 8
        }
        return (separators != 0, colons != 0, marks != 0)
    }

    @inline(__always)
    private func containsName(_ bytes: UnsafeRawBufferPointer, at start: Int, length: Int) -> Bool {
        containsUnseparated(bytes, at: start, length: length) || containsSeparated(bytes, at: start, length: length)
    }

    /// Where the part after the last `:`, `#` or `/` starts, in a key that holds a colon; nil in any other.
    private static func localPartStart(_ bytes: UnsafeRawBufferPointer, at start: Int, length: Int) -> Int? {
        var index = start + length, last: Int?
        while index > start {
            index -= 1
            let byte = bytes[index]
            guard byte == UInt8(ascii: ":") || byte == UInt8(ascii: "#") || byte == UInt8(ascii: "/") else { continue }
            if last == nil { last = index + 1 }
            if byte == UInt8(ascii: ":") { return last }
        }
        return nil
    }

    /// ``containsASCII(_:at:length:)`` for a key that holds a separator: its other bytes, copied to the stack.
    private func containsSeparated(_ bytes: UnsafeRawBufferPointer, at start: Int, length: Int) -> Bool {
        guard !fields.isEmpty,
              let first = bytes[start..<(start + length)].firstIndex(where: FieldNameKey.isSeparator) else { return false }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: length) { folded in
            var count = first - start
            _ = folded.initialize(from: bytes[start..<first])
            for byte in bytes[first..<(start + length)] where !FieldNameKey.isSeparator(byte) {
                folded[count] = byte
                count += 1
            }
            return containsUnseparated(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(folded)[..<count]), at: 0, length: count)
        }
    }

    /// ``containsASCII(_:at:length:)`` for a key compared as it is: found by its hash, confirmed word by word.
    @inline(__always)
    private func containsUnseparated(_ bytes: UnsafeRawBufferPointer, at start: Int, length: Int) -> Bool {
        guard length > 0, length < 64 ? lengths & 1 << UInt64(length) != 0 : hasLong else { return false }
        /// The key's word at `offset`, lower-cased and zero-padded as the names' are.
        @inline(__always) func word(_ offset: Int) -> UInt64 {
            let word = JSONRedactor.lowercasedWord(in: bytes, at: start + offset)
            return length - offset < 8 ? word & ((1 << UInt64(8 * (length - offset))) - 1) : word
        }
        var hash = Self.seed(length: length), offset = 0
        while offset < length {
            hash = Self.mix(hash, word(offset))
            offset += 8
        }
        return table.withUnsafeBufferPointer { table in
            words.withUnsafeBufferPointer { words in
                var slot = Self.slot(hash, in: table.count)
                while table[slot] >= 0 {
                    let name = names[Int(table[slot])]
                    if name.length == length {
                        offset = 0
                        while offset < length, word(offset) == words[name.firstWord + offset / 8] { offset += 8 }
                        if offset >= length { return true }
                    }
                    slot = (slot + 1) & (table.count - 1)
                }
                return false
            }
        }
    }
}

/// The names a kept value must not spell: a JSON string, an XML attribute's value or an element's text that names a
/// redacted field, as a record laid out as names and values does (`{"name": "citizenship", "value": "MX"}`,
/// `<Key>Citizenship</Key>`). A value is compared as a key is (``JSONFieldNames``: letter case, separators, other
/// scripts read as they show); one without white space also as a key by its parts (an IRI's last part, a flattened
/// path's parts: `/citizenship`, `inmate.citizenship`, `nc:PersonCitizenshipText`), while free text, which holds
/// white space, only whole ("Status: in custody" is no path to a `status`).
final class ValueNames: Sendable {
    /// The shortest name checked: a shorter one (`ctz`, `daca`) is too often a value of its own.
    static let shortestName = 6
    /// Why a document whose value spells a redacted name is refused.
    static let refusal = "a value names a redacted field, as a record of names and values does"

    /// The names, matched by parts too, and whole only.
    private let byParts: JSONFieldNames
    private let whole: JSONFieldNames
    /// The most bytes other than white space that a value spelling one of the names may hold as written in JSON: each
    /// character escaped (`\u0063`) with an escaped separator (`\u0020`) after it.
    let longestSpelling: Int
    /// The most bytes other than white space that free text (compared whole, read) spelling one of the names may
    /// hold: each character with a separator after it.
    private let longestReadSpelling: Int
    /// A bitmap of the names' letter sets (``letterBit(_:)``), by ``letterSetSlot(_:)``.
    private let letterSets: [UInt64]
    /// Per byte: its bit in a letter set (``letterBit(_:)``), and the flags below (a non-ASCII byte: ``needsBytePass``
    /// alone).
    private let byteClasses: [UInt32]
    private static let letters: UInt32 = (1 << 27) - 1
    private static let isSpace: UInt32 = 1 << 27
    private static let isMark: UInt32 = 1 << 28
    /// `:`, `#` and `/`, after the last of which a key's local part starts.
    private static let endsPrefix: UInt32 = 1 << 29
    /// A byte a spelling of one of the names may hold: the names' own, in either case, separators
    /// (``FieldNameKey/isSeparator(_:)``) and path marks (``FieldNameKey/isPathMark(_:)``).
    private static let spells: UInt32 = 1 << 30
    /// A byte that only ``spellingByBytes(_:escaped:)`` reads: any non-ASCII byte, and `\\`, which starts an escape.
    private static let needsBytePass: UInt32 = 1 << 31

    /// `fields` as ``FieldNameKey`` folds them; those shorter than ``shortestName`` bytes are left out.
    init(_ fields: Set<String>) {
        let fields = fields.filter { $0.utf8.count >= Self.shortestName }
        byParts = JSONFieldNames(fields)
        whole = JSONFieldNames(fields, byLastPart: false)
        longestSpelling = 12 * (fields.map(\.utf8.count).max() ?? 0)
        longestReadSpelling = longestSpelling / 6
        var letterSets = [UInt64](repeating: 0, count: 64)
        for field in fields {
            let slot = Self.letterSetSlot(field.utf8.reduce(0) { $0 | Self.letterBit($1) })
            letterSets[slot >> 6] |= 1 << UInt64(slot & 63)
        }
        self.letterSets = letterSets
        let nameBytes = Set(fields.flatMap(\.utf8).flatMap { byte in (0x61...0x7a).contains(byte) ? [byte, byte - 0x20] : [byte] })
        byteClasses = (0..<256).map { (value: Int) -> UInt32 in
            let byte = UInt8(value)
            // The byte pass reads no class of a non-ASCII byte; a backslash keeps its own (a name may hold one).
            if byte >= 0x80 { return Self.needsBytePass }
            var byteClass = byte == UInt8(ascii: "\\") ? Self.needsBytePass : 0
            byteClass |= Self.letterBit(byte)
            if byte <= 0x20 { byteClass |= Self.isSpace }
            if FieldNameKey.isPathMark(byte) { byteClass |= Self.isMark }
            if byte == UInt8(ascii: ":") || byte == UInt8(ascii: "#") || byte == UInt8(ascii: "/") { byteClass |= Self.endsPrefix }
            if nameBytes.contains(byte) || FieldNameKey.isSeparator(byte) || FieldNameKey.isPathMark(byte) { byteClass |= Self.spells }
            return byteClass
        }
    }

    /// Whether `raw`, a JSON string's bytes between its quotes as written (valid: escapes and UTF-8 checked), decodes
    /// to a spelling of one of the names (``isSpelled(byText:)``).
    func isSpelled(byString raw: UnsafeRawBufferPointer) -> Bool {
        guard raw.count >= Self.shortestName else { return false }
        if let spelled = spelling(raw, escaped: true) { return spelled }
        // An escape may write any character: the string is read decoded.
        guard var scanner = try? JSONScanner([UInt8(ascii: "\"")] + raw + [UInt8(ascii: "\"")]), let decoded = try? scanner.scanString().decoded
        else { return true }
        var text = decoded
        return text.withUTF8 { isSpelled(byText: UnsafeRawBufferPointer($0)) }
    }

    /// Whether `text` (valid UTF-8) spells one of the names, as the type says. An ASCII value is looked up only if it,
    /// its last part after a `:`, `#` or `/`, or one of its path parts holds nothing but bytes a spelling may hold, in
    /// a set of letters one of the names has: most values hold a digit or a letter set no name has.
    func isSpelled(byText text: UnsafeRawBufferPointer) -> Bool {
        guard text.count >= Self.shortestName else { return false }
        return spelling(text, escaped: false) ?? false
    }

    /// ``isSpelled(byText:)``; nil when `escaped` and `text` holds a backslash, so that it must be read decoded first.
    func spelling(_ text: UnsafeRawBufferPointer, escaped: Bool) -> Bool? {
        if text.count > longestReadSpelling, isTooLong(text, escaped: escaped) { return false }
        // Most values are settled from what their bytes' classes have in common; the others take the byte pass.
        var any: UInt32 = 0, every: UInt32 = ~0, spaces = 0
        byteClasses.withUnsafeBufferPointer { classes in
            for byte in text {
                let byteClass = classes[Int(byte)]
                any |= byteClass
                every &= byteClass
                spaces &+= Int(truncatingIfNeeded: byteClass >> 27 & 1)
            }
        }
        guard any & Self.needsBytePass == 0 else { return spellingByBytes(text, escaped: escaped) }
        let allSpells = every & Self.spells != 0
        if any & Self.isSpace != 0 {
            // Free text is compared whole, and path marks are no letters of it.
            return allSpells && text.count - spaces <= longestReadSpelling && hasLetterSet(any & Self.letters)
                && whole.containsASCII(text, at: 0, length: text.count)
        }
        guard any & Self.isMark != 0 else {
            return allSpells && text.count <= longestSpelling && hasLetterSet(any & Self.letters)
                && byParts.containsASCII(text, at: 0, length: text.count)
        }
        return spellingByBytes(text, escaped: escaped)
    }

    /// ``spelling(_:escaped:)`` read byte by byte, for any value: one with parts, non-ASCII bytes or escapes.
    func spellingByBytes(_ text: UnsafeRawBufferPointer, escaped: Bool) -> Bool? {
        // Bytes other than white space: ASCII ones, and the others (a character read as it shows may take four).
        var spaced = false, candidate = false, significant = 0, wide = 0
        // The letters of the whole value, of its current path part and of what follows its last `:`, `#` or `/`, each
        // with whether every byte of it may be in a spelling.
        var all: UInt32 = 0, part: UInt32 = 0, local: UInt32 = 0
        var allSpells = true, partSpells = true, localSpells = true
        let scanned: Bool? = byteClasses.withUnsafeBufferPointer { classes in
            for byte in text {
                guard byte < 0x80 else {
                    wide += 1
                    continue
                }
                let byteClass = classes[Int(byte)]
                if byteClass & Self.isSpace != 0 {
                    // Free text is compared whole: one byte no spelling holds rules it out.
                    if !allSpells { return false }
                    spaced = true
                    continue
                }
                if escaped, byte == UInt8(ascii: "\\") { return nil }
                significant += 1
                if spaced, significant > longestReadSpelling { return false }
                if byteClass & Self.isMark != 0 {
                    candidate = candidate || partSpells && hasLetterSet(part)
                    (part, partSpells) = (0, true)
                    if byteClass & Self.endsPrefix != 0 { (local, localSpells) = (0, true) }
                    continue
                }
                let bit = byteClass & Self.letters
                all |= bit
                part |= bit
                local |= bit
                if byteClass & Self.spells == 0 {
                    if spaced { return false }
                    (allSpells, partSpells, localSpells) = (false, false, false)
                }
            }
            return significant <= (spaced ? longestReadSpelling : longestSpelling) && wide <= longestSpelling
        }
        guard let scanned else { return nil }
        guard scanned else { return false }
        if wide > 0 {
            let decoded = String(decoding: text, as: UTF8.self)
            return spaced ? whole.contains(decoded) : byParts.contains(decoded)
        }
        if spaced { return allSpells && hasLetterSet(all) && whole.containsASCII(text, at: 0, length: text.count) }
        guard candidate || allSpells && hasLetterSet(all) || partSpells && hasLetterSet(part) || localSpells && hasLetterSet(local)
        else { return false }
        return byParts.containsASCII(text, at: 0, length: text.count)
    }

    /// Whether `text`, eight bytes at a time, holds more ASCII bytes other than white space than any spelling may:
    /// ``longestSpelling``, or ``longestReadSpelling`` when it also holds white space. False when `escaped` and it
    /// holds a backslash: an escape may stand for white space, and is read decoded.
    private func isTooLong(_ text: UnsafeRawBufferPointer, escaped: Bool) -> Bool {
        let (ones, highs, lows): (UInt64, UInt64, UInt64) = (0x0101_0101_0101_0101, 0x8080_8080_8080_8080, 0x7f7f_7f7f_7f7f_7f7f)
        var significant = 0, spaced = false, index = 0
        while index + 8 <= text.count {
            let word = UInt64(littleEndian: text.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            // A byte's high bit, after adding 0x5f to its low seven bits, is set for 0x21…0x7f (no carry crosses bytes).
            let above = (word & lows) &+ (ones &* 0x5f)
            significant += (above & ~word & highs).nonzeroBitCount
            if ~above & ~word & highs != 0 { spaced = true }
            if escaped {
                let backslashes = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
                if (backslashes &- ones) & ~backslashes & highs != 0 { return false }
            } else if significant > (spaced ? longestReadSpelling : longestSpelling) {
                // Without escapes nothing later can shorten it.
                return true
            }
            index += 8
        }
        for byte in UnsafeRawBufferPointer(rebasing: text[index...]) {
            if escaped && byte == UInt8(ascii: "\\") { return false }
            if byte <= 0x20 { spaced = true } else if byte < 0x80 { significant += 1 }
        }
        return significant > (spaced ? longestReadSpelling : longestSpelling)
    }

    @inline(__always)
    private func hasLetterSet(_ set: UInt32) -> Bool {
        let slot = Self.letterSetSlot(set)
        return letterSets[slot >> 6] & 1 << UInt64(slot & 63) != 0
    }

    /// An ASCII letter's bit in a letter set (either case), any digit's bit 26; 0 for other bytes.
    private static func letterBit(_ byte: UInt8) -> UInt32 {
        let lower = byte | 0x20
        if lower >= UInt8(ascii: "a"), lower <= UInt8(ascii: "z") { return 1 << UInt32(lower - UInt8(ascii: "a")) }
        return byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? 1 << 26 : 0
    }

    @inline(__always)
    private static func letterSetSlot(_ set: UInt32) -> Int {
        Int(truncatingIfNeeded: (UInt64(set) &* 0x9e37_79b9_7f4a_7c15) >> 52)
    }
}

/// Redacted qualified names as JSON-LD keys expand to them: `namespace + local`, and `namespace + "#" + local` when
/// the namespace does not end with `#` (NIEM 3.0 to 5.2 namespaces end with `/`, and their JSON-LD contexts bind
/// their prefixes to the namespace followed by `#`).
///
/// Only hashes of these IRIs are kept, computed once per set of names; a hash that matches is confirmed against the
/// names themselves.
struct QualifiedIRIs: Sendable {
    /// Each redacted qualified name's IRI (or IRIs) by hash, giving the name.
    private var iris: HashIndex
    private var candidates: [Candidate] = []

    private struct Candidate {
        let namespace: [UInt8]
        let local: [UInt8]
    }

    /// Nil when there are no qualified names. The arguments are ``RedactedNames``'s tables.
    init?(namespaceIndex: [String: Int32], localNames: [[[UInt8]]]) {
        let count = localNames.reduce(0) { $0 + $1.count }
        guard count > 0 else { return nil }
        iris = HashIndex(capacity: 2 * count)
        for (namespace, index) in namespaceIndex {
            let bytes = Array(namespace.utf8)
            let namespace = JSONLDIRI(bytes), withHash = bytes.last == UInt8(ascii: "#") ? nil : JSONLDIRI(bytes + [UInt8(ascii: "#")])
            for local in localNames[Int(index)] {
                let candidate = Int32(candidates.count), hash = local.withUnsafeBytes { PolyHash($0) }
                candidates.append(Candidate(namespace: bytes, local: local))
                iris.insert(namespace.hash.followed(by: hash).value, candidate)
                if let withHash { iris.insert(withHash.hash.followed(by: hash).value, candidate) }
            }
        }
    }

    /// Whether the decoded key `text`, expanded through `context`, names a redacted qualified name.
    func matches(_ text: UnsafeRawBufferPointer, in context: JSONLDContext?) -> Bool {
        // The empty key is no term, but `@vocab` expands it: to the vocabulary's IRI itself.
        guard let first = text.first else { return context?.vocab.map { isRedacted($0.hash, $0.bytes, text) } ?? false }
        guard first != UInt8(ascii: "@") else { return false }
        let colon = text.firstIndex(of: UInt8(ascii: ":"))
        // Without a context, only an absolute or compact IRI can expand (a key by its local name alone is a field
        // name: ``RedactedNames``).
        guard context != nil || colon != nil else { return false }
        if let context, colon == nil || context.hasCompactTerms, let term = context.term(text) {
            if !term.isKeyword, isRedacted(term.hash, term.bytes, UnsafeRawBufferPointer(start: nil, count: 0)) { return true }
            // A term that is also a compact IRI is checked both ways.
            if colon == nil { return false }
        }
        guard let colon else { return context?.vocab.map { isRedacted($0.hash, $0.bytes, text) } ?? false }
        let suffix = UnsafeRawBufferPointer(rebasing: text[(colon + 1)...])
        let none: [UInt8] = []
        if suffix.count >= 2, suffix[0] == UInt8(ascii: "/"), suffix[1] == UInt8(ascii: "/") { return isRedacted(PolyHash(), none, text) }
        if let iri = context?.term(UnsafeRawBufferPointer(rebasing: text[..<colon])) {
            guard !iri.isKeyword else { return false }
            if isRedacted(iri.hash, iri.bytes, suffix) { return true }
            // JSON-LD 1.1 takes a term for a prefix only if its IRI ends with a delimiter; otherwise the key is an
            // absolute IRI as written (a 1.0 processor expands it as above): checked both ways, as below.
            if iri.endsWithDelimiter { return false }
        }
        // An undefined prefix: an absolute IRI as written (a compact IRI whose context is unknown is matched by its
        // local name, as a field name).
        return isRedacted(PolyHash(), none, text)
    }

    /// Whether `base` followed by `suffix` is a redacted qualified name's IRI: `namespace + local`, or
    /// `namespace + "#" + local` for a namespace that does not end with `#`.
    private func isRedacted(_ hash: PolyHash, _ base: [UInt8], _ suffix: UnsafeRawBufferPointer) -> Bool {
        iris.contains(hash.followed(by: PolyHash(suffix)).value) { candidate in
            let (namespace, local) = (candidates[Int(candidate)].namespace, candidates[Int(candidate)].local)
            let iri = base + suffix
            guard iri.starts(with: namespace), iri.count == namespace.count + local.count || iri.count == namespace.count + 1 + local.count else {
                return false
            }
            if iri[namespace.count...].elementsEqual(local) { return true }
            return namespace.last != UInt8(ascii: "#") && iri[namespace.count] == UInt8(ascii: "#") && iri[(namespace.count + 1)...].elementsEqual(local)
        }
    }
}

/// An IRI (or a keyword), and its hash.
struct JSONLDIRI: Sendable {
    let bytes: [UInt8]
    let hash: PolyHash

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        hash = bytes.withUnsafeBytes { PolyHash($0) }
    }

    var isKeyword: Bool { bytes.first == UInt8(ascii: "@") }

    /// Whether it ends with one of RFC 3986's gen-delims (`:/?#[]@`), which JSON-LD 1.1 requires of a prefix's IRI.
    var endsWithDelimiter: Bool { bytes.last.map { ":/?#[]@".utf8.contains($0) } ?? false }
}

/// A polynomial hash of bytes, modulo 2^64, with their count: the hash of bytes followed by others follows from the
/// two hashes, so an IRI's hash follows from its namespace's and local name's, or from its prefix's and a key suffix's.
struct PolyHash: Sendable {
    private static let base: UInt64 = 0x9e37_79b9_7f4a_7c15
    private(set) var value: UInt64 = 0
    private(set) var count = 0

    init() {}

    init(_ bytes: UnsafeRawBufferPointer) {
        let base = Self.base, base2 = base &* base, base3 = base2 &* base, base4 = base3 &* base
        var index = 0
        // Four bytes a step: their products are independent, so only one multiplication a step waits on the last.
        while index + 4 <= bytes.count {
            let terms = (UInt64(bytes[index]) &+ 1) &* base3 &+ (UInt64(bytes[index + 1]) &+ 1) &* base2
                &+ (UInt64(bytes[index + 2]) &+ 1) &* base &+ UInt64(bytes[index + 3]) &+ 1
            value = value &* base4 &+ terms
            index += 4
        }
        while index < bytes.count {
            value = value &* base &+ UInt64(bytes[index]) &+ 1
            index += 1
        }
        count = bytes.count
    }

    func followed(by other: PolyHash) -> PolyHash {
        var power: UInt64 = 1, square = Self.base, exponent = other.count
        while exponent > 0 {
            if exponent & 1 == 1 { power &*= square }
            square &*= square
            exponent >>= 1
        }
        var result = PolyHash()
        result.value = value &* power &+ other.value
        result.count = count + other.count
        return result
    }
}

/// 64-bit hashes, each with a value, open-addressed and never more than half full: looking one up hashes nothing
/// again. A hash may be given more than once.
struct HashIndex: Sendable {
    /// Zero marks an empty slot; a hash of zero is stored as one.
    private var hashes: [UInt64]
    private var values: [Int32]
    private var count = 0
    /// A slot is the top bits of the hash, multiplied: 64 less log2 of the slots.
    private let shift: UInt64

    /// Room for `capacity` hashes.
    init(capacity: Int) {
        var slots = 16
        while slots < 2 * capacity { slots *= 2 }
        hashes = [UInt64](repeating: 0, count: slots)
        values = [Int32](repeating: 0, count: slots)
        shift = UInt64(64 - slots.trailingZeroBitCount)
    }

    private func slot(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: (hash &* 0x9e37_79b9_7f4a_7c15) >> shift) }

    mutating func insert(_ hash: UInt64, _ value: Int32) {
        precondition(2 * (count + 1) <= hashes.count, "a HashIndex holds no more than its capacity")
        let hash = max(hash, 1), mask = hashes.count - 1
        var slot = slot(hash)
        while hashes[slot] != 0 { slot = (slot + 1) & mask }
        hashes[slot] = hash
        values[slot] = value
        count += 1
    }

    /// Whether some value given with `hash` satisfies `confirm`.
    func contains(_ hash: UInt64, where confirm: (Int32) -> Bool) -> Bool {
        let hash = max(hash, 1), mask = hashes.count - 1
        var slot = slot(hash)
        while hashes[slot] != 0 {
            if hashes[slot] == hash, confirm(values[slot]) { return true }
            slot = (slot + 1) & mask
        }
        return false
    }
}

/// A JSON-LD active context, as far as key expansion needs it: the terms one `@context` object defined (or
/// undefined), layered on the context it was defined over, so that building one costs its own terms, not those it
/// inherits.
final class JSONLDContext: Sendable {
    private let parent: JSONLDContext?
    let vocab: JSONLDIRI?
    /// This layer's terms by hash, so that keys are looked up without allocating: each term's IRI, expanded (or the
    /// keyword it aliases), or nil for a term this layer undefines.
    private let byHash: [UInt64: [(term: [UInt8], iri: JSONLDIRI?)]]
    /// Whether some term in force may hold a colon: only then may a key with one be a term.
    let hasCompactTerms: Bool
    /// The bytes of the terms and IRIs of this layer and those beneath it.
    let size: Int

    /// An empty context, or `terms` (nil undefining a term) over `parent`, with `vocab` in force.
    init(terms: [[UInt8]: [UInt8]?] = [:], vocab: [UInt8]? = nil, over parent: JSONLDContext? = nil) {
        self.parent = parent
        self.vocab = vocab.map(JSONLDIRI.init)
        var byHash: [UInt64: [(term: [UInt8], iri: JSONLDIRI?)]] = [:]
        for (term, iri) in terms {
            byHash[term.withUnsafeBytes { PolyHash($0).value }, default: []].append((term, iri.map(JSONLDIRI.init)))
        }
        self.byHash = byHash
        hasCompactTerms = (parent?.hasCompactTerms ?? false) || terms.keys.contains { $0.contains(UInt8(ascii: ":")) }
        size = terms.reduce((parent?.size ?? 0) + (vocab?.count ?? 0)) { $0 + $1.key.count + ($1.value?.count ?? 0) }
    }

    /// The IRI of the term `text` in force: the innermost layer that defines or undefines it decides.
    func term(_ text: UnsafeRawBufferPointer) -> JSONLDIRI? {
        let hash = PolyHash(text).value
        var layer: JSONLDContext? = self
        while let current = layer {
            if let entry = current.byHash[hash]?.first(where: { $0.term.elementsEqual(text) }) { return entry.iri }
            layer = current.parent
        }
        return nil
    }

    func term(_ bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBytes { term($0)?.bytes }
    }
}

/// Reads a complete, already validated `@context` value, and hands it on (``handedOn()``) without the terms named
/// like a redacted field: each is removed as a member of that name is anywhere else, its definition unread, and the
/// context read without it, as a client then reads it.
private struct JSONLDContextReader {
    private var scanner: JSONScanner
    /// Where the value begins in the body.
    private let offset: Int
    /// The redacted field names, compared with terms as with any key.
    private let redacted: JSONFieldNames
    /// Under an allow-list every term must define an IRI, never carry a value: nothing else in a context is removed,
    /// and every name the list does not keep is withheld.
    private let allowList: Bool
    /// Where each removed term lies in the value, from its key's quote to its definition's end, in order.
    private var removed: [Range<Int>] = []
    /// Where the key of the member being read begins.
    private var keyStart = 0

    init(_ bytes: [UInt8], offset: Int, redacted: JSONFieldNames, allowList: Bool) throws(RedactionError) {
        do throws(JSONError) {
            scanner = try JSONScanner(bytes)
        } catch {
            throw RedactionError(.malformed, error.detail, offset: offset + error.offset)
        }
        self.offset = offset
        self.redacted = redacted
        self.allowList = allowList
    }

    var removedTerms: Int { removed.count }

    /// The value as it is handed on, once read: without the removed terms (nor their commas) or insignificant white
    /// space.
    func handedOn() -> [UInt8] {
        let bytes = scanner.bytes
        var kept: [UInt8] = []
        kept.reserveCapacity(bytes.count)
        var index = 0, next = 0, inString = false, escaped = false, comma = false
        while index < bytes.count {
            if next < removed.count, index == removed[next].lowerBound {
                index = removed[next].upperBound
                next += 1
                continue
            }
            let byte = bytes[index]
            index += 1
            if inString {
                kept.append(byte)
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case 0x20, 0x0a, 0x0d, 0x09: continue
            case UInt8(ascii: ","):
                comma = true
                continue
            default: break
            }
            // A comma goes between two members or elements, never where a removed term leaves none beside it.
            if comma, byte != UInt8(ascii: "}"), byte != UInt8(ascii: "]"),
               let last = kept.last, last != UInt8(ascii: "{"), last != UInt8(ascii: "[") {
                kept.append(UInt8(ascii: ","))
            }
            comma = false
            kept.append(byte)
            if byte == UInt8(ascii: "\"") { inString = true }
        }
        return kept
    }

    /// The context in force after this value, given the one in force before.
    mutating func read(over parent: JSONLDContext) throws(RedactionError) -> JSONLDContext {
        scanner.skipWhitespace()
        guard scanner.current == UInt8(ascii: "[") else { return try entry(over: parent) }
        scanner.index += 1
        var context = parent, first = true
        while try nextElement(&first) { context = try entry(over: context) }
        return context
    }

    private func refused(_ detail: String) -> RedactionError { RedactionError(.refused, detail, offset: offset + scanner.index) }
    private func malformed(_ detail: String) -> RedactionError { RedactionError(.malformed, detail, offset: offset + scanner.index) }

    private mutating func json<T>(_ body: (inout JSONScanner) throws(JSONError) -> T) throws(RedactionError) -> T {
        do throws(JSONError) {
            return try body(&scanner)
        } catch {
            throw RedactionError(.malformed, error.detail, offset: offset + error.offset)
        }
    }

    /// Whether another array element follows (the scanner then at it).
    private mutating func nextElement(_ first: inout Bool) throws(RedactionError) -> Bool {
        scanner.skipWhitespace()
        if scanner.current == UInt8(ascii: "]") {
            scanner.index += 1
            return false
        }
        if !first { try json { scanner throws(JSONError) in try scanner.expect(UInt8(ascii: ",")) } }
        first = false
        scanner.skipWhitespace()
        return true
    }

    /// The next member's key (the scanner then at its value), or nil at the object's end.
    private mutating func nextMember(_ first: inout Bool) throws(RedactionError) -> String? {
        scanner.skipWhitespace()
        if scanner.current == UInt8(ascii: "}") {
            scanner.index += 1
            return nil
        }
        if !first { try json { scanner throws(JSONError) in try scanner.expect(UInt8(ascii: ",")) } }
        first = false
        scanner.skipWhitespace()
        keyStart = scanner.index
        return try json { scanner throws(JSONError) in
            let key = try scanner.scanString().decoded
            try scanner.expect(UInt8(ascii: ":"))
            scanner.skipWhitespace()
            return key
        }
    }

    private mutating func skipValue() throws(RedactionError) {
        try json { scanner throws(JSONError) in try scanner.skipValue(depth: 0) }
    }

    /// A string, or nil for null.
    private mutating func stringOrNull(_ what: String) throws(RedactionError) -> [UInt8]? {
        switch scanner.current {
        case UInt8(ascii: "\""): return try json { scanner throws(JSONError) in Array(try scanner.scanString().decoded.utf8) }
        case UInt8(ascii: "n"):
            try skipValue()
            return nil
        default: throw malformed("\(what) that is neither a string nor null")
        }
    }

    /// A keyword's value that JSON-LD allows only as a string, number, boolean or null (or, with `strings`, an array
    /// of strings: `@container`). Nothing in a context is redacted, so an object or array there could carry any
    /// field a plain JSON client reads (`"@base": {"citizenship": "MX"}`): refused instead.
    private mutating func skipScalar(_ keyword: StaticString, strings: Bool = false) throws(RedactionError) {
        if strings, scanner.current == UInt8(ascii: "[") {
            scanner.index += 1
            var first = true
            while true {
                scanner.skipWhitespace()
                if scanner.current == UInt8(ascii: "]") {
                    scanner.index += 1
                    return
                }
                if !first { try json { scanner throws(JSONError) in try scanner.expect(UInt8(ascii: ",")); scanner.skipWhitespace() } }
                first = false
                guard scanner.current == UInt8(ascii: "\"") else { throw malformed("\(keyword) holding other than strings") }
                try skipValue()
            }
        }
        guard scanner.current != UInt8(ascii: "{"), scanner.current != UInt8(ascii: "[") else {
            throw malformed("\(keyword) that is not a string, number, boolean or null")
        }
        try skipValue()
    }

    /// A context's `@type`, which JSON-LD 1.1 allows only as `{"@container": "@set"}` (and `@protected`).
    private mutating func contextType() throws(RedactionError) {
        guard scanner.current == UInt8(ascii: "{") else { throw malformed("@type in a JSON-LD context that is not an object") }
        scanner.index += 1
        var first = true
        while let key = try nextMember(&first) {
            guard key == "@container" || key == "@protected" else { throw refused("@type in a JSON-LD context with other than @container") }
            try skipScalar("@type's members")
        }
    }

    /// One context: null resets it, an object adds to it.
    private mutating func entry(over context: JSONLDContext) throws(RedactionError) -> JSONLDContext {
        switch scanner.current {
        case UInt8(ascii: "n"):
            try skipValue()
            return JSONLDContext()
        case UInt8(ascii: "\""):
            throw refused("a remote JSON-LD context")
        case UInt8(ascii: "{"):
            scanner.index += 1
            return try definitions(over: context)
        default:
            throw malformed("a JSON-LD context that is not an object, an array of them, or null")
        }
    }

    private mutating func definitions(over base: JSONLDContext) throws(RedactionError) -> JSONLDContext {
        var local: [[UInt8]: [UInt8]?] = [:]
        /// Checked once the whole object is read, since a prefix may be defined after a term that uses it.
        var guardedTerms: [(key: String, iri: [UInt8])] = []
        var vocab: [UInt8]?? = nil
        var first = true
        while let key = try nextMember(&first) {
            switch key {
            case "@vocab":
                vocab = .some(try stringOrNull("@vocab"))
            case "@base", "@version", "@language", "@direction", "@protected":
                // `@base` resolves `@id` values, and a relative vocabulary, which is refused below.
                try skipScalar("a context keyword")
            case "@type":
                try contextType()
            case "@propagate":
                // `false` would restore the outer context in nested objects, which is not followed here.
                guard scanner.current == UInt8(ascii: "t") else { throw refused("@propagate other than true in a JSON-LD context") }
                try skipValue()
            case "@import":
                throw refused("@import in a JSON-LD context")
            case "":
                throw malformed("an empty JSON-LD term")
            default:
                // The key is not quoted: an error's detail reaches the client, and the body's bytes must not.
                guard !key.hasPrefix("@") else { throw refused("an unknown keyword in a JSON-LD context") }
                // A plain JSON client reads `"@context": {"alienNumber": "urn:A123456789"}` as a value, whatever it
                // defines: a term of a redacted name goes.
                if redacted.contains(key) {
                    let start = keyStart
                    try skipValue()
                    removed.append(start..<scanner.index)
                    continue
                }
                // Under an allow-list, a term may define an IRI of a web or URN scheme, a compact IRI of a prefix this
                // context or the one in force defines, a keyword alias or itself (a vocabulary term), by a string or
                // an object of `@id` alone, and nothing else.
                let iri = try termDefinition(idOnly: allowList)
                if allowList, let iri { guardedTerms.append((key, iri)) }
                local.updateValue(iri, forKey: Array(key.utf8))
            }
        }
        for (key, iri) in guardedTerms where !Self.namesAnIRI(iri, key: key, terms: local, over: base) {
            throw refused("a JSON-LD term defined as other than an IRI, where it could carry a value")
        }
        // An empty context changes nothing: the one in force stands.
        if local.isEmpty, vocab == nil { return base }
        var terms: [[UInt8]: [UInt8]?] = [:], newVocab = base.vocab?.bytes
        do throws(TermChainTooLong) {
            if case .some(let vocab) = vocab {
                newVocab = nil
                // Expanded through the context it is defined over, not this one's terms (JSON-LD 1.1, context processing).
                if let vocab { newVocab = try Self.expand(vocab, local: [:], base: base, vocab: base.vocab?.bytes, depth: 0) }
            }
            for (term, iri) in local {
                terms[term] = .some(nil)
                if let iri { terms[term] = try Self.expand(iri, local: local, base: base, vocab: newVocab, depth: 0) }
            }
        } catch {
            throw refused("a JSON-LD term defined through more than \(Self.maxTermChain) others, in a cycle, or as itself without @vocab")
        }
        // A relative vocabulary is resolved against the document's base, which is not known here.
        if let newVocab, !Self.isAbsolute(newVocab) { throw refused("a relative JSON-LD @vocab") }
        return JSONLDContext(terms: terms, vocab: newVocab, over: base)
    }

    /// Whether a guarded term's definition names an IRI rather than carrying a value: an IRI of a web, URN or tag
    /// scheme, a blank node, a compact IRI of a prefix defined (not as null) here (`terms`) or in `context`, a
    /// keyword, or the term.
    private static func namesAnIRI(_ iri: [UInt8], key: String, terms: [[UInt8]: [UInt8]?], over context: JSONLDContext) -> Bool {
        if keywords.contains(iri) || iri.elementsEqual(key.utf8) || iri.starts(with: "_:".utf8) { return true }
        guard isAbsolute(iri), let colon = iri.firstIndex(of: UInt8(ascii: ":")) else { return false }
        let scheme = Array(iri[..<colon])
        if ["http", "https", "urn", "tag"].contains(where: { scheme.map { $0 | 0x20 }.elementsEqual($0.utf8) }) { return true }
        return (terms[scheme] ?? nil) != nil || context.term(scheme) != nil
    }

    /// A term's IRI (or keyword), as written; nil when it is left undefined.

    /// JSON-LD 1.1's keywords, which a term may alias.
    private static let keywords: Set<[UInt8]> = Set([
        "@base", "@container", "@context", "@direction", "@graph", "@id", "@import", "@included", "@index", "@json", "@language",
        "@list", "@nest", "@none", "@prefix", "@propagate", "@protected", "@reverse", "@set", "@type", "@value", "@version", "@vocab",
    ].map { Array($0.utf8) })

    /// - Parameter idOnly: an object form may hold `@id` alone (under an allow-list: any other member could carry a
    ///   value that nothing removes).
    private mutating func termDefinition(idOnly: Bool) throws(RedactionError) -> [UInt8]? {
        guard scanner.current == UInt8(ascii: "{") else {
            guard scanner.current == UInt8(ascii: "\"") || scanner.current == UInt8(ascii: "n") else {
                throw malformed("a JSON-LD term definition that is not a string, an object or null")
            }
            return try checked(stringOrNull("a term definition"))
        }
        scanner.index += 1
        var id: [UInt8]?
        var first = true
        while let key = try nextMember(&first) {
            guard !idOnly || key == "@id" else { throw refused("under a field limit, a JSON-LD term with members other than @id") }
            switch key {
            case "@id": id = try checked(stringOrNull("@id"))
            case "@reverse": throw refused("a JSON-LD reverse property")
            case "@context": throw refused("a scoped JSON-LD context")
            // A property-valued index makes each key of the term's map a value of the property it names, which may
            // be a redacted one: `{"@container": "@index", "@index": "citizenship"}` turns `{"MX": {…}}` into a
            // citizenship of "MX" for a JSON-LD processor.
            case "@index": throw refused("a JSON-LD property-valued index")
            case "@container": try skipScalar("@container", strings: true)
            case "@type", "@language", "@direction", "@protected", "@prefix", "@nest": try skipScalar("a term definition's keyword")
            default: throw refused("an unknown keyword in a JSON-LD term definition")
            }
        }
        return id
    }

    private func checked(_ iri: [UInt8]?) throws(RedactionError) -> [UInt8]? {
        if iri?.elementsEqual("@reverse".utf8) == true { throw refused("a JSON-LD reverse property") }
        if iri?.elementsEqual("@context".utf8) == true { throw refused("an alias of @context") }
        // A key that a JSON-LD processor reads as nesting, a graph or included nodes, whose members it then takes as
        // the record's own: under an allow-list, a kept key would carry members no one listed. Written out, these
        // keywords' members are redacted; aliased, they would be read as the key they are written as.
        if let iri, Self.nestingKeywords.contains(iri) { throw refused("an alias of a JSON-LD keyword that nests members (@nest, @graph, @included)") }
        return iri
    }

    private static let nestingKeywords: Set<[UInt8]> = Set(["@nest", "@graph", "@included"].map { Array($0.utf8) })

    /// A term defined through a chain of more than ``maxTermChain`` others of its context, in a cycle, or as itself
    /// without a vocabulary: a JSON-LD processor would follow the chain to its end (or refuse the others), so the
    /// redactor refuses it.
    private struct TermChainTooLong: Error {}
    private static let maxTermChain = 8

    /// Whether `iri` starts with a scheme (`letter *(letter / digit / "+" / "-" / ".") ":"`), or is a blank node.
    private static func isAbsolute(_ iri: [UInt8]) -> Bool {
        if iri.starts(with: "_:".utf8) { return true }
        guard let colon = iri.firstIndex(of: UInt8(ascii: ":")), colon > 0, iri[0] | 0x20 >= UInt8(ascii: "a"), iri[0] | 0x20 <= UInt8(ascii: "z") else {
            return false
        }
        return iri[..<colon].allSatisfy { byte in
            (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
    }

    /// Expands a term's IRI as written: keywords stay; `prefix:suffix` uses the prefix term (unless the suffix starts
    /// with `//`, or the prefix is `_`); a term is looked up, and one defined as itself is relative to `vocab`;
    /// anything else is relative to `vocab`. Terms of this context are expanded in turn, through at most
    /// ``maxTermChain`` of them.
    private static func expand(
        _ raw: [UInt8], local: [[UInt8]: [UInt8]?], base: JSONLDContext, vocab: [UInt8]?, depth: Int
    ) throws(TermChainTooLong) -> [UInt8] {
        if raw.first == UInt8(ascii: "@") { return raw }
        func lookUp(_ term: [UInt8]) throws(TermChainTooLong) -> [UInt8]? {
            guard let entry = local[term] else { return base.term(term) }
            guard let entry else { return nil }
            // JSON-LD 1.1: a term whose IRI is the term itself is the vocabulary's term of that name; without a
            // vocabulary it has no IRI, which a processor refuses.
            if entry == term {
                guard let vocab else { throw TermChainTooLong() }
                return vocab + term
            }
            guard depth < maxTermChain else { throw TermChainTooLong() }
            return try expand(entry, local: local, base: base, vocab: vocab, depth: depth + 1)
        }
        if let colon = raw.firstIndex(of: UInt8(ascii: ":")) {
            let prefix = Array(raw[..<colon]), suffix = raw[(colon + 1)...]
            guard !suffix.starts(with: "//".utf8), prefix != [UInt8(ascii: "_")], let iri = try lookUp(prefix), iri.first != UInt8(ascii: "@") else {
                return raw
            }
            return iri + suffix
        }
        if let iri = try lookUp(raw) { return iri }
        return vocab.map { $0 + raw } ?? raw
    }
}
