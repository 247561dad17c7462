/// PDF objects, as far as checking signatures needs them (ISO 32000-1 §7.3).
indirect enum PDFObject: Equatable {
    case null
    case boolean(Bool)
    /// An integer or real, as written.
    case number(String)
    /// A literal or hexadecimal string, decoded.
    case string([UInt8])
    case name(String)
    case array([PDFObject])
    case dictionary(PDFDictionary)
    case reference(PDFReference)

    /// The value of an integer written without a sign or a decimal point, if it fits.
    var unsignedInteger: Int? {
        guard case .number(let text) = self, !text.isEmpty, text.utf8.allSatisfy(PDFBytes.isDigit) else { return nil }
        return Int(text)
    }

    var name: String? {
        if case .name(let name) = self { name } else { nil }
    }

    var dictionary: PDFDictionary? {
        if case .dictionary(let dictionary) = self { dictionary } else { nil }
    }

    var reference: PDFReference? {
        if case .reference(let reference) = self { reference } else { nil }
    }
}

/// An indirect reference, `12 0 R`.
struct PDFReference: Equatable, Hashable, CustomStringConvertible {
    let number: Int
    let generation: Int

    var description: String { "\(number) \(generation) R" }
}

/// A dictionary, with where each key and value lies in the file. Equality compares entries only.
struct PDFDictionary: Equatable {
    private(set) var entries: [String: PDFObject] = [:]
    /// The offset of each key's `/`.
    private(set) var keyOffsets: [String: Int] = [:]
    /// The bytes each value occupies.
    private(set) var valueRanges: [String: Range<Int>] = [:]

    subscript(key: String) -> PDFObject? { entries[key] }

    var keys: Set<String> { Set(entries.keys) }

    var type: String? { entries["Type"]?.name }

    mutating func add(_ key: String, _ value: PDFObject, keyOffset: Int, valueRange: Range<Int>) throws {
        guard entries[key] == nil else { throw PDFSyntaxError("dictionary key /\(key) appears twice (offset \(keyOffset))") }
        entries[key] = value
        keyOffsets[key] = keyOffset
        valueRanges[key] = valueRange
    }

    static func == (left: PDFDictionary, right: PDFDictionary) -> Bool { left.entries == right.entries }

    /// The keys whose values differ in `updated`, or that only one of the two holds.
    func keysChanged(in updated: PDFDictionary) -> Set<String> {
        updated.keys.union(keys).filter { updated[$0] != self[$0] }
    }
}

/// `n g obj … endobj`, with where its stream data and the whole object lie.
struct PDFIndirectObject {
    let reference: PDFReference
    let value: PDFObject
    let streamData: Range<Int>?
    let range: Range<Int>
}

