/// Removes named fields, at any depth, from a JSON document.
///
/// Field names are compared after JSON escapes are decoded, as ``FieldNameKey`` says, so `"citi\u007aenship"`,
/// `"Citizenship"` and `"citizen_ship"` are removed along with `"citizenship"`, and a key with non-ASCII letters is
/// compared the same way whether it is escaped or not. The input must be a complete, valid JSON document; anything
/// else is refused rather than forwarded half-redacted. Insignificant whitespace is not preserved.
///
/// Every scalar must sit under a member's name, since names are all redaction can see: the document is an object, or
/// an array of objects (arrays of them nested at any depth), and a bare string, or an array of strings, is refused.
/// So is a string value that spells a redacted name (``ValueNames``): a record of names and values would hand the
/// field on under keys of its own.
///
/// The document is validated in one pass that records what to leave out (redacted members with their separating
/// comma, and whitespace); the output is then the input's remaining runs, copied whole.
public struct JSONRedactor: Sendable {
    /// The names, as ``FieldNameKey`` compares them.
    public var fields: Set<String> { names.fields }
    /// The names compiled for comparing keys without allocating or reference counting.
    private let names: JSONFieldNames
    /// The names a string value must not spell, as ``RedactedNames/valueNames``.
    private let valueNames: ValueNames

    /// - Parameter fields: names to remove; compared as ``FieldNameKey`` says.
    public init(fields: some Sequence<String>) {
        let keys = Set(fields.map(FieldNameKey.of).filter { !$0.isEmpty })
        names = JSONFieldNames(keys)
        valueNames = ValueNames(keys)
    }

    public var isEmpty: Bool { fields.isEmpty }

    /// Returns the redacted document and how many members were removed.
    public func redact(_ input: [UInt8]) throws(JSONError) -> (output: [UInt8], removed: Int) {
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        let removed = try redact(input) { output.append(contentsOf: $0) }
        return (output, removed)
    }

    /// Validates the whole document first, then hands the redacted document to `write` as the input's kept runs,
    /// in order, so the caller can copy them straight into its own buffer. Returns how many members were removed.
    /// A refused document writes nothing.
    public func redact(_ input: [UInt8], writingRunsTo write: (UnsafeRawBufferPointer) -> Void) throws(JSONError) -> Int {
        var scanner = try JSONScanner(input)
        var omissions = Omissions()
        try plan(&scanner, &omissions, depth: 0, named: false)
        omissions.skipWhitespace(&scanner)
        guard scanner.atEnd else { throw scanner.fail("trailing data after the document") }
        omissions.writeKeptRuns(of: input, to: write)
        return omissions.removed
    }