/// PDF bytes that cannot be read with confidence.
struct PDFSyntaxError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Byte classes of PDF's lexical conventions (ISO 32000-1 §7.2).
enum PDFBytes {
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0 || byte == 9 || byte == 10 || byte == 12 || byte == 13 || byte == 32
    }

    static func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "["), UInt8(ascii: "]"),
            UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "/"), UInt8(ascii: "%"):
            true
        default: false
        }
    }

    static func isRegular(_ byte: UInt8) -> Bool { !isWhitespace(byte) && !isDelimiter(byte) }

    static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    /// Whether `bytes[offset...]` starts with `text`.
    static func hasPrefix(_ bytes: [UInt8], at offset: Int, _ text: String) -> Bool {
        let pattern = Array(text.utf8)
        guard offset >= 0, offset <= bytes.count - pattern.count else { return false }
        return bytes[offset..<offset + pattern.count].elementsEqual(pattern)
    }

    /// The offset of the last occurrence of `text`'s bytes in `range`, whatever surrounds them: where a reader that
    /// searches backwards for them would find them.
    static func lastOccurrence(of text: String, in bytes: [UInt8], range: Range<Int>) -> Int? {
        let pattern = Array(text.utf8)
        guard range.count >= pattern.count else { return nil }
        return (range.lowerBound...(range.upperBound - pattern.count)).reversed().first { bytes[$0..<$0 + pattern.count].elementsEqual(pattern) }
    }

    /// Offsets of every name that reads as `/name` once its `#xx` escapes are decoded (ISO 32000-1 §7.3.5), wherever
    /// it stands: in an object, a stream or a comment. Readers decode `/Byte#52ange` as /ByteRange.
    static func nameOccurrences(of name: String, in bytes: [UInt8], range: Range<Int>) -> [Int] {
        let pattern = Array(name.utf8)
        var found: [Int] = []
        var index = range.lowerBound
        while index < range.upperBound {
            guard bytes[index] == UInt8(ascii: "/") else {
                index += 1
                continue
            }
            var end = index + 1
            while end < range.upperBound, isRegular(bytes[end]) { end += 1 }
            if (pattern.count...pattern.count * 3).contains(end - index - 1), decodedName(bytes[(index + 1)..<end], equals: pattern) {
                found.append(index)
            }
            index = end
        }
        return found
    }

    /// Whether a name's bytes, `#xx` escapes decoded, are `pattern`. A `#` without two hexadecimal digits after it
    /// stands for itself, as lenient readers take it.
    private static func decodedName(_ token: ArraySlice<UInt8>, equals pattern: [UInt8]) -> Bool {
        var index = token.startIndex
        var matched = 0
        while index < token.endIndex {
            var byte = token[index]
            index += 1
            if byte == UInt8(ascii: "#"), index + 1 < token.endIndex,
                let high = ASCIIHex.value(token[index]), let low = ASCIIHex.value(token[index + 1])
            {
                byte = high << 4 | low
                index += 2
            }
            guard matched < pattern.count, pattern[matched] == byte else { return false }
            matched += 1
        }
        return matched == pattern.count
    }

    /// Offsets of `token` where it stands as a whole token (not the start of a longer name or keyword).
    static func occurrences(of token: String, in bytes: [UInt8], range: Range<Int>) -> [Int] {
        let pattern = Array(token.utf8)
        guard let first = pattern.first, range.count >= pattern.count else { return [] }
        var found: [Int] = []
        var index = range.lowerBound
        while index <= range.upperBound - pattern.count {
            if bytes[index] == first, bytes[index..<index + pattern.count].elementsEqual(pattern) {
                let after = index + pattern.count
                if after == range.upperBound || !isRegular(bytes[after]) { found.append(index) }
            }
            index += 1
        }
        return found
    }
}

/// Reads PDF objects from a byte range. Nesting is bounded, every read is bounds-checked, and a budget caps the
/// number of objects one scanner reads, so hostile input fails with a ``PDFSyntaxError`` rather than a crash.
struct PDFScanner {
    static let maximumDepth = 32
    static let maximumObjects = 1 << 20

    let bytes: [UInt8]
    let end: Int
    var position: Int
    /// Whether `%` starts a comment to skip. Where it does not, a `%` (other than `%%EOF`) stops the skip and is then
    /// an unexpected byte: a reader that searches the raw bytes for `startxref` would not see it as a comment.
    let allowsComments: Bool
    /// Objects this scanner may still read.
    private(set) var budget: Int

    init(_ bytes: [UInt8], at position: Int, end: Int? = nil, allowsComments: Bool = true, budget: Int = PDFScanner.maximumObjects) {
        self.bytes = bytes
        self.end = min(end ?? bytes.count, bytes.count)
        self.position = max(0, min(position, self.end))
        self.allowsComments = allowsComments
        self.budget = budget
    }

    var atEnd: Bool { position >= end }

    var current: UInt8? { position < end ? bytes[position] : nil }

    mutating func skipWhitespaceAndComments() {
        while position < end {
            let byte = bytes[position]
            if PDFBytes.isWhitespace(byte) {
                position += 1
            } else if byte == UInt8(ascii: "%") && allowsComments && !PDFBytes.hasPrefix(bytes, at: position, "%%EOF") {
                while position < end, bytes[position] != 10, bytes[position] != 13 { position += 1 }
            } else {
                return
            }
        }
    }

    /// Skips whitespace only: a `%` stops it.
    mutating func skipWhitespace() {
        while position < end, PDFBytes.isWhitespace(bytes[position]) { position += 1 }
    }

    /// Whether the next token is the keyword `word`; consumes it if so.
    mutating func consume(_ word: String) -> Bool {
        let length = word.utf8.count
        guard PDFBytes.hasPrefix(bytes, at: position, word), position + length <= end else { return false }
        if position + length < end, PDFBytes.isRegular(bytes[position + length]), PDFBytes.isRegular(bytes[position + length - 1]) {
            return false
        }
        position += length
        return true
    }