    /// Validates one value and records what of it to leave out. `named` says whether the value is under a member's
    /// name (directly, or in arrays that are).
    private func plan(_ scanner: inout JSONScanner, _ omissions: inout Omissions, depth: Int, named: Bool) throws(JSONError) {
        omissions.skipWhitespace(&scanner)
        guard depth < JSONScanner.maximumDepth else { throw scanner.fail("nesting deeper than \(JSONScanner.maximumDepth)") }
        switch scanner.current {
        case UInt8(ascii: "{"):
            scanner.index += 1
            omissions.skipWhitespace(&scanner)
            if scanner.current == UInt8(ascii: "}") {
                scanner.index += 1
                return
            }
            var keptBefore = false
            var commaBefore: Int?
            while true {
                omissions.skipWhitespace(&scanner)
                let keyStart = scanner.index
                let key = try scanner.skipString()
                omissions.skipWhitespace(&scanner)
                guard scanner.current == UInt8(ascii: ":") else { throw scanner.fail("expected ':'") }
                scanner.index += 1
                let redacted = try isRedacted(&scanner, key: key.raw, hasEscape: key.hasEscape)
                if redacted {
                    try scanner.skipValue(depth: depth + 1)
                } else {
                    try plan(&scanner, &omissions, depth: depth + 1, named: true)
                }
                omissions.skipWhitespace(&scanner)
                let terminator = scanner.index
                guard let byte = scanner.current, byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") else {
                    throw scanner.fail("expected ',' or '}'")
                }
                if redacted {
                    // The member goes with the comma before it; the first kept member's comma goes with it instead.
                    if keptBefore, let commaBefore {
                        omissions.omit(commaBefore..<terminator)
                    } else {
                        omissions.omit(keyStart..<(byte == UInt8(ascii: ",") ? terminator + 1 : terminator))
                    }
                    omissions.removed += 1
                } else {
                    keptBefore = true
                }
                scanner.index += 1
                if byte == UInt8(ascii: "}") { return }
                commaBefore = terminator
            }
        case UInt8(ascii: "["):
            scanner.index += 1
            omissions.skipWhitespace(&scanner)
            if scanner.current == UInt8(ascii: "]") {
                scanner.index += 1
                return
            }
            while true {
                try plan(&scanner, &omissions, depth: depth + 1, named: named)
                omissions.skipWhitespace(&scanner)
                switch scanner.current {
                case UInt8(ascii: ","): scanner.index += 1
                case UInt8(ascii: "]"):
                    scanner.index += 1
                    return
                default: throw scanner.fail("expected ',' or ']'")
                }
            }
        default:
            guard named else { throw scanner.fail("a value outside any object member") }
            if scanner.current == UInt8(ascii: "\"") {
                let string = try scanner.skipString()
                let spelled = scanner.bytes.withUnsafeBytes {
                    valueNames.isSpelled(byString: UnsafeRawBufferPointer(rebasing: $0[(string.raw.lowerBound + 1)..<(string.raw.upperBound - 1)]))
                }
                if spelled { throw scanner.fail(ValueNames.refusal) }
            } else {
                _ = try scanner.scanScalar()
            }
        }
    }

    /// Whether the key at `raw` (with quotes) names a redacted field. A plain ASCII key is compared as bytes; any
    /// other key is decoded first.
    private func isRedacted(_ scanner: inout JSONScanner, key raw: Range<Int>, hasEscape: Bool) throws(JSONError) -> Bool {
        if hasEscape || !scanner.isASCII && scanner.bytes[raw].contains(where: { $0 >= 0x80 }) {
            let end = scanner.index
            scanner.index = raw.lowerBound
            let decoded = try scanner.scanString().decoded
            scanner.index = end
            return names.contains(decoded)
        }
        return scanner.bytes.withUnsafeBytes { names.containsASCII($0, at: raw.lowerBound + 1, length: raw.count - 2) }
    }
}

extension JSONRedactor {
    /// The eight bytes at `offset` (fewer at the end of `bytes`, zero-padded) as a little-endian word.
    @inline(__always)
    static func word(in bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        guard offset + 8 > bytes.count else { return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        var word: UInt64 = 0
        for index in stride(from: bytes.count - 1, through: offset, by: -1) { word = word << 8 | UInt64(bytes[index]) }
        return word
    }

    /// ``word(in:at:)`` with ASCII capitals lower-cased.
    static func lowercasedWord(in bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        let word = word(in: bytes, at: offset)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let low = word & ~highs
        // A byte's high bit, after adding to its low seven bits: set from 0x41 ('A') up, and from 0x5B up.
        let fromA = low &+ ones &* (0x80 - 0x41), pastZ = low &+ ones &* (0x80 - 0x5b)
        let capitals = fromA & ~pastZ & ~word & highs
        return word | capitals >> 2
    }
}

/// The byte ranges a redaction leaves out of its input, in order and not overlapping.
private struct Omissions {
    private(set) var ranges: [Range<Int>] = []
    var removed = 0

    /// Leaves out `range`, which covers any range recorded since it began.
    mutating func omit(_ range: Range<Int>) {
        while let last = ranges.last, last.lowerBound >= range.lowerBound { ranges.removeLast() }
        ranges.append(range)
    }

    /// Skips whitespace and leaves it out.
    mutating func skipWhitespace(_ scanner: inout JSONScanner) {
        // Compact documents have none: one comparison settles the common case.
        guard let byte = scanner.current, byte <= 0x20 else { return }
        let start = scanner.index
        scanner.skipWhitespace()
        if scanner.index > start { omit(start..<scanner.index) }
    }