    mutating func expect(_ word: String) throws {
        skipWhitespaceAndComments()
        guard consume(word) else { throw PDFSyntaxError("expected '\(word)' at offset \(position)") }
    }

    /// An integer without sign or decimal point.
    mutating func unsignedInteger() throws -> Int {
        skipWhitespaceAndComments()
        let start = position
        while position < end, PDFBytes.isDigit(bytes[position]) { position += 1 }
        guard position > start, position - start <= 18, position >= end || !PDFBytes.isRegular(bytes[position]),
            let value = Int(String(decoding: bytes[start..<position], as: UTF8.self))
        else {
            position = start
            throw PDFSyntaxError("expected an integer at offset \(start)")
        }
        return value
    }

    /// `n g obj value [stream … endstream] endobj`, starting at the current position. A stream's /Length must be a
    /// direct integer: an indirect length would mean trusting another object to say where this one ends.
    mutating func indirectObject() throws -> PDFIndirectObject {
        skipWhitespaceAndComments()
        let start = position
        let number = try unsignedInteger()
        let generation = try unsignedInteger()
        try expect("obj")
        let value = try object()
        skipWhitespaceAndComments()
        var streamData: Range<Int>?
        if consume("stream") {
            guard let dictionary = value.dictionary else { throw PDFSyntaxError("a stream without a dictionary at offset \(start)") }
            guard let length = dictionary["Length"]?.unsignedInteger else {
                throw PDFSyntaxError("object \(number) has a stream whose /Length is not a direct integer")
            }
            if consume("\r\n") || consume("\n") {} else { throw PDFSyntaxError("'stream' is not followed by an end of line at offset \(position)") }
            let (dataEnd, overflow) = position.addingReportingOverflow(length)
            guard !overflow, dataEnd <= end else { throw PDFSyntaxError("object \(number)'s stream runs past the end of the file") }
            streamData = position..<dataEnd
            position = dataEnd
            try expect("endstream")
        }
        try expect("endobj")
        return PDFIndirectObject(reference: PDFReference(number: number, generation: generation), value: value, streamData: streamData, range: start..<position)
    }

    /// One direct object (or a reference).
    mutating func object(depth: Int = 0) throws -> PDFObject {
        guard depth <= Self.maximumDepth else { throw PDFSyntaxError("objects nest deeper than \(Self.maximumDepth) levels") }
        budget -= 1
        guard budget > 0 else { throw PDFSyntaxError("too many objects") }
        skipWhitespaceAndComments()
        guard let byte = current else { throw PDFSyntaxError("unexpected end of data") }
        switch byte {
        case UInt8(ascii: "<"):
            if position + 1 < end, bytes[position + 1] == UInt8(ascii: "<") { return .dictionary(try dictionary(depth: depth)) }
            return .string(try hexString())
        case UInt8(ascii: "["):
            position += 1
            var elements: [PDFObject] = []
            while true {
                skipWhitespaceAndComments()
                guard let next = current else { throw PDFSyntaxError("an array is not closed") }
                if next == UInt8(ascii: "]") {
                    position += 1
                    return .array(elements)
                }
                elements.append(try object(depth: depth + 1))
            }
        case UInt8(ascii: "("):
            return .string(try literalString())
        case UInt8(ascii: "/"):
            return .name(try name())
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try numberOrReference()
        default:
            if consume("true") { return .boolean(true) }
            if consume("false") { return .boolean(false) }
            if consume("null") { return .null }
            throw PDFSyntaxError("unexpected byte 0x\(Hex.encode([byte])) at offset \(position)")
        }
    }

    private mutating func dictionary(depth: Int) throws -> PDFDictionary {
        position += 2
        var dictionary = PDFDictionary()
        while true {
            skipWhitespaceAndComments()
            guard let next = current else { throw PDFSyntaxError("a dictionary is not closed") }
            if next == UInt8(ascii: ">") {
                guard position + 1 < end, bytes[position + 1] == UInt8(ascii: ">") else { throw PDFSyntaxError("stray '>' at offset \(position)") }
                position += 2
                return dictionary
            }
            guard next == UInt8(ascii: "/") else { throw PDFSyntaxError("a dictionary key is not a name at offset \(position)") }
            let keyOffset = position
            let key = try name()
            skipWhitespaceAndComments()
            let valueStart = position
            let value = try object(depth: depth + 1)
            try dictionary.add(key, value, keyOffset: keyOffset, valueRange: valueStart..<position)
        }
    }

    private mutating func name() throws -> String {
        position += 1
        var decoded: [UInt8] = []
        while position < end, PDFBytes.isRegular(bytes[position]) {
            let byte = bytes[position]
            if byte == UInt8(ascii: "#") {
                guard position + 2 < end, let high = ASCIIHex.value(bytes[position + 1]), let low = ASCIIHex.value(bytes[position + 2]) else {
                    throw PDFSyntaxError("a malformed #-escape in a name at offset \(position)")
                }
                decoded.append(high << 4 | low)
                position += 3
            } else {
                decoded.append(byte)
                position += 1
            }
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    private mutating func hexString() throws -> [UInt8] {
        position += 1
        var nibbles: [UInt8] = []
        while true {
            guard let byte = current else { throw PDFSyntaxError("a hexadecimal string is not closed") }
            position += 1
            if byte == UInt8(ascii: ">") { break }
            if PDFBytes.isWhitespace(byte) { continue }
            guard let nibble = ASCIIHex.value(byte) else { throw PDFSyntaxError("a non-hexadecimal byte in a hexadecimal string at offset \(position - 1)") }
            nibbles.append(nibble)
        }
        if nibbles.count % 2 == 1 { nibbles.append(0) }
        return stride(from: 0, to: nibbles.count, by: 2).map { nibbles[$0] << 4 | nibbles[$0 + 1] }
    }

    private mutating func literalString() throws -> [UInt8] {
        position += 1
        var decoded: [UInt8] = []
        var open = 1
        while true {
            guard let byte = current else { throw PDFSyntaxError("a literal string is not closed") }
            position += 1
            switch byte {
            case UInt8(ascii: "("):
                open += 1
                decoded.append(byte)
            case UInt8(ascii: ")"):
                open -= 1
                if open == 0 { return decoded }
                decoded.append(byte)
            case UInt8(ascii: "\\"):
                guard let escaped = current else { throw PDFSyntaxError("a literal string is not closed") }
                position += 1
                switch escaped {
                case UInt8(ascii: "n"): decoded.append(10)
                case UInt8(ascii: "r"): decoded.append(13)
                case UInt8(ascii: "t"): decoded.append(9)
                case UInt8(ascii: "b"): decoded.append(8)
                case UInt8(ascii: "f"): decoded.append(12)
                case 13: if current == 10 { position += 1 }
                case 10: break
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    var value = Int(escaped - UInt8(ascii: "0"))
                    for _ in 0..<2 {
                        guard let digit = current, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(digit) else { break }
                        value = value * 8 + Int(digit - UInt8(ascii: "0"))
                        position += 1
                    }
                    decoded.append(UInt8(truncatingIfNeeded: value))
                default: decoded.append(escaped)
                }
            default:
                decoded.append(byte)
            }
        }
    }

    private mutating func numberOrReference() throws -> PDFObject {
        let start = position
        if let sign = current, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { position += 1 }
        var digits = 0
        var dots = 0
        while let byte = current, PDFBytes.isDigit(byte) || byte == UInt8(ascii: ".") {
            if byte == UInt8(ascii: ".") { dots += 1 } else { digits += 1 }
            position += 1
        }
        guard digits > 0, dots <= 1, position - start <= 32, current.map({ !PDFBytes.isRegular($0) }) ?? true else {
            throw PDFSyntaxError("a malformed number at offset \(start)")
        }
        let number = PDFObject.number(String(decoding: bytes[start..<position], as: UTF8.self))
        // `n g R` is a reference: look ahead, and fall back to the number alone.
        guard let first = number.unsignedInteger else { return number }
        let afterNumber = position
        if let generation = try? unsignedInteger() {
            skipWhitespaceAndComments()
            if consume("R") { return .reference(PDFReference(number: first, generation: generation)) }
        }
        position = afterNumber
        return number
    }
}