    /// Passes the input without the omitted ranges to `write`, one kept run at a time (empty runs are skipped).
    func writeKeptRuns(of input: [UInt8], to write: (UnsafeRawBufferPointer) -> Void) {
        input.withUnsafeBytes { bytes in
            var kept = 0
            for range in ranges {
                if range.lowerBound > kept { write(UnsafeRawBufferPointer(rebasing: bytes[kept..<range.lowerBound])) }
                kept = range.upperBound
            }
            if bytes.count > kept { write(UnsafeRawBufferPointer(rebasing: bytes[kept...])) }
        }
    }
}

/// Reads fields from small JSON request bodies.
public enum JSONFields {
    /// Refuses `document` unless it is one JSON value in UTF-8 in which no object names a member twice, keys compared
    /// as decoded strings, as Foundation's decoder compares them (`"\u0065ntry"` is `"entry"`, and canonically
    /// equivalent spellings are one key): decoders disagree on which copy of a member wins.
    public static func checkUniqueKeys(in document: [UInt8]) throws(JSONError) {
        var scanner = try JSONScanner(document)
        try walk(&scanner, depth: 0) { _, _, _ throws(JSONError) in false }
        try scanner.finish()
    }

    /// Walks one JSON value, refusing an object that gives a member twice (keys compared decoded) and nesting deeper
    /// than ``JSONScanner/maximumDepth``. `member` sees each member's decoded key and its object's depth first, and
    /// returns true when it has read the member's value itself.
    private static func walk(
        _ scanner: inout JSONScanner, depth: Int, _ member: (inout JSONScanner, String, Int) throws(JSONError) -> Bool,
        scalar: ((Scalar) -> Void)? = nil
    ) throws(JSONError) {
        scanner.skipWhitespace()
        switch scanner.current {
        case UInt8(ascii: "{"):
            guard depth < JSONScanner.maximumDepth else { throw scanner.fail("nesting deeper than \(JSONScanner.maximumDepth)") }
            scanner.index += 1
            var keys = Set<String>()
            try scanner.forEachMember { scanner, key throws(JSONError) in
                guard keys.insert(key.decoded).inserted else {
                    throw scanner.fail("the member \"\(TerminalText.escaped(String(key.decoded.prefix(64))))\" is given twice in one object")
                }
                scalar?(Scalar(text: key.decoded, isString: true))
                if try member(&scanner, key.decoded, depth) { return }
                try walk(&scanner, depth: depth + 1, member, scalar: scalar)
            }
        case UInt8(ascii: "["):
            guard depth < JSONScanner.maximumDepth else { throw scanner.fail("nesting deeper than \(JSONScanner.maximumDepth)") }
            scanner.index += 1
            try scanner.forEachElement { scanner throws(JSONError) in try walk(&scanner, depth: depth + 1, member, scalar: scalar) }
        case UInt8(ascii: "\""):
            guard let scalar else { return try scanner.skipValue(depth: depth) }
            scalar(Scalar(text: try scanner.scanString().decoded, isString: true))
        default:
            guard let scalar else { return try scanner.skipValue(depth: depth) }
            scalar(Scalar(text: String(decoding: scanner.bytes[try scanner.scanScalar()], as: UTF8.self), isString: false))
        }
    }

    /// A scalar member of a JSON request body: a string's decoded text, or a number's or literal's text as written.
    public struct Scalar: Sendable, Equatable {
        public let text: String
        public let isString: Bool
    }

    /// The top-level members `names` of a JSON request body that are present, each under its key spelt exactly as
    /// given (the decoded key's bytes), and read so that no upstream's binder can take another member for it. Refuses
    /// a body that is not a JSON object; a member given twice in any object (keys compared decoded) or a key holding a
    /// control character (a parser that keeps keys as C strings ends it at a NUL); a named member that is an object or
    /// array; a name spelt otherwise, beside the exact one or alone, at any depth: in another letter case
    /// (``ParameterName/matchesIgnoringCase(_:_:)``; `ReceivingAgency`, which Codable, System.Text.Json and Jackson do
    /// not bind by default, so the gateway would decide on a value the upstream never reads) or with other separators
    /// (``FieldNameKey``; `booking_number` to a snake-case naming strategy); the exact name below the top level
    /// (`visit.bookingNumber` to Rails, which does not wrap a body that holds its wrapper key); and a top-level method
    /// override (`_method`: Laravel reads a JSON body's members as its input, and Symfony the method from them).
    ///
    /// `others` is given every key, and every scalar but the named members' values, at any depth, as ``Scalar`` reads
    /// them.
    public static func decidedMembers(
        _ names: [String], in body: [UInt8], others: ((Scalar) -> Void)? = nil
    ) throws(JSONError) -> [String: Scalar] {
        var scanner = try JSONScanner(body)
        scanner.skipWhitespace()
        guard scanner.current == UInt8(ascii: "{") else { throw scanner.fail("body is not a JSON object") }
        var reading = MemberReading(names: names)
        try walk(&scanner, depth: 0, { scanner, key, depth throws(JSONError) in try reading.member(&scanner, key: key, depth: depth) }, scalar: others)
        try scanner.finish()
        return reading.found
    }

    /// Reads a JSON body that a route forwards beside a subject its target gives (the parameter `subjectName`), and
    /// refuses one that holds a member that may be read as that parameter, at any depth and in any spelling (an
    /// upstream that merges a body's members with its path and query parameters, as Rails and Laravel do, may let the
    /// body's win), or a top-level method override, as ``decidedMembers(_:in:others:)`` refuses them. The body may be
    /// any JSON value; `others` is given every key and every scalar, at any depth.
    public static func checkForwardedBody(_ body: [UInt8], besides subjectName: String, others: (Scalar) -> Void) throws(JSONError) {
        var scanner = try JSONScanner(body)
        var reading = MemberReading(names: [subjectName], givenElsewhere: true)
        try withoutActuallyEscaping(others) { others throws(JSONError) in
            try walk(&scanner, depth: 0, { scanner, key, depth throws(JSONError) in try reading.member(&scanner, key: key, depth: depth) }, scalar: others)
        }
        try scanner.finish()
    }

    /// What one walk of a request body for ``decidedMembers(_:in:)`` found.
    private struct MemberReading {
        let names: [String]
        let folded: [String: String]
        /// Whether the names are the request target's, so that the body must not hold them in any spelling.
        let givenElsewhere: Bool
        var found: [String: Scalar] = [:]

        init(names: [String], givenElsewhere: Bool = false) {
            self.names = names
            self.givenElsewhere = givenElsewhere
            folded = Dictionary(names.map { (FieldNameKey.of($0), $0) }, uniquingKeysWith: { first, _ in first })
        }

        /// Reads a named top-level member's value (returning true), or refuses the key; false lets the walk go on.
        mutating func member(_ scanner: inout JSONScanner, key: String, depth: Int) throws(JSONError) -> Bool {
            var shown: String { TerminalText.escaped(String(key.prefix(64))) }
            guard !key.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) else { throw scanner.fail("the key \"\(shown)\" holds a control character") }
            scanner.skipWhitespace()
            // Keys are unique in an object (``walk``), so an exact name is found at most once.
            if depth == 0, !givenElsewhere, let name = names.first(where: { $0.utf8.elementsEqual(key.utf8) }) {
                switch scanner.current {
                case UInt8(ascii: "\""): found[name] = Scalar(text: try scanner.scanString().decoded, isString: true)
                case UInt8(ascii: "{"), UInt8(ascii: "["): throw scanner.fail("'\(name)' is not a string, number or boolean")
                default: found[name] = Scalar(text: String(decoding: scanner.bytes[try scanner.scanScalar()], as: UTF8.self), isString: false)
                }
                return true
            }
            if let name = folded[FieldNameKey.of(key)] ?? names.first(where: { ParameterName.matchesIgnoringCase(key, $0) }) {
                if givenElsewhere { throw scanner.fail("\"\(shown)\" could be read as '\(name)', which the request's target gives") }
                throw scanner.fail("\"\(shown)\" could be read as '\(name)', which the body must name once, at its top level, spelt exactly so")
            }
            if depth == 0, CanonicalTarget.methodOverrides.contains(where: { ParameterName.matchesIgnoringCase(key, $0) }) {
                throw scanner.fail("the member \"\(shown)\" would override the request's method upstream")
            }
            return false
        }
    }
}
